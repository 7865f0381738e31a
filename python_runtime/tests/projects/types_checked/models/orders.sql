-- raw order lines (not a feature view)
select * from (values
  (1::bigint, timestamp '2099-01-01 09:00:00', 2::integer, 1.5::double, 'DE'),
  (1, timestamp '2099-01-01 10:00:00', 3, 2.5, 'DE'),
  (2, timestamp '2099-01-01 10:00:00', 5, 4.0, 'FR')
) as t(user_id, ts, qty, price, country)
