-- The labels spine joined to user_stats by the package macro: the oracle for the replay's join.
select *
from ({{ skewless.point_in_time_join(spine=ref('labels'), spine_timestamp='label_ts', feature_views=[ref('user_stats')]) }})
