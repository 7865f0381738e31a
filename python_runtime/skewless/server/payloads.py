"""The JSON shapes of `POST /get-online-features`: reading a request (the native shape or Feast's)
and writing the response, with the error each bad field gets.

Native request (one dict per entity, row-wise)::

    {"features": ["user_txn_stats.txn_count_30d"], "entities": [{"user_id": 42}],
     "request": [{"amount_usd": "120.00"}], "now": "2026-01-02T12:00:00Z", "deadline_ms": 250}

Native response (per entity, lists aligned with `features`)::

    {"features": [...], "versions": {"user_txn_stats": "3f2a…"}, "served_at": "…Z",
     "results": [{"values": [17], "statuses": ["present"], "reasons": [null],
                  "age_seconds": [5400.0]}]}

Feast's request (`entities` column-wise; `view:feature` or `view.feature`)::

    {"features": ["user_txn_stats:txn_count_30d"], "entities": {"user_id": [42, 43]},
     "full_feature_names": false, "request_context": {"amount_usd": ["1.00", "2.00"]}}

answered in Feast's response shape (one column per entity key, then per feature) with the
skewless status, reason and age of each value alongside Feast's status. docs/server.md has both.

Values: numbers and text as JSON numbers and strings; DECIMAL as a string (exact); DATE,
TIMESTAMP and TIME as ISO 8601 text; INTERVAL as seconds; NaN and ±infinity as the strings
"NaN", "Infinity", "-Infinity" (as `skewless get --json` prints them); BLOB as hex.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import orjson

from skewless.errors import RequestError, brief

__all__ = ["FeatureCall", "dumps", "encode_feast", "encode_native", "parse_call"]

_NATIVE_FIELDS = frozenset({"features", "entities", "request", "now", "deadline_ms"})
_FEAST_FIELDS = frozenset(
    {"features", "entities", "full_feature_names", "request_context", "now", "deadline_ms"}
)
#: skewless status → Feast's `FieldStatus`, by the value's reason (see docs/server.md)
_FEAST_STATUS = {
    None: "PRESENT",
    "missing": "NOT_FOUND",
    "expired": "OUTSIDE_MAX_AGE",
    "stale": "OUTSIDE_MAX_AGE",
    "unavailable": "NOT_FOUND",
}
_EPOCH_TEXT = "1970-01-01T00:00:00Z"


class FeatureCall:
    """A parsed `/get-online-features` body."""

    __slots__ = ("deadline_ms", "entities", "feast", "features", "full_names", "now", "request")

    def __init__(
        self,
        features: list[str],
        entities: list[dict[str, Any]],
        request: Any,
        now: datetime | None,
        deadline_ms: float | None,
        feast: bool,
        full_names: bool = False,
    ):
        self.features = features
        self.entities = entities
        self.request = request
        self.now = now
        self.deadline_ms = deadline_ms
        self.feast = feast
        self.full_names = full_names


def _fail(field: str, message: str) -> RequestError:
    return RequestError(f"`{field}`: {message}")


def parse_now(value: Any, field: str = "now") -> datetime | None:
    """ISO 8601 text → a datetime (naive means UTC); None stays None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise _fail(field, f"give an ISO 8601 timestamp text, got {brief(value)}")
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise _fail(
            field, f"{brief(value)} is not an ISO 8601 timestamp, e.g. 2026-01-02T12:00:00Z"
        ) from None
    return at if at.tzinfo is not None else at.replace(tzinfo=timezone.utc)


def _deadline(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail("deadline_ms", f"give a number of milliseconds > 0, got {brief(value)}")
    return float(value)


def parse_call(data: Any) -> FeatureCall:
    """A decoded JSON body → the call, in either shape.

    Raises:
        RequestError: naming the field that is missing, unknown or of the wrong shape.
    """
    if not isinstance(data, dict):
        raise RequestError(
            f"the body must be a JSON object with `features` and `entities`, got {brief(data)}"
        )
    features = data.get("features")
    if not isinstance(features, list):
        raise _fail("features", f"give a list of `<model>.<column>` strings, got {brief(features)}")
    entities = data.get("entities")
    feast = isinstance(entities, dict)
    allowed = _FEAST_FIELDS if feast else _NATIVE_FIELDS
    for name in data:
        if name not in allowed:
            shape = "Feast's shape (entities column-wise)" if feast else "the native shape"
            raise _fail(
                brief(name)[1:-1],
                f"unknown field in {shape}; allowed: {', '.join(sorted(allowed))}",
            )
    now = parse_now(data.get("now"))
    deadline_ms = _deadline(data.get("deadline_ms"))
    if feast:
        return _parse_feast(data, features, entities, now, deadline_ms)  # type: ignore[arg-type]
    if not isinstance(entities, list):
        raise _fail(
            "entities",
            'give a list of dicts (`[{"user_id": 42}]`) or, Feast\'s shape, a dict of '
            f'columns (`{{"user_id": [42]}}`); got {brief(entities)}',
        )
    for i, e in enumerate(entities):
        if not isinstance(e, dict):
            raise _fail(f"entities[{i}]", f"give a dict of key values, got {brief(e)}")
    request = data.get("request")
    if request is not None and not isinstance(request, (list, dict)):
        raise _fail("request", f"give a list of dicts (one per entity), got {brief(request)}")
    return FeatureCall(features, entities, request, now, deadline_ms, False)


def _columns(value: Any, field: str) -> tuple[list[str], list[list[Any]], int]:
    if not isinstance(value, dict):
        raise _fail(field, f"give a dict of columns (name → list of values), got {brief(value)}")
    names = list(value)
    cols = []
    n = -1
    for name in names:
        col = value[name]
        if not isinstance(col, list):
            raise _fail(f"{field}.{name}", f"give a list of values, got {brief(col)}")
        if n >= 0 and len(col) != n:
            raise _fail(
                f"{field}.{name}",
                f"has {len(col)} values where `{field}.{names[0]}` has {n}; give one per entity",
            )
        n = len(col)
        cols.append(col)
    return names, cols, max(n, 0)


def _parse_feast(
    data: dict[str, Any],
    features: list[Any],
    entities: dict[str, Any],
    now: datetime | None,
    deadline_ms: float | None,
) -> FeatureCall:
    refs = []
    for i, ref in enumerate(features):
        if not isinstance(ref, str):
            raise _fail(f"features[{i}]", f"give a `view:feature` string, got {brief(ref)}")
        view, colon, name = ref.partition(":")
        refs.append(f"{view}.{name}" if colon else ref)
    names, cols, n = _columns(entities, "entities")
    if not names:
        raise _fail("entities", "give at least one entity key column")
    rows = [{name: col[i] for name, col in zip(names, cols, strict=True)} for i in range(n)]
    full = data.get("full_feature_names", False)
    if not isinstance(full, bool):
        raise _fail("full_feature_names", f"give true or false, got {brief(full)}")
    context = data.get("request_context")
    request: list[dict[str, Any]] | None = None
    if context is not None:
        cnames, ccols, cn = _columns(context, "request_context")
        if cnames and cn != n:
            raise _fail("request_context", f"has {cn} rows where `entities` has {n}")
        request = [
            {**rows[i], **{c: col[i] for c, col in zip(cnames, ccols, strict=True)}}
            for i in range(n)
        ]
    else:
        # Feast sends request-time fields among the entity columns
        request = rows
    return FeatureCall(refs, rows, request, now, deadline_ms, True, full)


# --- responses ---------------------------------------------------------------------------------


def _special(value: Any) -> Any:
    """A value orjson would not write as skewless promises (see the module docstring)."""
    cls = value.__class__
    if cls is float:
        if math.isfinite(value):
            return value
        if math.isnan(value):
            return "NaN"
        return "Infinity" if value > 0 else "-Infinity"
    if cls is Decimal:
        return str(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_special(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _special(v) for k, v in value.items()}
    return value


def _clean(row: list[Any]) -> list[Any]:
    """`row`, with the values JSON cannot carry as is replaced (a copy only when needed)."""
    out = row
    for i, v in enumerate(row):
        cls = v.__class__
        if cls is str or cls is int or v is None or cls is bool:
            continue
        if cls is float:
            if v - v == 0.0:  # finite
                continue
        elif cls is datetime or cls is date:
            continue
        if out is row:
            out = list(row)
        out[i] = _special(v)
    return out


def _fallback(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    raise TypeError


def dumps(payload: Any) -> bytes:
    """JSON bytes; integers past 64 bits (HUGEINT) go through the standard library."""
    try:
        return orjson.dumps(payload, default=_fallback)
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(
            _special(payload), ensure_ascii=False, allow_nan=False, separators=(",", ":")
        ).encode()


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _per_value(response: Any) -> tuple[list[list[str]], list[list[str | None]], list[list[Any]]]:
    return response.details()  # type: ignore[no-any-return]


def encode_native(response: Any) -> tuple[dict[str, Any], list[list[str]]]:
    """The native response of an `OnlineResponse` (and its statuses, for the metrics)."""
    statuses, reasons, ages = _per_value(response)
    results = [
        {"values": _clean(v), "statuses": s, "reasons": r, "age_seconds": a}
        for v, s, r, a in zip(response.values, statuses, reasons, ages, strict=True)
    ]
    body = {
        "features": list(response.features),
        "versions": response.versions,
        "served_at": _iso(response.served_at),
        "results": results,
    }
    return body, statuses


def encode_feast(
    response: Any, entities: Sequence[Mapping[str, Any]], full_names: bool
) -> tuple[dict[str, Any], list[list[str]]]:
    """Feast's response shape: `metadata.feature_names` (entity keys, then features) and one
    result per column: `values`, `statuses` (Feast's), `event_timestamps`, and skewless'
    `skewless_statuses`, `reasons`, `age_seconds` (see docs/server.md)."""
    statuses, reasons, ages = _per_value(response)
    served_at = response.served_at
    keys: list[str] = []
    for e in entities:
        for k in e:
            if k not in keys:
                keys.append(k)
    names = list(keys)
    results: list[dict[str, Any]] = []
    n = len(entities)
    for k in keys:
        results.append(
            {
                "values": _clean([e.get(k) for e in entities]),
                "statuses": ["PRESENT"] * n,
                "event_timestamps": [_EPOCH_TEXT] * n,
            }
        )
    values = response.values
    for j, ref in enumerate(response.features):
        view, _, col = ref.rpartition(".")
        names.append(f"{view}__{col}" if full_names else col)
        col_ages = [ages[i][j] for i in range(n)]
        col_reasons = [reasons[i][j] for i in range(n)]
        results.append(
            {
                "values": _clean([values[i][j] for i in range(n)]),
                "statuses": [_FEAST_STATUS.get(r, "NOT_FOUND") for r in col_reasons],
                "event_timestamps": [
                    _EPOCH_TEXT
                    if a is None
                    else _iso(served_at - timedelta(microseconds=round(a * 1e6)))
                    for a in col_ages
                ],
                "skewless_statuses": [statuses[i][j] for i in range(n)],
                "reasons": col_reasons,
                "age_seconds": col_ages,
            }
        )
    body = {
        "metadata": {"feature_names": names},
        "versions": response.versions,
        "served_at": _iso(served_at),
        "results": results,
    }
    return body, statuses
