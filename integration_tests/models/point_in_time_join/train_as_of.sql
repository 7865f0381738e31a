-- A training set built with the macro: no feature may be newer than the spine timestamp.
select * from ({{ pit_under_test(ref('seed_spine_user'), 'spine_at', [ref('fv_user_as_of')]) }}) as pit
