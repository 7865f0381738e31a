select
    c.chargeback_id,
    c.txn_id,
    t.user_id,
    t.merchant_id,
    t.txn_ts,
    {{ to_microseconds("c.chargeback_ts") }} as chargeback_ts,
    c.reason_code
from {{ source('raw', 'chargebacks') }} as c
inner join {{ ref('stg_transactions') }} as t using (txn_id)
