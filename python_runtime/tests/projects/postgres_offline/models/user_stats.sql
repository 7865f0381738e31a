-- Every type PostgreSQL and the online store share, with extremes and NULLs. `ts` is a naive
-- timestamp (read as UTC whatever the session time zone). At noon on 2099-01-01, ttl 1d,
-- available_after 10m:
--   user 1: an old row, the served row (10:00), a same-timestamp tie at 10:00 whose features are
--           smaller (amount), a row at 11:55 not yet available, a row after now;
--   user 2: a tie at 11:00 decided by the text feature (byte-wise: 'b' > 'B' > 'A');
--   user 3: only a row older than the ttl (not served);
--   user 4: extremes (bigint min/max, numeric(18,4) max, NaN, pre-1970 instants);
--   a row with a NULL key (never served).
-- The outer casts fix each column's type (PostgreSQL types a VALUES column by its literals).
select cast(user_id as bigint) as user_id, cast(ts as timestamp) as ts,
  cast(amount as numeric(18,4)) as amount, cast(txn_count as bigint) as txn_count,
  cast(score as double precision) as score, cast(label as text) as label,
  cast(last_seen as timestamptz) as last_seen, cast(first_day as date) as first_day,
  cast(flagged as boolean) as flagged
from (values
  (1::bigint, timestamp '2098-12-31 13:00:00', 1.0000::numeric(18,4), 1::bigint, 1.5::double precision,
   'old'::text, timestamptz '2000-01-01 00:00:00+00', date '2000-01-01', false),
  (1, timestamp '2099-01-01 10:00:00', 12345678901234.5678::numeric(18,4), 9223372036854775807,
   0.1, '日本語 🚀 "q" }{: %7D', timestamptz '2024-02-29 12:34:56.123456+05:30', date '2024-02-29', true),
  (1, timestamp '2099-01-01 10:00:00', 12345678901234.5677::numeric(18,4), 9223372036854775807,
   0.1, 'zzz tie loser', timestamptz '2024-02-29 12:34:56.123456+05:30', date '2024-02-29', true),
  (1, timestamp '2099-01-01 11:55:00', 5.0::numeric(18,4), 5, 5.0, 'not available yet',
   timestamptz '2000-01-01 00:00:00+00', date '2000-01-01', false),
  (1, timestamp '2099-01-02 00:00:00', 6.0::numeric(18,4), 6, 6.0, 'future',
   timestamptz '2000-01-01 00:00:00+00', date '2000-01-01', false),
  (2, timestamp '2099-01-01 11:00:00', -0.0001::numeric(18,4), -1, -2.5, 'B',
   null, null, null),
  (2, timestamp '2099-01-01 11:00:00', -0.0001::numeric(18,4), -1, -2.5, 'b',
   null, null, null),
  (2, timestamp '2099-01-01 11:00:00', -0.0001::numeric(18,4), -1, -2.5, 'A',
   null, null, null),
  (3, timestamp '2098-12-30 00:00:00', 3.0::numeric(18,4), 3, 3.0, 'expired',
   timestamptz '2000-01-01 00:00:00+00', date '2000-01-01', true),
  (4, timestamp '2099-01-01 11:30:00', 99999999999999.9999::numeric(18,4), -9223372036854775808,
   cast('NaN' as double precision), '', timestamptz '1969-12-31 23:59:59.999999+00', date '1970-01-01', false),
  (null, timestamp '2099-01-01 11:00:00', 7.0::numeric(18,4), 7, 7.0, 'null key',
   null, null, null)
) as t(user_id, ts, amount, txn_count, score, label, last_seen, first_day, flagged)
