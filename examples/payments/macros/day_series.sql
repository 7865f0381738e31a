{#
    day_series(start, stop): a set-returning FROM item yielding one TIMESTAMP per day from `start`
    to `stop`, both included (both cast to TIMESTAMP; `stop` before `start` yields nothing). Use it
    after `cross join lateral` and name its column: `cross join lateral {{ day_series(a, b) }} as g(day)`.
#}
{% macro day_series(start, stop) -%}
    {{ return(adapter.dispatch('day_series', 'payments')(start, stop)) }}
{%- endmacro %}

{#- PostgreSQL: generate_series is itself a set-returning FROM item. -#}
{% macro default__day_series(start, stop) -%}
    generate_series(cast({{ start }} as timestamp), cast({{ stop }} as timestamp), interval '1 day')
{%- endmacro %}

{#- DuckDB: generate_series returns a list here; unnest turns it into rows. -#}
{% macro duckdb__day_series(start, stop) -%}
    unnest(generate_series(cast({{ start }} as timestamp), cast({{ stop }} as timestamp), interval '1 day'))
{%- endmacro %}
