-- The spine (labels) joined point-in-time to user_stats and user_flags (DuckDB ASOF JOIN).
select
    l.user_id,
    l.label_ts,
    l.label,
    s.txn_count,
    s.amount_sum,
    s.avg_amount,
    s.last_country,
    f.is_vip
from {{ ref('labels') }} as l
asof left join {{ ref('user_stats') }} as s
    on l.user_id = s.user_id and l.label_ts >= s.as_of_ts
asof left join {{ ref('user_flags') }} as f
    on l.user_id = f.user_id and l.label_ts >= f.flag_ts
