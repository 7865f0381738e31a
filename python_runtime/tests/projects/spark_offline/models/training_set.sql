-- A training set over user_stats (training-record lists the views upstream of it): one row per
-- labelled event. `event ts` has a space in its name: training-record must quote it in each
-- engine's dialect (backticks on Spark).
select s.user_id, s.ts as {{ adapter.quote('event ts') }}, s.amount, s.label
from {{ ref('user_stats') }} s
where s.user_id is not null
