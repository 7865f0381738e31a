"""Value packing: kinds by declared type, and every kind's DuckDB form read back exactly."""

from __future__ import annotations

import math
from datetime import date, datetime, time, timezone
from decimal import Decimal

import duckdb
import pytest

from skewless.errors import DefinitionError
from skewless.online import codec

UTC = timezone.utc


@pytest.mark.parametrize(
    ("declared", "kind"),
    [
        ("bigint", "int"), ("INTEGER", "int"), ("ubigint", "int"), ("hugeint", "bigint"),
        ("double", "float"), ("double precision", "float"), ("real", "float"),
        ("decimal(18,4)", "decimal"), ("NUMERIC(38, 10)", "decimal"), ("varchar", "str"),
        ("text", "str"), ("uuid", "str"), ("boolean", "bool"), ("date", "date"),
        ("timestamp", "timestamp"), ("timestamptz", "timestamp"),
        ("timestamp with time zone", "timestamp"), ("time", "time"), ("blob", "blob"),
    ],
)  # fmt: skip
def test_kinds(declared: str, kind: str) -> None:
    assert codec.column_kind("m", "c", declared) == kind


def test_unsupported_type_names_model_and_column() -> None:
    with pytest.raises(DefinitionError, match=r"model `m`, column `c`.*INTERVAL"):
        codec.column_kind("m", "c", "INTERVAL")


CASES = [
    ("BIGINT", "9223372036854775807", 2**63 - 1),
    ("BIGINT", "-9223372036854775808", -(2**63)),
    ("UBIGINT", "18446744073709551615", 2**64 - 1),
    ("HUGEINT", "-170141183460469231731687303715884105728", -(2**127)),
    ("UHUGEINT", "340282366920938463463374607431768211455", 2**128 - 1),
    ("DOUBLE", "'nan'", math.nan),
    ("DOUBLE", "'-inf'", -math.inf),
    ("DOUBLE", "5e-324", 5e-324),
    ("REAL", "0.1", float(__import__("numpy").float32(0.1))),
    ("DECIMAL(38,10)", "1234567890123456789012345678.0123456789", Decimal("1234567890123456789012345678.0123456789")),
    ("DECIMAL(4,2)", "-0.10", Decimal("-0.10")),
    ("VARCHAR", "'日本 🚀 \x00-free'", "日本 🚀 \x00-free"),
    ("BOOLEAN", "false", False),
    ("DATE", "'0001-01-01'", date(1, 1, 1)),
    ("DATE", "'9999-12-31'", date(9999, 12, 31)),
    ("TIMESTAMP", "'2024-02-29 23:59:59.999999'", datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC)),
    ("TIMESTAMPTZ", "'2024-03-31 02:30:00+02'", datetime(2024, 3, 31, 0, 30, tzinfo=UTC)),
    ("TIMESTAMP", "'1900-01-01 00:00:00'", datetime(1900, 1, 1, tzinfo=UTC)),
    ("TIME", "'23:59:59.5'", time(23, 59, 59, 500000)),
    ("BLOB", "'\\x00\\xFF'::BLOB", b"\x00\xff"),
    ("INTEGER", "NULL", None),
    ("DECIMAL(10,2)", "NULL", None),
    ("TIMESTAMP", "NULL", None),
]  # fmt: skip


@pytest.mark.parametrize(("declared", "literal", "expected"), CASES)
def test_duckdb_form_round_trips_exactly(declared: str, literal: str, expected: object) -> None:
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    kind = codec.column_kind("m", "c", declared)
    con.execute(f"CREATE TABLE t AS SELECT CAST({literal} AS {declared}) AS c")
    (stored,) = con.execute(f"SELECT {codec.sql_select(kind, 'c')} FROM t").fetchone()  # type: ignore[misc]
    ts_us = 4102444800000000
    row = codec.unpack(codec.pack([ts_us, stored]))
    assert row[0] == ts_us
    dec = codec.decoder(kind)
    value = row[1] if dec is None else dec(row[1])
    if isinstance(expected, float) and math.isnan(expected):
        assert isinstance(value, float) and math.isnan(value)
    else:
        assert value == expected and type(value) is type(expected)
    if isinstance(value, datetime):
        assert value.utcoffset() is not None and value.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


def test_identity_kinds_have_no_decoder() -> None:
    assert [codec.decoder(k) for k in ("int", "float", "str", "bool", "blob")] == [None] * 5


def test_defaults_are_coerced_to_the_column_type() -> None:
    assert codec.coerce_default("decimal", 0.1, "m.c") == Decimal("0.1")
    assert codec.coerce_default("float", 0, "m.c") == 0.0
    assert type(codec.coerce_default("float", 0, "m.c")) is float
    assert codec.coerce_default("date", "2024-01-31", "m.c") == date(2024, 1, 31)
    assert codec.coerce_default("timestamp", "2024-01-31T00:00:00", "m.c") == datetime(
        2024, 1, 31, tzinfo=UTC
    )
    with pytest.raises(DefinitionError, match=r"m\.c"):
        codec.coerce_default("int", "many", "m.c")
    with pytest.raises(DefinitionError):
        codec.coerce_default("int", 1.5, "m.c")
