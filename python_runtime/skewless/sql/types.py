"""DuckDB types as the request-time compiler tracks them, and type-name parsing."""

from __future__ import annotations

import re
from dataclasses import dataclass

from skewless.errors import UnsupportedExpression, brief
from skewless.sql import runtime as F

_INT = frozenset(F.INT_RANGES)
_NUMERIC = _INT | {"DOUBLE", "FLOAT", "DECIMAL"}
_TEMPORAL = frozenset({"DATE", "TIMESTAMP", "TIMESTAMPTZ"})
# Every spelling DuckDB itself accepts for the supported types (checked against DuckDB's own
# CAST by tests/test_type_aliases.py). PostgreSQL's spellings that DuckDB shares mean the same
# there (`character varying`, `double precision`, `int4`, `float8`, `bool`…) with one exception
# kept as DuckDB has it: a bare `float` is FLOAT (4-byte real) in DuckDB but double precision in
# PostgreSQL; DuckDB's meaning wins, as the column is built (and read) by DuckDB.
_ALIASES = {
    "INT": "INTEGER",
    "INT32": "INTEGER",
    "INT4": "INTEGER",
    "SIGNED": "INTEGER",
    "INT8": "BIGINT",
    "INT64": "BIGINT",
    "LONG": "BIGINT",
    "INT2": "SMALLINT",
    "INT16": "SMALLINT",
    "SHORT": "SMALLINT",
    "INT1": "TINYINT",
    "INT128": "HUGEINT",
    "UINT8": "UTINYINT",
    "UINT16": "USMALLINT",
    "UINT32": "UINTEGER",
    "UINT64": "UBIGINT",
    "FLOAT8": "DOUBLE",
    "DOUBLE PRECISION": "DOUBLE",
    "FLOAT4": "FLOAT",
    "REAL": "FLOAT",
    "TEXT": "VARCHAR",
    "STRING": "VARCHAR",
    "CHAR": "VARCHAR",
    "BPCHAR": "VARCHAR",
    "NVARCHAR": "VARCHAR",
    "CHARACTER": "VARCHAR",
    "CHARACTER VARYING": "VARCHAR",
    "CHAR VARYING": "VARCHAR",
    "NATIONAL CHARACTER VARYING": "VARCHAR",
    "BOOL": "BOOLEAN",
    "LOGICAL": "BOOLEAN",
    "DATETIME": "TIMESTAMP",
    "TIMESTAMP WITHOUT TIME ZONE": "TIMESTAMP",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMPTZ",
    "NUMERIC": "DECIMAL",
}
# sqlglot DataType.Type names -> DuckDB names
_SQLGLOT_TYPES = {
    "TINYINT": "TINYINT",
    "SMALLINT": "SMALLINT",
    "INT": "INTEGER",
    "BIGINT": "BIGINT",
    "INT128": "HUGEINT",
    "UTINYINT": "UTINYINT",
    "USMALLINT": "USMALLINT",
    "UINT": "UINTEGER",
    "UBIGINT": "UBIGINT",
    "DOUBLE": "DOUBLE",
    "FLOAT": "FLOAT",
    "DECIMAL": "DECIMAL",
    "VARCHAR": "VARCHAR",
    "TEXT": "VARCHAR",
    "CHAR": "VARCHAR",
    "BOOLEAN": "BOOLEAN",
    "DATE": "DATE",
    "TIMESTAMP": "TIMESTAMP",
    "TIMESTAMPNTZ": "TIMESTAMP",
    "DATETIME": "TIMESTAMP",
    "TIMESTAMPTZ": "TIMESTAMPTZ",
}


@dataclass(frozen=True)
class SqlType:
    """A DuckDB type as the compiler tracks it (DECIMAL carries precision and scale)."""

    name: str
    p: int = 0
    s: int = 0

    def __str__(self) -> str:
        if self.name == "DECIMAL":
            return f"DECIMAL({self.p},{self.s})"
        if self.name == "TIMESTAMPTZ":
            return "TIMESTAMP WITH TIME ZONE"
        if self.name == "NULL":
            return '"NULL"'
        return self.name


_T = {n: SqlType(n) for n in [*F.INT_RANGES, "DOUBLE", "FLOAT", "VARCHAR", "BOOLEAN", "NULL"]}
_T.update({n: SqlType(n) for n in ["DATE", "TIMESTAMP", "TIMESTAMPTZ", "INTERVAL"]})
DOUBLE, VARCHAR, BOOLEAN, BIGINT, NULLT = (
    _T["DOUBLE"],
    _T["VARCHAR"],
    _T["BOOLEAN"],
    _T["BIGINT"],
    _T["NULL"],
)
INTERVAL, TIMESTAMP, TIMESTAMPTZ, DATE = (
    _T["INTERVAL"],
    _T["TIMESTAMP"],
    _T["TIMESTAMPTZ"],
    _T["DATE"],
)
TINYINT = _T["TINYINT"]
_DEC_RE = re.compile(r"(?:DECIMAL|NUMERIC|DEC)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?")
# `name(n)`: a type name with one modifier (`varchar(20)`, `float(53)`, `timestamp(6)`)
_MODIFIED_RE = re.compile(r"([A-Z ]+?)\s*\(\s*(\d+)\s*\)(?:\s+(WITHOUT TIME ZONE))?")


def parse_type(text: str) -> SqlType:
    """Parse a DuckDB type name (`BIGINT`, `DECIMAL(10,2)`, `TIMESTAMP WITH TIME ZONE`…).

    Raises:
        UnsupportedExpression: for a type the request-time runtime does not support.
    """
    t = " ".join(str(text).upper().split())
    m = _DEC_RE.fullmatch(t)
    if m:
        p = int(m.group(1) or 18)
        s = int(m.group(2) or (3 if m.group(1) is None else 0))
        if not (1 <= p <= 38 and 0 <= s <= p):
            raise UnsupportedExpression(f"type {text!r}: DECIMAL width must be 1-38, scale 0-width")
        return SqlType("DECIMAL", p, s)
    m = _MODIFIED_RE.fullmatch(t)
    if m:
        modified = _modified(m.group(1), int(m.group(2)), m.group(3) is not None)
        if modified is not None:
            return modified
    t = _ALIASES.get(t, t)
    if t in _T and t != "NULL":
        return _T[t]
    if "(" in t and t.count("(") != t.count(")"):
        # `{name: x, data_type: decimal(10,2)}` in YAML flow style: the comma ends the value
        raise UnsupportedExpression(
            f"type {brief(text)} has unbalanced parentheses — YAML flow style (`{{name: …, data_type: "
            f'decimal(10,2)}}`) cuts a type at its comma; quote it: `data_type: "decimal(10,2)"`'
        )
    raise UnsupportedExpression(
        f"type {brief(text)} is not supported in request-time expressions "
        "(see docs/functions.md for the supported types)"
    )


def _modified(base: str, n: int, without_tz: bool) -> SqlType | None:
    """A type name with one modifier, as DuckDB reads it: the length of a text type is ignored,
    `float(p)` is FLOAT up to 24 bits and DOUBLE up to 53, `timestamp(p)` with 4-6 fractional
    digits is TIMESTAMP (others are TIMESTAMP_S/_MS/_NS, not supported). None: not one of these."""
    if base == "TIMESTAMP":
        return _T["TIMESTAMP"] if 4 <= n <= 6 else None
    if without_tz:
        return None
    if base == "FLOAT":  # not FLOAT4/REAL: DuckDB takes a precision on `float` alone
        return (_T["FLOAT"] if n <= 24 else _T["DOUBLE"]) if 1 <= n <= 53 else None
    return _T["VARCHAR"] if _ALIASES.get(base, base) == "VARCHAR" else None


def _is_int(t: SqlType) -> bool:
    return t.name in _INT


def _dec_of_int(t: SqlType) -> SqlType:
    return SqlType("DECIMAL", F.INT_DECIMAL_WIDTH[t.name], 0)


def _fits(v: int, t: SqlType) -> bool:
    lo, hi = F.INT_RANGES[t.name]
    return lo <= v <= hi
