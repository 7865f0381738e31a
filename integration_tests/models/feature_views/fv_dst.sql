select * from {{ ref('seed_fv_dst') }}
