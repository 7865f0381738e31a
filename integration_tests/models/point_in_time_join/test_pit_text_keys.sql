select * from ({{ pit_under_test(ref('seed_spine_text'), 'spine_at', [ref('fv_text')]) }}) as pit
