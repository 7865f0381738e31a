{#
    The feature catalog: one row per feature (a column of a feature view, `<model>.<column>`),
    built from the dbt graph, so features show up in dbt docs and in BI. A project without
    feature views gets an empty table with the same columns. Documented in
    models/skewless_feature_catalog.yml; disable with `models: {skewless: {+enabled: false}}`.
#}
{%- set features = skewless._catalog_features() -%}
{%- set text_columns = skewless._catalog_text_columns() -%}
{%- for f in features %}
select
    {%- for c in text_columns %}
    {{ skewless._catalog_literal(f[c]) }} as {{ c }},
    {%- endfor %}
    {{ 'true' if f.has_default else 'false' }} as has_default
union all
{%- endfor %}
select
    {%- for c in text_columns %}
    cast(null as {{ dbt.type_string() }}) as {{ c }},
    {%- endfor %}
    cast(null as {{ dbt.type_boolean() }}) as has_default
where 1 = 0
