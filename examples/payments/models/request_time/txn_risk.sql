{#
    Request-time features of a card payment. The SELECT list IS the definition: offline dbt runs
    it over every historical request joined point-in-time to the input views (the training data);
    online the skewless runtime evaluates the same expressions in Python on the request payload
    plus the input features it looks up in Redis, with DuckDB's exact semantics.
    txn_id, user_id, merchant_id and txn_ts pass the request through (they are not features).
    The expressions are DuckDB SQL (the runtime's semantics), so the view is disabled on the
    `postgres` target: its historical values are built on DuckDB only.
#}
{{ config(enabled=target.type != 'postgres') }}
select
    txn_id,
    user_id,
    merchant_id,
    txn_ts,
    amount_usd / nullif(amount_avg_30d, 0) as amount_to_avg_30d,
    txn_country <> home_country as is_foreign,
    date_diff('second', last_txn_ts, txn_ts) as seconds_since_last_txn,
    date_diff('day', signup_ts, txn_ts) as account_age_days,
    case
        when amount_usd < 20 then 'small'
        when amount_usd < 200 then 'medium'
        when amount_usd < 1000 then 'large'
        else 'very_large'
    end as amount_bucket,
    round(amount_usd * merchant_chargeback_rate_90d, 2) as expected_loss_usd,
    coalesce(txn_count_7d, 0) + 1 as txn_count_7d_incl_this
from {{ skewless.request_inputs(
    request=ref('txn_requests'),
    timestamp='txn_ts',
    inputs=[
        ref('user_txn_stats'),
        {'view': ref('merchant_risk'), 'prefix': 'merchant_'},
        ref('user_profile'),
    ],
) }}
