-- 100,000 rows, 20,000 entities: the load the test measures (rows/s).
select
  cast(i % 20000 as bigint) as user_id,
  timestamp '2099-01-01 00:00:00' + i * interval '1 second' as ts,
  cast(i as bigint) * 3 as v,
  cast(i as double precision) / 4 as d
from generate_series(1, 100000) as g(i)
