"""Regressions from the issue tracker: each (expression, schema, row) is checked against DuckDB.

No expected value is written here: DuckDB 2.0.1 (TimeZone='UTC') computes it, with the row bound
as typed parameters. The rule is the runtime's contract: where DuckDB gives a value, the compiled
expression gives the same value and Python type (`expr_oracle.same`) and its `output_type` is
DuckDB's `typeof`; where DuckDB raises, Python raises a SkewlessError (an `UnsupportedExpression`
at compile time or an `ExpressionError` when evaluating). LENIENT cases (crashes and input
limits) may also be refused with any SkewlessError, but never give a wrong value, and no other
exception may escape (no ValueError, TypeError, RecursionError, NameError…).
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any, NamedTuple

import duckdb
import pytest
from expr_oracle import connect, same

from skewless import compile_expression
from skewless.errors import SkewlessError, UnsupportedExpression


class Case(NamedTuple):
    id: str
    sql: str
    schema: dict[str, str]
    row: dict[str, Any]
    lenient: bool = False  # a SkewlessError is acceptable too (crash / limit cases)
    refused: bool = False  # must be refused at load (UnsupportedExpression): no exact answer


D = "DOUBLE"
DATE_ROW = {
    "s": "year",
    "d": dt.date(2024, 3, 5),
    "a": dt.date(2024, 3, 5),
    "b": dt.date(2025, 1, 1),
}
DATE_SCHEMA = {"s": "VARCHAR", "d": "DATE", "a": "DATE", "b": "DATE"}
ISSUE1 = (
    "greatest(round(0, 3), case when true then a else 0 end, y) "
    "between try_cast(lower(s) as double) and ln(d)"
)
ISSUE1_SCHEMA = {"a": "INTEGER", "y": D, "s": "VARCHAR", "d": D}
ISSUE9 = "case when n <> '' and cast(substr(n,1,1) as int) <= 0 then '0' else '2' end"
ISSUE12 = "(1.5 = (2 % 0)) and (x % 0.1 >= sqrt(1.5))"
TS = dt.datetime(2024, 1, 1, 10, 0, 0, 123456)

CASES: list[Case] = [
    # the precedence bug (fixed): parenthesised sub-expressions keep their grouping
    Case("prec_mul", "(y - x) * 2", {"y": D, "x": D}, {"y": 1.0, "x": 0.5}),
    Case("prec_div", "(y + x) / 2", {"y": D, "x": D}, {"y": 1.0, "x": 0.5}),
    Case("prec_sub", "0 - (x - 7)", {"x": D}, {"x": 0.125}),
    # 1. nested BETWEEN / CASE / greatest with try_cast, ln and round inside
    Case("issue1", ISSUE1, ISSUE1_SCHEMA, {"a": 1, "y": 2.0, "s": "1", "d": 10.0}, True),
    Case("issue1_null_cast", ISSUE1, ISSUE1_SCHEMA, {"a": 1, "y": 2.0, "s": "x", "d": 10.0}, True),
    Case("issue1_nulls", ISSUE1, ISSUE1_SCHEMA, {"a": None, "y": None, "s": None, "d": None}, True),
    Case(
        "issue1_least",
        ISSUE1.replace("greatest", "least"),
        ISSUE1_SCHEMA,
        {"a": 3, "y": -1.5, "s": "-5", "d": 0.5},
        True,
    ),
    # 2. the date part as a column
    Case("date_part_column", "date_part(s, d)", DATE_SCHEMA, DATE_ROW),
    Case("date_part_column_month", "date_part(s, d)", DATE_SCHEMA, {**DATE_ROW, "s": "month"}),
    Case("date_part_column_bad", "date_part(s, d)", DATE_SCHEMA, {**DATE_ROW, "s": "bogus"}),
    Case("date_trunc_column", "date_trunc(s, d)", DATE_SCHEMA, {**DATE_ROW, "s": "month"}),
    Case("date_diff_column", "date_diff(s, a, b)", DATE_SCHEMA, DATE_ROW),
    Case("date_diff_column_day", "date_diff(s, a, b)", DATE_SCHEMA, {**DATE_ROW, "s": "day"}),
    # 3. temporal literals cast
    Case("ts_literal_to_varchar", "TIMESTAMP '2008-01-01 00:00:01.5'::VARCHAR", {}, {}),
    Case("date_literal_to_tstz", "DATE '2020-01-01'::TIMESTAMPTZ", {}, {}),
    # 4. 'ago' intervals
    Case("interval_ago", "extract(day from interval '157 days ago')", {}, {}),
    # 5. no negative zero out of DECIMAL rounding and casts
    Case("ceil_neg_decimal", "ceil('-0.1'::DECIMAL)", {}, {}),
    Case("round_neg_decimal", "round('-0.1'::DECIMAL)", {}, {}),
    Case("cast_small_neg_decimal", "cast(-0.001 as decimal(10,2))", {}, {}),
    # 6. VARCHAR text of DECIMAL(p,p) and of a negative NaN
    Case("decimal_scale_eq_width_text", "'0.1'::DECIMAL(3,3)::VARCHAR", {}, {}),
    Case("negative_nan_text_literal", "CAST(-('nan'::DOUBLE) AS VARCHAR)", {}, {}),
    Case("negative_nan_text_column", "CAST(x AS VARCHAR)", {"x": D}, {"x": -math.nan}),
    # 7. TIMESTAMP(p) casts keep their precision
    Case("timestamp_1", "ts::TIMESTAMP(1)", {"ts": "TIMESTAMP"}, {"ts": TS}, refused=True),
    Case("timestamp_2", "CAST(ts AS TIMESTAMP(2))", {"ts": "TIMESTAMP"}, {"ts": TS}, refused=True),
    Case("timestamp_7", "ts::TIMESTAMP(7)", {"ts": "TIMESTAMP"}, {"ts": TS}, refused=True),
    Case("timestamp_9", "ts::TIMESTAMP(9)", {"ts": "TIMESTAMP"}, {"ts": TS}, refused=True),
    # 8. round(DECIMAL(p,0), n < 0) widens; overflow at 38 digits
    Case("round_decimal_p0_widens", "round(d, -1)", {"d": "DECIMAL(5,0)"}, {"d": Decimal(12345)}),
    Case("round_decimal_p0_literal", "round(12345::DECIMAL(5,0), -1)", {}, {}),
    Case(
        "round_decimal_38_overflow",
        "round(d, -1)",
        {"d": "DECIMAL(38,0)"},
        {"d": Decimal("9" * 38)},
    ),
    Case("round_decimal_38_ok", "round(d, -1)", {"d": "DECIMAL(38,0)"}, {"d": Decimal("1" * 37)}),
    # 9. CASE conditions short-circuit (AND inside a WHEN)
    Case("case_and_short_circuit", ISSUE9, {"n": "VARCHAR"}, {"n": ""}),
    Case("case_and_short_circuit_0", ISSUE9, {"n": "VARCHAR"}, {"n": "0"}),
    Case("case_and_short_circuit_x", ISSUE9, {"n": "VARCHAR"}, {"n": "x"}),
    # 10. casts and offsets at the limits
    Case("int_tiny_exponent", "'1e-100000'::int", {}, {}),
    Case("int_tiny_exponent_column", "CAST(s AS INTEGER)", {"s": "VARCHAR"}, {"s": "1e-100000"}),
    Case(
        "substring_huge_offset", "substring(s, 9223372036854775807)", {"s": "VARCHAR"}, {"s": "abc"}
    ),
    Case("empty_interval", "INTERVAL ''", {}, {}),
    Case("float_overflow_text", "'1e308'::float", {}, {}),
    Case("float_overflow_text_column", "CAST(s AS FLOAT)", {"s": "VARCHAR"}, {"s": "1e308"}),
    Case("binary_int_text", "'0b11'::int", {}, {}),
    # DuckDB reads the digits before an exponent as an int64 first
    Case(
        "int_mantissa_beyond_int64", "s::BIGINT", {"s": "VARCHAR"}, {"s": "85293413192636198034e-2"}
    ),
    Case("int_mantissa_hugeint", "s::HUGEINT", {"s": "VARCHAR"}, {"s": "85293413192636198034e-2"}),
    Case("binary_int_text_column", "CAST(s AS INTEGER)", {"s": "VARCHAR"}, {"s": "0b11"}),
    # 11. malformed or huge input: a skewless error, never ValueError/TypeError/RecursionError
    Case("decimal_float_params", "1::DECIMAL(3.2)", {}, {}, True),
    Case("decimal_text_param", "'0.1'::DECIMAL('hello')", {}, {}, True),
    Case("literal_5001_digits", "1" * 5001, {}, {}, True),
    Case("parentheses_5000", "(" * 5000 + "1" + ")" * 5000, {}, {}, True),
    # 12. AND with an erroring side: over a table DuckDB evaluates both sides (an error);
    # only a constant FALSE side decides without the other (see docs/functions.md)
    Case("and_error_side", ISSUE12, {"x": D}, {"x": 0.5}),
    Case("and_error_side_null", ISSUE12, {"x": D}, {"x": None}),
    # found by the fuzz after the z-score rows went in (one case per class)
    Case("zscore", "(a - m) / sd", {"a": D, "m": D, "sd": D}, {"a": 120.0, "m": 100.0, "sd": 8.0}),
    Case("nested_diff", "b - (a - 7)", {"a": "INTEGER", "b": "INTEGER"}, {"a": 1, "b": 2}),
    Case("tstz_diff_icu_ms", "TIMESTAMPTZ '1970-01-01 00:00:00.000001Z' - tz", {"tz": "TIMESTAMPTZ"},
         {"tz": dt.datetime(1947, 9, 27, 0, 49, 15, 610651, tzinfo=dt.timezone.utc)}),
    Case("tstz_diff_icu_swapped", "tz - TIMESTAMPTZ '1970-01-01 00:00:00.0005Z'",
         {"tz": "TIMESTAMPTZ"}, {"tz": dt.datetime(1969, 12, 31, 23, 59, 59, 999001,
                                                  tzinfo=dt.timezone.utc)}),
    Case("chr_bigint_after_true", "CASE WHEN true THEN 1 WHEN contains(chr(b), 'a') THEN 2 END",
         {"b": "BIGINT"}, {"b": 3}),
    Case("round_literal_not_literal", "round(34, 1) * ti", {"ti": "TINYINT"}, {"ti": 127}),
    Case("coalesce_literal_type", "coalesce(34, 1) * ti", {"ti": "TINYINT"}, {"ti": 127}),
    Case("neg_paren_literal", "-(34) * ti", {"ti": "TINYINT"}, {"ti": 3}),
    Case("neg_unsigned_const", "-(58 - CAST(0 AS UBIGINT))", {}, {}),
    Case("wide_dec_mod_zero", "round(d) % d", {"d": "DECIMAL(38,6)"}, {"d": Decimal("0")}),
    Case("simple_case_operand_hoisted",
         "coalesce(s, CASE chr(i) WHEN 'a' THEN 'b' WHEN 'c' THEN 'd' END)",
         {"s": "VARCHAR", "i": "INTEGER"}, {"s": "x", "i": -1}),
    Case("simple_case_operand_once", "coalesce(s, CASE chr(i) WHEN 'a' THEN 'b' END)",
         {"s": "VARCHAR", "i": "INTEGER"}, {"s": "x", "i": -1}),
    Case("iv_times_bigint_null_iv", "coalesce(iv * b, INTERVAL 1 DAY)",
         {"iv": "INTERVAL", "b": "BIGINT"}, {"iv": None, "b": 1997562093556941914}),
    Case("const_null_case_spares", "left(s, y::UTINYINT) || CASE WHEN suffix('a', 'b') THEN 'a' END",
         {"s": "VARCHAR", "y": D}, {"s": "abc", "y": math.inf}),
    Case("const_null_spares_through_fn",
         "jaro_winkler_similarity(left(s, y::UTINYINT), substring(s, CASE WHEN false THEN 1 END))",
         {"s": "VARCHAR", "y": D}, {"s": "abc", "y": math.inf}),
    Case("try_cast_null_spares", "TRY_CAST('x' AS INT) + (j + 1)", {"j": "INTEGER"},
         {"j": 2**31 - 1}),
    Case("column_case_null_runs_rest",
         "date_diff('day', (DATE '2020-01-01' + (j + 1))::TIMESTAMP, CASE WHEN false THEN ts END)",
         {"j": "INTEGER", "ts": "TIMESTAMP"}, {"j": 2**31 - 1, "ts": None}),
    Case("null_between_runs_bounds", "CAST(NULL AS INT) BETWEEN (j + 1) AND 5", {"j": "INTEGER"},
         {"j": 2**31 - 1}),
    Case("case_null_operand_drops", "CASE CAST(NULL AS INT) WHEN j + 1 THEN 1 ELSE 2 END",
         {"j": "INTEGER"}, {"j": 2**31 - 1}),
    Case("unsigned_sub_plus_null", "(ut - ub) + CAST(NULL AS USMALLINT)",
         {"ut": "UTINYINT", "ub": "UBIGINT"}, {"ut": 0, "ub": 5}),
    Case("dec38_operand_cast", "d + CAST('99999999999999999999999999999999999999' AS DECIMAL(38,0))",
         {"d": "DECIMAL(4,1)"}, {"d": None}),
    Case("dec38_column_operand_cast",
         "d - (b - CAST('99999999999999999999999999999999999999' AS DECIMAL(38,0)))",
         {"d": "DECIMAL(4,1)", "b": "BIGINT"}, {"d": None, "b": 4030288157363579535}),
    Case("extract_const_null_double", "coalesce(extract(day FROM CASE WHEN false THEN iv END), 5)",
         {"iv": "INTERVAL"}, {"iv": None}),
    Case("extract_const_null_date", "coalesce(extract(week FROM TRY_CAST('x' AS DATE)), 5)", {}, {}),
    Case("extract_column_null_bigint",
         "coalesce(extract(week FROM TRY_CAST(regexp_replace(s, 'a', CAST(NULL AS TEXT)) AS DATE)), 5)",
         {"s": "VARCHAR"}, {"s": "x"}),
    Case("extract_case_naming_column",
         "coalesce(extract(yearweek FROM CASE WHEN NULL::BOOLEAN THEN last_day(coalesce("
         "TIMESTAMP '2008-01-01 00:00:01.5', ts)) END), 5)", {"ts": "TIMESTAMP"}, {"ts": None}),
    Case("extract_nullif_null_first", "coalesce(extract(yearweek FROM nullif(CAST(NULL AS TIMESTAMP), ts)), 5)",
         {"ts": "TIMESTAMP"}, {"ts": None}),
    Case("time_bucket_origin", "time_bucket(INTERVAL 15 MINUTE, d, TIMESTAMP '2000-01-01 00:05')",
         {"d": "DATE"}, {"d": dt.date(2022, 11, 21)}),
    Case("time_bucket_offset", "time_bucket(INTERVAL 1 MONTH, ts, INTERVAL '-1 day')",
         {"ts": "TIMESTAMP"}, {"ts": dt.datetime(2024, 3, 31, 12, 0)}),
    Case("column_case_null_first_skips", "CASE WHEN false THEN d END - (200 * ut)",
         {"d": "DATE", "ut": "UTINYINT"}, {"d": None, "ut": 255}),
    Case("column_case_null_last_runs", "(200 * ut) + CASE WHEN false THEN d END",
         {"d": "DATE", "ut": "UTINYINT"}, {"d": None, "ut": 255}),
    Case("tstz_mixed_interval_refused", "tz + INTERVAL '-1 month -1 hour'", {"tz": "TIMESTAMPTZ"},
         {"tz": dt.datetime(2024, 3, 31, tzinfo=dt.timezone.utc)}, refused=True),
    Case("tstz_column_interval_refused", "tz - (INTERVAL '1 month' + iv)",
         {"tz": "TIMESTAMPTZ", "iv": "INTERVAL"},
         {"tz": dt.datetime(1999, 12, 31, 19, tzinfo=dt.timezone.utc), "iv": dt.timedelta(hours=-1)},
         refused=True),
    Case("tstz_months_only", "tz + INTERVAL '-1 month'", {"tz": "TIMESTAMPTZ"},
         {"tz": dt.datetime(2024, 3, 31, tzinfo=dt.timezone.utc)}),
    Case("greatest_float_folded_if", "greatest(f, if(NULL::BOOLEAN AND (true OR b), 1.5::FLOAT, f))",
         {"f": "FLOAT", "b": "BOOLEAN"}, {"f": -0.0, "b": False}),
    Case("cse_after_case_drops_branch",
         "coalesce(d, CASE WHEN b AND false THEN d ELSE CASE to_timestamp(x) WHEN d THEN d "
         "WHEN d2 THEN d2 ELSE d END END)",
         {"d": "TIMESTAMPTZ", "d2": "TIMESTAMPTZ", "b": "BOOLEAN", "x": "DOUBLE"},
         {"d": dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc), "d2": None, "b": None, "x": math.inf}),
    Case("null_ends_literal_typing", "coalesce(149, NULL, CAST(0 AS UBIGINT))", {}, {}),
    Case("null_ends_literal_case",
         "CASE s WHEN 'x' THEN NULL WHEN 'year' THEN CAST(0 AS UBIGINT) ELSE 149 END",
         {"s": "VARCHAR"}, {"s": "y"}),
]  # fmt: skip


class Raised(NamedTuple):
    error: BaseException


def duckdb_eval(con: duckdb.DuckDBPyConnection, case: Case) -> tuple[Any, str | None]:
    """DuckDB's value (or Raised) and typeof (None when DuckDB cannot type it).

    The row is scanned from an Arrow table, as training data is scanned from a table: bound as
    query parameters, DuckDB would constant-fold the whole expression (and, e.g., decide
    `<error> AND <false>` without the error), which no query over real rows does.
    """
    names = list(case.schema)
    frm = ""
    if names:
        src = ", ".join(f"${n + 1}::{case.schema[c]} AS {c}" for n, c in enumerate(names))
        row = con.sql(f"SELECT {src}", params=[case.row[c] for c in names]).to_arrow_table()
        con.register("t_case", row)
        frm = " FROM t_case"
    try:
        try:
            typ = str(con.execute(f"SELECT typeof({case.sql}){frm}").fetchall()[0][0])
        except duckdb.Error:
            typ = None
        try:
            value = con.execute(f"SELECT ({case.sql}){frm}").fetchall()[0][0]
        except duckdb.Error as e:
            return Raised(e), typ
        return value, typ
    finally:
        if names:
            con.unregister("t_case")


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    return connect()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_regression_matches_duckdb(case: Case, con: duckdb.DuckDBPyConnection) -> None:
    duck, duck_type = duckdb_eval(con, case)
    where = f"{case.sql[:200]} on {case.row!r}: DuckDB gives {duck!r} ({duck_type})"
    if case.refused:  # DuckDB's TIMESTAMP_S/_MS/_NS are types the runtime does not have
        with pytest.raises(UnsupportedExpression):
            compile_expression(case.sql, case.schema)
        return
    try:
        fn = compile_expression(case.sql, case.schema)
        value = fn(dict(case.row))
    except SkewlessError as e:
        if isinstance(duck, Raised) or case.lenient:
            return
        pytest.fail(f"{where}, Python raised {type(e).__name__}: {e}")
    except Exception as e:  # anything but a SkewlessError escaping is a bug
        pytest.fail(f"{where}, Python raised {type(e).__name__} (not a SkewlessError): {e}")
    assert not isinstance(duck, Raised), f"{where}, Python gave {value!r}"
    assert same(value, duck), f"{where}, Python gave {value!r} ({type(value).__name__})"
    assert fn.output_type == duck_type, f"{where}, Python's output_type is {fn.output_type!r}"
