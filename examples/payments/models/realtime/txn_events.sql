{#
    Every card payment once, as the real-time windows see it: the batch transactions plus the
    events pushed online (`skewless push`), which the push appends to the event log, Parquet
    files under SKEWLESS_PAYMENTS_DATA_DIR/event_log/<view>/ (generate.py writes an empty one, so
    the glob always matches). A view: a replay or a load reads what was pushed up to then.
    A payment pushed twice, or pushed and later in the batch, is kept once (by txn_id).
    txn_ts is truncated to microseconds (to_microseconds), the precision online windows are exact
    to, as every other model does it.
#}
with batch as (
    select txn_id, user_id, merchant_id, amount_usd, {{ to_microseconds('txn_ts') }} as txn_ts
    from {{ ref('stg_transactions') }}
),
{% if target.type == 'duckdb' %}
pushed as (
    select
        cast(txn_id as bigint) as txn_id,
        cast(user_id as bigint) as user_id,
        cast(merchant_id as bigint) as merchant_id,
        cast(amount_usd as decimal(18, 2)) as amount_usd,
        cast(txn_ts as timestamp) as txn_ts
    from read_parquet(
        '{{ env_var("SKEWLESS_PAYMENTS_DATA_DIR", "data") }}/event_log/*/*.parquet',
        union_by_name = true
    )
),
events as (
    select *, 0 as pushed_last from batch
    union all
    select *, 1 as pushed_last from pushed
),
{% else %}
events as (
    select *, 0 as pushed_last from batch
),
{% endif %}
ranked as (
    select *, row_number() over (partition by txn_id order by pushed_last, txn_ts) as copy
    from events
)
select txn_id, user_id, merchant_id, amount_usd, txn_ts
from ranked
where copy = 1
