-- One call, two paths: the payer through fv_user (declared unique: the shortcut), the payee
-- through fv_user_unchecked (not declared: tie-breaking).
select * from ({{ pit_under_test(ref('seed_spine_payments'), 'spine_at', [
    {'view': ref('fv_user'), 'keys': {'user_id': 'payer_id'}, 'prefix': 'payer_'},
    {'view': ref('fv_user_unchecked'), 'keys': {'user_id': 'payee_id'}, 'prefix': 'payee_'},
]) }}) as pit
