select * from ({{ pit_under_test(ref('seed_spine_dupes'), 'spine_at', [ref('fv_dupes')]) }}) as pit
