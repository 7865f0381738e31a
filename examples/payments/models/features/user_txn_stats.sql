{#
    Daily snapshots of each user's spending. The row as of `as_of` (a UTC midnight) summarises
    the transactions with  as_of - N days <= txn_ts < as_of,  i.e. the N whole UTC days before
    as_of. One row per user per day, from the day of the user's first transaction up to the last
    day that has fully ended (as_of <= data watermark); a day without spending still gets a row
    (counts 0), so a value's age is the age of the batch, not of the user's last purchase.
#}
with txns as (
    select
        user_id,
        cast({{ to_microseconds("txn_ts") }} as date) as day,
        {{ to_microseconds("txn_ts") }} as txn_ts,
        amount_usd
    from {{ ref('stg_transactions') }}
),

daily as (
    select
        user_id,
        day,
        count(*) as n,
        sum(amount_usd) as total,
        max(amount_usd) as biggest,
        max(txn_ts) as last_ts
    from txns
    group by user_id, day
),

grid as (
    select u.user_id, cast(g.day as date) as day
    from (select user_id, min(day) as first_day from daily group by user_id) as u
    cross join {{ ref('data_watermark') }} as w
    cross join lateral {{ day_series("u.first_day", "cast(w.watermark - interval '1 day' as date)") }} as g(day)
),

windows as (
    select
        g.user_id,
        cast(g.day + interval '1 day' as timestamp) as as_of,
        coalesce(sum(d.n) over w7, 0) as txn_count_7d,
        coalesce(sum(d.total) over w7, 0) as amount_sum_7d,
        max(d.biggest) over w7 as amount_max_7d,
        coalesce(sum(d.n) over w30, 0) as txn_count_30d,
        coalesce(sum(d.total) over w30, 0) as amount_sum_30d,
        max(d.biggest) over w30 as amount_max_30d,
        max(d.last_ts) over (partition by g.user_id order by g.day rows between unbounded preceding and current row) as last_txn_ts
    from grid as g
    left join daily as d on d.user_id = g.user_id and d.day = g.day
    window
        w7 as (partition by g.user_id order by g.day range between interval '6 days' preceding and current row),
        w30 as (partition by g.user_id order by g.day range between interval '29 days' preceding and current row)
)

{# averages divide doubles on every engine, as DuckDB's `/` does with a decimal and an integer;
   PostgreSQL's would divide numerics (then cast, which can be one ulp off) #}
select
    user_id,
    as_of,
    cast(txn_count_7d as bigint) as txn_count_7d,
    cast(amount_sum_7d as decimal(18, 2)) as amount_sum_7d,
    cast(amount_sum_7d as double precision) / cast(nullif(txn_count_7d, 0) as double precision) as amount_avg_7d,
    cast(amount_max_7d as decimal(18, 2)) as amount_max_7d,
    cast(txn_count_30d as bigint) as txn_count_30d,
    cast(amount_sum_30d as decimal(18, 2)) as amount_sum_30d,
    cast(amount_sum_30d as double precision) / cast(nullif(txn_count_30d, 0) as double precision) as amount_avg_30d,
    cast(amount_max_30d as decimal(18, 2)) as amount_max_30d,
    last_txn_ts
from windows
