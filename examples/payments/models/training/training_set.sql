{#
    The training set: every labelled payment (the spine) with the features serving would have
    returned at authorisation time (txn_ts), point-in-time correct, plus the label.
    merchant_risk's columns get the prefix `merchant_` (txn_count_90d -> merchant_txn_count_90d).
#}
select
    *,
    {# account age at authorisation: the offline half of a request-time feature #}
    cast({{ dbt.datediff('signup_ts', to_microseconds('txn_ts'), 'day') }} as bigint) as account_age_days
from (
    {{ skewless.point_in_time_join(
        spine=ref('training_spine'),
        spine_timestamp='txn_ts',
        feature_views=[
            ref('user_txn_stats'),
            {'view': ref('merchant_risk'), 'keys': {'merchant_id': 'merchant_id'}, 'prefix': 'merchant_'},
            ref('user_profile'),
        ],
    ) }}
) as pit
