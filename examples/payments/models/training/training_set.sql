{#
    The training set: every labelled transaction (the spine) with the features serving would
    have returned at authorisation time (txn_ts), point-in-time correct, plus the label.
    PLACEHOLDER: hand-written ASOF joins until skewless.point_in_time_join lands.
#}
with s as (select * from {{ ref('training_spine') }}),
u as (select *, as_of + interval 1 hour as available_at from {{ ref('user_txn_stats') }}),
m as (select *, as_of + interval 6 hour as available_at from {{ ref('merchant_risk') }}),
p as (select *, cast(valid_from + interval 15 minute as timestamp) as available_at from {{ ref('user_profile') }}),
joined as (
    select
        s.*,
        case when s.txn_ts - u.as_of <= interval 3 day then u.txn_count_7d end as txn_count_7d,
        case when s.txn_ts - u.as_of <= interval 3 day then u.amount_sum_7d end as amount_sum_7d,
        case when s.txn_ts - u.as_of <= interval 3 day then u.amount_avg_7d end as amount_avg_7d,
        case when s.txn_ts - u.as_of <= interval 3 day then u.amount_max_7d end as amount_max_7d,
        case when s.txn_ts - u.as_of <= interval 3 day then u.txn_count_30d end as txn_count_30d,
        case when s.txn_ts - u.as_of <= interval 3 day then u.amount_sum_30d end as amount_sum_30d,
        case when s.txn_ts - u.as_of <= interval 3 day then u.amount_avg_30d end as amount_avg_30d,
        case when s.txn_ts - u.as_of <= interval 3 day then u.amount_max_30d end as amount_max_30d
    from s
    asof left join u on u.user_id = s.user_id and s.txn_ts >= u.available_at
),
joined2 as (
    select
        j.*,
        case when j.txn_ts - m.as_of <= interval 7 day then m.txn_count_90d end as merchant_txn_count_90d,
        case when j.txn_ts - m.as_of <= interval 7 day then m.chargeback_count_90d end as merchant_chargeback_count_90d,
        case when j.txn_ts - m.as_of <= interval 7 day then m.chargeback_rate_90d end as merchant_chargeback_rate_90d,
        case when j.txn_ts - m.as_of <= interval 7 day then m.age_days end as merchant_age_days
    from joined as j
    asof left join m on m.merchant_id = j.merchant_id and j.txn_ts >= m.available_at
),
pit as (
    select j.*, p.home_country, p.kyc_verified, p.signup_ts, p.email_domain
    from joined2 as j
    asof left join p on p.user_id = j.user_id and j.txn_ts >= p.available_at
)

select
    *,
    {# account age at authorisation: the offline half of a request-time feature #}
    date_diff('day', signup_ts, {{ to_microseconds('txn_ts') }}) as account_age_days
from pit
