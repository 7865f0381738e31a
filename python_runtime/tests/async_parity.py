"""`AsyncFeatureStore` behind the sync store's API, so the sync store's tests run on it too.

A module that sets `ASYNC_PARITY = True` gets every test taking the `store` fixture twice (see
conftest.py): once on `FeatureStore`, once on this wrapper. The wrapper runs each
`get_online_features` call on an event loop of its own (a background thread: the store's
connections belong to that loop) and returns its result or raises its exception unchanged;
everything else (registry, problems, post_lookup, …) is the async store's, but `redis` is a
sync client of the same server (tests send their own commands with it).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from skewless.definitions.registry import Registry
from skewless.online.async_store import AsyncFeatureStore, async_client
from skewless.online.connection import connect
from skewless.online.store import FeatureStore


class AsyncParity:
    def __init__(self, registry: Registry, redis_url: str, **options: Any):
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

        async def make() -> AsyncFeatureStore:
            return AsyncFeatureStore(
                registry, async_client(redis_url), redis_url, sync_client=connect(redis_url),
                **options,
            )  # fmt: skip

        self.astore = self._run(make())
        self.astore.sync.owner = self  # hooks see the object the test calls `store`

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(60)

    def get_online_features(self, *args: Any, **kwargs: Any) -> Any:
        return self._run(self.astore.get_online_features(*args, **kwargs))

    @property
    def redis(self) -> Any:
        """A sync client of the same Redis, for the tests' own commands."""
        return self.astore.sync.redis

    def __getattr__(self, name: str) -> Any:
        return getattr(self.astore, name)

    def close(self) -> None:
        try:
            self._run(self.astore.aclose())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()


@contextmanager
def serving(api: str, registry: Registry, client: Any, redis_url: str) -> Iterator[Any]:
    """The store a `store` fixture yields for `api` (`sync` or `async`), closed after."""
    store: Any = FeatureStore(registry, client, redis_url) if api == "sync" else None
    if store is None:
        store = AsyncParity(registry, redis_url)
    try:
        yield store
    finally:
        store.close()
