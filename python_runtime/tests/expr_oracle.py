"""DuckDB as the oracle for request-time expressions: payload generation and comparison.

Shared by the differential tests and the benchmark. Payload rows are dicts over a fixed set of
typed input columns (SCHEMA); DuckDB evaluates `SELECT <expr> FROM t` over an Arrow table of
many rows at once (TimeZone='UTC', one thread), and a row is re-run alone only where Python or
DuckDB raised, so each construct costs a handful of queries.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Sequence
from decimal import Context, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
from hypothesis import strategies as st

from skewless.errors import SkewlessError
from skewless.sql import compile_expression

SCHEMA: dict[str, str] = {
    "ti": "TINYINT",
    "si": "SMALLINT",
    "i": "INTEGER",
    "j": "INTEGER",
    "b": "BIGINT",
    "b2": "BIGINT",
    "ut": "UTINYINT",
    "ub": "UBIGINT",
    "x": "DOUBLE",
    "y": "DOUBLE",
    "f": "FLOAT",
    "dc": "DECIMAL(10,2)",
    "dc4": "DECIMAL(4,1)",
    "dcw": "DECIMAL(38,6)",
    "s": "VARCHAR",
    "u": "VARCHAR",
    "bo": "BOOLEAN",
    "bo2": "BOOLEAN",
    "dt": "DATE",
    "dt2": "DATE",
    "ts": "TIMESTAMP",
    "ts2": "TIMESTAMP",
    "tz": "TIMESTAMPTZ",
    "iv": "INTERVAL",
}

_CTX = Context(prec=100)


def _top(p: int, s: int) -> Decimal:
    """The largest DECIMAL(p,s) value."""
    return _CTX.subtract(Decimal(10) ** (p - s), Decimal(1).scaleb(-s))


_ARROW = {
    "TINYINT": pa.int8(),
    "SMALLINT": pa.int16(),
    "INTEGER": pa.int32(),
    "BIGINT": pa.int64(),
    "UTINYINT": pa.uint8(),
    "UBIGINT": pa.uint64(),
    "DOUBLE": pa.float64(),
    "FLOAT": pa.float32(),
    "DECIMAL(10,2)": pa.decimal128(10, 2),
    "DECIMAL(4,1)": pa.decimal128(4, 1),
    "DECIMAL(38,6)": pa.decimal128(38, 6),
    "VARCHAR": pa.string(),
    "BOOLEAN": pa.bool_(),
    "DATE": pa.date32(),
    "TIMESTAMP": pa.timestamp("us"),
    "TIMESTAMPTZ": pa.timestamp("us", tz="UTC"),
    "INTERVAL": pa.month_day_nano_interval(),
}

_LIMITS = {
    "TINYINT": (-128, 127),
    "SMALLINT": (-32768, 32767),
    "INTEGER": (-(2**31), 2**31 - 1),
    "BIGINT": (-(2**63), 2**63 - 1),
    "UTINYINT": (0, 255),
    "UBIGINT": (0, 2**64 - 1),
}


def _ints(t: str) -> st.SearchStrategy[int | None]:
    lo, hi = _LIMITS[t]
    edges = [lo, hi, lo + 1, hi - 1, 0, 1, -1, 2, -2, 7, 10, 100, 127, -128, 2**31 - 1, -(2**31)]
    edges = [e for e in edges if lo <= e <= hi]
    return st.one_of(
        st.none(),
        st.sampled_from(edges),
        st.integers(-20, 20).filter(lambda v: lo <= v <= hi),
        st.integers(lo, hi),
    )


_DOUBLE_EDGES = [0.0, -0.0, math.nan, math.inf, -math.inf, 1.0, -1.0, 2.5, -2.5, 0.5, 0.125, 2.675,
                 1e16, 1e-5, 5e-324, 1.7976931348623157e308, 9007199254740993.0, 1e300, 7.0, -7.5,
                 0.1, 3.0, 100.0, 2147483647.5, 9.2e18, -9.3e18, 5.541509289732826e16]  # fmt: skip


def _doubles() -> st.SearchStrategy[float | None]:
    return st.one_of(
        st.none(),
        st.sampled_from(_DOUBLE_EDGES),
        st.floats(allow_nan=True, allow_infinity=True),
        st.floats(-1000, 1000).map(lambda v: round(v, 3)),
        st.integers(-50, 50).map(float),
    )


def _decimals(p: int, s: int) -> st.SearchStrategy[Decimal | None]:
    top = _top(p, s)
    q = Decimal(1).scaleb(-s)
    return st.one_of(
        st.none(),
        st.sampled_from(
            [Decimal(0), top, top.copy_negate(), Decimal("2.5"), Decimal("-2.5"), Decimal("0.5")]
        ).map(lambda v: v.quantize(q, context=_CTX)),
        st.decimals(top.copy_negate(), top, places=s, allow_nan=False, allow_infinity=False),
    ).map(
        lambda v: (
            None if v is None else max(top.copy_negate(), min(top, v)).quantize(q, context=_CTX)
        )
    )


_STRING_EDGES = ["", " ", " 12 ", "12.5", "-12.5", "0x1F", "0X0", "-0x10", "1_000", "1e2", "+5",
                 "ß", "İ", "ǅ", "ΑΣ", "ﬀ", "\u00a0x\u00a0", "\u3000y\u2003", "\tz\n", "abc", "ABC",
                 "a%b", "a_b", "hello world", "Ünïcödé", "t", "false", "yes", "on", "nan", "inf",
                 "-Infinity", "2024-01-31", "2024-02-29 12:30:00", " 2024-1-1 ", "2024-01-01T10:00",
                 "2024-01-01 10:00:00+02", "1.5e1", "127", "128", "-129", "99999999.995", "😀x",
                 "a\u0301", "\u1680q", "%", "_", "\\", "a.b", "12345678901234567890"]  # fmt: skip


def _strings() -> st.SearchStrategy[str | None]:
    return st.one_of(
        st.none(),
        st.sampled_from(_STRING_EDGES),
        st.text(st.characters(exclude_categories=["Cs"]), max_size=8),
        st.text("abcABC _%.-01", max_size=6),
        st.text("0123456789xXaF_ .eE+-\t", max_size=7),
    )


_ZONES = [dt.timezone.utc, ZoneInfo("Europe/Paris"), ZoneInfo("America/Los_Angeles"),
          ZoneInfo("Asia/Kolkata"), dt.timezone(dt.timedelta(hours=-8))]  # fmt: skip
_TS_EDGES = [
    dt.datetime(2024, 3, 31, 1, 59, 59), dt.datetime(2024, 3, 31, 2, 0), dt.datetime(2024, 10, 27, 2, 30),
    dt.datetime(2024, 3, 10, 2, 30), dt.datetime(2024, 11, 3, 1, 30), dt.datetime(1969, 12, 31, 23, 59, 59, 999999),
    dt.datetime(1970, 1, 1), dt.datetime(2024, 2, 29, 23, 0), dt.datetime(2023, 12, 31, 23, 59, 59),
    dt.datetime(2000, 1, 1, 0, 0, 0, 500000), dt.datetime(2024, 1, 31, 12), dt.datetime(1900, 1, 1),
]  # fmt: skip


def _timestamps() -> st.SearchStrategy[dt.datetime | None]:
    return st.one_of(
        st.none(),
        st.sampled_from(_TS_EDGES),
        st.datetimes(dt.datetime(1800, 1, 1), dt.datetime(2200, 12, 31)),
    )


def _tz_timestamps() -> st.SearchStrategy[dt.datetime | None]:
    return st.one_of(
        st.none(),
        st.builds(
            lambda v, z: v.replace(tzinfo=z), st.sampled_from(_TS_EDGES), st.sampled_from(_ZONES)
        ),
        st.builds(
            lambda v, z: v.replace(tzinfo=z),
            st.datetimes(dt.datetime(1900, 1, 2), dt.datetime(2200, 12, 31)),
            st.sampled_from(_ZONES),
        ),
    )


_IV_EDGES = [dt.timedelta(0), dt.timedelta(days=1), dt.timedelta(hours=24), dt.timedelta(hours=-1),
             dt.timedelta(days=30), dt.timedelta(microseconds=1), dt.timedelta(days=-400, seconds=5)]  # fmt: skip


def _intervals() -> st.SearchStrategy[dt.timedelta | None]:
    return st.one_of(
        st.none(),
        st.sampled_from(_IV_EDGES),
        st.timedeltas(dt.timedelta(days=-2000), dt.timedelta(days=2000)),
    )


def _dates() -> st.SearchStrategy[dt.date | None]:
    return st.one_of(
        st.none(),
        st.sampled_from([t.date() for t in _TS_EDGES]),
        st.dates(dt.date(1800, 1, 1), dt.date(2200, 12, 31)),
    )


def _strategy(t: str) -> st.SearchStrategy[Any]:
    if t in _LIMITS:
        return _ints(t)
    if t in ("DOUBLE", "FLOAT"):
        return _doubles()
    if t.startswith("DECIMAL"):
        p, s = (int(v) for v in t[8:-1].split(","))
        return _decimals(p, s)
    return {
        "VARCHAR": _strings,
        "BOOLEAN": lambda: st.one_of(st.none(), st.booleans()),
        "DATE": _dates,
        "TIMESTAMP": _timestamps,
        "TIMESTAMPTZ": _tz_timestamps,
        "INTERVAL": _intervals,
    }[t]()


def rows_strategy(names: set[str], size: int) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Lists of `size` payload rows drawing only the named columns (the rest NULL)."""
    row = st.fixed_dictionaries({n: _strategy(SCHEMA[n]) for n in sorted(names)})
    return st.lists(row, min_size=size, max_size=size).map(
        lambda rows: [{**dict.fromkeys(SCHEMA), **r} for r in rows]
    )


def edge_rows() -> list[dict[str, Any]]:
    """Hand-picked rows covering every column's traps (NULLs, limits, NaN, ±0, DST…)."""
    rows: list[dict[str, Any]] = [dict.fromkeys(SCHEMA)]
    doubles = [
        0.0,
        -0.0,
        math.nan,
        math.inf,
        -math.inf,
        2.5,
        -2.5,
        0.125,
        2.675,
        1e16,
        -7.5,
        5e-324,
    ]
    ints = {t: [lo, hi, 0, -1 if lo < 0 else 1, 7] for t, (lo, hi) in _LIMITS.items()}
    strings = _STRING_EDGES
    for n in range(len(strings)):
        row: dict[str, Any] = {}
        for name, t in SCHEMA.items():
            if t in _LIMITS:
                row[name] = ints[t][(n + len(name)) % len(ints[t])]
            elif t in ("DOUBLE", "FLOAT"):
                row[name] = doubles[(n + len(name)) % len(doubles)]
            elif t.startswith("DECIMAL"):
                p, s = (int(v) for v in t[8:-1].split(","))
                vals = [Decimal(0), Decimal("2.5"), Decimal("-2.5"), _top(p, s)]
                row[name] = vals[n % 4].quantize(Decimal(1).scaleb(-s), context=_CTX)
            elif t == "VARCHAR":
                row[name] = strings[(n + len(name)) % len(strings)]
            elif t == "BOOLEAN":
                row[name] = [True, False, None][n % 3]
            elif t == "DATE":
                row[name] = _TS_EDGES[(n + len(name)) % len(_TS_EDGES)].date()
            elif t == "TIMESTAMP":
                row[name] = _TS_EDGES[(n + len(name)) % len(_TS_EDGES)]
            elif t == "INTERVAL":
                row[name] = _IV_EDGES[n % len(_IV_EDGES)]
            else:
                row[name] = _TS_EDGES[n % len(_TS_EDGES)].replace(tzinfo=_ZONES[n % len(_ZONES)])
        rows.append(row)
    return rows


def connect() -> duckdb.DuckDBPyConnection:
    """A DuckDB connection configured like the offline side: UTC, one thread."""
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    con.execute("SET threads=1")
    return con


def _table(rows: Sequence[dict[str, Any]]) -> pa.Table:
    cols: dict[str, pa.Array] = {"__idx": pa.array(range(len(rows)), pa.int64())}
    for name, t in SCHEMA.items():
        values = [r[name] for r in rows]
        if t == "INTERVAL":  # as the duckdb client binds a timedelta: days and microseconds
            values = [
                None
                if v is None
                else pa.MonthDayNano([0, v.days, (v.seconds * 1_000_000 + v.microseconds) * 1000])
                for v in values
            ]
        cols[name] = pa.array(values, _ARROW[t])
    return pa.table(cols)


def same(py: Any, duck: Any) -> bool:
    """Equal value and Python type; NaN equals NaN; -0.0 differs from 0.0; Decimal scale counts."""
    if py is None or duck is None:
        return py is None and duck is None
    if type(py) is not type(duck):
        return False
    if isinstance(py, float):
        if math.isnan(py) or math.isnan(duck):
            return math.isnan(py) and math.isnan(duck)
        return py == duck and math.copysign(1, py) == math.copysign(1, duck)
    if isinstance(py, Decimal):
        return py == duck and py.as_tuple().exponent == duck.as_tuple().exponent
    if isinstance(py, dt.datetime):
        return (
            py == duck
            and (py.tzinfo is None) == (duck.tzinfo is None)
            and (py.tzinfo is None or py.utcoffset() == duck.utcoffset())
        )
    return bool(py == duck)


class Oracle:
    """Evaluates one expression over many rows in DuckDB and in Python and diffs them."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con

    def duck_type(self, sql: str) -> str | None:
        """DuckDB's static type for sql (None when DuckDB rejects the expression outright)."""
        self.con.register("t_types", _table([dict.fromkeys(SCHEMA)]))
        try:
            rows = self.con.execute(f"SELECT typeof({sql}) FROM t_types").fetchall()
        except duckdb.Error:
            return None
        finally:
            self.con.unregister("t_types")
        return str(rows[0][0])

    def _duck(self, sql: str, tbl: pa.Table, idx: list[int]) -> list[tuple[int, Any]]:
        self.con.register("t_oracle", tbl)
        try:
            ids = ",".join(str(i) for i in idx)
            return self.con.execute(
                f"SELECT __idx, ({sql}) FROM t_oracle WHERE __idx IN ({ids}) ORDER BY __idx"
            ).fetchall()
        finally:
            self.con.unregister("t_oracle")

    def _duck_rows(self, sql: str, tbl: pa.Table, idx: list[int], out: dict[int, Any]) -> None:
        """Fill out[i] with DuckDB's value or an Exception, bisecting failing batches."""
        if not idx:
            return
        try:
            for i, v in self._duck(sql, tbl, idx):
                out[i] = v
        except duckdb.Error as e:
            if len(idx) == 1:
                out[idx[0]] = e
                return
            mid = len(idx) // 2
            self._duck_rows(sql, tbl, idx[:mid], out)
            self._duck_rows(sql, tbl, idx[mid:], out)

    def diff(self, sql: str, rows: Sequence[dict[str, Any]]) -> list[str]:
        """Mismatches (as readable strings) between DuckDB and compile_expression on rows."""
        fn = compile_expression(sql, SCHEMA)
        problems: list[str] = []
        duck_t = self.duck_type(sql)
        if duck_t is not None and fn.output_type != duck_t:
            problems.append(f"{sql}: output_type {fn.output_type!r} but DuckDB says {duck_t!r}")
        py: dict[int, Any] = {}
        for n, row in enumerate(rows):
            try:
                py[n] = fn(row)
            except SkewlessError as e:
                py[n] = e
            except Exception as e:
                problems.append(
                    f"{sql}: Python raised {type(e).__name__}: {e} on {row_text(row, fn.inputs)}"
                )
                py[n] = e
        tbl = _table(rows)
        duck: dict[int, Any] = {}
        ok = [n for n in py if not isinstance(py[n], BaseException)]
        bad = [n for n in py if isinstance(py[n], BaseException)]
        self._duck_rows(sql, tbl, ok, duck)
        for n in bad:  # each alone: DuckDB must fail on exactly this row
            self._duck_rows(sql, tbl, [n], duck)
        for n, row in enumerate(rows):
            p, d = py[n], duck.get(n)
            p_err, d_err = isinstance(p, BaseException), isinstance(d, BaseException)
            if p_err and d_err:
                continue
            if p_err and documented_refusal(p, d):
                continue
            if p_err or d_err or not same(p, d):
                problems.append(f"{sql}: python={p!r} duckdb={d!r} on {row_text(row, fn.inputs)}")
        return problems


def documented_refusal(err: BaseException, duck: Any) -> bool:
    """Python refuses (documented in docs/functions.md) where it cannot be DuckDB-identical:
    results outside Python's datetime range (the duckdb client returns them as text, and clamps
    ±infinity to Python's min/max), and
    round(DOUBLE, n < 0) beyond 2^52."""
    text = str(err)
    if "infinity is out of the range Python supports" in text:
        # DuckDB's ±infinity: the duckdb client clamps it to Python's min/max (or, through
        # a VARCHAR cast, it is the text 'infinity')
        return isinstance(duck, str) or any(duck == v and type(duck) is type(v) for v in _CLAMPED)
    if "range Python supports" in text:
        return isinstance(duck, str)
    return "cannot be evaluated identically" in text


_CLAMPED = (dt.date.min, dt.date.max, dt.datetime.min, dt.datetime.max)


def row_text(row: dict[str, Any], names: frozenset[str]) -> str:
    return "{" + ", ".join(f"{k}: {row[k]!r}" for k in sorted(names)) + "}"


# --- VARCHAR -> DATE / TIMESTAMP text: a grammar of DuckDB's date/time pieces plus mutations ---
TEMPORAL_EDGES = ["2024-01-31", " 2024-1-1 ", "2024/02/29", "2023-02-29", "2024 01 01", "2024\\1\\2",
                  "2024-01-01 10:00", "2024-01-01T10:00:00Z", "2024-01-01 24:00:00", "2024-01-01 24:00:01",
                  "2024-01-01 23:59:60", "2024-01-01 10:00:00.1234567", "2024-01-01 10:00:00.9999999",
                  "2024-01-01 10:00:00+05:30", "2024-01-01 10:00:00-0800", "2024-01-01 10:00:00+05:30:15",
                  "2024-01-01 10:00:00 America/New_York", "2024-01-01 10:00:00 Foo", "2024-01-01 10:00:00+12:",
                  "infinity", "-infinity", "inf", "INF ", "Infinity\t", "epoch", "-epoch", "2024-01-01 (BC)",
                  "0-01-01", "-5-01-01", "10000-01-01", "9999-12-31 24:00", "294247-01-10", "294247-01-11",
                  "5881580-07-10", "5881580-07-11", "-290308-12-22", "1-01-01", "0001-01-01 (BC)", "",
                  " ", "2024-01-01 ", "2024-01-01\t", "2024-01-01 10:00:00\t", "2024-01-01 10", "2024-01-01 10:",
                  "2024-01-01 1:2:3", "2024-01-01 10:00:00.", "2024-01-01x", "2024-01-011", "20240101",
                  "2024-01-01 0000000010:00", "2024-01-01 00000000010:00", "\x0b2024-01-01", "2024-01-01\xa0",
                  "2024-01-01 10:00:00 UTC x", "2024-01-01 (bc) 10:00", "+2024-01-01", "00002024-02-29", "2024-01-01 10: 30",
                  "2024-01-01 10:30:00+05: ", "2024-01-01 10:30:00+05:30: UTC", "01-1-1 1:+00:",
                  "1-1-1 1:+00:", "2024-01-01 10:00+05:30:", "2024-01-01 10:00:00 +05", "İnfinity",
                  "294247-01-10 04:00:54.775806+05:", "294247-01-10 04:00:54.775807+05:"]  # fmt: skip


def _num(r: random.Random, lo: int, hi: int, width: int) -> str:
    if r.random() < 0.8:
        return str(r.randint(lo, hi)).zfill(r.choice([0, width, width, 1, width + 1]))
    return _digits(r, 0, width + 2)


def _digits(r: random.Random, lo: int, hi: int) -> str:
    return "".join(r.choice("0123456789") for _ in range(r.randint(lo, hi)))


def _clean_temporal(r: random.Random) -> str:
    """Mostly well-formed text: valid dates/times in every accepted spelling, some out of range."""
    years = [
        "0",
        "10000",
        "294247",
        "290308",
        "5877642",
        "5881580",
        "1",
        "9999",
        "0000",
        "00002024",
    ]
    y = r.choice([str(r.randint(1, 9999)).zfill(4), str(r.randint(1, 9999)), r.choice(years)])
    sep = r.choice("----/ \\")
    mo, dd = r.randint(1, 12), r.randint(1, 31 if r.random() < 0.2 else 28)
    if r.random() < 0.1:
        mo, dd = 2, 29
    s = r.choice(["", "", " ", "\t"]) + ("-" if r.random() < 0.05 else "") + y
    s += sep + str(mo).zfill(r.choice([1, 2, 2])) + sep + str(dd).zfill(r.choice([1, 2, 2]))
    if r.random() < 0.05:
        s += " (BC)"
    if r.random() < 0.8:
        h = r.randint(0, 23) if r.random() < 0.95 else 24
        s += r.choice([" ", "T", " ", "  ", "\t"]) + str(h).zfill(r.choice([1, 2, 2]))
        s += ":" + str(r.randint(0, 59) if h < 24 else 0).zfill(r.choice([1, 2, 2]))
        if r.random() < 0.8:
            s += ":" + str(r.randint(0, 59) if h < 24 else 0).zfill(r.choice([1, 2, 2]))
            if r.random() < 0.6:
                frac = _digits(r, 0, 10)
                s += "." + ("0" * len(frac) if h == 24 else frac)
        if r.random() < 0.5:
            s += r.choice(["Z", "+05", "-08", "+05:30", "-0330", "+00", "+14:00", "-12:45:30",
                           "+99", " UTC", " utc", "+23:59", " Europe/Paris", "+05:", "-08:30:"])  # fmt: skip
    return s + r.choice(["", "", "", " ", "  ", "\t"])


def temporal_text(r: random.Random) -> str:
    """One string for VARCHAR -> DATE/TIMESTAMP casts: half well-formed, half pieces and noise."""
    if r.random() < 0.5:
        return _clean_temporal(r)
    parts = [r.choice(["", "", "", " ", "\t", "  ", "\n", "\x0b", "\xa0", "\r", "\x0c"]),
             r.choice(["", "", "", "", "-", "+"])]  # fmt: skip
    if r.random() < 0.07:
        parts.append(r.choice(["infinity", "inf", "epoch", "INF", "Infinity", "infin", "epochs",
                               "nan", "EPOCH", "infinityy", "Inf", "ePoCh", "iNfInItY"]))  # fmt: skip
    else:
        k = r.random()
        if k < 0.6:
            parts.append(_num(r, 1, 9999, 4))
        elif k < 0.8:
            parts.append(str(r.choice([0, 10000, 294247, 294246, 290308, 290309, 5877641, 5877642,
                                       5881580, 5881581, 99999999, 100000000, 1000000000, 1970])))  # fmt: skip
        else:
            parts.append(_digits(r, 0, 11))
        sep = r.choice(["-"] * 8 + ["/", " ", "\\", ".", "", ":", "_"])
        parts += [sep, _num(r, 0, 13, 2), sep if r.random() < 0.95 else r.choice("-/"),
                  _num(r, 0, 32, 2)]  # fmt: skip
        if r.random() < 0.1:
            parts.append(r.choice([" (BC)", " (bc)", "(BC)", "\t(Bc)", " (BC", " (AD)", "  (BC)"]))
    if r.random() < 0.7:
        parts.append(r.choice([" ", " ", "T", "t", "  ", "\t", " T", "", "T ", "_", "\n"]))
        parts.append(_num(r, 0, 25, 2) if r.random() < 0.9 else _digits(r, 0, 12))
        parts += [r.choice([":"] * 10 + ["", ".", "::"]), _num(r, 0, 61, 2)]
        if r.random() < 0.75:
            parts += [r.choice([":"] * 10 + ["", "."]), _num(r, 0, 61, 2)]
            if r.random() < 0.5:
                parts += [r.choice(["."] * 6 + ["", ",", ":"]), _digits(r, 0, 12)]
        if r.random() < 0.5:
            z = r.random()
            if z < 0.3:
                off = r.choice("+-") + _num(r, 0, 99, 2)
                if r.random() < 0.6:
                    off += r.choice([":", "", ":", " "]) + _num(r, 0, 99, 2)
                if r.random() < 0.2:
                    off += r.choice([":", "", "."]) + _num(r, 0, 99, 2)
                parts.append(r.choice(["", " ", ""]) + off)
            elif z < 0.45:
                parts.append(r.choice(["Z", "z", " Z", "ZZ", "Z "]))
            else:
                parts.append(" " + r.choice(["UTC", "utc", "America/New_York", "EST", "Foo", "a.b",
                                             "a:b", "x-y+z", "GMT+5", "Etc/GMT-3", "+05", "", "Z",
                                             "10:00", "é", "UTC x", "Asia/Kolkata"]))  # fmt: skip
    parts.append(r.choice([""] * 8 + [" ", "\t", "x", "0", "  ", " x", "\n", " \t", ".", "Z", "+"]))
    s = "".join(parts)
    for _ in range(r.choice([0, 0, 0, 1, 1, 2])):  # point mutations
        i, c = r.randint(0, len(s)), r.choice("0123456789-:/ .TZ+\t(BC)xé")
        k = r.random()
        s = (
            s[:i] + c + s[i:]
            if k < 0.33
            else s[:i] + s[i + 1 :]
            if k < 0.66
            else s[:i] + c + s[i + 1 :]
        )
    return s


def temporal_strings() -> st.SearchStrategy[str | None]:
    """Hypothesis strings for the temporal casts (the grammar above, edges, NULL, noise)."""
    return st.one_of(
        st.none(),
        st.sampled_from(TEMPORAL_EDGES),
        st.randoms(use_true_random=False).map(temporal_text),
        st.text("0123456789-: T.+Z", max_size=12),
    )
