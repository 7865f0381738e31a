{#
    A request-time (on-demand) view: the SELECT list is the definition. Offline dbt runs it over
    every historical request joined point-in-time to customer_stats (training data); online the
    skewless runtime evaluates the same expressions in Python on the request payload plus the
    customer's features from Redis, with DuckDB's semantics. order_id, customer_id and
    requested_at pass the request through.
#}
select
    order_id,
    customer_id,
    requested_at,
    amount / nullif(avg_amount, 0) as amount_to_avg,
    coalesce(order_count, 0) + 1 as order_number
from {{ skewless.request_inputs(
    request=ref('order_requests'),
    timestamp='requested_at',
    inputs=[ref('customer_stats')],
    strict=true,
) }}
