select
    merchant_id,
    merchant_name,
    category,
    country,
    cast(created_at as timestamp) as created_at
from {{ source('raw', 'merchants') }}
