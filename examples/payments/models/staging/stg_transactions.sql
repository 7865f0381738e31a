{#
    Money as exact decimals; txn_ts stays TIMESTAMP_NS, as pandas wrote it (on PostgreSQL:
    microseconds, truncated by load_postgres.py as to_microseconds truncates). Note: DuckDB rounds
    TIMESTAMP_NS to the nearest microsecond in casts (even to DATE), so models derive days with
    to_microseconds() first: 23:59:59.9999996 belongs to its own day, not the next.
#}
select
    txn_id,
    user_id,
    merchant_id,
    cast(amount as decimal(18, 2)) as amount,
    currency,
    cast(amount_usd as decimal(18, 2)) as amount_usd,
    country,
    txn_ts
from {{ source('raw', 'transactions') }}
