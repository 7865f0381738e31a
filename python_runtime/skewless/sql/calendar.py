"""Calendar helpers of the temporal family: DuckDB 2.0.1's date parts, truncation, differences,
interval text, time_bucket, epoch_ms and friends (TimeZone='UTC').

Generated code reaches this module as `_CAL.<name>`; the compiler (temporal.py) decides at compile
time what is supported and refuses the rest, so these helpers only see inputs they reproduce.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any

from skewless.errors import ExpressionError
from skewless.sql import runtime as F

UTC = F.UTC
_EPOCH = _dt.datetime(1970, 1, 1)
_DAY_US = 86_400_000_000
_JULIAN_EPOCH = 2440588  # julian day number of 1970-01-01

# --- date part specifiers (DuckDB's TryGetDatePartSpecifier, ASCII-lower-cased) ---------------
_SPEC_ALIASES = {
    "year": "year yr y years yrs",
    "month": "month mon months mons",
    "day": "day days d dayofmonth",
    "decade": "decade dec decades decs",
    "century": "century cent centuries c",
    "millennium": "millennium mil millenniums millennia mils millenium",
    "microsecond": "microseconds microsecond us usec usecs usecond useconds",
    "millisecond": "milliseconds millisecond ms msec msecs msecond mseconds",
    "second": "second sec seconds secs s",
    "minute": "minute min minutes mins m",
    "hour": "hour hr hours hrs h",
    "epoch": "epoch",
    "dow": "dow dayofweek weekday",
    "isodow": "isodow",
    "week": "week weeks w weekofyear",
    "doy": "doy dayofyear",
    "quarter": "quarter quarters",
    "yearweek": "yearweek",
    "isoyear": "isoyear",
    "era": "era",
    "timezone": "timezone",
    "timezone_hour": "timezone_hour",
    "timezone_minute": "timezone_minute",
    "julian": "julian jd",
}
SPEC = {alias: part for part, names in _SPEC_ALIASES.items() for alias in names.split()}
_ASCII_LOWER = {c: c + 32 for c in range(65, 91)}

DOUBLE_PARTS = frozenset({"epoch", "julian"})
TZ_PARTS = frozenset({"timezone", "timezone_hour", "timezone_minute"})
NO_TRUNC = frozenset({"era"}) | TZ_PARTS  # DuckDB: "Not implemented" for date_trunc/date_diff


def lookup(text: str) -> str | None:
    """The canonical part DuckDB reads `text` as (case-insensitive, ASCII only), or None."""
    return SPEC.get(text.translate(_ASCII_LOWER))


def spec(text: str) -> str:
    """The canonical part of a run-time part text; DuckDB's error when it is unknown."""
    part = lookup(text)
    if part is None:
        raise ExpressionError(f'Conversion Error: extract specifier "{text}" not recognized')
    return part


def _naive(v: _dt.date) -> _dt.datetime:
    if isinstance(v, _dt.datetime):
        return v.astimezone(UTC).replace(tzinfo=None) if v.tzinfo is not None else v
    return _dt.datetime(v.year, v.month, v.day)


def _us(x: _dt.datetime) -> int:
    d = x - _EPOCH
    return (d.days * 86400 + d.seconds) * 1_000_000 + d.microseconds


def part(p: str, v: _dt.date) -> int | float:
    """date_part(p, v) for a canonical part (DATE, TIMESTAMP, TIMESTAMPTZ in UTC)."""
    x = _naive(v)
    if p == "epoch":
        return F.extract("epoch", v)
    if p == "julian":
        jd = x.toordinal() - _dt.date(1970, 1, 1).toordinal() + _JULIAN_EPOCH
        if not isinstance(v, _dt.datetime):
            return float(jd)
        tod = (x.hour * 3600 + x.minute * 60 + x.second) * 1_000_000 + x.microsecond
        return jd + tod / _DAY_US
    if p == "century":
        return (x.year - 1) // 100 + 1
    if p == "millennium":
        return (x.year - 1) // 1000 + 1
    if p == "yearweek":
        iy, iw, _ = x.isocalendar()
        return iy * 100 + iw
    if p == "era":
        return 1
    if p in TZ_PARTS:
        if not isinstance(v, _dt.datetime):
            raise ExpressionError(f'Not implemented Error: "date" units "{p}" not recognized')
        return 0
    return F.extract(p, v)


def part_dyn(text: str, v: _dt.date) -> float:
    """date_part(text, v) with a run-time part: DuckDB returns DOUBLE for every part."""
    return float(part(spec(text), v))


def _floor_year(x: _dt.datetime, n: int) -> _dt.datetime:
    return _dt.datetime(max(1, x.year // n * n), 1, 1)


def trunc(p: str, v: _dt.datetime) -> _dt.datetime:
    """date_trunc(p, v) on a TIMESTAMP (naive) or TIMESTAMPTZ (UTC-aware) value."""
    if p == "era" and v.tzinfo is not None:  # ICU: the start of the era, 0001-01-01 (BC)
        raise F.NotReproducible("date_trunc('era', …) is out of the range Python supports")
    if p in NO_TRUNC:
        raise ExpressionError(f'Not implemented Error: Specifier type "{p}" not implemented')
    if p in ("decade", "century", "millennium"):
        n = {"decade": 10, "century": 100, "millennium": 1000}[p]
        x = _naive(v)
        if x.year // n * n < 1:
            raise ExpressionError("timestamp out of the range Python supports (years 1-9999)")
        out = _floor_year(x, n)
    elif p in ("dow", "isodow", "doy", "julian"):
        out = _naive(v).replace(hour=0, minute=0, second=0, microsecond=0)
    elif p == "epoch":
        out = _naive(v).replace(microsecond=0)
    elif p == "yearweek":
        return F.date_trunc("week", v)
    elif p == "isoyear":
        x = _naive(v)
        iy = x.isocalendar()[0]
        try:
            out = _dt.datetime.fromisocalendar(iy, 1, 1)
        except ValueError:
            raise ExpressionError("timestamp out of the range Python supports") from None
    else:
        return F.date_trunc(p, v)
    return out.replace(tzinfo=UTC) if v.tzinfo is not None else out


def trunc_dyn(text: str, v: _dt.datetime) -> _dt.datetime:
    """date_trunc(text, v) with a run-time part."""
    return trunc(spec(text), v)


def diff(p: str, a: _dt.date, b: _dt.date) -> int:
    """date_diff(p, a, b): boundaries of p crossed from a to b."""
    if p in NO_TRUNC:
        raise ExpressionError(f'Not implemented Error: Specifier type "{p}" not implemented')
    if p in ("decade", "century", "millennium"):
        n = {"decade": 10, "century": 100, "millennium": 1000}[p]
        return _naive(b).year // n - _naive(a).year // n
    if p == "isoyear":
        return _naive(b).isocalendar()[0] - _naive(a).isocalendar()[0]
    if p in ("dow", "isodow", "doy", "julian"):
        p = "day"
    elif p == "epoch":
        p = "second"
    elif p == "yearweek":
        p = "week"
    return F.date_diff(p, a, b)


def diff_dyn(text: str, a: _dt.date, b: _dt.date) -> int:
    """date_diff(text, a, b) with a run-time part."""
    return diff(spec(text), a, b)


# --- interval text (DuckDB's Interval::FromCString, the subset skewless reproduces) -----------
IV_UNIT = {
    "millennium": (12000, 0, 0),
    "century": (1200, 0, 0),
    "decade": (120, 0, 0),
    "year": (12, 0, 0),
    "quarter": (3, 0, 0),
    "month": (1, 0, 0),
    "week": (0, 7, 0),
    "day": (0, 1, 0),
    "hour": (0, 0, 3_600_000_000),
    "minute": (0, 0, 60_000_000),
    "second": (0, 0, 1_000_000),
    "millisecond": (0, 0, 1000),
    "microsecond": (0, 0, 1),
}
_IV_TOKEN = re.compile(
    r"\s*(?:(?P<clock>-?\d{1,9}:\d{1,2}(?::\d{1,2})?)(?![\d.:])"
    r"|(?P<num>-?\d{1,9})\s*(?P<unit>[A-Za-z_]+))"
)
_AGO = re.compile(r" +ago *", re.IGNORECASE)


def parse_interval(text: str) -> F.Interval | None:
    """INTERVAL text as DuckDB reads it, or None when skewless does not reproduce the form.

    Supported: one or more `<integer> <unit>` pairs (blanks optional between number and unit,
    a leading `-` allowed, units as DuckDB names them), `[-]H:M[:S]` clock values, and a final
    `ago` negating the whole value. Fractions, `+`, ISO 8601 (`P1D`) and anything else: None.
    """
    if any(c in text for c in "\t\n\r\v\f"):  # DuckDB's reading of other blanks varies
        return None
    pos, months, days, micros = 0, 0, 0, 0
    n = len(text)
    seen = False
    while True:
        m = _IV_TOKEN.match(text, pos)
        if m is None or (
            seen
            and not text[pos : m.start("num") if m.group("num") else m.start("clock")].startswith(
                " "
            )
        ):
            break
        if m.group("clock"):
            neg = m.group("clock").startswith("-")
            fields = [int(f) for f in m.group("clock").lstrip("-").split(":")]
            h, mi, s = [*fields, 0][:3]
            if mi > 59 or s > 59:
                return None
            us = ((h * 60 + mi) * 60 + s) * 1_000_000
            micros += -us if neg else us
            if text[m.end() :].strip(" "):  # DuckDB ignores what follows a clock value
                return None
        else:
            p = lookup(m.group("unit"))
            if p not in IV_UNIT:
                return None
            mo, da, us = IV_UNIT[p]
            k = int(m.group("num"))
            months, days, micros = months + k * mo, days + k * da, micros + k * us
        seen = True
        pos = m.end()
    m = _AGO.match(text, pos)
    if m is not None and m.end() == n and seen and m.group().strip():
        months, days, micros = -months, -days, -micros
        pos = n
    if not seen or text[pos:].strip(" ") or text[pos:] != text[pos:].strip(" \t\n\r\v\f"):
        return None
    if not (-(2**31) <= months < 2**31 and -(2**31) <= days < 2**31):
        return None
    return F.Interval(months, days, micros)


def iv_mul(v: F.Interval, k: int) -> F.Interval:
    """INTERVAL * integer: each component multiplied (int32 months/days, int64 micros)."""
    months, days, micros = v.months * k, v.days * k, v.micros * k
    if not (-(2**31) <= months < 2**31 and -(2**31) <= days < 2**31 and -(2**63) <= micros < 2**63):
        raise ExpressionError("Out of Range Error: interval multiplication overflows")
    return F.Interval(months, days, micros)


# --- calendar functions ---------------------------------------------------------------------
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
                "September", "October", "November", "December")  # fmt: skip


def dayname(v: _dt.date) -> str:
    """dayname(v): the English weekday name (in UTC for TIMESTAMPTZ)."""
    return _DAY_NAMES[_naive(v).weekday()]


def monthname(v: _dt.date) -> str:
    """monthname(v): the English month name."""
    return _MONTH_NAMES[_naive(v).month - 1]


def last_day(v: _dt.date) -> _dt.date:
    """last_day(v): the last day of v's month, as a DATE."""
    x = _naive(v)
    if x.month == 12:
        return _dt.date(x.year, 12, 31)
    return _dt.date(x.year, x.month + 1, 1) - _dt.timedelta(days=1)


def make_date(y: int, m: int, d: int) -> _dt.date:
    """make_date(y, m, d); DuckDB's error for an invalid date."""
    if not 1 <= y <= 9999:
        if -5877641 <= y <= 5881580 and 1 <= m <= 12 and 1 <= d <= 31:  # DuckDB DATE range
            raise F.NotReproducible(
                f"make_date({y}, {m}, {d}) is out of the range Python supports (years 1-9999)"
            )
        raise ExpressionError(f"Conversion Error: Date out of range: {y}-{m}-{d}")
    try:
        return _dt.date(y, m, d)
    except ValueError:
        raise ExpressionError(f"Conversion Error: Date out of range: {y}-{m}-{d}") from None


def epoch_ms(ms: int) -> _dt.datetime:
    """epoch_ms(BIGINT): TIMESTAMP from milliseconds since the epoch."""
    return _from_us(ms * 1000)


def epoch_ms_of(v: _dt.datetime) -> int:
    """epoch_ms(TIMESTAMP[TZ]): milliseconds since the epoch, floored."""
    return _us(_naive(v)) // 1000


def _from_us(us: int) -> _dt.datetime:
    try:
        return _EPOCH + _dt.timedelta(microseconds=us)
    except OverflowError:
        raise F.NotReproducible(
            "timestamp is out of the range Python supports (years 1-9999)"
        ) from None


def to_timestamp(sec: float) -> _dt.datetime:
    """to_timestamp(DOUBLE): TIMESTAMPTZ from seconds since the epoch (DuckDB rounds to us)."""
    if sec != sec or sec in (float("inf"), float("-inf")):
        raise ExpressionError(
            f"Conversion Error: Could not convert epoch seconds {sec} to TIMESTAMP"
        )
    us = sec * 1e6
    if not -9.2e18 < us < 9.2e18:
        raise ExpressionError(f"Conversion Error: epoch seconds {sec} out of range for TIMESTAMP")
    return _from_us(round(us)).replace(tzinfo=UTC)


def time_bucket(width: F.Interval, v: _dt.datetime, origin: _dt.datetime | None = None) -> Any:
    """time_bucket(width, ts[, origin]) for a width of days/micros only, or of months only."""
    if width.months and (width.days or width.micros):
        raise ExpressionError(
            "Not implemented Error: Month intervals cannot have day or time component"
        )
    x = _naive(v)
    if width.months:
        if width.months < 0:
            raise ExpressionError("Invalid Input Error: Period must be greater than 0")
        o = origin if origin is not None else _dt.datetime(2000, 1, 1)
        om = o.year * 12 + o.month - 1
        xm = x.year * 12 + x.month - 1
        k = (xm - om) // width.months * width.months + om
        y, mth = divmod(k, 12)
        if not 1 <= y <= 9999:
            raise F.NotReproducible("time_bucket result out of the range Python supports")
        out = _dt.datetime(y, mth + 1, 1)
    else:
        w = width.days * _DAY_US + width.micros
        if w <= 0:
            raise ExpressionError("Invalid Input Error: Period must be greater than 0")
        o = origin if origin is not None else _dt.datetime(2000, 1, 3)
        ou = _us(o)
        out = _from_us((_us(x) - ou) // w * w + ou)
    return out.replace(tzinfo=UTC) if v.tzinfo is not None else out


def time_bucket_offset(width: F.Interval, v: _dt.datetime, offset: F.Interval) -> Any:
    """time_bucket(width, ts, offset): the bucket of ts - offset, shifted by offset."""
    return F.ts_add_iv(time_bucket(width, F.ts_sub_iv(v, offset)), offset)


# --- epoch_ms / epoch_us / epoch_ns of a timestamp -------------------------------------------
def epoch_ms_rounded(v: _dt.date) -> int:
    """epoch_ms(TIMESTAMP[TZ]): DuckDB's Timestamp::GetEpochRounded - µs/1000 rounded half away
    from the epoch, computed as DuckDB does (truncating divisions by 500, then by 2)."""
    us = _us(_naive(v))
    q = abs(us) // 500
    return -((q + 1) // 2) if us < 0 else (q + 1) // 2


def epoch_us(v: _dt.date) -> int:
    """epoch_us(DATE/TIMESTAMP[TZ]): microseconds since the epoch."""
    return _us(_naive(v))


def epoch_ns(v: _dt.date) -> int:
    """epoch_ns(DATE/TIMESTAMP[TZ]): nanoseconds since the epoch; beyond int64 DuckDB raises."""
    ns = _us(_naive(v)) * 1000
    if not -(2**63) <= ns < 2**63:
        raise ExpressionError("Conversion Error: Could not convert Timestamp(US) to Timestamp(NS)")
    return ns


# --- date_sub: whole units between (DuckDB's DateSub operators) ------------------------------
_SUB_MONTHS = {"year": 12, "isoyear": 12, "quarter": 3, "month": 1, "decade": 120,
               "century": 1200, "millennium": 12000}  # fmt: skip
_SUB_MICROS = {"day": _DAY_US, "dow": _DAY_US, "isodow": _DAY_US, "doy": _DAY_US,
               "julian": _DAY_US, "week": 7 * _DAY_US, "yearweek": 7 * _DAY_US,
               "microsecond": 1, "millisecond": 1000, "second": 1_000_000,
               "epoch": 1_000_000, "minute": 60_000_000, "hour": 3_600_000_000}  # fmt: skip
SUB_PARTS = frozenset(_SUB_MONTHS) | frozenset(_SUB_MICROS)


def _tdiv(a: int, b: int) -> int:
    """C's integer division (toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _sub_months(start: _dt.datetime, end: _dt.datetime) -> int:
    """DateSub::MonthOperator: complete months from start to end (Interval::GetAge's months,
    after moving start back to the end month's last day when end is on its month's last day)."""
    if start > end:
        return -_sub_months(end, start)
    end_days = (last_day(end) - _dt.date(end.year, end.month, 1)).days + 1
    st, et = start.time(), end.time()
    if end.day == end_days and (start.day > end_days or (start.day == end_days and st < et)):
        start = _dt.datetime.combine(_dt.date(start.year, start.month, end_days), st)
    months = (end.year - start.year) * 12 + end.month - start.month
    return months - ((end.day, et) < (start.day, st))


def date_sub(p: str, a: _dt.date, b: _dt.date) -> int:
    """date_sub(p, a, b) on DATE/TIMESTAMP (a DATE is its midnight)."""
    x, y = _naive(a), _naive(b)
    if p in _SUB_MONTHS:
        return _tdiv(_sub_months(x, y), _SUB_MONTHS[p])
    return _tdiv(_us(y) - _us(x), _SUB_MICROS[p])
