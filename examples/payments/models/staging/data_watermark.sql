{#
    One row: the instant up to which the raw data is complete (the latest transaction). A daily
    snapshot as of T is only built when T <= watermark: a batch cannot summarise a day that has
    not ended yet.
#}
select
    cast(min(txn_ts) as timestamp) as data_start,
    cast(max(txn_ts) as timestamp) as watermark
from {{ ref('stg_transactions') }}
