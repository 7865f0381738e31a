select * from ({{ pit_under_test(ref('seed_spine_dst'), 'spine_at', [ref('fv_dst')]) }}) as pit
