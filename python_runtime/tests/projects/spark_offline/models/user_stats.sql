-- Every type Spark and the online store share, with extremes and NULLs. `ts` is naive
-- (TIMESTAMP_NTZ on Spark, TIMESTAMP on DuckDB: read as UTC), `last_seen` an instant (Spark's
-- TIMESTAMP, DuckDB's TIMESTAMPTZ). At noon on 2099-01-01, ttl 1d, available_after 10m:
--   user 1: an old row, the served row (10:00), a same-timestamp tie at 10:00 whose features are
--           smaller (amount), a row at 11:55 not yet available, a row after now;
--   user 2: a tie at 11:00 decided by the text feature (byte-wise: 'b' > 'B' > 'A');
--   user 3: only a row older than the ttl (not served);
--   user 4: extremes (bigint min/max, decimal(18,4) max, NaN, pre-1970 instants);
--   a row with a NULL key (never served).
{% set ntz = 'timestamp_ntz' if target.type == 'spark' else 'timestamp' %}
{% set ltz = 'timestamp' if target.type == 'spark' else 'timestamptz' %}
select cast(user_id as bigint) as user_id, cast(ts as {{ ntz }}) as ts,
  cast(amount as decimal(18,4)) as amount, cast(txn_count as bigint) as txn_count,
  cast(n as int) as n, cast(score as double) as score, cast(label as string) as label,
  cast(last_seen as {{ ltz }}) as last_seen, cast(first_day as date) as first_day,
  cast(flagged as boolean) as flagged
from (values
  ('1', '2098-12-31 13:00:00', '1.0000', '1', '1', '1.5', 'old', '2000-01-01 00:00:00+00:00', '2000-01-01', 'false'),
  ('1', '2099-01-01 10:00:00', '12345678901234.5678', '9223372036854775807', '2147483647', '0.1',
   '日本語 🚀 "q" }{: %7D', '2024-02-29 12:34:56.123456+05:30', '2024-02-29', 'true'),
  ('1', '2099-01-01 10:00:00', '12345678901234.5677', '9223372036854775807', '2147483647', '0.1',
   'zzz tie loser', '2024-02-29 12:34:56.123456+05:30', '2024-02-29', 'true'),
  ('1', '2099-01-01 11:55:00', '5.0', '5', '5', '5.0', 'not available yet', '2000-01-01 00:00:00+00:00', '2000-01-01', 'false'),
  ('1', '2099-01-02 00:00:00', '6.0', '6', '6', '6.0', 'future', '2000-01-01 00:00:00+00:00', '2000-01-01', 'false'),
  ('2', '2099-01-01 11:00:00', '-0.0001', '-1', '-1', '-2.5', 'B', null, null, null),
  ('2', '2099-01-01 11:00:00', '-0.0001', '-1', '-1', '-2.5', 'b', null, null, null),
  ('2', '2099-01-01 11:00:00', '-0.0001', '-1', '-1', '-2.5', 'A', null, null, null),
  ('3', '2098-12-30 00:00:00', '3.0', '3', '3', '3.0', 'expired', '2000-01-01 00:00:00+00:00', '2000-01-01', 'true'),
  ('4', '2099-01-01 11:30:00', '99999999999999.9999', '-9223372036854775808', '-2147483648', 'NaN', '',
   '1969-12-31 23:59:59.999999+00:00', '1970-01-01', 'false'),
  (null, '2099-01-01 11:00:00', '7.0', '7', '7', '7.0', 'null key', null, null, null)
) as t(user_id, ts, amount, txn_count, n, score, label, last_seen, first_day, flagged)
