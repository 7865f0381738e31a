{# The catalog with fv_user.score dropped, fv_user.tier twice and a feature nobody declared. #}
select feature_view, column_name
from {{ ref('skewless_feature_catalog') }}
where not (feature_view = 'fv_user' and column_name = 'score')
union all
select feature_view, column_name
from {{ ref('skewless_feature_catalog') }}
where feature_view = 'fv_user' and column_name = 'tier'
union all
select cast('fv_ghost' as {{ dbt.type_string() }}), cast('ghost' as {{ dbt.type_string() }})
