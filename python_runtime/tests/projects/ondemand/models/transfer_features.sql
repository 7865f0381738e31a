select
    transfer_id,
    payer_id,
    payee_id,
    transfer_ts,
    amount / nullif(payer_balance, 0) as amount_to_payer_balance,
    payee_balance - payer_balance as balance_gap,
    coalesce(payer_country, '??') <> country as payer_abroad,
    payer_transfers_7d + payee_transfers_7d as transfers_7d_both,
    upper(country) as country_upper
    {% if var('bad') %}, hash(country) as country_hash{% endif %}
from {{ skewless.request_inputs(
    request=ref('transfers'),
    timestamp='transfer_ts',
    inputs=[
        {'view': ref('account_stats'), 'keys': {'account_id': 'payer_id'}, 'prefix': 'payer_'},
        {'view': ref('account_stats'), 'keys': {'account_id': 'payee_id'}, 'prefix': 'payee_'},
    ],
) }}
