"""strftime / strptime / try_strptime: DuckDB 2.0.1's StrfTimeFormat and StrpTimeFormat.

Generated code reaches this module as `_STRF.<name>`; the compiler (temporal.py) parses the constant
format at compile time (`parse_format`) and refuses what is not reproduced (`%n`, `%z`, `%Z` in
strptime, a non-constant format), so these helpers only see formats they reproduce.
"""

from __future__ import annotations

import datetime as _dt

from skewless.errors import ExpressionError
from skewless.sql import runtime as F
from skewless.sql.calendar import _EPOCH, _MONTH_NAMES, _naive

# --- strftime / strptime (DuckDB 2.0.1's StrfTimeFormat / StrpTimeFormat) -------------------
# Specifiers are kept as DuckDB's format letters ("-d" for the unpadded `%-d`); `%h` is `%b`,
# and `%c`, `%x`, `%X`, `%T` expand to their ISO sub-formats, as DuckDB's parser does.
_SPEC_LETTERS = set("aAwudbBmyYGHIpMSnfgzZjUWV")
_DASH_LETTERS = set("dmyHIMSj")
_EXPAND = {"c": "%Y-%m-%d %H:%M:%S", "x": "%Y-%m-%d", "X": "%H:%M:%S", "T": "%H:%M:%S"}
_DAY_ABBR = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")
_DAY_FULL = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_MONTH_ABBR = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def parse_format(fmt: str) -> tuple[list[str], list[str]] | str:
    """DuckDB's StrTimeFormat::ParseFormatSpecifier: (literals, specifiers), with one more
    literal than specifiers, or DuckDB's error text for a format it rejects."""
    if not fmt:
        return "Empty format string"
    literals: list[str] = []
    specs: list[str] = []
    pos, i, cur, n = 0, 0, "", len(fmt)
    while i < n:
        if fmt[i] != "%":
            i += 1
            continue
        if i + 1 == n:
            return "Trailing format character %"
        if i > pos:
            cur += fmt[pos:i]
        i += 1
        ch = fmt[i]
        if ch == "%":
            pos = i
            i += 1
            continue
        if ch == "-" and i + 1 < n:
            i += 1
            ch = fmt[i]
            if ch not in _DASH_LETTERS:
                return f"Unrecognized format for strftime/strptime: %-{ch}"
            spec = "-" + ch
        elif ch in _EXPAND:
            sub = parse_format(_EXPAND[ch])
            assert not isinstance(sub, str)
            sub_lits, sub_specs = sub
            sub_lits[0] = cur + sub_lits[0]
            for lit, sp in zip(sub_lits, sub_specs, strict=False):
                literals.append(lit)
                specs.append(sp)
            cur = ""  # the sub-format's final literal is empty
            i += 1
            pos = i
            continue
        elif ch == "h":
            spec = "b"
        elif ch in _SPEC_LETTERS:
            spec = ch
        else:
            return f"Unrecognized format for strftime/strptime: %{ch}"
        literals.append(cur)
        specs.append(spec)
        cur = ""
        i += 1
        pos = i
    if pos < n:
        cur += fmt[pos:]
    literals.append(cur)
    return literals, specs


def _week_regular(x: _dt.date, monday_first: bool) -> int:
    """DuckDB's Date::ExtractWeekNumberRegular (`%W` Monday first, `%U` Sunday first)."""
    doy = x.timetuple().tm_yday - 1
    dow = x.isoweekday() % 7  # Sunday 0
    if monday_first:
        dow = (dow + 6) % 7
    return (doy + 7 - dow) // 7


def _strf_piece(spec: str, x: _dt.datetime, tz: str) -> str:
    if spec == "Y":
        return f"{x.year:04d}"
    if spec == "m":
        return f"{x.month:02d}"
    if spec == "d":
        return f"{x.day:02d}"
    if spec == "H":
        return f"{x.hour:02d}"
    if spec == "M":
        return f"{x.minute:02d}"
    if spec == "S":
        return f"{x.second:02d}"
    if spec == "f":
        return f"{x.microsecond:06d}"
    if spec == "g":
        return f"{x.microsecond // 1000:03d}"
    if spec == "n":
        return f"{x.microsecond * 1000:09d}"
    if spec in ("y", "-y"):
        return f"{x.year % 100:02d}" if spec == "y" else str(x.year % 100)
    if spec in ("I", "-I"):
        h = x.hour % 12 or 12
        return f"{h:02d}" if spec == "I" else str(h)
    if spec == "p":
        return "PM" if x.hour >= 12 else "AM"
    if spec == "b":
        return _MONTH_ABBR[x.month - 1]
    if spec == "B":
        return _MONTH_NAMES[x.month - 1]
    if spec in ("a", "A", "w", "u"):
        dow = x.isoweekday()
        if spec == "u":
            return str(dow)
        if spec == "w":
            return str(dow % 7)
        return (_DAY_ABBR if spec == "a" else _DAY_FULL)[dow % 7]
    if spec in ("j", "-j"):
        doy = x.timetuple().tm_yday
        return f"{doy:03d}" if spec == "j" else str(doy)
    if spec == "U":
        return f"{_week_regular(x, False):02d}"
    if spec == "W":
        return f"{_week_regular(x, True):02d}"
    if spec == "V":
        return f"{x.isocalendar()[1]:02d}"
    if spec == "G":
        return f"{x.isocalendar()[0]:04d}"
    if spec == "z":
        return "+00"
    if spec == "Z":
        return tz
    if spec in ("-d", "-m", "-H", "-M", "-S"):
        return str(getattr(x, _DASH_FIELD[spec]))
    raise AssertionError(spec)  # pragma: no cover - parse_format only yields the above


_DASH_FIELD = {"-d": "day", "-m": "month", "-H": "hour", "-M": "minute", "-S": "second"}


class Strftime:
    """A parsed constant strftime format; `tz` is what `%Z` writes (ICU's zone name for
    TIMESTAMPTZ, nothing for DATE/TIMESTAMP)."""

    __slots__ = ("literals", "specs", "tz")

    def __init__(self, literals: list[str], specs: list[str], tz: str):
        self.literals, self.specs, self.tz = tuple(literals), tuple(specs), tz

    def __call__(self, v: _dt.date) -> str:
        x = _naive(v)
        out = [self.literals[0]]
        for spec, lit in zip(self.specs, self.literals[1:], strict=True):
            out.append(_strf_piece(spec, x, self.tz))
            out.append(lit)
        return "".join(out)


_BLANK = frozenset(b" \t\n\v\f\r")
_DIGIT = frozenset(b"0123456789")
_WIDTH = {"w": 1, "u": 1, "d": 2, "-d": 2, "m": 2, "-m": 2, "y": 2, "-y": 2, "H": 2, "-H": 2,
          "I": 2, "-I": 2, "M": 2, "-M": 2, "S": 2, "-S": 2, "U": 2, "W": 2, "V": 2, "g": 3,
          "j": 3, "-j": 3, "Y": 4, "G": 4, "f": 6}  # fmt: skip
_NAMES = {
    "a": [n.encode() for n in _DAY_ABBR],
    "A": [n.encode() for n in _DAY_FULL],
    "b": [n.encode() for n in _MONTH_ABBR],
    "B": [n.encode() for n in _MONTH_NAMES],
}
#: specifiers of strptime's "offset" state machine (DuckDB's offset_specifier)
_DM = frozenset({"d", "-d", "m", "-m"})
_YEARS = frozenset({"y", "-y", "Y"})


class _Fail(Exception):
    """The text does not match the format (strptime raises, try_strptime gives NULL)."""


def _special(data: bytes, word: bytes) -> int:
    """Date::TryConvertDateSpecial: the length of `word` when data starts with it (any ASCII
    case; bytes.lower() maps ASCII only), else -1."""
    if data[: len(word)].lower() == word:
        return len(word)
    return -1


def _scan(lits: tuple[bytes, ...], specs: tuple[str, ...], data: bytes) -> list[int] | str:
    """StrpTimeFormat::Parse: [year, month, day, hour, minute, second, µs], or "epoch",
    "infinity", "-infinity" for DuckDB's special words; raises _Fail."""
    k = 0
    while k < len(data) and data[k] in _BLANK:
        k += 1
    data = data[k:]
    size = len(data)
    if size > 4:
        words = (
            (b"infinity", b"epoch")
            if data[:1].isalpha()
            else (b"-infinity",)
            if data[:1] == b"-"
            else ()
        )
        for word in words:
            p = _special(data, word)
            if p >= 0:
                while p < size and data[p] in _BLANK:
                    p += 1
                if p != size:
                    raise _Fail
                return word.decode()
    r = [1900, 1, 1, 0, 0, 0, 0]
    ampm = 0
    offset = "w"
    weekno = weekday = yearday = 0
    has_weekday = False
    iso_year, iso_week, iso_weekday = 10000, 54, 8
    pos = 0
    for i, lit in enumerate(lits):
        ln, li = len(lit), 0
        while li < ln:
            if lit[li] in _BLANK:
                if pos >= size or data[pos] not in _BLANK:
                    raise _Fail
                pos += 1
                while pos < size and data[pos] in _BLANK:
                    pos += 1
                li += 1
                while li < ln and lit[li] in _BLANK:
                    li += 1
                continue
            if pos >= size or data[pos] != lit[li]:  # past the end: DuckDB fails as well
                raise _Fail
            pos += 1
            li += 1
        if i == len(specs):
            break
        spec = specs[i]
        width = _WIDTH.get(spec)
        if width is not None:
            start = pos
            end = pos + width
            while pos < size and pos < end and data[pos] in _DIGIT:
                pos += 1
            if pos == start:
                raise _Fail
            digits = data[start:pos]
            number = int(digits)
            if spec in ("d", "-d"):
                if not 1 <= number <= 31:
                    raise _Fail
                r[2] = number
                offset = spec
            elif spec in ("m", "-m"):
                if not 1 <= number <= 12:
                    raise _Fail
                r[1] = number
                offset = spec
            elif spec in _YEARS:
                if offset in ("G", "V", "w"):
                    offset = spec
                if spec == "Y":
                    r[0] = number
                else:
                    if number >= 100:
                        raise _Fail
                    r[0] = 1900 + number if number >= 69 else 2000 + number
            elif spec == "G":
                if offset == "w":
                    offset = spec
                elif offset in ("G", "V"):
                    if iso_year <= 9999:
                        raise _Fail
                elif offset not in _DM and offset not in _YEARS:
                    raise _Fail
                iso_year = number
            elif spec in ("H", "-H"):
                if number >= 24:
                    raise _Fail
                r[3] = number
            elif spec in ("I", "-I"):
                if not 1 <= number <= 12:
                    raise _Fail
                r[3] = number
            elif spec in ("M", "-M"):
                if number >= 60:
                    raise _Fail
                r[4] = number
            elif spec in ("S", "-S"):
                if number >= 60:
                    raise _Fail
                r[5] = number
            elif spec == "f":
                r[6] = number * 10 ** (6 - len(digits))
            elif spec == "g":
                r[6] = number * 10 ** (3 - len(digits)) * 1000
            elif spec in ("U", "W"):
                if offset in _YEARS or offset == "w":
                    offset = spec
                elif offset not in _DM:
                    raise _Fail
                if number > 53:
                    raise _Fail
                weekno = number
            elif spec == "w":
                if number > 6:
                    raise _Fail
                has_weekday = True
                weekday = number
            elif spec == "V":  # measured: after a year (%Y/%y) DuckDB 2.0.1 rejects %V
                if offset == "w":
                    offset = spec
                elif offset in ("G", "V"):
                    if iso_week <= 53:
                        raise _Fail
                elif offset not in _DM:
                    raise _Fail
                if not 1 <= number <= 53:
                    raise _Fail
                iso_week = number
            elif spec == "u":
                if iso_weekday <= 7 or not 1 <= number <= 7:
                    raise _Fail
                iso_weekday = number
            else:  # j, -j (measured: after a year DuckDB 2.0.1 counts the day from it)
                if offset == "w" or offset in _YEARS:
                    offset = spec
                elif offset not in _DM:
                    raise _Fail
                if not 1 <= number <= 366:
                    raise _Fail
                yearday = number
        elif spec == "p":
            if pos + 2 > size:
                raise _Fail
            pa, m = data[pos : pos + 1].lower(), data[pos + 1 : pos + 2].lower()
            if m != b"m" or pa not in (b"a", b"p"):
                raise _Fail
            ampm = 1 if pa == b"a" else 2
            pos += 2
        else:  # a A b B: the first name of DuckDB's list that matches, any ASCII case
            for idx, name in enumerate(_NAMES[spec]):
                if pos + len(name) <= size and data[pos : pos + len(name)].lower() == name.lower():
                    pos += len(name)
                    if spec in ("b", "B"):
                        r[1] = idx + 1
                    break
            else:
                raise _Fail
    while pos < size and data[pos] in _BLANK:
        pos += 1
    if pos != size:
        raise _Fail
    if ampm:
        if r[3] > 12:
            raise _Fail
        if ampm == 1 and r[3] == 12:
            r[3] = 0
        elif ampm == 2 and r[3] != 12:
            r[3] += 12
    if offset in ("G", "V"):
        iy = 1900 if iso_year > 9999 else iso_year
        iw = 1 if iso_week > 53 else iso_week
        iwd = 1 if iso_weekday > 7 else iso_weekday
        jan4 = F._days_from_civil(iy, 1, 4)
        week1 = jan4 - (jan4 + 3) % 7  # the Monday on or before (1970-01-01 was a Thursday)
        r[0:3] = _civil(week1 + (iw - 1) * 7 + (iwd - 1))
    elif offset in ("U", "W"):
        if has_weekday:
            weekday = (weekday + 7 - (offset == "W")) % 7
        jan1 = F._days_from_civil(r[0], 1, 1)
        yd = jan1 - (jan1 + 3) % 7
        yd -= offset == "U"
        yd -= 7 * (yd >= jan1)
        r[0:3] = _civil(yd + weekno * 7 + weekday)
    elif offset in ("j", "-j"):
        leap = r[0] % 4 == 0 and (r[0] % 100 != 0 or r[0] % 400 == 0)
        if yearday > 365 + leap:
            raise _Fail
        r[0:3] = _civil(F._days_from_civil(r[0], 1, 1) + yearday - 1)
    return r


def _civil(days: int) -> list[int]:
    """(year, month, day) of a day count since 1970-01-01, any year (proleptic Gregorian)."""
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return [yoe + era * 400 + (m <= 2), m, d]


def _valid_date(y: int, m: int, d: int) -> bool:
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    return 1 <= m <= 12 and 1 <= d <= (29 if m == 2 and leap else _MDAYS[m - 1])


_MDAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


class Strptime:
    """A parsed constant strptime format (no `%n`, `%z`, `%Z`: the compiler refuses them)."""

    __slots__ = ("fmt", "lits", "specs", "try_")

    def __init__(self, fmt: str, literals: list[str], specs: list[str], try_: bool):
        self.fmt = fmt
        self.lits = tuple(lit.encode() for lit in literals)
        self.specs = tuple(specs)
        self.try_ = try_

    def __call__(self, text: str) -> _dt.datetime | None:
        try:
            r = _scan(self.lits, self.specs, text.encode("utf-8", "surrogatepass"))
        except _Fail:
            if self.try_:
                return None
            raise ExpressionError(
                f'Invalid Input Error: Could not parse string "{text}" according to format '
                f'specifier "{self.fmt}"'
            ) from None
        if isinstance(r, str):
            if r == "epoch":
                return _EPOCH
            raise F._infinite(f"strptime({text!r}):")
        y, m, d, hh, mi, ss, us = r
        if not _valid_date(y, m, d):
            if self.try_:
                return None
            raise ExpressionError(f"Conversion Error: Date out of range: {y}-{m}-{d}")
        if not 1 <= y <= 9999:
            raise F.NotReproducible(
                f"strptime({text!r}) gives year {y}, out of the range Python supports"
            )
        return _dt.datetime(y, m, d, hh, mi, ss, us)
