"""The temporal family (dates, timestamps, intervals) against DuckDB 2.0.1.

Each expression runs over >= 200 payloads (NULL, DST instants, month ends, leap days, year 1
and 9999, random values, DuckDB's part names in any case and unknown ones) through DuckDB and
the compiled Python: same value, Python type and DuckDB type, an error on exactly the rows where
DuckDB errors. Constructs skewless cannot reproduce must be refused at compile time.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from expr_oracle import SCHEMA, Oracle, connect, edge_rows

from skewless.errors import ExpressionError, UnsupportedExpression
from skewless.sql import calendar as CAL
from skewless.sql import compile_expression

_PARTS = [*CAL.SPEC, "YEAR", "Month", "bogus", "", " year", "qtr", "woy", "nanosecond"]
_FIXED = [
    dt.datetime(1, 1, 1),
    dt.datetime(1, 1, 1, 23, 59, 59, 999999),
    dt.datetime(9999, 12, 31),
    dt.datetime(9999, 12, 31, 23, 59, 59, 999999),
    dt.datetime(2024, 2, 29, 12, 0, 0, 500000),
    dt.datetime(2023, 2, 28, 23, 59, 59),
    dt.datetime(2024, 3, 10, 2, 30),  # US DST gap (as a UTC wall time)
    dt.datetime(2024, 11, 3, 1, 30),
    dt.datetime(2024, 3, 31, 1, 0),  # EU DST change
    dt.datetime(2020, 12, 31, 23, 59, 59, 999999),
    dt.datetime(2021, 1, 1),
    dt.datetime(2021, 1, 3),  # ISO week 53 of 2020
    dt.datetime(2019, 12, 30),  # ISO year 2020
    dt.datetime(1970, 1, 1),
    dt.datetime(1969, 12, 31, 23, 59, 59, 999999),
    dt.datetime(2000, 1, 3),
    dt.datetime(1999, 12, 31, 12),
    dt.datetime(2001, 1, 1),
    dt.datetime(2000, 12, 31),
    dt.datetime(1900, 3, 1),
]
_ZONES = [ZoneInfo("UTC"), ZoneInfo("America/New_York"), ZoneInfo("Europe/Berlin")]
_IVS = [dt.timedelta(0), dt.timedelta(days=1), dt.timedelta(hours=-3), dt.timedelta(days=-40),
        dt.timedelta(microseconds=1), dt.timedelta(days=10**5), dt.timedelta(days=-(10**6))]  # fmt: skip


def _rows(n: int = 240, seed: int = 7) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    rows = edge_rows()
    for k in range(n):
        if k % 9 == 0:
            rows.append(dict.fromkeys(SCHEMA))
            continue
        ts = [
            _FIXED[rnd.randrange(len(_FIXED))]
            if rnd.random() < 0.4
            else dt.datetime(1, 1, 1) + dt.timedelta(microseconds=rnd.randrange(315537897599999999))
            if rnd.random() < 0.3
            else dt.datetime(1900, 1, 1) + dt.timedelta(seconds=rnd.randrange(5_000_000_000))
            for _ in range(3)
        ]
        zone = _ZONES[k % 3]
        rows.append(
            {
                **dict.fromkeys(SCHEMA),
                "ts": ts[0],
                "ts2": ts[1],
                "tz": ts[2].replace(tzinfo=dt.UTC).astimezone(zone) if ts[2].year > 1 else None,
                "dt": ts[1].date(),
                "dt2": ts[2].date(),
                "s": rnd.choice(_PARTS),
                "u": rnd.choice(_PARTS),
                "i": rnd.choice([None, 0, 1, -1, 7, 12, 13, 29, 31, 2**31 - 1, -(2**31), 2024]),
                "j": rnd.choice([1, 2, 12, 0, 13, 28, 29, 30, 31, 32, -1, None]),
                "b": rnd.choice(
                    [
                        None,
                        0,
                        1,
                        -1,
                        1709251200123,
                        -62135596800000,
                        253402300799999,
                        253402300800000,
                        2**40,
                    ]
                ),
                "x": rnd.choice(
                    [
                        None,
                        0.0,
                        1.5,
                        -1.5,
                        1577836800.1234567,
                        1e20,
                        float("nan"),
                        -62135596800.0,
                        253402300799.999999,
                        0.0000005,
                        1e-7,
                    ]
                ),
                "iv": rnd.choice([None, *_IVS]),
                "si": rnd.choice([None, 0, 1, -1, 3, 32767, -32768]),
            }
        )
    return rows


ROWS = _rows()

DIFFERENTIAL = [
    # A: a date part given as an expression is read at run time, as DuckDB does
    "date_part(s, dt)",
    "date_part(s, ts)",
    "date_part(s, tz)",
    "date_part(u, ts)",
    "date_trunc((s), ts)",
    "date_trunc((s), dt)",
    "date_diff((s), ts, ts2)",
    "date_diff((s), dt, dt2)",
    "date_trunc(s, ts)",  # a bare column as the part: its value, not the part 's'
    "date_diff(s, dt, dt2)",
    "date_trunc('s', ts)",  # the string: seconds
    # B: a typed literal followed by `::T` is the cast of the typed literal
    "TIMESTAMP '2008-01-01 00:00:01.5'::VARCHAR",
    "DATE '2020-01-01'::TIMESTAMPTZ",
    "'2020-01-01'::DATE::TIMESTAMP",
    "TIMESTAMP '2020-02-29 10:00'::DATE + si",
    "datediff((s), dt, ts2)",
    "date_part(lower(s), ts)",
    # constant parts, including the ones added (every DuckDB part name)
    *[
        f"date_part('{p}', {c})"
        for p in sorted(set(CAL.SPEC.values()) - CAL.TZ_PARTS)
        for c in ("dt", "ts", "tz")
    ],
    *[
        f"date_trunc('{p}', {c})"
        for p in sorted(set(CAL.SPEC.values()) - CAL.NO_TRUNC)
        for c in ("dt", "ts")
    ],
    *[
        f"date_trunc('{p}', tz)"
        for p in (
            "year",
            "quarter",
            "month",
            "week",
            "day",
            "hour",
            "minute",
            "second",
            "millisecond",
            "microsecond",
        )
    ],
    *[
        f"date_diff('{p}', {a}, {b})"
        for p in sorted(set(CAL.SPEC.values()) - CAL.NO_TRUNC)
        for a, b in (("dt", "dt2"), ("ts", "ts2"))
    ],
    *[
        f"date_diff('{p}', tz, ts)"
        for p in (
            "year",
            "quarter",
            "month",
            "week",
            "day",
            "hour",
            "minute",
            "second",
            "millisecond",
            "microsecond",
        )
    ],
    "date_part('timezone', ts)",
    "date_part('timezone_hour', tz)",
    "extract(isoyear from ts)",
    "extract(doy from dt)",
    "extract(yearweek from tz)",
    "extract(decade from ts)",
    "extract(century from dt)",
    "extract(day from iv)",
    "yearweek(dt)",
    "decade(ts)",
    "century(tz)",
    "millennium(dt)",
    "era(ts)",
    "julian(ts)",
    "julian(dt)",
    "weekday(tz)",
    "isoyear(dt)",
    # C: interval text
    "extract(day from interval '157 days')",
    "ts + interval '1 day 2 hours'",
    "ts - interval '01:02:03'",
    "ts + interval '-1 day'",
    "ts + interval '2 hours 1 day ago'",
    "ts + interval '1 millennium 2 decades'",
    "ts + interval '3 quarters 1 week'",
    "ts + interval '1d'",
    "tz + interval '  1   day  '",
    # E
    "si * iv",
    "iv * si",
    "interval '1 month 1 day 1 hour' * si",
    "ts + interval '1 month' * 3",
    "date_add(dt, interval 1 month)",
    "date_add(ts, interval '1 month 2 days')",
    "date_add(dt, si)",
    "time_bucket(interval '1 day', ts)",
    "time_bucket(interval '15 minutes', tz)",
    "time_bucket(interval '1 week', dt)",
    "time_bucket(interval '2 months', ts)",
    "time_bucket(interval '1 year', dt)",
    "make_date(i, j, j)",
    "make_date(2024, j, 29)",
    "make_date(si, 2, 29)",
    "last_day(dt)",
    "last_day(ts)",
    "last_day(tz)",
    "dayname(dt)",
    "dayname(tz)",
    "monthname(ts)",
    "epoch_ms(b)",
    "to_timestamp(x)",
    "to_timestamp(i)",
    # B / D: casts that stay supported
    "CAST(TIMESTAMP '2008-01-01 00:00:01.5' AS VARCHAR)",
    "(DATE '2020-01-01')::TIMESTAMPTZ",
    "CAST(ts AS TIMESTAMP(6))",
]


@pytest.fixture(scope="module")
def oracle() -> Oracle:
    return Oracle(connect())


@pytest.mark.parametrize("sql", DIFFERENTIAL)
def test_matches_duckdb(sql: str, oracle: Oracle) -> None:
    problems = oracle.diff(sql, ROWS)
    assert len(ROWS) >= 200
    assert not problems, f"{len(problems)} mismatches:\n" + "\n".join(problems[:15])


def _one(sql: str, **row: Any) -> Any:
    return compile_expression(sql, SCHEMA)({**dict.fromkeys(SCHEMA), **row})


def test_examples_from_the_brief() -> None:
    d = dt.date(2020, 5, 17)
    assert _one("date_part(s, dt)", s="year", dt=d) == 2020.0
    assert _one("date_trunc((s), dt)", s="year", dt=d) == dt.datetime(2020, 1, 1)
    assert _one("date_diff((s), dt, dt2)", s="year", dt=d, dt2=dt.date(2022, 1, 1)) == 2
    with pytest.raises(ExpressionError, match='specifier "bogus" not recognized'):
        _one("date_part(s, dt)", s="bogus", dt=d)
    assert _one("date_part(s, dt)", s=None, dt=d) is None
    assert compile_expression("date_part(s, dt)", SCHEMA).output_type == "DOUBLE"
    assert _one("CAST(TIMESTAMP '2008-01-01 00:00:01.5' AS VARCHAR)") == "2008-01-01 00:00:01.5"
    assert _one("interval '1 day 2 hours ago'") == -dt.timedelta(days=1, hours=2)
    assert _one("interval '2 hours 1 day ago'") == dt.timedelta(hours=-2, days=-1)


REFUSED = [
    # C: interval text DuckDB rejects or skewless does not reproduce
    "INTERVAL ''",
    "INTERVAL '1 day 2 hours 3'",
    "INTERVAL '1.5 days'",
    "INTERVAL '1 day ago 2 hours'",
    "INTERVAL '1 fortnight'",
    # D: TIMESTAMP(n) other than 6 is TIMESTAMP_S/_MS/_NS in DuckDB
    *[f"CAST(ts AS TIMESTAMP({n}))" for n in (0, 1, 2, 3, 4, 5, 7, 8, 9)],
    # E: formats, fractional interval products, parts DuckDB does not implement
    "strftime(ts, '%Y')",
    "strptime(s, '%Y-%m-%d')",
    "try_strptime(s, '%Y-%m-%d')",
    "iv * 1.5",
    "iv * x",
    "date_trunc('era', ts)",
    "date_diff('timezone', ts, ts2)",
    "date_part('timezone', dt)",
    "date_part('qtr', ts)",
    "time_bucket(interval '1 month 1 day', ts)",
    "time_bucket(iv, ts)",
    "date_bin(interval '1 day', ts, ts2)",
    "date_part(s, iv)",
    "date_trunc((s), tz)",
    "date_diff((s), tz, ts)",
    "date_diff('yearweek', tz, ts)",
    "date_trunc('isoyear', tz)",
    "epoch_ms(ts)",
    "time_bucket(interval '90 minutes', ts, ts2)",
]


@pytest.mark.parametrize("sql", REFUSED)
def test_refused_at_compile_time(sql: str) -> None:
    with pytest.raises(UnsupportedExpression):
        compile_expression(sql, SCHEMA)


def test_interval_text_corpus(oracle: Oracle) -> None:
    """Every interval text skewless accepts reads as DuckDB reads it (and DuckDB accepts it)."""
    rnd = random.Random(3)
    pieces = ["1", "-2", "10", "0", " ", "  ", "day", "days", "d", "hours", "h", "min", "m", "ms",
              "us", "mon", "y", "yrs", "week", "w", "quarter", "decade", "cent", "mil", "ago",
              "AGO", "01:02:03", "-1:30", "25:00", "1:60", "01:02:03.5", "+1", "1.5", ":", "x",
              "s", "dec", "\t"]  # fmt: skip
    texts = [
        rnd.choice([" ", "", "  "]).join(rnd.choice(pieces) for _ in range(rnd.randint(1, 6)))
        for _ in range(12000)
    ]
    checked = 0
    for text in texts:
        iv = CAL.parse_interval(text)
        if iv is None:
            continue
        checked += 1
        try:
            (duck,) = oracle.con.execute("SELECT CAST(? AS INTERVAL)", [text]).fetchone()  # type: ignore[misc]
        except Exception as e:  # DuckDB rejects: skewless must not accept
            raise AssertionError(f"{text!r}: skewless reads {iv}, DuckDB raises {e}") from None
        assert duck == iv.to_timedelta(), f"{text!r}: skewless {iv}, DuckDB {duck}"
    assert checked >= 100
