"""Dates, timestamps and intervals: literals, arithmetic, parts, truncation and differences."""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any

from sqlglot import expressions as exp

from skewless.sql import runtime as F
from skewless.sql.codegen import (
    _Code,
    _construct,
)
from skewless.sql.logic import (
    LogicCompiler,
)
from skewless.sql.types import (
    _T,
    _TEMPORAL,
    BIGINT,
    DATE,
    DOUBLE,
    INTERVAL,
    TIMESTAMP,
    _fits,
    _is_int,
)

_UNITS = {
    "year": "year", "years": "year", "y": "year", "yr": "year", "yrs": "year",
    "quarter": "quarter", "quarters": "quarter",
    "month": "month", "months": "month", "mon": "month", "mons": "month",
    "week": "week", "weeks": "week", "w": "week",
    "day": "day", "days": "day", "d": "day",
    "hour": "hour", "hours": "hour", "h": "hour", "hr": "hour", "hrs": "hour",
    "minute": "minute", "minutes": "minute", "min": "minute", "mins": "minute", "m": "minute",
    "second": "second", "seconds": "second", "s": "second", "sec": "second", "secs": "second",
    "millisecond": "millisecond", "milliseconds": "millisecond", "ms": "millisecond",
    "msec": "millisecond", "msecs": "millisecond",
    "microsecond": "microsecond", "microseconds": "microsecond", "us": "microsecond",
    "usec": "microsecond", "usecs": "microsecond",
    "epoch": "epoch", "dow": "dow", "dayofweek": "dow", "isodow": "isodow",
    "doy": "doy", "dayofyear": "doy", "isoyear": "isoyear", "decade": "decade",
    "decades": "decade",
}  # fmt: skip
_DIFF_PARTS = {"year", "quarter", "month", "week", "day", "hour", "minute", "second",
               "millisecond", "microsecond"}  # fmt: skip
_TRUNC_PARTS = _DIFF_PARTS
_EXTRACT_PARTS = {"year", "quarter", "month", "day", "hour", "minute", "second", "millisecond",
                  "microsecond", "epoch", "dow", "isodow", "doy", "week", "isoyear", "decade"}  # fmt: skip
_TIME_PARTS = {"hour", "minute", "second", "millisecond", "microsecond"}
_IV_UNIT = {
    "year": (12, 0, 0), "quarter": (3, 0, 0), "month": (1, 0, 0), "week": (0, 7, 0),
    "day": (0, 1, 0), "hour": (0, 0, 3_600_000_000), "minute": (0, 0, 60_000_000),
    "second": (0, 0, 1_000_000), "millisecond": (0, 0, 1000), "microsecond": (0, 0, 1),
}  # fmt: skip


class TemporalCompiler(LogicCompiler):
    """Dates, timestamps and intervals: literals, arithmetic, parts, truncation and differences."""

    def _c_Interval(self, node: exp.Interval) -> _Code:
        value = node.this
        unit = node.args.get("unit")
        if not isinstance(value, exp.Literal):
            raise self.ctx.unsupported(f"the non-constant interval {_construct(node)}")
        text = str(value.this).strip()
        if unit is not None:
            text = f"{text} {unit.name}"
        parts = text.split()
        if len(parts) % 2:
            raise self.ctx.unsupported(f"the interval {_construct(node)}")
        months = days = micros = 0
        for num, u in zip(parts[::2], parts[1::2], strict=True):
            if not re.fullmatch(r"[+-]?\d+", num) or _UNITS.get(u.lower()) not in _IV_UNIT:
                raise self.ctx.unsupported(f"the interval {_construct(node)}")
            mo, da, us = _IV_UNIT[_UNITS[u.lower()]]
            n = int(num)
            months, days, micros = months + n * mo, days + n * da, micros + n * us
        return self._const(F.Interval(months, days, micros), INTERVAL)

    def _temporal_arith(self, op: str, a: _Code, b: _Code, node: Any) -> _Code:
        ta, tb = a.t.name, b.t.name
        small_int = {"TINYINT", "SMALLINT", "INTEGER", "UTINYINT", "USMALLINT"}

        def int_ok(c: _Code) -> bool:
            return c.t.name in small_int or (c.lit is not None and _fits(c.lit, _T["INTEGER"]))

        if op == "+" and tb == "DATE" and ta != "DATE":
            a, b, ta, tb = b, a, tb, ta
        if op == "+" and tb in ("TIMESTAMP", "TIMESTAMPTZ") and ta == "INTERVAL":
            a, b, ta, tb = b, a, tb, ta
        if ta == "DATE" and op in "+-" and _is_int(b.t) and int_ok(b):
            sign = "" if op == "+" else "-"
            src = self.strict([a, b], lambda x, y: f"_F.date_add_days({x}, {sign}{y})")
            return self.code(src, DATE, [a, b], raises=True)
        if ta == "DATE" and tb == "DATE" and op == "-":
            return self.code(self.strict([a, b], lambda x, y: f"({x} - {y}).days"), BIGINT, [a, b])
        if ta in _TEMPORAL and tb == "INTERVAL" and op in "+-":
            rt = TIMESTAMP if ta == "DATE" else a.t
            if ta == "DATE":
                a = self.wrap(a, TIMESTAMP, "_F.to_ts({})", raises=False)
            iv = b.const
            if isinstance(iv, F.Interval) and iv.months == 0:
                td = _dt.timedelta(days=iv.days, microseconds=iv.micros)
                k = self.ctx.const(td)
                src = self.strict([a], lambda x: f"({x} {op} {k})")
                return self.code(src, rt, [a, b], raises=True)
            fn = "_F.ts_add_iv" if op == "+" else "_F.ts_sub_iv"
            src = self.strict([a, b], lambda x, y: f"{fn}({x}, {y})")
            return self.code(src, rt, [a, b], raises=True)
        if ta in _TEMPORAL and tb in _TEMPORAL and op == "-":
            if ta == "DATE":
                a = self.wrap(a, TIMESTAMP, "_F.to_ts({})", raises=False)
            if tb == "DATE":
                b = self.wrap(b, TIMESTAMP, "_F.to_ts({})", raises=False)
            src = self.strict([a, b], lambda x, y: f"_F.ts_diff({x}, {y})")
            return self.code(src, INTERVAL, [a, b])
        if ta == "INTERVAL" and tb == "INTERVAL" and op in "+-":
            fn = "_F.iv_add" if op == "+" else "(lambda p, q: _F.iv_add(p, _F.iv_neg(q)))"
            src = self.strict([a, b], lambda x, y: f"{fn}({x}, {y})")
            return self.code(src, INTERVAL, [a, b])
        raise self.ctx.unsupported(f"`{op}` on {a.t} and {b.t} in {_construct(node)}")

    def _unit(self, node: exp.Expression | None, allowed: set[str], what: str) -> str:
        if node is None:
            raise self.ctx.unsupported(f"{what} without a part")
        if isinstance(node, exp.Literal) and node.is_string:
            text = str(node.this)
        elif isinstance(node, (exp.Var, exp.Column, exp.Identifier)):
            text = node.name
        else:
            raise self.ctx.unsupported(f"{what} with a non-constant part {_construct(node)}")
        unit = _UNITS.get(text.lower())
        if unit not in allowed:
            raise self.ctx.unsupported(f"{what} part {text!r}", f"use one of {sorted(allowed)}")
        return unit

    def _temporal(self, node: exp.Expression, what: str) -> _Code:
        a = self.c(node)
        if a.strlit:
            raise self.ctx.unsupported(
                f"{what} on a string literal", "write DATE '…' or TIMESTAMP '…'"
            )
        if a.t.name not in _TEMPORAL:
            self._typed(a, what)
            raise self.ctx.unsupported(f"{what} on {a.t}")
        return a

    def _c_DateDiff(self, node: exp.DateDiff) -> _Code:
        unit = self._unit(node.args.get("unit"), _DIFF_PARTS, "date_diff")
        end = self._temporal(node.this, "date_diff")
        start = self._temporal(node.expression, "date_diff")
        k = self.ctx.const(unit)
        if unit == "day" and start.t == DATE and end.t == DATE:
            body = lambda x, y: f"({y} - {x}).days"  # noqa: E731
        elif unit == "second" and start.t == end.t and start.t.name != "DATE":
            # whole-second boundaries crossed: floor of the difference, +1 if y's fraction < x's
            def body(x: str, y: str) -> str:
                t = self.ctx.temp()
                return (
                    f"(({t} := {y} - {x}).days * 86400 + {t}.seconds"
                    f" + ({y}.microsecond < {x}.microsecond))"
                )
        else:
            body = lambda x, y: f"_F.date_diff({k}, {x}, {y})"  # noqa: E731
        return self.code(self.strict([start, end], body), BIGINT, [start, end])

    def _c_TimestampTrunc(self, node: exp.TimestampTrunc) -> _Code:
        unit = self._unit(node.args.get("unit"), _TRUNC_PARTS, "date_trunc")
        a = self._temporal(node.this, "date_trunc")
        if a.t == DATE:
            a = self.wrap(a, TIMESTAMP, "_F.to_ts({})", raises=False)
        k = self.ctx.const(unit)
        t = a.t if a.t.name != "NULL" else TIMESTAMP
        return self.code(self.strict([a], lambda x: f"_F.date_trunc({k}, {x})"), t, [a])

    def _c_DateTrunc(self, node: exp.DateTrunc) -> _Code:
        return self._c_TimestampTrunc(node)  # type: ignore[arg-type]

    def _c_Extract(self, node: exp.Extract) -> _Code:
        return self._extract(node.this, node.expression)

    def _extract(self, part_node: exp.Expression, value: exp.Expression) -> _Code:
        a = self.c(value)
        if a.t == INTERVAL:
            unit = self._unit(part_node, {"epoch", "day"}, "extract from an INTERVAL")
            k = self.ctx.const(unit)
            t = DOUBLE if unit == "epoch" else BIGINT
            return self.code(self.strict([a], lambda x: f"_F.extract_interval({k}, {x})"), t, [a])
        a = self._temporal(value, "extract")
        unit = self._unit(part_node, _EXTRACT_PARTS, "extract")
        k = self.ctx.const(unit)
        t = DOUBLE if unit == "epoch" else BIGINT
        if a.t.name == "DATE" and unit in _TIME_PARTS:
            return self.code(self.strict([a], lambda x: "0"), t, [a])
        if (
            unit in ("year", "month", "day", "hour", "minute", "second")
            and a.t.name != "TIMESTAMPTZ"
        ):
            return self.code(self.strict([a], lambda x: f"{x}.{unit}"), t, [a])
        return self.code(self.strict([a], lambda x: f"_F.extract({k}, {x})"), t, [a])

    def _part(self, node: exp.Func, part: str) -> _Code:
        """year(x), hour(x), dayofweek(x)…: DuckDB's shorthands for extract(part FROM x)."""
        extra = [k for k, v in node.args.items() if v is not None and k != "this"]
        if extra:
            raise self.ctx.unsupported(f"{_construct(node)} with more than one argument")
        return self._extract(exp.Var(this=part), node.this)

    def _c_Year(self, node: exp.Year) -> _Code:
        return self._part(node, "year")

    def _c_Quarter(self, node: exp.Quarter) -> _Code:
        return self._part(node, "quarter")

    def _c_Month(self, node: exp.Month) -> _Code:
        return self._part(node, "month")

    def _c_Week(self, node: exp.Week) -> _Code:
        return self._part(node, "week")

    def _c_WeekOfYear(self, node: exp.WeekOfYear) -> _Code:
        return self._part(node, "week")

    def _c_Day(self, node: exp.Day) -> _Code:
        return self._part(node, "day")

    def _c_DayOfMonth(self, node: exp.DayOfMonth) -> _Code:
        return self._part(node, "day")

    def _c_DayOfWeek(self, node: exp.DayOfWeek) -> _Code:
        return self._part(node, "dow")

    def _c_DayOfWeekIso(self, node: exp.DayOfWeekIso) -> _Code:
        return self._part(node, "isodow")

    def _c_DayOfYear(self, node: exp.DayOfYear) -> _Code:
        return self._part(node, "doy")

    def _c_Hour(self, node: exp.Hour) -> _Code:
        return self._part(node, "hour")

    def _c_Minute(self, node: exp.Minute) -> _Code:
        return self._part(node, "minute")

    def _c_Second(self, node: exp.Second) -> _Code:
        return self._part(node, "second")

    def _c_TimeToUnix(self, node: exp.TimeToUnix) -> _Code:
        return self._part(node, "epoch")

    def _f_millisecond(self, args: list[exp.Expression]) -> _Code:
        if len(args) != 1:
            raise self.ctx.unsupported("millisecond() with other than 1 argument")
        return self._extract(exp.Var(this="millisecond"), args[0])

    def _f_microsecond(self, args: list[exp.Expression]) -> _Code:
        if len(args) != 1:
            raise self.ctx.unsupported("microsecond() with other than 1 argument")
        return self._extract(exp.Var(this="microsecond"), args[0])

    def _f_isoyear(self, args: list[exp.Expression]) -> _Code:
        if len(args) != 1:
            raise self.ctx.unsupported("isoyear() with other than 1 argument")
        return self._extract(exp.Var(this="isoyear"), args[0])

    def _f_date_part(self, args: list[exp.Expression]) -> _Code:
        if len(args) != 2:
            raise self.ctx.unsupported("date_part with other than 2 arguments")
        return self._extract(args[0], args[1])

    _f_datepart = _f_date_part
