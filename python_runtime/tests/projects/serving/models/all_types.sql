-- Every column type served online, with extremes, special floats, unicode and NULLs.
-- user 1 also has an older row and a row after the tests' `now` (neither may be served).
select * from (values
  (1::bigint, timestamp '2099-01-01 09:00:00', 0::bigint, 0::integer, 0::hugeint, 0::ubigint,
   0.0::double, 0.0::decimal(18,4), 'old row', false, date '2000-01-01',
   timestamp '2000-01-01 00:00:00', timestamptz '2000-01-01 00:00:00+00'),
  (1, timestamp '2099-01-01 10:00:00', 9223372036854775807, 2147483647,
   170141183460469231731687303715884105727::hugeint, 18446744073709551615::ubigint,
   'nan'::double, 12345678901234.5678::decimal(18,4), '日本語 🚀 "q" }{: %7D',
   true, date '2024-02-29', timestamp '2024-02-29 12:34:56.123456',
   timestamptz '2024-02-29 12:34:56.123456+05:30'),
  (1, timestamp '2099-01-02 00:00:00', 1, 1, 1, 1, 1.0, 1.0, 'future row', true,
   date '2000-01-01', timestamp '2000-01-01 00:00:00', timestamptz '2000-01-01 00:00:00+00'),
  (2, timestamp '2099-01-01 11:00:00', -9223372036854775808, -2147483648,
   -170141183460469231731687303715884105727::hugeint, 0::ubigint,
   'inf'::double, -0.0001::decimal(18,4), '', false, date '1970-01-01',
   timestamp '1970-01-01 00:00:00', timestamptz '1969-12-31 23:59:59.999999+00'),
  (3, timestamp '2099-01-01 11:30:00', null, null, null, null, '-inf'::double, null, null,
   null, null, null, null),
  (4, timestamp '2099-01-01 11:45:00', 42, -7, 42, 42, 0.1, 0.5::decimal(18,4), 'plain', true,
   date '1999-12-31', timestamp '1999-12-31 23:59:59', timestamptz '2099-01-01 00:00:00+00')
) as t(user_id, ts, i_big, i_int, i_huge, i_ubig, f_dbl, dec, s, b, d, t_naive, t_tz)
