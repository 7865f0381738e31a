"""The online store's deadline on Redis Cluster, against a real three-node cluster (no mocks).

The cluster read path groups a call's keys by node (the cluster client's slot map) and sends
one pipelined batch per node on connections of the store's own, all before reading any reply;
each node's replies are read with the time left as the socket timeout, and nothing is re-sent
past the deadline. So:

- a paused node (SIGSTOP): a call that reads from it returns within its deadline + 10% with
  `DeadlineExceeded` (on a live connection and on a reconnect), a call that reads only from the
  other nodes is served meanwhile, and every value is right again after SIGCONT;
- a killed node under 8 serving threads: every failed call is an `OnlineStoreError` (0 foreign
  exceptions), none outlives the deadline, `on_store_error="defaults"` serves `unavailable`;
- a slot migrating (ASK) and migrated (MOVED) under a reader with the old slot map: the values
  are still right, and the reader's slot map learns the new owner.

The cluster fixture and the data helpers are the loader fault suite's (test_faults_loader).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.crc import key_slot
from test_faults_loader import NOON, VIEW, build_duckdb, check_all_served, make_registry
from test_faults_loader import cluster as cluster  # the fixture

from skewless.errors import DeadlineExceeded, OnlineStoreError
from skewless.online import keys
from skewless.online.connection import connect
from skewless.online.materialize import materialize
from skewless.online.store import FeatureStore

USERS = 600
SLOTS = [(0, 5460), (5461, 10922), (10923, 16383)]  # as the fixture assigns them
#: scheduling slack on top of deadline + 10%: a loaded CI runner with two workers
SLACK_S = 0.06
FEATURE = f"{VIEW}.val"


def owner(slot: int) -> int:
    return next(i for i, (lo, hi) in enumerate(SLOTS) if lo <= slot <= hi)


def entity_slot(user: int, gen: bytes) -> int:
    return key_slot(keys.data_key(VIEW, keys.encode_entity(("int",), (user,)), gen))


def bound(deadline_ms: float) -> float:
    """The longest a call may take: its deadline + 10%, plus scheduling slack (seconds)."""
    return deadline_ms / 1000 * 1.1 + SLACK_S


def loaded_store(
    cluster: list[list[Any]], tmp_path: Path, **options: Any
) -> tuple[FeatureStore, str, bytes]:
    db = build_duckdb(tmp_path / "faults.duckdb", USERS)
    reg = make_registry()
    url = f"redis+cluster://127.0.0.1:{cluster[0][1]}/0"
    (result,) = materialize(reg, connect(url), db, now=NOON)
    store = FeatureStore(reg, connect(url), url, **options)
    check_all_served(store, USERS)
    return store, url, result.generation.encode()


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.monotonic()
    try:
        out = call()
    except Exception as e:  # the test inspects it
        out = e
    return time.monotonic() - t0, out


def test_a_paused_cluster_node_fails_a_call_within_its_deadline(
    cluster: list[list[Any]], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    store, _url, gen = loaded_store(cluster, tmp_path, deadline_ms=300)
    home = owner(key_slot(keys.pointer_key(VIEW, "v1")))  # the view's pointer lives there
    paused = (home + 1) % 3
    on_paused = [u for u in range(1, USERS + 1) if owner(entity_slot(u, gen)) == paused]
    elsewhere = [u for u in range(1, USERS + 1) if owner(entity_slot(u, gen)) != paused]
    everyone = [{"user_id": u} for u in range(1, USERS + 1)]
    proc = cluster[paused][0].proc
    os.kill(proc.pid, signal.SIGSTOP)
    took: list[float] = []
    try:

        def fails(call: Callable[[], Any], deadline_ms: float = 300) -> None:
            elapsed, out = timed(call)
            assert isinstance(out, DeadlineExceeded), out
            assert deadline_ms / 1000 * 0.9 <= elapsed <= bound(deadline_ms), elapsed
            assert out.view == VIEW and out.operation == "serve", out
            took.append(elapsed)

        # on the live connections: the batches are sent, the paused node's replies never come
        fails(lambda: store.get_online_features([FEATURE], everyone, now=NOON))
        # then on a reconnect (the timed-out socket was dropped): its handshake never answers
        fails(lambda: store.get_online_features([FEATURE], [{"user_id": on_paused[0]}], now=NOON))
        # a per-call deadline overrides the store's
        fails(
            lambda: store.get_online_features([FEATURE], everyone, now=NOON, deadline_ms=100),
            100,
        )
        # a call reading only from the healthy nodes is served meanwhile, at once
        healthy = [{"user_id": u} for u in elsewhere[:50]]
        elapsed, resp = timed(lambda: store.get_online_features([FEATURE], healthy, now=NOON))
        assert resp.values == [[u * 7 + 1] for u in elsewhere[:50]], resp
        assert elapsed < 0.1, elapsed
        # the degraded policy answers within the deadline too
        elapsed, resp = timed(
            lambda: store.get_online_features(
                [FEATURE], everyone, now=NOON, on_store_error="defaults"
            )
        )
        assert elapsed <= bound(300), elapsed
        took.append(elapsed)
        assert {s[FEATURE] for s in resp.statuses} == {"unavailable"}
        assert resp.values == [[None]] * USERS
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    # the node answers again: every value right, on the same store (its sockets resynced)
    check_all_served(store, USERS)
    assert on_paused and elsewhere
    request.node.user_properties.append(
        (
            "summary",
            "paused cluster node: calls took "
            + ", ".join(f"{t * 1000:.0f}" for t in took)
            + " ms (deadlines 300/300/100/300 ms); healthy-node calls served meanwhile",
        )
    )


def test_a_killed_cluster_node_raises_only_online_store_errors(
    cluster: list[list[Any]], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    store, _url, _gen = loaded_store(cluster, tmp_path, deadline_ms=400)
    killed = (owner(key_slot(keys.pointer_key(VIEW, "v1"))) + 2) % 3
    cluster[killed][0].proc.kill()
    cluster[killed][0].proc.wait()
    kinds: Counter[str] = Counter()
    longest = 0.0
    lock = threading.Lock()
    stop = time.monotonic() + 1.5

    def serve(seed: int) -> None:
        nonlocal longest
        users = list(range(1 + seed, USERS + 1, 8))
        while time.monotonic() < stop:
            ents = [{"user_id": u} for u in users[:40]]
            users = users[40:] + users[:40]
            elapsed, out = timed(lambda e=ents: store.get_online_features([FEATURE], e, now=NOON))
            with lock:
                longest = max(longest, elapsed)
                if isinstance(out, OnlineStoreError):
                    kinds["OnlineStoreError"] += 1
                    assert "Traceback" not in str(out) and "\n" not in str(out)
                elif isinstance(out, Exception):
                    kinds[f"foreign {type(out).__name__}"] += 1
                else:
                    kinds["served"] += 1

    threads = [threading.Thread(target=serve, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    foreign = sum(v for k, v in kinds.items() if k.startswith("foreign"))
    assert foreign == 0, kinds
    assert kinds["OnlineStoreError"] > 0 and longest <= bound(400), (kinds, longest)
    # the call names the view; the degraded policy serves every value `unavailable`
    lost_call = [{"user_id": u} for u in range(1, USERS + 1)]
    with pytest.raises(OnlineStoreError) as info:
        store.get_online_features([FEATURE], lost_call, now=NOON)
    assert info.value.view == VIEW and "ConnectionError" in str(info.value), info.value
    resp = store.get_online_features([FEATURE], lost_call, now=NOON, on_store_error="defaults")
    assert {s[FEATURE] for s in resp.statuses} == {"unavailable"}
    request.node.user_properties.append(
        (
            "summary",
            f"killed cluster node, 8 threads: {dict(kinds)}, foreign 0, longest call "
            f"{longest * 1000:.0f} ms (deadline 400 ms)",
        )
    )


def _node_id(client: Any) -> str:
    return str(client.execute_command("CLUSTER", "MYID").decode())


def test_a_migrating_then_migrated_slot_is_followed(
    cluster: list[list[Any]], tmp_path: Path
) -> None:
    """ASK while the slot's keys move, MOVED once it moved: a reader with the old slot map
    follows both (within its deadline) and serves the right values."""
    store, _url, gen = loaded_store(cluster, tmp_path)
    home = owner(key_slot(keys.pointer_key(VIEW, "v1")))
    user = next(u for u in range(1, USERS + 1) if owner(entity_slot(u, gen)) != home)
    slot = entity_slot(user, gen)
    src, dst = owner(slot), 3 - owner(slot) - home  # the node that is neither
    nodes = [redis.Redis(port=n[1]) for n in cluster]
    src_id, dst_id = _node_id(nodes[src]), _node_id(nodes[dst])
    nodes[dst].execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", src_id)
    nodes[src].execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", dst_id)
    moved = nodes[src].execute_command("CLUSTER", "GETKEYSINSLOT", slot, 1000)
    assert len(moved) >= 2  # the entity's value and the slot's completeness sentinel
    nodes[src].execute_command("MIGRATE", "127.0.0.1", cluster[dst][1], "", 0, 5000, "KEYS", *moved)
    # migrating: the source answers ASK for the keys it no longer has
    ents = [{"user_id": user}, {"user_id": user % USERS + 1}]
    want = [[e["user_id"] * 7 + 1] for e in ents]
    assert store.get_online_features([FEATURE], ents, now=NOON).values == want
    manager = store.redis.nodes_manager
    assert manager.slots_cache[slot][0].port == cluster[src][1]  # an ASK moves no slot
    for n in nodes:
        n.execute_command("CLUSTER", "SETSLOT", slot, "NODE", dst_id)
    # migrated: MOVED, and the slot map learns the new owner
    resp = store.get_online_features([FEATURE], ents, now=NOON)
    assert resp.values == want and resp.statuses[0][FEATURE] == "present"
    assert manager.slots_cache[slot][0].port == cluster[dst][1]
    check_all_served(store, USERS)
