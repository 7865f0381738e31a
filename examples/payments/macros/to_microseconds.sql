{#
    to_microseconds(expr, tz=false): a timestamp as a microsecond TIMESTAMP (or, with tz=true,
    TIMESTAMP WITH TIME ZONE), truncated: never moved later, so never into the future of the event
    it records.
#}
{% macro to_microseconds(expr, tz=false) -%}
    {{ return(adapter.dispatch('to_microseconds', 'payments')(expr, tz)) }}
{%- endmacro %}

{#- Engines whose timestamps have microsecond precision (PostgreSQL): the cast is exact. On
    PostgreSQL the raw tables already hold microseconds, truncated by load_postgres.py exactly as
    duckdb__to_microseconds truncates. -#}
{% macro default__to_microseconds(expr, tz=false) -%}
    {%- if tz -%}
        cast({{ expr }} as timestamp with time zone)
    {%- else -%}
        cast({{ expr }} as timestamp)
    {%- endif -%}
{%- endmacro %}

{#- DuckDB: the raw Parquet columns are TIMESTAMP_NS / TIMESTAMPTZ_NS (as pandas writes them), and
    DuckDB's CAST rounds them to the nearest microsecond, which can move an instant up to 500 ns
    later; integer division of epoch_ns truncates (toward zero, as `//` does). -#}
{% macro duckdb__to_microseconds(expr, tz=false) -%}
    {%- if tz -%}
        make_timestamptz(epoch_ns({{ expr }}) // 1000)
    {%- else -%}
        make_timestamp(epoch_ns({{ expr }}) // 1000)
    {%- endif -%}
{%- endmacro %}
