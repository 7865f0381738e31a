{# The training spine: one row per order, with what to predict (is it a large order?). #}
select
    order_id,
    customer_id,
    ordered_at as label_ts,
    amount >= 100 as is_large
from {{ ref('stg_orders') }}
