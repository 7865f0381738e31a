-- A two-column key (text, bigint) whose naive concatenations collide, and key text holding the
-- key syntax's delimiters; ts is timestamptz.
select * from (values
  ('1'::text, 23::bigint, timestamptz '2099-01-01 10:00:00+00', 'one-twentythree'::text),
  ('12', 3, timestamptz '2099-01-01 10:00:00+00', 'twelve-three'),
  ('a}b:%', 1, timestamptz '2099-01-01 10:00:00+00', 'delimiters')
) as t(k, n, ts, echo)
