-- Two integer keys whose naive concatenations collide: (1, 23) and (12, 3).
select * from (values
  (1::bigint, 23::bigint, timestamp '2099-01-01 10:00:00', 'one-twentythree'),
  (12::bigint, 3::bigint, timestamp '2099-01-01 10:00:00', 'twelve-three')
) as t(a, b, ts, label)
