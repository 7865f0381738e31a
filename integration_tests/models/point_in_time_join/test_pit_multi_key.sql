select * from ({{ pit_under_test(ref('seed_spine_pair'), 'spine_at', [ref('fv_pair')]) }}) as pit
