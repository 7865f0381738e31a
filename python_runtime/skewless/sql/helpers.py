"""Runtime helpers the generated code calls: payload input conversion and small SQL operators.

Everything the generated functions may name is in `HELPERS`, their global namespace.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from skewless.errors import ExpressionError, RequestError
from skewless.sql import calendar as _calendar
from skewless.sql import runtime as F
from skewless.sql import strings as _strings


def _in_int(v: Any, key: str, tname: str) -> int | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        else:
            raise RequestError(f"input {key!r} must be an integer ({tname}), got {v!r}")
    v = int(v)
    lo, hi = F.INT_RANGES[tname]
    if v < lo or v > hi:
        raise RequestError(f"input {key!r} = {v} is out of range for {tname}")
    return v


def _in_double(v: Any, key: str) -> float | None:
    if v is None:
        return None
    if isinstance(v, (int, float, Decimal)) and not isinstance(v, bool):
        return float(v)
    raise RequestError(f"input {key!r} must be a number (DOUBLE), got {v!r}")


def _in_float(v: Any, key: str) -> float | None:
    d = _in_double(v, key)
    return None if d is None else F.f32(d)


def _in_dec(v: Any, key: str, p: int, s: int) -> Decimal | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float, Decimal)):
        raise RequestError(f"input {key!r} must be a number (DECIMAL({p},{s})), got {v!r}")
    try:
        if isinstance(v, float):
            return F.dbl_to_decimal(v, p, s)
        return F.dec_to_decimal(Decimal(v), p, s)
    except ExpressionError as e:
        raise RequestError(f"input {key!r}: {e}") from None


def _in_str(v: Any, key: str) -> str | None:
    if v is None or isinstance(v, str):
        return v
    raise RequestError(f"input {key!r} must be a string (VARCHAR), got {v!r}")


def _in_bool(v: Any, key: str) -> bool | None:
    if v is None or isinstance(v, bool):
        return v
    raise RequestError(f"input {key!r} must be a boolean, got {v!r}")


def _in_date(v: Any, key: str) -> _dt.date | None:
    if v is None:
        return None
    if isinstance(v, _dt.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(F.UTC)
        return v.date()
    if isinstance(v, _dt.date):
        return v
    raise RequestError(f"input {key!r} must be a date, got {v!r}")


def _in_ts(v: Any, key: str) -> _dt.datetime | None:
    if v is None:
        return None
    if isinstance(v, _dt.datetime):
        return v.astimezone(F.UTC).replace(tzinfo=None) if v.tzinfo is not None else v
    if isinstance(v, _dt.date):
        return F.to_ts(v)
    raise RequestError(f"input {key!r} must be a datetime (TIMESTAMP), got {v!r}")


def _in_tstz(v: Any, key: str) -> _dt.datetime | None:
    if v is None:
        return None
    if isinstance(v, _dt.date):
        return F.to_tstz(v)
    raise RequestError(f"input {key!r} must be a datetime (TIMESTAMPTZ), got {v!r}")


def _in_interval(v: Any, key: str) -> F.Interval | None:
    if v is None or isinstance(v, F.Interval):
        return v
    if isinstance(v, _dt.timedelta):
        return F.iv_from_timedelta(v)
    raise RequestError(f"input {key!r} must be a timedelta (INTERVAL), got {v!r}")


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
