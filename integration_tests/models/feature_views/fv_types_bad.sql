{# Built types that differ from the declared ones, on DuckDB, PostgreSQL and Spark alike (see
   feature_view_types.yml). Spark has no HUGEINT (its sum of bigint is bigint): there `total` is a
   sum of decimal(18,0), decimal(28,0), which is not bigint either. #}
{%- set spark = target.type == 'spark' %}
select
    user_id,
    max(updated_at) as updated_at,
    sum(cast(user_id as {{ 'decimal(18,0)' if spark else 'bigint' }})) as total,
    cast(max(score) as {{ 'double' if spark else 'double precision' }}) as ratio,
    cast(max(tier) as {{ 'string' if spark else 'varchar' }}) as code,
    cast(max(score) as numeric(10, 2)) as amount,
    max(score) as no_type,
    cast(count(*) as bigint) as n
from {{ ref('seed_fv_user') }}
group by user_id
