-- The window view (schema.yml): the events as they are.
select * from {{ ref('events') }}
