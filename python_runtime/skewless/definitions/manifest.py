"""Reads dbt's `target/manifest.json` into feature-view definitions, without importing dbt.

Only the fields the runtime needs are read, and unknown fields are ignored, so a dbt upgrade that
adds fields does not break serving. Invalid `meta.skewless` is a `DefinitionError` naming the
model, the key and the allowed values.

The readers either raise the first invalid definition (`problems=None`) or record it as a
`Problem` of that view and read on, so one broken model disables only itself (see `registry.py`).

The manifest is input like any other: a malformed top level (not JSON, `nodes` not a mapping,
past `MAX_MANIFEST_BYTES`) is a `ManifestError`; a malformed model node (a `config` or `columns`
of the wrong shape, a duration past `MAX_DURATION`, meta nested past `MAX_META_DEPTH`, a
compiled SQL past the limits of `ondemand.py`) is a `DefinitionError` naming the model and the
field — a problem of that view only. See `docs/limits.md`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from skewless.definitions import ON_STALE_POLICIES, Feature, FeatureView
from skewless.definitions.durations import parse_duration
from skewless.errors import (
    ColumnTypeError,
    DefinitionError,
    ManifestError,
    NotCompiledError,
    SkewlessError,
    brief,
)

__all__ = ["Manifest", "Problem", "check_default", "load_manifest", "read_feature_views"]

#: Largest manifest read, in bytes (`SKEWLESS_MAX_MANIFEST_BYTES` overrides): dbt writes a few
#: hundred MB for the largest projects; parsing takes about 10x the file's size in memory.
MAX_MANIFEST_BYTES = 512 * 1024 * 1024
#: Deepest nesting of a model's `meta.skewless` (and of a column's).
MAX_META_DEPTH = 32
#: Compiled SQL longer than this is normalised for the version without parsing it (sqlglot
#: takes about 4 s per MB, superlinear on some shapes): comments and layout only.
MAX_NORMALISED_SQL_CHARS = 256 * 1024

#: Longest model or column name read (BigQuery allows 300; most warehouses far fewer).
_MAX_NAME_CHARS = 300
_MAX_TYPE_CHARS = 256  # a column's data_type (`decimal(38, 10)`; feature types are scalar)

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
        sources: `sources`, keyed by unique id (read for lineage only).
    """

    def __init__(self, data: Mapping[str, Any], path: Path | None = None, sha256: str = ""):
        self.path = path
        if not isinstance(data, Mapping):
            raise ManifestError(
                f"{self.where} is not a dbt manifest (a JSON {type(data).__name__}, not an "
                "object); rerun `dbt compile`"
            )
        meta = data.get("metadata")
        meta = meta if isinstance(meta, Mapping) else {}
        self.sha256 = sha256
        self.dbt_version: str = str(meta.get("dbt_version", ""))
        self.adapter_type: str = str(meta.get("adapter_type", ""))
        self.project_name: str = str(meta.get("project_name", ""))
        nodes = data.get("nodes")
        if nodes is None:
            nodes = {}
        if not isinstance(nodes, Mapping):
            raise ManifestError(
                f"{self.where}: `nodes` is a {type(nodes).__name__}, not a mapping of unique ids "
                "to nodes; the file is not a dbt manifest (or was damaged) — rerun `dbt compile`"
            )
        self.nodes: Mapping[str, Any] = nodes
        sources = data.get("sources")
        #: `sources`, keyed by unique id (empty when absent or not a mapping: only lineage
        #: reads it, so a malformed one never stops serving)
        self.sources: Mapping[str, Any] = sources if isinstance(sources, Mapping) else {}
        #: model unique id → what is wrong with its node (not a mapping, `name` missing…), as
        #: found by the last `models()`
        self.malformed: dict[str, str] = {}

    def models(self) -> list[Mapping[str, Any]]:
        """The model nodes (each a mapping with a string `name`); malformed model nodes are left
        out and listed in `malformed`."""
        models = []
        self.malformed = {}
        for uid, node in self.nodes.items():
            model_id = isinstance(uid, str) and uid.startswith("model.")
            if not isinstance(node, Mapping):
                if model_id:
                    self.malformed[uid] = (
                        f"node `{brief(uid)[1:-1]}` is a {type(node).__name__}, not a mapping"
                    )
                continue
            if node.get("resource_type") != "model":
                continue
            name = node.get("name")
            if not isinstance(name, str) or not name or len(name) > _MAX_NAME_CHARS:
                self.malformed[str(uid)] = (
                    f"node `{brief(str(uid))[1:-1]}` has no `name` (got {brief(node.get('name'))})"
                )
                continue
            models.append(node)
        return models

    def node(self, unique_id: str) -> Mapping[str, Any] | None:
        """The node (model, seed, snapshot…) or source `unique_id`; None when absent or
        malformed."""
        node = self.nodes.get(unique_id)
        if node is None:
            node = self.sources.get(unique_id)
        return node if isinstance(node, Mapping) else None

    def parents(self, unique_id: str) -> list[str]:
        """The unique ids a node depends on (`depends_on.nodes`: models, seeds, sources…), in
        the manifest's order; empty for a source, an absent node or a malformed `depends_on`."""
        node = self.node(unique_id)
        depends = node.get("depends_on") if node is not None else None
        parents = depends.get("nodes") if isinstance(depends, Mapping) else None
        if not isinstance(parents, list):
            return []
        return [p for p in parents if isinstance(p, str)]

    @property
    def where(self) -> str:
        """The manifest as a dbt user knows it (`target/manifest.json`), for messages."""
        if self.path is None:
            return "target/manifest.json"
        return (
            f"{self.path.parent.name}/{self.path.name}" if self.path.parent.name else self.path.name
        )


@dataclass(frozen=True)
class Problem:
    """Why a view is disabled: its definition could not be read, or it reads a disabled view.

    Attributes:
        view: the model's name.
        kind: `feature_view`, `on_demand` or `window`.
        error: what reading the definition raised (the error strict mode raises), naming the
            model, column or construct and the fix.
        disabled_by: for a request-time view disabled because an input feature view it reads
            is disabled, that view's name ("" otherwise).
    """

    view: str
    kind: str
    error: SkewlessError = field(compare=False)
    disabled_by: str = ""

    @property
    def message(self) -> str:
        return str(self.error)


def not_compiled(name: str, manifest: Manifest | None) -> NotCompiledError:
    """The error of a model dbt did not compile in this manifest (a partial build, slim CI)."""
    where = manifest.where if manifest is not None else "target/manifest.json"
    return NotCompiledError(
        f"model `{name}` has no compiled SQL in {where} — run `dbt compile` or "
        f"`dbt build -s {name}` (dbt compiles only the models a command selects)"
    )


def load_manifest(path: str | Path) -> Manifest:
    """Read a manifest file (or the `target/manifest.json` under a dbt project folder)."""
    p = Path(path)
    if p.is_dir():
        p = p / "target" / "manifest.json" if (p / "target").is_dir() else p / "manifest.json"
    limit = _max_manifest_bytes()
    try:
        size = p.stat().st_size
        if size > limit:
            raise ManifestError(
                f"{p} is {size:,} bytes, past the limit of {limit:,} (MAX_MANIFEST_BYTES); "
                "raise it with SKEWLESS_MAX_MANIFEST_BYTES if the project is that large"
            )
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ManifestError(
            f"no dbt manifest at {p}; run `dbt compile` (or `dbt build`) in the dbt project first"
        ) from None
    except OSError as e:
        raise ManifestError(f"cannot read the dbt manifest {p}: {e.strerror or e}") from None
    try:
        data = json.loads(raw)
    except ValueError as e:
        raise ManifestError(
            f"{p} is not valid JSON ({brief(str(e))}); rerun `dbt compile`"
        ) from None
    except RecursionError:
        raise ManifestError(
            f"{p} nests JSON deeper than the reader allows (about 1,000 levels; dbt writes about "
            "10); the file was damaged — rerun `dbt compile`"
        ) from None
    if not isinstance(data, dict) or "nodes" not in data:
        raise ManifestError(f"{p} is not a dbt manifest (no `nodes`); rerun `dbt compile`")
    return Manifest(data, path=p, sha256=hashlib.sha256(raw).hexdigest())


def _max_manifest_bytes() -> int:
    text = os.environ.get("SKEWLESS_MAX_MANIFEST_BYTES", "").strip()
    if not text:
        return MAX_MANIFEST_BYTES
    try:
        return int(text)
    except ValueError:
        raise ManifestError(
            f"SKEWLESS_MAX_MANIFEST_BYTES is {brief(text)}; give a number of bytes"
        ) from None


def _mapping_or_none(node: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any] | None:
    """`node[key]` when it is a mapping (None when absent or null).

    Raises:
        DefinitionError: it is something else, naming `where` and the field.
    """
    value = node.get(key)
    if value is None or isinstance(value, Mapping):
        return value
    raise DefinitionError(
        f"{where}: `{key}` in the manifest is a {type(value).__name__} ({brief(value)}), not a "
        "mapping; the manifest was not written by dbt (or was damaged) — rerun `dbt compile`"
    )


def _check_depth(value: Any, where: str, depth: int = 0) -> None:
    """Refuse meta nested deeper than MAX_META_DEPTH (a definition's version hashes it)."""
    if depth > MAX_META_DEPTH:
        raise DefinitionError(
            f"{where}: nested deeper than {MAX_META_DEPTH} levels (MAX_META_DEPTH); "
            "meta.skewless holds flat settings"
        )
    if isinstance(value, Mapping):
        for v in value.values():
            _check_depth(v, where, depth + 1)
    elif isinstance(value, list):
        for v in value:
            _check_depth(v, where, depth + 1)


def skewless_meta(node: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """`config.meta.skewless` of a node (falling back to the node's top-level `meta`); a
    `config` that is not a mapping holds none (`check_node` reports it)."""
    config = node.get("config")
    for meta in (config.get("meta") if isinstance(config, Mapping) else None, node.get("meta")):
        if isinstance(meta, Mapping) and "skewless" in meta:
            return meta["skewless"]  # type: ignore[no-any-return]
    return None


def column_meta(column: Mapping[str, Any]) -> Mapping[str, Any]:
    if not isinstance(column, Mapping):
        return {}
    config = column.get("config")
    for meta in (config.get("meta") if isinstance(config, Mapping) else None, column.get("meta")):
        if isinstance(meta, Mapping) and isinstance(meta.get("skewless"), Mapping):
            return meta["skewless"]  # type: ignore[no-any-return]
    return {}


def check_node(node: Mapping[str, Any]) -> None:
    """Refuse the malformed shapes of a model node's fields skewless reads (`config`,
    `config.meta`, `columns`, each column, `compiled_code`), naming the model and the field.

    Raises:
        DefinitionError: the first malformed field.
    """
    name = str(node.get("name"))
    where = f"model `{name}`"
    config = _mapping_or_none(node, "config", where)
    if config is not None:
        _mapping_or_none(config, "meta", f"{where}, config")
    columns = _mapping_or_none(node, "columns", where)
    for col, spec in (columns or {}).items():
        cwhere = f"{where}, column `{brief(col)[1:-1]}`"
        if not isinstance(col, str) or len(col) > _MAX_NAME_CHARS:
            raise DefinitionError(
                f"{cwhere}: a column name of {len(str(col)):,} characters; names are at most "
                f"{_MAX_NAME_CHARS}"
            )
        if spec is not None and not isinstance(spec, Mapping):
            raise DefinitionError(
                f"{cwhere}: its entry in the manifest is a {type(spec).__name__} "
                f"({brief(spec)}), not a mapping — rerun `dbt compile`"
            )
        dtype = (spec or {}).get("data_type")
        if dtype is not None and (not isinstance(dtype, str) or len(dtype) > _MAX_TYPE_CHARS):
            raise DefinitionError(
                f"{cwhere}: data_type is {brief(dtype)}, not a type name such as `bigint` "
                f"(at most {_MAX_TYPE_CHARS} characters)"
            )
        if isinstance(spec, Mapping):
            _mapping_or_none(spec, "config", cwhere)
            _check_depth(column_meta(spec), f"{cwhere}: meta.skewless")
    for key in ("compiled_code", "compiled_sql", "relation_name"):
        value = node.get(key)
        if value is not None and not isinstance(value, str):
            raise DefinitionError(
                f"{where}: `{key}` in the manifest is a {type(value).__name__}, not text — "
                "rerun `dbt compile`"
            )
    meta = skewless_meta(node)
    if meta is not None:
        _check_depth(meta, f"{where}: meta.skewless")


def _normalise_sql(sql: str) -> str:
    """Compiled SQL without comments or layout, so whitespace edits keep the version. SQL past
    MAX_NORMALISED_SQL_CHARS (or that sqlglot cannot parse) loses only comments and layout."""
    if len(sql) <= MAX_NORMALISED_SQL_CHARS:
        try:
            import sqlglot

            return sqlglot.parse_one(sql, read="duckdb").sql(dialect="duckdb", comments=False)
        except Exception:  # RecursionError too: deep nesting
            pass
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
            f"{where}: meta.skewless.default {brief(value)} does not fit data_type "
            f"{feature.data_type} ({why}) — {fix}"
        )

    kind = codec.column_kind(feature.view, feature.name, feature.data_type)
    try:
        served = codec.coerce_default(kind, value, where)
    except DefinitionError as e:
        raise refuse(str(e).partition(f"({kind}): ")[2] or str(e)) from None
    except (ArithmeticError, ValueError, TypeError):  # Decimal('x'), a list…
        raise refuse("not a value of the type") from None
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


def _cut(text: str, limit: int = 120) -> str:
    """`text` for a message in backticks: at most `limit` characters, then `…`."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} chars)"


def _check_not_cut(model: str, column: str, data_type: str, spec: Mapping[str, Any]) -> None:
    """Refuse a `data_type` YAML cut at a comma: `{name: x, data_type: decimal(10,2)}` in flow
    style is the data_type `decimal(10` plus a key `2)` (dbt keeps both in the manifest).

    Raises:
        DefinitionError: naming the model, the column, what YAML made of the type and the fix.
    """
    if data_type.count("(") == data_type.count(")"):
        return
    rest = [str(k) for k in spec if str(k).endswith(")") and str(k) != data_type]
    shown = _cut(data_type)
    meant = _cut(f"{data_type},{rest[0]}" if rest else f"{data_type}…)")
    became = f"the data_type `{shown}` and a key `{_cut(rest[0])}`" if rest else f"`{shown}`"
    raise DefinitionError(
        f"model `{model}`, column `{column}`: data_type `{shown}` has unbalanced parentheses "
        f"— YAML flow style (`{{name: {column}, data_type: {meant}}}`) cut the type at the comma "
        f'into {became}; quote it: `data_type: "{meant}"`'
    )


def _feature_view(
    node: Mapping[str, Any], meta: Mapping[str, Any], manifest: Manifest | None = None
) -> FeatureView:
    name = str(node.get("name"))
    if not isinstance(meta, Mapping):
        raise DefinitionError(f"model `{name}`: meta.skewless must be a mapping, got {brief(meta)}")
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
            f"(e.g. `user_id` or `[user_id, merchant_id]`), got {brief(entity_raw)}"
        )
    long = [c for c in entity if len(c) > _MAX_NAME_CHARS]
    if long:
        raise DefinitionError(
            f"model `{name}`: meta.skewless.entity names a column of {len(long[0]):,} characters "
            f"({brief(long[0])}); column names are at most {_MAX_NAME_CHARS}"
        )
    if len(set(entity)) != len(entity):
        raise DefinitionError(
            f"model `{name}`: meta.skewless.entity repeats a column: {list(entity)}"
        )
    timestamp = meta.get("timestamp")
    if not isinstance(timestamp, str) or not timestamp:
        raise DefinitionError(
            f"model `{name}`: meta.skewless.timestamp must name the column saying from when a row's "
            f"values hold, got {brief(timestamp)}"
        )
    if len(timestamp) > _MAX_NAME_CHARS:
        raise DefinitionError(
            f"model `{name}`: meta.skewless.timestamp is {brief(timestamp)}; column names are at "
            f"most {_MAX_NAME_CHARS} characters"
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
            f"model `{name}`: meta.skewless.on_stale is {brief(on_stale)}; allowed: {', '.join(ON_STALE_POLICIES)}"
        )
    if on_stale != "serve" and freshness is None:
        raise DefinitionError(
            f"model `{name}`: meta.skewless.on_stale is {brief(on_stale)} but no `freshness` SLA is set; "
            "add e.g. `freshness: 2h`"
        )

    columns: Mapping[str, Any] = node.get("columns") or {}
    types = {c: str((spec or {}).get("data_type") or "").strip() for c, spec in columns.items()}
    missing_keys = [c for c in (*entity, timestamp) if c not in columns]
    if missing_keys:
        raise DefinitionError(
            f"model `{name}`: column(s) {brief(missing_keys)} named in meta.skewless are not "
            "declared; "
            f"declare every column with its data_type in the model's YAML (columns: - name: …, data_type: …)"
        )
    for col, spec in columns.items():
        _check_not_cut(name, col, types[col], spec or {})
    for col in (*entity, timestamp):
        if not types[col]:
            role = "timestamp" if col == timestamp else "entity key"
            raise DefinitionError(
                f"model `{name}`, column `{col}` (the {role}): no data_type; declare it in the "
                f"model's YAML (e.g. `data_type: {'timestamp' if col == timestamp else 'bigint'}`) "
                "— key and timestamp columns are typed and checked against what dbt built like "
                "every feature column"
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
        raise not_compiled(name, manifest)
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
            f"model `{model}`: meta.skewless.request_timestamp is {brief(value)}; allowed: error (the "
            "default: a request must carry its timestamp field), now (use the serving time)"
        )
    return value


def is_on_demand(node: Mapping[str, Any]) -> bool:
    """A model with `meta.skewless.kind: on_demand` (a request-time view, see `ondemand.py`)."""
    meta = skewless_meta(node)
    return isinstance(meta, Mapping) and meta.get("kind") == "on_demand"


def read_feature_views(
    manifest: Manifest, problems: dict[str, Problem] | None = None
) -> dict[str, FeatureView]:
    """Every model with `meta.skewless` (kind `feature_view`, the default), validated, by name.

    Args:
        manifest: the dbt manifest.
        problems: where to record the invalid definitions, by model name, and read on; None
            raises the first one.

    Raises:
        DefinitionError: (without `problems`) the first invalid definition, naming the model and
            the key; `NotCompiledError` when the model has no compiled SQL in the manifest.
    """
    views: dict[str, FeatureView] = {}
    ids: dict[str, list[str]] = {}
    for node in manifest.models():
        if is_feature_view(node):
            ids.setdefault(str(node.get("name")), []).append(str(node.get("unique_id", "")))
    for node in manifest.models():
        name = str(node.get("name"))
        meta = skewless_meta(node)
        try:
            if meta is None and not _config_malformed(node):
                continue
            kind = meta.get("kind", "feature_view") if isinstance(meta, Mapping) else "feature_view"
            if kind not in ("feature_view", "on_demand", "window"):
                raise DefinitionError(
                    f"model `{name}`: meta.skewless.kind is {brief(kind)}; allowed: "
                    "feature_view (the default), on_demand, window"
                )
            check_node(node)
            if not is_feature_view(node):
                continue
            if len(ids[name]) > 1:
                raise DefinitionError(
                    f"two feature views are named `{name}` ({', '.join(ids[name])}); "
                    "feature names must be unique — rename one model"
                )
            views[name] = _feature_view(node, meta, manifest)  # type: ignore[arg-type]
        except SkewlessError as e:
            if problems is None:
                raise
            problems.setdefault(name, Problem(name, "feature_view", e))
        except MALFORMED as e:
            if problems is None:
                raise malformed(name, e) from None
            problems.setdefault(name, Problem(name, "feature_view", malformed(name, e)))
    for uid, why in manifest.malformed.items():
        name = uid.rsplit(".", 1)[-1] or uid
        error = DefinitionError(
            f"model `{name}`: {why} in {manifest.where}; the manifest was not written by dbt (or "
            "was damaged) — rerun `dbt compile`"
        )
        if problems is None:
            raise error
        problems.setdefault(name, Problem(name, "feature_view", error))
    return views


#: What reading a node of an unforeseen shape may raise (each becomes a `DefinitionError` of
#: that model, `malformed`); the shapes foreseen are refused by name first (`check_node`).
MALFORMED = (
    TypeError,
    ValueError,
    AttributeError,
    KeyError,
    IndexError,
    ArithmeticError,
    RecursionError,
)


def malformed(name: str, e: BaseException) -> DefinitionError:
    """The error of a model node of a shape the reader did not foresee."""
    return DefinitionError(
        f"model `{name}`: its node in the manifest has an unexpected shape ({type(e).__name__}: "
        f"{brief(str(e))[1:-1]}); the manifest was not written by dbt (or was damaged) — rerun "
        "`dbt compile`"
    )


def _config_malformed(node: Mapping[str, Any]) -> bool:
    """A `config` (or `config.meta`) that is not a mapping: whether the model is a feature view
    cannot be told, so the node is reported."""
    config = node.get("config")
    if config is None:
        return False
    return not isinstance(config, Mapping) or not isinstance(config.get("meta") or {}, Mapping)
