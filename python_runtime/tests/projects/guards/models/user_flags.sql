select user_id, flag_ts, is_vip
from {{ ref('raw_user_flags') }}
