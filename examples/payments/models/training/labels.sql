{#
    One row per transaction whose label is final: is_fraud is true when a chargeback for it arrived
    within `label_maturity_days` (a project var, 45 days) of the transaction. Transactions younger
    than that at the data watermark are left out: their label could still change.
#}
{% set maturity = var('label_maturity_days') %}

with first_chargeback as (
    select txn_id, min(chargeback_ts) as chargeback_ts
    from {{ ref('stg_chargebacks') }}
    group by txn_id
)

select
    t.txn_id,
    coalesce(c.chargeback_ts < t.txn_ts + interval '{{ maturity }} days', false) as is_fraud,
    case when c.chargeback_ts < t.txn_ts + interval '{{ maturity }} days' then c.chargeback_ts end as chargeback_ts,
    {{ to_microseconds("t.txn_ts + interval '" ~ maturity ~ " days'") }} as label_final_at
from {{ ref('stg_transactions') }} as t
cross join {{ ref('data_watermark') }} as w
left join first_chargeback as c on c.txn_id = t.txn_id
where t.txn_ts + interval '{{ maturity }} days' <= w.watermark
