{#
    The historical requests of the request-time view `txn_risk`: each labelled payment as the
    authorisation service received it. txn_ts is truncated to microseconds (the request payload's
    precision online).
#}
select
    txn_id,
    user_id,
    merchant_id,
    amount_usd,
    txn_country,
    {{ to_microseconds('txn_ts') }} as txn_ts
from {{ ref('training_spine') }}
