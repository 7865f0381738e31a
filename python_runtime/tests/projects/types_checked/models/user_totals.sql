-- matches its YAML: every declared type is the built one, in another spelling where DuckDB has one
select
    user_id,
    max(ts) as as_of,
    count(*) as n_orders,                                  -- BIGINT, declared int8
    cast(sum(qty) as bigint) as qty_total,                 -- the fix: cast in the model
    cast(sum(price) as numeric(10, 2)) as spend,           -- DECIMAL(10,2), declared numeric(10,2)
    any_value(country) as country,                         -- VARCHAR, declared text
    cast(max(ts) as timestamptz) as last_order_at          -- declared timestamp with time zone
from {{ ref('orders') }}
group by user_id
