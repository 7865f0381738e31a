{# Every feature type the runtime serves, declared in alias spellings (see feature_view_types.yml).
   Spark's tz-aware type is `timestamp` (an instant). #}
select
    cast(user_id as integer) as user_id,
    updated_at,
    score,
    tier,
    cast(score as numeric(10, 2)) as amount,
    cast(user_id as bigint) as n_big,
    cast(updated_at as {{ 'timestamp' if target.type == 'spark' else 'timestamp with time zone' }}) as seen_at,
    cast(updated_at as date) as seen_on,
    score > 1 as is_high
from {{ ref('seed_fv_user') }}
