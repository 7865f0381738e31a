{#
    Spark: dbt-spark's session seed loader pastes each value between quotes without escaping it
    (a quote or a backslash in a seed breaks the INSERT or changes the value), writes an empty
    cell as the text 'None' and cuts timestamps to milliseconds. The integration seeds hold all
    three (`say "hi"`, `o'neil`, `a:b;c\d`, NULL text, 2024-01-03 00:00:00.000001), so on Spark
    this project loads its seeds with escaped literals instead (dbt looks for overrides of its
    own macros in the root project first). Values are cast to the seed's column types as before.
#}
{% macro spark__load_csv_rows(model, agate_table) %}
    {%- set batch_size = get_batch_size() -%}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set types = [] -%}
    {%- for col_name in agate_table.column_names -%}
        {%- do types.append(column_override.get(col_name, adapter.convert_type(agate_table, loop.index0))) -%}
    {%- endfor -%}
    {%- set statements = [] -%}
    {%- for chunk in agate_table.rows | batch(batch_size) -%}
        {%- set sql -%}
insert into {{ this.render() }} values
{%- for row in chunk %}
    ({% for value in row -%}
        {%- if value is none -%}
            cast(null as {{ types[loop.index0] }})
        {%- else -%}
            cast({{ skewless._sql_string_literal(value | string) }} as {{ types[loop.index0] }})
        {%- endif -%}
        {{ ', ' if not loop.last }}
    {%- endfor %}){{ ',' if not loop.last }}
{%- endfor %}
        {%- endset -%}
        {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
        {%- if loop.first -%}
            {%- do statements.append(sql) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(statements[0] if statements else '') }}
{% endmacro %}
