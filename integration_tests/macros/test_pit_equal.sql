{#
    Equality of a model and an expected-output seed as multisets of rows (EXCEPT ALL both ways,
    NULLs equal). Fails with one row per missing/unexpected row, or one row naming the columns when
    the two do not have the same column names. No dbt_utils needed.
#}
{% test pit_equal(model, expected) %}
    {%- set expected_cols = adapter.get_columns_in_relation(expected) | map(attribute='name') | map('lower') | list -%}
    {%- set model_cols = adapter.get_columns_in_relation(model) | map(attribute='name') | map('lower') | list -%}
    {%- if execute and (expected_cols | sort) != (model_cols | sort) %}
select 'columns differ: model has {{ model_cols | join(", ") }}; expected {{ expected_cols | join(", ") }}' as difference
    {%- else %}
    {%- set cols = expected_cols | join(', ') %}
with actual as (
    select {{ cols }} from {{ model }}
),
wanted as (
    select {{ cols }} from {{ expected }}
),
unexpected as (
    select * from actual except all select * from wanted
),
missing as (
    select * from wanted except all select * from actual
)
select 'unexpected row' as difference, * from unexpected
union all
select 'missing row' as difference, * from missing
    {%- endif %}
{% endtest %}
