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

  Integer keys (see `docs/limits.md`): a Python int (or a numpy int, a float or Decimal without
  fraction) within the range of the column's declared type, or text read exactly as DuckDB's
  `CAST(text AS <declared type>)` reads it — the rule request payloads follow
  (`skewless.sql.helpers.convert_input`) and the one the replay of the served-feature log
  applies offline (`TRY_CAST` of the logged key). So `" 42"`, `"+42"`, `"4_2"`, `"042"`, `"1e1"`
  are 42 / 10 as in DuckDB, and `"٤٢"`, `"４２"` (Unicode digits, which Python's `int()` took), an
  out-of-range value or a bool are refused with a `RequestError` naming the key column. Any key
  value is at most `MAX_KEY_BYTES` once encoded (`RequestLimitError` beyond).
- pointer, one per (view, definition version): `skw:ptr:{<view>}:<version>` → the generation id
  that is complete and served for that version.
- per view bookkeeping, all hash-tagged `{<view>}` so they share one Redis Cluster slot (the
  lease-fenced scripts of `generations.py` touch several at once): `skw:meta:{<view>}` (hash:
  version, generation, materialized_at, watermark, rows), `skw:genseq:{<view>}` (generation
  counter), `skw:gens:{<view>}` (list of every generation started, oldest first),
  `skw:genver:{<view>}` (hash generation → version), `skw:loading:{<view>}` (set of the
  generations started and not yet flipped in), `skw:gen:{<view>}:<generation>:keys` (list of
  the keys written into a generation — recorded *before* they are written — so a generation is
  deleted without scanning the keyspace), `skw:retired:{<view>}` (sorted set: every version whose
  pointer a load removed because newer versions filled the view's `keep_versions` slots → when,
  epoch ms; so a request for it says "retired", not "never materialized") and
  `skw:lease:{<view>}` (the loader lease, `lease.py`).
- completeness sentinels, written last into a generation before its pointer flips: one per
  generation on a plain Redis (`skw:ok:{<view>}:<generation>`), one per hash slot on a Redis
  Cluster (`skw:ok:{<slot tag>}:<view>:<generation>`, the tag chosen to land in that slot). A
  reader fetches them in its one MGET: a served generation whose sentinel is gone lost data (a
  node restarted empty), and a value absent there is `unavailable`, not `missing`.

View names are dbt model names (no `:`, `{` or `}`), generation ids are decimal.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from skewless.definitions import FeatureView
from skewless.errors import DefinitionError, RequestError, RequestLimitError, brief

__all__ = [
    "MAX_KEY_BYTES",
    "KeyBuilder",
    "canonical_key_kind",
    "data_key",
    "data_key_tail",
    "encode_entity",
    "gen_keys_key",
    "gens_key",
    "genseq_key",
    "genver_key",
    "lease_key",
    "loading_key",
    "meta_key",
    "pointer_key",
    "retired_key",
    "sentinel_key",
    "slot_tag",
    "sql_data_key_expression",
    "sql_entity_expression",
]

PREFIX = b"skw:"

#: Most bytes of one entity-key value once encoded (UTF-8 text, integer digits, ISO date).
MAX_KEY_BYTES = 1024

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


# Integer key types -> (the DuckDB type whose CAST reads key text, lowest, highest value).
_I8, _I16, _I32 = (
    ("TINYINT", -(2**7), 2**7 - 1),
    ("SMALLINT", -(2**15), 2**15 - 1),
    (
        "INTEGER",
        -(2**31),
        2**31 - 1,
    ),
)
_I64, _I128 = ("BIGINT", -(2**63), 2**63 - 1), ("HUGEINT", -(2**127), 2**127 - 1)
_INT_RANGES: dict[str, tuple[str, int, int]] = {
    **dict.fromkeys(("TINYINT", "INT1"), _I8),
    **dict.fromkeys(("SMALLINT", "INT2", "SHORT", "SMALLSERIAL"), _I16),
    **dict.fromkeys(("INTEGER", "INT", "INT4", "INT32", "SIGNED", "SERIAL"), _I32),
    **dict.fromkeys(("BIGINT", "INT8", "LONG", "INT64", "BIGSERIAL"), _I64),
    **dict.fromkeys(("HUGEINT", "INT128"), _I128),
    "UTINYINT": ("UTINYINT", 0, 2**8 - 1),
    "USMALLINT": ("USMALLINT", 0, 2**16 - 1),
    "UINTEGER": ("UINTEGER", 0, 2**32 - 1),
    "UBIGINT": ("UBIGINT", 0, 2**64 - 1),
    "UHUGEINT": ("HUGEINT", 0, 2**128 - 1),  # text above 2**127 - 1 is refused
}


def _int_canon(data_type: str) -> Callable[[Any], bytes]:
    """The canonical form of a key value of an integer column declared `data_type` (see the
    module docstring for the accepted values)."""
    cast_type, lo, hi = _INT_RANGES.get(_base_type(data_type), _I128)

    def canon(value: Any) -> bytes:
        cls = value.__class__
        if cls is int:
            if lo <= value <= hi:
                return b"%d" % value
        elif cls is str:
            if len(value) > MAX_KEY_BYTES:
                raise _TooLong(len(value.encode("utf-8", "surrogatepass")))
            from skewless.errors import ExpressionError
            from skewless.sql.runtime import str_to_int

            try:
                return b"%d" % str_to_int(value, cast_type)
            except ExpressionError:
                raise ValueError(
                    f"not an integer of {cast_type} as DuckDB's CAST reads text (ASCII digits, "
                    "an optional sign, blanks around, `_` between digits, an exponent)"
                ) from None
        elif cls is bool:
            raise ValueError("a boolean is not an integer key")
        else:
            value = _integral(value)
            if lo <= value <= hi:
                return b"%d" % value
        raise ValueError(f"out of range for {cast_type}")

    return canon


def _integral(value: Any) -> int:
    """A non-str, non-bool key value as an int: an int subclass or numpy int, or a float or a
    Decimal without fraction."""
    from decimal import Decimal

    if isinstance(value, bool):
        raise ValueError("a boolean is not an integer key")
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Decimal) and value.is_finite() and value.adjusted() < 40:
        if value == value.to_integral_value():
            return int(value)
    elif hasattr(value, "__index__") and not isinstance(value, (Decimal, float)):  # numpy ints
        return int(value.__index__())
    raise ValueError("not an integer")


class _TooLong(ValueError):
    """A key value longer than MAX_KEY_BYTES once encoded."""

    def __init__(self, size: int):
        super().__init__(f"{size:,} bytes, past the limit of {MAX_KEY_BYTES:,}")
        self.size = size


def _canon_int(value: Any) -> bytes:
    """An integer key of no declared width (HUGEINT's range), for `encode_entity`."""
    return _CANON_HUGEINT(value)


def _canon_str(value: Any) -> bytes:
    if value.__class__ is str:
        if len(value) > MAX_KEY_BYTES:
            raise _TooLong(len(value.encode("utf-8", "surrogatepass")))
        return value.encode()
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        if isinstance(value, int) and value.bit_length() > 4 * MAX_KEY_BYTES:
            raise _TooLong(int(value.bit_length() * 0.30103) + 1)
        return _canon_str(str(value))
    raise ValueError("not a string")


def _canon_date(value: Any) -> bytes:
    if isinstance(value, datetime):
        raise ValueError(f"{value!r} is a datetime, not a date")
    if isinstance(value, date):
        return value.isoformat().encode()
    if isinstance(value, str):
        if len(value) > MAX_KEY_BYTES:
            raise _TooLong(len(value.encode("utf-8", "surrogatepass")))
        return date.fromisoformat(value.strip()).isoformat().encode()
    raise ValueError("not a date")


_CANON_HUGEINT = _int_canon("HUGEINT")
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


def _tag(view: str) -> str:
    """`{<view>}`: the hash tag every bookkeeping key of a view carries (one Redis Cluster slot,
    so the lease-fenced scripts of `generations.py` can touch them together)."""
    return "{" + view + "}"


def pointer_key(view: str, version: str) -> bytes:
    return f"skw:ptr:{_tag(view)}:{version}".encode()


def meta_key(view: str) -> bytes:
    return f"skw:meta:{_tag(view)}".encode()


def genseq_key(view: str) -> bytes:
    return f"skw:genseq:{_tag(view)}".encode()


def gens_key(view: str) -> bytes:
    return f"skw:gens:{_tag(view)}".encode()


def genver_key(view: str) -> bytes:
    return f"skw:genver:{_tag(view)}".encode()


def retired_key(view: str) -> bytes:
    return f"skw:retired:{_tag(view)}".encode()


def loading_key(view: str) -> bytes:
    """Set of the view's generations started and not (yet) flipped in."""
    return f"skw:loading:{_tag(view)}".encode()


def lease_key(view: str) -> bytes:
    """The view's loader lease (see `lease.py`)."""
    return f"skw:lease:{_tag(view)}".encode()


def gen_keys_key(view: str, generation: bytes | str) -> bytes:
    gen = generation.decode() if isinstance(generation, bytes) else generation
    return f"skw:gen:{_tag(view)}:{gen}:keys".encode()


#: Hash slots of a Redis Cluster.
CLUSTER_SLOTS = 16384
_slot_tags: list[bytes] = []


def slot_tag(slot: int) -> bytes:
    """A short hash tag whose key slot is `slot` (`b"s<n>"`, the first n that lands there), so a
    per-slot sentinel lives with the data keys of that slot. The table is built on first use
    (≈0.1 s; only a cluster loader or reader needs it)."""
    if not _slot_tags:
        from binascii import crc_hqx

        table: list[bytes | None] = [None] * CLUSTER_SLOTS
        left, i = CLUSTER_SLOTS, 0
        while left:
            tag = b"s%d" % i
            s = crc_hqx(tag, 0) % CLUSTER_SLOTS
            if table[s] is None:
                table[s] = tag
                left -= 1
            i += 1
        _slot_tags[:] = table  # type: ignore[assignment]
    return _slot_tags[slot]


def sentinel_key(view: str, generation: bytes | str, slot: int | None = None) -> bytes:
    """The completeness sentinel of a generation: one per generation on a plain Redis
    (`skw:ok:{<view>}:<gen>`), one per hash slot on a Redis Cluster
    (`skw:ok:{<slot tag>}:<view>:<gen>`, in `slot`, beside that slot's data keys)."""
    gen = generation if isinstance(generation, bytes) else generation.encode()
    if slot is None:
        return b"skw:ok:{%s}:%s" % (view.encode(), gen)
    return b"skw:ok:{%s}:%s:%s" % (slot_tag(slot), view.encode(), gen)


class KeyBuilder:
    """Builds the entity part of data keys for one view from request entity dicts.

    Built once per view (the converters are chosen from the declared key types), then called per
    entity on the hot path.
    """

    __slots__ = ("_convs", "_fast", "_range", "_single", "columns", "view")

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
        self._convs = tuple(
            _int_canon(t) if k == "int" else _CANON[k]
            for k, t in zip(kinds, view.entity_types, strict=True)
        )
        self._single = len(kinds) == 1
        self._fast = kinds[0] if self._single and kinds[0] in ("int", "str") else ""
        _cast, lo, hi = _INT_RANGES.get(_base_type(view.entity_types[0]), _I128)
        self._range = (lo, hi)

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
                    lo, hi = self._range
                    if lo <= min(values) and max(values) <= hi:
                        digits = [b"%d" % v for v in values]
                        return [b"skw:{%d:%s%s" % (len(d), d, tail) for d in digits]
                elif fast == "str" and types == {str}:
                    try:
                        raw = [v.encode() for v in values]
                    except UnicodeEncodeError:  # a lone surrogate: named by the slow path
                        raw = None
                    if raw is not None and max(map(len, raw)) <= MAX_KEY_BYTES:
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
            if len(canonical) > MAX_KEY_BYTES:
                raise self._error(row, col, _TooLong(len(canonical)))
            if b"%" in canonical or b"}" in canonical:
                canonical = _escape(canonical)
            return b"%d:%s" % (len(canonical), canonical)
        parts = []
        for col, conv in zip(self.columns, self._convs, strict=True):
            try:
                canonical = conv(row[col])
            except Exception as e:
                raise self._error(row, col, e) from None
            if len(canonical) > MAX_KEY_BYTES:
                raise self._error(row, col, _TooLong(len(canonical)))
            parts.append(_part(canonical))
        return b"".join(parts)

    def _error(self, row: Mapping[str, Any], col: str, e: Exception) -> RequestError:
        if not isinstance(row, Mapping):
            return RequestError(
                f"entities must be dicts of entity-key values, got {brief(row)} "
                f"(view `{self.view}`)"
            )
        try:
            value = row[col]
        except Exception:
            return RequestError(
                f"entity {brief(row)} has no key `{col}`, needed by feature view `{self.view}` "
                f"(its entity is {list(self.columns)})"
            )
        if value is None:
            return RequestError(f"entity key `{col}` is null in {brief(row)} (view `{self.view}`)")
        if isinstance(e, _TooLong):
            return RequestLimitError(
                f"entity key `{col}` = {brief(value)} is too long for feature view "
                f"`{self.view}`: {e} (MAX_KEY_BYTES, see docs/limits.md)"
            )
        why = "text with a lone surrogate (not UTF-8)" if isinstance(e, UnicodeError) else e
        return RequestError(
            f"entity key `{col}` = {brief(value)} cannot be used for feature view "
            f"`{self.view}`: {why}"
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
