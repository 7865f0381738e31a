select * from {{ ref('txn_events') }}
