select * from ({{ pit_under_test(ref('seed_spine_naive'), 'spine_at', [ref('fv_tz_unique')]) }}) as pit
