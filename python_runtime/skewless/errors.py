"""The one exception tree of skewless.

Every error says what was wrong, where (model, column, field, key) and what to do next.
"""

from __future__ import annotations

__all__ = [
    "ColumnTypeError",
    "DefinitionError",
    "ExpressionError",
    "ManifestError",
    "NotMaterializedError",
    "NotReproducible",
    "OnlineStoreError",
    "RequestError",
    "SkewlessError",
    "StaleFeatureError",
    "UnknownFeatureError",
    "UnsupportedExpression",
]


class SkewlessError(Exception):
    """Root of every error skewless raises on purpose."""


class ManifestError(SkewlessError):
    """`target/manifest.json` is missing, unreadable or lacks what the runtime needs."""


class DefinitionError(SkewlessError):
    """A feature view's `meta.skewless` (or its columns) is invalid."""


class ColumnTypeError(DefinitionError):
    """A column's declared `data_type` does not match the type dbt built (checked by
    `materialize` before it writes anything), or a column `default` does not fit it (checked
    when definitions load)."""


class UnknownFeatureError(SkewlessError):
    """A feature reference (`<model>.<column>`) names no known feature."""


class NotMaterializedError(SkewlessError):
    """The current definition version of a view was never materialized into the online store."""


class StaleFeatureError(SkewlessError):
    """A value is older than its view's freshness SLA and the view's `on_stale` is `reject`."""


class OnlineStoreError(SkewlessError):
    """Redis could not be reached or holds something the runtime cannot read."""


class RequestError(SkewlessError):
    """A request (entities or request payload) is missing a field or has one of the wrong type."""


class UnsupportedExpression(SkewlessError):
    """A request-time SQL construct cannot be evaluated in Python with DuckDB's exact semantics."""


class ExpressionError(SkewlessError):
    """Evaluating a request-time expression failed where DuckDB fails too (overflow, bad cast…)."""


class NotReproducible(ExpressionError):
    """DuckDB has a result here that Python cannot reproduce exactly - a value outside Python's
    datetime range, or a result DuckDB itself derives from memory past the string's end. A
    refusal, not a cast error: TRY_CAST raises it too (DuckDB's TRY_CAST is not NULL there)."""
