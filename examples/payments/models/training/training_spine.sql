{# The labelled transactions, as they looked at authorisation time: the training spine. #}
select
    t.txn_id,
    t.user_id,
    t.merchant_id,
    t.amount_usd,
    t.country as txn_country,
    t.txn_ts,
    l.is_fraud
from {{ ref('stg_transactions') }} as t
inner join {{ ref('labels') }} as l using (txn_id)
