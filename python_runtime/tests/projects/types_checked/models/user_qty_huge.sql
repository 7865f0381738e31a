-- sum() of integers is HUGEINT in DuckDB; the YAML declares bigint
select user_id, max(ts) as as_of, sum(qty) as qty_total
from {{ ref('orders') }}
group by user_id
