{#
    The SQL of skewless.point_in_time_join, shared by its implementations, which differ only in
    how each distinct (spine keys, spine timestamp) pair finds its as-of view timestamp:
      match='window': union with the view's rows + running max of the view timestamp per entity
                      (portable; view rows sort before spine rows at equal times, after when strict);
      match='asof':   a DuckDB ASOF JOIN of the pairs to the view's (keys, timestamp).
    Then, per view, an equi-join on (keys, as-of timestamp) fetches the values: when several view
    rows share that entity and timestamp, the one with the greatest feature values (column by
    column in declared order, NULL lowest) is taken, so the result never depends on input order
    and is the same on every adapter. Finally the spine is left-joined to each view's values on
    (keys, spine timestamp): one output row per spine row, duplicates kept, nulls give nulls.
    Where a spine row with non-null keys and timestamp finds no view row within ttl, a feature
    with a column default (meta.skewless.default) takes it: what serving returns for a missing
    or expired value, so training sees it too.

    A view declared unique on (entity, timestamp) (v.unique: it carries skewless.unique_as_of,
    see _pit_declared_unique) has no ties to break:
      match='asof':   the spine is ASOF LEFT JOINed to the view directly and the join carries the
                      values (no distinct pairs, no equi-join, no ranking); the ttl is a CASE on
                      the matched timestamp. Null keys and null spine timestamps match nothing.
      match='window': the equi-join's single row per pair is used as is (no ranking).
    Times are compared on one UTC line by skewless._pit_epoch (epoch_ns on DuckDB).

    Spark carries the values in the window itself: see spark___pit_query below.
#}
{% macro _pit_query(spine, spine_timestamp, views, strict, match) %}
    {{ return(adapter.dispatch('_pit_query', 'skewless')(spine, spine_timestamp, views, strict, match)) }}
{% endmacro %}

{% macro default___pit_query(spine, spine_timestamp, views, strict, match) %}
    {%- set per_second = skewless._pit_epoch_units_per_second() -%}
    {#- per view: joined directly by ASOF (declared unique, DuckDB) or through CTEs -#}
    {%- set direct = [] -%}
    {%- for v in views -%}
        {%- do direct.append(match == 'asof' and v.unique) -%}
    {%- endfor -%}
    {%- set ns = namespace(ctes=0) -%}
{%- for v in views %}
{%- set i = loop.index %}
{%- if not direct[loop.index0] %}
{{ 'with' if ns.ctes == 0 else ',' }}
{%- set ns.ctes = ns.ctes + 1 %}
{%- set ts = skewless._pit_column(v.timestamp, v.timestamp_quote) %}
{%- set after = v.available_after_seconds * per_second %}
__pit_v{{ i }}_pairs as (
    select distinct
        {%- for k in v['keys'] %}
        {{ k.spine }} as __pit_k{{ loop.index }},
        {%- endfor %}
        {{ spine_timestamp }} as __pit_st
    from {{ spine }}
    where {{ spine_timestamp }} is not null
    {%- for k in v['keys'] %}
        and {{ k.spine }} is not null
    {%- endfor %}
),
{%- if match == 'asof' %}
__pit_v{{ i }}_match as (
    select
        {%- for k in v['keys'] %}
        p.__pit_k{{ loop.index }},
        {%- endfor %}
        p.__pit_st,
        {{ skewless._pit_epoch('p.__pit_st') }} as __pit_t,
        m.__pit_vt as __pit_match
    from __pit_v{{ i }}_pairs as p
    asof join (
        select
            {%- for k in v['keys'] %}
            {{ skewless._pit_column(k.view, k.quote) }} as __pit_k{{ loop.index }},
            {%- endfor %}
            {{ skewless._pit_epoch(ts) }} as __pit_vt
        from {{ v.relation }}
        where {{ ts }} is not null
    ) as m
        on {% for k in v['keys'] %}p.__pit_k{{ loop.index }} = m.__pit_k{{ loop.index }}
        and {% endfor %}{{ skewless._pit_epoch('p.__pit_st') }} - {{ after }} {{ '>' if strict else '>=' }} m.__pit_vt
),
{%- else %}
__pit_v{{ i }}_events as (
    select
        {%- for k in v['keys'] %}
        __pit_k{{ loop.index }},
        {%- endfor %}
        __pit_st,
        {{ skewless._pit_epoch('__pit_st') }} - {{ after }} as __pit_t,
        1 as __pit_kind,
        null as __pit_vt
    from __pit_v{{ i }}_pairs
    union all
    select
        {%- for k in v['keys'] %}
        {{ skewless._pit_column(k.view, k.quote) }},
        {%- endfor %}
        null,
        {{ skewless._pit_epoch(ts) }},
        {{ 2 if strict else 0 }},
        {{ skewless._pit_epoch(ts) }}
    from {{ v.relation }}
    {{ skewless._pit_keyed_rows(v, ts) }}
),
__pit_v{{ i }}_running as (
    select
        {%- for k in v['keys'] %}
        __pit_k{{ loop.index }},
        {%- endfor %}
        __pit_st,
        __pit_t,
        __pit_kind,
        max(__pit_vt) over (
            partition by {% for k in v['keys'] %}__pit_k{{ loop.index }}{{ ', ' if not loop.last }}{% endfor %}
            order by __pit_t, __pit_kind
            rows between unbounded preceding and current row
        ) as __pit_match
    from __pit_v{{ i }}_events
),
__pit_v{{ i }}_match as (
    select
        {%- for k in v['keys'] %}
        __pit_k{{ loop.index }},
        {%- endfor %}
        __pit_st,
        __pit_t + {{ after }} as __pit_t,
        __pit_match
    from __pit_v{{ i }}_running
    where __pit_kind = 1 and __pit_match is not null
),
{%- endif %}
{%- if v.unique %}
{#- declared unique: at most one view row per (keys, as-of timestamp), nothing to rank -#}
__pit_v{{ i }} as (
    select
        {%- for k in v['keys'] %}
        m.__pit_k{{ loop.index }},
        {%- endfor %}
        m.__pit_st,
        {%- for f in v.features %}
        v.{{ skewless._pit_column(f.name, f.quote) }} as __pit_f{{ loop.index }}{{ ',' if not loop.last }}
        {%- endfor %}
    from __pit_v{{ i }}_match as m
    inner join {{ v.relation }} as v
        on {% for k in v['keys'] %}v.{{ skewless._pit_column(k.view, k.quote) }} = m.__pit_k{{ loop.index }}
        and {% endfor %}{{ skewless._pit_epoch('v.' ~ ts) }} = m.__pit_match
    {%- if v.ttl_seconds is not none %}
    where m.__pit_t - m.__pit_match <= {{ v.ttl_seconds * per_second }}
    {%- endif %}
)
{%- else %}
__pit_v{{ i }}_ranked as (
    select
        {%- for k in v['keys'] %}
        m.__pit_k{{ loop.index }},
        {%- endfor %}
        m.__pit_st,
        {%- for f in v.features %}
        v.{{ skewless._pit_column(f.name, f.quote) }} as __pit_f{{ loop.index }},
        {%- endfor %}
        row_number() over (
            partition by {% for k in v['keys'] %}m.__pit_k{{ loop.index }}, {% endfor %}m.__pit_st
            order by {% for f in v.features %}v.{{ skewless._pit_column(f.name, f.quote) }} desc nulls last{{ ', ' if not loop.last }}{% endfor %}
        ) as __pit_rank
    from __pit_v{{ i }}_match as m
    inner join {{ v.relation }} as v
        on {% for k in v['keys'] %}v.{{ skewless._pit_column(k.view, k.quote) }} = m.__pit_k{{ loop.index }}
        and {% endfor %}{{ skewless._pit_epoch('v.' ~ ts) }} = m.__pit_match
    {%- if v.ttl_seconds is not none %}
    where m.__pit_t - m.__pit_match <= {{ v.ttl_seconds * per_second }}
    {%- endif %}
),
__pit_v{{ i }} as (
    select * from __pit_v{{ i }}_ranked where __pit_rank = 1
)
{%- endif %}
{%- endif %}
{%- endfor %}
select
    __pit_spine.*
    {%- for v in views %}
    {%- set i = loop.index %}
    {%- set spine_known -%}
        __pit_spine.{{ spine_timestamp }} is not null
        {%- for k in v['keys'] %}
            and __pit_spine.{{ k.spine }} is not null
        {%- endfor %}
    {%- endset %}
    {%- if direct[loop.index0] %}
    {#- the ASOF match within ttl (a missed match leaves __pit_vt null, and so the test) -#}
    {%- if v.ttl_seconds is not none %}
    {%- set within = skewless._pit_epoch('__pit_spine.' ~ spine_timestamp) ~ ' - __pit_v' ~ i ~ '.__pit_vt <= ' ~ (v.ttl_seconds * per_second) %}
    {%- else %}
    {%- set within = '__pit_v' ~ i ~ '.__pit_vt is not null' %}
    {%- endif %}
    {%- for f in v.features %},
    {%- if f.default is not none %}
    case
        when {{ within }} then __pit_v{{ i }}.__pit_f{{ loop.index }}
        when {{ spine_known }}
        then {{ skewless._pit_default_literal(f.default) }}
    end as {{ skewless._pit_column(f.output, f.quote) }}
    {%- elif v.ttl_seconds is not none %}
    case when {{ within }} then __pit_v{{ i }}.__pit_f{{ loop.index }} end as {{ skewless._pit_column(f.output, f.quote) }}
    {%- else %}
    __pit_v{{ i }}.__pit_f{{ loop.index }} as {{ skewless._pit_column(f.output, f.quote) }}
    {%- endif %}
    {%- endfor %}
    {%- else %}
    {%- for f in v.features %},
    {%- if f.default is not none %}
    {#- no row within ttl for a known entity: the column default, as serving returns it -#}
    case
        when __pit_v{{ i }}.__pit_st is null
            and {{ spine_known }}
        then {{ skewless._pit_default_literal(f.default) }}
        else __pit_v{{ i }}.__pit_f{{ loop.index }}
    end as {{ skewless._pit_column(f.output, f.quote) }}
    {%- else %}
    __pit_v{{ i }}.__pit_f{{ loop.index }} as {{ skewless._pit_column(f.output, f.quote) }}
    {%- endif %}
    {%- endfor %}
    {%- endif %}
    {%- endfor %}
from {{ spine }} as __pit_spine
{%- if spine is string %}
{{ skewless._pit_collision_guard(spine, skewless._pit_output_names(views)) }}
{%- endif %}
{%- for v in views %}
{%- set i = loop.index %}
{%- if direct[loop.index0] %}
{%- set ts = skewless._pit_column(v.timestamp, v.timestamp_quote) %}
asof left join (
    select
        {%- for k in v['keys'] %}
        {{ skewless._pit_column(k.view, k.quote) }} as __pit_k{{ loop.index }},
        {%- endfor %}
        {{ skewless._pit_epoch(ts) }} as __pit_vt
        {%- for f in v.features %},
        {{ skewless._pit_column(f.name, f.quote) }} as __pit_f{{ loop.index }}
        {%- endfor %}
    from {{ v.relation }}
    where {{ ts }} is not null
) as __pit_v{{ i }}
    on {% for k in v['keys'] %}__pit_spine.{{ k.spine }} = __pit_v{{ i }}.__pit_k{{ loop.index }}
    and {% endfor %}{{ skewless._pit_epoch('__pit_spine.' ~ spine_timestamp) }} - {{ v.available_after_seconds * per_second }} {{ '>' if strict else '>=' }} __pit_v{{ i }}.__pit_vt
{%- else %}
left join __pit_v{{ i }}
    on {% for k in v['keys'] %}__pit_spine.{{ k.spine }} = __pit_v{{ i }}.__pit_k{{ loop.index }}
    and {% endfor %}__pit_spine.{{ spine_timestamp }} = __pit_v{{ i }}.__pit_st
{%- endif %}
{%- endfor %}
{% endmacro %}


{#
    Spark: each view's window carries the values themselves — no distinct pairs, no equi-join,
    no ranking, no join back to the spine. The spine rows travel whole, as one struct column
    __pit_row (struct(__pit_spine.*): a CTE spine's columns are not known at compile time),
    through one stage per view. Stage i is the union of stage i-1's rows (kind 1) and view i's
    rows (kind 0, or 2 when strict, so that at equal times they sort before, or after, the spine
    rows), each view row carrying its timestamp and values as one struct
    __pit_v = (view timestamp, feature 1, ..., feature n). Per entity, in the order (time, kind,
    __pit_v), the last non-null __pit_v up to a spine row is its as-of view row.
    The tie rule is in that order: rows sharing an entity and timestamp sort by __pit_v, which
    Spark compares field by field in declared order, NULL lowest, text byte-wise, so the last of
    them, the one taken, has the greatest feature values (what default__'s ranking picks).
    A view declared unique takes the same path: the rule is only consulted among rows equal on
    entity, time and kind, so skipping it would save nothing, and with it the result never
    depends on input order, whether or not the data keeps the declaration.
    The as-of row counts while spine time - view time <= ttl; a spine row with a null timestamp
    or a null key matches nothing (no view row shares its partition or precedes it).
#}
{% macro spark___pit_query(spine, spine_timestamp, views, strict, match) %}
    {%- set per_second = skewless._pit_epoch_units_per_second() -%}
    {%- set spine_t = skewless._pit_epoch('__pit_row.' ~ spine_timestamp) %}
with __pit_r0 as (
    select struct(__pit_spine.*) as __pit_row
    from {{ spine }} as __pit_spine
    {%- if spine is string %}
    {{ skewless._pit_collision_guard(spine, skewless._pit_output_names(views)) }}
    {%- endif %}
)
{%- for v in views %}
{%- set i = loop.index %}
{%- set ts = skewless._pit_column(v.timestamp, v.timestamp_quote) %}
{%- set after = v.available_after_seconds * per_second %},
__pit_v{{ i }}_events as (
    select
        __pit_row,
        {%- for j in range(1, i) %}
        __pit_m{{ j }},
        {%- endfor %}
        {%- for k in v['keys'] %}
        __pit_row.{{ k.spine }} as __pit_k{{ loop.index }},
        {%- endfor %}
        {{ spine_t }} - {{ after }} as __pit_t,
        1 as __pit_kind,
        null as __pit_v
    from __pit_r{{ i - 1 }}
    union all
    select
        null,
        {%- for j in range(1, i) %}
        null,
        {%- endfor %}
        {%- for k in v['keys'] %}
        {{ skewless._pit_column(k.view, k.quote) }},
        {%- endfor %}
        {{ skewless._pit_epoch(ts) }},
        {{ 2 if strict else 0 }},
        named_struct(
            '__pit_vt', {{ skewless._pit_epoch(ts) }}
            {%- for f in v.features %},
            '__pit_f{{ loop.index }}', {{ skewless._pit_column(f.name, f.quote) }}
            {%- endfor %}
        )
    from {{ v.relation }}
    {{ skewless._pit_keyed_rows(v, ts) }}
),
__pit_v{{ i }}_running as (
    select
        __pit_row,
        {%- for j in range(1, i) %}
        __pit_m{{ j }},
        {%- endfor %}
        __pit_t,
        __pit_kind,
        last(__pit_v, true) over (
            partition by {% for k in v['keys'] %}__pit_k{{ loop.index }}{{ ', ' if not loop.last }}{% endfor %}
            order by __pit_t, __pit_kind, __pit_v
            rows between unbounded preceding and current row
        ) as __pit_m
    from __pit_v{{ i }}_events
),
__pit_r{{ i }} as (
    select
        __pit_row,
        {%- for j in range(1, i) %}
        __pit_m{{ j }},
        {%- endfor %}
        case
            when __pit_t is not null
            {%- if v.ttl_seconds is not none %}
                and __pit_t + {{ after }} - __pit_m.__pit_vt <= {{ v.ttl_seconds * per_second }}
            {%- endif %}
            then __pit_m
        end as __pit_m{{ i }}
    from __pit_v{{ i }}_running
    where __pit_kind = 1
)
{%- endfor %}
select
    __pit_row.*
    {%- for v in views %}
    {%- set i = loop.index %}
    {%- for f in v.features %},
    {%- if f.default is not none %}
    {#- no row within ttl for a known entity: the column default, as serving returns it -#}
    case
        when __pit_m{{ i }} is null
            and __pit_row.{{ spine_timestamp }} is not null
            {%- for k in v['keys'] %}
            and __pit_row.{{ k.spine }} is not null
            {%- endfor %}
        then {{ skewless._pit_default_literal(f.default) }}
        else __pit_m{{ i }}.__pit_f{{ loop.index }}
    end as {{ skewless._pit_column(f.output, f.quote) }}
    {%- else %}
    __pit_m{{ i }}.__pit_f{{ loop.index }} as {{ skewless._pit_column(f.output, f.quote) }}
    {%- endif %}
    {%- endfor %}
    {%- endfor %}
from __pit_r{{ views | length }}
{% endmacro %}


{#- Every feature output column of `views`, in order (the spine collision guard's list). -#}
{% macro _pit_output_names(views) %}
    {%- set names = [] -%}
    {%- for v in views %}{% for f in v.features %}{% do names.append(f.output) %}{% endfor %}{% endfor -%}
    {{ return(names) }}
{% endmacro %}


{#- The WHERE clause of a view's rows that can match: timestamp and every key column non-null. -#}
{% macro _pit_keyed_rows(v, ts) -%}
where {{ ts }} is not null
    {%- for k in v['keys'] %}
        and {{ skewless._pit_column(k.view, k.quote) }} is not null
    {%- endfor %}
{%- endmacro %}
