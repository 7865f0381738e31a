"""skewless: a feature store that lives inside a dbt project.

    from skewless import FeatureStore
    store = FeatureStore.from_dbt("path/to/dbt_project", redis_url="redis://localhost:6379/0")
    resp = store.get_online_features(["user_txn_stats.txn_count_30d"], entities=[{"user_id": 42}])

Submodules are imported lazily, so `import skewless` stays cheap and never imports dbt.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from skewless.errors import (
    DefinitionError,
    ExpressionError,
    ManifestError,
    NotMaterializedError,
    NotReproducible,
    OnlineStoreError,
    RequestError,
    SkewlessError,
    StaleFeatureError,
    UnknownFeatureError,
    UnsupportedExpression,
)

__version__ = "0.1.0"

__all__ = [
    "DefinitionError",
    "ExpressionError",
    "Feature",
    "FeatureLogConfig",
    "FeatureLogger",
    "FeatureStore",
    "FeatureView",
    "ManifestError",
    "NotMaterializedError",
    "NotReproducible",
    "OnlineResponse",
    "OnlineStoreError",
    "Registry",
    "RequestError",
    "SkewlessError",
    "StaleFeatureError",
    "UnknownFeatureError",
    "UnsupportedExpression",
    "check_expression",
    "check_training_record",
    "compile_expression",
    "compile_projections",
]

_LAZY = {
    "Feature": "skewless.definitions",
    "FeatureView": "skewless.definitions",
    "Registry": "skewless.registry",
    "FeatureStore": "skewless.online",
    "OnlineResponse": "skewless.online",
    "compile_expression": "skewless.expressions",
    "compile_projections": "skewless.expressions",
    "FeatureLogConfig": "skewless.feature_log",
    "FeatureLogger": "skewless.feature_log",
    "check_training_record": "skewless.training",
    "check_expression": "skewless.expressions",
}

if TYPE_CHECKING:
    from skewless.definitions import Feature, FeatureView
    from skewless.expressions import check_expression, compile_expression, compile_projections
    from skewless.feature_log import FeatureLogConfig, FeatureLogger
    from skewless.online import FeatureStore, OnlineResponse
    from skewless.registry import Registry
    from skewless.training import check_training_record


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'skewless' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
