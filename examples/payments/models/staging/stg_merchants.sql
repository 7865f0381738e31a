select
    merchant_id,
    merchant_name,
    category,
    country,
    {{ to_microseconds("created_at") }} as created_at
from {{ source('raw', 'merchants') }}
