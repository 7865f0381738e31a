{#
    A training set holds no feature newer than its spine timestamp: returns the rows where any of
    `timestamp_columns` (as-of times carried into the training set, e.g. a view's `updated_at`
    exposed as a feature) is later than `spine_timestamp`, both compared as UTC instants.
#}
{% test no_future_values(model, spine_timestamp, timestamp_columns) %}
    {%- if spine_timestamp is not string or not spine_timestamp -%}
        {{ exceptions.raise_compiler_error("skewless.no_future_values on " ~ model ~ ": argument "
            ~ "`spine_timestamp` must name the training set's spine timestamp column") }}
    {%- endif -%}
    {%- set columns = [timestamp_columns] if timestamp_columns is string else timestamp_columns -%}
    {%- if columns is not iterable or columns | length == 0 -%}
        {{ exceptions.raise_compiler_error("skewless.no_future_values on " ~ model ~ ": argument "
            ~ "`timestamp_columns` must list the feature as-of columns to check, e.g. [user_updated_at]") }}
    {%- endif %}
select *
from {{ model }}
where
{%- for c in columns %}
    {{ 'or ' if not loop.first }}{{ skewless._pit_epoch(c) }} > {{ skewless._pit_epoch(spine_timestamp) }}
{%- endfor %}
{% endtest %}
