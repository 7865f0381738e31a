{#
    The feature catalog (models/skewless_feature_catalog.sql, or any relation with its
    `feature_view` and `column_name` columns) holds exactly one row per feature the dbt graph
    declares now: returns each feature it lacks (`missing from the catalog`), each row it has for
    no declared feature (`not a declared feature`) and each feature listed more than once, with
    the reason in column `problem`.
#}
{% test feature_catalog_matches_graph(model) %}
    {%- set features = skewless._catalog_features() %}
with expected as (
    {%- for f in features %}
    select {{ skewless._catalog_literal(f.feature_view) }} as feature_view,
           {{ skewless._catalog_literal(f.column_name) }} as column_name
    union all
    {%- endfor %}
    select cast(null as {{ dbt.type_string() }}) as feature_view,
           cast(null as {{ dbt.type_string() }}) as column_name
    where 1 = 0
),

actual as (
    select feature_view, column_name, count(*) as n_rows
    from {{ model }}
    group by feature_view, column_name
)

select
    coalesce(e.feature_view, a.feature_view) as feature_view,
    coalesce(e.column_name, a.column_name) as column_name,
    case
        when a.feature_view is null then 'missing from the catalog'
        when e.feature_view is null then 'not a declared feature'
        else 'listed ' || cast(a.n_rows as {{ dbt.type_string() }}) || ' times'
    end as problem
from expected as e
full outer join actual as a
    on e.feature_view = a.feature_view and e.column_name = a.column_name
where a.feature_view is null or e.feature_view is null or a.n_rows > 1
{% endtest %}
