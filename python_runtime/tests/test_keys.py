"""Entity-key encoding: injective, cluster-slot safe, canonical, identical in Python and DuckDB."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from redis.crc import key_slot

from skewless.definitions import Feature, FeatureView
from skewless.errors import DefinitionError, RequestError
from skewless.online.keys import (
    KeyBuilder,
    data_key,
    encode_entity,
    pointer_key,
    sql_entity_expression,
)

int64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
text = st.text(max_size=12)


def view(entity: tuple[str, ...], types: tuple[str, ...]) -> FeatureView:
    return FeatureView(
        name="v", unique_id="model.p.v", relation_name="v", entity=entity, entity_types=types,
        timestamp="ts", ttl=None, available_after=__import__("datetime").timedelta(0),
        freshness=None, on_stale="serve", features=(Feature("v", "f", "double"),), version="x",
    )  # fmt: skip


def decode(encoded: bytes) -> list[bytes]:
    """Test oracle: parse `<len>:<escaped>` parts back (proves the encoding is injective)."""
    parts, i = [], 0
    while i < len(encoded):
        colon = encoded.index(b":", i)
        n = int(encoded[i:colon])
        raw = encoded[colon + 1 : colon + 1 + n]
        parts.append(raw.replace(b"%7D", b"}").replace(b"%25", b"%"))
        i = colon + 1 + n
    return parts


def test_no_concatenation_collisions() -> None:
    assert encode_entity(("int", "int"), (1, 23)) != encode_entity(("int", "int"), (12, 3))
    assert encode_entity(("str", "str"), ("a:", "b")) != encode_entity(("str", "str"), ("a", ":b"))
    assert encode_entity(("str",), ("}",)) != encode_entity(("str",), ("%7D",))


@given(
    st.lists(st.one_of(int64, text), min_size=1, max_size=3),
    st.lists(st.one_of(int64, text), min_size=1, max_size=3),
)
def test_encoding_is_injective(a: list[object], b: list[object]) -> None:
    kinds_a = tuple("int" if isinstance(x, int) else "str" for x in a)
    kinds_b = tuple("int" if isinstance(x, int) else "str" for x in b)
    ea, eb = encode_entity(kinds_a, tuple(a)), encode_entity(kinds_b, tuple(b))
    assert decode(ea) == [str(x).encode() for x in a]
    if [str(x) for x in a] != [str(x) for x in b]:
        assert ea != eb


@given(
    st.lists(text, min_size=1, max_size=3),
    st.sampled_from(["view_a", "other_view"]),
    st.integers(1, 10**6),
)
def test_every_key_of_an_entity_shares_its_cluster_slot(
    values: list[str], name: str, gen: int
) -> None:
    enc = encode_entity(("str",) * len(values), tuple(values))
    assert b"}" not in enc  # so the hash tag is the whole encoding, whatever the values hold
    k1, k2 = data_key("v", enc, b"1"), data_key(name, enc, str(gen))
    assert key_slot(k1) == key_slot(k2) == key_slot(b"{" + enc + b"}")


def test_integer_keys_are_canonical_and_errors_name_the_key() -> None:
    kb = KeyBuilder(view(("user_id",), ("BIGINT",)))
    same = {kb.entity({"user_id": v}) for v in (42, "42", " 42", 42.0, "042")}
    assert same == {b"2:42"}
    for bad in ("4x2", 4.5, True, None, [1]):
        with pytest.raises(RequestError, match="user_id"):
            kb.entity({"user_id": bad})
    with pytest.raises(RequestError, match="no key `user_id`"):
        kb.entity({"id": 1})
    pair = KeyBuilder(view(("a", "b"), ("integer", "varchar")))
    assert pair.entity({"a": "1", "b": "2 3"}) == b"1:13:2 3"
    assert KeyBuilder(view(("d",), ("date",))).entity({"d": "2024-02-29"}) == b"10:2024-02-29"
    with pytest.raises(DefinitionError, match="entity key column `k`"):
        KeyBuilder(view(("k",), ("double",)))


def test_pointer_and_data_key_layout() -> None:
    assert data_key("user_stats", b"2:42", b"7") == b"skw:{2:42}:user_stats:7"
    assert pointer_key("user_stats", "abc123") == b"skw:ptr:{user_stats}:abc123"


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.tuples(int64, text, st.dates(min_value=date(1000, 1, 1))), min_size=1, max_size=20)
)
def test_duckdb_encoding_matches_python(rows: list[tuple[int, str, date]]) -> None:
    v = view(("i", "s", "d"), ("BIGINT", "VARCHAR", "DATE"))
    con = duckdb.connect()
    con.execute("CREATE TABLE t (i BIGINT, s VARCHAR, d DATE)")
    con.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
    expr = sql_entity_expression(v, lambda c: '"' + c + '"')
    got = [r[0].encode() for r in con.execute(f"SELECT {expr} FROM t").fetchall()]
    kb = KeyBuilder(v)
    assert got == [kb.entity({"i": i, "s": s, "d": d}) for i, s, d in rows]
