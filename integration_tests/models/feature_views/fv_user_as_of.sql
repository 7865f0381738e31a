select user_id, updated_at, updated_at as as_of from {{ ref('seed_fv_user') }}
