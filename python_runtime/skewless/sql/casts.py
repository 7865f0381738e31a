"""CAST / TRY_CAST / `::` between the supported types, with DuckDB's explicit cast rules."""

from __future__ import annotations

from typing import Any

from sqlglot import expressions as exp

from skewless.errors import ExpressionError
from skewless.sql import runtime as F
from skewless.sql.codegen import (
    _NOCONST,
    CoreCompiler,
    _Code,
    _run,
)
from skewless.sql.types import (
    _INT,
    _SQLGLOT_TYPES,
    _T,
    _TEMPORAL,
    TIMESTAMPTZ,
    VARCHAR,
    SqlType,
    parse_type,
)


class CastCompiler(CoreCompiler):
    """CAST / TRY_CAST / `::` between the supported types, with DuckDB's explicit cast rules."""

    def conv(self, code: _Code, t: SqlType) -> _Code:
        """Implicitly convert a (possibly NULL) operand to t; string literals are parsed now."""
        if code.t == t or t.name == "NULL":
            return code
        if code.t.name == "NULL":
            null = _Code(code.src, t, True, code.raises, code.cols, const=code.const)
            null.bound_null = True
            return null
        if code.const is None and not code.cols:  # a typed constant NULL stays what it was
            null = self._const(None, t)
            null.bound_null = code.bound_null
            return null
        if code.strlit:
            try:
                value = self.cast_value(code.const, VARCHAR, t)
            except ExpressionError as e:
                raise self.ctx.unsupported(f"the literal {code.const!r} as {t}", str(e)) from None
            return self._const(value, t)
        template = self.cast_src("{}", code.t, t)
        raises = template != "{}" and not template.startswith(("float(", "str("))
        if code.const is not _NOCONST and code.const is not None:
            try:
                value = _run(self.cast_src(code.src, code.t, t), self.ctx.ns)
            except ExpressionError:
                # DuckDB converts the constant when the expression runs: an error on every row
                # that evaluates it (none where a CASE branch or COALESCE skips it)
                doomed = self.wrap(code, t, template, raises=True)
                doomed.doomed = True
                return doomed
            return self._const(value, t)
        return self.wrap(code, t, template, raises=raises)

    def cast_src(self, v: str, src: SqlType, dst: SqlType) -> str:
        """Python text converting non-NULL value text v from src to dst (explicit CAST rules)."""
        s, d = src.name, dst.name
        k = self.ctx.const
        if src == dst:
            return v
        if d in _INT:
            if s in _INT:
                if (
                    F.INT_RANGES[s][0] >= F.INT_RANGES[d][0]
                    and F.INT_RANGES[s][1] <= F.INT_RANGES[d][1]
                ):
                    return v
                return f"_F.int_to_int({v}, {k(d)})"
            if s in ("DOUBLE", "FLOAT"):
                lo, hi = F.INT_RANGES[d]
                # round() is half-to-even like DuckDB's cast; out of range/NaN/inf: the helper
                lo_f = lo - 0.5 if lo > -(2**40) else -9.2e18
                hi_f = hi + 0.5 if hi < 2**40 else (9.2e18 if hi < 2**63 else 1.8e19)
                return f"(round({v}) if {lo_f!r} <= {v} < {hi_f!r} else _F.dbl_to_int({v}, {k(d)}))"
            if s == "DECIMAL":
                return f"_F.dec_to_int({v}, {k(d)})"
            if s == "VARCHAR":
                return f"_F.str_to_int({v}, {k(d)})"
            if s == "BOOLEAN":
                return f"int({v})"
        elif d == "DOUBLE":
            if s in _INT or s in ("FLOAT", "DECIMAL", "BOOLEAN"):
                return f"float({v})"
            if s == "VARCHAR":
                return f"_F.str_to_double({v})"
        elif d == "FLOAT":
            if s in _INT or s in ("DECIMAL", "BOOLEAN"):
                return f"_f32(float({v}))"
            if s == "DOUBLE":
                return f"_F.dbl_to_f32({v})"
            if s == "VARCHAR":
                return f"_F.str_to_f32({v})"
        elif d == "DECIMAL":
            p, sc = k(dst.p), k(dst.s)
            if s in _INT:
                return f"_F.int_to_decimal({v}, {p}, {sc})"
            if s in ("DOUBLE", "FLOAT"):
                return f"_F.dbl_to_decimal({v}, {p}, {sc})"
            if s == "DECIMAL":
                if dst.s >= src.s and dst.p - dst.s >= src.p - src.s:
                    return f"_dq({v}, {sc})" if dst.s != src.s else v
                return f"_F.dec_to_decimal({v}, {p}, {sc})"
            if s == "VARCHAR":
                return f"_F.str_to_decimal({v}, {p}, {sc})"
        elif d == "VARCHAR":
            if s in _INT:
                return f"str({v})"
            if s == "DOUBLE":
                return f"_F.dbl_to_str({v})"
            if s == "FLOAT":
                return f"_F.f32_to_str({v})"
            if s == "DECIMAL":
                if src.p == src.s:  # DECIMAL(p,p) prints without the leading 0: '.100'
                    return f"_F.dec_to_str({v}, {k(src.s)}, {k(src.p)})"
                return f"_F.dec_to_str({v}, {k(src.s)})"
            if s == "BOOLEAN":
                return f"_F.bool_to_str({v})"
            if s == "DATE":
                return f"_F.date_to_str({v})"
            if s == "TIMESTAMP":
                return f"_F.ts_to_str({v})"
            if s == "TIMESTAMPTZ":
                return f"_F.tstz_to_str({v})"
        elif d == "BOOLEAN":
            if s in _INT or s in ("DOUBLE", "FLOAT", "DECIMAL"):
                return f"({v} != 0)"
            if s == "VARCHAR":
                return f"_F.str_to_bool({v})"
        elif d == "DATE":
            if s == "TIMESTAMP":
                return f"{v}.date()"
            if s == "TIMESTAMPTZ":
                return f"{v}.astimezone(_UTC).date()"
            if s == "VARCHAR":
                return f"_F.str_to_date({v})"
        elif d == "TIMESTAMP":
            if s == "DATE":
                return f"_F.to_ts({v})"
            if s == "TIMESTAMPTZ":
                return f"{v}.astimezone(_UTC).replace(tzinfo=None)"
            if s == "VARCHAR":
                return f"_F.str_to_ts({v}, False)"
        elif d == "TIMESTAMPTZ":
            if s in ("DATE", "TIMESTAMP"):
                return f"_F.to_tstz({v})"
            if s == "VARCHAR":
                return f"_F.str_to_ts({v}, True)"
        raise self.ctx.unsupported(f"CAST from {src} to {dst}")

    def cast_value(self, value: Any, src: SqlType, dst: SqlType) -> Any:
        return _run(self.cast_src(self.ctx.const(value), src, dst), self.ctx.ns)

    def _target(self, dt: exp.DataType) -> SqlType:
        name = dt.this.name if hasattr(dt.this, "name") else str(dt.this)
        duck = _SQLGLOT_TYPES.get(name)
        if duck is None:
            raise self.ctx.unsupported(f"CAST to {dt.sql(dialect='duckdb')}")
        if duck == "DECIMAL":
            params = self._decimal_params(dt)
            p = params[0] if params else 18
            s = params[1] if len(params) > 1 else (3 if not params else 0)
            return parse_type(f"DECIMAL({p},{s})")
        if dt.expressions and duck in _TEMPORAL:
            # DuckDB: TIMESTAMP(0) is TIMESTAMP_S, (1-3) TIMESTAMP_MS, (7-…) TIMESTAMP_NS
            prec = [str(getattr(p.this, "this", p.this)) for p in dt.expressions]
            if duck != "TIMESTAMP" or prec != ["6"]:
                raise self.ctx.unsupported(
                    f"CAST to {dt.sql(dialect='duckdb')}",
                    "DuckDB makes it TIMESTAMP_S/_MS/_NS, which skewless does not support; "
                    "cast to TIMESTAMP (microseconds) and truncate with date_trunc",
                )
        if dt.expressions and (duck in _INT or duck in ("DOUBLE", "FLOAT")):
            # DuckDB: INT(5) is a syntax error, DOUBLE(5) a binder error, FLOAT(n) is FLOAT or
            # DOUBLE depending on n
            raise self.ctx.unsupported(
                f"CAST to {dt.sql(dialect='duckdb')} (a numeric type with parameters)",
                f"write {duck} without parameters",
            )
        return _T[duck]

    def _decimal_params(self, dt: exp.DataType) -> list[int]:
        """DECIMAL's width and scale: at most two integer literals; anything else is refused."""
        out: list[int] = []
        for param in dt.expressions:
            value = param.this if isinstance(param, exp.DataTypeParam) else param
            text = str(value.this) if isinstance(value, exp.Literal) else ""
            if not text.isdigit() or value.is_string or len(out) == 2:
                raise self.ctx.unsupported(
                    f"the type {dt.sql(dialect='duckdb')}",
                    "write DECIMAL(p,s) with integer literals, 1 <= p <= 38 and 0 <= s <= p",
                )
            out.append(int(text))
        return out

    def _c_Cast(self, node: exp.Cast) -> _Code:
        return self._cast(node, safe=False)

    def _c_TryCast(self, node: exp.TryCast) -> _Code:
        return self._cast(node, safe=True)

    def _cast(self, node: exp.Cast, safe: bool) -> _Code:
        dst = self._target(node.args["to"])
        a = self.c(node.this)
        if a.t.name == "NULL" or a.src == "None":  # NULL, typed or not, casts to NULL
            # (one that names columns stays a non-constant NULL, as it is to DuckDB)
            null = self._const(None, dst) if not a.cols else _Code("None", dst, True, False, a.cols)
            null.bound_null = a.bound_null or a.t.name == "NULL"
            return null
        if a.t == VARCHAR and dst.name in _TEMPORAL and a.const is not _NOCONST:
            try:
                value = self.cast_value(a.const, VARCHAR, dst)
            except F.NotReproducible as e:  # DuckDB has a value here: TRY_CAST is not NULL
                raise self.ctx.unsupported(f"the {dst} literal {a.const!r}", str(e)) from None
            except ExpressionError as e:
                if safe:
                    return self._const(None, dst)
                raise self.ctx.unsupported(f"the {dst} literal {a.const!r}", str(e)) from None
            return self._const(value, dst)
        if a.t == VARCHAR and dst == TIMESTAMPTZ:
            # DuckDB resolves a zone name in the text ('… America/New_York') with its bundled
            # ICU time-zone data, which Python's zoneinfo cannot be guaranteed to equal.
            raise self.ctx.unsupported(
                "CAST of a non-constant VARCHAR to TIMESTAMPTZ",
                "pass the input typed as TIMESTAMPTZ in the request schema (CAST to TIMESTAMP "
                "is supported, but it ignores offsets and zone names, as DuckDB does)",
            )
        src_t = a.t
        template = self.cast_src("{}", src_t, dst)
        if a.strlit:
            src_t = VARCHAR
        raises = template != "{}" and not template.startswith(("float(", "str(", "_F.bool_to_str"))
        if safe and raises:
            inner = template.replace("{}", "_v")
            fn = self.ctx.const(_run(f"lambda _v: {inner}", self.ctx.ns))
            code = self.wrap(a, dst, f"_try({fn}, {{}})", raises=False, total=False)
            code.nullable = True
            return code
        return self.wrap(a, dst, template, raises=raises)
