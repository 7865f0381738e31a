{#
    The model is a feature view the skewless runtime will load and materialize: the same rules,
    with the same messages (python_runtime/skewless/definitions/manifest.py at load,
    offline/duckdb.py at materialize). Its config.meta.skewless is valid (entity, timestamp,
    durations, on_stale and freshness, kind); every column is declared in the YAML with a
    data_type; `on_stale: default` has a default per feature column and every default fits its
    column's type; and each declared column exists in the built relation with the declared type
    (the adapter's own column metadata; aliases are equal, widths count: HUGEINT is not BIGINT,
    DECIMAL(10,2) is not DECIMAL(18,2)). See macros/_feature_view_rules.sql.

    Returns one row per problem (column `problem`), naming the model, the key or column and the
    fix. dbt prints only the number of failing rows, so each problem is also emitted as a dbt
    warning when the test runs: the reason is in `dbt test`'s output, no query needed.
#}
{% test valid_feature_view(model) %}
    {%- set where = 'skewless.valid_feature_view' -%}
    {%- set problems = [] -%}
    {%- if execute -%}
        {%- set node = skewless._pit_find_node(model) if model.identifier is defined else none -%}
        {%- if node is none or node.resource_type != 'model' -%}
            {%- do problems.append(where ~ ": " ~ model ~ " is not a model of this project; apply "
                ~ "the test to a feature-view model") -%}
        {%- else -%}
            {%- set columns = adapter.get_columns_in_relation(model) -%}
            {%- do problems.extend(skewless._fv_problems(node, columns, where)) -%}
        {%- endif -%}
        {%- for p in problems -%}
            {%- do exceptions.warn(p) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- for p in problems %}
select cast({{ skewless._sql_string_literal(p) }} as {{ dbt.type_string() }}) as problem
union all
    {%- endfor %}
{# from the model itself: a relation that was not built fails the test instead of passing it #}
select cast(null as {{ dbt.type_string() }}) as problem from {{ model }} where 1 = 0
{% endtest %}
