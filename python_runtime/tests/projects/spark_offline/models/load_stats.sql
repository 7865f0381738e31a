-- 20,000 rows, 2,000 entities (bounded batches, the executors' write): the latest row of
-- entity e is i = 18000 + e (e >= 1) or 20000 (e = 0); v = 3i, d = i / 4.
{% if target.type == 'spark' %}
select cast(id % 2000 as bigint) as user_id, timestamp_seconds(4070908800 + id) as ts,
  cast(id as bigint) * 3 as v, cast(id as double) / 4 as d
from range(1, 20001)
{% else %}
select cast(range % 2000 as bigint) as user_id, to_timestamp(4070908800 + range) as ts,
  cast(range as bigint) * 3 as v, cast(range as double) / 4 as d
from range(1, 20001)
{% endif %}
