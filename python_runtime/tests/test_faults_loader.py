"""The loader under faults, against real Redis servers (issue 10: items 1-3 of the fault suite).

- two loaders of one view at once: one waits for the other's lease (or is refused, naming it);
  a loader paused past its lease (SIGSTOP) is fenced out: it neither flips nor deletes;
- kill -9 of a loader subprocess at random points, mid-buffer included, and buffers cut at
  random byte offsets: the next load leaves 0 orphan keys (counted with SCAN);
- a Redis Cluster node restarted empty: values it lost are `unavailable` (or an error), never
  `missing`, and `skewless features` reports the generation incomplete.

While the loaders run, serving threads read every entity and count calls, `missing` values and
wrong values (every row stores `user_id * 7 + 1`). Each test records its figures as a summary
line in the test report.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import redis
from conftest import RedisServer, free_port

from skewless.definitions import Feature, FeatureView
from skewless.definitions.registry import Registry
from skewless.errors import LeaseHeldError, LeaseLostError, StoreUnavailableError
from skewless.online import generations, keys
from skewless.online.connection import connect
from skewless.online.lease import Lease
from skewless.online.materialize import materialize
from skewless.online.store import FeatureStore

NOON = datetime(2099, 1, 1, 12, tzinfo=timezone.utc)
VIEW = "scores"
HERE = Path(__file__).resolve().parent


def make_registry() -> Registry:
    """One view, no ttl (so nothing a loader leaves behind ever expires by itself)."""
    view = FeatureView(
        name=VIEW,
        unique_id=f"model.faults.{VIEW}",
        relation_name=f'"faults"."main"."{VIEW}"',
        entity=("user_id",),
        entity_types=("BIGINT",),
        timestamp="ts",
        ttl=None,
        available_after=timedelta(0),
        freshness=None,
        on_stale="serve",
        features=(Feature(view=VIEW, name="val", data_type="bigint"),),
        version="v1",
        database="faults",
        schema="main",
        alias=VIEW,
    )
    return Registry({VIEW: view})


def build_duckdb(path: Path, users: int) -> Path:
    import duckdb

    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    con.execute(
        f"CREATE TABLE {VIEW} AS SELECT range::BIGINT AS user_id, "
        "TIMESTAMPTZ '2099-01-01 10:00:00+00' AS ts, (range * 7 + 1)::BIGINT AS val "
        f"FROM range(1, {users + 1})"
    )
    con.close()
    return path


# the loader subprocess: `python -c LOADER <redis url> <duckdb> <chunk rows>`
LOADER = f"""
import sys
from datetime import datetime, timezone
sys.path.insert(0, {str(HERE)!r})
from test_faults_loader import make_registry, NOON
from skewless.online.connection import connect
from skewless.online.materialize import materialize
materialize(make_registry(), connect(sys.argv[1]), sys.argv[2], now=NOON,
            chunk_rows=int(sys.argv[3]), lease_ttl=float(sys.argv[4]), wait=float(sys.argv[5]))
"""


def spawn_loader(
    url: str, db: Path, chunk_rows: int, lease_ttl: float = 1.0, wait: float = 0.0
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", LOADER, url, str(db), str(chunk_rows), str(lease_ttl), str(wait)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "TZ": "UTC"},
    )


def scan_all(clients: list[Any]) -> set[bytes]:
    return {k for c in clients for k in c.scan_iter(match=b"skw:*", count=2000)}


def audit(client: Any, nodes: list[Any] | None = None) -> dict[str, int]:
    """Orphans: `skw:*` keys (SCAN, every node) that are neither bookkeeping nor listed in the
    key list of a generation the view still registers. Also counts unfinished generations and
    registered generations beyond the served one and its grace."""
    found = scan_all(nodes or [client])
    version = make_registry().view(VIEW).version
    allowed = {
        keys.meta_key(VIEW),
        keys.genseq_key(VIEW),
        keys.gens_key(VIEW),
        keys.genver_key(VIEW),
        keys.retired_key(VIEW),
        keys.loading_key(VIEW),
        keys.lease_key(VIEW),
        keys.pointer_key(VIEW, version),
    }
    gens = client.lrange(keys.gens_key(VIEW), 0, -1)
    for g in gens:
        allowed.add(keys.gen_keys_key(VIEW, g))
        allowed.update(client.lrange(keys.gen_keys_key(VIEW, g), 0, -1))
    return {
        "orphans": len(found - allowed),
        "unfinished": client.scard(keys.loading_key(VIEW)),
        "generations": len(gens),
        "keys": len(found),
    }


class Readers:
    """Serving threads reading every entity in batches while faults happen."""

    def __init__(self, store: FeatureStore, users: int, threads: int = 2, **call: Any):
        self.store, self.users, self.call = store, users, call
        self.calls = self.wrong = self.missing = self.present = self.errors = 0
        self.error_types: set[str] = set()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i,)) for i in range(threads)]

    def _run(self, seed: int) -> None:
        rnd = random.Random(seed)
        while not self._stop.is_set():
            ents = [{"user_id": rnd.randint(1, self.users)} for _ in range(50)]
            try:
                resp = self.store.get_online_features([f"{VIEW}.val"], ents, now=NOON, **self.call)
            except Exception as e:  # counted: the suite asserts which kinds may happen
                with self._lock:
                    self.errors += 1
                    self.error_types.add(type(e).__name__)
                continue
            wrong = missing = present = 0
            for e, (v,), st in zip(ents, resp.values, resp.statuses, strict=True):
                s = st[f"{VIEW}.val"]
                if s == "present":
                    present += 1
                    wrong += v != e["user_id"] * 7 + 1
                elif s == "missing":
                    missing += 1
            with self._lock:
                self.calls += 1
                self.wrong += wrong
                self.missing += missing
                self.present += present

    def __enter__(self) -> Readers:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(30)


def check_all_served(store: FeatureStore, users: int) -> None:
    ents = [{"user_id": u} for u in range(1, users + 1)]
    for i in range(0, users, 5000):
        resp = store.get_online_features([f"{VIEW}.val"], ents[i : i + 5000], now=NOON)
        assert {s[f"{VIEW}.val"] for s in resp.statuses} == {"present"}
        assert [v for (v,) in resp.values] == [e["user_id"] * 7 + 1 for e in ents[i : i + 5000]]


def summary(request: pytest.FixtureRequest, text: str) -> None:
    request.node.user_properties.append(("summary", f"{request.node.name}: {text}"))


# ---------------------------------------------------------------------------------------------
# One loader per view


def test_two_concurrent_loaders_one_waits_for_the_other(
    redis_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    users = 60_000
    db = build_duckdb(tmp_path / "faults.duckdb", users)
    reg = make_registry()
    client = connect(redis_url)
    materialize(reg, client, db, now=NOON)
    store = FeatureStore(reg, connect(redis_url), redis_url)
    results: dict[str, Any] = {}

    def load(name: str) -> None:
        try:
            results[name] = materialize(
                reg, connect(redis_url), db, now=NOON, chunk_rows=2000, wait=60
            )[0]
        except Exception as e:  # pragma: no cover - reported by the assertion below
            results[name] = e

    with Readers(store, users) as readers:
        threads = [threading.Thread(target=load, args=(n,)) for n in "AB"]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    a, b = results["A"], results["B"]
    assert not isinstance(a, Exception) and not isinstance(b, Exception), (a, b)
    assert {a.generation, b.generation} == {"2", "3"} and a.rows == b.rows == users
    check_all_served(store, users)
    figures = audit(client)
    assert figures["orphans"] == 0 and figures["unfinished"] == 0, figures
    assert figures["generations"] <= 2  # the served one and its grace
    assert readers.calls > 0 and readers.wrong == 0 and readers.missing == 0, vars(readers)
    assert readers.errors == 0, readers.error_types
    summary(
        request,
        f"calls {readers.calls}, wrong 0, missing 0, orphan keys {figures['orphans']}",
    )


def test_a_second_loader_is_refused_at_once_naming_the_holder(
    redis_url: str, tmp_path: Path
) -> None:
    db = build_duckdb(tmp_path / "faults.duckdb", 20_000)
    reg = make_registry()
    paused, resume = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def progress(_view: Any, _done: int, _total: int) -> None:
        paused.set()
        resume.wait(30)

    def first() -> None:
        try:
            materialize(reg, connect(redis_url), db, now=NOON, chunk_rows=5000, progress=progress)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    holder = threading.Thread(target=first)
    holder.start()
    try:
        assert paused.wait(30)
        started = time.monotonic()
        with pytest.raises(LeaseHeldError) as err:
            materialize(reg, connect(redis_url), db, now=NOON)
        assert time.monotonic() - started < 2  # at once, not after a wait
        message = str(err.value)
        assert f"feature view `{VIEW}` is being loaded" in message
        assert f"pid {os.getpid()}" in message and f"host {socket.gethostname()}" in message
        assert "--wait" in message and "expires in" in message
        assert err.value.holder["pid"] == os.getpid()
        # bounded wait: refused after about the time given
        started = time.monotonic()
        with pytest.raises(LeaseHeldError, match=r"waited 0\.[3-9]s"):
            materialize(reg, connect(redis_url), db, now=NOON, wait=0.4)
        assert time.monotonic() - started < 2
    finally:
        resume.set()
        holder.join(60)
    assert not errors
    assert audit(connect(redis_url))["orphans"] == 0


def test_a_loader_paused_past_its_lease_is_fenced_out(
    redis_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The bug of issue 10: loader A pauses, B takes over and finishes, A resumes. A must not
    flip its pointer to the generation B deleted (nor delete B's): 0 `missing` after both."""
    users = 120_000
    db = build_duckdb(tmp_path / "faults.duckdb", users)
    reg = make_registry()
    client = connect(redis_url)
    store = FeatureStore(reg, connect(redis_url), redis_url)
    a = spawn_loader(redis_url, db, chunk_rows=500, lease_ttl=1.0)
    try:
        deadline = time.monotonic() + 60
        while client.llen(keys.gen_keys_key(VIEW, "1")) < 5000:
            assert a.poll() is None, a.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.002)
        a.send_signal(signal.SIGSTOP)  # paused mid-load, its lease (1 s) not renewed
        (b,) = materialize(reg, client, db, now=NOON, wait=10)
        assert b.generation == "2" and "1" in b.deleted_generations  # A's, left unfinished
    finally:
        a.send_signal(signal.SIGCONT)
    with Readers(store, users) as readers:
        _out, err = a.communicate(timeout=60)
    assert a.returncode != 0 and b"LeaseLostError" in err, err.decode()[-2000:]
    assert b"lease is no longer held" in err
    assert client.get(keys.pointer_key(VIEW, "v1")) == b"2"  # A never flipped
    check_all_served(store, users)
    figures = audit(client)
    assert figures == {**figures, "orphans": 0, "unfinished": 0, "generations": 1}, figures
    assert readers.wrong == 0 and readers.missing == 0 and readers.errors == 0
    summary(request, f"calls {readers.calls}, wrong 0, missing 0, orphan keys 0")


def test_every_fenced_step_refuses_a_stale_lease(redis_url: str, tmp_path: Path) -> None:
    """Flip, registration, meta and deletes each check the lease in the same script."""
    db = build_duckdb(tmp_path / "faults.duckdb", 1000)
    reg = make_registry()
    client = connect(redis_url)
    (first,) = materialize(reg, client, db, now=NOON)
    stale = b'{"token":"not-the-holder"}'
    with Lease.acquire(client, VIEW, ttl=30) as lease:
        pointer = keys.pointer_key(VIEW, "v1")
        before = scan_all([client])
        gen = generations.register(client, lease.value, VIEW, "v1")
        for step in (
            lambda: generations.register(client, stale, VIEW, "v1"),
            lambda: generations.flip(client, stale, VIEW, gen, "v1", {"generation": "x"}),
            lambda: generations.set_meta(client, stale, VIEW, {"rows": "0"}),
            lambda: generations.delete_generation(client, stale, VIEW, first.generation.encode()),
        ):
            with pytest.raises(LeaseLostError, match="no longer held"):
                step()
        assert client.get(pointer) == first.generation.encode()
        assert before <= scan_all([client])  # nothing deleted
        # the holder's own flip works, and a flip to a generation deleted meanwhile is refused
        generations.delete_generation(client, lease.value, VIEW, gen)
        with pytest.raises(LeaseLostError, match=f"generation {gen.decode()} was deleted"):
            generations.flip(client, lease.value, VIEW, gen, "v1", {"generation": "x"})
    check_all_served(FeatureStore(reg, client, redis_url), 1000)


# ---------------------------------------------------------------------------------------------
# No key written before it is recorded


def test_kill_9_at_random_points_leaves_no_orphans(
    redis_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    users = 60_000
    db = build_duckdb(tmp_path / "faults.duckdb", users)
    reg = make_registry()
    client = connect(redis_url)
    materialize(reg, client, db, now=NOON)
    store = FeatureStore(reg, connect(redis_url), redis_url)
    rnd = random.Random(10)
    killed_mid_write = killed_mid_buffer = 0
    with Readers(store, users, threads=1) as readers:
        for round_ in range(6):
            chunk = rnd.choice([3000, 20000])
            loader = spawn_loader(redis_url, db, chunk_rows=chunk, wait=5)
            started = time.monotonic()
            # the kill point: right after the lease (before any buffer) in the first round,
            # else once a random number of keys is listed (mid-buffer or between buffers)
            target = 0 if round_ == 0 else rnd.randrange(1, users - chunk)
            gen = None
            while True:
                assert loader.poll() is None, "the loader finished before it could be killed"
                assert time.monotonic() - started < 60
                if gen is None:
                    gen = next(iter(client.smembers(keys.loading_key(VIEW))), None)
                if gen is not None and client.llen(keys.gen_keys_key(VIEW, gen)) >= target:
                    break
                time.sleep(0.001)
            loader.send_signal(signal.SIGKILL)
            loader.wait()
            listed = client.llen(keys.gen_keys_key(VIEW, gen))
            written = sum(
                1 for _ in client.scan_iter(match=b"skw:{*}:%s:%s" % (VIEW.encode(), gen))
            )
            assert written <= listed  # never a key written before it was listed
            killed_mid_write += listed > 0
            killed_mid_buffer += written < listed  # a buffer listed, its SETs not all run
            (rerun,) = materialize(reg, client, db, now=NOON, wait=10)
            assert rerun.rows == users and gen.decode() in rerun.deleted_generations
            figures = audit(client)
            assert figures["orphans"] == 0 and figures["unfinished"] == 0, figures
    assert killed_mid_write >= 5
    check_all_served(store, users)
    assert readers.wrong == 0 and readers.missing == 0 and readers.errors == 0, vars(readers)
    summary(
        request,
        f"6 kills ({killed_mid_write} mid-write, {killed_mid_buffer} mid-buffer), calls "
        f"{readers.calls}, wrong 0, missing 0, orphan keys 0",
    )


def test_a_buffer_cut_at_any_byte_leaves_only_recorded_keys(redis_url: str, tmp_path: Path) -> None:
    """A write buffer delivered in part (its loader killed mid-send) has its record script
    first: whatever prefix Redis ran, no data key exists that is not listed for deletion."""
    from skewless.offline.duckdb import open_duckdb
    from skewless.online.materialize import _encode_batch, latest_rows_sql

    users = 3000
    db = build_duckdb(tmp_path / "faults.duckdb", users)
    reg = make_registry()
    view = reg.view(VIEW)
    client = connect(redis_url)
    host, port = (
        client.connection_pool.connection_kwargs["host"],
        client.connection_pool.connection_kwargs["port"],
    )
    duck = open_duckdb(db, [view])
    rnd = random.Random(7)
    for _cut in range(8):
        lease = Lease.acquire(client, VIEW, ttl=0.2)  # a loader that dies: never released
        gen = generations.register(client, lease.value, VIEW, view.version)
        sql = latest_rows_sql(view, 4102488000000000, None, gen, None)
        batch = duck.sql(sql).to_arrow_table().to_batches(max_chunksize=users)[0]
        head = generations.record_command_head(VIEW, gen, view.version, lease.value, 200)
        payload, _replies, _ts, _args = _encode_batch(batch, head)
        cut = rnd.randrange(len(payload))
        with socket.create_connection((host, port)) as sock:
            sock.sendall(payload[:cut])
            addr = "{}:{}".format(*sock.getsockname()[:2])
        # Redis runs whatever complete commands arrived before the connection closed
        deadline = time.monotonic() + 5
        while any(c["addr"] == addr for c in client.client_list()):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        written = set(client.scan_iter(match=b"skw:{*}:" + VIEW.encode() + b":" + gen, count=2000))
        listed = set(client.lrange(keys.gen_keys_key(VIEW, gen), 0, -1))
        assert written <= listed, f"cut at {cut}/{len(payload)}: {len(written - listed)} unlisted"
        (rerun,) = materialize(reg, client, db, now=NOON, wait=5)
        assert gen.decode() in rerun.deleted_generations
        figures = audit(client)
        assert figures["orphans"] == 0 and figures["unfinished"] == 0, figures
    duck.close()


# ---------------------------------------------------------------------------------------------
# A Redis Cluster node restarted empty


@pytest.fixture()
def cluster(tmp_path: Path) -> Iterator[list[list[Any]]]:
    """Three masters whose cluster config lives in `tmp_path`, so one can be restarted empty
    (same port, same node id and slots, no data). Yields [server, port, bus, conf] per node."""
    nodes: list[list[Any]] = []

    def start(port: int, bus: int, conf: Path) -> RedisServer:
        return RedisServer(
            "--cluster-enabled", "yes", "--cluster-port", str(bus),
            "--cluster-config-file", str(conf), "--cluster-node-timeout", "5000", port=port,
        )  # fmt: skip

    try:
        for i in range(3):
            port, bus = free_port(), free_port()
            conf = tmp_path / f"nodes-{i}.conf"
            nodes.append([start(port, bus, conf), port, bus, conf])
        clients = [redis.Redis(port=n[1]) for n in nodes]
        for c, (lo, hi) in zip(clients, [(0, 5460), (5461, 10922), (10923, 16383)], strict=True):
            c.execute_command("CLUSTER", "ADDSLOTSRANGE", lo, hi)
        for n in nodes[1:]:
            clients[0].execute_command("CLUSTER", "MEET", "127.0.0.1", n[1], n[2])
        wait_cluster_ok(clients)
        nodes[0].append(start)
        yield nodes
    finally:
        for n in nodes:
            n[0].stop()


def wait_cluster_ok(clients: list[Any]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if all(b"cluster_state:ok" in c.execute_command("CLUSTER", "INFO") for c in clients):
                return
        except redis.ConnectionError:
            pass
        assert time.monotonic() < deadline, "the test cluster did not converge"
        time.sleep(0.05)


def restart_empty(nodes: list[list[Any]], i: int) -> None:
    server, port, bus, conf = nodes[i][:4]
    server.proc.kill()  # kill -9: no persistence, so it comes back with nothing
    server.proc.wait()
    nodes[i][0] = nodes[0][4](port, bus, conf)
    wait_cluster_ok([redis.Redis(port=n[1]) for n in nodes])


def test_a_cluster_node_restarted_empty_is_unavailable_never_missing(
    cluster: list[list[Any]], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from redis.crc import key_slot

    from skewless.cli.features import generation_health

    users = 3000
    db = build_duckdb(tmp_path / "faults.duckdb", users)
    reg = make_registry()
    url = f"redis+cluster://127.0.0.1:{cluster[0][1]}/0"
    client = connect(url)
    (loaded,) = materialize(reg, client, db, now=NOON)
    gen = loaded.generation.encode()
    store = FeatureStore(reg, connect(url), url)
    check_all_served(store, users)
    assert generation_health(client, VIEW, gen) == (keys.CLUSTER_SLOTS, keys.CLUSTER_SLOTS)

    def owner(slot: int) -> int:
        return next(i for i, (lo, hi) in enumerate([(0, 5460), (5461, 10922), (10923, 16383)])
                    if lo <= slot <= hi)  # fmt: skip

    home = owner(key_slot(keys.pointer_key(VIEW, "v1")))
    data_node = (home + 1) % 3
    lost_users = {
        u
        for u in range(1, users + 1)
        if owner(key_slot(keys.data_key(VIEW, keys.encode_entity(("int",), (u,)), gen)))
        == data_node
    }
    restart_empty(cluster, data_node)

    ents = [{"user_id": u} for u in range(1, users + 1)]
    # policy raise (the default): an error naming the view, never a silent `missing`
    with pytest.raises(StoreUnavailableError, match=f"`{VIEW}` \\(generation {gen.decode()}\\)"):
        store.get_online_features([f"{VIEW}.val"], ents, now=NOON)
    unavailable = missing = present = 0
    for fresh in (store, FeatureStore(reg, connect(url), url)):  # cached and new readers alike
        resp = fresh.get_online_features([f"{VIEW}.val"], ents, now=NOON, on_store_error="defaults")
        for e, (v,), st, why in zip(ents, resp.values, resp.statuses, resp.reasons, strict=True):
            status = st[f"{VIEW}.val"]
            if e["user_id"] in lost_users:
                assert (status, v, why[f"{VIEW}.val"]) == ("unavailable", None, "unavailable")
                unavailable += 1
            else:
                assert (status, v) == ("present", e["user_id"] * 7 + 1)
                present += 1
            missing += status == "missing"
    assert missing == 0 and unavailable == 2 * len(lost_users) > 0
    # the entities on the healthy nodes still serve under the default policy
    healthy = [e for e in ents if e["user_id"] not in lost_users][:100]
    assert store.get_online_features([f"{VIEW}.val"], healthy, now=NOON).values[0] == [
        healthy[0]["user_id"] * 7 + 1
    ]
    intact, total = generation_health(client, VIEW, gen)
    assert total == keys.CLUSTER_SLOTS and 0 < intact < total

    # a new load repairs it and leaves no orphan (the lost generation's list was intact)
    (repaired,) = materialize(reg, connect(url), db, now=NOON)
    check_all_served(FeatureStore(reg, connect(url), url), users)
    check_all_served(store, users)
    per_node = [redis.Redis(port=n[1]) for n in cluster]
    figures = audit(connect(url), per_node)
    assert figures["orphans"] == 0 and figures["unfinished"] == 0, figures

    # the node holding the view's bookkeeping (its pointer) restarted empty: a reader that had
    # seen the pointer marks every absent value unavailable
    restart_empty(cluster, home)
    resp = store.get_online_features([f"{VIEW}.val"], ents, now=NOON, on_store_error="defaults")
    statuses = [s[f"{VIEW}.val"] for s in resp.statuses]
    assert "missing" not in statuses and "unavailable" in statuses
    # the generation counter was lost with it: the next load must not reuse an id whose keys
    # survive on the other nodes (it would serve them as its own)
    (again,) = materialize(reg, connect(url), db, now=NOON)
    assert int(again.generation) > 10**12  # jumped to the server clock
    check_all_served(FeatureStore(reg, connect(url), url), users)
    check_all_served(store, users)
    # the key list of the generation served before was on the lost node: its keys on the other
    # nodes are left over (docs/operations.md: how to sweep them), and only those
    leftover = [
        k
        for k in scan_all(per_node)
        if not k.endswith(b":" + again.generation.encode())
        and b":" + again.generation.encode() + b":" not in k
        and b"{" + VIEW.encode() + b"}" not in k
    ]
    # (the generations listed there: the one served and its grace)
    assert leftover and all(int(k.rsplit(b":", 1)[1]) <= int(repaired.generation) for k in leftover)
    summary(
        request,
        f"{len(lost_users)} of {users} entities on the restarted node: unavailable "
        f"{unavailable}, missing 0, present {present}; generation {repaired.generation} repairs",
    )


def test_a_plain_redis_restarted_empty_is_unavailable_never_missing(tmp_path: Path) -> None:
    """On a plain Redis the pointer is the sentinel: a reader that had seen it serves nothing
    of the view as `missing` once it is gone; a new reader is told it may have been lost."""
    from skewless.errors import NotMaterializedError

    db = build_duckdb(tmp_path / "faults.duckdb", 500)
    reg = make_registry()
    server = RedisServer()
    try:
        store = FeatureStore(reg, connect(server.url), server.url)
        materialize(reg, connect(server.url), db, now=NOON)
        check_all_served(store, 500)
        port = server.port
        server.proc.kill()
        server.proc.wait()
        server = RedisServer(port=port)
        ents = [{"user_id": u} for u in (1, 2, 3)]
        with pytest.raises(StoreUnavailableError, match="generation pointer is gone"):
            store.get_online_features([f"{VIEW}.val"], ents, now=NOON)
        resp = store.get_online_features([f"{VIEW}.val"], ents, now=NOON, on_store_error="defaults")
        assert [s[f"{VIEW}.val"] for s in resp.statuses] == ["unavailable"] * 3
        assert resp.values == [[None]] * 3
        with pytest.raises(NotMaterializedError, match="or Redis lost it"):
            FeatureStore(reg, connect(server.url), server.url).get_online_features(
                [f"{VIEW}.val"], ents, now=NOON
            )
        materialize(reg, connect(server.url), db, now=NOON)  # a reload repairs it
        check_all_served(store, 500)
    finally:
        server.stop()


# ---------------------------------------------------------------------------------------------
# The command line: `skewless features` on a store that lost data, `materialize` vs a lease


def run_cli(*args: str) -> tuple[int, str, str]:
    from click.testing import CliRunner

    from skewless.cli import main

    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture()
def cli_env(built: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The serving fixture project (conftest `built`) as the CLI's project."""
    monkeypatch.setenv("SKEWLESS_PROJECT_DIR", str(built.dir))
    monkeypatch.setenv("SKEWLESS_DUCKDB_PATH", str(built.duckdb))
    monkeypatch.setenv("SKEWLESS_TARGET_PATH", "target")
    return built


LOAD_EVENTS = ["materialize", "-s", "events", "--now", NOON.isoformat()]


def features_json() -> dict[str, dict[str, Any]]:
    code, out, err = run_cli("features", "--json")
    assert code == 0, err
    return {r["view"]: r for r in json.loads(out)}


def check_incomplete(total: int) -> None:
    """`features` says INCOMPLETE (table, warning) and `--json` "incomplete" for `events`."""
    record = features_json()["events"]
    assert record["online_status"] == "incomplete", record
    assert record["sentinels_total"] == total and record["sentinels_intact"] < total, record
    code, out, err = run_cli("features")
    assert code == 0, err
    (row,) = [line for line in out.splitlines() if line.split()[:1] == ["events"]]
    assert row.split()[7] == "INCOMPLETE", row  # the `online` column
    assert "warning: `events`: Redis lost part of the generation served" in err, err
    assert "skewless materialize --select events" in err, err


def test_cli_features_reports_a_plain_redis_generation_incomplete(
    cli_env: Any, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a plain Redis the generation's one sentinel gone (its data with it: a FLUSH of part
    of the keyspace, a key eviction) is what `features` reports."""
    monkeypatch.setenv("SKEWLESS_REDIS_URL", redis_url)
    assert run_cli(*LOAD_EVENTS)[0] == 0
    record = features_json()["events"]
    assert record["online_status"] == "current" and record["sentinels_intact"] == 1, record
    redis.Redis.from_url(redis_url).delete(keys.sentinel_key("events", record["generation"]))
    check_incomplete(1)
    assert run_cli(*LOAD_EVENTS)[0] == 0  # a reload repairs it
    assert features_json()["events"]["online_status"] == "current"


def test_cli_features_reports_a_cluster_node_restarted_empty(
    cluster: list[list[Any]], cli_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from redis.crc import key_slot

    monkeypatch.setenv("SKEWLESS_REDIS_URL", f"redis+cluster://127.0.0.1:{cluster[0][1]}/0")
    assert run_cli(*LOAD_EVENTS)[0] == 0
    record = features_json()["events"]
    assert record["online_status"] == "current", record
    assert record["sentinels_intact"] == record["sentinels_total"] == keys.CLUSTER_SLOTS
    # a node other than the one holding the view's bookkeeping (else it is never materialized)
    home = key_slot(keys.meta_key("events"))
    lost = next(
        i for i, (lo, hi) in enumerate([(0, 5460), (5461, 10922), (10923, 16383)])
        if not lo <= home <= hi
    )  # fmt: skip
    restart_empty(cluster, lost)
    check_incomplete(keys.CLUSTER_SLOTS)


def _error_line(code: int, err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error: ")]
    assert code == 1 and len(errors) == 1 and lines[-1] == errors[0], (code, err)
    assert "Traceback" not in err
    return errors[0]


def test_cli_materialize_while_another_loader_holds_the_lease(
    cli_env: Any, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without `--wait`: one line naming the holder, exit 1, at once. With `--wait`: done once
    the holder releases (within `--wait-timeout`), or one line after it."""
    monkeypatch.setenv("SKEWLESS_REDIS_URL", redis_url)
    with Lease.acquire(connect(redis_url), "events", ttl=30) as lease:
        started = time.monotonic()
        line = _error_line(*run_cli(*LOAD_EVENTS)[::2])
        assert time.monotonic() - started < 2
        assert "feature view `events` is being loaded" in line, line
        assert f"pid {os.getpid()}" in line and f"host {socket.gethostname()}" in line, line
        assert "--wait" in line, line
        # a wait shorter than the holder's: refused after about that long
        started = time.monotonic()
        line = _error_line(*run_cli(*LOAD_EVENTS, "--wait", "--wait-timeout", "0.5")[::2])
        assert 0.45 <= time.monotonic() - started < 2.5 and "waited 0.5s" in line, line
        # the holder releases after 1 s: a waiting load then runs
        release = threading.Timer(1.0, lease.release)
        release.start()
        started = time.monotonic()
        code, out, err = run_cli(*LOAD_EVENTS, "--wait", "--wait-timeout", "5")
        waited = time.monotonic() - started
        release.join()
    assert code == 0 and "events" in out, err
    assert 0.9 <= waited < 5, waited
    assert features_json()["events"]["online_status"] == "current"
    assert redis.Redis.from_url(redis_url).get(keys.lease_key("events")) is None
