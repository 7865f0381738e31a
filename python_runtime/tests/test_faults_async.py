"""`AsyncFeatureStore` under Redis faults, against real redis-server processes (no mocks).

The async read path has connections of its own (`async_store._Wire`: a command written to the
transport, its reply parsed by hiredis, the deadline a timer on the loop), so the fault suite of
the sync store (test_faults_store.py) runs again here on it:

- a paused server (SIGSTOP): a call fails within its deadline + 10% with `DeadlineExceeded`, on
  a live connection and on a reconnect, the degraded policy answers in time, and serving
  resumes after SIGCONT;
- a call cancelled mid-flight (its reply still to come) keeps its slot on the shared,
  pipelined connection: the next calls get their own replies, never the cancelled one's;
- concurrent calls share one connection; a short deadline on a paused server fails alone, a
  longer one on the same connection still gets its reply;
- a killed server under 32 concurrent tasks: only `OnlineStoreError`, no call past the deadline,
  recovery after the restart;
- an error reply (an ACL user without MGET) and a refused connection are `OnlineStoreError`s;
  `on_store_error="defaults"` serves the defaults as `unavailable`.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import redis
from conftest import RedisServer, free_port
from serving_fixtures import NOON
from test_faults_store import _bound, built, loaded, registry  # noqa: F401 (fixtures)

from skewless.definitions.registry import Registry
from skewless.errors import DeadlineExceeded, OnlineStoreError
from skewless.online.async_store import AsyncFeatureStore, async_client

FEATURES = ["events.value", "pairs.label"]


def make(registry: Registry, url: str, **kwargs: Any) -> AsyncFeatureStore:  # noqa: F811
    return AsyncFeatureStore(
        registry, async_client(url), url, sync_client=redis.Redis.from_url(url), **kwargs
    )


async def value(store: AsyncFeatureStore, uid: int, **kwargs: Any) -> Any:
    resp = await store.get_online_features(["events.value"], [{"user_id": uid}], now=NOON, **kwargs)
    return resp.values[0][0]


async def timed_failure(store: AsyncFeatureStore, **kwargs: Any) -> tuple[float, OnlineStoreError]:
    t0 = time.monotonic()
    with pytest.raises(OnlineStoreError) as err:
        await value(store, 7, **kwargs)
    return time.monotonic() - t0, err.value


def test_a_paused_server_fails_an_async_call_within_its_deadline(
    loaded: RedisServer,  # noqa: F811
    registry: Registry,  # noqa: F811
    record_property: Callable[[str, object], None],
) -> None:
    async def run() -> list[float]:
        store = make(registry, loaded.url, deadline_ms=300)
        assert await value(store, 7) == 7
        os.kill(loaded.proc.pid, signal.SIGSTOP)
        try:
            elapsed, error = await timed_failure(store)  # on the live connection
            assert isinstance(error, DeadlineExceeded), error
            assert 0.3 * 0.9 <= elapsed <= _bound(300), elapsed
            assert "`events`" in str(error) and f"127.0.0.1:{loaded.port}" in str(error)
            took = [elapsed]
            elapsed, error = await timed_failure(store)  # on a reconnect: no handshake answer
            assert isinstance(error, DeadlineExceeded) and elapsed <= _bound(300), elapsed
            took.append(elapsed)
            elapsed, error = await timed_failure(store, deadline_ms=100)
            assert isinstance(error, DeadlineExceeded) and 0.09 <= elapsed <= _bound(100)
            took.append(elapsed)
            t0 = time.monotonic()
            resp = await store.get_online_features(
                ["events.value"], [{"user_id": 7}], now=NOON, on_store_error="defaults"
            )
            assert time.monotonic() - t0 <= _bound(300)
            assert resp.values == [[0]] and resp.statuses == [{"events.value": "unavailable"}]
        finally:
            os.kill(loaded.proc.pid, signal.SIGCONT)
        assert await value(store, 8) == 8
        await store.aclose()
        return took

    took = asyncio.run(run())
    record_property(
        "summary",
        "paused Redis, async store: calls took "
        + ", ".join(f"{t * 1000:.0f}" for t in took)
        + " ms (deadlines 300, 300, 100 ms)",
    )


def test_a_cancelled_call_never_hands_its_reply_to_the_next(
    loaded: RedisServer,  # noqa: F811
    registry: Registry,  # noqa: F811
) -> None:
    async def run() -> None:
        store = make(registry, loaded.url, deadline_ms=5000)
        assert await value(store, 1) == 1  # one idle connection
        os.kill(loaded.proc.pid, signal.SIGSTOP)
        try:
            task = asyncio.create_task(value(store, 2))  # sent; the reply waits for SIGCONT
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            waiting = asyncio.create_task(value(store, 9))  # behind the cancelled one
            await asyncio.sleep(0.05)
        finally:
            os.kill(loaded.proc.pid, signal.SIGCONT)
        assert await waiting == 9  # not the cancelled call's reply (user 2)
        await asyncio.sleep(0.05)  # the cancelled call's reply (user 2) arrives now
        for uid in (3, 4, 5, 6):
            assert await value(store, uid) == uid
        # concurrent calls each get their own reply
        uids = list(range(10, 60))
        assert await asyncio.gather(*(value(store, u) for u in uids)) == uids
        await store.aclose()

    asyncio.run(run())


def test_concurrent_calls_share_one_pipelined_connection_with_their_own_deadlines(
    loaded: RedisServer,  # noqa: F811
    registry: Registry,  # noqa: F811
) -> None:
    """Concurrent calls go out on one connection (pipelined) and each gets its own reply. On a
    paused server a short deadline fails alone: a longer one on the same connection still gets
    its (right) reply after the pause; the next calls open a fresh connection, and the old one
    closes once its last reply is in."""

    def clients(admin: redis.Redis) -> int:
        return sum(1 for c in admin.client_list() if c.get("cmd") != "client|list")

    async def run() -> None:
        admin = redis.Redis.from_url(loaded.url)
        store = make(registry, loaded.url, deadline_ms=5000)
        before = clients(admin)
        uids = [random.Random(5).randint(1, 1000) for _ in range(300)]
        got = await asyncio.gather(*(value(store, u) for u in uids))
        assert got == uids  # 300 calls, in flight together, each with its own reply
        assert len(store._wires or []) == 1 and clients(admin) == before + 1
        first = store._wire
        os.kill(loaded.proc.pid, signal.SIGSTOP)
        try:
            # the short call is sent first: its reply (user 7) comes first and must be dropped
            short = asyncio.create_task(timed_failure(store, deadline_ms=100))
            await asyncio.sleep(0)
            long = asyncio.create_task(value(store, 11, deadline_ms=3000))
            elapsed, error = await short
            assert isinstance(error, DeadlineExceeded) and elapsed <= _bound(100), elapsed
            assert not long.done()  # the other call on that connection still waits
            await asyncio.sleep(0.2)
        finally:
            os.kill(loaded.proc.pid, signal.SIGCONT)
        assert await long == 11
        assert first is not None and first.draining
        assert await value(store, 12) == 12  # a fresh connection
        assert store._wire is not first
        for _ in range(100):
            if first.lost:
                break
            await asyncio.sleep(0.01)
        assert first.lost and not first.slots  # drained, then closed
        await store.aclose()
        admin.close()

    asyncio.run(run())


def test_a_killed_server_under_32_tasks_raises_only_online_store_errors(
    loaded: RedisServer,  # noqa: F811
    registry: Registry,  # noqa: F811
    record_property: Callable[[str, object], None],
) -> None:
    deadline_ms = 500
    admin = redis.Redis.from_url(loaded.url)
    admin.save()  # the restarted server loads this snapshot
    admin.close()
    outcomes: Counter[tuple[str, str]] = Counter()
    foreign: list[BaseException] = []
    wrong: list[int] = []
    longest = [0.0]
    last_ok: dict[int, bool] = {}
    phase = ["up"]

    async def run() -> None:
        store = make(registry, loaded.url, deadline_ms=deadline_ms)
        stop = asyncio.Event()

        async def serve(worker: int) -> None:
            rng = random.Random(worker)
            while not stop.is_set():
                uid = rng.randint(1, 1000)
                at = phase[0]
                t0 = time.monotonic()
                try:
                    resp = await store.get_online_features(
                        FEATURES, [{"user_id": uid, "a": 1, "b": 2}], now=NOON
                    )
                    kind = "ok"
                    if resp.values[0][0] != uid:
                        wrong.append(uid)
                except OnlineStoreError:
                    kind = "store error"
                except Exception as e:  # counted: the assertion is that there are none
                    kind = "foreign"
                    foreign.append(e)
                elapsed = time.monotonic() - t0
                outcomes[(at if phase[0] == at else "transition", kind)] += 1
                longest[0] = max(longest[0], elapsed)
                last_ok[worker] = kind == "ok"
                await asyncio.sleep(0.001)

        tasks = [asyncio.create_task(serve(i)) for i in range(32)]
        restarted = None
        try:
            await asyncio.sleep(0.4)
            loaded.proc.kill()  # kill -9
            loaded.proc.wait(5)
            phase[0] = "down"
            await asyncio.sleep(2.0)
            phase[0] = "restarting"
            restarted = await asyncio.to_thread(
                RedisServer, "--dir", loaded.dir, "--dbfilename", "dump.rdb", port=loaded.port
            )
            phase[0] = "restarted"
            await asyncio.sleep(1.0)
        finally:
            stop.set()
            await asyncio.gather(*tasks)
            await store.aclose()
            if restarted is not None:
                restarted.stop()

    asyncio.run(run())
    record_property(
        "summary",
        f"Redis killed under 32 async tasks: calls by (phase, outcome) {dict(outcomes)}; "
        f"foreign {len(foreign)}, wrong {len(wrong)}; longest call {longest[0] * 1000:.0f} ms "
        f"(deadline {deadline_ms} ms)",
    )
    assert foreign == [], foreign[:3]
    assert wrong == []
    assert outcomes[("up", "ok")] > 0 and outcomes[("down", "store error")] > 100
    assert outcomes[("down", "ok")] == 0
    assert outcomes[("restarted", "ok")] > 0 and all(last_ok.values()), last_ok
    assert longest[0] <= _bound(deadline_ms), longest[0]


def test_error_replies_and_refused_connections_are_online_store_errors(
    loaded: RedisServer,  # noqa: F811
    registry: Registry,  # noqa: F811
) -> None:
    user, password = f"ro-{uuid.uuid4().hex[:8]}", "pw-" + uuid.uuid4().hex
    admin = redis.Redis.from_url(loaded.url)
    admin.acl_setuser(user, enabled=True, passwords=[f"+{password}"], keys=["*"], commands=["+get"])
    url = f"redis://{user}:{password}@127.0.0.1:{loaded.port}/0"
    dead = f"redis://127.0.0.1:{free_port()}/0"

    async def run() -> None:
        store = make(registry, url)
        with pytest.raises(OnlineStoreError) as err:
            await value(store, 1)
        assert "NOPERM" in str(err.value) or "permission" in str(err.value)
        assert password not in str(err.value) and err.value.operation == "serve"
        await store.aclose()
        gone = make(registry, dead)
        with pytest.raises(OnlineStoreError) as err:
            await value(gone, 1)
        assert not isinstance(err.value, DeadlineExceeded), err.value
        resp = await gone.get_online_features(
            FEATURES, [{"user_id": 1, "a": 1, "b": 2}], now=NOON, on_store_error="defaults"
        )
        assert resp.values == [[0, None]]
        assert resp.reasons == [dict.fromkeys(FEATURES, "unavailable")]
        await gone.aclose()

    asyncio.run(run())
    admin.acl_deluser(user)
