select * from ({{ pit_under_test(ref('seed_spine_payments'), 'spine_at', [{'view': ref('fv_user'), 'keys': {'user_id': 'payer_id'}}]) }}) as pit
