select * from ({{ pit_under_test(ref('seed_spine_user'), 'spine_at', [ref('fv_user')]) }}) as pit
