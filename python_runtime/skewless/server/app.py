"""The ASGI application of `skewless serve`: a bare ASGI app (no framework) on uvicorn.

Routes (docs/server.md has the shapes, `/openapi.json` the schemas):

| route | what |
|---|---|
| `POST /get-online-features` | feature values with status, reason and age per value (native or Feast shape) |
| `GET /features` | the catalog: views, versions, types, ttl/freshness, what Redis holds |
| `POST /explain` | why one entity is served its value (`guards.explain`), with the offline side |
| `POST /push` | events into a window view's online aggregates (`FeatureStore.push`), idempotent |
| `GET /livez` | the process answers (no I/O) |
| `GET /readyz` | definitions loaded, Redis reachable, every served view materialized (503 if not) |
| `GET /metrics` | Prometheus text |
| `GET /openapi.json` | the OpenAPI 3 document |

With `SKEWLESS_SERVER_TOKEN` set every route but `/livez` and `/readyz` needs
`Authorization: Bearer <token>` (compared in constant time; the token is never logged).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from skewless.errors import OnlineStoreError, RequestError, SkewlessError, brief
from skewless.server import payloads
from skewless.server.config import ServerConfig
from skewless.server.metrics import Metrics
from skewless.server.reload import Loaded, ManifestWatcher, load
from skewless.server.responses import HttpError, error_body, from_exception

__all__ = ["FeatureServer", "app_from_env"]

_log = logging.getLogger("skewless.server")
_perf = time.perf_counter
_JSON = b"application/json"
_TEXT = b"text/plain; version=0.0.4; charset=utf-8"
#: Seconds the cold endpoints (/readyz, /features, /metrics) wait for Redis.
_PROBE_TIMEOUT = 2.0

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class _Disconnected(Exception):
    """The client went away while its body was being read."""


def _probe_faults(faults: tuple[type[BaseException], ...]) -> tuple[type[BaseException], ...]:
    return (*faults, TimeoutError)


def _headers(body_len: int, content_type: bytes, extra: list[tuple[bytes, bytes]] | None = None):  # type: ignore[no-untyped-def]
    headers = [(b"content-type", content_type), (b"content-length", b"%d" % body_len)]
    if extra:
        headers += extra
    return headers


class FeatureServer:
    """The ASGI app. Build it with a `ServerConfig` (and optionally a `Loaded` already opened,
    as `skewless serve` does to fail fast); it loads the manifest at start-up otherwise.

    Attributes:
        current: the `Loaded` manifest serving new calls.
        metrics: the counters `/metrics` exports.
    """

    def __init__(self, config: ServerConfig, loaded: Loaded | None = None):
        self.config = config
        self.current: Loaded = loaded  # type: ignore[assignment]
        self.metrics = Metrics()
        self._views_of: dict[tuple[str, ...], tuple[str, ...]] = {}
        self.watcher = ManifestWatcher(self, config, self._reloaded)
        self._expected = (
            b"Bearer " + config.token.encode() if config.token else None
        )  # compared whole, in constant time
        self._explain_lock: asyncio.Lock | None = None
        self._routes: dict[tuple[str, str], tuple[Callable[..., Awaitable[Any]], bool]] = {
            ("POST", "/get-online-features"): (self._get_online_features, True),
            ("GET", "/features"): (self._features, True),
            ("POST", "/explain"): (self._explain, True),
            ("POST", "/push"): (self._push, True),
            ("GET", "/livez"): (self._livez, False),
            ("GET", "/readyz"): (self._readyz, False),
            ("GET", "/metrics"): (self._metrics, True),
            ("GET", "/openapi.json"): (self._openapi, True),
        }
        self._paths = {path for _m, path in self._routes}
        self._openapi_body: bytes | None = None

    # --- ASGI -------------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except SkewlessError as e:
                    await send({"type": "lifespan.startup.failed", "message": str(e)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def startup(self) -> None:
        """Load the manifest (unless given) and start watching it."""
        if self.current is None:
            self.current = await asyncio.to_thread(load, self.config)
        self._explain_lock = asyncio.Lock()
        self.watcher.start()
        store = self.current.store
        _log.info(
            "skewless server: %d feature view(s), %d request-time view(s) from %s, Redis %s",
            len(store.registry.views),
            len(store.registry.on_demand),
            self.config.manifest_path,
            store.redis_url,
        )

    async def shutdown(self) -> None:
        await self.watcher.stop()
        if self.current is not None:
            await self.current.close()

    def _reloaded(self, ok: bool) -> None:
        self.metrics.reloads["ok" if ok else "failed"] += 1

    async def _http(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        started = _perf()
        path = scope["path"]
        method = scope["method"]
        route = self._routes.get((method, path))
        label = path if route is not None else "other"
        try:
            if route is None:
                if path in self._paths:
                    allowed = ", ".join(m for m, p in self._routes if p == path)
                    raise HttpError(
                        405, "method_not_allowed", f"{method} {path}: use {allowed} {path}"
                    )
                raise HttpError(
                    404, "not_found", f"no route {method} {path[:200]}; see /openapi.json"
                )
            handler, protected = route
            if protected and self._expected is not None:
                self._authorize(scope)
            status, body, content_type = await handler(scope, receive)
            extra = None
        except _Disconnected:
            return
        except BaseException as e:  # every failure answers JSON (asyncio.CancelledError too)
            if isinstance(e, asyncio.CancelledError):
                raise
            err = from_exception(e)
            if err.code == "internal_error":
                _log.exception("skewless server: %s %s failed", method, label)
            status, body, content_type = err.status, error_body(err.code, err.message), _JSON
            self.metrics.errors[err.code] = self.metrics.errors.get(err.code, 0) + 1
            if isinstance(e, OnlineStoreError):
                code = err.code
                self.metrics.redis_errors[code] = self.metrics.redis_errors.get(code, 0) + 1
            extra = [(b"www-authenticate", b"Bearer")] if status == 401 else None
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": _headers(len(body), content_type, extra),
            }
        )
        await send({"type": "http.response.body", "body": body})
        self.metrics.request(label, status, _perf() - started)

    def _authorize(self, scope: dict[str, Any]) -> None:
        given = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                given = value
                break
        expected = self._expected
        assert expected is not None
        if not hmac.compare_digest(given, expected):
            raise HttpError(
                401,
                "unauthorized",
                "missing or wrong bearer token: send `Authorization: Bearer <token>` "
                "(the token is the server's SKEWLESS_SERVER_TOKEN)",
            )

    async def _body(self, scope: dict[str, Any], receive: Receive) -> Any:
        """The request body decoded as JSON, at most `max_body_bytes`."""
        limit = self.config.max_body_bytes
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    raise HttpError(
                        413, "body_too_large", f"the body is {declared:,} bytes, past the limit "
                        f"of {limit:,} (SKEWLESS_SERVER_MAX_BODY_BYTES); split the call",
                    )  # fmt: skip
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    raise HttpError(
                        413, "body_too_large", f"the body is past the limit of {limit:,} bytes "
                        "(SKEWLESS_SERVER_MAX_BODY_BYTES); split the call",
                    )  # fmt: skip
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        raw = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        if not raw:
            raise HttpError(400, "invalid_json", "the body is empty; send a JSON object")
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            raise HttpError(400, "invalid_json", f"the body is not JSON: {e}") from None

    # --- routes -----------------------------------------------------------------------------

    async def _get_online_features(
        self, scope: dict[str, Any], receive: Receive
    ) -> tuple[int, bytes, bytes]:
        call = payloads.parse_call(await self._body(scope, receive))
        loaded = self.current
        loaded.in_flight += 1
        try:
            response = await loaded.store.get_online_features(
                call.features,
                call.entities,
                call.request,
                call.now,
                deadline_ms=call.deadline_ms,
            )
        finally:
            loaded.in_flight -= 1
        if call.feast:
            body, statuses = payloads.encode_feast(response, call.entities, call.full_names)
        else:
            body, statuses = payloads.encode_native(response)
        self._count(response.features, statuses)
        return 200, payloads.dumps(body), _JSON

    def _count(self, features: tuple[str, ...], statuses: list[list[str]]) -> None:
        """Per-view status counts (`/metrics`); the views of a feature list are kept for the
        next call with the same list (most calls repeat a few lists; at most 1,024 kept)."""
        counts = self.metrics.values
        views = self._views_of.get(features)
        if views is None:
            views = tuple(ref.rpartition(".")[0] for ref in features)
            if len(self._views_of) < 1024:
                self._views_of[features] = views
        for row in statuses:
            for key in zip(views, row, strict=False):
                counts[key] = counts.get(key, 0) + 1

    async def _livez(self, scope: dict[str, Any], receive: Receive) -> tuple[int, bytes, bytes]:
        return 200, b'{"status":"ok"}', _JSON

    async def _redis_state(self, store: Any) -> tuple[dict[str, dict[str, str]], dict[str, bool]]:
        """Per feature view its bookkeeping hash and whether its current version has a pointer,
        read with the async client (one pipeline) within `_PROBE_TIMEOUT`.

        Raises:
            OnlineStoreError: Redis did not answer (redacted URL).
        """
        from skewless.online.connection import FAULTS
        from skewless.online.keys import meta_key, pointer_key

        views = sorted(store.registry.views.values(), key=lambda v: v.name)
        try:
            async with asyncio.timeout(_PROBE_TIMEOUT):
                pipe = store.redis.pipeline(transaction=False)
                for v in views:
                    pipe.hgetall(meta_key(v.name))
                    pipe.exists(pointer_key(v.name, v.version))
                replies = await pipe.execute()
        except _probe_faults(FAULTS) as e:
            raise OnlineStoreError(
                f"Redis at {store.redis_url} did not answer ({type(e).__name__})",
                operation="probe",
                url=store.redis_url,
            ) from None
        meta: dict[str, dict[str, str]] = {}
        pointers: dict[str, bool] = {}
        for i, v in enumerate(views):
            raw = replies[2 * i] or {}
            meta[v.name] = {
                (k.decode() if isinstance(k, bytes) else k): (
                    val.decode() if isinstance(val, bytes) else val
                )
                for k, val in raw.items()
            }
            pointers[v.name] = bool(replies[2 * i + 1])
        return meta, pointers

    async def _readyz(self, scope: dict[str, Any], receive: Receive) -> tuple[int, bytes, bytes]:
        loaded = self.current
        checks: dict[str, Any] = {}
        ready = True
        if loaded is None:
            checks["definitions"] = {"ok": False, "error": "no manifest loaded yet"}
            body = {"ready": False, "checks": checks}
            return 503, orjson.dumps(body), _JSON
        store = loaded.store
        checks["definitions"] = {
            "ok": True,
            "manifest_sha256": loaded.sha256,
            "views": len(store.registry.views),
            "request_time_views": len(store.registry.on_demand),
            "disabled": store.problems,
        }
        checks["reload"] = {"ok": not self.watcher.error, "error": self.watcher.error or None}
        try:
            _meta, pointers = await self._redis_state(store)
            checks["redis"] = {"ok": True, "url": store.redis_url}
            missing = sorted(name for name, ok in pointers.items() if not ok)
            checks["materialized"] = {
                "ok": not missing,
                "missing": [
                    f"{name}: version {store.registry.views[name].version} was never "
                    f"materialized; run `skewless materialize --select {name}`"
                    for name in missing
                ],
            }
            ready = not missing
        except OnlineStoreError as e:
            checks["redis"] = {"ok": False, "url": store.redis_url, "error": str(e)}
            checks["materialized"] = {"ok": False, "missing": []}
            ready = False
        body = {"ready": ready, "checks": checks}
        return (200 if ready else 503), orjson.dumps(body), _JSON

    async def _features(self, scope: dict[str, Any], receive: Receive) -> tuple[int, bytes, bytes]:
        from skewless.server.catalog import catalog

        loaded = self.current
        meta, pointers = await self._redis_state(loaded.store)
        body = catalog(loaded.store, meta, pointers, loaded.sha256)
        return 200, payloads.dumps(body), _JSON

    async def _metrics(self, scope: dict[str, Any], receive: Receive) -> tuple[int, bytes, bytes]:
        loaded = self.current
        store = loaded.store
        staleness: dict[str, float] = {}
        redis_up = True
        try:
            meta, _pointers = await self._redis_state(store)
        except OnlineStoreError:
            meta, redis_up = {}, False
        now = time.time()
        for name, m in meta.items():
            at = m.get("materialized_at")
            if at:
                staleness[name] = max(0.0, now - int(at) / 1e6)
        freshness = {
            v.name: v.freshness.total_seconds()
            for v in store.registry.views.values()
            if v.freshness is not None
        }
        log = store.sync.feature_log
        text = self.metrics.render(
            staleness=staleness,
            freshness=freshness,
            log_dropped=log.stats.dropped if log is not None else 0,
            log_calls=log.stats.calls if log is not None else 0,
            redis_up=redis_up,
            in_flight=loaded.in_flight,
            manifest_sha=loaded.sha256,
            manifest_loaded_at=loaded.loaded_at,
        )
        return 200, text.encode(), _TEXT

    async def _openapi(self, scope: dict[str, Any], receive: Receive) -> tuple[int, bytes, bytes]:
        if self._openapi_body is None:
            from skewless.server.openapi import openapi_document

            self._openapi_body = orjson.dumps(openapi_document())
        return 200, self._openapi_body, _JSON

    async def _explain(self, scope: dict[str, Any], receive: Receive) -> tuple[int, bytes, bytes]:
        data = await self._body(scope, receive)
        if not isinstance(data, dict):
            raise RequestError(
                f"the body must be a JSON object with `feature` and `entity`, got {brief(data)}"
            )
        for name in data:
            if name not in ("feature", "entity", "at"):
                raise RequestError(
                    f"`{brief(name)[1:-1]}`: unknown field; allowed: at, entity, feature"
                )
        feature = data.get("feature")
        if not isinstance(feature, str):
            raise RequestError(f"`feature`: give a `<model>.<column>` string, got {brief(feature)}")
        entity = data.get("entity")
        if not isinstance(entity, dict):
            raise RequestError(f"`entity`: give a dict of key values, got {brief(entity)}")
        at = payloads.parse_now(data.get("at"), "at")
        loaded = self.current
        loaded.store.registry.feature(feature)  # unknown: 404 before the offline side opens
        lock = self._explain_lock
        assert lock is not None
        loaded.in_flight += 1
        try:
            async with lock:  # one offline reader at a time (DuckDB files, connection limits)
                result = await asyncio.to_thread(self._explain_sync, loaded, feature, entity, at)
        finally:
            loaded.in_flight -= 1
        return 200, payloads.dumps(result), _JSON

    async def _push(self, scope: dict[str, Any], receive: Receive) -> tuple[int, bytes, bytes]:
        data = await self._body(scope, receive)
        if not isinstance(data, dict):
            raise RequestError(
                f"the body must be a JSON object with `view` and `events`, got {brief(data)}"
            )
        for name in data:
            if name not in ("view", "events", "now"):
                raise RequestError(
                    f"`{brief(name)[1:-1]}`: unknown field; allowed: events, now, view"
                )
        view = data.get("view")
        if not isinstance(view, str):
            raise RequestError(f"`view`: give a window view's name, got {brief(view)}")
        events = data.get("events")
        if not isinstance(events, list):
            raise RequestError(f"`events`: give a list of event objects, got {brief(events)}")
        now = payloads.parse_now(data.get("now"), "now")
        loaded = self.current
        loaded.in_flight += 1
        try:  # off the event loop: the log write and redis-py's blocking client
            result = await loaded.store.push(view, events, now=now)
        finally:
            loaded.in_flight -= 1
        out = result.to_dict()
        out["log_files"] = len(out["log_files"])
        return 200, payloads.dumps(out), _JSON

    def _explain_sync(self, loaded: Loaded, feature: str, entity: Any, at: Any) -> Any:
        from skewless.errors import ManifestError, OnlineStoreError, RequestError
        from skewless.errors import UnknownFeatureError as Unknown
        from skewless.guards.explain import explain

        store = loaded.store.sync
        views = store.registry.views.values()
        config = self.config
        reader: Any
        try:
            if config.duckdb_path is not None:
                from skewless.offline.duckdb import DuckDBReader

                reader = DuckDBReader.open(config.duckdb_path, views)
            else:
                from skewless.offline import reader_from_profile

                reader = reader_from_profile(
                    config.project_dir, config.profiles_dir, config.dbt_target, views
                )
        except SkewlessError as e:
            raise HttpError(
                503, "offline_unavailable", f"the offline side cannot be opened: {e}"
            ) from None
        try:
            return explain(store, reader, feature, entity, now=at).to_dict()
        except (RequestError, Unknown, OnlineStoreError):
            raise
        except ManifestError as e:
            raise HttpError(503, "offline_unavailable", str(e)) from None
        finally:
            reader.close()


def app_from_env() -> FeatureServer:
    """The app built from `SKEWLESS_*` variables (uvicorn's factory for `--workers N`)."""
    return FeatureServer(ServerConfig.from_env())
