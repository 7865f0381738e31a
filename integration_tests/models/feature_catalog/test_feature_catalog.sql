{# The catalog rows of a few views, compared with expected_feature_catalog. #}
select
    feature_view, column_name, feature, data_type, entity, timestamp_column, ttl,
    available_after, freshness, on_stale, has_default, default_value
from {{ ref('skewless_feature_catalog') }}
where feature_view in ('fv_user', 'fv_user_defaults', 'fv_pair', 'fv_user_delayed', 'fv_types_ok')
