{#
    Daily snapshots of each merchant's chargeback experience. The row as of `as_of` (a UTC
    midnight) covers the merchant's transactions with  as_of - 90d <= txn_ts < as_of  and counts
    only the chargebacks already received before as_of (chargeback_ts < as_of): labels arrive
    weeks late, and a feature must not know about a chargeback that had not arrived yet.
    One row per merchant per day, from max(onboarding day, first day of data) to the last
    ended day.
#}
with daily as (
    select merchant_id, cast({{ to_microseconds("txn_ts") }} as date) as day, count(*) as n
    from {{ ref('stg_transactions') }}
    group by merchant_id, day
),

grid as (
    select m.merchant_id, m.created_at, cast(g.day as date) as day
    from {{ ref('stg_merchants') }} as m
    cross join {{ ref('data_watermark') }} as w
    cross join lateral {{ day_series(
        "greatest(cast(m.created_at as date), cast(w.data_start as date))",
        "cast(w.watermark - interval '1 day' as date)"
    ) }} as g(day)
),

txn_counts as (
    select
        g.merchant_id,
        g.created_at,
        cast(g.day + interval '1 day' as timestamp) as as_of,
        coalesce(sum(d.n) over w90, 0) as txn_count_90d
    from grid as g
    left join daily as d on d.merchant_id = g.merchant_id and d.day = g.day
    window w90 as (partition by g.merchant_id order by g.day range between interval '89 days' preceding and current row)
),

known_chargebacks as (
    select t.merchant_id, t.as_of, count(c.chargeback_id) as chargeback_count_90d
    from txn_counts as t
    inner join {{ ref('stg_chargebacks') }} as c
        on c.merchant_id = t.merchant_id
        and c.txn_ts >= t.as_of - interval '90 days'
        and c.txn_ts < t.as_of
        and c.chargeback_ts < t.as_of
    group by t.merchant_id, t.as_of
)

select
    t.merchant_id,
    t.as_of,
    cast(t.txn_count_90d as bigint) as txn_count_90d,
    cast(coalesce(k.chargeback_count_90d, 0) as bigint) as chargeback_count_90d,
    {# double division on every engine, as DuckDB's `/` does; PostgreSQL's would divide integers
       as integers and numerics as numerics (then cast, one ulp off DuckDB's) #}
    cast(coalesce(k.chargeback_count_90d, 0) as double precision)
        / cast(nullif(t.txn_count_90d, 0) as double precision) as chargeback_rate_90d,
    cast({{ dbt.datediff('t.created_at', 't.as_of', 'day') }} as integer) as age_days
from txn_counts as t
left join known_chargebacks as k on k.merchant_id = t.merchant_id and k.as_of = t.as_of
