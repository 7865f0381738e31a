-- DuckDB only: `skewless.window_join` of the window view at every spine instant.
{{ config(enabled=(target.type == 'duckdb')) }}
select * from ({{ skewless.window_join(ref('spine'), 'req_at', [ref('user_windows')]) }}) as j
