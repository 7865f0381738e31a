"""`AsyncFeatureStore`: `get_online_features` for asyncio services (FastAPI, aiohttp, the
skewless HTTP server), with the sync store's semantics and one round trip per call.

Only the I/O differs from `FeatureStore`. A lookup is three steps of the sync store, run as
they are: `_begin` (arguments checked, the cached plan, the deadline started), `_fetch_steps`
(a generator that yields the key lists to read and receives their replies, no I/O), `_finish`
(decoding, statuses, ages, request-time features, the served-feature log and the other
post-lookup hooks). This module drives `_fetch_steps` with `await`. On a plain Redis it reads
one connection of its own (`_Wire`) shared by every concurrent call: redis.asyncio connects it
(TLS, AUTH/ACL, SELECT), then commands are written straight to the transport — the calls made
while others wait for their replies go out together in one write (pipelined) — and replies are
parsed by hiredis as the bytes arrive and handed to their calls in order. A call's deadline is
a timer on the loop: nothing is re-sent past it. A late or cancelled call leaves its place in
the queue, so its reply, when it comes, is dropped and never handed to another call; after a
late reply the connection takes no new calls (a fresh one does) and closes once its replies are
in. That is what keeps an async call as cheap as a sync one, and a server at concurrency 32
from paying a Redis write and read per request (bench/results/server.md); redis.asyncio's own
command path costs about 1.4× more. On a Redis Cluster it reads through redis.asyncio's cluster
pipeline under `asyncio.timeout` of the time left.

The sync store inside (`sync`) keeps the plans and the generation cache, and its sync client
answers the cold paths off the event loop (`asyncio.to_thread`): which version a view that has
no pointer holds (never materialized, or retired), the training-record check.

    store = AsyncFeatureStore.from_dbt("path/to/dbt_project", redis_url="redis://localhost:6379/0")
    resp = await store.get_online_features(["user_txn_stats.txn_count_30d"], [{"user_id": 42}])
    await store.aclose()
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from skewless.definitions.registry import Registry
from skewless.errors import OnlineStoreError
from skewless.online.connection import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_REDIS_URL,
    FAULTS,
    _plain_url,
    connect,
    is_cluster_url,
)
from skewless.online.store import (
    FeatureStore,
    OnlineResponse,
    _Call,
    _log_config,
    _Unmaterialized,
    manifest_path,
)

if TYPE_CHECKING:
    from skewless.guards.feature_log import FeatureLogConfig

__all__ = ["AsyncFeatureStore"]

_monotonic = time.monotonic


def _reply_error_class() -> type:
    import hiredis

    return hiredis.ReplyError  # type: ignore[no-any-return]


_ReplyError = _reply_error_class()


class AsyncFeatureStore:
    """Serves feature vectors from Redis to asyncio code; see `FeatureStore` for the semantics
    (statuses, reasons, ages, on_stale, request-time features, disabled views, deadlines,
    `on_store_error`), which are the same — the same code runs.

    Use one store per event loop (its connections belong to the loop that opened them), and
    close it with `await store.aclose()` or `async with`.

    Attributes:
        sync: the `FeatureStore` that plans and decodes (and answers the cold paths).
        registry: the feature views.
        redis_url: the Redis URL, redacted.
    """

    def __init__(
        self,
        registry: Registry,
        client: Any,
        redis_url: str = "",
        feature_log: FeatureLogConfig | None = None,
        *,
        sync_client: Any = None,
        deadline_ms: float | None = None,
        on_store_error: str | None = None,
    ):
        """
        Args:
            registry: the feature views.
            client: a redis.asyncio client (`Redis`, or `RedisCluster`) of the store's Redis.
            redis_url: its URL (redacted here; messages only).
            feature_log: served-feature logging, or None.
            sync_client: a sync redis-py client of the same Redis (`connection.connect`), for
                the cold paths; default: one connected from `redis_url`.
            deadline_ms: the per-call deadline (see `FeatureStore`).
            on_store_error: `raise` or `defaults` (see `FeatureStore`).
        """
        if sync_client is None:
            sync_client = connect(redis_url or DEFAULT_REDIS_URL)
        self.sync = FeatureStore(
            registry,
            sync_client,
            redis_url,
            feature_log,
            deadline_ms=deadline_ms,
            on_store_error=on_store_error,
        )
        self.sync.owner = self  # the post-lookup hooks see the store their caller uses
        self.registry = registry
        self.redis = client
        self.redis_url = self.sync.redis_url
        self._cluster = type(client).__name__ == "RedisCluster"
        # the pipelined connection (`_Wire`); None: no pool to connect it from (cluster)
        self._wires: list[_Wire] | None = None
        self._wire: _Wire | None = None
        self._opening: asyncio.Future[_Wire] | None = None
        pool = getattr(client, "connection_pool", None)
        if not self._cluster and pool is not None:
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff

            self._conn_class = pool.connection_class
            self._conn_kwargs = {
                **pool.connection_kwargs,
                "retry": Retry(NoBackoff(), 0),
                "decode_responses": False,
                "health_check_interval": 0,
            }
            self._wires = []

    @classmethod
    def from_dbt(
        cls,
        project_dir: str | Path,
        target_path: str = "target",
        redis_url: str | None = None,
        feature_log: FeatureLogConfig | bool | None = True,
        *,
        strict: bool = False,
        deadline_ms: float | None = None,
        on_store_error: str | None = None,
        **redis_options: Any,
    ) -> AsyncFeatureStore:
        """Read `<project_dir>/<target_path>/manifest.json` and open the Redis clients; the
        arguments are `FeatureStore.from_dbt`'s. Connecting checks the server (once, blocking:
        call it at start-up)."""
        return cls.from_manifest(
            manifest_path(project_dir, target_path),
            redis_url,
            feature_log,
            strict=strict,
            deadline_ms=deadline_ms,
            on_store_error=on_store_error,
            **redis_options,
        )

    @classmethod
    def from_manifest(
        cls,
        manifest_path: str | Path,
        redis_url: str | None = None,
        feature_log: FeatureLogConfig | bool | None = True,
        *,
        strict: bool = False,
        deadline_ms: float | None = None,
        on_store_error: str | None = None,
        **redis_options: Any,
    ) -> AsyncFeatureStore:
        """Like `from_dbt`, from the path of a `manifest.json`."""
        url = redis_url or DEFAULT_REDIS_URL
        registry = Registry.from_manifest(manifest_path, strict=strict)
        sync_client = connect(url, **redis_options)  # checks the URL and the credentials
        return cls(
            registry,
            async_client(url, **redis_options),
            url,
            _log_config(feature_log),
            sync_client=sync_client,
            deadline_ms=deadline_ms,
            on_store_error=on_store_error,
        )

    @property
    def problems(self) -> dict[str, str]:
        """The disabled views and why (see `FeatureStore.problems`)."""
        return self.sync.problems

    @property
    def post_lookup(self) -> list[Any]:
        """Hooks run after each lookup (see `FeatureStore.post_lookup`)."""
        return self.sync.post_lookup

    @property
    def deadline_ms(self) -> float:
        return self.sync.deadline_ms

    @property
    def on_store_error(self) -> str:
        return self.sync.on_store_error

    async def get_online_features(
        self,
        features: Sequence[str],
        entities: Sequence[Mapping[str, Any]],
        request: Any = None,
        now: datetime | None = None,
        *,
        deadline_ms: float | None = None,
        on_store_error: str | None = None,
    ) -> OnlineResponse:
        """Look up feature values for entities, in one Redis round trip; the arguments, the
        response and the errors are `FeatureStore.get_online_features`'s."""
        sync = self.sync
        call = sync._begin(features, entities, now, deadline_ms, on_store_error)
        if not call.plan.views:
            return sync._finish(call, [], None, request)
        try:
            raw, groups = await self._fetch(call)
        except OnlineStoreError:
            if call.policy == "raise":
                raise
            return sync._unavailable(call.plan, call.entities, request, call.now_us)
        return sync._finish(call, raw, groups, request)

    async def push(
        self,
        view: str,
        events: Any,
        *,
        log_dir: str | Path | None = None,
        now: Any = None,
    ) -> Any:
        """`FeatureStore.push`, off the event loop (the event log write and the Redis
        transaction block)."""
        return await asyncio.to_thread(self.sync.push, view, events, log_dir=log_dir, now=now)

    async def check_training_record(self, path: str | Path) -> list[Any]:
        """See `FeatureStore.check_training_record` (run off the event loop)."""
        return await asyncio.to_thread(self.sync.check_training_record, path)

    async def aclose(self) -> None:
        """Close the connections, flush and stop the served-feature log."""
        wires, self._wires = self._wires, ([] if self._wires is not None else None)
        self._wire = self._opening = None
        for wire in wires or ():
            wire.close()
        close = getattr(self.redis, "aclose", None)
        if close is not None:
            await close()
        await asyncio.to_thread(self.sync.close)

    async def __aenter__(self) -> AsyncFeatureStore:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"AsyncFeatureStore({len(self.registry.views)} views, redis={self.redis_url})"

    async def _fetch(self, call: _Call) -> tuple[list[Any], list[list[int]] | None]:
        """`FeatureStore._fetch_steps` driven with `await`: the replies before the deadline."""
        sync = self.sync
        steps = sync._fetch_steps(call.plan, call.entities, call.budget_ms, call.t0s)
        try:
            step = next(steps)
            while True:
                if step.__class__ is list:
                    step = steps.send(await self._read(step, call))
                else:  # a view without a pointer: retired, or lost (cold path, off the loop)
                    step = steps.send(await asyncio.to_thread(sync._not_materialized, step.view))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        except _Unmaterialized as e:
            raise await asyncio.to_thread(sync._not_materialized, e.view) from None

    async def _read(self, keys: list[bytes], call: _Call) -> list[Any]:
        """One MGET (a cluster pipeline of GETs on Redis Cluster), answered before the call's
        deadline or abandoned: never re-sent.

        Raises:
            DeadlineExceeded: Redis did not answer in time (connect, send or read).
            OnlineStoreError: any other Redis fault.
        """
        remaining = call.deadline - _monotonic()
        if remaining <= 0:
            raise self.sync._fault(TimeoutError(), call.plan, call.budget_ms)
        if self._wires is None:
            try:
                async with asyncio.timeout(remaining):
                    if self._cluster:
                        pipe = self.redis.pipeline(transaction=False)
                        for k in keys:
                            pipe.get(k)
                        return await pipe.execute()  # type: ignore[no-any-return]
                    return await self.redis.execute_command("MGET", *keys)  # type: ignore[no-any-return]
            except FAULTS as e:
                raise self.sync._fault(e, call.plan, call.budget_ms) from None
        try:
            wire = self._wire
            if wire is None or not wire.usable():
                wire = await self._connected(remaining)
            # a late or cancelled call leaves its slot: the connection stays in step
            return await wire.call(_pack(("MGET", *keys)), call.deadline)
        except FAULTS as e:
            raise self.sync._fault(e, call.plan, call.budget_ms) from None

    async def _connected(self, remaining: float) -> _Wire:
        """The shared connection, opened once for every call waiting for it. Each call waits at
        most its own time left; an opening gives up at its opener's deadline, and a call with
        time left then opens again."""
        deadline = _monotonic() + remaining
        while True:
            left = deadline - _monotonic()
            if left <= 0:
                raise TimeoutError()
            opening = self._opening
            if opening is None or opening.done():
                opening = self._opening = asyncio.ensure_future(self._open_within(left))
                opening.add_done_callback(_retrieve)
            try:
                async with asyncio.timeout(left):
                    return await asyncio.shield(opening)
            except TimeoutError:
                if _monotonic() >= deadline:
                    raise
                # the opening ran out of its opener's time, not of ours: open again

    async def _open_within(self, remaining: float) -> _Wire:
        async with asyncio.timeout(remaining):
            wire = await self._open()
        wires = self._wires
        if wires is None:  # closed meanwhile
            wire.close()
            raise ConnectionError("the store was closed")
        wires[:] = [w for w in wires if not w.lost]
        wires.append(wire)
        self._wire = wire
        return wire

    async def _open(self) -> _Wire:
        """A connection of the store's own: connected and through the handshake (AUTH, TLS,
        SELECT…) by redis.asyncio, then read by a `_Wire`."""
        conn = self._conn_class(**self._conn_kwargs)
        await conn.connect()
        return _Wire(conn)


class _Wire(asyncio.Protocol):
    """One Redis connection of the async read path, past redis.asyncio's layers, shared by
    concurrent calls: each call takes the next slot of a queue and its command goes to the
    transport — at once when nothing else is waiting, else with the other commands of this loop
    iteration in one write. hiredis parses the replies as the bytes arrive; each reply goes to
    the slot at the head of the queue (Redis answers in order). A call's deadline is a timer that
    fails its future; a failed or cancelled call keeps its slot, so its reply is dropped when it
    comes. After a late reply the connection is `draining`: it takes no new call and closes when
    its queue is empty. A lost connection fails every waiting call."""

    def __init__(self, conn: Any):
        import hiredis

        self._conn = conn  # the redis.asyncio connection that connected it (kept to close it)
        self.transport = conn._writer.transport
        self.reader = hiredis.Reader()
        self.slots: collections.deque[asyncio.Future[Any]] = collections.deque()
        self.out: list[bytes] = []
        self.flushing = False
        self.lost = False
        self.draining = False
        self.loop = asyncio.get_running_loop()
        self.transport.set_protocol(self)

    def usable(self) -> bool:
        return not self.lost and not self.draining and not self.transport.is_closing()

    async def call(self, packed: bytes, deadline: float) -> Any:
        if self.lost:
            raise ConnectionError("Redis closed the connection")
        loop = self.loop
        waiter = loop.create_future()
        slots = self.slots
        slots.append(waiter)
        if len(slots) == 1 and not self.flushing:
            self.transport.write(packed)  # nothing in flight: no reason to wait
        else:
            self.out.append(packed)
            if not self.flushing:
                self.flushing = True
                loop.call_soon(self._flush)
        timer = loop.call_later(max(0.0, deadline - _monotonic()), _expire, waiter)
        try:
            reply = await waiter
        except TimeoutError:
            self.draining = True  # replies are late here: new calls go to a fresh connection
            raise
        finally:
            timer.cancel()
        if reply.__class__ is _ReplyError:
            raise _parse_error(str(reply))
        return reply

    def _flush(self) -> None:
        self.flushing = False
        out = self.out
        if out and not self.lost:
            self.transport.write(out[0] if len(out) == 1 else b"".join(out))
        out.clear()

    def data_received(self, data: bytes) -> None:
        reader = self.reader
        slots = self.slots
        reader.feed(data)
        try:
            while True:
                reply = reader.gets()
                if reply is False:
                    break
                if not slots:  # bytes nobody asked for: out of step
                    self.close()
                    return
                waiter = slots.popleft()
                if not waiter.done():
                    waiter.set_result(reply)
        except Exception:  # a protocol error: the stream cannot be trusted
            self.close()
            return
        if self.draining and not slots:
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        slots, self.slots = self.slots, collections.deque()
        for waiter in slots:
            if not waiter.done():
                waiter.set_exception(ConnectionError("Redis closed the connection"))

    def eof_received(self) -> bool | None:
        self.lost = True
        return None

    def close(self) -> None:
        if self.lost and self.transport.is_closing():
            return
        self.lost = True
        self.transport.close()  # connection_lost fails the calls still waiting
        self._conn._reader = self._conn._writer = None  # closed here, not by redis.asyncio


def _retrieve(opening: asyncio.Future[Any]) -> None:
    """Marks a failed opening's error as seen (every waiter may have given up already)."""
    if not opening.cancelled():
        opening.exception()


def _expire(waiter: asyncio.Future[Any]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


def _pack(args: tuple[Any, ...]) -> bytes:
    import hiredis

    return hiredis.pack_command(args)  # type: ignore[no-any-return]


def _parse_error(text: str) -> BaseException:
    """An error reply as redis-py's exception of its kind (NOPERM, LOADING, OOM…)."""
    from redis._parsers.base import BaseParser

    return BaseParser.parse_error(text)  # type: ignore[no-any-return]


def async_client(url: str, **options: Any) -> Any:
    """A redis.asyncio client (`Redis`, or `RedisCluster` for a cluster URL) for `url`, not yet
    connected; `socket_connect_timeout` defaults as in `connection.connect`."""
    options.setdefault("socket_connect_timeout", DEFAULT_CONNECT_TIMEOUT)
    plain = _plain_url(url)
    if is_cluster_url(url):
        from redis.asyncio.cluster import RedisCluster

        return RedisCluster.from_url(plain, **options)
    import redis.asyncio

    return redis.asyncio.Redis.from_url(plain, **options)
