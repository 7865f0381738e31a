"""What the features are: the dbt manifest read into frozen feature-view definitions.

`views` (the definitions), `manifest` (the tolerant reader), `registry` (lookup by name),
`durations`, and `ondemand` (request-time views wired to their compiled SQL).
"""

from skewless.definitions.views import ON_STALE_POLICIES, Feature, FeatureView, HasFeatures

__all__ = ["ON_STALE_POLICIES", "Feature", "FeatureView", "HasFeatures"]
