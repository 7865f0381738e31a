{#
    Orders with a real timestamp. The seed stores each order's age in hours, so the demo data is
    always recent (feature values stay within their ttl and freshness whenever you build):
    `ordered_at` is the current UTC hour minus that age. Replace this model with your own source.
#}
select
    order_id,
    customer_id,
    amount,
    cast(date_trunc('hour', current_timestamp) as timestamp) - to_hours(hours_ago) as ordered_at
from {{ ref('orders') }}
