-- Source rows for `events`; tests rewrite this table in their own copy of the database.
select range::bigint as user_id, timestamp '2099-01-01 10:00:00' as ts, 'A' as batch,
  range::bigint as value
from range(1, 1001)
