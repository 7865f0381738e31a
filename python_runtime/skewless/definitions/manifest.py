"""Reads dbt's `target/manifest.json` into feature-view definitions, without importing dbt.

Only the fields the runtime needs are read, and unknown fields are ignored, so a dbt upgrade that
adds fields does not break serving. Invalid `meta.skewless` is a `DefinitionError` naming the
model, the key and the allowed values.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from skewless.definitions import ON_STALE_POLICIES, Feature, FeatureView
from skewless.definitions.durations import parse_duration
from skewless.errors import ColumnTypeError, DefinitionError, ManifestError, SkewlessError

__all__ = ["Manifest", "check_default", "load_manifest", "read_feature_views"]

_VIEW_KEYS = {"entity", "timestamp", "ttl", "available_after", "freshness", "on_stale"}
# Keys owned by other parts of skewless (request-time views, logging…); accepted, not validated here.
_OTHER_KEYS = {"kind", "request", "inputs", "online", "owner", "description", "tags"}


class Manifest:
    """The parts of a dbt manifest skewless uses.

    Attributes:
        path: where it was read from.
        sha256: hash of the file's bytes (pinned in training records).
        dbt_version: `metadata.dbt_version`.
        adapter_type: `metadata.adapter_type` (e.g. `duckdb`).
        project_name: `metadata.project_name`.
        nodes: `nodes`, keyed by unique id.
    """

    def __init__(self, data: Mapping[str, Any], path: Path | None = None, sha256: str = ""):
        meta = data.get("metadata") or {}
        self.path = path
        self.sha256 = sha256
        self.dbt_version: str = str(meta.get("dbt_version", ""))
        self.adapter_type: str = str(meta.get("adapter_type", ""))
        self.project_name: str = str(meta.get("project_name", ""))
        self.nodes: Mapping[str, Any] = data.get("nodes") or {}

    def models(self) -> list[Mapping[str, Any]]:
        return [n for n in self.nodes.values() if n.get("resource_type") == "model"]


def load_manifest(path: str | Path) -> Manifest:
    """Read a manifest file (or the `target/manifest.json` under a dbt project folder)."""
    p = Path(path)
    if p.is_dir():
        p = p / "target" / "manifest.json" if (p / "target").is_dir() else p / "manifest.json"
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ManifestError(
            f"no dbt manifest at {p}; run `dbt compile` (or `dbt build`) in the dbt project first"
        ) from None
    try:
        data = json.loads(raw)
    except ValueError as e:
        raise ManifestError(f"{p} is not valid JSON ({e}); rerun `dbt compile`") from None
    if not isinstance(data, dict) or "nodes" not in data:
        raise ManifestError(f"{p} is not a dbt manifest (no `nodes`); rerun `dbt compile`")
    return Manifest(data, path=p, sha256=hashlib.sha256(raw).hexdigest())


def skewless_meta(node: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """`config.meta.skewless` of a node (falling back to the node's top-level `meta`)."""
    for meta in ((node.get("config") or {}).get("meta"), node.get("meta")):
        if isinstance(meta, Mapping) and "skewless" in meta:
            return meta["skewless"]  # type: ignore[no-any-return]
    return None


def column_meta(column: Mapping[str, Any]) -> Mapping[str, Any]:
    for meta in ((column.get("config") or {}).get("meta"), column.get("meta")):
        if isinstance(meta, Mapping) and isinstance(meta.get("skewless"), Mapping):
            return meta["skewless"]  # type: ignore[no-any-return]
    return {}


def _normalise_sql(sql: str) -> str:
    """Compiled SQL without comments or layout, so whitespace edits keep the version."""
    try:
        import sqlglot

        return sqlglot.parse_one(sql, read="duckdb").sql(dialect="duckdb", comments=False)
    except Exception:
        no_comments = re.sub(r"--[^\n]*|/\*.*?\*/", " ", sql, flags=re.S)
        return " ".join(no_comments.split())


def definition_version(
    compiled_sql: str, meta: Mapping[str, Any], columns: list[tuple[str, str, Any]]
) -> str:
    """A short hash of what a view's values depend on: its SQL, its skewless meta and column types."""
    payload = json.dumps(
        {"sql": _normalise_sql(compiled_sql), "meta": meta, "columns": columns},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def _duration(model: str, key: str, value: Any, *, allow_none: bool) -> timedelta | None:
    if value is None and allow_none:
        return None
    try:
        return parse_duration(value)
    except ValueError as e:
        raise DefinitionError(f"model `{model}`: meta.skewless.{key}: {e}") from None


def check_default(feature: Feature) -> Any:
    """The value a column `default` is served as, checked against the column's declared type.

    The default goes through the conversion serving applies to it (`online.codec.coerce_default`)
    and then through the request-time compiler's typed input conversion of the declared type
    (`skewless.sql`: integer ranges, DECIMAL width and scale), which must accept it unchanged —
    so `4.7` for a bigint, `'abc'` for an integer, `300` for a tinyint, `1.234` for a
    decimal(10,2) or `'2024-13-01'` for a date fail when definitions load, never at a request.

    Raises:
        ColumnTypeError: naming model, column, default and type.
    """
    from skewless.online import codec

    where = f"model `{feature.view}`, column `{feature.name}`"
    value = feature.default
    fix = "write a default of the column's type, or change the column's data_type"

    def refuse(why: str) -> ColumnTypeError:
        return ColumnTypeError(
            f"{where}: meta.skewless.default {value!r} does not fit data_type "
            f"{feature.data_type} ({why}) — {fix}"
        )

    kind = codec.column_kind(feature.view, feature.name, feature.data_type)
    try:
        served = codec.coerce_default(kind, value, where)
    except DefinitionError as e:
        raise refuse(str(e).partition(f"({kind}): ")[2] or str(e)) from None
    if served is None:
        return None
    from skewless.sql import compile_expression

    try:
        typed = compile_expression("x", {"x": feature.data_type})
    except SkewlessError:
        return served  # a type request-time SQL does not know (TIME, BLOB…): the codec decides
    try:
        converted = typed({"x": served})
    except SkewlessError as e:
        why = str(e)
        for said, say in (("input 'x' = ", ""), ("input 'x': ", ""), ("input 'x' ", "it ")):
            why = why.replace(said, say)
        raise refuse(why) from None
    if kind in ("int", "bigint", "decimal") and converted != served:
        raise refuse(f"it would be stored as {converted}")
    return served


def _feature_view(node: Mapping[str, Any], meta: Mapping[str, Any]) -> FeatureView:
    name = str(node.get("name"))
    if not isinstance(meta, Mapping):
        raise DefinitionError(f"model `{name}`: meta.skewless must be a mapping, got {meta!r}")
    unknown = set(meta) - _VIEW_KEYS - _OTHER_KEYS
    if unknown:
        raise DefinitionError(
            f"model `{name}`: unknown key(s) {sorted(unknown)} in meta.skewless; "
            f"allowed: {sorted(_VIEW_KEYS)}"
        )
    entity_raw = meta.get("entity")
    if isinstance(entity_raw, str) and entity_raw:
        entity: tuple[str, ...] = (entity_raw,)
    elif (
        isinstance(entity_raw, list)
        and entity_raw
        and all(isinstance(e, str) and e for e in entity_raw)
    ):
        entity = tuple(entity_raw)
    else:
        raise DefinitionError(
            f"model `{name}`: meta.skewless.entity must be a column name or a list of column names "
            f"(e.g. `user_id` or `[user_id, merchant_id]`), got {entity_raw!r}"
        )
    if len(set(entity)) != len(entity):
        raise DefinitionError(
            f"model `{name}`: meta.skewless.entity repeats a column: {list(entity)}"
        )
    timestamp = meta.get("timestamp")
    if not isinstance(timestamp, str) or not timestamp:
        raise DefinitionError(
            f"model `{name}`: meta.skewless.timestamp must name the column saying from when a row's "
            f"values hold, got {timestamp!r}"
        )
    if timestamp in entity:
        raise DefinitionError(
            f"model `{name}`: meta.skewless.timestamp `{timestamp}` is also an entity column"
        )
    ttl = _duration(name, "ttl", meta.get("ttl"), allow_none=True)
    available_after = _duration(
        name, "available_after", meta.get("available_after", "0s"), allow_none=False
    )
    freshness = _duration(name, "freshness", meta.get("freshness"), allow_none=True)
    on_stale = meta.get("on_stale", "serve")
    if on_stale not in ON_STALE_POLICIES:
        raise DefinitionError(
            f"model `{name}`: meta.skewless.on_stale is {on_stale!r}; allowed: {', '.join(ON_STALE_POLICIES)}"
        )
    if on_stale != "serve" and freshness is None:
        raise DefinitionError(
            f"model `{name}`: meta.skewless.on_stale is {on_stale!r} but no `freshness` SLA is set; "
            "add e.g. `freshness: 2h`"
        )

    columns: Mapping[str, Any] = node.get("columns") or {}
    types = {c: str((spec or {}).get("data_type") or "").strip() for c, spec in columns.items()}
    missing_keys = [c for c in (*entity, timestamp) if c not in columns]
    if missing_keys:
        raise DefinitionError(
            f"model `{name}`: column(s) {missing_keys} named in meta.skewless are not declared; "
            f"declare every column with its data_type in the model's YAML (columns: - name: …, data_type: …)"
        )
    features = []
    for col, spec in columns.items():
        if col in entity or col == timestamp:
            continue
        if not types[col]:
            raise DefinitionError(
                f"model `{name}`, column `{col}`: no data_type; declare it in the model's YAML "
                "(e.g. `data_type: double`) — serving and request-time features are typed"
            )
        cmeta = column_meta(spec or {})
        features.append(
            Feature(
                view=name,
                name=col,
                data_type=types[col],
                default=cmeta.get("default"),
                has_default="default" in cmeta,
                description=str((spec or {}).get("description") or ""),
            )
        )
    if not features:
        raise DefinitionError(
            f"model `{name}`: no feature columns declared besides the keys and timestamp"
        )
    for f in features:
        if f.default is not None:
            check_default(f)
    if on_stale == "default":
        no_default = [f.name for f in features if not f.has_default]
        if no_default:
            raise DefinitionError(
                f"model `{name}`: on_stale is `default` but column(s) {no_default} have no "
                "meta.skewless.default; add one per column or choose on_stale: null"
            )

    compiled = node.get("compiled_code") or node.get("compiled_sql")
    if not compiled:
        raise DefinitionError(
            f"model `{name}`: the manifest holds no compiled SQL for it; run `dbt compile` (or "
            "`dbt build`) for the whole project so every feature view is compiled"
        )
    col_sig = [(c, types[c], column_meta(columns[c] or {}).get("default")) for c in columns]
    version = definition_version(compiled, dict(meta), col_sig)
    relation = node.get("relation_name") or ""
    return FeatureView(
        name=name,
        unique_id=str(node.get("unique_id", "")),
        relation_name=str(relation),
        entity=entity,
        entity_types=tuple(types[c] for c in entity),
        timestamp=timestamp,
        ttl=ttl,
        available_after=available_after or timedelta(0),
        freshness=freshness,
        on_stale=on_stale,
        features=tuple(features),
        version=version,
        compiled_sql=compiled,
        database=str(node.get("database") or ""),
        schema=str(node.get("schema") or ""),
        alias=str(node.get("alias") or name),
        timestamp_type=types[timestamp],
    )


def is_feature_view(node: Mapping[str, Any]) -> bool:
    meta = skewless_meta(node)
    return (
        node.get("resource_type") == "model"
        and meta is not None
        and (not isinstance(meta, Mapping) or meta.get("kind", "feature_view") == "feature_view")
    )


#: `meta.skewless.request_timestamp` of an on-demand view: what a request without its timestamp
#: field gets - `error` (the default) or `now` (the serving time).
REQUEST_TIMESTAMP_POLICIES = ("error", "now")


def request_timestamp_policy(model: str, meta: Mapping[str, Any]) -> str:
    """The validated `meta.skewless.request_timestamp` of an on-demand view (default `error`).

    Raises:
        DefinitionError: naming the model, the key and the allowed values.
    """
    value = meta.get("request_timestamp", "error")
    if not isinstance(value, str) or value not in REQUEST_TIMESTAMP_POLICIES:
        raise DefinitionError(
            f"model `{model}`: meta.skewless.request_timestamp is {value!r}; allowed: error (the "
            "default: a request must carry its timestamp field), now (use the serving time)"
        )
    return value


def is_on_demand(node: Mapping[str, Any]) -> bool:
    """A model with `meta.skewless.kind: on_demand` (a request-time view, see `ondemand.py`)."""
    meta = skewless_meta(node)
    return isinstance(meta, Mapping) and meta.get("kind") == "on_demand"


def read_feature_views(manifest: Manifest) -> dict[str, FeatureView]:
    """Every model with `meta.skewless` (kind `feature_view`, the default), validated, by name."""
    views: dict[str, FeatureView] = {}
    for node in manifest.models():
        meta = skewless_meta(node)
        kind = meta.get("kind", "feature_view") if isinstance(meta, Mapping) else "feature_view"
        if kind not in ("feature_view", "on_demand"):
            raise DefinitionError(
                f"model `{node.get('name')}`: meta.skewless.kind is {kind!r}; allowed: "
                "feature_view (the default), on_demand"
            )
        if not is_feature_view(node):
            continue
        view = _feature_view(node, skewless_meta(node))  # type: ignore[arg-type]
        if view.name in views:
            raise DefinitionError(
                f"two feature views are named `{view.name}` ({views[view.name].unique_id}, "
                f"{view.unique_id}); feature names must be unique — rename one model"
            )
        views[view.name] = view
    return views
