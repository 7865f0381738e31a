-- an average is DOUBLE; the YAML declares bigint (served as 3.4 before types were checked)
select user_id, max(ts) as as_of, avg(qty) as qty_avg, any_value(country) as country
from {{ ref('orders') }}
group by user_id
