-- DuckDB only (the offline oracle): every user at every request instant the test reads online —
-- t0 = 2099-01-08 12:00:00, t0 - 5m (the first exact instant) and 1us before it (refused), t0 +
-- 1us, + 30m, + 1h, + 6h, + 1d (the horizon's end) and 1us after it (refused: 7d is folded).
{{ config(enabled=(target.type == 'duckdb')) }}
select cast(u.user_id as bigint) as user_id, cast(q.req_at as timestamp) as req_at
from (values ('1'), ('2'), ('3'), ('4'), ('5'), ('6'), ('9007199254740993')) as u(user_id)
cross join (values
  ('2099-01-08 12:00:00'), ('2099-01-08 11:55:00'), ('2099-01-08 11:54:59.999999'),
  ('2099-01-08 12:00:00.000001'), ('2099-01-08 12:30:00'), ('2099-01-08 13:00:00'),
  ('2099-01-08 18:00:00'), ('2099-01-09 12:00:00'), ('2099-01-09 12:00:00.000001')
) as q(req_at)
