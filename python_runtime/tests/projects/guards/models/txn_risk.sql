-- A request-time (on-demand) view: evaluated online on the request payload plus user_stats.
select
    request_id,
    user_id,
    req_ts,
    cast(amount as double) / nullif(avg_amount, 0) as amount_to_avg,
    coalesce(country <> last_country, true) as foreign_country,
    case when amount >= 1000 then 'high' when amount >= 100 then 'mid' else 'low' end as amount_bucket,
    coalesce(txn_count, 0) + 1 as txn_count_next
from {{ skewless.request_inputs(request=ref('requests'), timestamp='req_ts', inputs=[{'view': ref('user_stats')}]) }}
