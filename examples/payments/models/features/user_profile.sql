{#
    The user's profile as it changed over time: one row per version of the users row (sign-up,
    KYC passed, moved country). A version holds from `valid_from` until the next one.
    `profile_updated_at` repeats it as a feature: a recent profile change is an account-takeover
    signal, and it lets a training set prove it holds no profile newer than its spine.
#}
select
    user_id,
    updated_at as valid_from,
    updated_at as profile_updated_at,
    home_country,
    kyc_verified,
    signup_ts,
    email_domain
from {{ ref('stg_users') }}
