-- A training set over user_stats (the record lists the views upstream of it): one row per
-- labelled event, spine timestamp `event_ts` (timestamptz: the naive ts read as UTC, whatever
-- the build session's time zone).
select s.user_id, s.ts at time zone 'UTC' as event_ts, s.amount, s.label
from {{ ref('user_stats') }} s
where s.user_id is not null
