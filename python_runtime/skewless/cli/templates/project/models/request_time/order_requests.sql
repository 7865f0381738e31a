{#
    Historical requests of the request-time view `order_risk`: each order as the checkout
    service saw it. Its column types are the request payload's schema online.
#}
select
    order_id,
    customer_id,
    amount,
    ordered_at as requested_at
from {{ ref('stg_orders') }}
