"""The one exception tree of skewless.

Every error says what was wrong, where (model, column, field, key) and what to do next.
"""

from __future__ import annotations

__all__ = [
    "BrokenViewError",
    "ColumnTypeError",
    "DeadlineExceeded",
    "DefinitionError",
    "ExpressionError",
    "FeatureLogError",
    "GuardExpiredError",
    "LeaseHeldError",
    "LeaseLostError",
    "ManifestError",
    "NotCompiledError",
    "NotMaterializedError",
    "NotReproducible",
    "OnlineStoreError",
    "RequestError",
    "RequestLimitError",
    "SkewlessError",
    "StaleFeatureError",
    "StoreUnavailableError",
    "UnknownFeatureError",
    "UnsupportedExpression",
    "brief",
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


class NotCompiledError(DefinitionError):
    """A model has no compiled SQL in the manifest: dbt compiles only the models it selects
    (`dbt build -s x`, slim CI's `state:modified`), and a view's version and request-time SQL
    are read from its compiled SQL. `dbt compile` (the whole project) fixes it."""


class BrokenViewError(DefinitionError):
    """A feature of a view disabled by a problem in its definition (or in an input view it
    reads) was asked for. The other views of the project still serve; `skewless check` and
    `FeatureStore.problems` list every problem.

    Attributes:
        view: the disabled view.
        problem: why it is disabled (the message the definition's error carries).
    """

    def __init__(self, message: str, *, view: str = "", problem: str = ""):
        super().__init__(message)
        self.view = view
        self.problem = problem


class UnknownFeatureError(SkewlessError):
    """A feature reference (`<model>.<column>`) names no known feature."""


class NotMaterializedError(SkewlessError):
    """The current definition version of a view was never materialized into the online store."""


class RetiredVersionError(NotMaterializedError):
    """The requested definition version of a view was materialized, then retired because newer
    versions filled the view's `keep_versions` slots."""


class StaleFeatureError(SkewlessError):
    """A value is older than its view's freshness SLA and the view's `on_stale` is `reject`."""


class OnlineStoreError(SkewlessError):
    """Redis could not be reached, failed a command, or holds something the runtime cannot read.

    Every Redis failure on every path (connect, read, write, cluster; refused connections,
    timeouts, OOM, ACL refusals, a node down, a reset connection) is raised as this error, never
    as a redis-py or socket exception.

    Attributes:
        operation: what was being done (`serve`, `materialize`, `freshness`, …); may be empty.
        view: the feature view(s) involved, comma-separated; empty when there is none.
        url: the Redis URL, redacted (no password); may be empty.
    """

    def __init__(self, message: str, *, operation: str = "", view: str = "", url: str = ""):
        super().__init__(message)
        self.operation = operation
        self.view = view
        self.url = url


class DeadlineExceeded(OnlineStoreError):
    """A `get_online_features` call reached its deadline (`deadline_ms`) before Redis answered.

    Raised within the deadline (plus scheduling slack); the request is never re-sent past it.
    """


class LeaseHeldError(OnlineStoreError):
    """Another loader holds the lease of a feature view (one loader per view): raised at once,
    or after `wait` seconds. The message names the holder (host, pid, since when).

    Attributes:
        holder: the lease's record (`token`, `host`, `pid`, `started_at`), as stored.
    """

    def __init__(self, message: str, *, holder: dict[str, object] | None = None, **kw: str):
        super().__init__(message, **kw)
        self.holder = holder or {}


class LeaseLostError(OnlineStoreError):
    """A loader's lease expired or was taken over while it worked (a pause longer than the lease
    ttl): it stopped writing and neither flipped nor deleted anything of another loader."""


class GuardExpiredError(OnlineStoreError):
    """Keys of a load's unfinished generation vanished before its flip: the load outlived the
    unfinished-generation guard (`SKEWLESS_UNFINISHED_TTL`) or Redis evicted them. Nothing was
    flipped; the previous generation is still served."""


class StoreUnavailableError(OnlineStoreError):
    """Redis lost part of a served generation (a node restarted empty, a flushed database): the
    values asked for cannot be told apart from missing ones, so they are not served as such."""


class RequestError(SkewlessError):
    """A request (entities or request payload) is missing a field or has one of the wrong type."""


class RequestLimitError(RequestError):
    """A request is past a documented limit (entities or features per call, key length; see
    `docs/limits.md`): split the call or shorten the key."""


class FeatureLogConfigError(SkewlessError, ValueError):
    """A served-feature log configuration (`FeatureLogConfig`, `SKEWLESS_FEATURE_LOG*`) is
    invalid; a ValueError too, as it always was."""


class FeatureLogError(SkewlessError):
    """A served-feature log cannot be read (no log at the path), or one of its records is
    malformed - the reader skips such a record, counts it and names it (`SkippedRecord`)."""


class UnsupportedExpression(SkewlessError):
    """A request-time SQL construct cannot be evaluated in Python with DuckDB's exact semantics."""


class ExpressionError(SkewlessError):
    """Evaluating a request-time expression failed where DuckDB fails too (overflow, bad cast…)."""


class NotReproducible(ExpressionError):
    """DuckDB has a result here that Python cannot reproduce exactly - a value outside Python's
    datetime range, or a result DuckDB itself derives from memory past the string's end. A
    refusal, not a cast error: TRY_CAST raises it too (DuckDB's TRY_CAST is not NULL there)."""


#: Most characters of a user value shown in an error message (`brief`).
SHOWN_CHARS = 200


def brief(value: object, limit: int = SHOWN_CHARS) -> str:
    """`repr(value)` for an error message, at most about `limit` characters: a longer one is cut
    with an ellipsis and says its full size, so a 10 MB key never makes a 10 MB message. Never
    raises (an integer too long to print, a broken `__repr__`)."""
    try:
        if isinstance(value, (str, bytes, bytearray)):
            if len(value) <= limit:
                return repr(value)
            unit = "chars" if isinstance(value, str) else "bytes"
            return f"{repr(value[:limit])[:limit]}… ({len(value):,} {unit})"
        if (
            isinstance(value, int)
            and not isinstance(value, bool)
            and value.bit_length() > 3 * limit
        ):
            digits = int(value.bit_length() * 0.30103) + 1
            return f"<an integer of about {digits:,} digits>"
        import reprlib

        short = reprlib.Repr()
        short.maxstring = short.maxother = short.maxlong = limit
        short.maxlevel = 3
        text = short.repr(value)
    except Exception:
        return f"<a {type(value).__name__} that cannot be shown>"
    if len(text) > limit:
        return f"{text[:limit]}… ({len(text):,} chars)"
    return text
