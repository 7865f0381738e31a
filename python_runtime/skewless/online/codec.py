"""Packing of one online value: msgpack of `[f1, f2, …, timestamp_epoch_micros]`.

One packed value per (entity, view) holds every feature of the view in the view's declared order,
then the row's timestamp. The timestamp goes LAST (not first, as first designed): the read path
pops it off the unpacked list in place, which leaves exactly the feature values — no copy; this
took ≈10 µs off a 100-entity read (bench/results/online.md). Each feature column has a *kind*, chosen once from its declared
`data_type`, that fixes three things: the DuckDB SQL that turns the column into a msgpack-native
value at load time, the Python decoder applied on read, and how a column `default` is coerced.

| kind      | declared types                       | stored as          | read as                   |
|-----------|--------------------------------------|--------------------|---------------------------|
| int       | TINYINT…BIGINT, UTINYINT…UBIGINT     | msgpack int        | int (identity)            |
| bigint    | HUGEINT, UHUGEINT                    | decimal string     | int                       |
| float     | FLOAT, REAL, DOUBLE                  | float64 (NaN/±inf) | float (identity)          |
| decimal   | DECIMAL(p,s), NUMERIC                | decimal string     | decimal.Decimal (exact)   |
| str       | VARCHAR, TEXT, UUID, JSON            | utf-8 string       | str (identity)            |
| bool      | BOOLEAN                              | msgpack bool       | bool (identity)           |
| date      | DATE                                 | days since epoch   | datetime.date             |
| timestamp | TIMESTAMP*, TIMESTAMPTZ, DATETIME    | epoch micros       | tz-aware UTC datetime     |
|           | (Spark: TIMESTAMP_NTZ, TIMESTAMP_LTZ)|                    |                           |
| time      | TIME                                 | ISO string         | datetime.time             |
| blob      | BLOB, BYTEA                          | msgpack bin        | bytes (identity)          |

NULL is msgpack nil and reads as None for every kind. Identity kinds have no decoder at all, so
the read path does nothing for them (`decoder()` returns None).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import msgpack

from skewless.errors import DefinitionError

__all__ = [
    "Decoder",
    "coerce_default",
    "column_kind",
    "decode_timestamp",
    "decoder",
    "pack",
    "sql_select",
    "unpack",
]

Decoder = Callable[[Any], Any]

_KINDS: dict[str, str] = {}
for _k, _names in {
    "int": "TINYINT INT1 SMALLINT INT2 SHORT INTEGER INT INT4 INT32 SIGNED BIGINT INT8 LONG INT64 "
    "UTINYINT USMALLINT UINTEGER UBIGINT SERIAL BIGSERIAL SMALLSERIAL",
    "bigint": "HUGEINT INT128 UHUGEINT",
    "float": "FLOAT FLOAT4 FLOAT8 REAL DOUBLE DOUBLE_PRECISION",
    "decimal": "DECIMAL NUMERIC",
    "str": "VARCHAR TEXT STRING CHAR BPCHAR NVARCHAR CHARACTER_VARYING CHARACTER UUID JSON",
    "bool": "BOOLEAN BOOL LOGICAL",
    "date": "DATE",
    "timestamp": "TIMESTAMP DATETIME TIMESTAMPTZ TIMESTAMP_WITH_TIME_ZONE "
    "TIMESTAMP_WITHOUT_TIME_ZONE TIMESTAMP_S TIMESTAMP_MS TIMESTAMP_NS TIMESTAMP_US "
    "TIMESTAMP_NTZ TIMESTAMP_LTZ",
    "time": "TIME",
    "blob": "BLOB BYTEA BINARY VARBINARY",
}.items():
    for _n in _names.split():
        _KINDS[_n] = _k

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def column_kind(view: str, column: str, data_type: str) -> str:
    """The storage kind of a declared column type (see the module table).

    Raises:
        DefinitionError: naming the model, column and type when the type cannot be served.
    """
    base = re.sub(r"\s*\(.*\)\s*$", "", data_type.strip()).upper().replace(" ", "_")
    kind = _KINDS.get(base)
    if kind is None:
        raise DefinitionError(
            f"model `{view}`, column `{column}`: data_type {data_type!r} cannot be served online; "
            f"supported: {', '.join(sorted(_KINDS))} — cast the column in the model"
        )
    return kind


def decode_timestamp(micros: int) -> datetime:
    """Epoch microseconds → tz-aware UTC datetime."""
    return EPOCH + timedelta(microseconds=micros)


def _dec_bigint(v: Any) -> Any:
    return None if v is None else int(v)


def _dec_decimal(v: Any) -> Any:
    return None if v is None else Decimal(v)


def _dec_date(v: Any) -> Any:
    return None if v is None else date.fromordinal(_EPOCH_ORDINAL + v)


def _dec_timestamp(v: Any) -> Any:
    return None if v is None else EPOCH + timedelta(microseconds=v)


def _dec_time(v: Any) -> Any:
    return None if v is None else time.fromisoformat(v)


_DECODERS: dict[str, Decoder | None] = {
    "int": None,
    "bigint": _dec_bigint,
    "float": None,
    "decimal": _dec_decimal,
    "str": None,
    "bool": None,
    "date": _dec_date,
    "timestamp": _dec_timestamp,
    "time": _dec_time,
    "blob": None,
}


def decoder(kind: str) -> Decoder | None:
    """The read-side decoder of a kind, or None when values are already final (identity)."""
    return _DECODERS[kind]


def sql_select(kind: str, column_sql: str) -> str:
    """DuckDB SQL turning a column into the msgpack-native form its kind is stored as."""
    if kind in ("bigint", "decimal", "str", "time"):
        return f"CAST({column_sql} AS VARCHAR)"
    if kind == "float":
        return f"CAST({column_sql} AS DOUBLE)"
    if kind == "date":
        return f"(CAST({column_sql} AS DATE) - DATE '1970-01-01')"
    if kind == "timestamp":
        return f"epoch_us(CAST({column_sql} AS TIMESTAMPTZ))"
    return column_sql


def coerce_default(kind: str, value: Any, where: str) -> Any:
    """A column `default` from the YAML meta, converted to the type its values are read as.

    Raises:
        DefinitionError: naming `where` (model and column) when the default does not convert.
    """
    if value is None:
        return None
    try:
        if kind in ("int", "bigint"):
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError("not an integer")
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "decimal":
            return Decimal(str(value))
        if kind == "str":
            return str(value)
        if kind == "bool":
            if not isinstance(value, bool):
                raise ValueError("not true/false")
            return value
        if kind == "date":
            return value if isinstance(value, date) else date.fromisoformat(str(value))
        if kind == "timestamp":
            ts = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
            return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
        if kind == "time":
            return value if isinstance(value, time) else time.fromisoformat(str(value))
        if kind == "blob":
            return value.encode() if isinstance(value, str) else bytes(value)
    except (ValueError, TypeError) as e:
        raise DefinitionError(
            f"{where}: meta.skewless.default {value!r} does not fit the column's type ({kind}): {e}"
        ) from None
    return value


_packer = msgpack.Packer(use_bin_type=True, use_single_float=False)


def pack(row: list[Any] | tuple[Any, ...]) -> bytes:
    """Pack `[f1, …, timestamp_micros]` (values already in their stored form)."""
    return _packer.pack(row)


def unpack(raw: bytes) -> list[Any]:
    """Unpack a stored value into `[f1, …, timestamp_micros]` (stored forms)."""
    return msgpack.unpackb(raw, raw=False, use_list=True, strict_map_key=False)  # type: ignore[no-any-return]
