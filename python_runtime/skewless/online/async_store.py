"""`AsyncFeatureStore`: `get_online_features` for asyncio services (FastAPI, aiohttp, the
skewless HTTP server), with the sync store's semantics and one round trip per call.

Only the I/O differs from `FeatureStore`. A lookup is three steps of the sync store, run as
they are: `_begin` (arguments checked, the cached plan, the deadline started), `_fetch_steps`
(a generator that yields the key lists to read and receives their replies, no I/O), `_finish`
(decoding, statuses, ages, request-time features, the served-feature log and the other
post-lookup hooks). This module drives `_fetch_steps` with `await`. On a plain Redis it reads
on connections of its own (`_Wire`): redis.asyncio connects them (TLS, AUTH/ACL, SELECT), then
a command is written straight to the transport and its reply parsed by hiredis as the bytes
arrive, the call's deadline a timer on the loop — nothing is re-sent past it, and a failed,
late or cancelled call closes its connection (its reply may still come). That is what keeps
an async call as cheap as a sync one (bench/results/server.md); redis.asyncio's own command
path costs about 1.4× more. On a Redis Cluster it reads through redis.asyncio's cluster
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
        self._idle: list[_Wire] | None = None
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
            self._idle = []

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

    async def check_training_record(self, path: str | Path) -> list[Any]:
        """See `FeatureStore.check_training_record` (run off the event loop)."""
        return await asyncio.to_thread(self.sync.check_training_record, path)

    async def aclose(self) -> None:
        """Close the connections, flush and stop the served-feature log."""
        idle, self._idle = self._idle, ([] if self._idle is not None else None)
        for wire in idle or ():
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
        steps = sync._fetch_steps(call.plan, call.entities, call.budget_ms)
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
        idle = self._idle
        if idle is None:
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
        loop = asyncio.get_running_loop()
        wire = None
        while idle:
            wire = idle.pop()
            if wire.usable():
                break
            wire.close()  # closed by the server meanwhile (a restart, CLIENT KILL, idle timeout)
            wire = None
        try:
            if wire is None:
                async with asyncio.timeout(remaining):
                    wire = await self._open()
            reply = await wire.call(_pack(("MGET", *keys)), loop, call.deadline)
        except FAULTS as e:
            if wire is not None:
                wire.close()  # the reply may still come: this connection is out of step
            raise self.sync._fault(e, call.plan, call.budget_ms) from None
        except BaseException:  # cancelled by the caller: the reply may still come
            if wire is not None:
                wire.close()
            raise
        idle.append(wire)
        return reply  # type: ignore[no-any-return]

    async def _open(self) -> _Wire:
        """A connection of the store's own: connected and through the handshake (AUTH, TLS,
        SELECT…) by redis.asyncio, then read by a `_Wire`."""
        conn = self._conn_class(**self._conn_kwargs)
        await conn.connect()
        return _Wire(conn)


class _Wire(asyncio.Protocol):
    """One Redis connection of the async read path, past redis.asyncio's layers: a command is
    written to the transport, its reply parsed by hiredis as the bytes arrive and handed to the
    waiting call through a future (no stream reader, no per-command dispatch). The call's
    deadline is a timer on the loop that fails the future; a failed, late or cancelled call
    closes the connection (its reply may still come)."""

    def __init__(self, conn: Any):
        import hiredis

        self._conn = conn  # the redis.asyncio connection that connected it (kept to close it)
        self.transport = conn._writer.transport
        self.reader = hiredis.Reader()
        self.waiter: asyncio.Future[Any] | None = None
        self.lost = False
        self.transport.set_protocol(self)

    def usable(self) -> bool:
        return not self.lost and self.waiter is None and not self.transport.is_closing()

    async def call(self, packed: bytes, loop: asyncio.AbstractEventLoop, deadline: float) -> Any:
        waiter = self.waiter = loop.create_future()
        self.transport.write(packed)
        timer = loop.call_later(max(0.0, deadline - _monotonic()), _expire, waiter)
        try:
            reply = await waiter
        finally:
            timer.cancel()
            self.waiter = None
        if reply.__class__ is _ReplyError:
            raise _parse_error(str(reply))
        return reply

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        waiter = self.waiter
        if waiter is None or waiter.done():
            self.lost = True  # bytes nobody asked for: out of step
            return
        reply = self.reader.gets()
        if reply is not False:
            waiter.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(ConnectionError("Redis closed the connection"))

    def eof_received(self) -> bool | None:
        self.lost = True
        return None

    def close(self) -> None:
        self.lost = True
        self.transport.close()
        self._conn._reader = self._conn._writer = None  # closed here, not by redis.asyncio


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
