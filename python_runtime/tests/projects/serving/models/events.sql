{{ config(materialized='view') }}
select user_id, ts, batch, value from {{ ref('raw_events') }}
