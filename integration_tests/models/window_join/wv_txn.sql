{#- Spark: window_join is not tested on the Spark engine yet (docs/windows.md). -#}
{{ config(enabled=target.type != 'spark') }}
select * from {{ ref('seed_window_events') }}
