"""Request-time (on-demand) feature views: read from the manifest, compiled once, evaluated per request.

An on-demand view is a dbt model with `meta.skewless.kind: on_demand` whose SQL is a SELECT list
over `{{ skewless.request_inputs(request=…, timestamp=…, inputs=[…]) }}`. Offline, dbt runs it in
the warehouse over the historical requests joined point-in-time to the input views: that is the
training data. Online, the runtime takes the same projections, compiles each once with
`skewless.sql` (DuckDB's exact semantics, or `UnsupportedExpression` at load time) and
evaluates them on the request payload plus the looked-up input features.

The compiled SQL carries the macro's `/* skewless:request_inputs {json} */` marker, which names
the request relation, its timestamp column and each input view with its key mapping and prefix;
nothing about the wiring is configured twice.

Every SELECT-list item is a feature, except bare references to request columns (ids, keys and
timestamps passed through for the training set).

The compiled SQL is parsed whole, so it is refused past `MAX_ON_DEMAND_SQL_CHARS` before any
parsing (a problem of that view, see `docs/limits.md`), and a malformed marker or node is a
`DefinitionError` naming the model and the field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from skewless.definitions import Feature, FeatureView, HasFeatures
from skewless.definitions.manifest import (
    MALFORMED,
    Manifest,
    Problem,
    check_node,
    definition_version,
    malformed,
    not_compiled,
    request_timestamp_policy,
    skewless_meta,
)
from skewless.errors import (
    DefinitionError,
    RequestError,
    SkewlessError,
    UnsupportedExpression,
    brief,
)

if TYPE_CHECKING:
    from skewless.sql import CompiledProjections

__all__ = ["MAX_ON_DEMAND_SQL_CHARS", "InputSpec", "OnDemandView", "read_on_demand_views"]

#: Longest compiled SQL of a request-time view (its SELECT list plus the point-in-time join
#: `request_inputs` compiles to): sqlglot parses it whole, at about 4 s per MB (more on some
#: shapes, and ~1 GB of memory per MB), before `skewless.sql`'s own limits on each expression.
MAX_ON_DEMAND_SQL_CHARS = 512 * 1024

_MARKER = re.compile(r"/\*\s*skewless:request_inputs\s+(\{.*?\})\s*\*/", re.S)


@dataclass(frozen=True)
class InputSpec:
    """One input feature view of an on-demand view.

    Attributes:
        view: the input feature view's name.
        keys: view key column → request column.
        prefix: prepended to the view's feature names in the inputs.
    """

    view: str
    keys: tuple[tuple[str, str], ...]
    prefix: str

    def column(self, feature: str) -> str:
        return self.prefix + feature


@dataclass(frozen=True)
class OnDemandView(HasFeatures):
    """A request-time feature view.

    Attributes:
        name: the model name; features are addressed as `<name>.<column>`.
        request: the request relation's name (its declared columns are the request schema).
        timestamp: the request's timestamp column.
        request_timestamp: what a request without its timestamp field gets: `error` (the
            default) or `now`, the serving time (`meta.skewless.request_timestamp`).
        inputs: the input feature views.
        request_schema: request column → DuckDB type, for the columns the projections read.
        projections: output column → compiled expression (each callable on a payload mapping).
        features: the output features, with their DuckDB output types.
        input_refs: every `<view>.<feature>` the projections read, with the input column it feeds.
        shared_types: request column -> declared type, for every name that may be given both in
            the entity and in the request (the request columns and the inputs' key columns):
            both values must then be equal under that type.
    """

    name: str
    unique_id: str
    request: str
    timestamp: str
    inputs: tuple[InputSpec, ...]
    request_schema: Mapping[str, str]
    projections: CompiledProjections = field(repr=False)
    features: tuple[Feature, ...]
    input_refs: tuple[tuple[str, str], ...]
    version: str
    compiled_sql: str = field(default="", repr=False, compare=False)
    request_timestamp: str = "error"
    shared_types: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    def _one_value(self, col: str, a: Any, b: Any) -> None:
        """One value per name in a vector: `a` (entity) and `b` (request) must be equal under the
        declared type of `col` (42, 42.0 and "42" for a BIGINT)."""
        try:
            if a.__class__ is b.__class__ and a == b:
                return
        except ArithmeticError:  # Decimal('sNaN') == …: the typed comparison below decides
            pass
        dtype = self.shared_types[col]
        if _typed(a, dtype, col) != _typed(b, dtype, col):
            raise RequestError(
                f"on-demand view `{self.name}`: `{col}` is {brief(a)} in the entity but "
                f"{brief(b)} in the request ({dtype}); lookups would use one and expressions the "
                "other - pass one value (or the same value in both)"
            )

    def reads(self, names: tuple[str, ...]) -> frozenset[str]:
        """The inputs (request fields and input columns) the features `names` read."""
        return frozenset().union(*(self.projections[n].inputs for n in names))

    def evaluate(
        self,
        entity: Mapping[str, Any],
        request: Mapping[str, Any] | None,
        inputs: Mapping[str, Any],
        now: datetime,
        names: tuple[str, ...] | None = None,
    ) -> dict[str, Any]:
        """Features of the view for one request, by name.

        Args:
            entity: the entity-key values given to `get_online_features`.
            request: the request payload; its fields are typed by the request model's columns.
            inputs: input column → served value of the input feature.
            now: the serving time, used when the payload omits the request timestamp and the
                view's `request_timestamp` policy is `now`.
            names: the features to compute (default: all, in one fused function).

        Raises:
            RequestError: a request field is missing or of the wrong type, or a name is given
                different values in the entity and in the request (named).
            ExpressionError: the SQL fails where DuckDB fails too.
        """
        if request is not None and entity:
            shared = self.shared_types
            for col in entity:
                if col in request and col in shared:
                    self._one_value(col, entity[col], request[col])
        payload: dict[str, Any] = dict(inputs)
        fields = self.request_schema if names is None else self.reads(names)
        for col in self.request_schema:
            if col not in fields:
                continue
            if request is not None and col in request:
                payload[col] = request[col]
            elif col in entity:
                payload[col] = entity[col]
            elif col == self.timestamp:
                if self.request_timestamp != "now":
                    raise RequestError(
                        f"on-demand view `{self.name}`: the request lacks its timestamp field "
                        f"`{col}` ({self.request_schema[col]}); pass it in "
                        f"request=[{{'{col}': …}}], or set `meta.skewless.request_timestamp: now` "
                        "on the model to use the serving time"
                    )
                payload[col] = now
            else:
                raise RequestError(
                    f"on-demand view `{self.name}`: the request lacks field `{col}` "
                    f"({self.request_schema[col]}); pass it in request=[{{'{col}': …}}]"
                )
        try:
            if names is None:
                return self.projections.evaluate(payload)
            return {n: self.projections[n](payload) for n in names}
        except RequestError as e:
            raise RequestError(f"on-demand view `{self.name}`: {e}") from None


def _typed(value: Any, dtype: str, col: str) -> Any:
    """`value` as a payload field of `dtype` (for comparisons); a value the type refuses stays
    itself, and so compares unequal to any accepted one."""
    from skewless.sql.helpers import convert_input

    try:
        if isinstance(value, int) and not isinstance(value, bool) and dtype == "VARCHAR":
            # an integer is a valid VARCHAR entity key (as the lookup reads it)
            value = str(value) if value.bit_length() < 8192 else value
        typed = convert_input(value, dtype, col)
    except (RequestError, UnsupportedExpression):
        return ("refused", type(value).__name__, id(value))  # unequal to any other value
    if isinstance(typed, float) and typed != typed:
        return ("nan",)
    return typed


def _duckdb_type(data_type: str) -> str:
    return " ".join(data_type.strip().upper().split())


def _relation_columns(
    manifest: Manifest, name: str, model: str = ""
) -> tuple[str, Mapping[str, Any]] | None:
    for node in manifest.nodes.values():
        if (
            isinstance(node, Mapping)
            and node.get("resource_type") in ("model", "seed", "snapshot")
            and name in (node.get("alias"), node.get("name"))
        ):
            columns = node.get("columns") or {}
            if not isinstance(columns, Mapping) or not all(
                c is None or isinstance(c, Mapping) for c in columns.values()
            ):
                raise DefinitionError(
                    f"model `{model}`: its request relation `{name}` has `columns` in the "
                    "manifest that are not a mapping of column entries — rerun `dbt compile`"
                )
            return str(node.get("name")), columns
    return None


def _parse_spec(model: str, compiled: str) -> dict[str, Any]:
    found = _MARKER.search(compiled)
    if not found:
        raise DefinitionError(
            f"model `{model}`: meta.skewless.kind is `on_demand` but its SQL does not select "
            "`from {{ skewless.request_inputs(request=…, timestamp=…, inputs=[…]) }}`"
        )
    try:
        spec = json.loads(found.group(1))
    except (ValueError, RecursionError) as e:
        raise DefinitionError(
            f"model `{model}`: unreadable skewless:request_inputs marker ({brief(str(e))[1:-1]}); "
            "rerun `dbt compile`"
        ) from None
    _check_spec(model, spec)
    return spec  # type: ignore[no-any-return]


def _check_spec(model: str, spec: Any) -> None:
    """The marker's shape: `{request: str, timestamp: str, inputs: [{view: str, keys: {str:
    str}, prefix: str|null}, …]}` (as `skewless.request_inputs` writes it).

    Raises:
        DefinitionError: naming the model and the field of the marker.
    """

    def bad(field: str, value: Any) -> DefinitionError:
        return DefinitionError(
            f"model `{model}`: the skewless:request_inputs marker's `{field}` is {brief(value)}; "
            "the marker is written by `skewless.request_inputs` — rerun `dbt compile` (do not "
            "edit compiled SQL)"
        )

    if not isinstance(spec, dict):
        raise bad("(whole marker)", spec)
    for key in ("request", "timestamp"):
        if not isinstance(spec.get(key), str) or not spec.get(key):
            raise bad(key, spec.get(key))
    inputs = spec.get("inputs")
    if not isinstance(inputs, list):
        raise bad("inputs", inputs)
    for i, item in enumerate(inputs):
        if not isinstance(item, dict):
            raise bad(f"inputs[{i}]", item)
        if not isinstance(item.get("view"), str) or not item.get("view"):
            raise bad(f"inputs[{i}].view", item.get("view"))
        keys = item.get("keys", {})
        if not isinstance(keys, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in keys.items()
        ):
            raise bad(f"inputs[{i}].keys", keys)
        if not isinstance(item.get("prefix") or "", str):
            raise bad(f"inputs[{i}].prefix", item.get("prefix"))


def _projections(model: str, compiled: str) -> list[tuple[str, Any]]:
    import sqlglot
    from sqlglot import exp

    if len(compiled) > MAX_ON_DEMAND_SQL_CHARS:
        raise DefinitionError(
            f"model `{model}`: its compiled SQL is {len(compiled):,} characters, past the limit "
            f"of {MAX_ON_DEMAND_SQL_CHARS:,} for a request-time view (MAX_ON_DEMAND_SQL_CHARS, "
            "see docs/limits.md); keep the SELECT list to the request-time expressions"
        )
    try:
        tree = sqlglot.parse_one(compiled, read="duckdb")
    except sqlglot.errors.SqlglotError as e:
        raise UnsupportedExpression(
            f"model `{model}`: sqlglot cannot parse its compiled SQL: {brief(str(e), 500)[1:-1]}"
        ) from None
    except RecursionError:
        raise UnsupportedExpression(
            f"model `{model}`: its compiled SQL nests too deeply to parse; request-time "
            "expressions may nest 64 levels"
        ) from None
    if not isinstance(tree, exp.Select) or tree.args.get("with_") or tree.args.get("with"):
        raise UnsupportedExpression(
            f"model `{model}`: an on-demand view must be one plain SELECT list over "
            "skewless.request_inputs(...) (no CTEs, unions or set operations)"
        )
    for clause in ("where", "group", "having", "qualify", "order", "limit", "joins", "distinct"):
        if tree.args.get(clause):
            raise UnsupportedExpression(
                f"model `{model}`: `{clause.upper()}` in an on-demand view cannot be evaluated per "
                "request; keep the model a plain SELECT list (filter the training set downstream)"
            )
    out = []
    for item in tree.expressions:
        if isinstance(item, exp.Star) or (
            isinstance(item, exp.Column) and isinstance(item.this, exp.Star)
        ):
            raise UnsupportedExpression(
                f"model `{model}`: `*` in an on-demand view; list each column"
            )
        name = item.alias_or_name
        body = item.this if isinstance(item, exp.Alias) else item
        for col in body.find_all(exp.Column):
            col.set("table", None)
        out.append((name, body))
    return out


def _on_demand_view(
    node: Mapping[str, Any],
    meta: Mapping[str, Any],
    manifest: Manifest,
    views: Mapping[str, FeatureView],
    disabled: Mapping[str, Problem],
) -> OnDemandView:
    from sqlglot import exp

    from skewless.sql import compile_projections

    name = str(node.get("name"))
    compiled = node.get("compiled_code") or node.get("compiled_sql") or ""
    if not compiled:
        raise not_compiled(name, manifest)
    spec = _parse_spec(name, compiled)
    for item in spec["inputs"]:
        problem = disabled.get(item["view"])
        if problem is not None and problem.kind == "feature_view":
            raise _InputDisabled(
                f"model `{name}`: its input feature view `{problem.view}` is disabled — "
                f"{problem.message}",
                view=problem.view,
            )
    found = _relation_columns(manifest, spec["request"], name)
    if found is None:
        raise DefinitionError(
            f"model `{name}`: request relation `{spec['request']}` is not a model or seed of this project"
        )
    request_name, request_columns = found
    inputs = []
    schema: dict[str, str] = {}
    input_cols: dict[str, str] = {}
    for item in spec["inputs"]:
        view = views.get(item["view"])
        if view is None:
            raise DefinitionError(
                f"model `{name}`: input `{item['view']}` is not a feature view (no meta.skewless)"
            )
        keys = {k: item["keys"].get(k, k) for k in view.entity}
        spec_in = InputSpec(view.name, tuple(keys.items()), item.get("prefix") or "")
        inputs.append(spec_in)
        for f in view.features:
            schema[spec_in.column(f.name)] = _duckdb_type(f.data_type)
            input_cols[spec_in.column(f.name)] = f.ref
    request_types: dict[str, str] = {}
    for col, c in request_columns.items():
        dtype = (c or {}).get("data_type") or ""
        if not isinstance(dtype, str):
            raise DefinitionError(
                f"model `{name}`: request relation `{request_name}`, column `{col}`: data_type "
                f"is {brief(dtype)}, not a type name"
            )
        if dtype and col not in schema:
            request_types[col] = _duckdb_type(dtype)
    schema = {**request_types, **schema}

    sqls: dict[str, str] = {}
    used_request: set[str] = set()
    used_inputs: dict[str, str] = {}
    for out_name, body in _projections(name, compiled):
        refs = {c.name for c in body.find_all(exp.Column)}
        unknown = sorted(r for r in refs if r not in schema)
        if unknown:
            hint = [u for u in unknown if u in request_columns]
            raise DefinitionError(
                f"model `{name}`, column `{out_name}`: reads {unknown}, which "
                + (
                    f"the request model `{request_name}` does not declare with a data_type"
                    if hint
                    else f"is neither a declared column of `{request_name}` nor a feature of the inputs"
                )
            )
        if isinstance(body, exp.Column) and body.name in request_types:
            continue  # a request column passed through for the training set, not a feature
        sqls[out_name] = body.sql(dialect="duckdb")
        used_request |= {r for r in refs if r in request_types}
        used_inputs.update({r: input_cols[r] for r in refs if r in input_cols})
    if not sqls:
        raise DefinitionError(
            f"model `{name}`: an on-demand view needs at least one computed column"
        )
    used = {r for r in schema if r in used_request or r in used_inputs}
    projections = compile_projections(sqls, {r: schema[r] for r in used}, model=name)
    features = [
        Feature(view=name, name=n, data_type=t) for n, t in projections.output_types.items()
    ]
    timestamp = str(spec["timestamp"])
    shared = {c: request_types[c] for c in request_types}
    for spec_in in inputs:
        view = views[spec_in.view]
        declared = dict(zip(view.entity, view.entity_types, strict=True))
        for key, col in spec_in.keys:
            shared.setdefault(col, _duckdb_type(declared.get(key) or "VARCHAR"))
    version = definition_version(
        compiled, dict(meta), [(f.name, f.data_type, None) for f in features]
    )
    return OnDemandView(
        name=name,
        unique_id=str(node.get("unique_id", "")),
        request=request_name,
        timestamp=timestamp,
        inputs=tuple(inputs),
        request_schema={c: request_types[c] for c in sorted(used_request)},
        projections=projections,
        features=tuple(features),
        input_refs=tuple(sorted((col, ref) for col, ref in used_inputs.items())),
        version=version,
        compiled_sql=compiled,
        request_timestamp=request_timestamp_policy(name, meta),
        shared_types=shared,
    )


class _InputDisabled(DefinitionError):
    """An on-demand view reads a feature view that is disabled (recorded as a DefinitionError
    whose `Problem.disabled_by` names that view)."""

    def __init__(self, message: str, *, view: str = ""):
        super().__init__(message)
        self.view = view


def read_on_demand_views(
    manifest: Manifest,
    views: Mapping[str, FeatureView],
    problems: dict[str, Problem] | None = None,
) -> dict[str, OnDemandView]:
    """Every model with `meta.skewless.kind: on_demand`, compiled, by name.

    Args:
        manifest: the dbt manifest.
        views: the (healthy) feature views the on-demand views may read.
        problems: the problems found so far, by view name: an on-demand view reading a disabled
            feature view is disabled too, saying why. Each invalid on-demand view is recorded
            here and reading goes on; None raises the first one.

    Raises:
        DefinitionError: (without `problems`) the wiring or the columns are invalid;
            `NotCompiledError` when the model has no compiled SQL in the manifest.
        UnsupportedExpression: (without `problems`) a projection uses a construct the runtime
            cannot evaluate with DuckDB's exact semantics (naming model, column and construct).
    """
    out: dict[str, OnDemandView] = {}
    disabled: Mapping[str, Problem] = problems if problems is not None else {}
    for node in manifest.models():
        meta = skewless_meta(node)
        if not (isinstance(meta, Mapping) and meta.get("kind") == "on_demand"):
            continue
        name = str(node.get("name"))
        try:
            if name in views or (name in disabled and disabled[name].kind == "feature_view"):
                raise DefinitionError(
                    f"model `{name}` is both a feature view and an on-demand view"
                )
            check_node(node)
            out[name] = _on_demand_view(node, meta, manifest, views, disabled)
        except SkewlessError as e:
            if problems is None:
                raise
            if isinstance(e, _InputDisabled):
                problem = Problem(name, "on_demand", DefinitionError(str(e)), disabled_by=e.view)
            else:
                problem = Problem(name, "on_demand", e)
            problems.setdefault(name, problem)
        except MALFORMED as e:
            if problems is None:
                raise malformed(name, e) from None
            problems.setdefault(name, Problem(name, "on_demand", malformed(name, e)))
    return out
