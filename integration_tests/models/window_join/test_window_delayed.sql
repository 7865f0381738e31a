{#- point_in_time_join delegates window views to window_join: q - 1h < txn_ts <= q - 30m -#}
select * from ({{ skewless.point_in_time_join(ref('seed_window_spine'), 'spine_at', [ref('wv_txn_delayed')]) }}) as w
