{#- the window contract: q - W < txn_ts <= q; null keys / times give 0 counts and null aggregates -#}
select * from ({{ skewless.window_join(ref('seed_window_spine'), 'spine_at', [ref('wv_txn')]) }}) as w
