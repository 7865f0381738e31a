{#
    At most one row per entity and timestamp in a feature view. Two rows with the same entity and
    as-of time make a point-in-time join pick one of them (deterministically, but arbitrarily from
    the author's point of view); this test returns each such (entity, timestamp) with its row count.
    Rows with a null key or timestamp are left to skewless.not_null_entity.
#}
{% test unique_as_of(model, entity=none, timestamp=none) %}
    {%- set view = skewless._pit_test_view(model, entity, timestamp, 'skewless.unique_as_of') %}
select
    {%- for k in view['keys'] %}
    {{ k }},
    {%- endfor %}
    {{ view.timestamp }},
    count(*) as n_rows
from {{ model }}
where {{ view.timestamp }} is not null
{%- for k in view['keys'] %}
    and {{ k }} is not null
{%- endfor %}
group by {% for k in view['keys'] %}{{ k }}, {% endfor %}{{ view.timestamp }}
having count(*) > 1
{% endtest %}
