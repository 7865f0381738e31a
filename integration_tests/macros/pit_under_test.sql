{#- skewless.point_in_time_join as dispatched, or its portable default__ when var pit_impl = default. -#}
{% macro pit_under_test(spine, spine_timestamp, feature_views, strict=false) %}
    {%- if var('pit_impl', 'dispatch') == 'default' -%}
        {{ return(skewless.default__point_in_time_join(spine, spine_timestamp, feature_views, strict)) }}
    {%- elif var('pit_impl', 'dispatch') == 'dispatch' -%}
        {{ return(skewless.point_in_time_join(spine, spine_timestamp, feature_views, strict)) }}
    {%- else -%}
        {{ exceptions.raise_compiler_error("var pit_impl must be `dispatch` or `default`, got " ~ var('pit_impl')) }}
    {%- endif -%}
{% endmacro %}
