select
    user_id,
    as_of_ts,
    txn_count,
    amount_sum,
    avg_amount,
    last_country
from {{ ref('raw_user_stats') }}
