select user_id, updated_at, score from {{ ref('seed_fv_user') }}
