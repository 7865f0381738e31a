select user_id, risk_ts, risk_score
from {{ ref('raw_user_risk') }}
