"""Definitions that follow `target/manifest.json`: a loaded manifest (`Loaded`) and the watcher
that swaps in a new one.

Every `interval` seconds the watcher compares the manifest's mtime and size with the served
one's (one `stat`, no read); when they differ it hashes the file, and when the hash differs it
builds a new `AsyncFeatureStore` in a thread (the registry is read and the request-time SQL
compiled off the event loop), plans the feature lists the old store served most recently,
then swaps it in with one assignment. A call holds the `Loaded` it started on, so calls in
flight finish on the old definitions; the old store is closed when its last call ends. A
manifest that cannot be loaded (unreadable, invalid, or any view broken under `--strict`)
leaves the old one serving; the failure is logged and reported by `/readyz` until a manifest
loads.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from pathlib import Path
from typing import Any

from skewless.errors import ManifestError, SkewlessError
from skewless.server.config import ServerConfig

__all__ = ["Loaded", "ManifestWatcher", "load"]

_log = logging.getLogger("skewless.server")
#: Feature lists planned on the new store before a swap (the most recent of the old one's).
_WARM_PLANS = 256
#: Seconds an old store waits for its last call before it is closed anyway.
_CLOSE_GRACE = 60.0


def _fingerprint(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_mtime_ns, st.st_size


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Loaded:
    """One loaded manifest: its store and how many calls use it now.

    Attributes:
        store: the `AsyncFeatureStore` of these definitions.
        sha256: the manifest's hash.
        fingerprint: its (mtime_ns, size) when loaded.
        loaded_at: when (epoch seconds).
        in_flight: calls running on it.
        retired: a newer manifest replaced it; closed when `in_flight` reaches 0.
    """

    __slots__ = ("closed", "fingerprint", "in_flight", "loaded_at", "retired", "sha256", "store")

    def __init__(self, store: Any, sha256: str, fingerprint: tuple[int, int]):
        self.store = store
        self.sha256 = sha256
        self.fingerprint = fingerprint
        self.loaded_at = time.time()
        self.in_flight = 0
        self.retired = False
        self.closed = False

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            await self.store.aclose()
        except Exception as e:  # a store that cannot close cleanly must not stop the server
            _log.warning("skewless server: closing the old store failed: %s", type(e).__name__)


def load(config: ServerConfig) -> Loaded:
    """Read the manifest and open a store over it (blocking: a thread, or at start-up).

    Raises:
        ManifestError: no readable manifest.
        SkewlessError: with `strict`, the first broken definition.
        OnlineStoreError: Redis cannot be reached or refuses the credentials.
    """
    from skewless.online.async_store import AsyncFeatureStore

    path = config.manifest_path
    try:
        fingerprint = _fingerprint(path)
        sha = _sha256(path)
    except OSError as e:
        raise ManifestError(
            f"{path}: cannot read the dbt manifest ({e.strerror or type(e).__name__}); "
            "run `dbt compile` (or `dbt build`) in the project first"
        ) from None
    store = AsyncFeatureStore.from_manifest(
        path, config.redis_url or None, strict=config.strict, deadline_ms=config.deadline_ms
    )
    return Loaded(store, sha, fingerprint)


class ManifestWatcher:
    """Polls the manifest and swaps a new `Loaded` into `holder.current` (see the module).

    Attributes:
        error: why the last reload failed ("" once a manifest loads again).
        failed_sha: the hash of the manifest that failed (not retried until it changes).
        reloads: successful reloads; failures: failed ones.
    """

    def __init__(self, holder: Any, config: ServerConfig, on_result: Any = None):
        self.holder = holder
        self.config = config
        self.error = ""
        self.failed_sha = ""
        self.failed_fingerprint: tuple[int, int] | None = None
        self.on_result = on_result
        self._task: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        if self.config.reload_interval > 0:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        for task in list(self._closing):
            await task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.config.reload_interval)
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:  # never let a bug in a reload stop the watcher
                _log.exception("skewless server: manifest reload check failed")

    async def check(self) -> bool:
        """One poll: reload when the manifest changed. → whether a new manifest was swapped in."""
        path = self.config.manifest_path
        current = self.holder.current
        try:
            fingerprint = _fingerprint(path)
        except OSError:
            return False  # mid-write (dbt replaces the file) or gone: the old one serves
        if fingerprint == current.fingerprint or fingerprint == self.failed_fingerprint:
            return False
        try:
            sha = await asyncio.to_thread(_sha256, path)
        except OSError:
            return False
        if sha == current.sha256:
            current.fingerprint = fingerprint
            return False
        if sha == self.failed_sha:
            self.failed_fingerprint = fingerprint
            return False
        started = time.perf_counter()
        try:
            new = await asyncio.to_thread(self._build, current)
        except SkewlessError as e:
            self.error = f"manifest {sha[:12]} not loaded, the previous one serves: {e}"
            self.failed_sha, self.failed_fingerprint = sha, fingerprint
            _log.error("skewless server: %s", self.error)
            if self.on_result is not None:
                self.on_result(False)
            return False
        new.sha256 = sha
        old = current
        self.holder.current = new  # the swap: calls that start from now on use `new`
        old.retired = True
        self.error, self.failed_sha, self.failed_fingerprint = "", "", None
        _log.info(
            "skewless server: manifest %s loaded in %.0f ms (%d views); the previous one "
            "closes after its %d call(s) in flight",
            sha[:12],
            (time.perf_counter() - started) * 1000,
            len(new.store.registry.views),
            old.in_flight,
        )
        if self.on_result is not None:
            self.on_result(True)
        self.close_when_idle(old)
        return True

    def _build(self, current: Loaded) -> Loaded:
        new = load(self.config)
        # plan the feature lists served lately, so the first calls after the swap do not pay
        # for planning (a list the new definitions no longer resolve is skipped)
        recent = list(current.store.sync._plans)[-_WARM_PLANS:]
        for features in recent:
            try:
                new.store.sync._plan(features)
            except SkewlessError:
                continue
        return new

    def close_when_idle(self, old: Loaded) -> None:
        async def wait_and_close() -> None:
            deadline = time.monotonic() + _CLOSE_GRACE
            while old.in_flight and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            await old.close()

        task = asyncio.get_running_loop().create_task(wait_and_close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
