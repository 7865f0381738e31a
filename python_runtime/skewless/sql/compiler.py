"""Request-time SQL expressions: DuckDB SQL in, a Python callable with DuckDB's exact results out.

    from skewless.sql import compile_expression
    fn = compile_expression("amount / nullif(avg_amount_30d, 0)",
                            {"amount": "DOUBLE", "avg_amount_30d": "DOUBLE"})
    fn({"amount": 120.0, "avg_amount_30d": 40.0})  # 3.0; fn.output_type == "DOUBLE"

This is the one module where SQL becomes Python. sqlglot (dialect duckdb) only parses; this
module types every node with DuckDB 2.0.1's rules (TimeZone='UTC') and picks, per static type,
the Python code that reproduces DuckDB's value, NULL, NaN, overflow and error behaviour.

How code is produced: each sqlglot node class has one `_c_<ClassName>` handler (and each SQL
function name one `_f_<name>` handler) returning a typed `_Code` - a Python expression in text
form over generated names only. User-derived values (literals, column names) never appear in
that text: they are bound as constants `_k<n>` in the function's namespace. The text of one
expression (or of a whole view, sharing input loads) is `compile()`d once at load time; there is
no eval of request data and no sqlglot executor. Generated code rather than closures because a
view of ten expressions then costs one Python call instead of ~100 closure calls (the target is
3x hand-written Python; a closure prototype measured 7.5x).

Anything outside the supported subset (docs/functions.md) raises `UnsupportedExpression` at
compile time; runtime failures where DuckDB fails raise `ExpressionError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlglot import expressions as exp

from skewless.errors import UnsupportedExpression
from skewless.sql import runtime as F
from skewless.sql.codegen import (
    _Code,
    _construct,
    _Ctx,
)
from skewless.sql.frontend import _check_depth, _parse, _parse_duckdb
from skewless.sql.text import (
    TextCompiler,
)
from skewless.sql.types import (
    INTERVAL,
    SqlType,
    _is_int,
    parse_type,
)

__all__ = [
    "CompiledExpression",
    "CompiledProjections",
    "check_expression",
    "compile_expression",
    "compile_projections",
]


class _Compiler(TextCompiler):
    """Every family's handlers, by inheritance: one class a sqlglot node is dispatched on."""


_LOAD = {
    "DOUBLE": "if {v}.__class__ is not float: {v} = _in_double({v}, {k})",
    "FLOAT": "{v} = _in_float({v}, {k})",
    "VARCHAR": "if {v}.__class__ is not str: {v} = _in_str({v}, {k})",
    "BOOLEAN": "if {v}.__class__ is not bool: {v} = _in_bool({v}, {k})",
    "DATE": "if {v}.__class__ is not _date: {v} = _in_date({v}, {k})",
    "TIMESTAMP": "if {v}.__class__ is not _datetime or {v}.tzinfo is not None: {v} = _in_ts({v}, {k})",
    "TIMESTAMPTZ": "if {v}.__class__ is not _datetime or {v}.tzinfo is not _UTC: {v} = _in_tstz({v}, {k})",
    "INTERVAL": "if {v}.__class__ is not _Interval: {v} = _in_interval({v}, {k})",
}


def _load_line(ctx: _Ctx, name: str, local: str) -> list[str]:
    t = ctx.schema[name]
    k = ctx.const(name)
    lines = [f"{local} = r[{k}]"]
    if _is_int(t):
        lo, hi = F.INT_RANGES[t.name]
        kt = ctx.const(t.name)
        lines.append(
            f"if {local}.__class__ is not int or not {lo} <= {local} <= {hi}: "
            f"{local} = _in_int({local}, {k}, {kt})"
        )
    elif t.name == "DECIMAL":
        lines.append(f"{local} = _in_dec({local}, {k}, {t.p}, {t.s})")
    else:
        lines.append(_LOAD[t.name].format(v=local, k=k))
    return lines


def _function_source(ctx: _Ctx, body: str) -> str:
    lines = ["def _skewless_fn(r):", "    try:"]
    for name, local in ctx.loads.items():
        lines += [f"        {line}" for line in _load_line(ctx, name, local)]
    lines += [
        f"        return {body}",
        "    except KeyError as e:",
        "        raise _missing(e) from None",
        "    except OverflowError as e:",
        "        raise _pyoverflow(e) from None",
    ]
    return "\n".join(lines) + "\n"


def _build(ctx: _Ctx, body: str) -> tuple[Callable[[Mapping[str, Any]], Any], str]:
    source = _function_source(ctx, body)
    ns = ctx.ns
    try:
        code = compile(source, "<skewless-expression>", "exec")
    except (SyntaxError, RecursionError, MemoryError):  # Python's own nesting limits
        raise UnsupportedExpression(
            f"{ctx.where()}: the expression is too deeply nested for the runtime; "
            "split it into several columns of the on-demand view"
        ) from None
    exec(code, ns)
    return ns["_skewless_fn"], source


_LEAVES = (exp.Column, exp.Literal, exp.Null, exp.Boolean, exp.Paren, exp.Star, exp.DataType)
_OPERATIONS = (exp.Func, exp.Binary, exp.Unary, exp.Case, exp.Cast, exp.Between, exp.In, exp.Is)


_UNKNOWN = object()


def _outside_case(
    root: exp.Expression, constant: Callable[[exp.Expression], Any] | None = None
) -> list[exp.Expression]:
    """The nodes of a tree, not descending into CASE/IF (measured: DuckDB does not hoist a
    sub-expression out of a CASE branch, only out of operators and COALESCE). COALESCE arguments
    after a constant one are kept: DuckDB drops them before hoisting in most shapes but not all
    (`coalesce(1.0, nullif((j + 1) % 2, 3))` raises; measured), so the runtime hoists them and
    may raise where DuckDB gives the constant, never the reverse."""
    out: list[exp.Expression] = []
    stack = [root]
    while stack:
        n = stack.pop()
        out.append(n)
        if isinstance(n, exp.Case) and n.this is None and constant is not None:
            # the optimizer first drops branches with constant FALSE/NULL conditions and stops
            # at a constant TRUE one: a CASE left with one result is that result (hoistable)
            chosen: exp.Expression | None = None
            for i in n.args.get("ifs") or []:
                value = constant(i.this)
                if value is _UNKNOWN:
                    break
                if value is True:
                    chosen = i.args["true"]
                    break
            else:
                chosen = n.args.get("default")
            if chosen is not None:
                stack.append(chosen)
            continue
        if isinstance(n, (exp.Case, exp.If)):
            continue
        for v in n.args.values():
            for child in v if isinstance(v, list) else [v]:
                if isinstance(child, exp.Expression):
                    stack.append(child)
    return out


def _eagerly(compiler: _Compiler, nodes: list[exp.Expression], body: str) -> str:
    """`body`, preceded by the sub-expressions DuckDB evaluates for every row.

    DuckDB's common-subexpression optimizer computes a sub-expression that occurs more than
    once in a projection list - and the first argument of NULLIF, which it expands to
    `CASE WHEN a = b THEN NULL ELSE a END`, and the operand of a simple CASE with two WHENs or
    more - once per row, before the projection: even where
    COALESCE would never use it (measured; not out of a CASE branch). Where such a sub-expression can
    raise, it is evaluated first here too, so an error happens on the same rows.
    """

    def constant(node: exp.Expression) -> Any:  # a constant condition's value, or _UNKNOWN
        try:
            code = compiler.c(node.copy())
        except UnsupportedExpression:
            return _UNKNOWN
        if code.cols or code.const not in (True, False, None):
            return _UNKNOWN
        return code.const

    seen: dict[str, int] = {}
    first: dict[str, exp.Expression] = {}
    for root in nodes:
        for n in _outside_case(root, constant):
            if isinstance(n, exp.Nullif):
                a = n.this
                while isinstance(a, exp.Paren):
                    a = a.this
                if not isinstance(a, _LEAVES):
                    key = a.sql(dialect="duckdb")
                    seen[key] = seen.get(key, 0) + 2
                    first.setdefault(key, a)
            if isinstance(n, exp.Case) and n.this is not None:
                # a simple CASE is rewritten to `operand = value` per WHEN: the operand then
                # occurs once per WHEN and is hoisted from two WHENs on (measured)
                a = n.this
                while isinstance(a, exp.Paren):
                    a = a.this
                if not isinstance(a, _LEAVES):
                    key = a.sql(dialect="duckdb")
                    seen[key] = seen.get(key, 0) + len(n.args.get("ifs") or [])
                    first.setdefault(key, a)
            if not isinstance(n, _OPERATIONS) or isinstance(n, _LEAVES):
                continue
            key = n.sql(dialect="duckdb")
            seen[key] = seen.get(key, 0) + 1
            first.setdefault(key, n)
    eager = []
    for key, count in seen.items():
        if count < 2:
            continue
        try:
            code = compiler.c(first[key].copy())
        except UnsupportedExpression:  # a piece that only has a meaning in its parent
            continue
        if code.raises and code.cols:
            eager.append(code.src)
    if not eager:
        return body
    return f"(({', '.join(eager)},), {body})[1]"


def _out(code: _Code) -> str:
    if code.t == INTERVAL:
        return f"_iv_out({code.src})"
    return code.src


@dataclass(frozen=True)
class CompiledExpression:
    """A request-time expression compiled to Python; call it with a mapping of inputs.

    Attributes:
        sql: The expression as written.
        output_type: The DuckDB type name DuckDB would report (`typeof`).
        inputs: The input names the expression reads.
        source: The generated Python (for debugging; contains no user text).
    """

    sql: str
    output_type: str
    inputs: frozenset[str]
    source: str = field(repr=False)
    _fn: Callable[[Mapping[str, Any]], Any] = field(repr=False, compare=False)

    def __call__(self, row: Mapping[str, Any]) -> Any:
        """Evaluate on one payload (input name -> value, None for NULL)."""
        return self._fn(row)


def _schema(schema: Mapping[str, str | SqlType], ctx_name: str) -> dict[str, SqlType]:
    out = {}
    for k, v in schema.items():
        try:
            out[k] = v if isinstance(v, SqlType) else parse_type(v)
        except UnsupportedExpression as e:
            raise UnsupportedExpression(f"{ctx_name}: input {k!r}: {e}") from None
    return out


def compile_expression(
    sql: str,
    schema: Mapping[str, str],
    *,
    model: str | None = None,
    column: str | None = None,
) -> CompiledExpression:
    """Compile one DuckDB SQL expression into a Python callable with DuckDB's exact results.

    Args:
        sql: One DuckDB expression, e.g. `amount / nullif(avg_amount_30d, 0)`.
        schema: Input name -> DuckDB type name (`BIGINT`, `DECIMAL(10,2)`, `TIMESTAMPTZ`…).
        model: The dbt model the expression belongs to (named in errors).
        column: The output column the expression defines (named in errors).

    Returns:
        A `CompiledExpression`: `fn(payload)` returns what DuckDB returns (same value and
        Python type as the duckdb client), `fn.output_type` is DuckDB's type name.

    Raises:
        UnsupportedExpression: the expression uses a construct that cannot be evaluated
            identically (named with model, column and construct).
    """
    ctx = _Ctx({}, model, column)
    ctx.schema = _schema(schema, ctx.where())
    ctx.lower_schema = {k.lower(): k for k in ctx.schema}
    node = _parse(sql, ctx.where())
    compiler = _Compiler(ctx)
    code = compiler.c(node)
    fn, source = _build(ctx, _eagerly(compiler, [node], _out(code)))
    return CompiledExpression(sql, str(code.t), code.cols, source, fn)


def check_expression(
    sql: str,
    schema: Mapping[str, str],
    *,
    model: str | None = None,
    column: str | None = None,
) -> str:
    """Validate an expression without evaluating it (for `skewless check` and dbt tests).

    Returns:
        The DuckDB output type name.

    Raises:
        UnsupportedExpression: as `compile_expression`.
    """
    return compile_expression(sql, schema, model=model, column=column).output_type


class CompiledProjections(dict[str, CompiledExpression]):
    """The projections of one on-demand view: name -> CompiledExpression, plus `evaluate`.

    `evaluate(row)` runs one generated function for all projections (inputs loaded once),
    which is what the online path should call.
    """

    def __init__(self, items: dict[str, CompiledExpression], fn: Callable[..., Any], source: str):
        super().__init__(items)
        self._fn = fn
        self.source = source

    @property
    def inputs(self) -> frozenset[str]:
        """Every input any projection reads."""
        return frozenset().union(*(c.inputs for c in self.values()))

    @property
    def output_types(self) -> dict[str, str]:
        """Projection name -> DuckDB output type."""
        return {k: v.output_type for k, v in self.items()}

    def evaluate(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """Evaluate every projection on one payload; returns name -> value."""
        return self._fn(row)  # type: ignore[no-any-return]


def _projections(
    select: str | Mapping[str, str] | Iterable[str], where: str
) -> list[tuple[str, str, exp.Expression]]:
    out: list[tuple[str, str, exp.Expression]] = []
    if isinstance(select, Mapping):
        for name, sql in select.items():
            out.append((name, sql, _parse(sql, _Ctx({}, where, name).where())))
        return out
    if isinstance(select, str):
        tree = _parse_duckdb(select, f"model {where!r}")
        while isinstance(tree, exp.Subquery):
            tree = tree.this
        if not isinstance(tree, exp.Select):
            raise UnsupportedExpression(f"model {where!r}: expected one SELECT statement")
        nodes = list(tree.expressions)
    else:
        nodes = []
        for text in select:
            tree = _parse_duckdb(f"SELECT {text}", f"model {where!r}")
            nodes.extend(tree.expressions)
    for node in nodes:
        if isinstance(node, exp.Alias):
            name, inner = node.alias, node.this
        elif isinstance(node, exp.Column) and not isinstance(node.this, exp.Star):
            name, inner = node.name, node
        else:
            raise UnsupportedExpression(
                f"model {where!r}: projection {_construct(node)} needs an alias (`<expr> AS name`)"
            )
        _check_depth(inner, f"model {where!r}, column {name!r}")
        out.append((name, inner.sql(dialect="duckdb"), inner))
    return out


def compile_projections(
    select: str | Mapping[str, str] | Iterable[str],
    schema: Mapping[str, str],
    *,
    model: str | None = None,
) -> CompiledProjections:
    """Compile every projection of an on-demand view's SELECT.

    Args:
        select: The compiled SELECT (`select a + b as x, … from (…) inputs`), a mapping
            name -> expression, or a list of `<expr> AS name` strings. Qualified column
            references (`inputs.amount`) are read as the bare input name.
        schema: Input name -> DuckDB type name.
        model: The dbt model (named in errors).

    Returns:
        `CompiledProjections`: a dict name -> CompiledExpression with `evaluate(row)`.

    Raises:
        UnsupportedExpression: naming the model, the column and the construct.
    """
    where = model or "<view>"
    parsed = _projections(select, where)
    items: dict[str, CompiledExpression] = {}
    view_ctx = _Ctx({}, model, None)
    view_ctx.schema = _schema(schema, view_ctx.where())
    view_ctx.lower_schema = {k.lower(): k for k in view_ctx.schema}
    bodies = []
    for name, sql, node in parsed:
        if name in items:
            raise UnsupportedExpression(f"model {where!r}: two projections are named {name!r}")
        ctx = _Ctx(view_ctx.schema, model, name)
        compiler = _Compiler(ctx)
        code = compiler.c(node.copy())
        fn, source = _build(ctx, _eagerly(compiler, [node], _out(code)))
        items[name] = CompiledExpression(sql, str(code.t), code.cols, source, fn)
        view_ctx.column = name
        vcode = _Compiler(view_ctx).c(node.copy())
        bodies.append(f"{view_ctx.const(name)}: {_out(vcode)}")
    view_ctx.column = None
    body = "{" + ", ".join(bodies) + "}"
    body = _eagerly(_Compiler(view_ctx), [node for _, _, node in parsed], body)
    fn, source = _build(view_ctx, body)
    return CompiledProjections(items, fn, source)
