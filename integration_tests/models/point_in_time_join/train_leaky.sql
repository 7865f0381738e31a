-- A training set built WITHOUT point-in-time care (latest row per user): no_future_values must flag it.
select s.*, latest.as_of
from {{ ref('seed_spine_user') }} as s
left join (
    select user_id, max(updated_at) as as_of from {{ ref('seed_fv_user') }} group by user_id
) as latest
    on latest.user_id = s.user_id
