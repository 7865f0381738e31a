{# The users change log; `updated_at` arrives tz-aware (TIMESTAMPTZ_NS). #}
select
    user_id,
    cast(updated_at as timestamptz) as updated_at,
    cast(signup_ts as timestamp) as signup_ts,
    home_country,
    kyc_verified,
    email_domain
from {{ source('raw', 'users') }}
