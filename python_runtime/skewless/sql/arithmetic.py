"""Numeric operators and math functions over integers, DECIMAL, DOUBLE and FLOAT."""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_FLOOR

from sqlglot import expressions as exp

from skewless.sql import runtime as F
from skewless.sql.codegen import (
    _NOCONST,
    _Code,
    _construct,
)
from skewless.sql.temporal import (
    TemporalCompiler,
)
from skewless.sql.types import (
    _NUMERIC,
    _T,
    _TEMPORAL,
    BOOLEAN,
    DOUBLE,
    INTERVAL,
    TINYINT,
    SqlType,
    _dec_of_int,
    _fits,
    _is_int,
)

_UNSIGNED_ROUND = {
    "UTINYINT": "BIGINT",
    "USMALLINT": "BIGINT",
    "UINTEGER": "BIGINT",
    "UBIGINT": "HUGEINT",
}
_MATH_FAST = {
    "ln": ("_mlog", "> 0.0"),
    "log10": ("_mlog10", "> 0.0"),
    "sqrt": ("_msqrt", ">= 0.0"),
    "exp": ("_mexp", "< 709.0"),
}


class ArithmeticCompiler(TemporalCompiler):
    """Numeric operators and math functions over integers, DECIMAL, DOUBLE and FLOAT."""

    def _c_Neg(self, node: exp.Neg) -> _Code:
        inner = node.this
        if isinstance(inner, exp.Literal) and not inner.is_string:
            return self._number(str(inner.this), negate=True)
        a = self._typed(self.c(inner), "unary minus")
        if a.lit is not None:  # measured: -(34), -(-(34)) stay integer literals in DuckDB
            v = -a.lit
            return self._number(str(abs(v)), negate=v < 0)
        t = a.t
        if (
            _is_int(t)
            and not t.name.startswith("U")  # measured: -(58::UBIGINT) overflows, no widening
            and isinstance(a.const, int)
            and not _fits(-a.const, t)
        ):
            # measured: DuckDB folds the negation of a constant into the next wider type
            # (-CAST(-128 AS TINYINT) is SMALLINT 128)
            wider = next(n for n in ("SMALLINT", "INTEGER", "BIGINT", "HUGEINT")
                         if _fits(-a.const, _T[n]))  # fmt: skip
            return self._const(-a.const, _T[wider])
        if _is_int(t):
            src = self.strict([a], lambda x: self._range(f"-{x}", t, "negation"))
            return self.code(src, t, [a], raises=True)
        if t.name in ("DOUBLE", "FLOAT"):
            return self.code(self.strict([a], lambda x: f"-{x}"), t, [a])
        if t.name == "DECIMAL":
            return self.code(self.strict([a], lambda x: f"_DEC.minus({x})"), t, [a])
        if t == INTERVAL:
            return self.code(self.strict([a], lambda x: f"_F.iv_neg({x})"), t, [a])
        raise self.ctx.unsupported(f"unary minus on {t}")

    def _range(self, expr: str, t: SqlType, op: str) -> str:
        lo, hi = F.INT_RANGES[t.name]
        tmp = self.ctx.temp()
        return f"({tmp} if {lo} <= ({tmp} := {expr}) <= {hi} else _ovf({self.ctx.const(op)}, {self.ctx.const(t.name)}))"

    def _c_Add(self, node: exp.Add) -> _Code:
        return self._arith("+", node)

    def _c_Sub(self, node: exp.Sub) -> _Code:
        return self._arith("-", node)

    def _c_Mul(self, node: exp.Mul) -> _Code:
        return self._arith("*", node)

    def _c_Div(self, node: exp.Div) -> _Code:
        return self._arith("/", node)

    def _c_IntDiv(self, node: exp.IntDiv) -> _Code:
        return self._arith("//", node)

    def _c_Mod(self, node: exp.Mod) -> _Code:
        return self._arith("%", node)

    def _arith(self, op: str, node: exp.Binary) -> _Code:
        a = self._typed(self.c(node.this), f"`{op}`")
        b = self._typed(self.c(node.expression), f"`{op}`")
        if a.strlit or b.strlit:
            raise self.ctx.unsupported(f"arithmetic on a string literal in {_construct(node)}")
        names = {a.t.name, b.t.name}
        if names & (_TEMPORAL | {"INTERVAL"}):
            return self._temporal_arith(op, a, b, node)
        if not names <= _NUMERIC | {"NULL"}:
            raise self.ctx.unsupported(f"`{op}` on {a.t} and {b.t}")
        if op == "/":
            t = self.common([a, b], op, arith=True)
            if t.name == "FLOAT":
                a, b = self.conv(a, t), self.conv(b, t)
                body = "_f32({0} / {1} if {1} else _ieee({0}, {1}))"
                return self.code(self.strict([a, b], body.format), t, [a, b])
            a, b = self._to_double(a), self._to_double(b)
            if isinstance(b.const, float) and b.const != 0:  # no zero test needed
                return self.code(self.strict([a, b], lambda x, y: f"{x} / {y}"), DOUBLE, [a, b])
            return self.code(
                self.strict([a, b], lambda x, y: f"({x} / {y} if {y} else _ieee({x}, {y}))"),
                DOUBLE,
                [a, b],
            )
        t = self.common([a, b], op, arith=True)
        if t.name == "DECIMAL":
            return self._dec_arith(op, a, b, t)
        if t.name == "NULL":
            return self.code("None", _T["INTEGER"], [a, b], nullable=True)
        a, b = self.conv(a, t), self.conv(b, t)
        if _is_int(t):
            k = self.ctx.const(t.name)
            if op in "+-*":
                name = {"+": "addition", "-": "subtraction", "*": "multiplication"}[op]
                src = self.strict([a, b], lambda x, y: self._range(f"{x} {op} {y}", t, name))
            elif op == "//":
                src = self.strict([a, b], lambda x, y: f"_idiv({x}, {y}, {k})")
            else:
                src = self.strict([a, b], lambda x, y: f"_imod({x}, {y}, {k})")
            return self.code(src, t, [a, b], raises=True)
        # DOUBLE / FLOAT
        wrap = "_f32({})" if t.name == "FLOAT" else "{}"
        if op in "+-*":
            src = self.strict([a, b], lambda x, y: wrap.format(f"{x} {op} {y}"))
            return self.code(src, t, [a, b])
        if op == "//":
            src = self.strict([a, b], lambda x, y: wrap.format(f"_ddiv({x}, {y})"))
            return self.code(src, t, [a, b], raises=True)
        src = self.strict([a, b], lambda x, y: wrap.format(f"_dmod({x}, {y})"))
        return self.code(src, t, [a, b])

    def _to_double(self, code: _Code) -> _Code:
        if code.t.name == "DOUBLE" or code.t.name == "NULL":
            return code
        if code.const is not _NOCONST and code.const is not None and not code.strlit:
            return self._const(float(code.const), DOUBLE)
        return self.wrap(code, DOUBLE, "float({})", raises=False)

    def _dec_arith(self, op: str, a: _Code, b: _Code, common: SqlType) -> _Code:
        da = _dec_of_int(a.t) if _is_int(a.t) else a.t
        db = _dec_of_int(b.t) if _is_int(b.t) else b.t
        if a.t.name == "NULL":
            da = db
        if b.t.name == "NULL":
            db = da
        if op == "//":
            a, b = self._to_double(a), self._to_double(b)
            src = self.strict([a, b], lambda x, y: f"_ddiv({x}, {y})")
            return self.code(src, DOUBLE, [a, b], raises=True)
        if op == "%":
            if max(da.p - da.s, db.p - db.s) + max(da.s, db.s) > 38:
                # measured: past 38 digits DuckDB computes the remainder as DOUBLE (fmod)
                a, b = self._to_double(a), self._to_double(b)
                src = self.strict([a, b], lambda x, y: f"_F.dec_mod_double({x}, {y})")
                return self.code(src, DOUBLE, [a, b], raises=True)
            # DuckDB takes the remainder of the stored integers, without the width check a
            # HUGEINT -> DECIMAL(38,0) cast would make: an integer operand is used exactly
            ops = [
                self.wrap(c, SqlType("DECIMAL", d.p, d.s), "_D({})", raises=False)
                if _is_int(c.t)
                else self.conv(c, SqlType("DECIMAL", d.p, d.s))
                for c, d in ((a, da), (b, db))
            ]
            kscale = self.ctx.const(common.s)
            src = self.strict(ops, lambda x, y: f"_F.dec_mod({x}, {y}, {kscale})")
            return self.code(src, common, ops, raises=True)
        a = self.conv(a, SqlType("DECIMAL", da.p, da.s))
        b = self.conv(b, SqlType("DECIMAL", db.p, db.s))
        if op in "+-":
            s = max(da.s, db.s)
            p = max(da.p - da.s, db.p - db.s) + s + 1
            fn = "_dadd" if op == "+" else "_dsub"
            if p <= 38:
                t = SqlType("DECIMAL", p, s)
                return self.code(self.strict([a, b], lambda x, y: f"{fn}({x}, {y})"), t, [a, b])
            t = SqlType("DECIMAL", 38, s)
            # measured: past 38 digits DuckDB casts both operands to DECIMAL(38, s) first - an
            # operand with more than 38 - s integer digits fails that cast (a constant one on
            # every row, even where the other operand is NULL)
            a, b = self.conv(a, t), self.conv(b, t)
            ks = (self.ctx.const(38), self.ctx.const(s), self.ctx.const("addition"))
            body = lambda x, y: f"_dchk({fn}({x}, {y}), {ks[0]}, {ks[1]}, {ks[2]})"  # noqa: E731
            return self.code(self.strict([a, b], body), t, [a, b], raises=True)
        if op == "*":
            s = da.s + db.s
            p = da.p + db.p
            if s > 38:
                raise self.ctx.unsupported(f"DECIMAL multiplication with scale {s} > 38")
            check = False
            if p > 18 and max(da.p, db.p) <= 18 and s < 18:
                p, check = 18, True
            if p > 38:
                p, check = 38, True
            t = SqlType("DECIMAL", p, s)
            if not check:
                src = self.strict([a, b], lambda x, y: self._nz(f"_dmul({x}, {y})"))
                return self.code(src, t, [a, b])
            ks = (self.ctx.const(p), self.ctx.const(s), self.ctx.const("multiplication"))
            body = lambda x, y: f"_dchk({self._nz(f'_dmul({x}, {y})')}, {ks[0]}, {ks[1]}, {ks[2]})"  # noqa: E731
            return self.code(self.strict([a, b], body), t, [a, b], raises=True)
        raise AssertionError(op)

    def _nz(self, expr: str) -> str:
        """A DECIMAL expression whose zero is never -0 (DuckDB's DECIMAL has no negative zero)."""
        tmp = self.ctx.temp()
        return f"(({tmp} := {expr}) or {tmp}.copy_abs())"

    def _num(self, node: exp.Expression, what: str) -> _Code:
        a = self._typed(self.c(node), what)
        if a.t.name not in _NUMERIC:
            raise self.ctx.unsupported(f"{what} on {a.t}")
        return a

    def _c_Abs(self, node: exp.Abs) -> _Code:
        a = self._num(node.this, "abs")
        t = a.t
        if _is_int(t):
            if t.name.startswith("U"):
                return a
            return self.code(
                self.strict([a], lambda x: self._range(f"abs({x})", t, "abs")), t, [a], raises=True
            )
        if t.name == "NULL":
            return a
        if t.name == "DECIMAL":
            return self.code(self.strict([a], lambda x: f"{x}.copy_abs()"), t, [a])
        return self.code(self.strict([a], lambda x: f"abs({x})"), t, [a])

    def _c_Sign(self, node: exp.Sign) -> _Code:
        a = self._num(node.this, "sign")
        if a.t.name in ("DOUBLE", "FLOAT"):
            return self.code(self.strict([a], lambda x: f"_F.dbl_sign({x})"), TINYINT, [a])
        return self.code(self.strict([a], lambda x: f"(({x} > 0) - ({x} < 0))"), TINYINT, [a])

    def _c_Round(self, node: exp.Round) -> _Code:
        a = self._num(node.this, "round")
        dec = node.args.get("decimals")
        n: int | None = None
        if dec is not None:
            d = self.c(dec)
            if not _is_int(d.t) or d.const is _NOCONST or d.const is None:
                raise self.ctx.unsupported(
                    "round(x, n) with a non-constant or non-integer n", "use an integer literal"
                )
            n = int(d.const)
        t = a.t
        if t.name == "NULL":
            return a
        if t.name in _UNSIGNED_ROUND:  # no unsigned round(): DuckDB widens to a signed type
            t = _T[_UNSIGNED_ROUND[t.name]]
            a = _Code(
                a.src, t, a.nullable, a.raises, a.cols, a.lit, a.const, False, a.guards, a.body
            )
        if _is_int(t):
            if n is None or n >= 0:
                return a
            k, kt = self.ctx.const(n), self.ctx.const(t.name)
            return self.code(
                self.strict([a], lambda x: f"_F.int_round_n({x}, {k}, {kt})"), t, [a], raises=True
            )
        if t.name in ("DOUBLE", "FLOAT"):
            w = "_f32({})" if t.name == "FLOAT" else "{}"
            if n is None:
                return self.code(self.strict([a], lambda x: w.format(f"_F.dbl_round({x})")), t, [a])
            k = self.ctx.const(n)
            return self.code(
                self.strict([a], lambda x: w.format(f"_F.dbl_round_n({x}, {k})")), t, [a]
            )
        # DECIMAL
        n = 0 if n is None else n
        if n >= 0 and n >= t.s:
            return a
        k = self.ctx.const(n)
        if n >= 0:
            rt = SqlType("DECIMAL", t.p, n)
            return self.code(self.strict([a], lambda x: f"_dq({x}, {k})"), rt, [a])
        if t.s > 0:  # measured: DECIMAL(p,s>0) -> DECIMAL(p,0), which always holds the result
            rt = SqlType("DECIMAL", t.p, 0)
            return self.code(self.strict([a], lambda x: f"_dq(_dq({x}, {k}), 0)"), rt, [a])
        # DECIMAL(p,0), n < 0: DuckDB widens to DECIMAL(p+1,0); at 38 digits it checks overflow
        if t.p < 38:
            rt = SqlType("DECIMAL", t.p + 1, 0)
            return self.code(self.strict([a], lambda x: f"_dq(_dq({x}, {k}), 0)"), rt, [a])
        rt = SqlType("DECIMAL", 38, 0)
        src = self.strict([a], lambda x: f"_F.dec_round_neg38({x}, {k})")
        return self.code(src, rt, [a], raises=True)

    def _floorceil(self, node: exp.Expression, kind: str) -> _Code:
        a = self._num(node.this, kind)
        t = a.t
        if node.args.get("decimals") or node.args.get("to"):
            raise self.ctx.unsupported(f"{kind} with a second argument")
        if t.name == "NULL":
            return a
        if _is_int(t):  # DuckDB has no integer floor/ceil: the value goes through DOUBLE
            return self._to_double(a)
        if t.name in ("DOUBLE", "FLOAT"):
            return self.code(self.strict([a], lambda x: f"_d{kind}({x})"), t, [a])
        rnd = self.ctx.const(ROUND_FLOOR if kind == "floor" else ROUND_CEILING)
        rt = SqlType("DECIMAL", t.p, 0)
        src = self.strict([a], lambda x: self._nz(f"{x}.to_integral_value({rnd}, _DEC)"))
        return self.code(src, rt, [a])

    def _c_Trunc(self, node: exp.Trunc) -> _Code:
        a = self._num(node.this, "trunc")
        t = a.t
        dec = node.args.get("decimals")
        n: int | None = None
        if dec is not None:
            d = self.c(dec)
            if not _is_int(d.t) or d.const is _NOCONST or d.const is None:
                raise self.ctx.unsupported(
                    "trunc(x, n) with a non-constant or non-integer n", "use an integer literal"
                )
            n = int(d.const)
        if t.name == "NULL":
            return a
        if _is_int(t):
            if n is None or n >= 0:
                return a
            if t.name.startswith("U"):
                # measured: DuckDB 2.0.1 truncates an unsigned column, but leaves a constant
                # (trunc(200::UTINYINT, -1) = 200) - not reproduced
                raise self.ctx.unsupported(
                    f"trunc({t}, n < 0)", "cast the argument to a signed integer type first"
                )
            k = self.ctx.const(n)
            return self.code(self.strict([a], lambda x: f"_F.int_trunc_n({x}, {k})"), t, [a])
        if t.name in ("DOUBLE", "FLOAT"):
            if n is not None:
                raise self.ctx.unsupported(
                    f"trunc({t}, n)",
                    "DuckDB scales by 10^n in floating point, which is not reproduced; "
                    "use trunc(x) or a DECIMAL argument",
                )
            return self.code(self.strict([a], lambda x: f"_F.dbl_trunc({x})"), t, [a])
        n = 0 if n is None else n
        if n >= t.s:
            return a
        rt = SqlType("DECIMAL", t.p, max(n, 0))
        k = self.ctx.const(n)
        src = self.strict([a], lambda x: f"_F.dec_trunc_n({x}, {k})")
        return self.code(src, rt, [a])

    def _c_Cbrt(self, node: exp.Cbrt) -> _Code:
        return self._math(node.this, "cbrt")

    def _isfloat(self, node: exp.Expression, fn: str, int_value: bool) -> _Code:
        a = self._typed(self._num(node, fn), fn)
        if a.t.name not in ("DOUBLE", "FLOAT"):  # integers and DECIMAL are always finite
            return self.code(self.strict([a], lambda x: repr(int_value)), BOOLEAN, [a])
        inf = self.ctx.const(math.inf)
        test = {
            "isnan": "({0} != {0})",
            "isinf": "(abs({0}) == {1})",
            "isfinite": "(abs({0}) < {1})",
        }
        return self.code(self.strict([a], lambda x: test[fn].format(x, inf)), BOOLEAN, [a])

    def _c_IsNan(self, node: exp.IsNan) -> _Code:
        return self._isfloat(node.this, "isnan", False)

    def _c_IsInf(self, node: exp.IsInf) -> _Code:
        return self._isfloat(node.this, "isinf", False)

    def _f_isfinite(self, args: list[exp.Expression]) -> _Code:
        if len(args) != 1:
            raise self.ctx.unsupported("isfinite() with other than one argument")
        return self._isfloat(args[0], "isfinite", True)

    def _c_Floor(self, node: exp.Floor) -> _Code:
        return self._floorceil(node, "floor")

    def _c_Ceil(self, node: exp.Ceil) -> _Code:
        return self._floorceil(node, "ceil")

    def _math(self, node: exp.Expression, fn: str) -> _Code:
        a = self._to_double(self._num(node, fn))
        fast = _MATH_FAST.get(fn)  # the common domain inline, edge cases in the helper
        if fast is None:
            body = lambda x: f"_F.dbl_{fn}({x})"  # noqa: E731
        else:
            body = lambda x: f"({fast[0]}({x}) if {x} {fast[1]} else _F.dbl_{fn}({x}))"  # noqa: E731
        return self.code(self.strict([a], body), DOUBLE, [a])

    def _c_Ln(self, node: exp.Ln) -> _Code:
        return self._math(node.this, "ln")

    def _c_Exp(self, node: exp.Exp) -> _Code:
        return self._math(node.this, "exp")

    def _c_Sqrt(self, node: exp.Sqrt) -> _Code:
        return self._math(node.this, "sqrt")

    def _c_Log(self, node: exp.Log) -> _Code:
        base, arg = node.this, node.expression
        if arg is None:
            return self._math(base, "log10")
        if isinstance(base, exp.Literal) and not base.is_string and str(base.this) == "2":
            # sqlglot parses log2(x) as log(2, x); DuckDB's log2 is C log2, while its
            # log(2, x) is log10(x) / log10(2) (they differ in the last bit). Only the parser's
            # position metadata tells them apart: log2's base literal is synthesized.
            if "line" in node.meta and "line" not in base.meta:
                return self._math(arg, "log2")
            if "line" not in base.meta:
                raise self.ctx.unsupported(
                    "log(2, x) / log2(x) in a generated expression tree",
                    "write the expression as SQL text",
                )
        if isinstance(base, exp.Literal) and str(base.this) == "10":
            return self._math(arg, "log10")
        # DuckDB: log(b, x) = log10(x) / log10(b), IEEE division (log(1, 8) = inf)
        # built here, not by self.c: fold a constant operand now (strict() treats an unfolded
        # constant as one that raises)
        b, x = (self._math(n, "log10") for n in (base, arg))
        b, x = (v if v.cols else self._fold(v) for v in (b, x))
        return self.code(self.strict([x, b], lambda u, v: f"_ieee({u}, {v})"), DOUBLE, [x, b])

    def _c_Pow(self, node: exp.Pow) -> _Code:
        a = self._to_double(self._num(node.this, "pow"))
        b = self._to_double(self._num(node.expression, "pow"))
        return self.code(self.strict([a, b], lambda x, y: f"_F.dbl_pow({x}, {y})"), DOUBLE, [a, b])
