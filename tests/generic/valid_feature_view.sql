{#
    The model's config.meta.skewless is a valid feature-view contract (entity, timestamp, ttl and
    available_after durations) and every column it declares exists in the built relation. Returns
    one row per problem, each naming the model, the key or column, and the fix.
#}
{% test valid_feature_view(model) %}
    {%- set problems = [] -%}
    {%- if execute -%}
        {%- set node = skewless._pit_find_node(model) if model.identifier is defined else none -%}
        {%- if node is none -%}
            {%- do problems.append("skewless.valid_feature_view: " ~ model ~ " is not a model of this "
                ~ "project; apply the test to a feature-view model") -%}
        {%- else -%}
            {%- do skewless._pit_view_definition(node, 'skewless.valid_feature_view', problems=problems) -%}
            {%- set actual = adapter.get_columns_in_relation(model) | map(attribute='name') | map('lower') | list -%}
            {%- for name in (node.columns or {}).keys() -%}
                {%- if actual and name | lower not in actual -%}
                    {%- do problems.append("skewless.valid_feature_view: `" ~ node.name ~ "` declares column `"
                        ~ name ~ "` in its YAML but the relation has no such column; remove it from "
                        ~ "the YAML or add it to the model's SELECT") -%}
                {%- endif -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endif -%}
    {%- for p in problems %}
select cast('{{ p | replace("'", "''") }}' as {{ dbt.type_string() }}) as problem
union all
    {%- endfor %}
select cast(null as {{ dbt.type_string() }}) as problem where 1 = 0
{% endtest %}
