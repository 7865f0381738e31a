{#
    The user's profile as it changed over time: one row per version of the users row (sign-up,
    KYC passed, moved country). A version holds from `valid_from` until the next one.
#}
select
    user_id,
    updated_at as valid_from,
    home_country,
    kyc_verified,
    signup_ts,
    email_domain
from {{ ref('stg_users') }}
