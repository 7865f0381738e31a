"""`skewless consistency`: compare what serving holds or served with what the offline side computes.

Two checks, one set of per-feature statistics:

- **online vs offline** (`online_vs_offline`): sample N entities of a view; what Redis holds
  (read through `FeatureStore.get_online_features`, one entity at a time aged against the
  offline row's own timestamp, so that no ttl or freshness policy rewrites a value Redis holds)
  against the offline latest row of the same entity in
  DuckDB under the selection rule of `skewless materialize` (latest row with a timestamp at or
  before the watermark, and within `ttl` of the materialization). A view whose current
  definition version is not the one in Redis is a breach of every one of its features.
- **replay** (`replay`): the served-feature log is rebuilt offline at the logged serving times: a
  point-in-time join in DuckDB with the semantics of `point_in_time_join` (the row with the
  greatest timestamp such that `timestamp + available_after <= served_at` and
  `served_at - timestamp <= ttl`), then the serving rules applied to it exactly as the runtime
  applies them (`ttl`, `freshness` + `on_stale`, column defaults). What was served is compared
  with that, value by value. The join uses the macro's DuckDB ASOF key, so rows of one entity
  sharing a timestamp resolve the same way (tested equal to the macro's output).
  Request-time (on-demand) features: their input views are replayed the same way (serving rules
  included: a defaulted input is the default, a missing one NULL), and the view's SELECT list is
  evaluated by DuckDB over the logged payload plus those inputs (the payload's missing request
  timestamp is the serving time, as online).

Note that `point_in_time_join` itself yields NULL where serving substitutes a column default or
a stale-policy value; the replay compares with what a correct server would have served, so such
policy substitutions are not mismatches (they show in the per-feature status counts).

Equality: NULL equals NULL (`both_null`), NaN equals NaN, integers, strings, booleans, decimals,
dates and timestamps compare exactly (a naive timestamp is UTC), floats compare exactly unless a
`float_tolerance` is given (then `|a - b| <= tol * max(1, |a|, |b|)`). A value of a different
type (True vs 1, 1 vs 1.0) is a mismatch. SMAPE (numerics, over pairs where both sides are
non-null and finite) is the mean of `|a - b| / ((|a| + |b|) / 2)`, 0 when both are 0 (0..2).

Thresholds: each feature has a maximum mismatch rate (default 0.0); `thresholds` overrides per
feature reference, and a column's `meta.skewless.max_mismatch_rate` in the dbt model overrides
the default for that feature. A rate above its threshold, or a view that could not be checked,
is a breach (the CLI exits non-zero).
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from skewless.definitions import Feature, FeatureView
from skewless.errors import SkewlessError, StaleFeatureError

__all__ = [
    "ConsistencyReport",
    "FeatureStats",
    "StatsAccumulator",
    "feature_thresholds",
    "online_vs_offline",
    "pit_rows",
    "replay",
    "smape_term",
    "values_equal",
]

UTC = timezone.utc
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NUM = (int, float, Decimal)
_SMAPE_TYPES = {int, float, Decimal}
_CHART_SAMPLE = 20_000
_EXAMPLES = 5


# --- equality --------------------------------------------------------------------------------


def _norm(v: Any) -> Any:
    if isinstance(v, datetime) and v.tzinfo is None:
        return v.replace(tzinfo=UTC)
    return v


def values_equal(left: Any, right: Any, float_tolerance: float = 0.0) -> bool:
    """Whether a served and a recomputed value are the same (see the module docstring)."""
    if left is None or right is None:
        return left is None and right is None
    left, right = _norm(left), _norm(right)
    tl, tr = type(left), type(right)
    if tl is float and tr is float:
        if left != left or right != right:
            return left != left and right != right
        if left == right:
            return True
        if float_tolerance > 0 and math.isfinite(left) and math.isfinite(right):
            return abs(left - right) <= float_tolerance * max(1.0, abs(left), abs(right))
        return False
    if tl is not tr and not (isinstance(left, datetime) and isinstance(right, datetime)):
        if isinstance(left, Decimal) and isinstance(right, Decimal):
            return bool(left == right)
        return False
    return bool(left == right)


def smape_term(left: Any, right: Any) -> float | None:
    """`|a - b| / ((|a| + |b|) / 2)` for two non-null finite numbers (0 when both are 0), else None."""
    if isinstance(left, bool) or isinstance(right, bool):
        return None
    if not isinstance(left, _NUM) or not isinstance(right, _NUM):
        return None
    a, b = float(left), float(right)
    if not (math.isfinite(a) and math.isfinite(b)):
        return None
    den = (abs(a) + abs(b)) / 2
    return 0.0 if den == 0 else abs(a - b) / den


# --- statistics ------------------------------------------------------------------------------


@dataclass
class FeatureStats:
    """Comparison statistics of one feature (left: served/online, right: recomputed/offline).

    Attributes:
        feature: `<view>.<column>`.
        total: pairs compared.
        mismatch: pairs that differ (incl. `left_null` and `right_null`).
        both_null / left_null / right_null: pairs with NULL on both / only the left / only the right.
        smape: mean SMAPE over numeric pairs (None for non-numerics or no pairs).
        threshold: the maximum mismatch rate allowed.
        error: why the feature could not be compared (a breach), e.g. an unmaterialized version.
        examples: a few mismatching pairs, `{"entity", "served_at", "left", "right"}`.
        chart: served vs recomputed distributions (numeric histogram or category counts).
        statuses: how often each serving status occurred on the left.
    """

    feature: str
    data_type: str = ""
    total: int = 0
    mismatch: int = 0
    both_null: int = 0
    left_null: int = 0
    right_null: int = 0
    smape: float | None = None
    threshold: float = 0.0
    error: str = ""
    examples: list[dict[str, Any]] = field(default_factory=list)
    chart: dict[str, Any] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def mismatch_rate(self) -> float:
        return self.mismatch / self.total if self.total else 0.0

    @property
    def breached(self) -> bool:
        return bool(self.error) or self.mismatch_rate > self.threshold

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "data_type": self.data_type,
            "total": self.total,
            "mismatch": self.mismatch,
            "mismatch_rate": self.mismatch_rate,
            "both_null": self.both_null,
            "left_null": self.left_null,
            "right_null": self.right_null,
            "smape": self.smape,
            "threshold": self.threshold,
            "breached": self.breached,
            "error": self.error,
            "statuses": self.statuses,
            "examples": [{k: _jsonable(v) for k, v in e.items()} for e in self.examples],
            "chart": self.chart,
        }


def _jsonable(v: Any) -> Any:
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else repr(v)
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (datetime, date)):
        return v.isoformat()
    return str(v)


class StatsAccumulator:
    """Accumulates `FeatureStats` for one feature, pair by pair."""

    def __init__(
        self,
        feature: str,
        data_type: str = "",
        threshold: float = 0.0,
        float_tolerance: float = 0.0,
    ) -> None:
        self.stats = FeatureStats(feature=feature, data_type=data_type, threshold=threshold)
        self.tol = float_tolerance
        self._smape_sum = 0.0
        self._smape_n = 0
        self._left: list[Any] = []
        self._right: list[Any] = []
        self._statuses: Counter[str] = Counter()

    def add(
        self,
        left: Any,
        right: Any,
        context: Mapping[str, Any] | None = None,
        status: str | None = None,
    ) -> bool:
        """Count one pair; returns whether it matched."""
        s = self.stats
        s.total += 1
        if status is not None:
            self._statuses[status] += 1
        if len(self._left) < _CHART_SAMPLE:
            self._left.append(left)
            self._right.append(right)
        tl = type(left)
        if tl is type(right) and left is not None and left == right:  # the common case
            if tl in _SMAPE_TYPES and (tl is not float or math.isfinite(left)):
                self._smape_n += 1  # a term of 0
            return True
        if left is None and right is None:
            s.both_null += 1
            return True
        if left is None:
            s.left_null += 1
            ok = False
        elif right is None:
            s.right_null += 1
            ok = False
        else:
            ok = values_equal(left, right, self.tol)
            term = smape_term(left, right)
            if term is not None:
                self._smape_sum += term
                self._smape_n += 1
        if not ok:
            s.mismatch += 1
            if len(s.examples) < _EXAMPLES:
                s.examples.append({**(context or {}), "left": left, "right": right})
        return ok

    def finish(self) -> FeatureStats:
        s = self.stats
        s.smape = self._smape_sum / self._smape_n if self._smape_n else None
        s.statuses = dict(self._statuses)
        s.chart = _chart(self._left, self._right)
        return s


def _chart(left: Sequence[Any], right: Sequence[Any], bins: int = 20) -> dict[str, Any]:
    def num(v: Any) -> float | None:
        if v is None or isinstance(v, bool) or not isinstance(v, _NUM):
            return None
        f = float(v)
        return f if math.isfinite(f) else None

    values = [v for v in (*left, *right) if v is not None]
    if values and all(isinstance(v, _NUM) and not isinstance(v, bool) for v in values):
        lv = [x for x in map(num, left) if x is not None]
        rv = [x for x in map(num, right) if x is not None]
        both = lv + rv
        if not both:
            return {"kind": "empty"}
        # in halves, so that a span past the float range (-1e308 … 1e308) stays finite; values
        # too close to tell apart (all equal, or 1e16 and 1e16 + 1) get a span of their own
        half_lo = min(both) / 2
        half_span = max(both) / 2 - half_lo
        if not half_span > 0:
            half_span = max(abs(half_lo), 1.0) * 2**-40
        edges = [2 * (half_lo + half_span * (i / bins)) for i in range(bins + 1)]

        def hist(xs: list[float]) -> list[int]:
            counts = [0] * bins
            for x in xs:
                counts[min(int((x / 2 - half_lo) / half_span * bins), bins - 1)] += 1
            return counts

        return {
            "kind": "numeric",
            "edges": edges,
            "left": hist(lv),
            "right": hist(rv),
            "left_null": sum(1 for v in left if num(v) is None),
            "right_null": sum(1 for v in right if num(v) is None),
        }
    lc = Counter("NULL" if v is None else str(v) for v in left)
    rc = Counter("NULL" if v is None else str(v) for v in right)
    cats = [c for c, _ in (lc + rc).most_common(12)]
    return {
        "kind": "category",
        "categories": cats,
        "left": [lc[c] for c in cats],
        "right": [rc[c] for c in cats],
    }


# --- thresholds ------------------------------------------------------------------------------


def feature_thresholds(
    registry: Any, default: float = 0.0, overrides: Mapping[str, float] | None = None
) -> dict[str, float]:
    """Maximum mismatch rate per feature reference.

    Precedence: `overrides[ref]`, then the column's `meta.skewless.max_mismatch_rate` in the
    manifest, then `default`.
    """
    from skewless.definitions.manifest import column_meta

    out: dict[str, float] = {}
    nodes = getattr(getattr(registry, "manifest", None), "nodes", {}) or {}
    for view in registry.views.values():
        columns = (nodes.get(view.unique_id) or {}).get("columns") or {}
        for f in view.features:
            rate = column_meta(columns.get(f.name) or {}).get("max_mismatch_rate", default)
            out[f.ref] = float(rate)
    for ref, rate in (overrides or {}).items():
        out[ref] = float(rate)
    return out


# --- the report ------------------------------------------------------------------------------


@dataclass
class ConsistencyReport:
    """The result of a consistency check.

    Attributes:
        mode: `online` (Redis vs offline) or `replay` (served log vs recomputed).
        features: per-feature statistics, in view/feature order.
        drift: PSI / category shifts per feature (training set vs served), when asked for.
        notes: facts worth reading (version changes, rows skipped…).
        rows: rows (entities or logged rows) compared.
        seconds: wall time of the check.
        skipped_records: malformed records of the served-feature log the reader skipped (not
            replayed; each named in `notes`, up to five).
    """

    mode: str
    features: list[FeatureStats] = field(default_factory=list)
    drift: list[Any] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rows: int = 0
    seconds: float = 0.0
    max_psi: float | None = None
    skipped_records: int = 0

    @property
    def breaches(self) -> list[str]:
        out = [f.feature for f in self.features if f.breached]
        if self.max_psi is not None:
            out += [d.feature for d in self.drift if d.psi == d.psi and d.psi > self.max_psi]
        return list(dict.fromkeys(out))

    @property
    def ok(self) -> bool:
        return not self.breaches

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "ok": self.ok,
            "breaches": self.breaches,
            "rows": self.rows,
            "skipped_records": self.skipped_records,
            "seconds": round(self.seconds, 4),
            "rows_per_second": round(self.rows / self.seconds) if self.seconds > 0 else None,
            "notes": self.notes,
            "features": [f.to_dict() for f in self.features],
            "drift": [_jsonable(d.to_dict()) for d in self.drift],
            "max_psi": self.max_psi,
        }

    def to_table(self) -> str:
        """A fixed-width table for people."""
        head = (
            "feature",
            "total",
            "mismatch",
            "rate",
            "max",
            "both_null",
            "left_null",
            "right_null",
            "smape",
            "",
        )
        rows = [head]
        for f in self.features:
            rows.append(
                (
                    f.feature,
                    str(f.total),
                    str(f.mismatch),
                    f"{f.mismatch_rate:.4f}",
                    f"{f.threshold:g}",
                    str(f.both_null),
                    str(f.left_null),
                    str(f.right_null),
                    "-" if f.smape is None else f"{f.smape:.4g}",
                    ("BREACH " + f.error).strip() if f.breached else "ok",
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(head) - 1)]
        lines = [
            "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1]
            for r in rows
        ]
        if self.drift:
            lines.append("")
            lines.append("drift (training set vs served): feature  kind  psi  [tvd  max_shift]")
            for d in self.drift:
                extra = (
                    f"  tvd={d.tvd:.4f}  max_shift={d.max_shift:.4f}"
                    if d.kind == "category"
                    else ""
                )
                lines.append(f"  {d.feature}  {d.kind}  psi={d.psi:.4f}{extra}")
        lines.extend(f"note: {n}" for n in self.notes)
        lines.append(
            f"{self.mode}: {self.rows} rows in {self.seconds:.2f}s — "
            + ("OK" if self.ok else f"BREACH: {', '.join(self.breaches)}")
        )
        return "\n".join(lines)


# --- offline reads ---------------------------------------------------------------------------


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit_ts(ts: datetime) -> str:
    return f"TIMESTAMPTZ '{ts.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S.%f')}+00'"


def _ns(td: timedelta) -> int:
    return ((td.days * 86_400 + td.seconds) * 1_000_000 + td.microseconds) * 1000


def _relation(view: FeatureView) -> str:
    if not view.relation_name:
        raise SkewlessError(f"model `{view.name}` has no relation in the manifest (ephemeral?)")
    return view.relation_name


def _fetch_dicts(duck: Any, sql: str, params: Sequence[Any] | None = None) -> list[dict[str, Any]]:
    cur = duck.execute(sql, params) if params else duck.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _engine(duck: Any) -> tuple[Any, Any]:
    """(a non-DuckDB offline reader or None, the DuckDB session or None) of what the checks were
    given: an `offline.OfflineReader` (DuckDB, PostgreSQL) or a DuckDB session."""
    if not hasattr(duck, "latest_rows"):
        return None, duck
    con = getattr(duck, "con", None)
    return (None, con) if con is not None else (duck, None)


def _sample_latest(
    reader: Any, view: FeatureView, watermark_us: int, sample: int, seed: int
) -> list[dict[str, Any]]:
    """A reservoir sample (`sample` rows, seeded) of the latest row per entity up to the
    watermark, selected in the engine (`OfflineReader.latest_rows`) and streamed."""
    import random

    rng = random.Random(seed)
    kept: list[dict[str, Any]] = []
    seen = 0
    _, batches = reader.latest_rows(view, visible_us=watermark_us, since_us=None, chunk_rows=10_000)
    for batch in batches:
        for row in batch.to_pylist():
            seen += 1
            if len(kept) < sample:
                kept.append(row)
            else:
                j = rng.randrange(seen)
                if j < sample:
                    kept[j] = row
    return kept


def _serving_rule(
    view: FeatureView,
    features: Sequence[Feature],
    defaults: Sequence[Any],
    row_ts: datetime | None,
    row: Mapping[str, Any] | None,
    now: datetime,
) -> tuple[list[Any], str]:
    """What the runtime would serve at `now` for an offline row (None: no row). → (values, status)."""

    def fallback(null_only: bool = False) -> list[Any]:
        return [
            None if null_only or not f.has_default else d
            for f, d in zip(features, defaults, strict=True)
        ]

    if row is None or row_ts is None:
        return fallback(), "missing"
    age = now - row_ts
    if view.ttl is not None and age > view.ttl:
        return fallback(), "expired"
    values = [_norm(row[f.name]) for f in features]
    if view.freshness is not None and age > view.freshness:
        if view.on_stale == "null":
            return fallback(null_only=True), "stale"
        if view.on_stale == "default":
            return fallback(), "stale"
        return values, "stale"
    return values, "present"


def _defaults(view: FeatureView, features: Sequence[Feature]) -> list[Any]:
    from skewless.online import codec

    return [
        codec.coerce_default(
            codec.column_kind(view.name, f.name, f.data_type),
            f.default,
            f"model `{view.name}`, column `{f.name}`",
        )
        for f in features
    ]


# --- online vs offline -----------------------------------------------------------------------


def online_vs_offline(
    store: Any,
    duck: Any,
    *,
    views: Sequence[str] | None = None,
    sample: int = 1000,
    seed: int = 0,
    thresholds: Mapping[str, float] | None = None,
    float_tolerance: float = 0.0,
) -> ConsistencyReport:
    """Compare what Redis holds with the offline latest rows, for a sample of entities per view.

    Args:
        store: a `FeatureStore` (its registry and Redis client are used).
        duck: the offline reader (`offline.reader_from_profile`: DuckDB, PostgreSQL), or a
            DuckDB connection where the views' relations resolve (`offline.duckdb.open_duckdb`).
        views: view names (default: every feature view).
        sample: entities per view (reservoir sample of the offline latest rows).
        seed: the sample's seed (same seed, same entities).
        thresholds: maximum mismatch rate per feature reference (default 0.0 for all).
        float_tolerance: relative tolerance for floats (default 0: exact).
    """
    from skewless.online import keys
    from skewless.online.connection import redis_faults

    t0 = time.perf_counter()
    registry = store.registry
    report = ConsistencyReport(mode="online")
    th = thresholds or {}
    for name in views or sorted(registry.views):
        view: FeatureView = registry.view(name)
        accs = {
            f.name: StatsAccumulator(f.ref, f.data_type, th.get(f.ref, 0.0), float_tolerance)
            for f in view.features
        }
        with redis_faults("consistency", store.redis_url or store.redis, view.name):
            raw_meta = store.redis.hgetall(keys.meta_key(view.name))
            pointer = store.redis.get(keys.pointer_key(view.name, view.version))
        meta = {k.decode(): v.decode() for k, v in raw_meta.items()}
        if pointer is None or not meta.get("watermark"):
            held = meta.get("version")
            why = (
                f"view `{view.name}` at its current definition version {view.version} is not "
                "materialized"
                + (
                    f" (Redis holds version {held}: the definition changed after materialization)"
                    if held and held != view.version
                    else ""
                )
                + f"; run `skewless materialize --select {view.name}`"
            )
            report.notes.append(why)
            for acc in accs.values():
                acc.stats.error = why
                report.features.append(acc.finish())
            continue
        watermark = _EPOCH + timedelta(microseconds=int(meta["watermark"]))
        as_of_us = int(meta.get("as_of") or meta.get("materialized_at") or meta["watermark"])
        as_of = _EPOCH + timedelta(microseconds=as_of_us)
        ent = ", ".join(_q(c) for c in view.entity)
        ts = f"CAST({_q(view.timestamp)} AS TIMESTAMPTZ)"
        feats = ", ".join(_q(f.name) for f in view.features)
        not_null = " AND ".join(f"{_q(c)} IS NOT NULL" for c in view.entity)
        latest = (
            f"SELECT {ent}, {ts} AS __skw_ts, {feats} FROM {_relation(view)} "
            f"WHERE {not_null} AND {ts} <= {_lit_ts(watermark)} "
            f"QUALIFY row_number() OVER (PARTITION BY {ent} ORDER BY {ts} DESC) = 1"
        )
        engine, con = _engine(duck)
        if engine is not None:  # another engine: selected there, sampled as it streams
            rows = _sample_latest(engine, view, int(meta["watermark"]), int(sample), int(seed))
        else:
            rows = _fetch_dicts(
                con,
                f"SELECT * FROM ({latest}) USING SAMPLE reservoir({int(sample)} ROWS) REPEATABLE ({int(seed)})",
            )
        entities = [{c: r[c] for c in view.entity} for r in rows]
        refs = [f.ref for f in view.features]
        for entity, r in zip(entities, rows, strict=True):
            row_ts = _norm(r["__skw_ts"])
            # Aged against the offline row's own timestamp: when Redis holds that row its age is
            # 0, so no ttl or freshness policy rewrites the value — this reads what Redis holds.
            try:
                # a Redis failure fails the check: never compare served-as-defaults values
                resp = store.get_online_features(refs, [entity], now=row_ts, on_store_error="raise")
                values, status = resp.values[0], resp.statuses[0]
                online_missing = resp.ages[0][refs[0]] is None
                note = ""
            except StaleFeatureError as e:  # Redis holds a row older than the offline one
                values, status, online_missing = [None] * len(refs), {}, True
                note = str(e)
            loadable = view.ttl is None or row_ts >= as_of - view.ttl
            ctx = {"entity": entity, **({"note": note} if note else {})}
            for j, f in enumerate(view.features):
                left = None if online_missing else values[j]
                right = _norm(r[f.name]) if loadable else None
                accs[f.name].add(left, right, ctx, status.get(refs[j], "stale"))
        report.rows += len(rows)
        report.features.extend(acc.finish() for acc in accs.values())
    report.seconds = time.perf_counter() - t0
    return report


# --- replay ----------------------------------------------------------------------------------


def pit_rows(
    duck: Any,
    view: FeatureView,
    spine: Sequence[tuple[Mapping[str, Any], datetime]],
) -> list[tuple[datetime | None, dict[str, Any] | None]]:
    """Point-in-time rows of `view` for `(entity, at)` pairs: the row with the greatest timestamp
    such that `timestamp + available_after <= at` and `at - timestamp <= ttl`; (None, None) when
    there is none or a key is null. One result per spine entry, in order.
    """
    import pyarrow as pa

    if not spine:
        return []
    engine, duck = _engine(duck)
    if engine is not None:  # another engine: the spine travels there, the join runs there
        return [
            (None, None) if r["__skw_ts"] is None else (_norm(r["__skw_ts"]), r)
            for b in engine.point_in_time(view, spine)
            for r in b.to_pylist()
        ]
    cols: dict[str, list[Any]] = {"__i": list(range(len(spine)))}
    for c in view.entity:
        cols[c] = [None if e.get(c) is None else _key_text(e.get(c)) for e, _ in spine]
    cols["__at"] = [at for _, at in spine]
    table = pa.table(
        {
            "__i": pa.array(cols["__i"], pa.int64()),
            **{c: pa.array(cols[c], pa.string()) for c in view.entity},
            "__at": pa.array(cols["__at"], pa.timestamp("us", tz="UTC")),
        }
    )
    name = f"__skw_spine_{view.name}"
    duck.register(name, table)
    try:
        # point_in_time_join's rule: the latest row with timestamp + available_after <= at (ASOF
        # on epoch_ns), and among rows of one entity sharing a timestamp the one with the
        # greatest feature values (declared order, NULL lowest) — the macro's and the loader's
        # tie rule, so a tie resolves the same way on all three sides.
        after_ns = _ns(view.available_after)
        raw_ts = f"f.{_q(view.timestamp)}"
        feats = ", ".join(f"f.{_q(f.name)}" for f in view.features)
        keys = [(c, t) for c, t in zip(view.entity, view.entity_types, strict=True)]
        on = " AND ".join(f"s.{_q(c)} = f.{_q(c)}" for c, _ in keys)
        cast = ", ".join(f"TRY_CAST({_q(c)} AS {t or 'VARCHAR'}) AS {_q(c)}" for c, t in keys)
        partition = ", ".join([*(f"f.{_q(c)}" for c, _ in keys), raw_ts])
        order = ", ".join(f"f.{_q(f.name)} DESC NULLS LAST" for f in view.features)
        ttl = ""
        if view.ttl is not None:
            ttl_ns = _ns(view.ttl)
            ttl = f" AND epoch_ns(s.__at)::HUGEINT - epoch_ns(f.__skw_ts)::HUGEINT <= {ttl_ns}"
        sql = (
            f"WITH s AS (SELECT __i, __at, epoch_ns(__at)::HUGEINT AS __skw_key, "
            f"{cast} FROM {name}), "
            f"f AS (SELECT {', '.join('f.' + _q(c) for c, _ in keys)}, "
            f"CAST({raw_ts} AS TIMESTAMPTZ) AS __skw_ts, "
            f"epoch_ns({raw_ts})::HUGEINT + {after_ns} AS __skw_key, "
            f"{feats} FROM {_relation(view)} AS f WHERE {raw_ts} IS NOT NULL "
            f"QUALIFY row_number() OVER (PARTITION BY {partition} ORDER BY {order}) = 1) "
            f"SELECT s.__i, CASE WHEN f.__skw_ts IS NOT NULL{ttl} THEN f.__skw_ts END AS __skw_ts, "
            f"{', '.join('f.' + _q(ft.name) for ft in view.features)} "
            f"FROM s ASOF LEFT JOIN f ON {on} AND s.__skw_key >= f.__skw_key ORDER BY s.__i"
        )
        rows = _fetch_dicts(duck, sql)
    finally:
        duck.unregister(name)
    out: list[tuple[datetime | None, dict[str, Any] | None]] = []
    for r in rows:
        ts_v = r["__skw_ts"]
        out.append((None, None) if ts_v is None else (_norm(ts_v), r))
    return out


def _key_text(v: Any) -> str:
    if isinstance(v, date) and not isinstance(v, datetime):
        return v.isoformat()
    return str(v)


def replay(
    registry: Any,
    duck: Any,
    rows: Iterable[Any],
    *,
    features: Sequence[str] | None = None,
    thresholds: Mapping[str, float] | None = None,
    float_tolerance: float = 0.0,
    sample: int | None = None,
    seed: int = 0,
    on_demand: Mapping[str, Any] | None = None,
    skipped: Any = None,
) -> ConsistencyReport:
    """Rebuild logged feature values offline at their serving times and compare with what was served.

    Args:
        registry: the current feature views.
        duck: the offline reader (`offline.reader_from_profile`: DuckDB, PostgreSQL), or a
            DuckDB connection where the views' relations resolve.
        rows: logged rows (`feature_log.read_feature_log`).
        features: only these feature references (default: every logged feature of a known view).
        thresholds: maximum mismatch rate per feature reference.
        float_tolerance: relative tolerance for floats (default 0: exact).
        sample: compare at most this many logged rows (uniform reservoir sample).
        seed: the sample's seed.
        on_demand: request-time views by name (default: `registry.on_demand`); their logged
            values are recomputed by DuckDB over the logged payload plus the input features
            replayed point-in-time.
        skipped: the `feature_log.FeatureLogReader` the rows came from (default: `rows` itself
            when it is one): its malformed records, skipped by the reader, are counted in
            `skipped_records` and named in `notes`; the replay goes on without them.
    """
    t0 = time.perf_counter()
    th = thresholds or {}
    report = ConsistencyReport(mode="replay")
    if on_demand is None:
        on_demand = _load_on_demand(registry, report)
    logged = list(rows)
    _note_skipped(report, skipped if skipped is not None else rows)
    if sample is not None and len(logged) > sample:
        logged = random.Random(seed).sample(logged, sample)
    report.rows = len(logged)
    wanted = set(features) if features else None
    by_view: dict[str, list[int]] = {}
    unknown: Counter[str] = Counter()
    for i, r in enumerate(logged):
        seen: set[str] = set()
        for ref in r.values:
            if wanted is not None and ref not in wanted:
                continue
            view_name = ref.rpartition(".")[0]
            windows = getattr(registry, "windows", {})
            if (
                view_name not in registry.views
                and view_name not in on_demand
                and view_name not in windows
            ):
                unknown[ref] += 1
                continue
            if view_name not in seen:
                seen.add(view_name)
                by_view.setdefault(view_name, []).append(i)
    for ref, n in sorted(unknown.items()):
        report.notes.append(
            f"{n} logged value(s) of `{ref}` were not replayed: no feature view named "
            f"`{ref.rpartition('.')[0]}` in the manifest (request-time or removed view)"
        )
    for view_name in sorted(by_view):
        if view_name in on_demand:
            report.features.extend(
                _replay_on_demand(
                    registry,
                    duck,
                    on_demand[view_name],
                    [logged[i] for i in by_view[view_name]],
                    th,
                    float_tolerance,
                    report,
                )
            )
            continue
        if view_name in getattr(registry, "windows", {}):
            report.features.extend(
                _replay_window(
                    registry.windows[view_name],
                    duck,
                    [logged[i] for i in by_view[view_name]],
                    th,
                    report,
                )
            )
            continue
        view: FeatureView = registry.view(view_name)
        idx = by_view[view_name]
        logged_feats = [f for f in view.features if any(f.ref in logged[i].values for i in idx)]
        accs = {
            f.name: StatsAccumulator(f.ref, f.data_type, th.get(f.ref, 0.0), float_tolerance)
            for f in logged_feats
        }
        defaults = _defaults(view, logged_feats)
        versions = Counter(logged[i].versions.get(view_name, "?") for i in idx)
        old = {v: n for v, n in versions.items() if v != view.version}
        if old:
            report.notes.append(
                f"view `{view_name}`: {sum(old.values())} of {len(idx)} logged rows were served at "
                f"version(s) {sorted(old)}, not the current {view.version}; they are replayed with "
                "the current definition"
            )
        spine = [(logged[i].entity, logged[i].served_at) for i in idx]
        pit = pit_rows(duck, view, spine)
        for i, (row_ts, prow) in zip(idx, pit, strict=True):
            lr = logged[i]
            expect, _status = _serving_rule(
                view, logged_feats, defaults, row_ts, prow, lr.served_at
            )
            ctx = {"entity": lr.entity, "served_at": lr.served_at}
            for f, right in zip(logged_feats, expect, strict=True):
                if f.ref in lr.values:
                    accs[f.name].add(lr.values[f.ref], right, ctx, lr.statuses.get(f.ref))
        report.features.extend(acc.finish() for acc in accs.values())
    report.seconds = time.perf_counter() - t0
    return report


def _replay_window(
    view: Any,
    duck: Any,
    logged: list[Any],
    th: Mapping[str, float],
    report: ConsistencyReport,
) -> list[FeatureStats]:
    """The served values of a window view against its outputs recomputed by DuckDB at each
    logged serving instant (`guards.window_replay`; on another engine, over its events read
    into DuckDB)."""
    from skewless.guards.window_replay import engine_events, window_rows, within_bound

    functions = {a.name: a.function for a in view.aggregates}
    outputs = [f for f in view.features if any(f.ref in r.values for r in logged)]
    accs = {f.name: StatsAccumulator(f.ref, f.data_type, th.get(f.ref, 0.0)) for f in outputs}
    spine = [(r.entity, r.served_at) for r in logged]
    engine, con = _engine(duck)
    if engine is None:
        rows = window_rows(con, view, spine)
    else:
        widest = max(view.lengths) + (view.hop or timedelta(0))
        since = min(at for _, at in spine) - widest - timedelta(microseconds=1)
        con, _table, name, ts = engine_events(engine, view, since)
        try:
            rows = window_rows(con, view, spine, relation=name, timestamp=ts)
        finally:
            con.close()
    for lr, row in zip(logged, rows, strict=True):
        ctx = {"entity": lr.entity, "served_at": lr.served_at}
        for f in outputs:
            if f.ref not in lr.values:
                continue
            served, status = lr.values[f.ref], lr.statuses.get(f.ref)
            offline = None if status == "stale" else row[f.name]
            fn = functions[f.name]
            if (fn == "avg" or f.data_type == "DOUBLE") and within_bound(
                served, offline, row, f.name, fn == "avg"
            ):
                offline = served
            accs[f.name].add(served, offline, ctx, status)
    return [acc.finish() for acc in accs.values()]


def _note_skipped(report: ConsistencyReport, reader: Any) -> None:
    """Count and name (the first five) the log records the reader skipped."""
    count = getattr(reader, "skipped_count", 0)
    if not isinstance(count, int) or count <= 0:
        return
    report.skipped_records = count
    shown = [str(r) for r in list(getattr(reader, "skipped", []))[:_EXAMPLES]]
    more = f"; and {count - len(shown)} more" if count > len(shown) else ""
    report.notes.append(
        f"{count} malformed served-feature log record(s) skipped, not replayed: "
        + "; ".join(shown)
        + more
    )


# --- request-time (on-demand) views ----------------------------------------------------------


def _load_on_demand(registry: Any, report: ConsistencyReport) -> dict[str, Any]:
    compiled = getattr(registry, "on_demand", None)
    if compiled is not None:
        return dict(compiled)
    manifest = getattr(registry, "manifest", None)
    if manifest is None:
        return {}
    try:
        from skewless.definitions.ondemand import read_on_demand_views
    except ImportError:
        return {}
    try:
        return dict(read_on_demand_views(manifest, registry.views))
    except SkewlessError as e:
        report.notes.append(f"request-time views not replayed: {e}")
        return {}


def _projection_sql(odv: Any) -> dict[str, str]:
    """Output column → the DuckDB SQL of its SELECT-list expression (table qualifiers dropped)."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(odv.compiled_sql, read="duckdb")
    out = {}
    for item in tree.expressions:
        name = item.alias_or_name
        body = (item.this if isinstance(item, exp.Alias) else item).copy()
        for col in body.find_all(exp.Column):
            col.set("table", None)
        out[name] = body.sql(dialect="duckdb")
    return out


def _as_text(value: Any, dtype: str) -> str | None:
    """A value as text that DuckDB casts back to exactly the same value of type `dtype`."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return (
            repr(value)
            if math.isfinite(value)
            else ("nan" if value != value else ("inf" if value > 0 else "-inf"))
        )
    if isinstance(value, datetime):
        if value.tzinfo is not None and not dtype.upper().startswith(
            ("TIMESTAMPTZ", "TIMESTAMP WITH")
        ):
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _replay_on_demand(
    registry: Any,
    duck: Any,
    odv: Any,
    rows: Sequence[Any],
    thresholds: Mapping[str, float],
    float_tolerance: float,
    report: ConsistencyReport,
) -> list[FeatureStats]:
    """Recompute a request-time view's logged features in DuckDB and compare with what was served."""
    import pyarrow as pa

    feats = [f for f in odv.features if any(f"{odv.name}.{f.name}" in r.values for r in rows)]
    accs = {
        f.name: StatsAccumulator(
            f"{odv.name}.{f.name}",
            f.data_type,
            thresholds.get(f"{odv.name}.{f.name}", 0.0),
            float_tolerance,
        )
        for f in feats
    }

    def field(r: Any, col: str) -> Any:
        if col in r.request:
            return r.request[col]
        return r.entity.get(col)

    columns: dict[str, list[Any]] = {}
    types: dict[str, str] = {}
    for col, dtype in odv.request_schema.items():
        types[col] = dtype
        if col == odv.timestamp:
            columns[col] = [
                field(r, col) if col in r.request or col in r.entity else r.served_at for r in rows
            ]
        else:
            columns[col] = [field(r, col) for r in rows]
    for spec in odv.inputs:
        view: FeatureView = registry.view(spec.view)
        keymap = dict(spec.keys)
        spine = [({vk: field(r, rc) for vk, rc in keymap.items()}, r.served_at) for r in rows]
        defaults = _defaults(view, view.features)
        pit = pit_rows(duck, view, spine)
        served_inputs = [
            _serving_rule(view, view.features, defaults, ts, prow, r.served_at)[0]
            for (ts, prow), r in zip(pit, rows, strict=True)
        ]
        for j, f in enumerate(view.features):
            col = spec.column(f.name)
            columns[col] = [vals[j] for vals in served_inputs]
            types[col] = f.data_type
    table = pa.table(
        {
            "__i": pa.array(range(len(rows)), pa.int64()),
            **{
                c: pa.array([_as_text(v, types[c]) for v in vals], pa.string())
                for c, vals in columns.items()
            },
        }
    )
    name = f"__skw_od_{odv.name}"
    engine, duck = _engine(duck)
    if engine is not None:  # the request-time SQL is DuckDB's: evaluated in a local session
        import duckdb

        duck = duckdb.connect()
        duck.execute("SET TimeZone='UTC'")
    duck.register(name, table)
    try:
        casts = ", ".join(f"CAST({_q(c)} AS {types[c]}) AS {_q(c)}" for c in columns)
        sql_of = _projection_sql(odv)
        select = ", ".join(f"({sql_of[f.name]}) AS {_q(f.name)}" for f in feats)
        sql = f"SELECT __i, {select} FROM (SELECT __i{', ' if casts else ''}{casts} FROM {name}) AS inputs ORDER BY __i"
        try:
            recomputed = _fetch_dicts(duck, sql)
        except Exception as e:
            why = f"request-time view `{odv.name}`: DuckDB could not evaluate its SQL over the log: {e}"
            report.notes.append(why)
            for acc in accs.values():
                acc.stats.error = why
            return [acc.finish() for acc in accs.values()]
    finally:
        duck.unregister(name)
        if engine is not None:
            duck.close()
    for r, rec in zip(rows, recomputed, strict=True):
        ctx = {"entity": r.entity, "served_at": r.served_at, "request": r.request}
        for f in feats:
            ref = f"{odv.name}.{f.name}"
            if ref in r.values:
                accs[f.name].add(r.values[ref], _norm(rec[f.name]), ctx, r.statuses.get(ref))
    return [acc.finish() for acc in accs.values()]
