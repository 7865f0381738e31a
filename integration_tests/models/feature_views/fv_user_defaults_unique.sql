select * from {{ ref('seed_fv_user') }}
