"""Runtime helpers the generated code calls: payload input conversion and small SQL operators.

Everything the generated functions may name is in `HELPERS`, their global namespace.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from skewless.errors import ExpressionError, RequestError, brief
from skewless.sql import calendar as _calendar
from skewless.sql import runtime as F
from skewless.sql import strings as _strings
from skewless.sql.types import SqlType, parse_type

# --- payload input conversion ------------------------------------------------------------------
# One rule for every way a payload arrives (Python API, CLI, any server): a field accepts the
# Python value of its declared type, or its JSON spelling - and text is read exactly as DuckDB's
# CAST(text AS <type>) reads it, through the same functions `CAST` compiles to (a documented
# strict subset for DATE/TIMESTAMP/INTERVAL, see _FORMS). Generated code inlines a class check
# for values already of the right Python type (the hot path) and calls these only otherwise.

_FORMS = {
    "int": "an integer (int, or a float/Decimal without fraction) or integer text as DuckDB "
    'casts it, e.g. "42", " -7", "1e3"',
    "DOUBLE": 'a number (int, float, Decimal) or numeric text as DuckDB casts it, e.g. "4.2", '
    '"-1e-3", "nan", "inf"',
    "DECIMAL": 'a number (int, float, Decimal) or decimal text as DuckDB casts it, e.g. "11.30"',
    "VARCHAR": "a string",
    "BOOLEAN": "a boolean, or the text true/false (t/f, yes/no, y/n, 1/0; any case)",
    "DATE": 'a date, a datetime (its UTC date) or ISO 8601 text "YYYY-MM-DD" (a time part is '
    "ignored; an offset other than Z/+00 is refused)",
    "TIMESTAMP": "a datetime (aware: converted to UTC), a date, or ISO 8601 text "
    '"YYYY-MM-DD[ |T]HH:MM[:SS[.ffffff]]" (optional Z/+00; other offsets need TIMESTAMPTZ)',
    "TIMESTAMPTZ": "a datetime (naive: UTC), a date, or ISO 8601 text "
    '"YYYY-MM-DD[ |T]HH:MM[:SS[.ffffff]][Z|±HH[:MM]]" (no offset: UTC)',
    "INTERVAL": 'a timedelta, or interval text such as "90 minutes", "1 day 02:00:00", "2 hours ago"',
}


def _reject(v: Any, key: str, tname: str, forms: str, why: str = "") -> RequestError:
    why = f" ({why if len(why) <= 300 else why[:300] + '…'})" if why else ""
    return RequestError(
        f"input {brief(key)} ({tname}): got {brief(v)}{why}; accepted: {_FORMS[forms]}"
    )


def _text(cast: Callable[..., Any], v: str, key: str, tname: str, forms: str, *args: Any) -> Any:
    try:
        return cast(v, *args)
    except ExpressionError as e:  # NotReproducible too: a value Python cannot hold exactly
        why = str(e).partition("Conversion Error: ")[2] or str(e)
        raise _reject(v, key, tname, forms, why) from None


# Measured (DuckDB 2.0.1): integer text with an exponent is read by first parsing the digits
# before the '.'/exponent as an int64 (a uint64 for UBIGINT, an int128 for HUGEINT), so
# '85293413192636198034e-2' is refused as BIGINT though its value fits. F.str_to_int does not
# check this yet (found by tests/test_payloads.py); the payload path does.
def _in_int(v: Any, key: str, tname: str) -> int | None:
    if v is None:
        return None
    cls = v.__class__
    if cls is str:
        return _text(F.str_to_int, v, key, tname, "int", tname)  # type: ignore[no-any-return]
    if cls is bool:
        raise _reject(v, key, tname, "int")
    if isinstance(v, int):
        v = int(v)
    elif isinstance(v, float) and v.is_integer():
        v = int(v)
    elif isinstance(v, Decimal) and v.is_finite() and v == v.to_integral_value():
        if v.adjusted() > 39:  # past every integer type (and int() of it could take seconds)
            raise _reject(v, key, tname, "int", f"out of range for {tname}")
        v = int(v)
    else:
        raise _reject(v, key, tname, "int")
    lo, hi = F.INT_RANGES[tname]
    if v < lo or v > hi:
        raise _reject(v, key, tname, "int", f"out of range for {tname}")
    return v  # type: ignore[no-any-return]


def _in_double(v: Any, key: str) -> float | None:
    if v is None:
        return None
    if v.__class__ is str:
        return _text(F.str_to_double, v, key, "DOUBLE", "DOUBLE")  # type: ignore[no-any-return]
    if isinstance(v, (int, float, Decimal)) and not isinstance(v, bool):
        try:
            return float(v)
        except OverflowError:
            raise _reject(v, key, "DOUBLE", "DOUBLE", "out of range for DOUBLE") from None
        except ValueError:  # Decimal('sNaN')
            raise _reject(v, key, "DOUBLE", "DOUBLE", "a signaling NaN") from None
    raise _reject(v, key, "DOUBLE", "DOUBLE")


def _in_float(v: Any, key: str) -> float | None:
    if v.__class__ is str:
        return _text(F.str_to_f32, v, key, "FLOAT", "DOUBLE")  # type: ignore[no-any-return]
    d = _in_double(v, key)
    return None if d is None else F.f32(d)


def _in_dec(v: Any, key: str, p: int, s: int) -> Decimal | None:
    if v is None:
        return None
    try:
        if isinstance(v, Decimal):
            if v.is_finite():
                return F.dec_to_decimal(v, p, s)
        elif isinstance(v, str):
            return F.str_to_decimal(v, p, s)
        elif isinstance(v, float):
            return F.dbl_to_decimal(float(v), p, s)
        elif isinstance(v, int) and not isinstance(v, bool):
            return F.int_to_decimal(int(v), p, s)
    except ExpressionError as e:
        why = str(e).partition("Conversion Error: ")[2] or str(e)
        raise _reject(v, key, f"DECIMAL({p},{s})", "DECIMAL", why) from None
    except (InvalidOperation, ValueError, OverflowError):  # 1e999999: past Decimal's context
        raise _reject(v, key, f"DECIMAL({p},{s})", "DECIMAL", "out of range") from None
    raise _reject(v, key, f"DECIMAL({p},{s})", "DECIMAL")


def _in_str(v: Any, key: str) -> str | None:
    if v is None or isinstance(v, str):
        return v
    raise _reject(v, key, "VARCHAR", "VARCHAR")


def _in_bool(v: Any, key: str) -> bool | None:
    if v is None or isinstance(v, bool):
        return v
    if v.__class__ is str:
        return _text(F.str_to_bool, v, key, "BOOLEAN", "BOOLEAN")  # type: ignore[no-any-return]
    raise _reject(v, key, "BOOLEAN", "BOOLEAN")


def _wall_clock(v: str, key: str, tname: str) -> None:
    """DATE/TIMESTAMP text (already read by the cast): refuse a non-zero UTC offset or a zone
    name. DuckDB's CAST ignores them (the wall-clock reading) while an aware datetime is
    converted to UTC: two spellings of one instant would disagree, so neither is guessed."""
    try:
        kind, _y, _m, _d, p = F._scan_date(v)
        if kind != "date" or p == len(v):
            return
        _t, offset, zone, _dangling = F._scan_rest(v, p)
    except F._Malformed:
        return  # a bare date with trailing blanks
    if offset or zone:
        raise _reject(v, key, tname, tname, "a UTC offset or zone name; use TIMESTAMPTZ")


def _in_date(v: Any, key: str) -> _dt.date | None:
    if v is None:
        return None
    if v.__class__ is str:
        d = _text(F.str_to_date, v, key, "DATE", "DATE")
        _wall_clock(v, key, "DATE")
        return d  # type: ignore[no-any-return]
    if isinstance(v, _dt.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(F.UTC)
        return v.date()
    if isinstance(v, _dt.date):
        return v
    raise _reject(v, key, "DATE", "DATE")


def _in_ts(v: Any, key: str) -> _dt.datetime | None:
    if v is None:
        return None
    if v.__class__ is str:
        ts = _text(F.str_to_ts, v, key, "TIMESTAMP", "TIMESTAMP", False)
        _wall_clock(v, key, "TIMESTAMP")
        return ts  # type: ignore[no-any-return]
    if isinstance(v, _dt.datetime):
        return v.astimezone(F.UTC).replace(tzinfo=None) if v.tzinfo is not None else v
    if isinstance(v, _dt.date):
        return F.to_ts(v)
    raise _reject(v, key, "TIMESTAMP", "TIMESTAMP")


def _in_tstz(v: Any, key: str) -> _dt.datetime | None:
    if v is None:
        return None
    if v.__class__ is str:
        return _text(F.str_to_ts, v, key, "TIMESTAMPTZ", "TIMESTAMPTZ", True)  # type: ignore[no-any-return]
    if isinstance(v, _dt.date):
        return F.to_tstz(v)
    raise _reject(v, key, "TIMESTAMPTZ", "TIMESTAMPTZ")


def _in_interval(v: Any, key: str) -> F.Interval | None:
    if v is None or isinstance(v, F.Interval):
        return v
    if isinstance(v, _dt.timedelta):
        return F.iv_from_timedelta(v)
    if v.__class__ is str:
        iv = _calendar.parse_interval(v)
        if iv is not None:
            return iv
    raise _reject(v, key, "INTERVAL", "INTERVAL")


def convert_input(value: Any, data_type: str | SqlType, key: str) -> Any:
    """A payload value as the runtime reads a field declared `data_type` (the converter the
    generated code calls; None stays NULL).

    Raises:
        RequestError: naming the field, the type and the accepted forms.
        UnsupportedExpression: `data_type` is not a type request-time SQL supports.
    """
    t = data_type if isinstance(data_type, SqlType) else parse_type(data_type)
    if t.name in F.INT_RANGES:
        return _in_int(value, key, t.name)
    if t.name == "DECIMAL":
        return _in_dec(value, key, t.p, t.s)
    return _CONVERTERS[t.name](value, key)


def accepted_forms(data_type: str | SqlType) -> str:
    """What a payload field of `data_type` accepts (for docs and messages)."""
    t = data_type if isinstance(data_type, SqlType) else parse_type(data_type)
    return _FORMS["int" if t.name in F.INT_RANGES else "DOUBLE" if t.name == "FLOAT" else t.name]


_CONVERTERS: dict[str, Callable[[Any, str], Any]] = {
    "DOUBLE": _in_double,
    "FLOAT": _in_float,
    "VARCHAR": _in_str,
    "BOOLEAN": _in_bool,
    "DATE": _in_date,
    "TIMESTAMP": _in_ts,
    "TIMESTAMPTZ": _in_tstz,
    "INTERVAL": _in_interval,
}


def _missing(e: KeyError) -> RequestError:
    return RequestError(f"request is missing input {e.args[0]!r}; pass it (None for NULL)")


def _pyoverflow(e: Exception) -> ExpressionError:
    return ExpressionError(f"value out of the range Python supports: {e}")


def _iv_out(v: F.Interval | None) -> _dt.timedelta | None:
    return None if v is None else v.to_timedelta()


def _least2(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None or a <= b:
        return a
    return b


def _greatest2(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None or a >= b:
        return a
    return b


def _dleast2(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None or F.dbl_le(a, b):
        return a
    return b


def _dgreatest2(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None or F.dbl_le(b, a):
        return a
    return b


def _in_list(x: Any, items: tuple[Any, ...], eq: Callable[[Any, Any], bool] | None) -> bool | None:
    if x is None:
        return None
    saw_null = False
    for v in items:
        if v is None:
            saw_null = True
        elif eq(x, v) if eq is not None else x == v:
            return True
    return None if saw_null else False


def _dfloor(x: float) -> float:
    if x != x or x in (math.inf, -math.inf):
        return x
    return math.copysign(float(math.floor(x)), x) if x != 0 else x


def _dceil(x: float) -> float:
    if x != x or x in (math.inf, -math.inf):
        return x
    r = float(math.ceil(x))
    return math.copysign(r, x) if r == 0 else r


def _regex_search(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    def match(s: str) -> bool:
        return pattern.search(s) is not None

    return match


_HELPERS: dict[str, Any] = {
    "_mlog": math.log,
    "_mlog10": math.log10,
    "_msqrt": math.sqrt,
    "_mexp": math.exp,
    "_F": F,
    "_CAL": _calendar,
    "_STRF": __import__("skewless.sql.strftime", fromlist=["Strftime"]),  # strftime/strptime
    "_S": _strings,
    "_D": Decimal,
    "_DEC": F.DEC,
    "_dadd": F.DEC.add,
    "_dsub": F.DEC.subtract,
    "_dmul": F.DEC.multiply,
    "_dq": F.dec_quant,
    "_dchk": F.dec_check,
    "_ovf": F.overflow,
    "_idiv": F.int_trunc_div,
    "_imod": F.int_mod,
    "_ieee": F.ieee_div,
    "_ddiv": F.dbl_intdiv,
    "_dmod": F.dbl_mod,
    "_deq": F.dbl_eq,
    "_dlt": F.dbl_lt,
    "_dle": F.dbl_le,
    "_f32": F.f32,
    "_and3": F.and3,
    "_or3": F.or3,
    "_try": F.try_call,
    "_least": F.least,
    "_greatest": F.greatest,
    "_least2": _least2,
    "_greatest2": _greatest2,
    "_dleast2": _dleast2,
    "_dgreatest2": _dgreatest2,
    "_nankey": F.nan_key,
    "_ivkey": F.Interval.normalized_key,
    "_in_list": _in_list,
    "_in_int": _in_int,
    "_in_double": _in_double,
    "_in_float": _in_float,
    "_in_dec": _in_dec,
    "_in_str": _in_str,
    "_in_bool": _in_bool,
    "_in_date": _in_date,
    "_in_ts": _in_ts,
    "_in_tstz": _in_tstz,
    "_in_interval": _in_interval,
    "_missing": _missing,
    "_pyoverflow": _pyoverflow,
    "_iv_out": _iv_out,
    "_dfloor": _dfloor,
    "_dceil": _dceil,
    "_datetime": _dt.datetime,
    "_date": _dt.date,
    "_UTC": F.UTC,
    "_Interval": F.Interval,
    "_RequestError": RequestError,
}
