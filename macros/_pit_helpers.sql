{#
    Private helpers of skewless.point_in_time_join and of the feature-view generic tests.
    Nothing here is public API: names start with `_` and may change between releases.
#}

{#- Seconds in each duration unit; the grammar is the one of python_runtime/skewless/durations.py. -#}
{% macro _pit_duration_units() %}
    {{ return({'s': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800}) }}
{% endmacro %}


{#
    Parse a duration such as `90s`, `15m`, `12h`, `30d`, `2w` or a sum like `1h30m` into whole
    seconds. Returns none when `value` is not a duration, so callers can name what was wrong.
#}
{% macro _pit_try_parse_duration(value) %}
    {%- if value is not string -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set text = value.strip() -%}
    {%- if modules.re.match('^(?:\\d+[smhdw])+$', text) is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set units = skewless._pit_duration_units() -%}
    {%- set ns = namespace(seconds=0) -%}
    {%- for part in modules.re.findall('(\\d+)([smhdw])', text) -%}
        {%- set ns.seconds = ns.seconds + (part[0] | int) * units[part[1]] -%}
    {%- endfor -%}
    {{ return(ns.seconds) }}
{% endmacro %}


{#- `config.meta.skewless` of a graph node (falling back to the node's top-level `meta`), or none. -#}
{% macro _pit_node_meta(node) %}
    {%- set config_meta = (node.get('config') or {}).get('meta') -%}
    {%- if config_meta is mapping and 'skewless' in config_meta -%}
        {{ return(config_meta['skewless']) }}
    {%- endif -%}
    {%- set top_meta = node.get('meta') -%}
    {%- if top_meta is mapping and 'skewless' in top_meta -%}
        {{ return(top_meta['skewless']) }}
    {%- endif -%}
    {{ return(none) }}
{% endmacro %}


{#
    The graph node (model, seed, snapshot or source) that `relation` points at, matched on
    database, schema and identifier (case-insensitively), or none.
#}
{% macro _pit_find_node(relation) %}
    {%- set want_identifier = (relation.identifier or '') | lower -%}
    {%- set want_schema = (relation.schema or '') | lower -%}
    {%- set want_database = (relation.database or '') | lower -%}
    {%- set candidates = (graph.nodes.values() | list) + (graph.sources.values() | list) -%}
    {%- for node in candidates -%}
        {%- if node.resource_type in ['model', 'seed', 'snapshot', 'source'] -%}
            {%- if node.resource_type == 'source' -%}
                {%- set identifier = node.identifier or node.name -%}
            {%- else -%}
                {%- set identifier = node.alias or node.name -%}
            {%- endif -%}
            {%- set same_identifier = (identifier or '') | lower == want_identifier -%}
            {%- set same_schema = (node.schema or '') | lower == want_schema -%}
            {%- set same_database = not want_database or not node.database
                or (node.database | lower) == want_database -%}
            {%- if same_identifier and same_schema and same_database -%}
                {{ return(node) }}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(none) }}
{% endmacro %}


{#- A column reference: quoted when the YAML says `quote: true`. -#}
{% macro _pit_column(name, quote=false) %}
    {%- if quote -%}
        {{ return(adapter.quote(name)) }}
    {%- endif -%}
    {{ return(name) }}
{% endmacro %}


{#
    Validate a feature view's `meta.skewless` and its declared columns. Returns a dict:
    name, entity (list), timestamp, ttl_seconds (none = unbounded), available_after_seconds,
    features (list of {name, quote, default}), columns (declared column names); `default` is
    none or {value, data_type} from the column's meta.skewless.default.
    `problems` (a list) receives one message per problem instead of raising, when given.
#}
{% macro _pit_view_definition(node, where, problems=none) %}
    {%- set issues = [] -%}
    {%- set name = node.name -%}
    {%- set meta = skewless._pit_node_meta(node) -%}
    {%- set result = {'name': name, 'entity': [], 'timestamp': none, 'ttl_seconds': none,
                      'available_after_seconds': 0, 'features': [], 'columns': [], 'quote': {}, 'defaults': {}} -%}
    {%- if meta is none -%}
        {%- do issues.append(where ~ ": model `" ~ name ~ "` has no config.meta.skewless; give the model "
            ~ "`config: {meta: {skewless: {entity: <key column(s)>, timestamp: <column>, ttl: 30d}}}` "
            ~ "in its YAML") -%}
    {%- elif meta is not mapping -%}
        {%- do issues.append(where ~ ": model `" ~ name ~ "`: config.meta.skewless must be a mapping "
            ~ "(entity, timestamp, ttl, available_after, ...), got " ~ meta) -%}
    {%- else -%}
        {#- the keys and values the runtime's manifest reader accepts (python_runtime/skewless/manifest.py) -#}
        {%- set view_keys = ['entity', 'timestamp', 'ttl', 'available_after', 'freshness', 'on_stale'] -%}
        {%- set other_keys = ['kind', 'request', 'inputs', 'online', 'owner', 'description', 'tags'] -%}
        {%- set unknown = [] -%}
        {%- for k in meta.keys() -%}
            {%- if k not in view_keys + other_keys -%}{%- do unknown.append(k) -%}{%- endif -%}
        {%- endfor -%}
        {%- if unknown -%}
            {%- do issues.append(where ~ ": model `" ~ name ~ "`: unknown key(s) " ~ unknown ~ " in "
                ~ "meta.skewless; allowed: " ~ view_keys | join(', ')) -%}
        {%- endif -%}
        {%- set freshness = meta.get('freshness') -%}
        {%- if freshness is not none and skewless._pit_try_parse_duration(freshness) is none -%}
            {%- do issues.append(where ~ ": model `" ~ name ~ "`: meta.skewless.freshness is " ~ freshness
                ~ ", not a duration; write a whole number and a unit: 90s, 15m, 12h, 30d, 2w "
                ~ "(or a sum such as 1h30m)") -%}
        {%- endif -%}
        {%- set on_stale = meta.get('on_stale', 'serve') -%}
        {%- if on_stale not in ['serve', 'default', 'null', 'reject'] -%}
            {%- do issues.append(where ~ ": model `" ~ name ~ "`: meta.skewless.on_stale is " ~ on_stale
                ~ "; allowed: serve, default, null, reject") -%}
        {%- elif on_stale != 'serve' and freshness is none -%}
            {%- do issues.append(where ~ ": model `" ~ name ~ "`: meta.skewless.on_stale is " ~ on_stale
                ~ " but no `freshness` SLA is set; add e.g. `freshness: 2h`") -%}
        {%- endif -%}
        {%- do skewless._pit_meta_entity(meta, where, name, result.entity, issues) -%}
        {%- set timestamp = meta.get('timestamp') -%}
        {%- if timestamp is string and timestamp -%}
            {%- do result.update({'timestamp': timestamp}) -%}
            {%- if timestamp in result.entity -%}
                {%- do issues.append(where ~ ": model `" ~ name ~ "`: meta.skewless.timestamp `" ~ timestamp
                    ~ "` is also an entity column; name the as-of time column") -%}
            {%- endif -%}
        {%- else -%}
            {%- do issues.append(where ~ ": model `" ~ name ~ "`: meta.skewless.timestamp must name the "
                ~ "column saying from when a row's values hold, got " ~ timestamp) -%}
        {%- endif -%}
        {%- for key, default in [('ttl', none), ('available_after', '0s')] -%}
            {%- set raw = meta.get(key, default) -%}
            {#- no ttl means no limit; available_after, when written, must be a duration -#}
            {%- if raw is not none or key == 'available_after' -%}
                {%- set seconds = skewless._pit_try_parse_duration(raw) -%}
                {%- if seconds is none -%}
                    {%- do issues.append(where ~ ": model `" ~ name ~ "`: meta.skewless." ~ key ~ " is "
                        ~ raw ~ ", not a duration; write a whole number and a unit: 90s, 15m, 12h, "
                        ~ "30d, 2w (or a sum such as 1h30m)") -%}
                {%- elif key == 'ttl' -%}
                    {%- do result.update({'ttl_seconds': seconds}) -%}
                {%- else -%}
                    {%- do result.update({'available_after_seconds': seconds}) -%}
                {%- endif -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}

    {%- set declared = node.get('columns') or {} -%}
    {%- for col_name, spec in declared.items() -%}
        {%- do result.columns.append(col_name) -%}
        {%- do result.quote.update({col_name: (spec or {}).get('quote') or false}) -%}
        {#- a column default (meta.skewless.default) is what serving returns for an absent value -#}
        {%- set col_meta = (((spec or {}).get('config') or {}).get('meta') or (spec or {}).get('meta') or {}).get('skewless') or {} -%}
        {%- if col_meta is mapping and 'default' in col_meta -%}
            {%- do result.defaults.update({col_name: {'value': col_meta['default'], 'data_type': (spec or {}).get('data_type')}}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if result.columns | length == 0 and node.resource_type != 'source' and execute -%}
        {%- set relation = adapter.get_relation(database=node.database, schema=node.schema,
                                                identifier=node.alias or node.name) -%}
        {%- if relation is not none -%}
            {%- for col in adapter.get_columns_in_relation(relation) -%}
                {%- do result.columns.append(col.name) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endif -%}
    {%- set lowered = result.columns | map('lower') | list -%}
    {%- if result.columns | length > 0 -%}
        {%- set missing = [] -%}
        {%- for c in result.entity + ([result.timestamp] if result.timestamp else []) -%}
            {%- if c | lower not in lowered -%}
                {%- do missing.append(c) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if missing -%}
            {%- do issues.append(where ~ ": model `" ~ name ~ "`: column(s) " ~ missing ~ " named in "
                ~ "meta.skewless are not columns of the view; declare them in the model's YAML "
                ~ "(columns: - name: ..., data_type: ...) or fix meta.skewless") -%}
        {%- endif -%}
    {%- endif -%}
    {%- set keys_lower = (result.entity + [result.timestamp or '']) | map('lower') | list -%}
    {%- for c in result.columns -%}
        {%- if c | lower not in keys_lower -%}
            {%- do result.features.append({'name': c, 'quote': result.quote.get(c, false), 'default': result.defaults.get(c)}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not issues and result.features | length == 0 -%}
        {%- do issues.append(where ~ ": model `" ~ name ~ "` has no feature columns besides its entity and "
            ~ "timestamp; declare its columns in the model's YAML") -%}
    {%- endif -%}

    {%- if problems is not none -%}
        {%- do problems.extend(issues) -%}
    {%- elif issues -%}
        {{ exceptions.raise_compiler_error(issues | join('\n')) }}
    {%- endif -%}
    {{ return(result) }}
{% endmacro %}


{#
    meta.skewless.entity of model `name` (a column name or a list of distinct ones) appended to
    `entity`; what is wrong appended to `issues` (feature views and window views read it alike).
#}
{% macro _pit_meta_entity(meta, where, name, entity, issues) %}
    {%- set entity_raw = meta.get('entity') -%}
    {%- if entity_raw is string and entity_raw -%}
        {%- do entity.append(entity_raw) -%}
    {%- elif entity_raw is iterable and entity_raw is not string and entity_raw is not mapping
        and (entity_raw | length) > 0 -%}
        {%- for e in entity_raw -%}
            {%- if e is string and e and e not in entity -%}
                {%- do entity.append(e) -%}
            {%- else -%}
                {%- do issues.append(where ~ ": model `" ~ name ~ "`: meta.skewless.entity must list "
                    ~ "distinct column names, got " ~ entity_raw) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- else -%}
        {%- do issues.append(where ~ ": model `" ~ name ~ "`: meta.skewless.entity must be a column name "
            ~ "or a list of column names (e.g. `user_id` or `[user_id, merchant_id]`), got "
            ~ entity_raw) -%}
    {%- endif -%}
{% endmacro %}


{#
    Whether the feature view `node` is declared unique on (entity, timestamp): it carries the
    package's generic test `skewless.unique_as_of` in a form whose failure stops a `dbt build`
    before any model that selects from the view — severity error, the default `error_if` and
    `fail_calc`, no `where` — on the view's own entity and timestamp (the test's `entity` /
    `timestamp` arguments, when given, name the same columns). Such a test in the graph is the
    declaration; whether the data keeps it is the test's job. `definition` is the view's
    _pit_view_definition.
#}
{% macro _pit_declared_unique(node, definition) %}
    {%- set want_keys = definition.entity | map('lower') | sort | list -%}
    {%- set want_ts = (definition.timestamp or '') | lower -%}
    {%- for test in graph.nodes.values() if test.resource_type == 'test' -%}
        {%- set meta = test.get('test_metadata') or {} -%}
        {%- set config = test.get('config') or {} -%}
        {%- set deps = ((test.get('depends_on') or {}).get('nodes') or []) | list -%}
        {%- if meta.get('name') == 'unique_as_of' and meta.get('namespace') == 'skewless'
            and deps == [node.unique_id] -%}
            {%- set kwargs = meta.get('kwargs') or {} -%}
            {%- set entity = kwargs.get('entity') -%}
            {%- set keys = want_keys if entity is none
                else ([entity] if entity is string else entity | list) | map('lower') | sort | list -%}
            {%- set ts = (kwargs.get('timestamp') or want_ts) | lower -%}
            {%- set stops_build = (config.get('severity') or 'error') | lower == 'error'
                and (config.get('error_if') or '!= 0') | replace(' ', '') in ['!=0', '>0', '>=1']
                and (config.get('fail_calc') or 'count(*)') | replace(' ', '') | lower == 'count(*)'
                and config.get('where') is none
                and config.get('enabled', true) -%}
            {%- if stops_build and keys == want_keys and ts == want_ts -%}
                {{ return(true) }}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(false) }}
{% endmacro %}


{#
    Resolve the `feature_views` argument of point_in_time_join into a list of dicts:
    relation, name, keys (list of {view, spine, quote}), timestamp, timestamp_quote, ttl_seconds,
    available_after_seconds, features (list of {name, quote, output, default}), unique (declared
    unique on (entity, timestamp) by skewless.unique_as_of: see _pit_declared_unique).
    Raises a compiler error naming the argument and the fix on anything invalid.
#}
{% macro _pit_resolve_views(spine, spine_timestamp, feature_views, strict, macro_name) %}
    {%- if spine is none or (spine is string and not spine.strip()) -%}
        {{ exceptions.raise_compiler_error(macro_name ~ ": argument `spine` is empty; pass a relation "
            ~ "(ref('training_spine'), source('app', 'events')) or the name of a CTE") }}
    {%- endif -%}
    {%- if spine is not string and spine.identifier is not defined -%}
        {{ exceptions.raise_compiler_error(macro_name ~ ": argument `spine` must be a relation "
            ~ "(ref(...), source(...)) or the name of a CTE as a string, got " ~ spine) }}
    {%- endif -%}
    {%- if spine_timestamp is not string or not spine_timestamp.strip() -%}
        {{ exceptions.raise_compiler_error(macro_name ~ ": argument `spine_timestamp` must name the "
            ~ "spine's timestamp column as a string, e.g. 'event_at', got " ~ spine_timestamp) }}
    {%- endif -%}
    {%- if strict not in [true, false] -%}
        {{ exceptions.raise_compiler_error(macro_name ~ ": argument `strict` must be true or false, got "
            ~ strict) }}
    {%- endif -%}
    {%- if feature_views is string or feature_views.identifier is defined or feature_views is mapping
        or feature_views is not iterable or (feature_views | length) == 0 -%}
        {{ exceptions.raise_compiler_error(macro_name ~ ": argument `feature_views` must be a non-empty "
            ~ "list of ref('...') relations or of {'view': ref('...'), 'keys': {...}, 'prefix': '...'} "
            ~ "dicts, got " ~ feature_views) }}
    {%- endif -%}

    {%- set spine_columns = skewless._pit_spine_columns(spine, spine_timestamp, macro_name) -%}
    {%- set views = [] -%}
    {%- set outputs = {} -%}
    {%- for item in feature_views -%}
        {%- set where = macro_name ~ ": feature_views[" ~ loop.index0 ~ "]" -%}
        {%- set parsed = skewless._pit_view_item(item, where, 'feature view', 'that has config.meta.skewless') -%}
        {%- set prefix = parsed.prefix -%}
        {%- set definition = skewless._pit_view_definition(parsed.node, where) -%}
        {%- set keys = skewless._pit_join_keys(parsed.key_map, definition, where, spine_columns) -%}
        {%- set features = [] -%}
        {%- for f in definition.features -%}
            {%- set output = prefix ~ f.name -%}
            {%- if output | lower in spine_columns -%}
                {{ exceptions.raise_compiler_error(where ~ ": feature column `" ~ output ~ "` of `"
                    ~ definition.name ~ "` is also a spine column; pass the view as "
                    ~ "{'view': ref('" ~ definition.name ~ "'), 'prefix': '" ~ definition.name
                    ~ "__'} (or rename the spine column)") }}
            {%- endif -%}
            {%- if output | lower in outputs -%}
                {{ exceptions.raise_compiler_error(where ~ ": feature column `" ~ output ~ "` of `"
                    ~ definition.name ~ "` collides with the same name from `"
                    ~ outputs[output | lower] ~ "`; pass one of them as {'view': ref('"
                    ~ definition.name ~ "'), 'prefix': '<prefix>_'}") }}
            {%- endif -%}
            {%- do outputs.update({output | lower: definition.name}) -%}
            {%- do features.append({'name': f.name, 'quote': f.quote, 'output': output, 'default': f.default}) -%}
        {%- endfor -%}
        {%- do views.append({
            'relation': parsed.relation,
            'name': definition.name,
            'keys': keys,
            'timestamp': definition.timestamp,
            'timestamp_quote': definition.quote.get(definition.timestamp, false),
            'ttl_seconds': definition.ttl_seconds,
            'available_after_seconds': definition.available_after_seconds,
            'features': features,
            'unique': skewless._pit_declared_unique(parsed.node, definition),
        }) -%}
    {%- endfor -%}
    {{ return(views) }}
{% endmacro %}


{#
    A timestamp expression as a number on one UTC time line: naive timestamps are taken as UTC,
    tz-aware ones are converted. Units: `_pit_epoch_units_per_second()`.
#}
{% macro _pit_epoch(expression) %}
    {{ return(adapter.dispatch('_pit_epoch', 'skewless')(expression)) }}
{% endmacro %}

{% macro default___pit_epoch(expression) -%}
    extract(epoch from {{ expression }})
{%- endmacro %}

{#- Integer nanoseconds: exact for TIMESTAMP_NS / TIMESTAMPTZ_NS, unlike interval arithmetic. -#}
{% macro duckdb___pit_epoch(expression) -%}
    epoch_ns({{ expression }})
{%- endmacro %}

{#- Spark (>= 4.0): integer microseconds, Spark's precision. unix_micros takes TIMESTAMP (an
    instant) and TIMESTAMP_NTZ (its wall clock read as UTC, whatever the session time zone);
    there is no extract(epoch from ...), and unix_seconds would drop the fraction. -#}
{% macro spark___pit_epoch(expression) -%}
    unix_micros({{ expression }})
{%- endmacro %}


{% macro _pit_epoch_units_per_second() %}
    {{ return(adapter.dispatch('_pit_epoch_units_per_second', 'skewless')()) }}
{% endmacro %}

{% macro default___pit_epoch_units_per_second() %}
    {{ return(1) }}
{% endmacro %}

{% macro duckdb___pit_epoch_units_per_second() %}
    {{ return(1000000000) }}
{% endmacro %}

{% macro spark___pit_epoch_units_per_second() %}
    {{ return(1000000) }}
{% endmacro %}


{#
    The feature-view definition behind a generic test's `model`, with `entity` / `timestamp`
    overriding meta.skewless when given. Raises a compiler error naming the test and the fix when
    neither the arguments nor the meta say which columns to use.
#}
{% macro _pit_test_view(model, entity, timestamp, test_name) %}
    {%- if not execute -%}
        {{ return({'keys': [], 'timestamp': 'null'}) }}
    {%- endif -%}
    {%- set node = skewless._pit_find_node(model) if model.identifier is defined else none -%}
    {%- set definition = {'entity': [], 'timestamp': none, 'quote': {}, 'defaults': {}, 'name': model | string} -%}
    {%- if node is not none -%}
        {%- set definition = skewless._pit_view_definition(node, test_name, problems=[]) -%}
    {%- endif -%}
    {%- if entity is not none -%}
        {%- set entity_list = [entity] if entity is string else entity | list -%}
    {%- else -%}
        {%- set entity_list = definition.entity -%}
    {%- endif -%}
    {%- set ts = timestamp if timestamp is not none else definition.timestamp -%}
    {%- if execute and (not entity_list or not ts) -%}
        {{ exceptions.raise_compiler_error(test_name ~ " on " ~ model ~ ": cannot tell its entity and "
            ~ "timestamp columns; give the model config.meta.skewless {entity: ..., timestamp: ...} "
            ~ "or pass `entity` and `timestamp` to the test") }}
    {%- endif -%}
    {%- set keys = [] -%}
    {%- for e in entity_list -%}
        {%- do keys.append(skewless._pit_column(e, definition.quote.get(e, false))) -%}
    {%- endfor -%}
    {{ return({'keys': keys, 'timestamp': skewless._pit_column(ts or '', definition.quote.get(ts, false))}) }}
{% endmacro %}


{#
    When the spine is a CTE name its columns cannot be inspected at compile time. On DuckDB, which
    would silently rename a duplicate output column (`score` -> `score_1`), this adds a zero-cost
    left join whose binding fails with `Duplicate named argument "<column>"` when a feature
    column's output name is also a spine column. Other adapters fail on the duplicate by themselves
    when the model is materialised (e.g. PostgreSQL: column "<column>" specified more than once).
#}
{% macro _pit_collision_guard(spine, output_names) %}
    {{ return(adapter.dispatch('_pit_collision_guard', 'skewless')(spine, output_names)) }}
{% endmacro %}

{% macro default___pit_collision_guard(spine, output_names) %}
    {{ return('') }}
{% endmacro %}

{% macro duckdb___pit_collision_guard(spine, output_names) -%}
left join (
    {#- struct_pack(score := null, COLUMNS(*)) is bound once per spine column; a spine column
        named like a feature output is a duplicate named argument. -#}
    select struct_pack(
        {%- for name in output_names %}{{ adapter.quote(name) }} := null, {% endfor -%}
        columns(*)
    ) as __pit_feature_column_also_in_spine
    from {{ spine }}
    limit 0
) as __pit_collision_check on false
{%- endmacro %}


{#
    The SQL literal of a column default (meta.skewless.default). On DuckDB it is cast to the
    column's declared type (declared types are DuckDB's there), so the feature column keeps its
    exact type; on PostgreSQL to the declared type spelled as PostgreSQL spells it (a bare `0`
    beside a numeric(18,2) column would make the CASE an unconstrained numeric, and the default
    read 0 instead of 0.00); elsewhere the CASE around it takes the column's type (declared YAML
    types need not be valid on every adapter).
#}
{% macro _pit_default_literal(default) %}
    {{ return(adapter.dispatch('_pit_default_literal', 'skewless')(default)) }}
{% endmacro %}

{% macro default___pit_default_literal(default) %}
    {%- set value = default['value'] -%}
    {%- if value is none -%}
        {{ return('null') }}
    {%- elif value is sameas true or value is sameas false -%}
        {{ return('true' if value else 'false') }}
    {%- elif value is number -%}
        {{ return(value | string) }}
    {%- endif -%}
    {{ return(skewless._sql_string_literal(value | string)) }}
{% endmacro %}

{#- Spark: the CASE around a text literal and a DATE/TIMESTAMP column would turn the column into
    a string, so a date or timestamp default is cast to the column's Spark type (a naive
    `timestamp` is Spark's TIMESTAMP_NTZ, a tz-aware one Spark's TIMESTAMP). -#}
{% macro spark___pit_default_literal(default) %}
    {%- set literal = skewless.default___pit_default_literal(default) -%}
    {%- set value = default['value'] -%}
    {%- if value is string and default['data_type'] -%}
        {%- set spark_types = {'DATE': 'date', 'TIMESTAMP': 'timestamp_ntz',
                               'TIMESTAMP WITH TIME ZONE': 'timestamp'} -%}
        {%- set canonical = skewless._fv_canonical_type(default['data_type']) -%}
        {%- if canonical in spark_types -%}
            {{ return('cast(' ~ literal ~ ' as ' ~ spark_types[canonical] ~ ')') }}
        {%- endif -%}
    {%- endif -%}
    {{ return(literal) }}
{% endmacro %}


{#
    A SQL string literal of the text `value`. Standard SQL doubles the quote (DuckDB, PostgreSQL
    with standard_conforming_strings). Spark SQL reads backslash escapes in literals, and Spark
    3.5 reads 'o''neil' as two adjacent literals ('oneil'): there both the backslash and the
    quote are escaped with a backslash.
#}
{% macro _sql_string_literal(value) %}
    {{ return(adapter.dispatch('_sql_string_literal', 'skewless')(value)) }}
{% endmacro %}

{% macro default___sql_string_literal(value) %}
    {{ return("'" ~ (value | string | replace("'", "''")) ~ "'") }}
{% endmacro %}

{% macro spark___sql_string_literal(value) %}
    {{ return("'" ~ (value | string | replace('\\', '\\\\') | replace("'", "\\'")) ~ "'") }}
{% endmacro %}

{% macro postgres___pit_default_literal(default) %}
    {%- set literal = skewless.default___pit_default_literal(default) -%}
    {%- if default['data_type'] and default['value'] is not none -%}
        {%- set canonical = skewless._fv_canonical_type(default['data_type']) -%}
        {%- set pg_types = {
            'DOUBLE': 'double precision', 'BIGINT': 'bigint', 'INTEGER': 'integer',
            'SMALLINT': 'smallint', 'BOOLEAN': 'boolean', 'DATE': 'date',
            'TIMESTAMP': 'timestamp', 'TIMESTAMP WITH TIME ZONE': 'timestamptz', 'VARCHAR': 'text',
        } -%}
        {%- if canonical in pg_types -%}
            {{ return('cast(' ~ literal ~ ' as ' ~ pg_types[canonical] ~ ')') }}
        {%- elif canonical.startswith('DECIMAL(') -%}
            {{ return('cast(' ~ literal ~ ' as numeric' ~ canonical[7:] ~ ')') }}
        {%- endif -%}
    {%- endif -%}
    {{ return(literal) }}
{% endmacro %}

{% macro duckdb___pit_default_literal(default) %}
    {%- set literal = skewless.default___pit_default_literal(default) -%}
    {%- if default['data_type'] -%}
        {{ return('cast(' ~ literal ~ ' as ' ~ default['data_type'] ~ ')') }}
    {%- endif -%}
    {{ return(literal) }}
{% endmacro %}


{#- The spine's columns (lower case) when the spine is a relation that exists (a CTE or a
    subquery cannot be inspected: empty); `spine_timestamp` must be one of them. -#}
{% macro _pit_spine_columns(spine, spine_timestamp, macro_name) %}
    {%- set spine_columns = [] -%}
    {%- if spine is not string -%}
        {%- for col in adapter.get_columns_in_relation(spine) -%}
            {%- do spine_columns.append(col.name | lower) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if spine_columns and spine_timestamp | lower not in spine_columns -%}
        {{ exceptions.raise_compiler_error(macro_name ~ ": argument `spine_timestamp`: the spine " ~ spine
            ~ " has no column `" ~ spine_timestamp ~ "` (its columns: " ~ spine_columns | join(', ')
            ~ "); name the spine's timestamp column") }}
    {%- endif -%}
    {{ return(spine_columns) }}
{% endmacro %}


{#- One item of a list of views: ref('<view>') or {'view': ref(...), 'keys': {...}, 'prefix':
    '...'} → {relation, key_map, prefix, node}. `kind` ('feature view', 'window view') and
    `node_hint` (what such a model has) word the messages. -#}
{% macro _pit_view_item(item, where, kind, node_hint) %}
    {%- if item.identifier is not defined and item is mapping -%}
        {%- set unknown = [] -%}
        {%- for k in item.keys() -%}
            {%- if k not in ['view', 'keys', 'prefix'] -%}{%- do unknown.append(k) -%}{%- endif -%}
        {%- endfor -%}
        {%- if unknown -%}
            {{ exceptions.raise_compiler_error(where ~ ": unknown key(s) " ~ unknown
                ~ "; allowed: view, keys, prefix") }}
        {%- endif -%}
        {%- set relation = item.get('view') -%}
        {%- set key_map = item.get('keys') or {} -%}
        {%- set prefix = item.get('prefix') or '' -%}
    {%- else -%}
        {%- set relation = item -%}
        {%- set key_map = {} -%}
        {%- set prefix = '' -%}
    {%- endif -%}
    {%- if relation is none or relation is string or relation.identifier is not defined -%}
        {{ exceptions.raise_compiler_error(where ~ ": expected ref('<" ~ kind ~ ">') (or a dict "
            ~ "whose `view` is one), got " ~ relation
            ~ "; write the view as ref('name'), not as a string") }}
    {%- endif -%}
    {%- if key_map is not mapping -%}
        {{ exceptions.raise_compiler_error(where ~ ": `keys` must map view key columns to spine "
            ~ "columns, e.g. {'user_id': 'payer_id'}, got " ~ key_map) }}
    {%- endif -%}
    {%- if prefix is not string -%}
        {{ exceptions.raise_compiler_error(where ~ ": `prefix` must be a string such as 'payer_', got "
            ~ prefix) }}
    {%- endif -%}
    {%- set node = skewless._pit_find_node(relation) -%}
    {%- if node is none -%}
        {{ exceptions.raise_compiler_error(where ~ ": " ~ relation ~ " is not a model, seed, "
            ~ "snapshot or source of this dbt project; pass ref('<" ~ kind ~ ">') of a model "
            ~ node_hint) }}
    {%- endif -%}
    {{ return({'relation': relation, 'key_map': key_map, 'prefix': prefix, 'node': node}) }}
{% endmacro %}


{#- The join keys of a view (`definition`: name, entity, quote): each entity column with the
    spine column it matches (renamed by `key_map`, else the same name), checked against the
    spine's columns when they are known. -#}
{% macro _pit_join_keys(key_map, definition, where, spine_columns) %}
    {%- set keys = [] -%}
    {%- for k in key_map.keys() -%}
        {%- if k not in definition.entity -%}
            {{ exceptions.raise_compiler_error(where ~ ": `keys` maps `" ~ k ~ "`, which is not an "
                ~ "entity column of `" ~ definition.name ~ "` (its entity is " ~ definition.entity
                ~ "); map each view key column to a spine column") }}
        {%- endif -%}
        {%- if key_map[k] is not string or not key_map[k] -%}
            {{ exceptions.raise_compiler_error(where ~ ": `keys` maps `" ~ k ~ "` to " ~ key_map[k]
                ~ "; map it to the name of a spine column") }}
        {%- endif -%}
    {%- endfor -%}
    {%- for e in definition.entity -%}
        {%- set spine_col = key_map.get(e, e) -%}
        {%- if spine_columns and spine_col | lower not in spine_columns -%}
            {{ exceptions.raise_compiler_error(where ~ ": the spine has no column `" ~ spine_col
                ~ "` to match entity column `" ~ e ~ "` of `" ~ definition.name ~ "`; pass "
                ~ "'keys': {'" ~ e ~ "': '<spine column>'}") }}
        {%- endif -%}
        {%- do keys.append({'view': e, 'spine': spine_col, 'quote': definition.quote.get(e, false)}) -%}
    {%- endfor -%}
    {{ return(keys) }}
{% endmacro %}
