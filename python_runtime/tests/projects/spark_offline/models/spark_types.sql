-- Spark only: columns declared in Spark's own spellings (int, string, timestamp_ntz, timestamp).
{{ config(enabled=(target.type == 'spark')) }}
select cast(k as int) as k, cast(ts as timestamp) as ts, cast(n as int) as n,
  cast(s as string) as s, cast(t as timestamp_ntz) as t
from (values ('7', '2099-01-01 10:00:00', '42', 'spark', '2099-01-01 09:00:00.000001')) as v(k, ts, n, s, t)
