{#
    skewless.point_in_time_join(spine, spine_timestamp, feature_views, strict=false)

    Every spine row plus, for each feature view, the values of the view row with the greatest
    timestamp such that timestamp + available_after <= spine timestamp (< when strict) and
    spine timestamp - timestamp <= ttl. Exactly one output row per spine row. Window views
    (meta.skewless.kind: window) among feature_views are joined by skewless.window_join.
    Documented in macros/point_in_time_join.yml (semantics, ties, implementations).
#}
{% macro point_in_time_join(spine, spine_timestamp, feature_views, strict=false) %}
    {#- window views (meta.skewless.kind: window) are joined by skewless.window_join -#}
    {%- if skewless._window_views_among(feature_views) -%}
        {{ return(skewless._pit_with_windows(spine, spine_timestamp, feature_views, strict)) }}
    {%- endif -%}
    {{ return(adapter.dispatch('point_in_time_join', 'skewless')(spine, spine_timestamp, feature_views, strict)) }}
{% endmacro %}


{#
    Portable version (PostgreSQL, DuckDB, ...), no row explosion: the distinct (spine keys, spine
    timestamp) pairs are unioned with the view's (keys, timestamp) rows and a running max of the
    view timestamp per entity gives each pair its as-of timestamp. See macros/_pit_query.sql.
#}
{% macro default__point_in_time_join(spine, spine_timestamp, feature_views, strict=false) %}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set views = skewless._pit_resolve_views(spine, spine_timestamp, feature_views, strict,
                                                'skewless.point_in_time_join') -%}
    {{ return(skewless._pit_query(spine, spine_timestamp, views, strict, 'window')) }}
{% endmacro %}


{#
    DuckDB: the as-of timestamp of each distinct (spine keys, spine timestamp) pair comes from an
    ASOF JOIN on integer nanoseconds (epoch_ns: exact for TIMESTAMP_NS / TIMESTAMPTZ_NS, UTC for
    naive and tz-aware types alike; defined for 1677-09-21 .. 2262-04-11, outside which DuckDB
    raises a conversion error rather than returning a wrong row). See macros/_pit_query.sql.
#}
{% macro duckdb__point_in_time_join(spine, spine_timestamp, feature_views, strict=false) %}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set views = skewless._pit_resolve_views(spine, spine_timestamp, feature_views, strict,
                                                'skewless.point_in_time_join') -%}
    {{ return(skewless._pit_query(spine, spine_timestamp, views, strict, 'asof')) }}
{% endmacro %}
