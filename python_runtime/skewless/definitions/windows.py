"""Window-aggregation views: models with `meta.skewless.kind: window` (docs/windows.md).

Read from the manifest with the rules of the dbt package's `skewless._window_view_definition`
(macros/window_join.sql), with the same messages. The offline aggregates come from
`skewless.window_join`; online they are served by `skewless.online.windows`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from skewless.definitions.durations import format_duration, parse_duration
from skewless.definitions.views import Feature, HasFeatures
from skewless.errors import DefinitionError, SkewlessError, brief

if TYPE_CHECKING:
    from skewless.definitions.manifest import Manifest, Problem

__all__ = [
    "WINDOW_FUNCTIONS",
    "WindowAggregate",
    "WindowView",
    "is_window_view",
    "read_window_view",
    "read_window_views",
]

#: How long after a load its window values stay exact online when `horizon` is not declared.
DEFAULT_HORIZON = timedelta(days=1)

#: The aggregate functions a window view may declare.
WINDOW_FUNCTIONS = ("count", "sum", "avg", "min", "max", "last", "count_distinct")

_KEYS = (
    "kind",
    "entity",
    "timestamp",
    "available_after",
    "windows",
    "aggregations",
    "horizon",
    "hop",
    "event_id",
    "owner",
    "description",
    "tags",
)


@dataclass(frozen=True)
class WindowAggregate:
    """One output column: `function` of `column` over the window `window` (`*`: every event).

    Attributes:
        name: the output column, `<column>_<function>_<window>` (`events_count_<window>` for `*`).
        column: the aggregated column, or `*` with `count`.
        function: one of `WINDOW_FUNCTIONS`.
        window: the window as written (`7d`).
        length: the window as a duration.
    """

    name: str
    column: str
    function: str
    window: str
    length: timedelta


_FLOATS = {"FLOAT", "FLOAT4", "FLOAT8", "REAL", "DOUBLE", "DOUBLE PRECISION"}


def decimal_scale(data_type: str) -> int | None:
    """The scale of a DECIMAL/NUMERIC type (DuckDB: `DECIMAL` = (18,3), `DECIMAL(p)` = (p,0)),
    None for any other type."""
    base, _, inside = data_type.strip().upper().partition("(")
    if base.strip() not in ("DECIMAL", "NUMERIC"):
        return None
    parts = [p.strip() for p in inside.rstrip(") ").split(",")] if inside else []
    if len(parts) == 2:
        return int(parts[1])
    return 3 if not parts else 0


def output_type(function: str, data_type: str) -> str:
    """The DuckDB type `skewless.window_join` gives `function` of a column of `data_type`."""
    if function in ("count", "count_distinct"):
        return "BIGINT"
    if function == "avg":
        return "DOUBLE"
    if function == "sum":
        if data_type.strip().upper() in _FLOATS:
            return "DOUBLE"
        scale = decimal_scale(data_type)
        return "HUGEINT" if scale is None else f"DECIMAL(38,{scale})"
    return data_type


@dataclass(frozen=True)
class WindowView(HasFeatures):
    """A model whose events are aggregated over sliding windows (`meta.skewless.kind: window`).

    At a spine instant q a window W holds the events with `q - W < timestamp <= q -
    available_after`; with a `hop` H, `floor_H(q - W) < timestamp <= q - available_after`, where
    floor_H rounds down to a multiple of H since the Unix epoch (UTC): the window's start moves
    in steps of H, so it spans from W to just under W + H.

    Attributes:
        name: the model name.
        entity: key column(s), in the declared order.
        timestamp: the event time column.
        available_after: the lag before an event can be seen.
        windows: the windows as written, in the declared order.
        aggregates: the output columns, in the macro's order (per aggregation entry, per
            function, per window).
        hop: the step of the windows' start (None: exact sliding windows).
    """

    name: str
    entity: tuple[str, ...]
    timestamp: str
    available_after: timedelta
    windows: tuple[str, ...]
    aggregates: tuple[WindowAggregate, ...]
    horizon: timedelta = DEFAULT_HORIZON
    event_id: str = ""
    hop: timedelta | None = None
    column_types: tuple[tuple[str, str], ...] = ()
    unique_id: str = ""
    relation_name: str = ""
    version: str = ""
    compiled_sql: str = field(default="", repr=False, compare=False)

    def column_type(self, column: str) -> str:
        """The declared `data_type` of a column ("" when undeclared)."""
        for c, t in self.column_types:
            if c.lower() == column.lower():
                return t
        return ""

    @property
    def features(self) -> tuple[Feature, ...]:  # type: ignore[override]
        """One feature per output column, typed as `window_join` types it on DuckDB."""
        return tuple(
            Feature(
                self.name,
                a.name,
                "BIGINT"
                if a.column == "*"
                else output_type(a.function, self.column_type(a.column)),
            )
            for a in self.aggregates
        )

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.output_names

    @property
    def lengths(self) -> tuple[timedelta, ...]:
        """The windows as durations, in the declared order."""
        by_name = {a.window: a.length for a in self.aggregates}
        return tuple(by_name[w] for w in self.windows)

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.aggregates)


def is_window_view(meta: object) -> bool:
    """Whether a `meta.skewless` declares a window view (`kind: window`)."""
    return isinstance(meta, Mapping) and meta.get("kind") == "window"


def _durations(
    name: str, raw: Any, after: timedelta, hop: timedelta | None
) -> list[tuple[str, timedelta]]:
    if isinstance(raw, (str, Mapping)) or not isinstance(raw, list) or not raw:
        raise DefinitionError(
            f"model `{name}`: meta.skewless.windows must be a non-empty list of durations, e.g. "
            f"`[1h, 1d, 7d]`, got {brief(raw)}"
        )
    out: list[tuple[str, timedelta]] = []
    for i, w in enumerate(raw):
        try:
            length = parse_duration(w)
        except ValueError:
            length = timedelta(0)
        if not length:
            raise DefinitionError(
                f"model `{name}`: meta.skewless.windows[{i}] is {brief(w)}, not a positive "
                "duration; write a whole number and a unit: 15m, 1h, 1d, 7d (or a sum such as 1h30m)"
            )
        same = [t for t, d in out if d == length]
        if same:
            raise DefinitionError(
                f"model `{name}`: meta.skewless.windows lists the same window twice ({same[0]} and "
                f"{w}); remove one"
            )
        if hop is not None and length < hop:
            raise DefinitionError(
                f"model `{name}`: window {w} is shorter than hop ({format_duration(hop)}); use a hop no "
                "longer than the shortest window"
            )
        if length <= after:
            raise DefinitionError(
                f"model `{name}`: window {w} is not longer than available_after, so it would "
                "always be empty; use a longer window or a shorter available_after"
            )
        out.append((str(w).strip(), length))
    return out


def read_window_view(node: Mapping[str, Any], meta: Mapping[str, Any]) -> WindowView:
    """The window view of a model node whose `meta.skewless` says `kind: window`.

    Raises:
        DefinitionError: naming the model, the key and the fix.
    """
    name = str(node.get("name"))
    unknown = sorted(str(k) for k in meta if k not in _KEYS)
    if unknown:
        raise DefinitionError(
            f"model `{name}`: unknown key(s) {unknown} in meta.skewless of a window view; "
            f"allowed: {', '.join(_KEYS)} (a window view has no ttl: its windows bound what it sees)"
        )
    entity_raw = meta.get("entity")
    entity: tuple[str, ...]
    if isinstance(entity_raw, str) and entity_raw:
        entity = (entity_raw,)
    elif (
        isinstance(entity_raw, list)
        and entity_raw
        and all(isinstance(e, str) and e for e in entity_raw)
        and len(set(entity_raw)) == len(entity_raw)
    ):
        entity = tuple(entity_raw)
    else:
        raise DefinitionError(
            f"model `{name}`: meta.skewless.entity must be a column name or a list of distinct "
            f"column names (e.g. `user_id` or `[user_id, merchant_id]`), got {brief(entity_raw)}"
        )
    timestamp = meta.get("timestamp")
    if not isinstance(timestamp, str) or not timestamp or timestamp in entity:
        raise DefinitionError(
            f"model `{name}`: meta.skewless.timestamp must name the event time column (not an "
            f"entity column), got {brief(timestamp)}"
        )
    try:
        after = parse_duration(meta.get("available_after", "0s"))
    except ValueError as e:
        raise DefinitionError(f"model `{name}`: meta.skewless.available_after: {e}") from None
    hop: timedelta | None = None
    if meta.get("hop") is not None:
        try:
            hop = parse_duration(meta.get("hop"))
        except ValueError:
            hop = timedelta(0)
        if not hop:
            raise DefinitionError(
                f"model `{name}`: meta.skewless.hop is {meta.get('hop')}, not a positive duration "
                "(the step in which every window's start moves, e.g. `5m` or `1h`); write a "
                "whole number and a unit or drop it"
            )
    windows = _durations(name, meta.get("windows"), after, hop)
    try:
        horizon = parse_duration(meta.get("horizon", "1d"))
    except ValueError:
        horizon = timedelta(0)
    if not horizon:
        raise DefinitionError(
            f"model `{name}`: meta.skewless.horizon is {meta.get('horizon')}, not a positive "
            "duration (how long after a load the online window values stay exact, e.g. `1d`: "
            "load at least that often)"
        )

    columns = node.get("columns") or {}
    declared = {str(c).lower() for c in columns} if isinstance(columns, Mapping) else set()
    event_id = meta.get("event_id", "")
    if event_id != "" and (
        not isinstance(event_id, str) or not event_id or event_id in (*entity, timestamp)
    ):
        raise DefinitionError(
            f"model `{name}`: meta.skewless.event_id must name the column that identifies an "
            f"event (not an entity or the timestamp column), got {brief(event_id)}"
        )
    for c in (*entity, timestamp, *([event_id] if event_id else [])):
        if declared and c.lower() not in declared:
            raise DefinitionError(
                f"model `{name}`: column `{c}` named in meta.skewless is not declared in the "
                "model's YAML; declare it or fix meta.skewless"
            )
    aggs_raw = meta.get("aggregations")
    if isinstance(aggs_raw, (str, Mapping)) or not isinstance(aggs_raw, list) or not aggs_raw:
        raise DefinitionError(
            f"model `{name}`: meta.skewless.aggregations must be a non-empty list of "
            "{column: <column>, functions: [...]}, e.g. `[{column: amount, functions: [count, "
            f"sum]}}]`, got {brief(aggs_raw)}"
        )
    aggregates: list[WindowAggregate] = []
    bases: set[str] = set()
    for i, agg in enumerate(aggs_raw):
        at = f"model `{name}`: meta.skewless.aggregations[{i}]"
        if not isinstance(agg, Mapping) or set(agg) - {"column", "functions"}:
            raise DefinitionError(
                f"{at} must be a mapping with keys column and functions, e.g. {{column: amount, "
                f"functions: [sum, max]}}, got {brief(agg)}"
            )
        column, functions = agg.get("column"), agg.get("functions")
        if not isinstance(column, str) or not column:
            raise DefinitionError(
                f"{at}: `column` must name a column of the model (or be '*' with functions "
                f"[count]), got {brief(column)}"
            )
        if (
            isinstance(functions, (str, Mapping))
            or not isinstance(functions, list)
            or not functions
        ):
            raise DefinitionError(
                f"{at}: `functions` must be a non-empty list of {', '.join(WINDOW_FUNCTIONS)}, "
                f"got {brief(functions)}"
            )
        if column == "*" and functions != ["count"]:
            raise DefinitionError(
                f"{at}: column '*' takes only functions [count] (the number of events, output "
                f"`events_count_<window>`), got {brief(functions)}"
            )
        if column != "*" and declared and column.lower() not in declared:
            raise DefinitionError(
                f"{at}: column `{column}` is not declared in the model's YAML; declare it or fix "
                "the name"
            )
        for fn in functions:
            if fn not in WINDOW_FUNCTIONS:
                raise DefinitionError(
                    f"{at}: unknown function {brief(fn)}; allowed: {', '.join(WINDOW_FUNCTIONS)}"
                )
            base = "events_count" if column == "*" else f"{column}_{fn}"
            if base.lower() in bases:
                raise DefinitionError(
                    f"{at}: `{fn}` of `{column}` is declared twice (output {base}_<window>); "
                    "remove one"
                )
            bases.add(base.lower())
            aggregates += [
                WindowAggregate(f"{base}_{w}", column, fn, w, length) for w, length in windows
            ]
    types: list[tuple[str, str]] = []
    if isinstance(columns, Mapping):
        for c, spec in columns.items():
            dt = spec.get("data_type") if isinstance(spec, Mapping) else None
            types.append((str(c), str(dt or "")))
    compiled = str(node.get("compiled_code") or node.get("compiled_sql") or "")
    version = ""
    if compiled:
        from skewless.definitions.manifest import definition_version

        version = definition_version(compiled, dict(meta), [(c, t, None) for c, t in types])
    return WindowView(
        name=name,
        entity=entity,
        timestamp=timestamp,
        available_after=after,
        windows=tuple(w for w, _ in windows),
        aggregates=tuple(aggregates),
        horizon=horizon,
        event_id=event_id,
        hop=hop,
        column_types=tuple(types),
        unique_id=str(node.get("unique_id") or ""),
        relation_name=str(node.get("relation_name") or ""),
        version=version,
        compiled_sql=compiled,
    )


def read_window_views(
    manifest: Manifest, problems: dict[str, Problem] | None = None
) -> dict[str, WindowView]:
    """Every model with `meta.skewless.kind: window`, validated, by name.

    Args:
        manifest: the dbt manifest.
        problems: where to record the invalid definitions (kind `window`) and read on; None
            raises the first one.
    """
    from skewless.definitions.manifest import (
        MALFORMED,
        Problem,
        check_node,
        malformed,
        skewless_meta,
    )

    views: dict[str, WindowView] = {}
    for node in manifest.models():
        meta = skewless_meta(node)
        if not is_window_view(meta):
            continue
        name = str(node.get("name"))
        try:
            check_node(node)
            if name in views:
                raise DefinitionError(
                    f"two window views are named `{name}`; view names must be unique — rename one model"
                )
            views[name] = read_window_view(node, meta)  # type: ignore[arg-type]
        except SkewlessError as e:
            if problems is None:
                raise
            problems.setdefault(name, Problem(name, "window", e))
        except MALFORMED as e:
            if problems is None:
                raise malformed(name, e) from None
            problems.setdefault(name, Problem(name, "window", malformed(name, e)))
    return views
