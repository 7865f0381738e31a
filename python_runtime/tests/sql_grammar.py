"""A typed grammar of the request-time SQL dialect, for compositional differential fuzzing.

`Grammar(r).expression(kind)` draws a random SQL expression whose (coarse) type is `kind`,
composing the constructs of `CONSTRUCTS` recursively (depth <= 5) over the oracle's typed
columns (`expr_oracle.SCHEMA`) and literals of every literal type. The grammar is table-driven:
one `Construct` row per construct (name, family, result kinds, argument kinds, SQL template), so
supporting a new function is one new row.

Kinds are coarse on purpose (every integer type is `INT`, every DECIMAL is `DEC`): they steer the
composition towards well-typed SQL, and the exact DuckDB type is checked by the fuzz itself
(`typeof` against the compiled `output_type`).

Argument specs in a row: a kind (`"INT"`), several kinds (`"DATE|TS"`), `"="` (the kind being
produced), `"<"` (a kind that widens to the produced one: INT for DEC, any numeric for DOUBLE),
`"*"` (any kind), `"T"` (one kind group chosen per use - numeric, text, boolean, temporal,
interval - shared by every `T` argument, each drawing its own member kind), and `"STRLIT"`
(a string literal). Named template fields (`{part}`, `{n}`, `{pat}`) draw from the row's
`choices`; `{ty}` is a SQL type name of the produced kind.

Rows marked `pending=True` are functions being added to the compiler right now; the fuzz enables
one when it compiles (see test_sql_fuzz.py) or when named in SKEWLESS_FUZZ_PENDING.

`payload_rows(r, n)` draws payload rows over SCHEMA with the traps the compiler must survive.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import re
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from expr_oracle import (
    _CTX,
    _DOUBLE_EDGES,
    _IV_EDGES,
    _LIMITS,
    _STRING_EDGES,
    _TS_EDGES,
    _ZONES,
    SCHEMA,
    TEMPORAL_EDGES,
    _top,
    temporal_text,
)

# --- kinds --------------------------------------------------------------------------------
INT, DEC, DBL, FLT = "INT", "DEC", "DBL", "FLT"
STR, BOOL, DATE, TS, TSTZ, IV = "STR", "BOOL", "DATE", "TS", "TSTZ", "IV"
NUMERIC = (INT, DEC, DBL, FLT)
TEMPORAL = (DATE, TS, TSTZ)
KINDS = (*NUMERIC, STR, BOOL, *TEMPORAL, IV)
# kind groups a `T` argument draws from (comparable with each other in DuckDB)
GROUPS: tuple[tuple[str, ...], ...] = (NUMERIC, (STR,), (BOOL,), TEMPORAL, (IV,))
# kinds that widen to the key (for "<" arguments of arithmetic)
WIDENS: dict[str, tuple[str, ...]] = {
    INT: (INT,),
    DEC: (DEC, DEC, INT),
    DBL: (DBL, DBL, INT, DEC, FLT),
    FLT: (FLT, FLT, INT),
    IV: (IV,),
}


def kind_of(sql_type: str) -> str:
    """The coarse kind of a DuckDB type name."""
    t = sql_type.upper()
    if t.startswith("DECIMAL"):
        return DEC
    if t in _LIMITS or t in ("USMALLINT", "UINTEGER", "HUGEINT"):
        return INT
    return {
        "DOUBLE": DBL,
        "FLOAT": FLT,
        "VARCHAR": STR,
        "BOOLEAN": BOOL,
        "DATE": DATE,
        "TIMESTAMP": TS,
        "TIMESTAMPTZ": TSTZ,
        "INTERVAL": IV,
    }[t]


COLUMNS: dict[str, tuple[str, ...]] = {
    k: tuple(n for n, t in SCHEMA.items() if kind_of(t) == k) for k in KINDS
}

# SQL type names per kind, as cast targets (`{ty}`)
TYPE_NAMES: dict[str, tuple[str, ...]] = {
    INT: ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER",
          "UBIGINT", "HUGEINT", "INT", "INT8"),
    DEC: ("DECIMAL(4,1)", "DECIMAL(10,2)", "DECIMAL(18,3)", "DECIMAL(38,6)", "DECIMAL(3,3)",
          "DECIMAL(38,0)", "DECIMAL", "DECIMAL(5,0)", "NUMERIC(12,4)"),
    DBL: ("DOUBLE", "FLOAT8"),
    FLT: ("FLOAT", "REAL"),
    STR: ("VARCHAR", "TEXT"),
    BOOL: ("BOOLEAN",),
    DATE: ("DATE",),
    TS: ("TIMESTAMP", "TIMESTAMP", "TIMESTAMP", "TIMESTAMP(3)", "DATETIME"),
    TSTZ: ("TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE"),
    IV: ("INTERVAL",),
}  # fmt: skip


# --- literals -----------------------------------------------------------------------------
def quote(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


LITERALS: dict[str, tuple[str, ...]] = {
    INT: ("0", "1", "-1", "2", "3", "7", "10", "100", "127", "128", "255", "256", "-128", "-129",
          "32767", "32768", "2147483647", "-2147483648", "2147483648", "3000000000",
          "9223372036854775807", "-9223372036854775808", "9223372036854775808",
          "127::TINYINT", "CAST(-128 AS TINYINT)", "CAST(255 AS UTINYINT)",
          "18446744073709551615::UBIGINT", "CAST(0 AS UBIGINT)",
          "170141183460469231731687303715884105727::HUGEINT"),
    DEC: ("1.5", "0.25", "-2.5", "0.1", "2.675", "0.125", "0.5", "99999999.99", "0.001", "1.0",
          "100.00", "123456789012345678.9", "-0.0", "0.05",
          "CAST('99999999999999999999999999999999.999999' AS DECIMAL(38,6))",
          "CAST(-999.9 AS DECIMAL(4,1))", "'-0.1'::DECIMAL", "CAST(2.5 AS DECIMAL(4,1))",
          "'0.1'::DECIMAL(3,3)", "CAST(12345 AS DECIMAL(5,0))",
          "CAST('99999999999999999999999999999999999999' AS DECIMAL(38,0))"),
    DBL: ("1e2", "2.5e-3", "1e308", "5e-324", "-0.0::DOUBLE", "'nan'::DOUBLE", "'inf'::DOUBLE",
          "'-inf'::DOUBLE", "CAST('-nan' AS DOUBLE)", "0.1::DOUBLE", "1.7976931348623157e308",
          "9007199254740993::DOUBLE", "2.5::DOUBLE", "-7.5::DOUBLE", "1e16", "0.5e0", "3e0",
          "CAST('-0' AS DOUBLE)", "1e-5"),
    FLT: ("'1.5'::FLOAT", "'nan'::FLOAT", "CAST(3.4e38 AS FLOAT)", "'-inf'::REAL",
          "0.1::FLOAT", "CAST(-0.0 AS FLOAT)", "'1e-45'::FLOAT", "16777217::FLOAT"),
    STR: tuple(quote(s) for s in (
        "", "abc", "ABC", "ß", "İ", "ΑΣ", "😀x", " 12 ", "12.5", "-12.5", "1e2", "0x1F", "0b11",
        "1_000", "2024-01-31", "2024-02-29 12:30:00", "2024-01-01 10:00:00+02", "true", "f",
        "nan", "-inf", "it's", "a%b", "a_b", "%", "_", "year", "month", "day", "hour", "epoch",
        "hello world", "a\u0301", "\u00a0x\u00a0", "\tz\n", "1e308", "1e-100000", "127",
        "-129", "99999999.995", "12345678901234567890", "2008-01-01 00:00:01.5", " ",
        "Ünïcödé", "-0.0", ".5", "5.", "+5",
    )),
    BOOL: ("true", "false", "NULL::BOOLEAN"),
    DATE: ("DATE '2024-02-29'", "DATE '1970-01-01'", "DATE '2024-03-31'", "DATE '0001-01-01'",
           "DATE '9999-12-31'", "DATE '2020-01-01'", "DATE '1969-12-31'", "DATE '2024-12-30'"),
    TS: ("TIMESTAMP '2024-03-31 01:59:59'", "TIMESTAMP '2008-01-01 00:00:01.5'",
         "TIMESTAMP '1969-12-31 23:59:59.999999'", "TIMESTAMP '2024-11-03 01:30:00'",
         "TIMESTAMP '9999-12-31 23:59:59'", "TIMESTAMP '0001-01-01 00:00:00'",
         "TIMESTAMP '2024-01-31 12:00'", "TIMESTAMP '2000-02-29 23:59:59.5'"),
    TSTZ: ("TIMESTAMPTZ '2024-01-01 10:00+05'", "TIMESTAMPTZ '2024-03-31 01:30:00Z'",
           "TIMESTAMPTZ '1970-01-01 00:00:00-08'", "TIMESTAMPTZ '2024-10-27 02:30:00+02'",
           "TIMESTAMPTZ '2024-01-01 00:00:00.000001'"),
    IV: ("INTERVAL 1 DAY", "INTERVAL '2 hours'", "INTERVAL '1 year 2 months'",
         "INTERVAL 90 MINUTE", "INTERVAL '-1 day'", "INTERVAL 1 MONTH",
         "INTERVAL '1 microsecond'", "INTERVAL 3 WEEK", "INTERVAL '157 days ago'",
         "INTERVAL '1 day 2 hours 3 minutes'", "INTERVAL 0 SECOND"),
}  # fmt: skip


def random_literal(r: random.Random, kind: str) -> str:
    """A literal of `kind`: mostly the hand-picked traps above, sometimes a random value."""
    if r.random() < 0.6:
        return r.choice(LITERALS[kind])
    if kind == INT:
        return str(r.choice([r.randint(-20, 20), r.randint(-(2**31), 2**31), r.randint(0, 300)]))
    if kind == DEC:
        whole, frac = r.randint(0, 10 ** r.randint(0, 8)), r.randint(0, 10 ** r.randint(1, 4))
        return f"{r.choice(['', '-'])}{whole}.{frac}"
    if kind == DBL:
        return repr(
            r.choice([r.uniform(-1e3, 1e3), r.uniform(-1, 1), 10.0 ** r.randint(-300, 300)])
        )
    if kind == FLT:
        return f"CAST({r.uniform(-100, 100)!r} AS FLOAT)"
    if kind == STR:
        pool = [*_STRING_EDGES, *TEMPORAL_EDGES[:20], temporal_text(r), _number_text(r)]
        return quote(r.choice(pool))
    if kind == DATE:
        return f"DATE '{_random_ts(r).date().isoformat()}'"
    if kind == TS:
        return f"TIMESTAMP '{_random_ts(r).isoformat(sep=' ')}'"
    if kind == TSTZ:
        off = r.choice(["", "Z", "+05", "-08:00", "+05:30", "+00"])
        return f"TIMESTAMPTZ '{_random_ts(r).isoformat(sep=' ')}{off}'"
    if kind == IV:
        return f"INTERVAL '{r.randint(-400, 400)} {r.choice(['day', 'hour', 'minute', 'month'])}'"
    return r.choice(LITERALS[kind])


# --- constructs ---------------------------------------------------------------------------
PARTS = ("year", "quarter", "month", "day", "hour", "minute", "second", "millisecond",
         "microsecond", "dow", "isodow", "doy", "week", "isoyear", "decade")  # fmt: skip
DIFF_PARTS = ("year", "quarter", "month", "week", "day", "hour", "minute", "second",
              "millisecond", "microsecond")  # fmt: skip
TRUNC_PARTS = ("year", "quarter", "month", "week", "day", "hour", "minute", "second",
               "millisecond", "microsecond")  # fmt: skip
PATTERNS = tuple(quote(p) for p in ("%", "a%", "%b%", "_", "__", "", "a_b", "%ß%", "%1%", "%\\%%",
                                     "A%", "%c", "%_%", "1%", "% %"))  # fmt: skip
REGEXES = tuple(quote(p) for p in ("a", "^a", "b$", "[0-9]+", "\\d", "a.c", "^$", "(ab|c)+", "\\s",
                                    "x*", "[a-c]{2}", "\\w+\\.\\w", "^-?\\d+(\\.\\d+)?$"))  # fmt: skip
FORMATS = tuple(quote(p) for p in ("%Y-%m-%d", "%Y/%m/%d %H:%M:%S", "%d.%m.%Y", "%A %B", "%j",
                                    "%Y-%m-%d %H:%M:%S.%f", "%y%m%d", "%I %p", "%Y-%m-%dT%H:%M"))  # fmt: skip
SMALL = ("0", "1", "2", "3", "-1", "-2", "4", "10")


@dataclass(frozen=True)
class Construct:
    """One row of the grammar: `template` with `{0}`…`{k}` for the arguments (drawn per
    `args`), producing any of `results`. `family` groups rows in reports."""

    name: str
    family: str
    results: tuple[str, ...]
    args: tuple[str, ...]
    template: str
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    pending: bool = False
    groups: tuple[tuple[str, ...], ...] = GROUPS  # what a `T` argument draws from

    @property
    def atomic(self) -> bool:
        """True when the template's text is one syntactic unit (a call, CAST, CASE)."""
        t = self.template
        return bool(re.fullmatch(r"[A-Za-z_0-9]+\(.*\)|CASE .* END", t)) and _balanced_call(t)


def _balanced_call(t: str) -> bool:
    if t.startswith("CASE "):
        return True
    depth = 0
    for n, c in enumerate(t):
        depth += c == "("
        depth -= c == ")"
        if depth == 0 and c == ")" and n != len(t) - 1:
            return False
    return True


def _c(name: str, family: str, results: str | tuple[str, ...], args: str, template: str,
       pending: bool = False, groups: tuple[tuple[str, ...], ...] = GROUPS,
       **choices: tuple[str, ...]) -> Construct:  # fmt: skip
    res = (results,) if isinstance(results, str) else results
    return Construct(name, family, res, tuple(args.split()), template, choices, pending, groups)


ANY = KINDS
NUM_IV = (*NUMERIC, IV)
A, L, X, T = "arithmetic", "logic", "text", "temporal"
C = "casts"

CONSTRUCTS: tuple[Construct, ...] = (
    # arithmetic
    _c("add", A, NUM_IV, "< <", "{0} + {1}"),
    _c("sub", A, NUM_IV, "< <", "{0} - {1}"),
    _c("mul", A, NUMERIC, "< <", "{0} * {1}"),
    _c("div", A, (DBL, FLT), "< <", "{0} / {1}"),
    _c("intdiv", A, (INT, DBL), "< <", "{0} // {1}"),
    _c("mod", A, NUMERIC, "< <", "{0} % {1}"),
    _c("neg", A, NUM_IV, "=", "-{0}"),
    _c("abs", A, NUMERIC, "=", "abs({0})"),
    _c("sign", A, INT, "N", "sign({0})"),
    _c("round", A, NUMERIC, "=", "round({0})"),
    _c("round_n", A, NUMERIC, "=", "round({0}, {n})", n=("0", "1", "2", "3", "-1", "-2", "5")),
    _c("floor", A, (DBL, FLT, DEC), "=", "floor({0})"),
    _c("ceil", A, (DBL, FLT, DEC), "=", "{f}({0})", f=("ceil", "ceiling")),
    _c("floor_int", A, DBL, "INT", "{f}({0})", f=("floor", "ceil")),
    _c("ln", A, DBL, "N", "ln({0})"),
    _c("log10", A, DBL, "N", "{f}({0})", f=("log10", "log")),
    _c("exp", A, DBL, "N", "exp({0})"),
    _c("sqrt", A, DBL, "N", "sqrt({0})"),
    _c("pow", A, DBL, "N N", "{f}({0}, {1})", f=("pow", "power")),
    _c("pow_op", A, DBL, "N N", "{0} {op} {1}", op=("**", "^")),
    # the shapes features are written in (a z-score, a ratio of a difference, a nested
    # difference), spelled with their parentheses and mostly over plain columns (_LEAFY), so a
    # lost parenthesis in the generated Python is a wrong value on almost every row
    _c("zscore", A, (DBL, FLT), "< < <", "({0} - {1}) / {2}"),
    _c("ratio_sum", A, (DBL, FLT), "< < <", "({0} + {1}) / {2}"),
    _c("diff_scaled", A, NUMERIC, "< < <", "({0} {op} {1}) * {2}", op=("+", "-")),
    _c("nested_diff", A, NUMERIC, "< < <", "{0} - ({1} {op} {2})", op=("+", "-")),
    _c("neg_diff", A, NUMERIC, "< <", "-({0} - {1})"),
    _c("diff_mod", A, NUMERIC, "< < <", "({0} - {1}) % {2}"),
    # comparisons and logic
    _c("compare", L, BOOL, "T T", "{0} {op} {1}", op=("=", "<>", "<", "<=", ">", ">=", "!=")),
    _c("distinct", L, BOOL, "T T", "{0} IS {nt}DISTINCT FROM {1}", nt=("", "NOT ")),
    _c("is_null", L, BOOL, "*", "{0} IS {nt}NULL", nt=("", "NOT ")),
    _c("in", L, BOOL, "T T T", "{0} {nt}IN ({1}, {2})", nt=("", "NOT ")),
    _c("in3", L, BOOL, "T T T T", "{0} {nt}IN ({1}, {2}, {3}, NULL)", nt=("", "NOT ")),
    _c("between", L, BOOL, "T T T", "{0} {nt}BETWEEN {1} AND {2}", nt=("", "NOT ")),
    _c("and", L, BOOL, "BOOL BOOL", "{0} AND {1}"),
    _c("or", L, BOOL, "BOOL BOOL", "{0} OR {1}"),
    _c("not", L, BOOL, "BOOL", "NOT {0}"),
    _c("case", L, ANY, "BOOL = BOOL = =", "CASE WHEN {0} THEN {1} WHEN {2} THEN {3} ELSE {4} END"),
    _c("case_noelse", L, ANY, "BOOL =", "CASE WHEN {0} THEN {1} END"),
    # AND/OR inside a condition: DuckDB runs the right side only on rows still undecided
    _c("case_and", L, ANY, "BOOL BOOL = =", "CASE WHEN {0} AND {1} THEN {2} ELSE {3} END"),
    _c("case_or", L, ANY, "BOOL BOOL = =", "CASE WHEN {0} OR {1} THEN {2} ELSE {3} END"),
    _c("if_and_or", L, ANY, "BOOL BOOL BOOL = =", "if({0} AND ({1} OR {2}), {3}, {4})"),
    _c(
        "case_simple",
        L,
        ANY,
        "T T = T = =",
        "CASE {0} WHEN {1} THEN {2} WHEN {3} THEN {4} ELSE {5} END",
    ),
    _c("if", L, ANY, "BOOL = =", "if({0}, {1}, {2})"),
    _c("coalesce", L, ANY, "= = =", "coalesce({0}, {1}, {2})"),
    _c("coalesce_num", L, NUMERIC, "< <", "coalesce({0}, {1})"),
    _c("nullif", L, ANY, "= =", "nullif({0}, {1})"),
    _c("least", L, ANY, "= = =", "least({0}, {1}, {2})"),
    _c("greatest", L, ANY, "= =", "greatest({0}, {1})"),
    _c("greatest_num", L, NUMERIC, "< < <", "{f}({0}, {1}, {2})", f=("greatest", "least")),
    # casts
    _c("cast_num", C, NUMERIC, "N|STR|BOOL", "CAST({0} AS {ty})"),
    _c("try_cast_num", C, NUMERIC, "N|STR|BOOL", "TRY_CAST({0} AS {ty})"),
    _c("colon_num", C, NUMERIC, "N|STR", "{0}::{ty}"),
    _c("cast_str", C, STR, "N|STR|BOOL|DATE|TS|TSTZ", "CAST({0} AS {ty})"),
    _c("colon_str", C, STR, "N|BOOL|DATE|TS|TSTZ", "{0}::{ty}"),
    _c("cast_bool", C, BOOL, "N|STR|BOOL", "{cast}({0} AS BOOLEAN)", cast=("CAST", "TRY_CAST")),
    _c("cast_date", C, DATE, "STR|DATE|TS|TSTZ", "{cast}({0} AS DATE)", cast=("CAST", "TRY_CAST")),
    _c("cast_ts", C, TS, "STR|DATE|TS|TSTZ", "{cast}({0} AS {ty})", cast=("CAST", "TRY_CAST")),
    _c("cast_tstz", C, TSTZ, "DATE|TS|TSTZ|STRLIT", "{0}::{ty}"),
    # text
    _c("lower", X, STR, "STR", "{f}({0})", f=("lower", "upper", "lcase", "ucase")),
    _c("trim", X, STR, "STR", "{f}({0})", f=("trim", "ltrim", "rtrim")),
    _c("trim_chars", X, STR, "STR STRLIT", "{f}({0}, {1})", f=("trim", "ltrim", "rtrim")),
    _c("length", X, INT, "STR", "{f}({0})", f=("length", "len", "strlen")),
    _c("substr", X, STR, "STR INT", "{f}({0}, {1})", f=("substr", "substring")),
    _c("substr3", X, STR, "STR INT INT", "{f}({0}, {1}, {2})", f=("substr", "substring")),
    _c("concat", X, STR, "* * *", "concat({0}, {1}, {2})"),
    _c("concat_op", X, STR, "* *", "{0} || {1}"),
    _c("replace", X, STR, "STR STR STR", "replace({0}, {1}, {2})"),
    _c(
        "starts_with",
        X,
        BOOL,
        "STR STR",
        "{f}({0}, {1})",
        f=("starts_with", "ends_with", "contains"),
    ),
    _c(
        "like",
        X,
        BOOL,
        "STR",
        "{0} {nt}{op} {pat}",
        nt=("", "NOT "),
        op=("LIKE", "ILIKE"),
        pat=PATTERNS,
    ),
    _c("like_col", X, BOOL, "STR STR", "{0} {op} {1}", op=("LIKE", "ILIKE", "NOT LIKE")),
    _c("like_escape", X, BOOL, "STR", "{0} LIKE {pat} ESCAPE '\\'", pat=PATTERNS),
    _c(
        "regexp_matches",
        X,
        BOOL,
        "STR",
        "regexp_matches({0}, {re}{fl})",
        re=REGEXES,
        fl=("", "", ", 'i'", ", 'c'"),
    ),
    # temporal
    _c(
        "date_diff",
        T,
        INT,
        "T T",
        "{f}('{part}', {0}, {1})",
        f=("date_diff", "datediff"),
        part=DIFF_PARTS,
        groups=(TEMPORAL,),
    ),
    _c("date_trunc", T, TS, "DATE|TS", "date_trunc('{part}', {0})", part=TRUNC_PARTS),
    _c("date_trunc_tz", T, TSTZ, "TSTZ", "date_trunc('{part}', {0})", part=TRUNC_PARTS),
    _c("extract", T, INT, "DATE|TS|TSTZ", "extract({part} FROM {0})", part=PARTS),
    _c("date_part", T, INT, "DATE|TS|TSTZ", "date_part('{part}', {0})", part=PARTS),
    _c("extract_epoch", T, DBL, "DATE|TS|TSTZ|IV", "extract(epoch FROM {0})"),
    _c("extract_iv", T, INT, "IV", "extract(day FROM {0})"),
    _c(
        "part_fn",
        T,
        INT,
        "DATE|TS|TSTZ",
        "{f}({0})",
        f=(
            "year",
            "quarter",
            "month",
            "week",
            "weekofyear",
            "day",
            "dayofmonth",
            "dayofweek",
            "isodow",
            "dayofyear",
            "hour",
            "minute",
            "second",
            "millisecond",
            "microsecond",
            "isoyear",
        ),
    ),
    _c("epoch_fn", T, DBL, "DATE|TS|TSTZ", "epoch({0})"),
    _c("ts_plus_iv", T, TS, "TS IV", "{0} {op} {1}", op=("+", "-")),
    _c("tstz_plus_iv", T, TSTZ, "TSTZ IV", "{0} {op} {1}", op=("+", "-")),
    _c("date_plus_iv", T, TS, "DATE IV", "{0} {op} {1}", op=("+", "-")),
    _c("iv_plus_ts", T, TS, "IV TS", "{0} + {1}"),
    _c("date_plus_int", T, DATE, "DATE INT", "{0} {op} {1}", op=("+", "-")),
    _c("date_minus_date", T, INT, "DATE DATE", "{0} - {1}"),
    _c("ts_minus_ts", T, IV, "TS|TSTZ|DATE TS|TSTZ", "{0} - {1}"),
    # --- pending: functions being added to the compiler now (enabled once they compile) ---
    _c("strftime", T, STR, "DATE|TS|TSTZ", "strftime({0}, {fmt})", fmt=FORMATS),
    _c("strptime", T, TS, "STR", "{f}({0}, {fmt})", f=("strptime", "try_strptime"), fmt=FORMATS),
    _c("date_add", T, TS, "DATE|TS IV", "date_add({0}, {1})", True),
    # (date_sub on TIMESTAMPTZ is refused: DuckDB's ICU path)
    _c("date_sub", T, INT, "DATE|TS DATE|TS", "date_sub('{part}', {0}, {1})", part=DIFF_PARTS),
    _c("time_bucket", T, TS, "IV TS", "time_bucket({0}, {1})", True),
    _c(
        "time_bucket_origin",
        T,
        TS,
        "TS",
        "time_bucket({w}, {0}, {o})",
        w=(
            "INTERVAL 15 MINUTE",
            "INTERVAL 1 DAY",
            "INTERVAL 7 DAY",
            "INTERVAL 1 MONTH",
            "INTERVAL 3 MONTH",
            "INTERVAL 90 SECOND",
        ),
        o=(
            "TIMESTAMP '2000-01-01 00:05'",
            "TIMESTAMP '2024-01-15 10:00'",
            "INTERVAL 5 MINUTE",
            "INTERVAL '-1 day'",
            "INTERVAL 1 MONTH",
            "DATE '2024-01-15'",
            "TIMESTAMP '1969-12-31 23:59:59.5'",
        ),
    ),
    _c("date_bin", T, TS, "IV TS TS", "date_bin({0}, {1}, {2})", True),
    _c("make_date", T, DATE, "INT INT INT", "make_date({0}, {1}, {2})", True),
    _c("last_day", T, DATE, "DATE|TS", "last_day({0})", True),
    _c("dayname", T, STR, "DATE|TS|TSTZ", "{f}({0})", True, f=("dayname", "monthname")),
    _c("epoch_ms", T, INT, "DATE|TS|TSTZ", "{f}({0})", f=("epoch_ms", "epoch_us", "epoch_ns")),
    _c("epoch_ms_int", T, TS, "INT", "epoch_ms({0})", True),
    _c("to_timestamp", T, TSTZ, "N", "to_timestamp({0})", True),
    _c(
        "extract_more",
        T,
        INT,
        "DATE|TS|TSTZ",
        "extract({part} FROM {0})",
        True,
        part=("yearweek", "century", "isoyear", "doy", "decade"),
    ),
    _c("date_part_dynamic", T, INT, "STR DATE|TS", "date_part({0}, {1})", True),
    _c("date_trunc_dynamic", T, TS, "STR DATE|TS", "date_trunc({0}, {1})", True),
    _c("date_diff_dynamic", T, INT, "STR DATE DATE", "date_diff({0}, {1}, {2})", True),
    _c("iv_times_n", A, IV, "IV INT", "{0} * {1}", True),
    _c(
        "regexp_replace",
        X,
        STR,
        "STR STR",
        "regexp_replace({0}, {re}, {1}{fl})",
        True,
        re=REGEXES,
        fl=("", ", 'g'", ", 'i'"),
    ),
    _c("regexp_extract", X, STR, "STR", "regexp_extract({0}, {re})", True, re=REGEXES),
    _c("regexp_full_match", X, BOOL, "STR", "regexp_full_match({0}, {re})", True, re=REGEXES),
    _c("trunc", A, NUMERIC, "=", "trunc({0})", True),
    _c("log2", A, DBL, "N", "{f}({0})", True, f=("log2", "cbrt")),
    _c("log_base", A, DBL, "N N", "log({0}, {1})", True),
    _c("isnan", A, BOOL, "DBL|FLT", "{f}({0})", True, f=("isnan", "isinf", "isfinite")),
    _c("left", X, STR, "STR INT", "{f}({0}, {1})", True, f=("left", "right")),
    # counts of functions that build strings are bounded (lpad % 1000, repeat % 8: nested
    # repeats multiply): a count near 2^31 makes
    # DuckDB build gigabytes per row; test_sql_text covers the huge counts one by one
    _c("lpad", X, STR, "STR INT STR", "{f}({0}, ({1}) % 1000, {2})", True, f=("lpad", "rpad")),
    _c("split_part", X, STR, "STR STR INT", "split_part({0}, {1}, {2})", True),
    _c("strpos", X, INT, "STR STR", "{f}({0}, {1})", True, f=("strpos", "instr")),
    _c("position", X, INT, "STR STR", "position({0} IN {1})", True),
    _c("concat_ws", X, STR, "STR * *", "concat_ws({0}, {1}, {2})", True),
    _c("reverse", X, STR, "STR", "reverse({0})", True),
    _c("repeat", X, STR, "STR INT", "repeat({0}, ({1}) % 8)", True),
    _c("levenshtein", X, INT, "STR STR", "levenshtein({0}, {1})", True),
    _c("jaro_winkler", X, DBL, "STR STR", "jaro_winkler_similarity({0}, {1})", True),
    _c("jaro", X, DBL, "STR STR", "jaro_similarity({0}, {1})", True),
    _c("jaro_cutoff", X, DBL, "STR STR N", "jaro_similarity({0}, {1}, {2})", True),
    _c("ascii", X, INT, "STR", "{f}({0})", True, f=("ascii", "unicode", "ord")),
    _c("chr", X, STR, "INT", "chr({0})", True),
    _c("translate", X, STR, "STR STR STR", "translate({0}, {1}, {2})", True),
    _c("prefix", X, BOOL, "STR STR", "{f}({0}, {1})", True, f=("prefix", "suffix")),
    _c("md5", X, STR, "STR", "md5({0})", True),
)
BY_NAME: dict[str, Construct] = {c.name: c for c in CONSTRUCTS}
PENDING: frozenset[str] = frozenset(c.name for c in CONSTRUCTS if c.pending)
assert len(BY_NAME) == len(CONSTRUCTS), "construct names must be unique"

# argument kinds that stay small enough for int-typed positions (counts, substring offsets)
_SMALL_INT_ARGS = {"substr", "substr3", "left", "lpad", "split_part", "repeat", "make_date",
                   "date_plus_int", "iv_times_n", "round_n"}  # fmt: skip


# constructs whose arguments are mostly plain columns or literals
_LEAFY = {"zscore", "ratio_sum", "diff_scaled", "nested_diff", "neg_diff", "diff_mod"}


# --- expression trees ---------------------------------------------------------------------
@dataclass
class Node:
    """One generated expression: its SQL text, coarse kind, the construct that built it (None
    for a leaf) and its sub-expressions."""

    sql: str
    kind: str
    construct: str | None = None
    children: list[Node] = field(default_factory=list)
    atomic: bool = True

    def walk(self) -> Iterator[Node]:
        yield self
        for c in self.children:
            yield from c.walk()

    def size(self) -> int:
        return sum(1 for _ in self.walk())

    def constructs(self) -> set[str]:
        return {n.construct for n in self.walk() if n.construct is not None}


_SIMPLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+(\.\d+)?(e-?\d+)?|'([^']|'')*'")


def _wrap(n: Node) -> str:
    if n.atomic and not n.sql.startswith("-"):
        return n.sql
    return f"({n.sql})"


class Grammar:
    """Draws typed random expressions from the enabled rows of CONSTRUCTS."""

    def __init__(self, r: random.Random, enabled: set[str] | frozenset[str] | None = None,
                 max_depth: int = 5, max_nodes: int = 24):  # fmt: skip
        self.r = r
        names = enabled if enabled is not None else {c.name for c in CONSTRUCTS if not c.pending}
        self.rows = [c for c in CONSTRUCTS if c.name in names]
        self.by_kind: dict[str, list[Construct]] = {
            k: [c for c in self.rows if k in c.results] for k in KINDS
        }
        self.max_depth = max_depth
        self.max_nodes = max_nodes
        self._budget = 0

    def expression(self, kind: str | None = None, depth: int | None = None) -> Node:
        """A random expression of `kind` (any kind when None), nested up to `depth`."""
        kind = kind or self.r.choice(KINDS)
        self._budget = self.max_nodes
        return self._gen(kind, self.r.randint(1, self.max_depth) if depth is None else depth)

    def construct(self, c: Construct, kind: str, depth: int = 1) -> Node:
        """One use of row `c` producing `kind`, its arguments nested up to depth - 1."""
        self._budget = self.max_nodes
        return self._apply(c, kind, depth)

    def leaf(self, kind: str, small: bool = False) -> Node:
        r = self.r
        if small and kind == INT:
            return Node(r.choice(SMALL), kind)
        x = r.random()
        if x < 0.03 and kind != IV:  # (CAST to INTERVAL is documented as unsupported)
            return Node(f"CAST(NULL AS {r.choice(TYPE_NAMES[kind])})", kind, atomic=True)
        if x < 0.04 and kind in (BOOL, STR, INT, DBL):
            return Node("NULL", kind)
        if x < 0.55 and COLUMNS[kind]:
            return Node(r.choice(COLUMNS[kind]), kind)
        sql = random_literal(r, kind)
        return Node(sql, kind, atomic=bool(_SIMPLE.fullmatch(sql)) or sql.startswith("CAST("))

    def _gen(self, kind: str, depth: int, small: bool = False) -> Node:
        rows = self.by_kind[kind]
        if depth <= 0 or self._budget <= 0 or not rows or self.r.random() < 0.25:
            self._budget -= 1
            return self.leaf(kind, small)
        return self._apply(self.r.choice(rows), kind, depth)

    def _apply(self, c: Construct, kind: str, depth: int) -> Node:
        r = self.r
        self._budget -= 1
        group = r.choice(c.groups)
        kids: list[Node] = []
        small = c.name in _SMALL_INT_ARGS
        for n, spec in enumerate(c.args):
            if spec == "=":
                k = kind
            elif spec == "<":
                k = r.choice(WIDENS.get(kind, (kind,)))
            elif spec == "*":
                k = r.choice([kk for kk in KINDS if kk != IV])
            elif spec == "T":
                k = r.choice(group)
            else:
                k = r.choice([k for s in spec.split("|") for k in (NUMERIC if s == "N" else (s,))])
            if k == "STRLIT":
                kids.append(Node(quote(r.choice([*_STRING_EDGES, temporal_text(r)])), STR))
            elif c.name in _LEAFY and r.random() < 0.7:
                self._budget -= 1
                kids.append(self.leaf(k))
            else:
                kids.append(self._gen(k, depth - 1, small and n > 0))
        fields: dict[str, str] = {k: r.choice(v) for k, v in c.choices.items()}
        if "{ty}" in c.template:
            fields["ty"] = r.choice(TYPE_NAMES[kind])
        sql = c.template.format(*(_wrap(k) for k in kids), **fields)
        return Node(sql, kind, c.name, kids, atomic=c.atomic)


# --- payload rows -------------------------------------------------------------------------
_NUMBER_TEXT = ("1e308", "1e-100000", "0b11", "0B101", "-0", "00012", " 7 ", "9223372036854775808",
                "-9223372036854775809", "255", "256", "1.5e1", "1_0", "1__0", "0x", "0xFFFFFFFF",
                "+.5", "5.", ".", "e5", "1e", "--1", "1e1.", "３", "٣", "NaN", "-nan", "Infinity",
                "1.0000000000000000000001", "-0.0", "0.1", "1,5")  # fmt: skip
_PART_TEXT = ("year", "month", "day", "hour", "minute", "second", "epoch", "dow", "quarter",
              "YEAR", "Month", "week", "isoyear", "doy", "decade", "century", "ms", "us",
              "microseconds", "yearweek", "millennium", "era", "timezone", "bogus")  # fmt: skip
_UNICODE_RANGES = ((0x20, 0x7E), (0xA0, 0x24F), (0x370, 0x3FF), (0x400, 0x4FF), (0x1E00, 0x1EFF),
                   (0x2000, 0x206F), (0x3000, 0x303F), (0x4E00, 0x4E80), (0x1F600, 0x1F64F),
                   (0xFB00, 0xFB06))  # fmt: skip


def _number_text(r: random.Random) -> str:
    if r.random() < 0.5:
        return r.choice(_NUMBER_TEXT)
    x = r.choice([r.randint(-1000, 1000), r.uniform(-1e6, 1e6), 10.0 ** r.randint(-20, 20)])
    s = repr(x) if r.random() < 0.5 else str(round(float(x), r.randint(0, 4)))
    return r.choice(["", " ", "+"]) + s + r.choice(["", "", " ", "\t"])


def _unicode_text(r: random.Random) -> str:
    chars = []
    for _ in range(r.randint(0, 6)):
        lo, hi = r.choice(_UNICODE_RANGES)
        chars.append(chr(r.randint(lo, hi)))
    return "".join(chars)


def _random_ts(r: random.Random) -> dt.datetime:
    if r.random() < 0.4:
        base = r.choice(_TS_EDGES)
        return base + dt.timedelta(microseconds=r.choice([0, 0, 1, -1, 500000, 999999]))
    return dt.datetime(1800, 1, 1) + dt.timedelta(
        seconds=r.randint(0, 400 * 365 * 86400), microseconds=r.choice([0, r.randint(0, 999999)])
    )


def _f32(v: float) -> float:
    try:
        return float(struct.unpack("f", struct.pack("f", v))[0])
    except OverflowError:
        return math.copysign(math.inf, v)


def _value(r: random.Random, sql_type: str) -> Any:
    if sql_type in _LIMITS:
        lo, hi = _LIMITS[sql_type]
        edges = [
            v
            for v in (lo, hi, lo + 1, hi - 1, 0, 1, -1, 7, 127, 128, 255, 2**31 - 1)
            if lo <= v <= hi
        ]
        return r.choice([r.choice(edges), r.randint(max(lo, -20), min(hi, 20)), r.randint(lo, hi)])
    if sql_type in ("DOUBLE", "FLOAT"):
        v = r.choice([r.choice(_DOUBLE_EDGES), r.uniform(-1e3, 1e3), float(r.randint(-9, 9)),
                      round(r.uniform(-100, 100), 3), -0.0, r.choice([1e-300, -1e300, 1e18])])  # fmt: skip
        return _f32(v) if sql_type == "FLOAT" else v
    if sql_type.startswith("DECIMAL"):
        p, s = (int(v) for v in sql_type[8:-1].split(","))
        top = _top(p, s)
        q = Decimal(1).scaleb(-s)
        pick = r.random()
        if pick < 0.3:
            v = r.choice([top, top.copy_negate(), Decimal(0), Decimal("0.5"), Decimal("-0.05")])
        else:
            digits = r.randint(0, p)
            v = Decimal(r.randint(-(10**digits) + 1, 10**digits - 1)).scaleb(-s, context=_CTX)
        return max(top.copy_negate(), min(top, v)).quantize(q, context=_CTX)
    if sql_type == "VARCHAR":
        pick = r.random()
        if pick < 0.3:
            return r.choice(_STRING_EDGES)
        if pick < 0.45:
            return temporal_text(r)
        if pick < 0.6:
            return _number_text(r)
        if pick < 0.7:
            return r.choice(_PART_TEXT)
        if pick < 0.75:
            return ""
        return _unicode_text(r)
    if sql_type == "BOOLEAN":
        return r.random() < 0.5
    if sql_type == "DATE":
        return _random_ts(r).date()
    if sql_type == "TIMESTAMP":
        return _random_ts(r)
    if sql_type == "TIMESTAMPTZ":
        t = _random_ts(r)
        if t.year < 1900:
            t = t.replace(year=1900 + t.year % 100)
        return t.replace(tzinfo=r.choice(_ZONES))
    if sql_type == "INTERVAL":
        return r.choice([
            r.choice(_IV_EDGES),
            dt.timedelta(days=r.randint(-2000, 2000), seconds=r.randint(0, 86399)),
            dt.timedelta(microseconds=r.randint(-(10**9), 10**9)),
        ])  # fmt: skip
    raise AssertionError(sql_type)


def payload_rows(r: random.Random, n: int, null_rate: float = 0.12) -> list[dict[str, Any]]:
    """n random rows over every SCHEMA column (NULL at `null_rate`)."""
    return [
        {name: None if r.random() < null_rate else _value(r, t) for name, t in SCHEMA.items()}
        for _ in range(n)
    ]
