"""The only place Redis keys are built.

Layout (all keys are bytes):

- data, one per (entity, view, generation)::

      skw:{<entity>}:<view>:<generation>

  `<entity>` encodes the view's key values in the view's entity order, each as
  `<byte length>:<canonical value>` with `%` → `%25` and `}` → `%7D` escaped *before* the length
  is taken. The length prefix makes the encoding injective — `(1, 23)` is `1:12:23`, `(12, 3)`
  is `2:121:3` — and escaping `}` keeps the whole encoding inside the Redis Cluster hash tag
  (the tag runs to the FIRST `}`), so every key of one entity maps to one slot and the slot
  spreads with the full entity value. Values are canonicalised by the key column's declared type:
  for an integer key, `42`, `"42"` and `42.0` are the same entity; for a string key any unicode is
  kept as is; a DATE key is its ISO form.
- pointer, one per (view, definition version): `skw:ptr:<view>:<version>` → the generation id
  that is complete and served for that version.
- per view bookkeeping: `skw:meta:<view>` (hash: version, generation, materialized_at,
  watermark, rows), `skw:genseq:<view>` (generation counter), `skw:gens:<view>` (list of every
  generation started, oldest first), `skw:genver:<view>` (hash generation → version) and
  `skw:gen:<view>:<generation>:keys` (list of the data keys written into a generation, so an old
  generation is deleted without scanning the keyspace).

View names are dbt model names (no `:`, `{` or `}`), generation ids are decimal.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from skewless.definitions import FeatureView
from skewless.errors import DefinitionError, RequestError

__all__ = [
    "KeyBuilder",
    "canonical_key_kind",
    "data_key",
    "data_key_tail",
    "encode_entity",
    "gen_keys_key",
    "gens_key",
    "genseq_key",
    "genver_key",
    "meta_key",
    "pointer_key",
    "sql_data_key_expression",
    "sql_entity_expression",
]

PREFIX = b"skw:"

_INT_TYPES = {
    "TINYINT",
    "INT1",
    "SMALLINT",
    "INT2",
    "SHORT",
    "INTEGER",
    "INT",
    "INT4",
    "INT32",
    "SIGNED",
    "BIGINT",
    "INT8",
    "LONG",
    "INT64",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "HUGEINT",
    "INT128",
    "UHUGEINT",
    "SERIAL",
    "BIGSERIAL",
    "SMALLSERIAL",
}
_STRING_TYPES = {
    "VARCHAR",
    "TEXT",
    "STRING",
    "CHAR",
    "BPCHAR",
    "NVARCHAR",
    "CHARACTER VARYING",
    "CHARACTER",
    "UUID",
}


def _base_type(data_type: str) -> str:
    return re.sub(r"\s*\(.*\)\s*$", "", data_type.strip()).upper()


def canonical_key_kind(view: str, column: str, data_type: str) -> str:
    """`int`, `str` or `date`: how values of an entity key column are canonicalised.

    Raises:
        DefinitionError: for a key type that has no canonical form here.
    """
    base = _base_type(data_type)
    if base in _INT_TYPES:
        return "int"
    if base in _STRING_TYPES or base == "":
        return "str"
    if base == "DATE":
        return "date"
    raise DefinitionError(
        f"model `{view}`: entity key column `{column}` has data_type {data_type!r}; online keys "
        "support integer, string (VARCHAR/UUID) and DATE key columns — cast the key in the model"
    )


def _escape(raw: bytes) -> bytes:
    if b"%" in raw:
        raw = raw.replace(b"%", b"%25")
    if b"}" in raw:
        raw = raw.replace(b"}", b"%7D")
    return raw


def _canon_int(value: Any) -> bytes:
    cls = value.__class__
    if cls is int:
        return b"%d" % value
    if cls is bool:
        raise ValueError("a boolean is not an integer key")
    if isinstance(value, int):
        return b"%d" % int(value)
    if isinstance(value, str):
        return b"%d" % int(value.strip())
    if isinstance(value, float) and value.is_integer():
        return b"%d" % int(value)
    if hasattr(value, "__index__"):  # numpy integers
        return b"%d" % value.__index__()
    raise ValueError(f"{value!r} is not an integer")


def _canon_str(value: Any) -> bytes:
    if value.__class__ is str:
        return value.encode()
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        return str(value).encode()
    raise ValueError(f"{value!r} is not a string")


def _canon_date(value: Any) -> bytes:
    if isinstance(value, datetime):
        raise ValueError(f"{value!r} is a datetime, not a date")
    if isinstance(value, date):
        return value.isoformat().encode()
    if isinstance(value, str):
        return date.fromisoformat(value.strip()).isoformat().encode()
    raise ValueError(f"{value!r} is not a date")


_CANON: dict[str, Callable[[Any], bytes]] = {
    "int": _canon_int,
    "str": _canon_str,
    "date": _canon_date,
}


def _part(canonical: bytes) -> bytes:
    escaped = _escape(canonical)
    return b"%d:%s" % (len(escaped), escaped)


def encode_entity(kinds: tuple[str, ...], values: tuple[Any, ...]) -> bytes:
    """The entity encoding of `values` (one per key column, canonicalised by `kinds`)."""
    return b"".join(_part(_CANON[k](v)) for k, v in zip(kinds, values, strict=True))


def data_key(view: str, entity: bytes, generation: bytes | str) -> bytes:
    """`skw:{<entity>}:<view>:<generation>` for an already encoded entity."""
    gen = generation if isinstance(generation, bytes) else generation.encode()
    return b"skw:{%s}:%s:%s" % (entity, view.encode(), gen)


def data_key_tail(view: str, generation: bytes | str) -> bytes:
    """What follows the entity encoding in a data key: `}:<view>:<generation>`."""
    gen = generation if isinstance(generation, bytes) else generation.encode()
    return b"}:%s:%s" % (view.encode(), gen)


def pointer_key(view: str, version: str) -> bytes:
    return f"skw:ptr:{view}:{version}".encode()


def meta_key(view: str) -> bytes:
    return f"skw:meta:{view}".encode()


def genseq_key(view: str) -> bytes:
    return f"skw:genseq:{view}".encode()


def gens_key(view: str) -> bytes:
    return f"skw:gens:{view}".encode()


def genver_key(view: str) -> bytes:
    return f"skw:genver:{view}".encode()


def gen_keys_key(view: str, generation: bytes | str) -> bytes:
    gen = generation.decode() if isinstance(generation, bytes) else generation
    return f"skw:gen:{view}:{gen}:keys".encode()


class KeyBuilder:
    """Builds the entity part of data keys for one view from request entity dicts.

    Built once per view (the converters are chosen from the declared key types), then called per
    entity on the hot path.
    """

    __slots__ = ("_convs", "_fast", "_single", "columns", "view")

    def __init__(self, view: FeatureView, columns: tuple[str, ...] | None = None):
        """Args:
        view: the feature view whose keys are built.
        columns: the request columns holding the view's key values, in the view's entity
            order (default: the view's own key column names; on-demand inputs may rename).
        """
        self.view = view.name
        self.columns = columns or view.entity
        kinds = tuple(
            canonical_key_kind(view.name, c, t)
            for c, t in zip(view.entity, view.entity_types, strict=True)
        )
        self._convs = tuple(_CANON[k] for k in kinds)
        self._single = len(kinds) == 1
        self._fast = kinds[0] if self._single and kinds[0] in ("int", "str") else ""

    def data_key(self, row: Mapping[str, Any], tail: bytes) -> bytes:
        """The data key of one request row for one view and generation."""
        return b"skw:{" + self.entity(row) + tail

    def data_keys(self, rows: Sequence[Mapping[str, Any]], tail: bytes) -> list[bytes]:
        """The data key of every row for one view and generation (`tail` from `data_key_tail`).

        A single integer or string key column takes a bulk path (no per-row call).

        Raises:
            RequestError: as `entity()`.
        """
        fast = self._fast
        if fast:
            col = self.columns[0]
            try:
                values = [r[col] for r in rows]
            except Exception:
                values = None
            if values is not None:
                types = set(map(type, values))
                if fast == "int" and types == {int}:
                    digits = [b"%d" % v for v in values]
                    return [b"skw:{%d:%s%s" % (len(d), d, tail) for d in digits]
                if fast == "str" and types == {str}:
                    raw = [v.encode() for v in values]
                    return [
                        b"skw:{%d:%s%s" % (len(e), e, tail)
                        for e in (_escape(r) if b"%" in r or b"}" in r else r for r in raw)
                    ]
        return [b"skw:{" + self.entity(r) + tail for r in rows]

    def entity(self, row: Mapping[str, Any]) -> bytes:
        """The encoded entity of one request row (a dict holding every key column).

        Raises:
            RequestError: naming the key column when it is absent, null or not convertible.
        """
        if self._single:
            col = self.columns[0]
            try:
                value = row[col]
                canonical = self._convs[0](value)
            except Exception as e:
                raise self._error(row, col, e) from None
            if b"%" in canonical or b"}" in canonical:
                canonical = _escape(canonical)
            return b"%d:%s" % (len(canonical), canonical)
        parts = []
        for col, conv in zip(self.columns, self._convs, strict=True):
            try:
                parts.append(_part(conv(row[col])))
            except Exception as e:
                raise self._error(row, col, e) from None
        return b"".join(parts)

    def _error(self, row: Mapping[str, Any], col: str, e: Exception) -> RequestError:
        if not isinstance(row, Mapping):
            return RequestError(
                f"entities must be dicts of entity-key values, got {row!r} (view `{self.view}`)"
            )
        if col not in row:
            return RequestError(
                f"entity {dict(row)!r} has no key `{col}`, needed by feature view `{self.view}` "
                f"(its entity is {list(self.columns)})"
            )
        if row[col] is None:
            return RequestError(f"entity key `{col}` is null in {dict(row)!r} (view `{self.view}`)")
        return RequestError(
            f"entity key `{col}` = {row[col]!r} cannot be used for feature view `{self.view}`: {e}"
        )


def sql_data_key_expression(
    view: FeatureView, generation: bytes | str, quote: Callable[[str], str]
) -> str:
    """A DuckDB SQL expression computing the data key of each row (as VARCHAR) for `generation`."""
    gen = generation.decode() if isinstance(generation, bytes) else generation
    tail = f"}}:{view.name}:{gen}".replace("'", "''")
    return f"('skw:{{' || {sql_entity_expression(view, quote)} || '{tail}')"


def sql_entity_expression(view: FeatureView, quote: Callable[[str], str]) -> str:
    """A DuckDB SQL expression computing the same entity encoding as `KeyBuilder`, as VARCHAR.

    `quote` quotes a column name. Byte lengths use `strlen`, so any unicode matches Python.
    """
    parts = []
    for col, dtype in zip(view.entity, view.entity_types, strict=True):
        kind = canonical_key_kind(view.name, col, dtype)
        if kind == "date":
            canon = f"strftime(CAST({quote(col)} AS DATE), '%Y-%m-%d')"
        else:
            canon = f"CAST({quote(col)} AS VARCHAR)"
        escaped = f"replace(replace({canon}, '%', '%25'), '}}', '%7D')"
        parts.append(f"CAST(strlen({escaped}) AS VARCHAR) || ':' || {escaped}")
    return " || ".join(parts)
