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
    BrokenViewError,
    ColumnTypeError,
    DeadlineExceeded,
    DefinitionError,
    ExpressionError,
    ManifestError,
    NotCompiledError,
    NotMaterializedError,
    NotReproducible,
    OnlineStoreError,
    RequestError,
    RetiredVersionError,
    SkewlessError,
    StaleFeatureError,
    UnknownFeatureError,
    UnsupportedExpression,
)

__version__ = "0.1.0"

__all__ = [
    "AsyncFeatureStore",
    "BrokenViewError",
    "ColumnTypeError",
    "DeadlineExceeded",
    "DefinitionError",
    "ExpressionError",
    "Feature",
    "FeatureLogConfig",
    "FeatureLogger",
    "FeatureStore",
    "FeatureView",
    "ManifestError",
    "NotCompiledError",
    "NotMaterializedError",
    "NotReproducible",
    "OnlineResponse",
    "OnlineStoreError",
    "Registry",
    "RequestError",
    "RetiredVersionError",
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
    "Registry": "skewless.definitions.registry",
    "FeatureStore": "skewless.online.store",
    "AsyncFeatureStore": "skewless.online.async_store",
    "OnlineResponse": "skewless.online.store",
    "compile_expression": "skewless.sql",
    "compile_projections": "skewless.sql",
    "FeatureLogConfig": "skewless.guards.feature_log",
    "FeatureLogger": "skewless.guards.feature_log",
    "check_training_record": "skewless.guards.training",
    "check_expression": "skewless.sql",
}

if TYPE_CHECKING:
    from skewless.definitions import Feature, FeatureView
    from skewless.definitions.registry import Registry
    from skewless.guards.feature_log import FeatureLogConfig, FeatureLogger
    from skewless.guards.training import check_training_record
    from skewless.online.async_store import AsyncFeatureStore
    from skewless.online.store import FeatureStore, OnlineResponse
    from skewless.sql import check_expression, compile_expression, compile_projections


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'skewless' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
