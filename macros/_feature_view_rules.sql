{#
    Private helpers of skewless.valid_feature_view: the rules the Python runtime enforces when it
    loads a feature view (python_runtime/skewless/definitions/manifest.py) and when it
    materializes one (the declared vs built type check of python_runtime/skewless/offline/duckdb.py),
    with the runtime's wording. Nothing here is public API.
#}

{#- DuckDB type aliases, as python_runtime/skewless/sql/types.py resolves them, plus the names
    PostgreSQL's catalog reports (`character varying`, `character`). -#}
{% macro _fv_type_aliases() %}
    {{ return({
        'INT': 'INTEGER', 'INT4': 'INTEGER', 'SIGNED': 'INTEGER', 'INT8': 'BIGINT', 'LONG': 'BIGINT',
        'INT2': 'SMALLINT', 'SHORT': 'SMALLINT', 'INT1': 'TINYINT', 'INT128': 'HUGEINT',
        'UINT8': 'UTINYINT', 'UINT16': 'USMALLINT', 'UINT32': 'UINTEGER', 'UINT64': 'UBIGINT',
        'FLOAT8': 'DOUBLE', 'DOUBLE PRECISION': 'DOUBLE', 'FLOAT4': 'FLOAT', 'REAL': 'FLOAT',
        'TEXT': 'VARCHAR', 'STRING': 'VARCHAR', 'CHAR': 'VARCHAR', 'BPCHAR': 'VARCHAR',
        'CHARACTER VARYING': 'VARCHAR', 'CHARACTER': 'VARCHAR',
        'BOOL': 'BOOLEAN', 'LOGICAL': 'BOOLEAN', 'DATETIME': 'TIMESTAMP',
        'TIMESTAMP WITHOUT TIME ZONE': 'TIMESTAMP', 'TIMESTAMP WITH TIME ZONE': 'TIMESTAMPTZ',
    }) }}
{% endmacro %}


{#- Integer types and their ranges (python_runtime/skewless/sql/runtime.py INT_RANGES). -#}
{% macro _fv_int_ranges() %}
    {{ return({
        'TINYINT': [-128, 127], 'SMALLINT': [-32768, 32767],
        'INTEGER': [-2147483648, 2147483647],
        'BIGINT': [-9223372036854775808, 9223372036854775807],
        'HUGEINT': [-170141183460469231731687303715884105728, 170141183460469231731687303715884105727],
        'UTINYINT': [0, 255], 'USMALLINT': [0, 65535], 'UINTEGER': [0, 4294967295],
        'UBIGINT': [0, 18446744073709551615],
    }) }}
{% endmacro %}


{#
    A type name in one spelling, so that aliases compare equal and widths do not: `int8` and
    `bigint` are BIGINT, `numeric(10,2)` is DECIMAL(10,2), `timestamptz` and `timestamp with time
    zone` are TIMESTAMP WITH TIME ZONE, `varchar(20)` is VARCHAR; HUGEINT, DOUBLE and DECIMAL(18,2)
    stay themselves. Unknown types are compared as written (upper case, single spaces).
#}
{% macro _fv_canonical_type(text) %}
    {{ return(adapter.dispatch('_fv_canonical_type', 'skewless')(text)) }}
{% endmacro %}

{% macro default___fv_canonical_type(text) %}
    {{ return(skewless._fv_canonical_type_with(text, none, {})) }}
{% endmacro %}

{#- DuckDB: a DECIMAL without width is DECIMAL(18,3), as the runtime's parse_type says. -#}
{% macro duckdb___fv_canonical_type(text) %}
    {{ return(skewless._fv_canonical_type_with(text, [18, 3], {})) }}
{% endmacro %}

{#- PostgreSQL: `float` is double precision; a NUMERIC without width is unconstrained. -#}
{% macro postgres___fv_canonical_type(text) %}
    {{ return(skewless._fv_canonical_type_with(text, none, {'FLOAT': 'DOUBLE'})) }}
{% endmacro %}

{#- Spark: `timestamp_ntz` is the naive TIMESTAMP, `timestamp_ltz` the tz-aware one; `byte` is
    TINYINT; a DECIMAL without width is DECIMAL(10,0). A built Spark `timestamp` (an instant in
    the session time zone) arrives here already named `timestamp with time zone` (_fv_built_type). -#}
{% macro spark___fv_canonical_type(text) %}
    {{ return(skewless._fv_canonical_type_with(text, [10, 0], {
        'TIMESTAMP_NTZ': 'TIMESTAMP', 'TIMESTAMP_LTZ': 'TIMESTAMPTZ', 'BYTE': 'TINYINT'})) }}
{% endmacro %}

{% macro _fv_canonical_type_with(text, decimal_default, extra_aliases) %}
    {%- set t = (text | string).strip().upper().split() | join(' ') -%}
    {%- set m = modules.re.fullmatch('(?:DECIMAL|NUMERIC)\\s*(?:\\(\\s*(\\d+)\\s*(?:,\\s*(\\d+)\\s*)?\\))?', t) -%}
    {%- if m is not none -%}
        {%- if m.group(1) is none -%}
            {{ return('DECIMAL(' ~ decimal_default | join(',') ~ ')' if decimal_default else 'DECIMAL') }}
        {%- endif -%}
        {%- set p = m.group(1) | int -%}
        {%- set s = (m.group(2) or '0') | int -%}
        {%- if 1 <= p <= 38 and 0 <= s <= p -%}
            {{ return('DECIMAL(' ~ p ~ ',' ~ s ~ ')') }}
        {%- endif -%}
        {{ return(t) }}
    {%- endif -%}
    {%- set known = ['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT', 'UTINYINT', 'USMALLINT',
                     'UINTEGER', 'UBIGINT', 'DOUBLE', 'FLOAT', 'VARCHAR', 'BOOLEAN', 'DATE',
                     'TIMESTAMP', 'TIMESTAMPTZ', 'INTERVAL'] -%}
    {%- set aliases = skewless._fv_type_aliases() -%}
    {%- do aliases.update(extra_aliases) -%}
    {#- the whole name, then (VARCHAR(20), CHARACTER VARYING(20): a modifier on a known type) its base -#}
    {%- for candidate in [t, t.split('(')[0].strip()] -%}
        {%- set name = aliases.get(candidate, candidate) -%}
        {%- if name in known and (loop.first or '(' in t) -%}
            {{ return('TIMESTAMP WITH TIME ZONE' if name == 'TIMESTAMPTZ' else name) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(t) }}
{% endmacro %}


{#- The type a built column has, in the adapter's own metadata. DuckDB: `dtype` is DuckDB's
    name (HUGEINT, DECIMAL(38,0), VARCHAR), where `data_type` says `character varying(256)` for
    any VARCHAR. Elsewhere `data_type` carries the width (PostgreSQL: numeric(10,2)). -#}
{% macro _fv_built_type(column) %}
    {{ return(adapter.dispatch('_fv_built_type', 'skewless')(column)) }}
{% endmacro %}

{% macro default___fv_built_type(column) %}
    {{ return(column.data_type) }}
{% endmacro %}

{% macro duckdb___fv_built_type(column) %}
    {{ return(column.dtype) }}
{% endmacro %}

{#- Spark: DESCRIBE's names (`int`, `string`, `decimal(10,2)`, `timestamp_ntz`), except that
    Spark's `timestamp` is an instant (TIMESTAMP WITH LOCAL TIME ZONE): it is named in the
    runtime's terms, where a bare `timestamp` is naive. -#}
{% macro spark___fv_built_type(column) %}
    {%- set dtype = column.dtype | string | trim | lower -%}
    {%- if dtype in ['timestamp', 'timestamp_ltz'] -%}
        {{ return('timestamp with time zone') }}
    {%- endif -%}
    {{ return(column.dtype) }}
{% endmacro %}


{#- Python's repr of a YAML value, as the runtime's messages print it ('abc', 4.7, True). -#}
{% macro _fv_repr(value) %}
    {%- if value is string -%}
        {{ return("'" ~ value ~ "'") }}
    {%- elif value is sameas true -%}
        {{ return('True') }}
    {%- elif value is sameas false -%}
        {{ return('False') }}
    {%- elif value is none -%}
        {{ return('None') }}
    {%- endif -%}
    {{ return(value | string) }}
{% endmacro %}


{#- Whether `text` is an ISO 8601 date, or (with_time) date and time, that exists. -#}
{% macro _fv_is_iso_date(text, with_time) %}
    {%- set pattern = '(\\d{4})-(\\d{2})-(\\d{2})' ~ ('(?:[T ](\\d{2}):(\\d{2})(?::(\\d{2})(?:\\.\\d{1,6})?)?)?(?:Z|[+-]\\d{2}(?::?\\d{2})?)?' if with_time else '') -%}
    {%- set m = modules.re.fullmatch(pattern, text.strip()) -%}
    {%- if m is none -%}{{ return(false) }}{%- endif -%}
    {%- set y, mo, d = m.group(1) | int, m.group(2) | int, m.group(3) | int -%}
    {%- set leap = (y % 4 == 0 and y % 100 != 0) or y % 400 == 0 -%}
    {%- set days = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] -%}
    {%- if y < 1 or mo < 1 or mo > 12 or d < 1 or d > days[mo - 1] -%}{{ return(false) }}{%- endif -%}
    {%- if with_time and m.group(4) is not none -%}
        {%- if (m.group(4) | int) > 23 or (m.group(5) | int) > 59 or ((m.group(6) or '0') | int) > 59 -%}
            {{ return(false) }}
        {%- endif -%}
    {%- endif -%}
    {{ return(true) }}
{% endmacro %}


{#
    Why a column default does not fit its declared type, or none when it does: the runtime's
    check_default (python_runtime/skewless/definitions/manifest.py) — an integer type takes an
    integer in its range, a DECIMAL(p,s) a number with at most s decimals and p-s integer digits,
    DOUBLE/FLOAT a number, BOOLEAN true/false, DATE/TIMESTAMP an ISO 8601 text that exists.
#}
{% macro _fv_default_problem(data_type, value) %}
    {%- if value is none -%}{{ return(none) }}{%- endif -%}
    {%- set canonical = skewless._fv_canonical_type(data_type) -%}
    {%- set base = canonical.split('(')[0].strip() -%}
    {%- set is_bool = value is sameas true or value is sameas false -%}
    {%- set text = value | string -%}
    {%- set ranges = skewless._fv_int_ranges() -%}
    {%- if base in ranges -%}
        {%- if is_bool or (value is number and not value is integer and value != (value | int))
               or (value is string and modules.re.fullmatch('\\s*[+-]?\\d+\\s*', value) is none)
               or (value is not string and value is not number) -%}
            {{ return('not an integer') }}
        {%- endif -%}
        {%- set n = text.strip() | int if value is string else value | int -%}
        {%- if n < ranges[base][0] or n > ranges[base][1] -%}
            {{ return(text ~ ' is out of the range of ' ~ base) }}
        {%- endif -%}
    {%- elif base in ['DOUBLE', 'FLOAT'] -%}
        {%- if is_bool or not (value is number or modules.re.fullmatch('\\s*[+-]?(\\d+\\.?\\d*|\\.\\d+)([eE][+-]?\\d+)?\\s*|\\s*[+-]?(inf|infinity|nan)\\s*', text.lower()) is not none) -%}
            {{ return('not a number') }}
        {%- endif -%}
    {%- elif base == 'DECIMAL' -%}
        {%- if is_bool or modules.re.fullmatch('[+-]?(\\d+\\.?\\d*|\\.\\d+)([eE][+-]?\\d+)?', text.strip()) is none -%}
            {{ return('not a decimal number') }}
        {%- endif -%}
        {%- set m = modules.re.fullmatch('DECIMAL\\((\\d+),(\\d+)\\)', canonical) -%}
        {#- significant digits and exponent of the number, e.g. 1.230 -> 123e-2 -#}
        {%- set n = modules.re.fullmatch('[+-]?(\\d*)(?:\\.(\\d*))?(?:[eE]([+-]?\\d+))?', text.strip()) -%}
        {%- set fraction = n.group(2) or '' -%}
        {%- set digits = (n.group(1) ~ fraction).lstrip('0') -%}
        {%- set exponent = (n.group(3) or '0') | int - (fraction | length) -%}
        {%- set stripped = digits.rstrip('0') -%}
        {%- set exponent = exponent + (digits | length) - (stripped | length) -%}
        {%- if m is not none and stripped -%}
            {%- set p, s = m.group(1) | int, m.group(2) | int -%}
            {%- set decimals = [0, 0 - exponent] | max -%}
            {%- set integer_digits = [0, (stripped | length) + exponent] | max -%}
            {%- if decimals > s -%}
                {{ return(text ~ ' has ' ~ decimals ~ ' decimals, more than the scale ' ~ s) }}
            {%- elif integer_digits > p - s -%}
                {{ return(text ~ ' has ' ~ integer_digits ~ ' integer digits, more than ' ~ (p - s)) }}
            {%- endif -%}
        {%- endif -%}
    {%- elif base == 'BOOLEAN' -%}
        {%- if not is_bool -%}{{ return('not true/false') }}{%- endif -%}
    {%- elif base == 'DATE' -%}
        {%- if value is string and not skewless._fv_is_iso_date(value, false) -%}
            {{ return('not an existing date in ISO 8601 form, e.g. 2024-01-31') }}
        {%- elif value is not string and value.year is not defined -%}
            {{ return('not a date') }}
        {%- endif -%}
    {%- elif base in ['TIMESTAMP', 'TIMESTAMP WITH TIME ZONE'] -%}
        {%- if value is string and not skewless._fv_is_iso_date(value, true) -%}
            {{ return('not an existing timestamp in ISO 8601 form, e.g. 2024-01-31 12:00:00') }}
        {%- elif value is not string and value.year is not defined -%}
            {{ return('not a timestamp') }}
        {%- endif -%}
    {%- endif -%}
    {{ return(none) }}
{% endmacro %}


{#
    Every problem of the feature view `node` built as `relation`, one message each, naming the
    model, the key or column and the fix (the runtime's messages, prefixed with `where`):
    the meta.skewless rules of _pit_view_definition, then the runtime's load rules (every column
    declared with a data_type, `on_stale: default` needs a default per feature column, defaults
    fit their types, kind), then the materialize rule: each declared column exists in the built
    relation with the declared type. `relation_columns` are the adapter's columns of the relation
    (empty when it does not exist yet: the column rules are skipped).
#}
{% macro _fv_problems(node, relation_columns, where) %}
    {%- set problems = [] -%}
    {%- set name = node.name -%}
    {%- set meta = skewless._pit_node_meta(node) -%}
    {%- if meta is mapping and meta.get('kind') == 'window' -%}
        {#- a window view: its own rules (skewless._window_view_definition, the runtime's
            definitions/windows.py), with the runtime's messages -#}
        {%- do skewless._window_view_definition(node, where, problems=problems) -%}
        {{ return(problems) }}
    {%- endif -%}
    {%- if meta is mapping and meta.get('kind', 'feature_view') != 'feature_view' -%}
        {%- if meta.get('kind') == 'on_demand' -%}
            {%- do problems.append(where ~ ": model `" ~ name ~ "` is a request-time view "
                ~ "(meta.skewless.kind: on_demand); apply skewless.valid_feature_view to feature views") -%}
        {%- else -%}
            {%- do problems.append(where ~ ": model `" ~ name ~ "`: meta.skewless.kind is "
                ~ skewless._fv_repr(meta.get('kind')) ~ "; allowed: feature_view (the default), on_demand, window") -%}
        {%- endif -%}
        {{ return(problems) }}
    {%- endif -%}
    {%- set definition = skewless._pit_view_definition(node, where, problems=problems) -%}

    {%- set declared = node.get('columns') or {} -%}
    {%- set keys = definition.entity + ([definition.timestamp] if definition.timestamp else []) -%}
    {%- if meta is mapping and not declared and keys -%}
        {%- do problems.append(where ~ ": model `" ~ name ~ "`: column(s) " ~ keys ~ " named in "
            ~ "meta.skewless are not declared; declare every column with its data_type in the "
            ~ "model's YAML (columns: - name: …, data_type: …)") -%}
    {%- endif -%}

    {#- every declared column has a data_type; a flow-style YAML `data_type: decimal(10,2)` is cut at the comma -#}
    {%- set types = {} -%}
    {%- for col_name, spec in declared.items() -%}
        {%- set data_type = ((spec or {}).get('data_type') or '') | string | trim -%}
        {%- do types.update({col_name: data_type}) -%}
        {%- if not data_type -%}
            {%- do problems.append(where ~ ": model `" ~ name ~ "`, column `" ~ col_name ~ "`: no "
                ~ "data_type; declare it in the model's YAML (e.g. `data_type: double`) — serving and "
                ~ "request-time features are typed") -%}
        {%- elif data_type.count('(') != data_type.count(')') -%}
            {%- do problems.append(where ~ ": model `" ~ name ~ "`, column `" ~ col_name ~ "`: data_type "
                ~ data_type ~ " has unbalanced parentheses — in YAML flow style ({name: …, data_type: …}) "
                ~ "a comma ends the value: quote it, `data_type: '" ~ data_type ~ ",…)'`, or use block style") -%}
        {%- endif -%}
    {%- endfor -%}

    {#- column defaults fit their types; on_stale: default needs one per feature column -#}
    {%- set no_default = [] -%}
    {%- for f in definition.features -%}
        {%- if f.default is none -%}
            {%- do no_default.append(f.name) -%}
        {%- elif types.get(f.name) -%}
            {%- set why = skewless._fv_default_problem(types[f.name], f.default.value) -%}
            {%- if why is not none -%}
                {%- do problems.append(where ~ ": model `" ~ name ~ "`, column `" ~ f.name ~ "`: "
                    ~ "meta.skewless.default " ~ skewless._fv_repr(f.default.value) ~ " does not fit "
                    ~ "data_type " ~ types[f.name] ~ " (" ~ why ~ ") — write a default of the column's "
                    ~ "type, or change the column's data_type") -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if meta is mapping and meta.get('on_stale') == 'default' and no_default and declared -%}
        {%- do problems.append(where ~ ": model `" ~ name ~ "`: on_stale is `default` but column(s) "
            ~ no_default ~ " have no meta.skewless.default; add one per column or choose on_stale: null") -%}
    {%- endif -%}

    {#- declared vs built: each declared column exists, with the declared type -#}
    {%- if relation_columns -%}
        {%- set built = {} -%}
        {%- for c in relation_columns -%}
            {%- do built.update({c.name | lower: c}) -%}
        {%- endfor -%}
        {%- for col_name, data_type in types.items() -%}
            {%- set column = built.get(col_name | lower) -%}
            {%- if column is none -%}
                {%- do problems.append(where ~ ": model `" ~ name ~ "`, column `" ~ col_name
                    ~ "`: declared (data_type " ~ (data_type or 'none') ~ ") but the relation has no "
                    ~ "such column (its columns: " ~ relation_columns | map(attribute='name') | join(', ')
                    ~ ") — add it to the model's SELECT or remove it from the YAML") -%}
            {%- elif data_type and data_type.count('(') == data_type.count(')') -%}
                {%- set actual = skewless._fv_built_type(column) -%}
                {%- if skewless._fv_canonical_type(data_type) != skewless._fv_canonical_type(actual) -%}
                    {%- set declared_sql = data_type.split() | join(' ') | lower -%}
                    {%- do problems.append(where ~ ": model `" ~ name ~ "`, column `" ~ col_name
                        ~ "`: declared data_type " ~ data_type ~ " but dbt built " ~ actual
                        ~ " — cast in the model: `cast(" ~ col_name ~ " as " ~ declared_sql ~ ")`, "
                        ~ "or declare `data_type: " ~ actual.split() | join(' ') | lower ~ "`") -%}
                {%- endif -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(problems) }}
{% endmacro %}
