{#
    No null entity key or timestamp in a feature view: such rows can never be joined or served, so
    they are usually a bug upstream. Returns the offending rows.
#}
{% test not_null_entity(model, entity=none, timestamp=none) %}
    {%- set view = skewless._pit_test_view(model, entity, timestamp, 'skewless.not_null_entity') %}
select *
from {{ model }}
where {{ view.timestamp }} is null
{%- for k in view['keys'] %}
    or {{ k }} is null
{%- endfor %}
{% endtest %}
