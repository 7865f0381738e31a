select * from {{ ref('seed_window_events') }}
