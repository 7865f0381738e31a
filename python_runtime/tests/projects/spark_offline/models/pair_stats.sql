-- A two-column key (text, bigint) whose naive concatenations collide, and key text holding the
-- key syntax's delimiters; ts is an instant.
{% set ltz = 'timestamp' if target.type == 'spark' else 'timestamptz' %}
select cast(k as string) as k, cast(n as bigint) as n, cast(ts as {{ ltz }}) as ts,
  cast(echo as string) as echo
from (values
  ('1', '23', '2099-01-01 10:00:00+00:00', 'one-twentythree'),
  ('12', '3', '2099-01-01 10:00:00+00:00', 'twelve-three'),
  ('a}b:%', '1', '2099-01-01 10:00:00+00:00', 'delimiters')
) as t(k, n, ts, echo)
