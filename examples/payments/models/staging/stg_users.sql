{# The users change log; `updated_at` arrives tz-aware (TIMESTAMPTZ_NS); both timestamps truncated to microseconds. #}
select
    user_id,
    {{ to_microseconds("updated_at", tz=true) }} as updated_at,
    {{ to_microseconds("signup_ts") }} as signup_ts,
    home_country,
    kyc_verified,
    email_domain
from {{ source('raw', 'users') }}
