{#
    One row: the instant up to which the raw data is complete (the latest transaction). A daily
    snapshot as of T is only built when T <= watermark: a batch cannot summarise a day that has
    not ended yet.
#}
select
    {{ to_microseconds("min(txn_ts)") }} as data_start,
    {{ to_microseconds("max(txn_ts)") }} as watermark
from {{ ref('stg_transactions') }}
