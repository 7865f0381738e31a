"""The second guard of issue 10: an unfinished generation expires by itself.

Every key of a load is recorded before it is written, and every load first deletes what a dead
loader left (test_faults_loader.py). The guard covers the case those cannot: a killed load of a
view that is never loaded again. Its data keys (view without a ttl) and sentinels carry
`PX <unfinished ttl>` and its key list a little longer, until `generations.persist` clears them
just before the flip, counting what it cleared so a key lost in between stops the flip.

Against real Redis servers (plain and a three-node cluster):
- a finished load leaves no guard expiry anywhere (data keys of a view without ttl, sentinels,
  key list), and a view with a ttl keeps exactly `PXAT timestamp + ttl`;
- a loader killed with SIGKILL mid-write leaves keys that all expire within the guard: after it,
  nothing of the generation is left (SCAN), though no other load ran;
- a load that outlives its guard, or loses a key mid-load, is not flipped: GuardExpiredError,
  the previous generation is still served whole, and nothing of the failed one is left.
"""

from __future__ import annotations

import dataclasses
import signal
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from test_faults_loader import (
    NOON,
    VIEW,
    audit,
    build_duckdb,
    check_all_served,
    cluster,  # noqa: F401 (the fixture)
    make_registry,
    scan_all,
    spawn_loader,
)

from skewless.definitions.registry import Registry
from skewless.errors import GuardExpiredError, SkewlessError
from skewless.online import generations, keys
from skewless.online.connection import connect
from skewless.online.materialize import materialize
from skewless.online.store import FeatureStore


def data_keys(clients: list[Any], gen: bytes | None = None) -> set[bytes]:
    """The view's data keys (and sentinels) on every node, of one generation or of all."""
    g = gen if gen is not None else b"*"
    patterns = [b"skw:*:" + VIEW.encode() + b":" + g, b"skw:ok:{" + VIEW.encode() + b"}:" + g]
    return {k for c in clients for p in patterns for k in c.scan_iter(match=p, count=5000)}


def pttls(clients: list[Any], gen: bytes) -> dict[bytes, int]:
    """PTTL of each key of the generation, asked of the node that holds it."""
    out: dict[bytes, int] = {}
    for c in clients:
        mine = sorted(data_keys([c], gen))
        pipe = c.pipeline(transaction=False)
        for k in mine:
            pipe.pttl(k)
        out.update(zip(mine, pipe.execute(), strict=True))
    return out


def with_ttl(reg: Registry, ttl: timedelta) -> Registry:
    return Registry({VIEW: dataclasses.replace(reg.view(VIEW), ttl=ttl)})


def test_a_finished_load_leaves_no_guard_expiry(redis_url: str, tmp_path: Path) -> None:
    users = 4000
    db = build_duckdb(tmp_path / "faults.duckdb", users)
    client = connect(redis_url)
    raw = redis.Redis.from_url(redis_url)
    for reg in (make_registry(), with_ttl(make_registry(), timedelta(days=400))):
        (res,) = materialize(reg, client, db, now=NOON, chunk_rows=700)
        gen = res.generation.encode()
        found = data_keys([raw], gen)
        assert len(found) == users + 1  # the data keys and the generation's sentinel
        ttl = pttls([raw], gen)
        sentinel = keys.sentinel_key(VIEW, gen)
        assert ttl.pop(sentinel) == -1
        if reg.view(VIEW).ttl is None:
            assert set(ttl.values()) == {-1}
        else:  # PXAT timestamp (10:00) + 400 days, as before the guard
            expires_at = int(NOON.timestamp() * 1000) - 2 * 3600_000 + 400 * 86400_000
            now_ms = int(time.time() * 1000)
            assert all(abs(t - (expires_at - now_ms)) < 60_000 for t in ttl.values())
        assert raw.pttl(keys.gen_keys_key(VIEW, gen)) == -1
        store = FeatureStore(reg, connect(redis_url), redis_url)
        check_all_served(store, users)


def test_a_finished_cluster_load_leaves_no_guard_expiry(
    cluster: list[list[Any]],  # noqa: F811
    tmp_path: Path,
) -> None:
    users = 3000
    db = build_duckdb(tmp_path / "faults.duckdb", users)
    url = f"redis://127.0.0.1:{cluster[0][1]}/0?cluster=true"
    client = connect(url)
    nodes = [redis.Redis(port=n[1]) for n in cluster]
    (res,) = materialize(make_registry(), client, db, now=NOON, chunk_rows=1000)
    found = data_keys(nodes, res.generation.encode())
    assert len(found) == users + keys.CLUSTER_SLOTS  # data keys and one sentinel per slot
    assert set(pttls(nodes, res.generation.encode()).values()) == {-1}
    assert client.pttl(keys.gen_keys_key(VIEW, res.generation)) == -1
    check_all_served(FeatureStore(make_registry(), client, url), users)


def test_a_killed_load_expires_by_itself(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kill -9 mid-write, and no load after it: every key of the dead generation expires within
    the guard (2 s here), its key list soon after; the served generation is untouched."""
    users = 60_000
    db = build_duckdb(tmp_path / "faults.duckdb", users)
    reg = make_registry()
    client = connect(redis_url)
    raw = redis.Redis.from_url(redis_url)
    (first,) = materialize(reg, client, db, now=NOON)
    monkeypatch.setenv(generations.UNFINISHED_TTL_ENV, "2")
    loader = spawn_loader(redis_url, db, chunk_rows=3000, wait=5)
    started = time.monotonic()
    gen = None
    while gen is None or client.llen(keys.gen_keys_key(VIEW, gen)) < users // 3:
        assert loader.poll() is None, "the loader finished before it could be killed"
        assert time.monotonic() - started < 60
        gen = next(iter(client.smembers(keys.loading_key(VIEW))), None)
        time.sleep(0.001)
    loader.send_signal(signal.SIGKILL)
    loader.wait()
    left = data_keys([raw], gen)
    assert left, "the loader was killed before it wrote a key"
    ttl = pttls([raw], gen)
    assert all(0 < t <= 2000 for t in ttl.values()), sorted(set(ttl.values()))[:5]
    list_ttl = raw.pttl(keys.gen_keys_key(VIEW, gen))
    assert 0 < list_ttl <= 4000
    time.sleep(list_ttl / 1000 + 0.3)
    assert data_keys([raw], gen) == set()
    assert raw.exists(keys.gen_keys_key(VIEW, gen)) == 0
    # the served generation kept everything, and the next load tidies the bookkeeping
    assert len(data_keys([raw], first.generation.encode())) == users + 1
    check_all_served(FeatureStore(reg, connect(redis_url), redis_url), users)
    monkeypatch.delenv(generations.UNFINISHED_TTL_ENV)
    (rerun,) = materialize(reg, client, db, now=NOON)
    assert gen.decode() in rerun.deleted_generations
    figures = audit(client)
    assert figures["orphans"] == 0 and figures["unfinished"] == 0, figures


@pytest.mark.parametrize("fault", ["outlives the guard", "a key is lost"])
def test_a_load_that_loses_keys_before_its_flip_is_not_flipped(
    fault: str, redis_url: str, tmp_path: Path
) -> None:
    users = 5000
    db = build_duckdb(tmp_path / "faults.duckdb", users)
    reg = make_registry()
    client = connect(redis_url)
    raw = redis.Redis.from_url(redis_url)
    (first,) = materialize(reg, client, db, now=NOON)
    faulted: list[bytes] = []

    def progress(view: Any, done: int, total: int) -> None:
        if faulted or done < 1000:
            return
        (gen,) = client.smembers(keys.loading_key(VIEW))
        faulted.append(gen)
        if fault == "outlives the guard":
            time.sleep(1.3)
        else:
            victim = client.lindex(keys.gen_keys_key(VIEW, gen), 10)
            assert raw.delete(victim) == 1

    guard = 1 if fault == "outlives the guard" else None  # else the default (24 h)
    with pytest.raises(GuardExpiredError) as info:
        materialize(
            reg, client, db, now=NOON, chunk_rows=500, progress=progress, unfinished_ttl=guard
        )
    message = str(info.value)
    assert f"feature view `{VIEW}`" in message and "SKEWLESS_UNFINISHED_TTL" in message
    assert "the previous generation still is" in message
    assert faulted
    (gen,) = faulted
    if fault == "a key is lost":
        assert f"1 of the {users + 1:,} keys of generation {gen.decode()}" in message
    # nothing flipped: the first generation is served whole; nothing of the failed one is left
    assert client.get(keys.pointer_key(VIEW, reg.view(VIEW).version)) == first.generation.encode()
    check_all_served(FeatureStore(reg, connect(redis_url), redis_url), users)
    assert data_keys([raw], gen) == set()
    figures = audit(client)
    assert figures["orphans"] == 0 and figures["unfinished"] == 0, figures
    assert len(scan_all([raw])) == figures["keys"]


def test_the_guard_setting_is_checked(redis_url: str, tmp_path: Path) -> None:
    db = build_duckdb(tmp_path / "faults.duckdb", 10)
    client = connect(redis_url)
    for bad in (0, -5, "soon", float("inf"), True):
        with pytest.raises(SkewlessError, match=r"unfinished_ttl = .*number of seconds >= 1"):
            materialize(make_registry(), client, db, now=NOON, unfinished_ttl=bad)  # type: ignore[arg-type]
    assert client.get(keys.pointer_key(VIEW, make_registry().view(VIEW).version)) is None


def test_cli_unfinished_ttl(redis_url: str, built: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--unfinished-ttl` / SKEWLESS_UNFINISHED_TTL: checked as a usage error (exit 2, naming
    the option); a load with it flips and leaves no guard expiry on the served generation."""
    from test_faults_loader import run_cli

    monkeypatch.setenv("SKEWLESS_PROJECT_DIR", str(built.dir))
    monkeypatch.setenv("SKEWLESS_DUCKDB_PATH", str(built.duckdb))
    monkeypatch.setenv("SKEWLESS_REDIS_URL", redis_url)
    load = ["materialize", "-s", "events", "--now", NOON.isoformat()]
    code, _out, err = run_cli(*load, "--unfinished-ttl", "0.5")
    assert code == 2 and "--unfinished-ttl" in err and "0.5" in err, err
    monkeypatch.setenv("SKEWLESS_UNFINISHED_TTL", "soon")
    code, _out, err = run_cli(*load)
    assert code == 2 and "unfinished-ttl" in err and "soon" in err, err
    monkeypatch.setenv("SKEWLESS_UNFINISHED_TTL", "5")
    code, _out, err = run_cli(*load)
    assert code == 0, err
    raw = redis.Redis.from_url(redis_url)
    version = Registry.from_manifest(built.manifest).view("events").version
    gen = raw.get(keys.pointer_key("events", version))
    assert gen is not None
    listed = raw.lrange(keys.gen_keys_key("events", gen), 0, -1)
    pipe = raw.pipeline(transaction=False)
    for k in listed:
        pipe.pttl(k)
    ttls = pipe.execute()
    assert listed and -2 not in ttls  # every listed key was written and is still there
    assert raw.pttl(keys.gen_keys_key("events", gen)) == -1
    assert raw.pttl(keys.sentinel_key("events", gen)) == -1
