{#
    skewless.point_in_time_join(spine, spine_timestamp, feature_views, strict=false)

    Every spine row plus, for each feature view, the values of the view row with the greatest
    timestamp such that timestamp + available_after <= spine timestamp (< when strict) and
    spine timestamp - timestamp <= ttl (DESIGN.md §3.2). Exactly one output row per spine row.
    Documented in macros/point_in_time_join.yml.
#}
{% macro point_in_time_join(spine, spine_timestamp, feature_views, strict=false) %}
    {{ return(adapter.dispatch('point_in_time_join', 'skewless')(spine, spine_timestamp, feature_views, strict)) }}
{% endmacro %}


{#
    Portable version (PostgreSQL, DuckDB, ...), no row explosion. Per view:
      1. the distinct (spine keys, spine timestamp) pairs, shifted back by available_after, are
         unioned with the view's (keys, timestamp) rows;
      2. a running max of the view timestamp per entity, ordered by time (view rows sort before
         spine rows at equal times, or after them when strict), gives each pair its as-of timestamp;
      3. an equi-join on (keys, as-of timestamp) fetches the values; when several view rows share
         that entity and timestamp, the one with the greatest feature values (compared column by
         column in declared order, NULL lowest) is taken;
    then the spine is left-joined to each view's result on (keys, spine timestamp).
#}
{% macro default__point_in_time_join(spine, spine_timestamp, feature_views, strict=false) %}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set views = skewless._pit_resolve_views(spine, spine_timestamp, feature_views, strict,
                                                'skewless.point_in_time_join') -%}
    {%- set per_second = skewless._pit_epoch_units_per_second() -%}
    {%- set view_kind = 2 if strict else 0 -%}
with
{%- for v in views %}
{%- set i = loop.index %}
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
        {{ view_kind }},
        {{ skewless._pit_epoch(ts) }}
    from {{ v.relation }}
    where {{ ts }} is not null
    {%- for k in v['keys'] %}
        and {{ skewless._pit_column(k.view, k.quote) }} is not null
    {%- endfor %}
),
__pit_v{{ i }}_asof as (
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
__pit_v{{ i }}_ranked as (
    select
        {%- for k in v['keys'] %}
        a.__pit_k{{ loop.index }},
        {%- endfor %}
        a.__pit_st,
        {%- for f in v.features %}
        v.{{ skewless._pit_column(f.name, f.quote) }} as __pit_f{{ loop.index }},
        {%- endfor %}
        row_number() over (
            partition by {% for k in v['keys'] %}a.__pit_k{{ loop.index }}, {% endfor %}a.__pit_st
            order by {% for f in v.features %}v.{{ skewless._pit_column(f.name, f.quote) }} desc nulls last{{ ', ' if not loop.last }}{% endfor %}
        ) as __pit_rank
    from __pit_v{{ i }}_asof as a
    inner join {{ v.relation }} as v
        on {% for k in v['keys'] %}v.{{ skewless._pit_column(k.view, k.quote) }} = a.__pit_k{{ loop.index }}
        and {% endfor %}{{ skewless._pit_epoch('v.' ~ ts) }} = a.__pit_match
    where a.__pit_kind = 1
    {%- if v.ttl_seconds is not none %}
        and a.__pit_t + {{ after }} - a.__pit_match <= {{ v.ttl_seconds * per_second }}
    {%- endif %}
),
__pit_v{{ i }} as (
    select * from __pit_v{{ i }}_ranked where __pit_rank = 1
){{ ',' if not loop.last }}
{%- endfor %}
select
    __pit_spine.*
    {%- for v in views %}
    {%- set i = loop.index %}
    {%- for f in v.features %},
    __pit_v{{ i }}.__pit_f{{ loop.index }} as {{ skewless._pit_column(f.output, f.quote) }}
    {%- endfor %}
    {%- endfor %}
from {{ spine }} as __pit_spine
{%- for v in views %}
{%- set i = loop.index %}
left join __pit_v{{ i }}
    on {% for k in v['keys'] %}__pit_spine.{{ k.spine }} = __pit_v{{ i }}.__pit_k{{ loop.index }}
    and {% endfor %}__pit_spine.{{ spine_timestamp }} = __pit_v{{ i }}.__pit_st
{%- endfor %}
{% endmacro %}


{#
    DuckDB: one ASOF LEFT JOIN per view. The ASOF inequality runs on a HUGEINT
    (epoch_ns(timestamp) + available_after) * 2^64 + hash(feature values), so that among view rows
    sharing an entity and timestamp the one with the greatest hash of its feature values wins,
    whatever the input order. epoch_ns is exact for TIMESTAMP_NS / TIMESTAMPTZ_NS and compares
    every timestamp as a UTC instant; it is defined for 1677-09-21 .. 2262-04-11 (outside that,
    DuckDB raises a conversion error rather than returning a wrong row).
#}
{% macro duckdb__point_in_time_join(spine, spine_timestamp, feature_views, strict=false) %}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set views = skewless._pit_resolve_views(spine, spine_timestamp, feature_views, strict,
                                                'skewless.point_in_time_join') -%}
    {%- set shift = 18446744073709551616 -%}
    {%- set spine_ns = 'epoch_ns(__pit_spine.' ~ spine_timestamp ~ ')' -%}
    {%- if strict -%}
        {%- set spine_key = spine_ns ~ '::hugeint * ' ~ shift -%}
        {%- set op = '>' -%}
    {%- else -%}
        {%- set spine_key = spine_ns ~ '::hugeint * ' ~ shift ~ ' + ' ~ (shift - 1) -%}
        {%- set op = '>=' -%}
    {%- endif -%}
select
    __pit_spine.*
    {%- for v in views %}
    {%- set i = loop.index %}
    {%- for f in v.features %},
    {%- if v.ttl_seconds is not none %}
    case when {{ spine_ns }}::hugeint - (__pit_v{{ i }}.__pit_key >> 64)
            <= {{ (v.ttl_seconds - v.available_after_seconds) * 1000000000 }}
        then __pit_v{{ i }}.__pit_f{{ loop.index }} end as {{ skewless._pit_column(f.output, f.quote) }}
    {%- else %}
    __pit_v{{ i }}.__pit_f{{ loop.index }} as {{ skewless._pit_column(f.output, f.quote) }}
    {%- endif %}
    {%- endfor %}
    {%- endfor %}
from {{ spine }} as __pit_spine
{%- for v in views %}
{%- set i = loop.index %}
{%- set ts = skewless._pit_column(v.timestamp, v.timestamp_quote) %}
asof left join (
    select
        {%- for k in v['keys'] %}
        {{ skewless._pit_column(k.view, k.quote) }} as __pit_k{{ loop.index }},
        {%- endfor %}
        {%- for f in v.features %}
        {{ skewless._pit_column(f.name, f.quote) }} as __pit_f{{ loop.index }},
        {%- endfor %}
        (epoch_ns({{ ts }})::hugeint + {{ v.available_after_seconds * 1000000000 }}) * {{ shift }}
            + hash({% for f in v.features %}{{ skewless._pit_column(f.name, f.quote) }}{{ ', ' if not loop.last }}{% endfor %}) as __pit_key
    from {{ v.relation }}
    where {{ ts }} is not null
) as __pit_v{{ i }}
    on {% for k in v['keys'] %}__pit_spine.{{ k.spine }} = __pit_v{{ i }}.__pit_k{{ loop.index }}
    and {% endfor %}{{ spine_key }} {{ op }} __pit_v{{ i }}.__pit_key
{%- endfor %}
{% endmacro %}
