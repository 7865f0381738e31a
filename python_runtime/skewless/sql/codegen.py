"""The code generator core: typed fragments, precedence, NULL guards, constants, dispatch.

Each sqlglot node class has one `_c_<ClassName>` handler (and each SQL function name one
`_f_<name>` handler), defined in the family modules (arithmetic, logic, text, temporal, casts)
that build on `CoreCompiler`. Handlers return a typed `_Code`: Python text over generated
names only. Every fragment is an atom (see `atom`), so precedence is decided here, once.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlglot import expressions as exp

from skewless.errors import UnsupportedExpression
from skewless.sql import runtime as F
from skewless.sql.helpers import (
    _HELPERS,
)
from skewless.sql.types import (
    _NUMERIC,
    _T,
    _TEMPORAL,
    BOOLEAN,
    DOUBLE,
    NULLT,
    TIMESTAMP,
    TIMESTAMPTZ,
    VARCHAR,
    SqlType,
    _dec_of_int,
    _fits,
    _is_int,
)

_NOCONST = object()
_IDENT = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")


@dataclass
class _Code:
    """A typed Python expression (text over generated names) for one SQL node."""

    src: str
    t: SqlType
    nullable: bool = True
    raises: bool = False
    cols: frozenset[str] = frozenset()
    lit: int | None = None  # the value of an integer literal (DuckDB adapts its type)
    const: Any = _NOCONST  # the value, when it is a compile-time constant
    strlit: bool = False  # a string literal (DuckDB casts it to the other side's type)
    # NULL fusion: when set, src == "(None if <any guard> else <body>)" and body is never None,
    # so a parent can test the guards itself and use body directly (one NULL test per input).
    guards: tuple[str, ...] | None = None
    body: str | None = None
    # a constant sub-expression whose compile-time evaluation raised: it raises on every row
    doomed: bool = False
    # a NULL DuckDB knows when it binds the expression (a NULL literal, a CAST of one, a
    # function of one): DuckDB then folds the function to NULL without running its other
    # operands. A NULL found later by its optimizer (a CASE whose branches all drop) is not.
    bound_null: bool = False

    def __post_init__(self) -> None:
        # Precedence is decided here, once: every fragment is an atom, so a parent may paste
        # it into any operator position without re-checking it.
        if not isinstance(self.src, _Src):
            self.src = atom(self.src)
        if self.body is not None:
            self.body = atom(self.body)


_LITERAL_NODES = (exp.Literal, exp.Paren, exp.Neg)
_ATOMS = (ast.Name, ast.Call, ast.Attribute, ast.Subscript)


@functools.lru_cache(maxsize=4096)
def atom(text: str) -> str:
    """`text` as a Python expression that binds tighter than any operator around it.

    A name, call, attribute, subscript or non-negative literal is returned unchanged; anything
    else (an operator, a conditional, a negative number) is parenthesised. Parentheses cost
    nothing at run time (Python compiles them away), so the rule errs on the side of adding them.
    """
    if _IDENT.fullmatch(text):
        return text
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError:  # a template with placeholders: cannot be judged, so wrap it
        return f"({text})"
    if isinstance(node, _ATOMS) or (
        isinstance(node, ast.Constant) and not text.lstrip().startswith("-")
    ):
        return text
    if text.startswith("(") and text.endswith(")") and _encloses(text):
        return text
    return f"({text})"


def _encloses(text: str) -> bool:
    """True when the opening parenthesis of `text` is closed by its last character."""
    depth = 0
    quote = ""
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return i == len(text) - 1
    return False


class _Src(str):
    """Generated text that also carries its NULL guards and guarded body (see _Code)."""

    guards: tuple[str, ...] | None = None
    body: str | None = None


class _Ctx:
    """Names, constants and temporaries of one generated function."""

    def __init__(self, schema: Mapping[str, SqlType], model: str | None, column: str | None):
        self.schema = schema
        self.lower_schema = {k.lower(): k for k in schema}
        self.model = model
        self.column = column
        self.ns: dict[str, Any] = dict(_HELPERS)
        self.loads: dict[str, str] = {}  # input name -> local
        self._n = 0

    def const(self, value: Any) -> str:
        for k, v in self.ns.items():
            if k.startswith("_k") and v is value:
                return k
        name = f"_k{self._n}"
        self._n += 1
        self.ns[name] = value
        return name

    def temp(self) -> str:
        name = f"_t{self._n}"
        self._n += 1
        return name

    def where(self) -> str:
        parts = []
        if self.model:
            parts.append(f"model {self.model!r}")
        if self.column:
            parts.append(f"column {self.column!r}")
        return ", ".join(parts) or "expression"

    def unsupported(self, construct: str, fix: str = "") -> UnsupportedExpression:
        msg = f"{self.where()}: {construct} is not supported in request-time expressions"
        msg += f"; {fix}" if fix else " (docs/functions.md lists what is)"
        return UnsupportedExpression(msg)


def _construct(node: Any) -> str:
    try:
        text = node.sql(dialect="duckdb")
    except Exception:
        text = type(node).__name__
    return f"`{text[:80]}` ({type(node).__name__})"


def _run(src: str, ns: dict[str, Any]) -> Any:
    code = compile(f"_v = {src}", "<skewless-constant>", "exec")
    local: dict[str, Any] = {}
    exec(code, dict(ns), local)
    return local["_v"]


class CoreCompiler:
    """Dispatch, constants, NULL propagation and implicit conversions; the families add handlers."""

    def __init__(self, ctx: _Ctx):
        self.ctx = ctx

    def c(self, node: exp.Expression) -> _Code:
        handler = getattr(self, "_c_" + type(node).__name__, None)
        if handler is None:
            raise self.ctx.unsupported(_construct(node))
        code: _Code = handler(node)
        if code.lit is not None and not isinstance(node, _LITERAL_NODES):
            # measured: only a literal (parenthesised or negated) adapts its type in DuckDB;
            # round(34), coalesce(34, 1), a CASE folding to 34 are plain INTEGERs
            code = dataclasses.replace(code, lit=None)
        if not code.cols and code.const is _NOCONST:
            code = self._fold(code)
        return code

    def _fold(self, code: _Code) -> _Code:
        """Evaluate a constant sub-expression once, at compile time."""
        try:
            value = _run(code.src, self.ctx.ns)
        except Exception:  # left to fail at run time, on every row, as in DuckDB
            code.doomed = True
            return code
        folded = self._const(value, code.t, lit=code.lit)
        folded.bound_null = code.bound_null
        return folded

    def _const(self, value: Any, t: SqlType, lit: int | None = None, strlit: bool = False) -> _Code:
        if value is None:
            src = "None"
        elif value is True or value is False:
            src = repr(value)
        else:
            src = self.ctx.const(value)
        return _Code(src, t, value is None, False, frozenset(), lit, value, strlit)

    def bind(self, code: _Code) -> tuple[str, str]:
        """(expression that evaluates and binds code, name holding its value)."""
        if _IDENT.fullmatch(code.src) or code.src == "None":
            return code.src, code.src
        t = self.ctx.temp()
        return f"({t} := {code.src})", t

    def strict(self, codes: list[_Code], body: Callable[..., str]) -> str:
        """NULL in, NULL out: evaluate every operand (DuckDB does), then apply body to values.

        Operands that are themselves NULL-propagating and cannot raise are fused: their NULL
        guards join this node's and their guarded body is used directly, so a chain like
        lower(trim(s)) tests `s is None` once.
        """
        if any(c.t.name == "NULL" or c.bound_null for c in codes):
            # DuckDB folds a function of a NULL it knows at bind time to NULL before running
            # the other operands, so an error they would raise never happens (measured).
            return "None"
        if any(c.const is None and not c.cols for c in codes):
            # so does a constant expression the optimizer folds to NULL (TRY_CAST of a bad
            # constant, a CASE of constants left with no branch; measured)
            return "None"
        if any(c.src == "None" for c in codes):
            # a NULL on every row that DuckDB does not fold (a CASE naming a column in its
            # dropped branches): DuckDB runs the operands before it and skips those after it,
            # whose input vector is all NULL (measured: `CASE WHEN false THEN d END - (200 * ut)`
            # is NULL, `(200 * ut) + CASE WHEN false THEN d END` overflows)
            first = next(n for n, c in enumerate(codes) if c.src == "None")
            before = [c for c in codes[:first] if c.raises]
            if before:
                binds = ", ".join(self.bind(c)[0] for c in before)
                return f"({binds}, None)[-1]"
            return "None"
        doomed = [c for c in codes if c.doomed]
        if doomed:
            # A constant operand that could not be folded raises on every row: DuckDB runs it
            # (a constant vector) whatever the other operands hold, so it runs first here too.
            return f"({doomed[0].src}, None)[1]"
        # an operand that can raise is evaluated even when another is NULL (DuckDB runs all)
        eval_all = any(c.raises for c in codes) and len(codes) > 1
        marks = [f"\x00{i}\x00" for i in range(len(codes))]
        probe = body(*marks)
        refs: list[str] = []
        checks: list[str] = []
        for c, mark in zip(codes, marks, strict=True):
            if not eval_all and c.body is not None and c.guards is not None and not c.raises:
                checks.extend(g for g in c.guards if g not in checks)
                if probe.count(mark) > 1 and not _IDENT.fullmatch(c.body):
                    t = self.ctx.temp()
                    checks.append(f"({t} := {c.body}) is None")
                    refs.append(t)
                else:
                    refs.append(atom(c.body))
            elif c.nullable or (eval_all and c.raises):
                b, r = self.bind(c)
                check = f"{b} is None"
                if check not in checks:
                    checks.append(check)
                refs.append(r)
            elif probe.count(mark) > 1 and not _IDENT.fullmatch(c.src):
                b, r = self.bind(c)
                checks.append(f"{b} is None")
                refs.append(r)
            else:
                refs.append(c.src)
        out = body(*refs)
        if not checks:
            return out
        if eval_all:
            return f"(None if {' | '.join(f'({g})' for g in checks)} else {out})"
        src = _Src(f"(None if {' or '.join(checks)} else {out})")
        src.guards, src.body = tuple(checks), atom(out)
        return src

    def truth(self, c: _Code) -> str:
        """Python text that is truthy exactly when the BOOLEAN code c is TRUE."""
        if c.body is not None and c.guards and not c.raises:
            return f"(not ({' or '.join(c.guards)}) and {c.body})"
        if not c.nullable:
            return f"({c.src})"
        return f"(({c.src}) is True)"

    def code(
        self,
        src: str,
        t: SqlType,
        codes: list[_Code],
        nullable: bool | None = None,
        raises: bool = False,
    ) -> _Code:
        cols = frozenset().union(*(c.cols for c in codes)) if codes else frozenset()
        if nullable is None:
            nullable = any(c.nullable for c in codes)
        code = _Code(src, t, nullable, raises or any(c.raises for c in codes), cols)
        if src == "None" and any(
            c.bound_null or c.t.name == "NULL" or (c.const is None and not c.cols) for c in codes
        ):
            # folded to NULL over a constant NULL: to DuckDB a constant NULL in turn
            # (`substring(s, NULL)` spares the other operands of its parent; measured)
            code.bound_null = True
        if isinstance(src, _Src):
            code.guards, code.body = src.guards, atom(src.body) if src.body else None
        return code

    def common(
        self,
        codes: list[_Code],
        what: str,
        arith: bool = False,
        compare: bool = False,
    ) -> SqlType:
        """DuckDB's common type of several operands (CASE, COALESCE, comparisons, IN…).

        `compare`: for comparing (not returning) the operands: past 38 digits DuckDB keeps the
        scale and caps the width (a value that does not fit raises), where a result type keeps
        the integer digits and drops scale (measured, both). An integer
        literal adapts to the type accumulated before it (two literals make a plain type), so
        the order of `codes` matters (CASE passes its ELSE first, as DuckDB does).
        """
        typed = [c for c in codes if c.t.name != "NULL"]
        if not typed:
            return NULLT
        if all(c.strlit for c in typed):
            return VARCHAR
        # a NULL met on the way makes the literal accumulated so far a plain type too
        # (measured: coalesce(149, NULL, 0::UBIGINT) is HUGEINT, coalesce(149, 0::UBIGINT) UBIGINT)
        t: SqlType | None = None
        lit: int | None = None
        after_null = False
        for c in codes:
            if c.strlit:
                continue
            if c.t.name == "NULL":
                lit, after_null = None, True
                continue
            if t is None:
                t, lit = c.t, None if after_null else c.lit
            else:
                t, lit = self._common2(t, lit, c.t, c.lit, what, arith, compare), None
        assert t is not None
        return t

    def _common2(
        self,
        a: SqlType,
        alit: int | None,
        b: SqlType,
        blit: int | None,
        what: str,
        arith: bool,
        compare: bool = False,
    ) -> SqlType:
        if a == b and a.name != "DECIMAL":
            return a
        if _is_int(a) and _is_int(b):
            if alit is not None and blit is None and _fits(alit, b):
                return b
            if blit is not None and alit is None and _fits(blit, a):
                return a
            table = F.INT_ARITH if arith else F.INT_COMMON
            return _T[table[(a.name, b.name)]]
        names = {a.name, b.name}
        if names <= _NUMERIC:
            if "DOUBLE" in names:
                return DOUBLE
            if "FLOAT" in names:
                return _T["FLOAT"]
            da = _dec_of_int(a) if _is_int(a) else a
            db = _dec_of_int(b) if _is_int(b) else b
            s = max(da.s, db.s)
            ints = max(da.p - da.s, db.p - db.s)
            if ints + s > 38 and not (arith or compare) and a.name == b.name == "DECIMAL":
                # measured: past 38 digits DuckDB keeps the integer digits and drops scale
                # (coalesce(DECIMAL(30,0), DECIMAL(20,15)) is DECIMAL(38,8)); with an integer
                # type it keeps the scale (coalesce(HUGEINT, DECIMAL(19,1)) is DECIMAL(38,1))
                s = 38 - ints
            return SqlType("DECIMAL", min(38, ints + s), s)
        if names <= _TEMPORAL:
            return TIMESTAMPTZ if "TIMESTAMPTZ" in names else TIMESTAMP
        raise self.ctx.unsupported(
            f"{what} mixing {a} and {b}", "add an explicit CAST so both sides have one type"
        )

    def wrap(
        self, code: _Code, t: SqlType, template: str, raises: bool, total: bool = True
    ) -> _Code:
        """Apply `template` (with `{}` for the non-NULL value) to code, propagating NULL.

        `total` says the template never yields None for a non-NULL value (TRY_CAST does).
        """
        if code.const is None and not code.cols:  # a constant NULL stays one
            null = self._const(None, t)
            null.bound_null = code.bound_null
            return null
        if template == "{}":
            return _Code(code.src, t, code.nullable, code.raises, code.cols)
        if not code.nullable:
            return _Code(
                template.replace("{}", code.src), t, False, code.raises or raises, code.cols
            )
        if total:
            return self.code(
                self.strict([code], lambda x: template.replace("{}", x)), t, [code], raises=raises
            )
        b, r = self.bind(code)
        src = f"(None if {b} is None else {template.replace('{}', r)})"
        return _Code(src, t, code.nullable, code.raises or raises, code.cols)

    def _c_Column(self, node: exp.Column) -> _Code:
        name = node.name
        if name not in self.ctx.schema:
            real = self.ctx.lower_schema.get(name.lower())
            if real is None:
                known = ", ".join(sorted(self.ctx.schema)) or "none"
                raise UnsupportedExpression(
                    f"{self.ctx.where()}: unknown input {name!r} (known inputs: {known}); "
                    "declare it in the request schema or the input views"
                )
            name = real
        local = self.ctx.loads.get(name)
        if local is None:
            local = f"_c{len(self.ctx.loads)}"
            self.ctx.loads[name] = local
        return _Code(local, self.ctx.schema[name], True, False, frozenset([name]))

    def _c_Literal(self, node: exp.Literal) -> _Code:
        text = str(node.this)
        if node.is_string:
            return self._const(text, VARCHAR, strlit=True)
        return self._number(text, negate=False)

    def _number(self, text: str, negate: bool) -> _Code:
        if re.fullmatch(r"[0-9]+", text):
            if len(text.lstrip("0")) > 39:  # DuckDB: BIGNUM (and int() refuses 4,300+ digits)
                raise self.ctx.unsupported(
                    f"the integer literal {text[:20]}… ({len(text)} digits, DuckDB's BIGNUM)",
                    "integers beyond HUGEINT are not supported",
                )
            v = int(text)
            t = next((_T[n] for n in ("INTEGER", "BIGINT", "HUGEINT") if _fits(v, _T[n])), None)
            if t is None and negate and v == 2**127:  # measured: -2^127 is a HUGEINT literal
                t = _T["HUGEINT"]
            elif negate and v == 2**63:  # measured: -2^63 is a BIGINT literal
                t = _T["BIGINT"]
            if t is None:  # DuckDB: UHUGEINT or BIGNUM
                raise self.ctx.unsupported(f"the integer literal {text}")
            v = -v if negate else v
            return self._const(v, t, lit=v)
        if re.fullmatch(r"[0-9]*\.[0-9]*", text):
            digits = len(text.replace(".", "")) or 1
            scale = len(text.split(".")[1])
            p = max(digits, scale, 1)
            if p <= 38:
                d = Decimal(("-" if negate else "") + text)  # exact: no context rounding
                return self._const(d if d else d.copy_abs(), SqlType("DECIMAL", p, scale))
            f = float(text)
            return self._const(-f if negate else f, DOUBLE)
        try:
            f = float(text)
        except ValueError:
            raise self.ctx.unsupported(f"the number literal {text}") from None
        return self._const(-f if negate else f, DOUBLE)

    def _c_Boolean(self, node: exp.Boolean) -> _Code:
        return self._const(bool(node.this), BOOLEAN)

    def _c_Null(self, node: exp.Null) -> _Code:
        code = self._const(None, NULLT)
        code.bound_null = True
        return code

    def _c_Paren(self, node: exp.Paren) -> _Code:
        return self.c(node.this)

    def _typed(self, code: _Code, what: str) -> _Code:
        """DuckDB types an untyped NULL operand idiosyncratically; ask for a CAST instead."""
        if code.t.name == "NULL":
            raise self.ctx.unsupported(
                f"an untyped NULL as the operand of {what}", "write CAST(NULL AS <type>)"
            )
        return code

    def _c_Anonymous(self, node: exp.Anonymous) -> _Code:
        name = str(node.this).lower()
        handler = getattr(self, f"_f_{name}", None)
        if handler is None:
            raise self.ctx.unsupported(f"the function {name}()")
        return handler(node.expressions)  # type: ignore[no-any-return]
