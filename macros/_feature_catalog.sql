{#
    Private helpers of the feature catalog (models/skewless_feature_catalog.sql) and of its test
    skewless.feature_catalog_matches_graph. Nothing here is public API.
#}

{#
    The features of the project as the dbt graph declares them, one dict per feature column:
    every enabled model whose config.meta.skewless is a mapping of kind `feature_view` (the
    default), and each column its YAML declares besides the entity and timestamp columns — the
    features the runtime serves as `<model>.<column>`. Values are as written in the YAML; the
    runtime's defaults are filled in (available_after 0s, on_stale serve). Definitions the runtime
    would reject are listed too: skewless.valid_feature_view reports what is wrong with them.
#}
{% macro _catalog_features() %}
    {%- set rows = [] -%}
    {%- if not execute -%}
        {{ return(rows) }}
    {%- endif -%}
    {%- for node in graph.nodes.values() | sort(attribute='unique_id') -%}
        {%- set meta = skewless._pit_node_meta(node) if node.resource_type == 'model' else none -%}
        {%- if meta is mapping and meta.get('kind', 'feature_view') == 'feature_view' -%}
            {%- set entity_raw = meta.get('entity') -%}
            {%- set entity = [entity_raw] if entity_raw is string else (entity_raw if entity_raw is iterable and entity_raw is not mapping else []) -%}
            {%- set keys = (entity | map('string') | map('lower') | list) + [(meta.get('timestamp') or '') | string | lower] -%}
            {%- for col_name, spec in (node.get('columns') or {}).items() -%}
                {%- if col_name | lower not in keys -%}
                    {%- set col_meta = (((spec or {}).get('config') or {}).get('meta') or (spec or {}).get('meta') or {}).get('skewless') -%}
                    {%- set has_default = col_meta is mapping and 'default' in col_meta -%}
                    {%- do rows.append({
                        'feature_view': node.name,
                        'column_name': col_name,
                        'feature': node.name ~ '.' ~ col_name,
                        'data_type': (spec or {}).get('data_type'),
                        'entity': entity | join(', '),
                        'timestamp_column': meta.get('timestamp'),
                        'ttl': meta.get('ttl'),
                        'available_after': meta.get('available_after', '0s'),
                        'freshness': meta.get('freshness'),
                        'on_stale': meta.get('on_stale', 'serve'),
                        'has_default': has_default,
                        'default_value': tojson(col_meta['default']) if has_default else none,
                        'description': (spec or {}).get('description') or none,
                        'view_description': node.description or none,
                        'package_name': node.package_name,
                        'model_unique_id': node.unique_id,
                    }) -%}
                {%- endif -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(rows) }}
{% endmacro %}


{#- The catalog's columns, in order: the text ones, then has_default (boolean). -#}
{% macro _catalog_text_columns() %}
    {{ return(['feature_view', 'column_name', 'feature', 'data_type', 'entity', 'timestamp_column',
               'ttl', 'available_after', 'freshness', 'on_stale', 'default_value', 'description',
               'view_description', 'package_name', 'model_unique_id']) }}
{% endmacro %}


{#- A SQL string literal of `value` (null for none), cast to the adapter's string type. -#}
{% macro _catalog_literal(value) %}
    {%- if value is none or (value is string and value == '') -%}
        {{ return('cast(null as ' ~ dbt.type_string() ~ ')') }}
    {%- endif -%}
    {{ return('cast(' ~ skewless._sql_string_literal(value | string) ~ ' as ' ~ dbt.type_string() ~ ')') }}
{% endmacro %}
