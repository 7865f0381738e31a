{# Money as exact decimals; txn_ts stays TIMESTAMP_NS, as pandas wrote it. #}
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
