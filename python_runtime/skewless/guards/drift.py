"""Drift between a training set and what was served: PSI for numbers, share shifts for categories.

PSI (population stability index) of a numeric feature:

- bins: the deciles (by default) of the training values, with numpy's default ("linear")
  quantile interpolation; repeated edges collapse, so a feature with few distinct values gets
  fewer bins. Bin `i` holds `edges[i-1] < x <= edges[i]`, the outer bins are open-ended.
- NULL and NaN go to one extra bin, present when either side has any, so a change in the share
  of missing values is drift too.
- shares are counts / total; a share of 0 is replaced by `eps` (1e-4) so the logarithm stays
  finite; PSI = sum over bins of (served - train) * ln(served / train).

Rules of thumb: < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 large shift.

For strings and booleans the bins are the categories (plus the NULL bin): the same PSI, the total
variation distance (half the L1 distance between the share vectors) and the largest single shift
in share are reported, with the categories that moved most.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

__all__ = [
    "EPS",
    "CategoryDrift",
    "NumericDrift",
    "category_drift",
    "feature_drift",
    "is_numeric_type",
    "numeric_drift",
    "quantile_edges",
    "training_vs_served",
]

EPS = 1e-4
_NUMERIC_PREFIXES = (
    "tinyint", "smallint", "int", "integer", "bigint", "hugeint", "utinyint", "usmallint",
    "uinteger", "ubigint", "uhugeint", "float", "real", "double", "decimal", "numeric",
    "int1", "int2", "int4", "int8", "float4", "float8", "timestamp", "date", "interval",
)  # fmt: skip


def is_numeric_type(data_type: str) -> bool:
    """Whether a declared column type gets PSI over quantile bins (else: category shares)."""
    t = data_type.strip().lower()
    return t.startswith(_NUMERIC_PREFIXES) and not t.startswith("interval[")


@dataclass(frozen=True)
class Bin:
    """One bin of a numeric PSI: `low < x <= high` (None: open-ended; both None: the NULL bin)."""

    low: float | None
    high: float | None
    train_share: float
    served_share: float
    is_null: bool = False


@dataclass(frozen=True)
class NumericDrift:
    """PSI of one numeric feature between the training set and the served values."""

    feature: str
    psi: float
    train_count: int
    served_count: int
    bins: tuple[Bin, ...]
    kind: str = "numeric"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CategoryShare:
    value: Any
    train_share: float
    served_share: float

    @property
    def shift(self) -> float:
        return self.served_share - self.train_share


@dataclass(frozen=True)
class CategoryDrift:
    """Share shift of one categorical feature between the training set and the served values.

    Attributes:
        psi: PSI over the categories (and the NULL bin).
        tvd: total variation distance, half the L1 distance between the share vectors (0..1).
        max_shift: the largest absolute change of one category's share.
        shares: the categories whose share moved most, largest move first.
    """

    feature: str
    psi: float
    tvd: float
    max_shift: float
    train_count: int
    served_count: int
    shares: tuple[CategoryShare, ...] = field(default=())
    kind: str = "category"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["shares"] = [
            {
                "value": _jsonable(s.value),
                "train_share": s.train_share,
                "served_share": s.served_share,
            }
            for s in self.shares
        ]
        return d


def _jsonable(v: Any) -> Any:
    return v if v is None or isinstance(v, (str, bool, int, float)) else str(v)


def _as_float(v: Any) -> float | None:
    """A number for binning; None for NULL and NaN."""
    if v is None:
        return None
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float, Decimal)):
        f = float(v)
        return None if f != f else f
    if isinstance(v, datetime):
        return v.timestamp() if v.tzinfo else (v - datetime(1970, 1, 1)).total_seconds()
    if isinstance(v, date):
        return float(v.toordinal())
    if isinstance(v, timedelta):
        return v.total_seconds()
    if isinstance(v, tuple) and hasattr(v, "nanoseconds"):  # Arrow's MonthDayNano interval
        months, days, nanos = v  # a month is 30 days, as DuckDB converts an interval
        return (months * 30 + days) * 86_400.0 + nanos / 1e9
    raise TypeError(f"cannot bin a {type(v).__name__} value ({v!r}) as a number")


def quantile_edges(values: Sequence[float], bins: int = 10) -> list[float]:
    """Inner edges at the `1/bins … (bins-1)/bins` quantiles (linear interpolation), deduplicated."""
    xs = sorted(values)
    n = len(xs)
    if n == 0:
        return []
    edges: list[float] = []
    for k in range(1, bins):
        pos = (n - 1) * k / bins
        lo = math.floor(pos)
        hi = min(lo + 1, n - 1)
        q = xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)
        if not edges or q > edges[-1]:
            edges.append(q)
    return edges


def _psi(train: Sequence[float], served: Sequence[float], eps: float) -> float:
    total = 0.0
    for t, s in zip(train, served, strict=True):
        t, s = max(t, eps), max(s, eps)
        total += (s - t) * math.log(s / t)
    return total


def _bin_counts(values: Iterable[float | None], edges: Sequence[float]) -> tuple[list[int], int]:
    from bisect import bisect_left

    counts = [0] * (len(edges) + 1)
    nulls = 0
    for v in values:
        if v is None:
            nulls += 1
        elif v != v:
            nulls += 1
        else:
            counts[bisect_left(edges, v)] += 1
    return counts, nulls


def numeric_drift(
    feature: str, train: Iterable[Any], served: Iterable[Any], *, bins: int = 10, eps: float = EPS
) -> NumericDrift:
    """PSI of a numeric feature over quantile bins of the training values.

    Args:
        feature: the feature reference, for the report.
        train: the training set's values (NULL/NaN allowed).
        served: the served values.
        bins: number of quantile bins (fewer when the training values repeat).
        eps: floor of a bin's share before taking the logarithm.
    """
    tv = [_as_float(v) for v in train]
    sv = [_as_float(v) for v in served]
    edges = quantile_edges([v for v in tv if v is not None], bins)
    tc, tn = _bin_counts(tv, edges)
    sc, sn = _bin_counts(sv, edges)
    nt, ns = len(tv), len(sv)
    t_sh = [c / nt if nt else 0.0 for c in tc]
    s_sh = [c / ns if ns else 0.0 for c in sc]
    out = [
        Bin(
            low=edges[i - 1] if i > 0 else None,
            high=edges[i] if i < len(edges) else None,
            train_share=t_sh[i],
            served_share=s_sh[i],
        )
        for i in range(len(tc))
    ]
    if tn or sn:
        t_sh.append(tn / nt if nt else 0.0)
        s_sh.append(sn / ns if ns else 0.0)
        out.append(Bin(None, None, t_sh[-1], s_sh[-1], is_null=True))
    psi = _psi(t_sh, s_sh, eps) if nt and ns else float("nan")
    return NumericDrift(feature=feature, psi=psi, train_count=nt, served_count=ns, bins=tuple(out))


_NULL = object()


def _category(v: Any) -> Any:
    if v is None or (isinstance(v, float) and v != v):
        return _NULL
    return v


def category_drift(
    feature: str, train: Iterable[Any], served: Iterable[Any], *, top: int = 20, eps: float = EPS
) -> CategoryDrift:
    """Share shift of a categorical feature (strings, booleans): PSI, TVD and the largest moves.

    Args:
        feature: the feature reference, for the report.
        train: the training set's values.
        served: the served values.
        top: how many categories to keep in `shares` (those whose share moved most).
        eps: floor of a category's share before taking the logarithm.
    """
    tc = Counter(_category(v) for v in train)
    sc = Counter(_category(v) for v in served)
    nt, ns = sum(tc.values()), sum(sc.values())
    cats = list(dict.fromkeys([*tc, *sc]))
    t_sh = [tc[c] / nt if nt else 0.0 for c in cats]
    s_sh = [sc[c] / ns if ns else 0.0 for c in cats]
    shares = [
        CategoryShare(None if c is _NULL else c, t, s)
        for c, t, s in zip(cats, t_sh, s_sh, strict=True)
    ]
    shares.sort(key=lambda s: -abs(s.shift))
    if nt and ns:
        psi = _psi(t_sh, s_sh, eps)
        tvd = 0.5 * sum(abs(s - t) for t, s in zip(t_sh, s_sh, strict=True))
        max_shift = max((abs(s.shift) for s in shares), default=0.0)
    else:
        psi = tvd = max_shift = float("nan")
    return CategoryDrift(
        feature=feature,
        psi=psi,
        tvd=tvd,
        max_shift=max_shift,
        train_count=nt,
        served_count=ns,
        shares=tuple(shares[:top]),
    )


def feature_drift(
    feature: str, data_type: str, train: Iterable[Any], served: Iterable[Any], *, bins: int = 10
) -> NumericDrift | CategoryDrift:
    """PSI for a numeric (or temporal) declared type, category shares for anything else."""
    if is_numeric_type(data_type):
        return numeric_drift(feature, train, served, bins=bins)
    return category_drift(feature, train, served)


def drift_table(
    train: Mapping[str, Sequence[Any]],
    served: Mapping[str, Sequence[Any]],
    types: Mapping[str, str],
    *,
    bins: int = 10,
) -> list[NumericDrift | CategoryDrift]:
    """Drift of every feature present on both sides, in the order of `types`."""
    return [
        feature_drift(ref, dtype, train[ref], served[ref], bins=bins)
        for ref, dtype in types.items()
        if ref in train and ref in served
    ]


def training_vs_served(
    registry: Any,
    reader: Any,
    relation: str,
    logged_rows: Iterable[Any],
    *,
    features: Sequence[str] | None = None,
    bins: int = 10,
    chunk_rows: int = 50_000,
) -> list[NumericDrift | CategoryDrift]:
    """Drift of every logged feature that the training relation holds (as `<column>` or
    `<view>__<column>`), between that relation and the served values of the log.

    The training set is read through the engine's offline reader (`offline.OfflineReader`:
    DuckDB, PostgreSQL, any engine with a reader): its columns from `relation_types`, then the
    matched columns in one query, streamed as Arrow batches of `chunk_rows` rows.

    Args:
        registry: the feature views (for the declared types).
        reader: the offline reader where `relation` resolves (`offline.reader_from_profile`),
            or a DuckDB connection.
        relation: the training set (a table, view or `database.schema.table`).
        logged_rows: rows of the served-feature log (`feature_log.read_feature_log`).
        features: only these feature references (default: all that match).
        bins: quantile bins for PSI.
        chunk_rows: rows per batch read from the engine.

    Raises:
        SkewlessError: the training relation cannot be read (naming it and the engine).
    """
    from skewless.errors import SkewlessError

    if not hasattr(reader, "relation_types"):  # a DuckDB connection
        from skewless.offline.duckdb import DuckDBReader

        reader = DuckDBReader(reader)
    engine = getattr(reader, "engine", "duckdb")
    try:
        cols = set(reader.relation_types(relation, relation))
    except SkewlessError as e:
        raise SkewlessError(
            f"drift: cannot read the training set {relation} ({engine}): {e}"
        ) from None
    served: dict[str, list[Any]] = {}
    for row in logged_rows:
        for ref, value in row.values.items():
            served.setdefault(ref, []).append(value)
    wanted: dict[str, tuple[str, str]] = {}  # ref -> (column, declared type)
    for ref in sorted(served):
        if features is not None and ref not in features:
            continue
        view_name, _, name = ref.rpartition(".")
        view = registry.views.get(view_name)
        if view is None or name not in view.feature_names:
            continue
        col = f"{view_name}__{name}" if f"{view_name}__{name}" in cols else name
        if col in cols:
            wanted[ref] = (col, view.feature(name).data_type)
    if not wanted:
        return []
    columns = list(dict.fromkeys(col for col, _ in wanted.values()))
    select = ", ".join(reader.quote(c) for c in columns)
    train: dict[str, list[Any]] = {c: [] for c in columns}
    for batch in reader.query(f"SELECT {select} FROM {relation}", chunk_rows):
        for i, c in enumerate(columns):
            train[c].extend(batch.column(i).to_pylist())
    return [
        feature_drift(ref, dtype, train[col], served[ref], bins=bins)
        for ref, (col, dtype) in wanted.items()
    ]
