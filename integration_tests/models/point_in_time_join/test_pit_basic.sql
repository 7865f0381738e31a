-- Through fv_user_unchecked (fv_user's rows, no uniqueness declared): the tie-breaking path, the
-- one whose compiled SQL test_integration_dbt.py inspects; test_pit_basic_unique is the shortcut.
select * from ({{ pit_under_test(ref('seed_spine_user'), 'spine_at', [ref('fv_user_unchecked')]) }}) as pit
