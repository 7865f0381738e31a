"""get_online_features against a real Redis loaded from the real dbt-built serving fixture."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
import redis
from conftest import RedisServer
from serving_fixtures import NOON, BuiltProject

from skewless.definitions.registry import Registry
from skewless.errors import (
    NotMaterializedError,
    OnlineStoreError,
    RequestError,
    StaleFeatureError,
    UnknownFeatureError,
)
from skewless.online.connection import connect
from skewless.online.materialize import materialize
from skewless.online.store import FeatureStore

# every test taking `store` runs on FeatureStore and on AsyncFeatureStore (conftest.py)
ASYNC_PARITY = True

UTC = timezone.utc
ALL_TYPES = [
    "i_big", "i_int", "i_huge", "i_ubig", "f_dbl", "dec", "s", "b", "d", "t_naive", "t_tz",
]  # fmt: skip


def feats(view: str, names: list[str]) -> list[str]:
    return [f"{view}.{n}" for n in names]


def test_round_trip_is_type_exact(store: FeatureStore) -> None:
    resp = store.get_online_features(
        feats("all_types", ALL_TYPES), [{"user_id": u} for u in (1, 2, 3, 4)], now=NOON
    )
    one, two, three, four = ({k.split(".")[1]: v for k, v in d.items()} for d in resp.to_dicts())
    # user 1: the maxima, NaN, a wide decimal, unicode with the key syntax's delimiters.
    assert one["i_big"] == 2**63 - 1 and type(one["i_big"]) is int
    assert one["i_int"] == 2**31 - 1
    assert one["i_huge"] == 2**127 - 1 and type(one["i_huge"]) is int
    assert one["i_ubig"] == 2**64 - 1
    assert math.isnan(one["f_dbl"])
    assert one["dec"] == Decimal("12345678901234.5678") and str(one["dec"]) == "12345678901234.5678"
    assert one["s"] == '日本語 🚀 "q" }{: %7D'
    assert one["b"] is True
    assert one["d"] == date(2024, 2, 29) and type(one["d"]) is date
    assert one["t_naive"] == datetime(2024, 2, 29, 12, 34, 56, 123456, tzinfo=UTC)
    assert one["t_naive"].tzinfo is not None and one["t_naive"].utcoffset() == timedelta(0)
    # 12:34:56.123456+05:30 is 07:04:56.123456 UTC
    assert one["t_tz"] == datetime(2024, 2, 29, 7, 4, 56, 123456, tzinfo=UTC)
    assert one["t_tz"].utcoffset() == timedelta(0)
    # user 2: the minima, +inf, a tiny negative decimal, the empty string, the epoch.
    assert two["i_big"] == -(2**63) and two["i_int"] == -(2**31)
    assert two["i_huge"] == -(2**127) + 1 and two["i_ubig"] == 0
    assert two["f_dbl"] == math.inf
    assert two["dec"] == Decimal("-0.0001")
    assert two["s"] == "" and two["b"] is False
    assert two["d"] == date(1970, 1, 1)
    assert two["t_naive"] == datetime(1970, 1, 1, tzinfo=UTC)
    assert two["t_tz"] == datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    # user 3: NULLs everywhere but -inf; a NULL is a present value, not a missing one.
    assert three["f_dbl"] == -math.inf
    assert all(three[c] is None for c in ALL_TYPES if c != "f_dbl")
    assert set(resp.statuses[2].values()) == {"present"}
    assert four["f_dbl"] == 0.1 and four["dec"] == Decimal("0.5000") and four["i_int"] == -7
    # the latest row within [now - ttl, now] is served: not the older row, not the future one.
    assert resp.ages[0]["all_types.s"] == timedelta(hours=2)
    assert resp.ages[3]["all_types.s"] == timedelta(minutes=15)


def test_missing_entity_and_defaults(store: FeatureStore) -> None:
    resp = store.get_online_features(
        ["all_types.s", "events.value", "events.batch"], [{"user_id": 999_999}], now=NOON
    )
    assert resp.to_dicts() == [{"all_types.s": None, "events.value": 0, "events.batch": None}]
    assert resp.statuses == [
        {"all_types.s": "missing", "events.value": "defaulted", "events.batch": "missing"}
    ]
    assert resp.ages == [{"all_types.s": None, "events.value": None, "events.batch": None}]


def test_integer_keys_are_canonical_and_bad_keys_name_the_key(store: FeatureStore) -> None:
    for key in (4, "4", " 4", 4.0):
        resp = store.get_online_features(["all_types.s"], [{"user_id": key}], now=NOON)
        assert resp.to_dicts() == [{"all_types.s": "plain"}], key
    with pytest.raises(RequestError, match="user_id"):
        store.get_online_features(["all_types.s"], [{"user_id": "4x"}], now=NOON)
    with pytest.raises(RequestError, match="no key `user_id`"):
        store.get_online_features(["all_types.s"], [{"uid": 4}], now=NOON)
    with pytest.raises(RequestError, match="null"):
        store.get_online_features(["all_types.s"], [{"user_id": None}], now=NOON)
    with pytest.raises(UnknownFeatureError, match="no feature `nope`"):
        store.get_online_features(["all_types.nope"], [{"user_id": 4}], now=NOON)


def test_on_stale_policies(store: FeatureStore) -> None:
    fresh, stale = {"user_id": 2}, {"user_id": 1}  # 30 min and 2 h old at noon; SLA 1 h
    for policy in ("serve", "default", "null", "reject"):
        resp = store.get_online_features(
            feats(f"stale_{policy}", ["score", "label"]), [fresh], now=NOON
        )
        assert resp.values == [[2.5, "two"]] and resp.statuses[0] == {
            f"stale_{policy}.score": "present",
            f"stale_{policy}.label": "present",
        }
    serve = store.get_online_features(feats("stale_serve", ["score", "label"]), [stale], now=NOON)
    assert serve.values == [[1.5, "one"]]
    assert set(serve.statuses[0].values()) == {"stale"}
    assert serve.ages[0]["stale_serve.score"] == timedelta(hours=2)
    null = store.get_online_features(feats("stale_null", ["score", "label"]), [stale], now=NOON)
    assert null.values == [[None, None]] and set(null.statuses[0].values()) == {"stale"}
    default = store.get_online_features(
        feats("stale_default", ["score", "label"]), [stale], now=NOON
    )
    assert default.values == [[-1.0, "none"]]
    assert set(default.statuses[0].values()) == {"defaulted"}
    with pytest.raises(StaleFeatureError) as err:
        store.get_online_features(["stale_reject.score"], [fresh, stale], now=NOON)
    msg = str(err.value)
    assert "stale_reject" in msg and "user_id=1" in msg and "2:00:00" in msg and "1:00:00" in msg


def test_ttl_is_enforced_on_read(store: FeatureStore) -> None:
    # Redis still holds the keys (they expire at timestamp + ttl in 2099); the read ages them.
    later = NOON + timedelta(days=7, hours=-1)  # stale views: user 1 (10:00) past the 7d ttl
    resp = store.get_online_features(
        ["stale_serve.score", "all_types.i_int"], [{"user_id": 1}, {"user_id": 2}], now=later
    )
    assert resp.values == [[-1.0, 2**31 - 1], [2.5, -(2**31)]]
    assert resp.statuses == [
        {"stale_serve.score": "defaulted", "all_types.i_int": "present"},
        {"stale_serve.score": "stale", "all_types.i_int": "present"},
    ]
    assert resp.ages[0]["stale_serve.score"] == timedelta(days=7, hours=1)
    month = NOON + timedelta(days=30, hours=-1, minutes=-30)  # all_types: ttl 30d, no defaults
    resp = store.get_online_features(
        ["all_types.i_int"], [{"user_id": 1}, {"user_id": 3}], now=month
    )
    assert resp.values == [[None], [None]]
    assert resp.statuses == [{"all_types.i_int": "expired"}, {"all_types.i_int": "present"}]


def test_composite_and_string_keys_are_unambiguous(store: FeatureStore) -> None:
    resp = store.get_online_features(
        ["pairs.label"], [{"a": 1, "b": 23}, {"a": 12, "b": 3}, {"a": 1, "b": 2}], now=NOON
    )
    assert resp.values == [["one-twentythree"], ["twelve-three"], [None]]
    names = ["a}b", "}", "%7D", "x:y", "{", "{a}", "日本 🚀", "", "1:2", "%"]
    resp = store.get_online_features(
        ["names.echo"], [{"name": n} for n in [*names, "a", "a}", "7D"]], now=NOON
    )
    assert resp.values == [[f"v:{n}"] for n in names] + [[None], [None], [None]]


def test_one_round_trip_per_call(store: FeatureStore, redis_url: str) -> None:
    refs = ["all_types.s", "stale_serve.score", "pairs.label", "events.value"]
    entities = [{"user_id": u, "a": 1, "b": 23} for u in range(1, 40)]
    store.get_online_features(refs, entities, now=NOON)  # warm: learns the generations
    admin = redis.Redis.from_url(redis_url)
    admin.config_resetstat()
    for _ in range(3):
        store.get_online_features(refs, entities, now=NOON)
    stats = admin.info("commandstats")
    ours = {
        k: v["calls"]
        for k, v in stats.items()
        if not k.startswith(("cmdstat_config", "cmdstat_info"))
    }
    assert ours == {"cmdstat_mget": 3}


def test_response_forms(store: FeatureStore) -> None:
    resp = store.get_online_features(
        ["all_types.dec", "stale_serve.label", "all_types.i_big"],
        [{"user_id": 4}, {"user_id": 1}],
        now=NOON,
    )
    assert resp.features == ("all_types.dec", "stale_serve.label", "all_types.i_big")
    assert resp.values == [
        [Decimal("0.5000"), "none", 42],  # label: its default (user 4 has no row)
        [Decimal("12345678901234.5678"), "one", 2**63 - 1],
    ]
    frame = resp.to_pandas()
    assert list(frame.columns) == [
        "user_id",
        "all_types.dec",
        "stale_serve.label",
        "all_types.i_big",
    ]
    assert frame["all_types.i_big"].tolist() == [42, 2**63 - 1]
    table = resp.to_arrow()
    assert table.column_names == list(frame.columns)
    assert table.column("all_types.dec").to_pylist() == [
        Decimal("0.5000"),
        Decimal("12345678901234.5678"),
    ]
    assert str(table.schema.field("all_types.i_big").type) == "int64"
    assert resp.versions == {
        "all_types": store.registry.view("all_types").version,
        "stale_serve": store.registry.view("stale_serve").version,
    }


def test_changed_definition_is_unservable_until_materialized(
    built: BuiltProject, store: FeatureStore, redis_url: str, tmp_path: Path
) -> None:
    data = json.loads(built.manifest.read_text())
    node = next(n for n in data["nodes"].values() if n.get("name") == "events")
    node["compiled_code"] = node["compiled_code"] + "\nwhere value > 0"
    changed = tmp_path / "manifest.json"
    changed.write_text(json.dumps(data))
    new_registry = Registry.from_manifest(changed)
    assert new_registry.view("events").version != store.registry.view("events").version
    new_store = FeatureStore(new_registry, connect(redis_url), redis_url)
    with pytest.raises(NotMaterializedError) as err:
        new_store.get_online_features(["events.value"], [{"user_id": 5}], now=NOON)
    assert "`events`" in str(err.value) and "skewless materialize --select events" in str(err.value)
    # other views of the new manifest are unchanged, so still served
    assert new_store.get_online_features(["pairs.label"], [{"a": 12, "b": 3}], now=NOON).values == [
        ["twelve-three"]
    ]
    materialize(new_registry, connect(redis_url), built.duckdb, select=["events"], now=NOON)
    assert new_store.get_online_features(["events.value"], [{"user_id": 5}], now=NOON).values == [
        [5]
    ]
    # the old definition keeps its own version (one previous generation is kept as grace)
    assert store.get_online_features(["events.value"], [{"user_id": 5}], now=NOON).values == [[5]]


def test_acl_user_and_password_never_in_errors(built: BuiltProject, tmp_path: Path) -> None:
    server = RedisServer(
        "--requirepass",
        "default-S3cret!",
        "--user",
        "alice",
        "on",
        ">al1ce-S3cret!",
        "~*",
        "&*",
        "+@all",
    )
    try:
        url = f"redis://alice:al1ce-S3cret%21@127.0.0.1:{server.port}/0"
        registry = Registry.from_manifest(built.manifest)
        materialize(registry, connect(url), built.duckdb, select=["pairs"], now=NOON)
        store = FeatureStore.from_manifest(built.manifest, redis_url=url)
        assert store.get_online_features(["pairs.label"], [{"a": 1, "b": 23}], now=NOON).values == [
            ["one-twentythree"]
        ]
        assert "S3cret" not in store.redis_url and "alice" in store.redis_url
        bad = f"redis://alice:wrong-S3cret@127.0.0.1:{server.port}/0"
        with pytest.raises(OnlineStoreError) as err:
            FeatureStore.from_manifest(built.manifest, redis_url=bad)
        assert "S3cret" not in str(err.value) and "***" in str(err.value)
        with pytest.raises(OnlineStoreError) as err:
            connect(f"redis://:no-such-S3cret@127.0.0.1:{server.port}/0")
        assert "S3cret" not in str(err.value)
        with pytest.raises(OnlineStoreError) as err:
            connect("redis://bob:S3cret@127.0.0.1:1/0")  # nothing listens on port 1
        assert "S3cret" not in str(err.value) and "cannot reach" in str(err.value)
    finally:
        server.stop()


@pytest.fixture()
def cluster_nodes() -> Iterator[list[RedisServer]]:
    """Three masters on free ports, slots assigned and met through plain commands (no redis-cli).

    Every node started is stopped again, also when the cluster fails to form.
    """
    import time

    from conftest import free_port

    nodes: list[RedisServer] = []
    try:
        # the bus port defaults to port + 10000, which may not exist: give it its own free port
        buses = [free_port() for _ in range(3)]
        for bus in buses:
            nodes.append(RedisServer("--cluster-enabled", "yes", "--cluster-port", str(bus)))
        clients = [redis.Redis(port=n.port) for n in nodes]
        bounds = [(0, 5460), (5461, 10922), (10923, 16383)]
        for c, (lo, hi) in zip(clients, bounds, strict=True):
            c.execute_command("CLUSTER", "ADDSLOTSRANGE", lo, hi)
        for n, bus in zip(nodes[1:], buses[1:], strict=True):
            clients[0].execute_command("CLUSTER", "MEET", "127.0.0.1", n.port, bus)
        deadline = time.monotonic() + 20
        while not all(b"cluster_state:ok" in c.execute_command("CLUSTER", "INFO") for c in clients):
            assert time.monotonic() < deadline, "the test cluster did not converge"
            time.sleep(0.05)
        yield nodes
    finally:
        for n in nodes:
            n.stop()


def test_redis_cluster_materialize_and_read(
    built: BuiltProject, cluster_nodes: list[RedisServer]
) -> None:
    nodes = cluster_nodes
    url = f"redis+cluster://127.0.0.1:{nodes[0].port}/0"
    registry = Registry.from_manifest(built.manifest)
    client = connect(url)
    assert type(client).__name__ == "RedisCluster"
    for _ in range(3):  # the third load deletes generation 1 (client-side on a cluster)
        materialize(registry, client, built.duckdb, select=["events", "names", "pairs"], now=NOON)
    store = FeatureStore.from_manifest(built.manifest, redis_url=url)
    resp = store.get_online_features(
        ["events.value", "events.batch", "pairs.label", "names.echo"],
        [
            {"user_id": 7, "a": 12, "b": 3, "name": "a}b"},
            {"user_id": 4242, "a": 1, "b": 2, "name": "}"},
        ],
        now=NOON,
    )
    assert resp.values == [[7, "A", "twelve-three", "v:a}b"], [0, None, None, "v:}"]]
    per_node = [redis.Redis(port=n.port) for n in nodes]
    gen1 = sum(len(c.keys(b"skw:{*}:events:1")) for c in per_node)
    gen3 = [len(c.keys(b"skw:{*}:events:3")) for c in per_node]
    assert gen1 == 0 and sum(gen3) == 1000 and all(g > 0 for g in gen3)  # spread over nodes


def test_rediss_url_with_password(built: BuiltProject, tmp_path: Path) -> None:
    import subprocess

    from conftest import free_port

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    tls_port = free_port()
    server = RedisServer(
        "--tls-port", str(tls_port), "--tls-cert-file", str(cert), "--tls-key-file", str(key),
        "--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no", "--requirepass", "tls-S3cret",
    )  # fmt: skip
    try:
        url = f"rediss://:tls-S3cret@127.0.0.1:{tls_port}/0"
        registry = Registry.from_manifest(built.manifest)
        (loaded,) = materialize(
            registry,
            connect(url, ssl_ca_certs=str(cert)),
            built.duckdb,
            select=["events"],
            now=NOON,
        )
        assert loaded.rows == 1000  # the bulk writer's raw socket reads work over TLS too
        store = FeatureStore.from_manifest(built.manifest, redis_url=url, ssl_ca_certs=str(cert))
        assert store.get_online_features(["events.value"], [{"user_id": 9}], now=NOON).values == [
            [9]
        ]
        assert store.redis_url == f"rediss://:***@127.0.0.1:{tls_port}/0"
        with pytest.raises(OnlineStoreError) as err:  # the server's certificate is not trusted
            connect(url)
        assert "tls-S3cret" not in str(err.value)
    finally:
        server.stop()


def test_a_flip_is_followed_with_one_extra_read(
    built: BuiltProject, store: FeatureStore, redis_url: str, tmp_path: Path
) -> None:
    import duckdb
    from serving_fixtures import copy_db

    assert store.get_online_features(["events.batch"], [{"user_id": 3}], now=NOON).values == [["A"]]
    db = copy_db(built, tmp_path)
    con = duckdb.connect(str(db))
    con.execute("UPDATE main.raw_events SET batch = 'B'")
    con.close()
    materialize(store.registry, connect(redis_url), db, select=["events"], now=NOON)
    admin = redis.Redis.from_url(redis_url)
    admin.config_resetstat()
    resp = store.get_online_features(["events.batch"], [{"user_id": 3}, {"user_id": 4}], now=NOON)
    assert resp.values == [["B"], ["B"]]
    assert admin.info("commandstats")["cmdstat_mget"]["calls"] == 2  # stale pointer, then re-read


def test_post_lookup_hooks_see_the_response_and_request(store: FeatureStore) -> None:
    seen = []
    store.post_lookup.append(lambda s, resp, req: seen.append((s, resp.values, req)))
    payload = [{"amount": 12.5}]
    resp = store.get_online_features(["events.value"], [{"user_id": 2}], request=payload, now=NOON)
    assert seen == [(store, [[2]], payload)] and resp.request is payload


def test_a_dropped_connection_is_reopened(store: FeatureStore, redis_url: str) -> None:
    assert store.get_online_features(["events.value"], [{"user_id": 2}], now=NOON).values == [[2]]
    admin = redis.Redis.from_url(redis_url)
    assert admin.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes") >= 1
    assert store.get_online_features(["events.value"], [{"user_id": 3}], now=NOON).values == [[3]]
