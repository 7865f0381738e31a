{#
    skewless.window_join(spine, spine_timestamp, views)

    Every spine row plus, for each window view (a model with `meta.skewless.kind: window`), its
    sliding-window aggregates at that spine row's instant q over exactly the events e of the
    row's entity with  q - W < e.timestamp <= q - available_after  (per window W); with a `hop`
    H the lower edge moves in steps: floor_H(q - W) < e.timestamp, floor_H rounding down to a
    multiple of H since the Unix epoch (UTC). Exactly one output row per spine row. Documented
    in macros/window_join.yml and docs/windows.md.
#}
{% macro window_join(spine, spine_timestamp, views) %}
    {{ return(adapter.dispatch('window_join', 'skewless')(spine, spine_timestamp, views)) }}
{% endmacro %}


{#
    Portable version (DuckDB, PostgreSQL, ...): per view, the distinct (spine keys, spine
    timestamp) pairs are joined to the view's events on the keys and on the widest window's time
    range, and grouped: one conditional aggregate per (column, function, window). `last` takes
    the greatest event time in the window (per column, non-null values) and then the greatest
    value among the events at that time. See _window_query.
#}
{% macro default__window_join(spine, spine_timestamp, views) %}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set resolved = skewless._window_resolve_views(spine, spine_timestamp, views, 'skewless.window_join') -%}
    {{ return(skewless._window_query(spine, spine_timestamp, resolved)) }}
{% endmacro %}


{#- The aggregate functions a window view may declare, in output order within a column. -#}
{% macro _window_functions() %}
    {{ return(['count', 'sum', 'avg', 'min', 'max', 'last', 'count_distinct']) }}
{% endmacro %}


{#- Whether a graph node is a window view: its meta.skewless says `kind: window`. -#}
{% macro _window_is_view(node) %}
    {%- set meta = skewless._pit_node_meta(node) if node is not none else none -%}
    {{ return(meta is mapping and meta.get('kind') == 'window') }}
{% endmacro %}


{#
    Validate a window view's `meta.skewless` (the rules of the runtime's
    python_runtime/skewless/definitions/windows.py, with its wording). Returns a dict: name,
    entity (list), timestamp, available_after_seconds, hop_seconds (0: none), windows (list of
    {name, seconds}),
    aggregations (list of {column, function, base}: the output name is base ~ '_' ~ window name),
    quote (declared column -> quote flag). `problems` (a list) receives one message per problem
    instead of raising, when given.
#}
{% macro _window_view_definition(node, where, problems=none) %}
    {%- set issues = [] -%}
    {%- set name = node.name -%}
    {%- set meta = skewless._pit_node_meta(node) -%}
    {%- set result = {'name': name, 'entity': [], 'timestamp': none, 'available_after_seconds': 0,
                      'hop_seconds': 0, 'windows': [], 'aggregations': [], 'quote': {}} -%}
    {%- set fix = "e.g. `{kind: window, entity: user_id, timestamp: txn_ts, windows: [1h, 7d], "
        ~ "aggregations: [{column: amount, functions: [count, sum]}]}`" -%}
    {%- if meta is not mapping or meta.get('kind') != 'window' -%}
        {%- do issues.append(where ~ ": model `" ~ name ~ "` is not a window view (meta.skewless.kind: "
            ~ "window); give it " ~ fix) -%}
    {%- else -%}
        {%- set allowed = ['kind', 'entity', 'timestamp', 'available_after', 'windows', 'aggregations',
                           'horizon', 'hop', 'event_id', 'owner', 'description', 'tags'] -%}
        {%- set unknown = [] -%}
        {%- for k in meta.keys() -%}
            {%- if k not in allowed -%}{%- do unknown.append(k) -%}{%- endif -%}
        {%- endfor -%}
        {%- if unknown -%}
            {%- do issues.append(where ~ ": model `" ~ name ~ "`: unknown key(s) " ~ unknown ~ " in "
                ~ "meta.skewless of a window view; allowed: " ~ allowed | join(', ')
                ~ " (a window view has no ttl: its windows bound what it sees)") -%}
        {%- endif -%}
        {%- do skewless._pit_meta_entity(meta, where, name, result.entity, issues) -%}
        {%- set timestamp = meta.get('timestamp') -%}
        {%- if timestamp is string and timestamp and timestamp not in result.entity -%}
            {%- do result.update({'timestamp': timestamp}) -%}
        {%- else -%}
            {%- do issues.append(where ~ ": model `" ~ name ~ "`: meta.skewless.timestamp must name the "
                ~ "event time column (not an entity column), got " ~ timestamp) -%}
        {%- endif -%}
        {%- set after = skewless._pit_try_parse_duration(meta.get('available_after', '0s')) -%}
        {%- if after is none -%}
            {%- do issues.append(where ~ ": model `" ~ name ~ "`: meta.skewless.available_after is "
                ~ meta.get('available_after') ~ ", not a duration; write a whole number and a unit: "
                ~ "90s, 15m, 12h, 30d, 2w (or a sum such as 1h30m)") -%}
        {%- else -%}
            {%- do result.update({'available_after_seconds': after}) -%}
        {%- endif -%}
        {%- set horizon = skewless._pit_try_parse_duration(meta.get('horizon', '1d')) -%}
        {%- if horizon is none or horizon <= 0 -%}
            {%- do issues.append(where ~ ": model `" ~ name ~ "`: meta.skewless.horizon is "
                ~ meta.get('horizon') ~ ", not a positive duration (how long after a load the online "
                ~ "window values stay exact, e.g. `1d`: load at least that often)") -%}
        {%- endif -%}

        {%- if meta.get('hop') is not none -%}
            {%- set hop = skewless._pit_try_parse_duration(meta.get('hop')) -%}
            {%- if hop is none or hop <= 0 -%}
                {%- do issues.append(where ~ ": model `" ~ name ~ "`: meta.skewless.hop is "
                    ~ meta.get('hop') ~ ", not a positive duration (the step in which every window's "
                    ~ "start moves, e.g. `5m` or `1h`); write a whole number and a unit or drop it") -%}
            {%- else -%}
                {%- do result.update({'hop_seconds': hop}) -%}
            {%- endif -%}
        {%- endif -%}
        {%- set windows_raw = meta.get('windows') -%}
        {%- if windows_raw is string or windows_raw is mapping or windows_raw is not iterable
            or (windows_raw | length) == 0 -%}
            {%- do issues.append(where ~ ": model `" ~ name ~ "`: meta.skewless.windows must be a "
                ~ "non-empty list of durations, e.g. `[1h, 1d, 7d]`, got " ~ windows_raw) -%}
        {%- else -%}
            {%- set seen = {} -%}
            {%- for w in windows_raw -%}
                {%- set seconds = skewless._pit_try_parse_duration(w) -%}
                {%- if seconds is none or seconds == 0 -%}
                    {%- do issues.append(where ~ ": model `" ~ name ~ "`: meta.skewless.windows["
                        ~ loop.index0 ~ "] is " ~ w ~ ", not a positive duration; write a whole "
                        ~ "number and a unit: 15m, 1h, 1d, 7d (or a sum such as 1h30m)") -%}
                {%- elif seconds in seen -%}
                    {%- do issues.append(where ~ ": model `" ~ name ~ "`: meta.skewless.windows lists "
                        ~ "the same window twice (" ~ seen[seconds] ~ " and " ~ w ~ "); remove one") -%}
                {%- elif result.hop_seconds and seconds < result.hop_seconds -%}
                    {%- do issues.append(where ~ ": model `" ~ name ~ "`: window " ~ w ~ " is shorter "
                        ~ "than hop (" ~ meta.get('hop') ~ "); use a hop no longer than the shortest "
                        ~ "window") -%}
                {%- elif after is not none and seconds <= after -%}
                    {%- do issues.append(where ~ ": model `" ~ name ~ "`: window " ~ w ~ " is not "
                        ~ "longer than available_after (" ~ meta.get('available_after') ~ "), so it "
                        ~ "would always be empty; use a longer window or a shorter available_after") -%}
                {%- else -%}
                    {%- do seen.update({seconds: w}) -%}
                    {%- do result.windows.append({'name': w.strip(), 'seconds': seconds}) -%}
                {%- endif -%}
            {%- endfor -%}
        {%- endif -%}

        {%- set declared = node.get('columns') or {} -%}
        {%- for col_name, spec in declared.items() -%}
            {%- do result.quote.update({col_name: (spec or {}).get('quote') or false}) -%}
        {%- endfor -%}
        {%- set declared_lower = declared.keys() | map('lower') | list -%}
        {%- for c in result.entity + ([result.timestamp] if result.timestamp else []) -%}
            {%- if declared and c | lower not in declared_lower -%}
                {%- do issues.append(where ~ ": model `" ~ name ~ "`: column `" ~ c ~ "` named in "
                    ~ "meta.skewless is not declared in the model's YAML; declare it or fix meta.skewless") -%}
            {%- endif -%}
        {%- endfor -%}

        {%- set functions = skewless._window_functions() -%}
        {%- set aggs_raw = meta.get('aggregations') -%}
        {%- if aggs_raw is string or aggs_raw is mapping or aggs_raw is not iterable
            or (aggs_raw | length) == 0 -%}
            {%- do issues.append(where ~ ": model `" ~ name ~ "`: meta.skewless.aggregations must be a "
                ~ "non-empty list of {column: <column>, functions: [...]}, e.g. "
                ~ "`[{column: amount, functions: [count, sum]}]`, got " ~ aggs_raw) -%}
        {%- else -%}
            {%- set bases = [] -%}
            {%- for a in aggs_raw -%}
                {%- set at = where ~ ": model `" ~ name ~ "`: meta.skewless.aggregations[" ~ loop.index0 ~ "]" -%}
                {%- set a_unknown = [] -%}
                {%- if a is mapping -%}
                    {%- for k in a.keys() if k not in ['column', 'functions'] -%}{%- do a_unknown.append(k) -%}{%- endfor -%}
                {%- endif -%}
                {%- set column = a.get('column') if a is mapping else none -%}
                {%- set fns = a.get('functions') if a is mapping else none -%}
                {%- if a is not mapping or a_unknown -%}
                    {%- do issues.append(at ~ " must be a mapping with keys column and functions, "
                        ~ "e.g. {column: amount, functions: [sum, max]}, got " ~ a) -%}
                {%- elif column is not string or not column -%}
                    {%- do issues.append(at ~ ": `column` must name a column of the model (or be '*' "
                        ~ "with functions [count]), got " ~ column) -%}
                {%- elif fns is string or fns is mapping or fns is not iterable or (fns | length) == 0 -%}
                    {%- do issues.append(at ~ ": `functions` must be a non-empty list of "
                        ~ functions | join(', ') ~ ", got " ~ fns) -%}
                {%- elif column == '*' and (fns | list) != ['count'] -%}
                    {%- do issues.append(at ~ ": column '*' takes only functions [count] (the number of "
                        ~ "events, output `events_count_<window>`), got " ~ fns) -%}
                {%- elif column != '*' and declared and column | lower not in declared_lower -%}
                    {%- do issues.append(at ~ ": column `" ~ column ~ "` is not declared in the model's "
                        ~ "YAML (its columns: " ~ declared.keys() | join(', ') ~ "); declare it or fix the name") -%}
                {%- else -%}
                    {%- for f in fns -%}
                        {%- set base = 'events_count' if column == '*' else column ~ '_' ~ f -%}
                        {%- if f not in functions -%}
                            {%- do issues.append(at ~ ": unknown function " ~ f ~ "; allowed: "
                                ~ functions | join(', ')) -%}
                        {%- elif base | lower in bases -%}
                            {%- do issues.append(at ~ ": `" ~ f ~ "` of `" ~ column ~ "` is declared "
                                ~ "twice (output " ~ base ~ "_<window>); remove one") -%}
                        {%- else -%}
                            {%- do bases.append(base | lower) -%}
                            {%- do result.aggregations.append({'column': column, 'function': f, 'base': base}) -%}
                        {%- endif -%}
                    {%- endfor -%}
                {%- endif -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endif -%}

    {%- if problems is not none -%}
        {%- do problems.extend(issues) -%}
    {%- elif issues -%}
        {{ exceptions.raise_compiler_error(issues | join('\n')) }}
    {%- endif -%}
    {{ return(result) }}
{% endmacro %}


{#
    Resolve the `views` argument of window_join into a list of dicts: relation, name, keys (list
    of {view, spine, quote}), timestamp, timestamp_quote, available_after_seconds, windows,
    columns (distinct aggregated columns, {name, quote}), outputs (list of {name, function,
    column_index, window_seconds}). `extra_outputs` are output names already taken (by
    point_in_time_join's plain feature views). Raises a compiler error naming the argument and
    the fix on anything invalid.
#}
{% macro _window_resolve_views(spine, spine_timestamp, views, macro_name, extra_outputs=[]) %}
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
    {%- if views is string or views.identifier is defined or views is mapping
        or views is not iterable or (views | length) == 0 -%}
        {{ exceptions.raise_compiler_error(macro_name ~ ": argument `views` must be a non-empty list "
            ~ "of ref('...') window views or of {'view': ref('...'), 'keys': {...}, 'prefix': '...'} "
            ~ "dicts, got " ~ views) }}
    {%- endif -%}
    {%- set spine_columns = skewless._pit_spine_columns(spine, spine_timestamp, macro_name) -%}
    {%- set resolved = [] -%}
    {%- set outputs = {} -%}
    {%- for name in extra_outputs -%}{%- do outputs.update({name | lower: 'a feature view'}) -%}{%- endfor -%}
    {%- for item in views -%}
        {%- set where = macro_name ~ ": views[" ~ loop.index0 ~ "]" -%}
        {%- set parsed = skewless._pit_view_item(item, where, 'window view', 'with config.meta.skewless.kind: window') -%}
        {%- set relation = parsed.relation -%}
        {%- set prefix = parsed.prefix -%}
        {%- set d = skewless._window_view_definition(parsed.node, where) -%}
        {%- set keys = skewless._pit_join_keys(parsed.key_map, d, where, spine_columns) -%}
        {%- set columns = [] -%}
        {%- set column_index = {} -%}
        {%- for a in d.aggregations -%}
            {%- if a.column != '*' and a.column not in column_index -%}
                {%- do column_index.update({a.column: (columns | length) + 1}) -%}
                {%- do columns.append({'name': a.column, 'quote': d.quote.get(a.column, false)}) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- set view_outputs = [] -%}
        {%- for a in d.aggregations -%}
            {%- for w in d.windows -%}
                {%- set output = prefix ~ a.base ~ '_' ~ w.name -%}
                {%- if output | lower in spine_columns -%}
                    {{ exceptions.raise_compiler_error(where ~ ": output column `" ~ output ~ "` of `"
                        ~ d.name ~ "` is also a spine column; pass the view as {'view': ref('"
                        ~ d.name ~ "'), 'prefix': '" ~ d.name ~ "__'} (or rename the spine column)") }}
                {%- endif -%}
                {%- if output | lower in outputs -%}
                    {{ exceptions.raise_compiler_error(where ~ ": output column `" ~ output ~ "` of `"
                        ~ d.name ~ "` collides with the same name from " ~ outputs[output | lower]
                        ~ "; pass one of them as {'view': ref('" ~ d.name ~ "'), 'prefix': '<prefix>_'}") }}
                {%- endif -%}
                {%- do outputs.update({output | lower: '`' ~ d.name ~ '`'}) -%}
                {%- do view_outputs.append({'name': output, 'function': a.function,
                    'column_index': column_index.get(a.column), 'window_seconds': w.seconds}) -%}
            {%- endfor -%}
        {%- endfor -%}
        {%- do resolved.append({
            'relation': relation, 'name': d.name, 'keys': keys, 'timestamp': d.timestamp,
            'timestamp_quote': d.quote.get(d.timestamp, false),
            'available_after_seconds': d.available_after_seconds, 'hop_seconds': d.hop_seconds,
            'window_seconds': d.windows | map(attribute='seconds') | list,
            'max_window_seconds': d.windows | map(attribute='seconds') | max,
            'columns': columns, 'outputs': view_outputs,
        }) -%}
    {%- endfor -%}
    {{ return(resolved) }}
{% endmacro %}


{#
    The SQL of window_join. Per view i:
      __wj_v<i>_pairs   the distinct (keys, spine timestamp) pairs with non-null keys and time;
      __wj_v<i>_events  the view's events with non-null keys and time, on one UTC time line;
      __wj_v<i>_agg     pairs LEFT JOIN events on the keys and q - max(W) < t <= q - available_after,
                        grouped by pair: one conditional aggregate per output (the window's lower
                        edge t > q - W in a CASE), and for `last` the greatest in-window time of
                        a non-null value;
      __wj_v<i>         `last`: the greatest value among the events at that time.
    The spine is left-joined to each __wj_v<i> on (keys, spine timestamp): duplicates stay
    duplicates; counts are coalesced to 0 (a null key or time, an empty window). With
    `spine_sql`, `spine` names a CTE made of it first (point_in_time_join's plain join, computed
    once rather than once per reference).
#}
{% macro _window_query(spine, spine_timestamp, views, spine_sql=none) %}
    {%- set per_second = skewless._pit_epoch_units_per_second() -%}
{%- if spine_sql is not none %}
with {{ spine }} as {{ spine_sql }}
{%- endif %}
{%- for v in views %}
{%- set i = loop.index %}
{%- set ts = skewless._pit_column(v.timestamp, v.timestamp_quote) %}
{{ 'with' if loop.first and spine_sql is none else ',' }}
__wj_v{{ i }}_pairs as (
    select distinct
        {%- for k in v['keys'] %}
        __wj_s.{{ k.spine }} as __wj_k{{ loop.index }},
        {%- endfor %}
        __wj_s.{{ spine_timestamp }} as __wj_st,
        {{ skewless._pit_epoch('__wj_s.' ~ spine_timestamp) }} as __wj_q
        {%- if v.hop_seconds %}
        {%- for seconds in v.window_seconds %},
        {{ skewless._window_hop_floor(skewless._pit_epoch('__wj_s.' ~ spine_timestamp) ~ ' - ' ~ (seconds * per_second), v.hop_seconds * per_second) }} as __wj_lo{{ seconds }}
        {%- endfor %}
        {%- endif %}
    from {{ spine }} as __wj_s
    where __wj_s.{{ spine_timestamp }} is not null
    {%- for k in v['keys'] %}
        and __wj_s.{{ k.spine }} is not null
    {%- endfor %}
),
__wj_v{{ i }}_events as (
    select
        {%- for k in v['keys'] %}
        {{ skewless._pit_column(k.view, k.quote) }} as __wj_k{{ loop.index }},
        {%- endfor %}
        {%- for c in v.columns %}
        {{ skewless._pit_column(c.name, c.quote) }} as __wj_c{{ loop.index }},
        {%- endfor %}
        {{ skewless._pit_epoch(ts) }} as __wj_t
    from {{ v.relation }}
    where {{ ts }} is not null
    {%- for k in v['keys'] %}
        and {{ skewless._pit_column(k.view, k.quote) }} is not null
    {%- endfor %}
),
__wj_v{{ i }}_agg as (
    select
        {%- for k in v['keys'] %}
        p.__wj_k{{ loop.index }},
        {%- endfor %}
        p.__wj_st
        {%- for o in v.outputs %}
        {%- set within = 'e.__wj_t > ' ~ skewless._window_lower(v, o.window_seconds, per_second) %}
        {%- set value = 'e.__wj_c' ~ o.column_index %},
        {%- if o.function == 'count' and o.column_index is none %}
        count(case when {{ within }} then 1 end) as __wj_o{{ loop.index }}
        {%- elif o.function == 'count_distinct' %}
        count(distinct case when {{ within }} then {{ value }} end) as __wj_o{{ loop.index }}
        {%- elif o.function == 'last' %}
        max(case when {{ within }} and {{ value }} is not null then e.__wj_t end) as __wj_o{{ loop.index }}
        {%- else %}
        {{ o.function }}(case when {{ within }} then {{ value }} end) as __wj_o{{ loop.index }}
        {%- endif %}
        {%- endfor %}
    from __wj_v{{ i }}_pairs as p
    left join __wj_v{{ i }}_events as e
        on {% for k in v['keys'] %}e.__wj_k{{ loop.index }} = p.__wj_k{{ loop.index }}
        and {% endfor %}e.__wj_t > {{ skewless._window_lower(v, v.max_window_seconds, per_second) }}
        and e.__wj_t <= p.__wj_q - {{ v.available_after_seconds * per_second }}
    group by {% for k in v['keys'] %}p.__wj_k{{ loop.index }}, {% endfor %}p.__wj_st
),
__wj_v{{ i }} as (
    select
        {%- for k in v['keys'] %}
        a.__wj_k{{ loop.index }},
        {%- endfor %}
        a.__wj_st
        {%- for o in v.outputs %},
        {%- if o.function == 'last' %}
        (
            select max(e.__wj_c{{ o.column_index }})
            from __wj_v{{ i }}_events as e
            where {% for k in v['keys'] %}e.__wj_k{{ loop.index }} = a.__wj_k{{ loop.index }}
                and {% endfor %}e.__wj_t = a.__wj_o{{ loop.index }}
        ) as __wj_o{{ loop.index }}
        {%- else %}
        a.__wj_o{{ loop.index }}
        {%- endif %}
        {%- endfor %}
    from __wj_v{{ i }}_agg as a
)
{%- endfor %}
select
    __wj_s.*
    {%- for v in views %}
    {%- set i = loop.index %}
    {%- for o in v.outputs %},
    {%- if o.function in ['count', 'count_distinct'] %}
    coalesce(__wj_v{{ i }}.__wj_o{{ loop.index }}, 0) as {{ o.name }}
    {%- else %}
    __wj_v{{ i }}.__wj_o{{ loop.index }} as {{ o.name }}
    {%- endif %}
    {%- endfor %}
    {%- endfor %}
from {{ spine }} as __wj_s
{%- if spine is string %}
{%- set output_names = [] %}
{%- for v in views %}{% for o in v.outputs %}{% do output_names.append(o.name) %}{% endfor %}{% endfor %}
{{ skewless._pit_collision_guard(spine, output_names) }}
{%- endif %}
{%- for v in views %}
{%- set i = loop.index %}
left join __wj_v{{ i }}
    on {% for k in v['keys'] %}__wj_s.{{ k.spine }} = __wj_v{{ i }}.__wj_k{{ loop.index }}
    and {% endfor %}__wj_s.{{ spine_timestamp }} = __wj_v{{ i }}.__wj_st
{%- endfor %}
{% endmacro %}


{#- The lower edge (exclusive) of window `seconds` of view `v` at each pair's instant p.__wj_q,
    in epoch units (`per_second` a second): q - W, or the pair's floor_H(q - W) with a hop. -#}
{% macro _window_lower(v, seconds, per_second) -%}
    {%- if v.hop_seconds -%}
        p.__wj_lo{{ seconds }}
    {%- else -%}
        p.__wj_q - {{ seconds * per_second }}
    {%- endif -%}
{%- endmacro %}


{#- `x` rounded down to a multiple of `step` (both in epoch units): x - mod(x, step), the modulo
    taken non-negative (`%` keeps the dividend's sign on DuckDB, PostgreSQL and Spark), exact on
    integers and on PostgreSQL's numeric epoch. -#}
{% macro _window_hop_floor(x, step) -%}
    ({{ x }}) - ((({{ x }}) % {{ step }}) + {{ step }}) % {{ step }}
{%- endmacro %}


{#
    The items of point_in_time_join's `feature_views` that are window views (ref('<view>') or
    {'view': ref('<view>'), ...} of a model with meta.skewless.kind: window); anything else,
    valid or not, is left to point_in_time_join's own checks.
#}
{% macro _window_views_among(feature_views) %}
    {%- set found = [] -%}
    {%- if not execute or feature_views is string or feature_views is mapping or feature_views is not iterable
        or feature_views.identifier is defined -%}
        {{ return(found) }}
    {%- endif -%}
    {%- for item in feature_views -%}
        {%- set relation = item.get('view') if (item is mapping and item.identifier is not defined) else item -%}
        {%- if relation is not none and relation is not string and relation.identifier is defined
            and skewless._window_is_view(skewless._pit_find_node(relation)) -%}
            {%- do found.append(item) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(found) }}
{% endmacro %}


{#
    point_in_time_join with window views among `feature_views` (called by its dispatch shim):
    the plain feature views are joined by point_in_time_join, whose result is the spine of a
    window_join of the window views. `strict` has no meaning for a window (its upper edge is
    always `<= q - available_after`), so it is refused with window views.
#}
{% macro _pit_with_windows(spine, spine_timestamp, feature_views, strict) %}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set windows = skewless._window_views_among(feature_views) -%}
    {%- set plain = [] -%}
    {%- for item in feature_views if item not in windows -%}{%- do plain.append(item) -%}{%- endfor -%}
    {%- if strict -%}
        {{ exceptions.raise_compiler_error("skewless.point_in_time_join: argument `strict` is true but "
            ~ "feature_views include window view(s); a window's upper edge is always "
            ~ "`timestamp <= spine_timestamp - available_after` — drop strict or join the window views "
            ~ "with skewless.window_join") }}
    {%- endif -%}
    {%- if not plain -%}
        {{ return(skewless.window_join(spine, spine_timestamp, windows)) }}
    {%- endif -%}
    {%- set taken = [] -%}
    {%- for v in skewless._pit_resolve_views(spine, spine_timestamp, plain, strict, 'skewless.point_in_time_join') -%}
        {%- for f in v.features -%}{%- do taken.append(f.output) -%}{%- endfor -%}
    {%- endfor -%}
    {#- the spine's own columns are checked here; the composed spine is a subquery -#}
    {%- do skewless._window_resolve_views(spine, spine_timestamp, windows, 'skewless.point_in_time_join', taken) -%}
    {%- set inner = '(' ~ adapter.dispatch('point_in_time_join', 'skewless')(spine, spine_timestamp, plain, strict) ~ ')' -%}
    {%- set resolved = skewless._window_resolve_views(inner, spine_timestamp, windows, 'skewless.point_in_time_join', taken) -%}
    {#- the plain join once, as a CTE: each window view's pairs and the final select read it -#}
    {{ return(skewless._window_query('__wj_spine', spine_timestamp, resolved, spine_sql=inner)) }}
{% endmacro %}
