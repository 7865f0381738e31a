{#
    to_microseconds(expr, tz=false): a nanosecond timestamp (TIMESTAMP_NS / TIMESTAMPTZ_NS, as
    pandas writes them to Parquet) as a microsecond TIMESTAMP (or TIMESTAMPTZ), truncated.
    DuckDB's CAST rounds to the nearest microsecond, which can move an instant up to 500 ns
    later, i.e. into the future of the event it records; truncation never does.
#}
{% macro to_microseconds(expr, tz=false) -%}
    {%- if tz -%}
        make_timestamptz(epoch_ns({{ expr }}) // 1000)
    {%- else -%}
        make_timestamp(epoch_ns({{ expr }}) // 1000)
    {%- endif -%}
{%- endmacro %}
