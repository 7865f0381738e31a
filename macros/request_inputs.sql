{#
    request_inputs(request, timestamp, inputs, strict=false)

    The FROM clause of a request-time (on-demand) feature view: the historical requests joined
    point-in-time to the input feature views, aliased `inputs`. The model's SELECT list over it is
    the definition that the Python runtime evaluates online on the request payload plus the
    looked-up input features, with DuckDB's semantics.

        select amount / nullif(amount_avg_30d, 0) as amount_to_avg_ratio
        from {{ skewless.request_inputs(request=ref('transactions'), timestamp='txn_ts',
                                        inputs=[ref('user_txn_stats')]) }}

    `inputs` takes the same forms as point_in_time_join's `feature_views` (a ref, or a dict with
    `view`, `keys` and `prefix`). The compiled SQL carries a `/* skewless:request_inputs {json} */`
    marker that tells the runtime which views feed which input columns.
#}
{% macro request_inputs(request, timestamp, inputs, strict=false) %}
    {{ return(adapter.dispatch('request_inputs', 'skewless')(request, timestamp, inputs, strict)) }}
{% endmacro %}

{% macro default__request_inputs(request, timestamp, inputs, strict=false) %}
    {%- if request is none or request is string and request | trim == '' -%}
        {{ exceptions.raise_compiler_error("skewless.request_inputs: argument `request` is required: the relation of historical requests, e.g. ref('transactions')") }}
    {%- endif -%}
    {%- if timestamp is not string or timestamp | trim == '' -%}
        {{ exceptions.raise_compiler_error("skewless.request_inputs: argument `timestamp` must name the request's timestamp column, e.g. 'txn_ts'") }}
    {%- endif -%}
    {%- if inputs is string or inputs.identifier is defined or inputs is mapping or inputs is not iterable or inputs | length == 0 -%}
        {{ exceptions.raise_compiler_error("skewless.request_inputs: argument `inputs` must be a non-empty list of feature views, e.g. [ref('user_txn_stats')]") }}
    {%- endif -%}
    {%- set spec = {'request': (request.identifier if request is not string else request), 'timestamp': timestamp, 'strict': strict, 'inputs': []} -%}
    {%- for item in inputs -%}
        {%- if item.identifier is not defined and item is mapping -%}
            {%- do spec['inputs'].append({'view': item['view'].identifier, 'keys': item.get('keys', {}), 'prefix': item.get('prefix', '')}) -%}
        {%- else -%}
            {%- do spec['inputs'].append({'view': item.identifier, 'keys': {}, 'prefix': ''}) -%}
        {%- endif -%}
    {%- endfor -%}
(
    /* skewless:request_inputs {{ tojson(spec) }} */
    {{ skewless.point_in_time_join(spine=request, spine_timestamp=timestamp, feature_views=inputs, strict=strict) }}
) as inputs
{%- endmacro %}
