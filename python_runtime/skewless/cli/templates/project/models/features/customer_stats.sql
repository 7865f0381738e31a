{#
    A feature view: per customer, their order history as of each of their orders. The row at
    `ordered_at` summarises every order up to and including that one; serving loads the latest
    row per customer, a training set picks the latest row before each spine time.
#}
select
    customer_id,
    ordered_at,
    cast(count(*) over history as bigint) as order_count,
    cast(sum(amount) over history as decimal(18,2)) as total_amount,
    cast(avg(amount) over history as double) as avg_amount,
    amount as last_order_amount
from {{ ref('stg_orders') }}
window history as (
    partition by customer_id order by ordered_at
    rows between unbounded preceding and current row
)
