-- user 1 is 2h old at 2099-01-01 12:00 (past the 1h SLA), user 2 is 30 min old (fresh).
select * from (values
  (1::bigint, timestamp '2099-01-01 10:00:00', 1.5::double, 'one'),
  (2::bigint, timestamp '2099-01-01 11:30:00', 2.5::double, 'two')
) as t(user_id, ts, score, label)
