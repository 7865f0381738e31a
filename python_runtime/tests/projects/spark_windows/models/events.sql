-- One row per event. `event_ts` is naive (TIMESTAMP_NTZ on Spark, TIMESTAMP on DuckDB: read as
-- UTC), `settled_at` an instant (Spark's TIMESTAMP, DuckDB's TIMESTAMPTZ). The test loads at
-- t0 = 2099-01-08 12:00:00 with windows 1h, 1d, 7d and horizon 1d: the 1h and 1d timelines
-- are whole (until their last event leaves), 7d's stops at t0 + 1d: its lower edge passes the
-- events of [t0 - 7d - 5m, t0 - 6d], and those between t0 - 6d and t0 - 5m are folded into the
-- part every partial of its timeline shares (online/windows.py).
--   user 1: an event on every edge of that split and of the windows at the request instants
--           (t0 - 7d - 5m: the oldest loaded, and 1us before it: not loaded; t0 - 7d; t0 - 6d
--           and t0 - 6d + 1us; t0 - 1d; t0 - 1h and 1us after; t0 - 5m and 1us before; t0;
--           after t0; t0 + 1d; after t0 + 1d), NULL values among them;
--   user 2: a three-way tie at t0 - 10m (`last` takes the greatest value: 'b' > 'B' > 'A'
--           byte-wise), a later event whose every value is NULL, unicode text, a pre-1970
--           instant; plus an event with a NULL user and one with a NULL time (never counted);
--   user 3: only events older than every window (no record: counts 0, the rest NULL);
--   user 4: NaN and -inf amounts, two of them in the folded middle;
--   user 5: only events in the folded middle, DECIMAL(18,4) maxima (their sum needs 38 digits);
--   user 9007199254740993 (2^53 + 1): a key a double would round.
{% set ntz = 'timestamp_ntz' if target.type == 'spark' else 'timestamp' %}
{% set ltz = 'timestamp' if target.type == 'spark' else 'timestamptz' %}
select cast(event_id as string) as event_id, cast(user_id as bigint) as user_id,
  cast(event_ts as {{ ntz }}) as event_ts, cast(amount as double) as amount,
  cast(fee as decimal(18,4)) as fee, cast(merchant as string) as merchant,
  cast(settled_at as {{ ltz }}) as settled_at
from (values
  ('e01', '1', '2099-01-01 11:55:00', '100.0', '100.0000', 'oldest loaded', '2099-01-01 11:55:00+00:00'),
  ('e02', '1', '2099-01-01 11:54:59.999999', '200.0', '200.0000', 'not loaded', '2099-01-01 11:55:00+00:00'),
  ('e03', '1', '2099-01-01 12:00:00', '1.25', '0.0001', 'm7d', '2099-01-01 12:00:00+00:00'),
  ('e04', '1', '2099-01-02 12:00:00', '2.5', '2.5000', 'm6d', '2099-01-02 12:00:00+00:00'),
  ('e05', '1', '2099-01-02 12:00:00.000001', '3.0', '3.0000', 'mB', '2099-01-02 17:30:00.000001+05:30'),
  ('e06', '1', '2099-01-07 12:00:00', '4.0', '4.4444', 'm1d', null),
  ('e07', '1', '2099-01-08 11:00:00', '5.0', '5.0000', 'm1h', '2099-01-08 11:00:00+00:00'),
  ('e08', '1', '2099-01-08 11:00:00.000001', '6.0', '6.0000', 'm1h+', '2099-01-08 11:00:00.000001+00:00'),
  ('e09', '1', '2099-01-08 11:54:59.999999', '7.0', '7.0000', 'mC-', '2099-01-08 11:54:59.999999+00:00'),
  ('e10', '1', '2099-01-08 11:55:00', '8.0', '8.0000', 'mC', '2099-01-08 06:55:00-05:00'),
  ('e11', '1', '2099-01-08 12:00:00', '9.0', '9.0000', 'm0', '2099-01-08 12:00:00+00:00'),
  ('e12', '1', '2099-01-08 12:30:00', null, '1.0000', 'm30', '2099-01-08 12:30:00+00:00'),
  ('e13', '1', '2099-01-09 12:00:00', '10.0', null, null, '2099-01-09 12:00:00+00:00'),
  ('e14', '1', '2099-01-09 13:00:00', '11.0', '11.0000', 'late', '2099-01-09 13:00:00+00:00'),
  ('e20', '2', '2099-01-08 11:50:00', '7.5', '3.3333', 'b', '2099-01-08 17:20:00+05:30'),
  ('e21', '2', '2099-01-08 11:50:00', '2.5', '9.9999', 'B', '2099-01-08 11:50:00.000001+00:00'),
  ('e22', '2', '2099-01-08 11:50:00', '2.5', '9.9999', 'A', null),
  ('e23', '2', '2099-01-08 11:58:00', null, null, null, null),
  ('e24', '2', '2099-01-06 12:00:00', '-3.25', '-0.0001', '日本語 🚀 "q"', '1969-12-31 23:59:59.999999+00:00'),
  ('e25', null, '2099-01-08 11:59:00', '1000.0', '1000.0000', 'null user', '2099-01-08 11:59:00+00:00'),
  ('e26', '2', null, '1000.0', '1000.0000', 'null time', '2099-01-08 11:59:00+00:00'),
  ('e30', '3', '2098-12-01 00:00:00', '1.0', '1.0000', 'ancient', '2098-12-01 00:00:00+00:00'),
  ('e31', '3', '2098-12-31 12:00:00', '2.0', '2.0000', 'old', '2098-12-31 12:00:00+00:00'),
  ('e40', '4', '2099-01-08 11:40:00', 'NaN', '0.5000', 'nan', '2099-01-08 11:40:00+00:00'),
  ('e41', '4', '2099-01-05 12:00:00', '1.5', '1.5000', 'x', '2099-01-05 12:00:00+00:00'),
  ('e42', '4', '2099-01-04 12:00:00', '-Infinity', '-1.0000', 'x', '2099-01-04 12:00:00+00:00'),
  ('e50', '5', '2099-01-05 00:00:00', '0.1', '99999999999999.9999', 'x', '2099-01-05 00:00:00+00:00'),
  ('e51', '5', '2099-01-03 00:00:00', '0.2', '99999999999999.9999', 'y', '2099-01-03 00:00:00+00:00'),
  ('e60', '9007199254740993', '2099-01-08 11:30:00', '42.0', '0.4200', 'big key', '2099-01-08 11:30:00+00:00')
) as t(event_id, user_id, event_ts, amount, fee, merchant, settled_at)
