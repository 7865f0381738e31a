"""`materialize` against a real Redis and the real dbt-built serving fixture."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
from serving_fixtures import NOON, BuiltProject, build_serving_project, copy_db

from skewless.definitions.registry import Registry
from skewless.errors import ManifestError
from skewless.online import keys
from skewless.online.connection import connect
from skewless.online.materialize import duckdb_path_from_profile, materialize
from skewless.online.store import FeatureStore

NOON_US = int((NOON.timestamp()) * 1_000_000)


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuiltProject:
    return build_serving_project(tmp_path_factory.mktemp("serving-build"))


@pytest.fixture()
def registry(built: BuiltProject) -> Registry:
    return Registry.from_manifest(built.manifest)


def rewrite_events(db: Path, users: int, batch: str, ts: str = "2099-01-01 10:00:00") -> None:
    """Replace the rows behind the `events` view: one row per user, tagged with `batch`."""
    con = duckdb.connect(str(db))
    con.execute(
        "CREATE OR REPLACE TABLE main.raw_events AS SELECT range::bigint AS user_id, "
        f"TIMESTAMP '{ts}' AS ts, '{batch}' AS batch, range::bigint AS value FROM range(1, {users + 1})"
    )
    con.close()


def data_keys(client, view: str, gen: str) -> int:  # type: ignore[no-untyped-def]
    """Test-only: count a generation's data keys by pattern (the loader itself never scans)."""
    return len(client.keys(f"skw:{{*}}:{view}:{gen}".encode()))


def test_full_load_sets_expiry_pointer_and_meta(
    built: BuiltProject, registry: Registry, redis_url: str
) -> None:
    client = connect(redis_url)
    (result,) = materialize(registry, client, built.duckdb, select=["events"], now=NOON)
    view = registry.view("events")
    assert (result.mode, result.rows, result.generation) == ("full", 1000, "1")
    assert client.get(keys.pointer_key("events", view.version)) == b"1"
    assert data_keys(client, "events", "1") == 1000
    # the 1,000 data keys, then the completeness sentinel written last
    assert client.llen(keys.gen_keys_key("events", "1")) == 1000 + 1
    key = keys.data_key("events", keys.encode_entity(("int",), (7,)), "1")
    ts_ms = (NOON_US - 2 * 3600 * 1_000_000) // 1000  # rows are stamped 10:00
    assert client.pexpiretime(key) == ts_ms + 30 * 86_400_000
    meta = client.hgetall(keys.meta_key("events"))
    assert meta[b"version"] == view.version.encode() and meta[b"rows"] == b"1000"
    assert meta[b"watermark"] == str(NOON_US - 2 * 3600 * 1_000_000).encode()
    # nothing is loaded once every row is older than ttl
    (later,) = materialize(
        registry, client, built.duckdb, select=["events"], now=NOON + timedelta(days=31)
    )
    assert later.rows == 0


def test_generations_rotate_and_old_ones_are_deleted_without_scan(
    built: BuiltProject, registry: Registry, redis_url: str
) -> None:
    client = connect(redis_url)
    for _ in range(3):
        materialize(registry, client, built.duckdb, select=["events", "pairs"], now=NOON)
    # generation 3 is served, 2 kept as grace for in-flight readers, 1 deleted with its key list
    assert [data_keys(client, "events", g) for g in "123"] == [0, 1000, 1000]
    assert not client.exists(keys.gen_keys_key("events", "1"))
    assert client.lrange(keys.gens_key("events"), 0, -1) == [b"2", b"3"]
    assert set(client.hkeys(keys.genver_key("events"))) == {b"2", b"3"}
    assert [data_keys(client, "pairs", g) for g in "123"] == [0, 2, 2]
    materialize(registry, client, built.duckdb, select=["events"], now=NOON)
    assert [data_keys(client, "events", g) for g in "1234"] == [0, 0, 1000, 1000]
    assert [data_keys(client, "pairs", g) for g in "123"] == [0, 2, 2]


def test_incremental_applies_newer_rows_and_same_timestamp_corrections(
    built: BuiltProject, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    db = copy_db(built, tmp_path)
    con = duckdb.connect(str(db))
    con.execute("UPDATE main.raw_events SET ts = TIMESTAMP '2099-01-01 09:00:00' WHERE user_id = 5")
    con.close()
    client = connect(redis_url)
    store = FeatureStore(registry, client, redis_url)
    (full,) = materialize(registry, client, db, select=["events"], now=NOON)
    assert full.watermark is not None and full.watermark.hour == 10

    con = duckdb.connect(str(db))
    # a correction at the watermark's own timestamp, a newer row, and a correction of user 5's
    # stored 09:00 row (older than the watermark)
    con.execute("UPDATE main.raw_events SET value = -1, batch = 'fix' WHERE user_id = 1")
    con.execute(
        "INSERT INTO main.raw_events VALUES (2, TIMESTAMP '2099-01-01 11:00:00', 'new', -2)"
    )
    con.execute("UPDATE main.raw_events SET value = -5, batch = 'late' WHERE user_id = 5")
    con.close()
    (inc,) = materialize(registry, client, db, select=["events"], now=NOON, incremental=True)
    assert inc.mode == "incremental" and inc.generation == full.generation
    assert inc.rows == 999  # every entity whose latest row is at or after 10:00 (not user 5)
    assert inc.watermark is not None and inc.watermark.hour == 11
    ents = [{"user_id": u} for u in (1, 2, 3, 5)]
    got = store.get_online_features(["events.batch", "events.value"], ents, now=NOON).values
    assert got == [["fix", -1], ["new", -2], ["A", 3], ["A", 5]]  # user 5's late fix not seen yet

    (again,) = materialize(registry, client, db, select=["events"], now=NOON, incremental=True)
    assert again.rows == 1  # only user 2's 11:00 row is at or after the new watermark
    (late,) = materialize(
        registry,
        client,
        db,
        select=["events"],
        now=NOON,
        incremental=True,
        lookback=timedelta(hours=2),
    )
    assert late.rows == 1000
    got = store.get_online_features(["events.batch", "events.value"], ents, now=NOON).values
    assert got == [["fix", -1], ["new", -2], ["A", 3], ["late", -5]]
    # incremental keys are recorded in the generation's key list too, so cleanup finds them
    # (+ 1: the full load's completeness sentinel)
    assert client.llen(keys.gen_keys_key("events", full.generation)) == 1000 + 1 + 999 + 1 + 1000


def _loader(built: BuiltProject, db: Path, redis_url: str, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable, "-m", "skewless.cli",
            "--project-dir", str(built.dir), "--redis-url", redis_url,
            "materialize", "--select", "events", "--duckdb-path", str(db),
            "--now", NOON.isoformat(), *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # a killed loader's lease expires after 1 s (the rerun waits for it)
        env={**os.environ, "TZ": "UTC", "SKEWLESS_LEASE_TTL": "1"},
    )  # fmt: skip


def test_reader_never_sees_a_mix_of_generations(
    built: BuiltProject, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    users = 60_000
    db = copy_db(built, tmp_path)
    rewrite_events(db, users, "A")
    client = connect(redis_url)
    materialize(registry, client, db, select=["events"], now=NOON)
    rewrite_events(db, users, "B")
    store = FeatureStore(registry, client, redis_url)
    entities = [{"user_id": u} for u in range(1, users + 1, users // 200)]
    seen: list[frozenset[str]] = []
    loader = _loader(built, db, redis_url, "--chunk-rows", "500")
    try:
        while loader.poll() is None:
            resp = store.get_online_features(["events.batch"], entities, now=NOON)
            seen.append(frozenset(v[0] for v in resp.values))
    finally:
        if loader.poll() is None:
            loader.kill()
    _out, err = loader.communicate()
    assert loader.returncode == 0, err.decode()
    final = store.get_online_features(["events.batch"], entities, now=NOON)
    seen.append(frozenset(v[0] for v in final.values))
    assert all(len(s) == 1 for s in seen), [s for s in seen if len(s) != 1][:3]
    assert seen[0] == {"A"} and seen[-1] == {"B"}
    assert len(seen) > 20  # the reader really ran while the loader wrote


def test_kill_9_leaves_previous_generation_served_and_rerun_completes(
    built: BuiltProject, registry: Registry, redis_url: str, tmp_path: Path
) -> None:
    users = 150_000
    db = copy_db(built, tmp_path)
    rewrite_events(db, users, "A")
    client = connect(redis_url)
    materialize(registry, client, db, select=["events"], now=NOON)
    rewrite_events(db, users, "B")
    loader = _loader(built, db, redis_url, "--chunk-rows", "200")
    partial = keys.gen_keys_key("events", "2")
    deadline = time.monotonic() + 120
    try:
        while client.llen(partial) < 2000:
            assert loader.poll() is None, "the loader finished before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.005)
    finally:
        loader.send_signal(signal.SIGKILL)
        loader.wait()
    written = client.llen(partial)
    assert 2000 <= written < users and data_keys(client, "events", "2") >= 2000
    version = registry.view("events").version
    assert client.get(keys.pointer_key("events", version)) == b"1"
    store = FeatureStore(registry, client, redis_url)
    sample = [{"user_id": u} for u in range(1, users + 1, 997)]
    resp = store.get_online_features(["events.batch", "events.value"], sample, now=NOON)
    assert {v[0] for v in resp.values} == {"A"}
    assert {s for st in resp.statuses for s in st.values()} == {"present"}

    (rerun,) = materialize(registry, client, db, select=["events"], now=NOON, wait=30)
    assert rerun.generation == "3" and rerun.rows == users and "2" in rerun.deleted_generations
    assert data_keys(client, "events", "2") == 0 and not client.exists(partial)
    resp = store.get_online_features(["events.batch"], sample, now=NOON)
    assert {v[0] for v in resp.values} == {"B"}


def test_rows_wait_for_available_after(
    built: BuiltProject, registry: Registry, redis_url: str
) -> None:
    import dataclasses

    from skewless.definitions import FeatureView

    lagged: FeatureView = dataclasses.replace(
        registry.view("all_types"), available_after=timedelta(hours=1)
    )
    client = connect(redis_url)
    (result,) = materialize(Registry({"all_types": lagged}), client, built.duckdb, now=NOON)
    # rows at 10:00 (user 1) and 11:00 (user 2) are an hour old by noon; 11:30 and 11:45 are not
    assert result.rows == 2 and result.watermark is not None and result.watermark.hour == 11
    store = FeatureStore(Registry({"all_types": lagged}), client, redis_url)
    resp = store.get_online_features(
        ["all_types.i_int"], [{"user_id": u} for u in (1, 2, 3, 4)], now=NOON
    )
    assert [s["all_types.i_int"] for s in resp.statuses] == [
        "present",
        "present",
        "missing",
        "missing",
    ]


def test_no_ttl_means_no_expiry_and_first_incremental_is_full(
    built: BuiltProject, registry: Registry, redis_url: str
) -> None:
    import dataclasses

    forever = dataclasses.replace(registry.view("pairs"), ttl=None)
    client = connect(redis_url)
    (result,) = materialize(
        Registry({"pairs": forever}),
        client,
        built.duckdb,
        now=NOON + timedelta(days=3650),
        incremental=True,
    )
    assert result.mode == "full" and result.rows == 2  # nothing stored yet: a full load
    key = keys.data_key("pairs", keys.encode_entity(("int", "int"), (1, 23)), result.generation)
    assert client.pexpiretime(key) == -1  # no ttl: the key never expires


def test_duckdb_path_from_profile(
    built: BuiltProject, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("DBT_PROFILES_DIR", raising=False)
    monkeypatch.setenv("SKEWLESS_DUCKDB_PATH", str(tmp_path / "x.duckdb"))
    assert duckdb_path_from_profile(built.dir) == tmp_path / "x.duckdb"
    monkeypatch.delenv("SKEWLESS_DUCKDB_PATH")
    assert duckdb_path_from_profile(built.dir) == built.dir / "serving.duckdb"  # relative → project
    with pytest.raises(ManifestError, match="no DuckDB database"):
        materialize(Registry.from_manifest(built.manifest), None, tmp_path / "none.duckdb")
