"""compile_expression / compile_projections: API, errors, rejections and the fused view.

The value semantics of every construct are checked against DuckDB in
test_expressions_differential.py; here: the public contract around them.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from expr_oracle import SCHEMA, Oracle, connect, edge_rows, same

from skewless import compile_expression as lazy_compile_expression
from skewless.errors import ExpressionError, RequestError, UnsupportedExpression
from skewless.sql import (
    CompiledExpression,
    CompiledProjections,
    check_expression,
    compile_expression,
    compile_projections,
)

RATIO_SCHEMA = {"amount": "DOUBLE", "avg_amount_30d": "DOUBLE"}


def test_the_documented_example() -> None:
    fn = compile_expression("amount / nullif(avg_amount_30d, 0)", RATIO_SCHEMA)
    assert isinstance(fn, CompiledExpression)
    assert fn({"amount": 120.0, "avg_amount_30d": 40.0}) == 3.0
    assert fn({"amount": 120.0, "avg_amount_30d": 0.0}) is None
    assert fn({"amount": None, "avg_amount_30d": 40.0}) is None
    assert fn.output_type == "DOUBLE"
    assert fn.inputs == frozenset({"amount", "avg_amount_30d"})
    assert lazy_compile_expression is compile_expression


def test_output_types_and_python_types() -> None:
    schema = {"i": "INTEGER", "d": "DECIMAL(10,2)", "ts": "TIMESTAMPTZ", "s": "VARCHAR"}
    row = {
        "i": 3,
        "d": Decimal("1.25"),
        "ts": dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc),
        "s": "x",
    }
    cases = {
        "i * 1.5": ("DECIMAL(12,1)", Decimal("4.5")),
        "i / 2": ("DOUBLE", 1.5),
        "i // 2": ("INTEGER", 1),
        "d + 1": ("DECIMAL(13,2)", Decimal("2.25")),
        "ts + interval 1 day": (
            "TIMESTAMP WITH TIME ZONE",
            dt.datetime(2024, 1, 2, tzinfo=ZoneInfo("UTC")),
        ),
        "length(s)": ("BIGINT", 1),
        "i > 2": ("BOOLEAN", True),
    }
    for sql, (typ, value) in cases.items():
        fn = compile_expression(sql, schema)
        assert fn.output_type == typ, sql
        got = fn(row)
        assert got == value and type(got) is type(value), sql


def test_timestamptz_inputs_in_any_zone_come_back_in_utc() -> None:
    fn = compile_expression("tz", {"tz": "TIMESTAMPTZ"})
    paris = dt.datetime(2024, 3, 31, 3, 30, tzinfo=ZoneInfo("Europe/Paris"))  # just after DST
    got = fn({"tz": paris})
    assert got == paris and got.tzinfo is ZoneInfo("UTC") and got.hour == 1
    naive = compile_expression("ts", {"ts": "TIMESTAMP"})({"ts": paris})
    assert naive == dt.datetime(2024, 3, 31, 1, 30) and naive.tzinfo is None


@pytest.mark.parametrize(
    ("sql", "schema", "row", "message"),
    [
        ("i + 1", {"i": "INTEGER"}, {"i": 2**31 - 1}, "overflow"),
        ("b * b", {"b": "BIGINT"}, {"b": 2**40}, "overflow"),
        ("abs(b)", {"b": "BIGINT"}, {"b": -(2**63)}, "overflow"),
        ("i // 0", {"i": "INTEGER"}, {"i": 5}, "division by zero"),
        ("x // 0", {"x": "DOUBLE"}, {"x": 5.0}, "division by zero"),
        ("i % 0", {"i": "INTEGER"}, {"i": 5}, "division by zero"),
        ("cast(s as integer)", {"s": "VARCHAR"}, {"s": "12x"}, "Could not convert"),
        ("cast(x as integer)", {"x": "DOUBLE"}, {"x": math.nan}, "can't be cast"),
        ("cast(s as boolean)", {"s": "VARCHAR"}, {"s": "on"}, "BOOL"),
    ],
)
def test_runtime_errors_where_duckdb_errors(
    sql: str, schema: dict[str, str], row: dict[str, object], message: str
) -> None:
    fn = compile_expression(sql, schema)
    with pytest.raises(ExpressionError, match=message):
        fn(row)


def test_try_cast_returns_null_instead() -> None:
    assert compile_expression("try_cast(s as integer)", {"s": "VARCHAR"})({"s": "12x"}) is None
    assert compile_expression("try_cast(s as integer)", {"s": "VARCHAR"})({"s": "0x1F "}) is None
    assert compile_expression("try_cast(s as integer)", {"s": "VARCHAR"})({"s": " 0x1F"}) == 31


def test_payload_problems_are_request_errors_naming_the_field() -> None:
    fn = compile_expression("amount * 2", {"amount": "DOUBLE"})
    with pytest.raises(RequestError, match="'amount'"):
        fn({})
    with pytest.raises(RequestError, match="'amount'"):
        fn({"amount": "twelve"})
    assert fn({"amount": "12"}) == 24.0  # numeric text: read as DuckDB's CAST reads it
    assert fn({"amount": 2}) == 4.0  # an int for a DOUBLE input is read as DuckDB binds it
    with pytest.raises(RequestError, match=r"'n'.*out of range"):
        compile_expression("n", {"n": "TINYINT"})({"n": 300})


REJECTED = [
    ("hash(s)", "hash"),
    ("random()", "random"),
    ("now()", "now"),
    ("current_date", "CURRENT_DATE"),
    ("sum(x)", "Sum"),
    ("sum(x) over ()", "Window"),
    ("(select 1)", "Subquery"),
    ("[1, 2]", "Array"),
    ("i = s", "mixing INTEGER and VARCHAR"),
    ("bo + 1", "`+` on BOOLEAN"),
    ("bo and i", "AND on INTEGER"),
    ("round(x, i)", "non-constant"),
    ("interval (i) day", "non-constant interval"),
    ("cast(s as timestamptz)", "non-constant VARCHAR to TIMESTAMPTZ"),
    ("cast(x as blob)", "CAST to BLOB"),
    ("regexp_matches(s, '(a)\\1')", "regular expression"),
    ("regexp_matches(s, 'a', u)", "constant string"),
    ("regexp_matches(s, 'a', 'g')", "options"),
    ("date_diff('qtr', dt, dt2)", "part 'qtr'"),
    ("extract(timezone from dt)", "part"),
    ("no_such_column + 1", "unknown input 'no_such_column'"),
    ("lower(i)", "lower on INTEGER"),
    ("date '2024-13-01'", "DATE literal"),
    ("x + null", "untyped NULL"),
    ("abs(null)", "untyped NULL"),
    ("s || null", "untyped NULL"),
    ("ts + interval -1 day", "INTERVAL -n"),
    ("1 +", "cannot parse"),
    ("1, 2", "not one SQL expression"),
]


@pytest.mark.parametrize(("sql", "construct"), REJECTED)
def test_unsupported_constructs_are_rejected_at_compile_time(sql: str, construct: str) -> None:
    with pytest.raises(UnsupportedExpression) as info:
        compile_expression(sql, SCHEMA, model="fraud_features", column="risk")
    text = str(info.value)
    assert construct.lower() in text.lower()
    assert "fraud_features" in text
    if "cannot parse" not in text and "not one SQL" not in text:
        assert "risk" in text
    with pytest.raises(UnsupportedExpression):
        check_expression(sql, SCHEMA, model="fraud_features", column="risk")


def test_unsupported_input_type_names_the_input() -> None:
    with pytest.raises(UnsupportedExpression, match="'blob_col'"):
        compile_expression("1", {"blob_col": "BLOB"}, model="m", column="c")


def test_check_expression_returns_the_type_without_running() -> None:
    assert check_expression("coalesce(i, x)", SCHEMA) == "DOUBLE"
    assert check_expression("coalesce(1, 2.5)", {}) == "DECIMAL(11,1)"


def test_request_text_is_data_never_code() -> None:
    sneaky = "'); __import__('os').system('false'); ('"
    fn = compile_expression(f"s = '{sneaky.replace(chr(39), chr(39) * 2)}'", {"s": "VARCHAR"})
    assert fn({"s": sneaky}) is True
    assert "__import__" not in fn.source and "system" not in fn.source
    weird = compile_expression('"a b; import os"', {"a b; import os": "INTEGER"})
    assert weird({"a b; import os": 4}) == 4
    assert "import" not in weird.source


SELECT = """
select
    inputs.amount / nullif(inputs.avg_amount_30d, 0) as amount_ratio,
    case when inputs.amount > 1000 then 'high' else 'low' end as bucket,
    inputs.country <> inputs.home_country as is_foreign,
    date_diff('second', inputs.last_txn_ts, inputs.txn_ts) as secs_since_last,
    inputs.user_id
from (select 1) as inputs
"""
VIEW_SCHEMA = {
    "user_id": "BIGINT",
    "amount": "DOUBLE",
    "avg_amount_30d": "DOUBLE",
    "country": "VARCHAR",
    "home_country": "VARCHAR",
    "txn_ts": "TIMESTAMP",
    "last_txn_ts": "TIMESTAMP",
}


def test_compile_projections_from_a_compiled_select() -> None:
    view = compile_projections(SELECT, VIEW_SCHEMA, model="txn_risk")
    assert isinstance(view, CompiledProjections) and isinstance(view, dict)
    assert list(view) == ["amount_ratio", "bucket", "is_foreign", "secs_since_last", "user_id"]
    assert view.output_types["secs_since_last"] == "BIGINT"
    assert view.inputs == frozenset(VIEW_SCHEMA)
    row = {
        "user_id": 7,
        "amount": 1500.0,
        "avg_amount_30d": 500.0,
        "country": "FR",
        "home_country": "US",
        "txn_ts": dt.datetime(2024, 1, 2, 0, 0, 1),
        "last_txn_ts": dt.datetime(2024, 1, 1, 23, 59, 59, 900000),
    }
    expected = {
        "amount_ratio": 3.0,
        "bucket": "high",
        "is_foreign": True,
        "secs_since_last": 2,
        "user_id": 7,
    }
    assert view.evaluate(row) == expected
    assert {name: fn(row) for name, fn in view.items()} == expected


def test_compile_projections_other_forms() -> None:
    by_map = compile_projections({"double_it": "amount * 2"}, VIEW_SCHEMA, model="m")
    by_list = compile_projections(["amount * 2 as double_it"], VIEW_SCHEMA, model="m")
    row = {"amount": 2.5}
    assert by_map.evaluate(row) == by_list.evaluate(row) == {"double_it": 5.0}


@pytest.mark.parametrize(
    ("select", "message"),
    [
        ("select amount + 1 from t", "needs an alias"),
        ("select amount as a, amount as a from t", "two projections are named 'a'"),
        ("select hash(country) as h from t", "column 'h'"),
        ("select * from t", "needs an alias"),
    ],
)
def test_compile_projections_errors_name_model_and_column(select: str, message: str) -> None:
    with pytest.raises(UnsupportedExpression, match=message) as info:
        compile_projections(select, VIEW_SCHEMA, model="txn_risk")
    assert "txn_risk" in str(info.value)


# A view mixing many constructs: the fused function (one per view, shared input loads and
# temporaries) must agree with DuckDB exactly like the per-expression functions do.
MIXED_VIEW = {
    "a": "x / nullif(y, 0)",
    "b": "case when i > 10 then 'big' when i is null then 'none' else 'small' end",
    "c": "coalesce(dc, 0) * 2",
    "d": "lower(trim(s)) || '-' || cast(i as varchar)",
    "e": "date_diff('hour', ts, tz)",
    "f": "round(x, 2)",
    "g": "greatest(i, j, 0)",
    "h": "x > 0 and not bo",
    "k": "i // nullif(j, 0)",
    "m": "extract(dow from ts)",
    "n": "concat(s, u)",
    "o": "ts + interval 1 month",
}


def test_fused_view_matches_duckdb() -> None:
    view = compile_projections(MIXED_VIEW, SCHEMA, model="mixed")
    oracle = Oracle(connect())
    rows = edge_rows()
    problems: list[str] = []
    for sql in MIXED_VIEW.values():
        problems.extend(oracle.diff(sql, rows))  # the per-expression functions
    for row in rows:
        try:
            fused = view.evaluate(row)
        except ExpressionError:
            fused = None
        singles = {}
        for name, fn in view.items():
            try:
                singles[name] = fn(row)
            except ExpressionError:
                singles = None
                break
        if fused is None or singles is None:
            assert fused is None and singles is None
            continue
        for name in MIXED_VIEW:
            if not same(fused[name], singles[name]):
                problems.append(f"{name}: fused {fused[name]!r} != single {singles[name]!r}")
    assert not problems, "\n".join(problems[:20])
