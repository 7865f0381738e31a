-- The spine given as the name of a CTE rather than a relation.
with training_spine as (
    select spine_id, user_id, spine_at from {{ ref('seed_spine_user') }}
)
select * from ({{ pit_under_test('training_spine', 'spine_at', [ref('fv_user')]) }}) as pit
