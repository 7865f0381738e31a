"""Online serving: `FeatureStore.get_online_features` and its `OnlineResponse`.

Read path, per call (see `keys.py` for the key layout and `codec.py` for the value layout):

1. The feature list is resolved once and cached as a *plan*: the views involved, the key builder
   of each distinct entity, the position and decoder of every requested feature in the view's
   packed value, and the coerced column defaults.
2. ONE round trip: a single MGET of the per-(view, version) pointer keys followed by the data
   keys of every (view, entity) under the generation cached for the view. On a plain Redis an
   MGET is atomic, so pointers and data are one consistent snapshot; if a pointer moved (a new
   generation was flipped in since), the data keys are re-read under the new generation — a rare
   second round trip. The very first call per view reads the pointers first.
3. Per value a status and an age: `present`; `missing` (no row); `expired` (older than the view's
   `ttl`, checked on read too, not only by Redis key expiry); `stale` (older than `freshness`,
   with `on_stale: serve` → value kept, `null` → None, `default` → the column default with
   status `defaulted`, `reject` → `StaleFeatureError`); `defaulted` (a column `default` served
   for a missing, expired or stale value).

Redis Cluster: MGET cannot span slots, so the cluster client reads the same keys with a
non-transactional cluster pipeline (one round trip per node involved). Each view's data keys
carry the generation, so a read still never mixes generations within a view; what is lost is
the atomic pointer+data snapshot, which the one-generation grace period of the loader covers
(a generation is deleted only after two newer ones were flipped in). The cluster path is tested
against a three-node cluster started by the test suite.

Request-time features: `request=` is kept on the response, and every callable in
`FeatureStore.post_lookup` runs after the lookup as `hook(store, response, request)`; request-time
(on-demand) views plug in there. No such view is evaluated yet.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgpack

from skewless.definitions import FeatureView
from skewless.definitions.registry import Registry
from skewless.errors import (
    NotMaterializedError,
    OnlineStoreError,
    RequestError,
    StaleFeatureError,
    UnknownFeatureError,
)
from skewless.online import codec
from skewless.online.connection import DEFAULT_REDIS_URL, connect, redact
from skewless.online.keys import KeyBuilder, data_key_tail, meta_key, pointer_key

if TYPE_CHECKING:
    from skewless.definitions.ondemand import OnDemandView
    from skewless.guards.feature_log import FeatureLogConfig, FeatureLogger

__all__ = ["STATUSES", "FeatureStore", "OnlineResponse", "PostLookup"]

#: Every status a served value can have.
STATUSES = ("present", "missing", "expired", "stale", "defaulted")

PostLookup = Callable[["FeatureStore", "OnlineResponse", Any], None]

_unpackb = msgpack.unpackb
_PRESENT, _MISSING, _EXPIRED, _STALE = "present", "missing", "expired", "stale"
_MAX_POINTER_RETRIES = 5


class _ViewPlan:
    """One view of a plan: where its requested features sit and how they are read."""

    __slots__ = (
        "decoders",
        "defaults",
        "entity_group",
        "features",
        "getter",
        "has_defaults",
        "limit_us",
        "n",
        "name",
        "on_stale",
        "pointer",
        "slice",
        "stale_us",
        "ttl_us",
        "view",
        "whole",
    )

    def __init__(self, view: FeatureView, feature_names: list[str], entity_group: int):
        self.view = view
        self.name = view.name
        self.pointer = pointer_key(view.name, view.version)
        self.entity_group = entity_group
        self.ttl_us = _micros(view.ttl)
        self.stale_us = _micros(view.freshness)
        self.on_stale = view.on_stale
        positions = []
        decoders: list[tuple[int, codec.Decoder]] = []
        defaults = []
        has_defaults = []
        names = view.feature_names
        for i, name in enumerate(feature_names):
            feature = view.feature(name)
            kind = codec.column_kind(view.name, name, feature.data_type)
            positions.append(names.index(name))
            dec = codec.decoder(kind)
            if dec is not None:
                decoders.append((i, dec))
            defaults.append(
                codec.coerce_default(kind, feature.default, f"model `{view.name}`, column `{name}`")
            )
            has_defaults.append(feature.has_default)
        self.n = len(positions)
        self.features = tuple(feature_names)
        # itemgetter of one position returns a scalar: wrap so it always returns a tuple.
        if len(positions) == 1:
            pos = positions[0]
            self.getter: Callable[[list[Any]], Any] = lambda row: (row[pos],)
        else:
            self.getter = itemgetter(*positions)
        # the packed row, once its timestamp is popped, is exactly the view's features: served
        # as is when all are requested in order; a slice when they are contiguous
        contiguous = positions == list(range(positions[0], positions[0] + len(positions)))
        self.whole = positions == list(range(len(names)))
        self.slice = slice(positions[0], positions[0] + len(positions)) if contiguous else None
        # one comparison on the hot path: anything older than this needs the slow branch
        limits = [x for x in (self.ttl_us, self.stale_us) if x is not None]
        self.limit_us = min(limits) if limits else 1 << 62
        self.decoders = tuple(decoders)
        self.defaults = tuple(defaults)
        self.has_defaults = tuple(has_defaults)

    def fallback(self, null_only: bool = False) -> list[Any]:
        """Values served for a missing/expired row: each column's default, else None."""
        if null_only:
            return [None] * self.n
        return [d if h else None for d, h in zip(self.defaults, self.has_defaults, strict=True)]


class _OnDemandPlan:
    """The request-time part of a plan: which on-demand features to compute from which inputs."""

    __slots__ = ("inputs", "names", "offsets", "outputs", "views", "width")

    def __init__(self, views: list[OnDemandView], outputs: list[tuple[int, str]]):
        self.views = tuple(views)
        #: per requested on-demand feature: (index into `views`, feature name)
        self.outputs = tuple(outputs)
        #: per view: the requested names (None: all of them, one fused evaluation)
        self.names: list[tuple[str, ...] | None] = []
        for i, v in enumerate(views):
            asked = tuple(n for j, n in outputs if j == i)
            self.names.append(None if set(asked) == set(v.feature_names) else asked)
        #: per on-demand view: (slot index, [(position in the slot's values, input column)])
        self.inputs: list[list[tuple[int, list[tuple[int, str]]]]] = [[] for _ in views]
        self.width = 0  # values of the visible slots (the rest feed the on-demand views)
        self.offsets: tuple[int, ...] = ()  # where each slot's values start in a looked-up row


class _Plan:
    """A resolved feature list: views, key builders, output order.

    `views` holds one slot per (view, key columns): first the views whose features were asked
    for, then (hidden) the input views of requested on-demand features, read in the same MGET.
    """

    __slots__ = (
        "builders",
        "nvisible",
        "on_demand",
        "permutation",
        "pointers",
        "refs",
        "views",
    )

    def __init__(self, registry: Registry, refs: Sequence[str]):
        by_view: dict[str, list[str]] = {}
        od_by_view: dict[str, list[str]] = {}
        request_refs: list[str] = []
        for ref in refs:
            if not isinstance(ref, str):
                raise UnknownFeatureError(
                    f"feature reference {ref!r} is not a `<model>.<column>` string"
                )
            feature = registry.feature(ref)
            if ref in request_refs:
                continue
            request_refs.append(ref)
            target = od_by_view if feature.view in registry.on_demand else by_view
            target.setdefault(feature.view, []).append(feature.name)
        builders: list[KeyBuilder] = []
        signatures: list[tuple[Any, ...]] = []
        views: list[_ViewPlan] = []
        plan_refs: list[str] = []

        def slot(view: FeatureView, names: list[str], columns: tuple[str, ...]) -> int:
            sig = (view.entity, view.entity_types, columns)
            if sig not in signatures:
                signatures.append(sig)
                builders.append(KeyBuilder(view, columns))
            views.append(_ViewPlan(view, names, signatures.index(sig)))
            return len(views) - 1

        for view_name, names in by_view.items():
            view = registry.view(view_name)
            slot(view, names, view.entity)
            plan_refs.extend(f"{view_name}.{n}" for n in names)
        self.nvisible = len(views)
        self.on_demand: _OnDemandPlan | None = None
        if od_by_view:
            od_views = [registry.on_demand[name] for name in od_by_view]
            outputs = [(i, n) for i, v in enumerate(od_views) for n in od_by_view[v.name]]
            od = _OnDemandPlan(od_views, outputs)
            od.width = sum(vp.n for vp in views)
            for i, odv in enumerate(od_views):
                names_i = od.names[i]
                used = odv.reads(names_i if names_i is not None else odv.feature_names)
                for spec in odv.inputs:
                    view = registry.view(spec.view)
                    names = [f.name for f in view.features if spec.column(f.name) in used]
                    if names:
                        columns = tuple(dict(spec.keys)[k] for k in view.entity)
                        si = slot(view, names, columns)
                        od.inputs[i].append(
                            (si, [(j, spec.column(n)) for j, n in enumerate(names)])
                        )
            plan_refs.extend(f"{od_views[i].name}.{n}" for i, n in outputs)
            starts = [0]
            for vp in views:
                starts.append(starts[-1] + vp.n)
            od.offsets = tuple(starts)
            self.on_demand = od
        self.views = tuple(views)
        self.builders = tuple(builders)
        self.pointers = tuple(vp.pointer for vp in views)
        self.refs = tuple(request_refs)
        if plan_refs == request_refs:
            self.permutation: Callable[[list[Any]], Any] | None = None
        else:
            order = [plan_refs.index(r) for r in request_refs]
            self.permutation = itemgetter(*order) if len(order) > 1 else None


def _micros(value: timedelta | None) -> int | None:
    if value is None:
        return None
    return value.days * 86_400_000_000 + value.seconds * 1_000_000 + value.microseconds


def _now_micros(now: datetime | None) -> int:
    if now is None:
        return time.time_ns() // 1000
    if not isinstance(now, datetime):
        raise RequestError(f"`now` must be a datetime, got {now!r}")
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    return _micros(now - codec.EPOCH)  # type: ignore[return-value]


class OnlineResponse:
    """Feature values for a list of entities, with a status and an age per value.

    Attributes:
        features: the feature references, in the order requested.
        entities: the entity dicts, as passed.
        request: the request payload passed to `get_online_features` (None when absent).
    """

    __slots__ = (
        "_now_us",
        "_plan",
        "_rows",
        "_stamps",
        "_vstatus",
        "entities",
        "features",
        "request",
    )

    def __init__(
        self,
        plan: _Plan,
        entities: Sequence[Mapping[str, Any]],
        rows: list[list[Any]],
        vstatus: list[list[str] | None],
        stamps: list[list[int | None]],
        request: Any = None,
        now_us: int = 0,
    ):
        self._plan = plan
        self._now_us = now_us
        self.features: tuple[str, ...] = plan.refs
        self.entities = entities
        self._rows = rows
        self._vstatus = vstatus
        self._stamps = stamps
        self.request = request

    def __len__(self) -> int:
        return len(self._rows)

    def __repr__(self) -> str:
        return f"OnlineResponse({len(self._rows)} entities × {len(self.features)} features)"

    @property
    def served_at(self) -> datetime:
        """The time the values were aged against (`now`), tz-aware UTC."""
        return codec.decode_timestamp(self._now_us)

    @property
    def versions(self) -> dict[str, str]:
        """Feature view → the definition version served (on-demand views and their inputs too)."""
        out = {vp.name: vp.view.version for vp in self._plan.views}
        if self._plan.on_demand is not None:
            out.update({v.name: v.version for v in self._plan.on_demand.views})
        return out

    @property
    def view_statuses(self) -> tuple[list[str], list[list[str]]] | None:
        """(view names, per entity the raw status of each view's row): `present`, `missing`,
        `expired` or `stale` — the cheap form of `statuses` for the served-feature log (which
        derives `defaulted` from the definitions). None when request-time features were asked
        for (they have no view row); use `statuses` then."""
        plan = self._plan
        if plan.on_demand is not None:
            return None
        n = len(self._rows)
        columns = [[_PRESENT] * n if st is None else st for st in self._vstatus]
        return [vp.name for vp in plan.views], [list(r) for r in zip(*columns, strict=True)]

    @property
    def values(self) -> list[list[Any]]:
        """One list per entity: the values in `features` order."""
        perm = self._plan.permutation
        if perm is None:
            return self._rows
        return [list(perm(r)) for r in self._rows]

    def to_dicts(self) -> list[dict[str, Any]]:
        """One dict per entity: feature reference → value."""
        refs = self.features
        perm = self._plan.permutation
        if perm is None:
            return [dict(zip(refs, r, strict=False)) for r in self._rows]
        return [dict(zip(refs, perm(r), strict=False)) for r in self._rows]

    def _per_value(
        self, make: Callable[[_ViewPlan, str, int | None, int], Any]
    ) -> list[dict[str, Any]]:
        plan = self._plan
        out = []
        for ei in range(len(self._rows)):
            row: dict[str, Any] = {}
            for vi, vp in enumerate(plan.views[: plan.nvisible]):
                statuses = self._vstatus[vi]
                status = _PRESENT if statuses is None else statuses[ei]
                ts = self._stamps[vi][ei]
                age = None if ts is None else self._now_us - ts
                for j, name in enumerate(vp.features):
                    row[f"{vp.name}.{name}"] = make(vp, status, age, j)
            od = plan.on_demand
            if od is not None:
                for i, name in od.outputs:
                    row[f"{od.views[i].name}.{name}"] = make(None, _PRESENT, None, 0)  # type: ignore[arg-type]
            out.append({ref: row[ref] for ref in self.features})
        return out

    @property
    def statuses(self) -> list[dict[str, str]]:
        """One dict per entity: feature reference → `present | missing | expired | stale | defaulted`."""

        def status(vp: _ViewPlan, s: str, _age: int | None, j: int) -> str:
            if s is _PRESENT:
                return s
            if s is _STALE:
                return "defaulted" if vp.on_stale == "default" else s
            return "defaulted" if vp.has_defaults[j] else s

        return self._per_value(status)

    @property
    def ages(self) -> list[dict[str, timedelta | None]]:
        """One dict per entity: feature reference → age of the value (now − its timestamp).

        None when no row was found.
        """

        def age(_vp: _ViewPlan, _s: str, a: int | None, _j: int) -> timedelta | None:
            return None if a is None else timedelta(microseconds=a)

        return self._per_value(age)

    def to_pandas(self) -> Any:
        """A pandas DataFrame: one row per entity, the entity keys then one column per feature."""
        import pandas as pd

        rows = self.to_dicts()
        frame = pd.DataFrame(rows, columns=list(self.features))
        keys = pd.DataFrame([dict(e) for e in self.entities])
        return pd.concat([keys.reset_index(drop=True), frame], axis=1)

    def to_arrow(self) -> Any:
        """A pyarrow Table: the entity keys then one column per feature (decimals stay exact)."""
        import pyarrow as pa

        columns: dict[str, list[Any]] = {}
        for e in self.entities:
            for k in e:
                columns.setdefault(k, [])
        for e in self.entities:
            for k in columns:
                columns[k].append(e.get(k))
        values = self.values
        for i, ref in enumerate(self.features):
            columns[ref] = [r[i] for r in values]
        return pa.table({k: pa.array(v) for k, v in columns.items()})


class FeatureStore:
    """Serves feature vectors from Redis for the feature views of a dbt project.

    Attributes:
        registry: the feature views, read from the dbt manifest.
        redis_url: the Redis URL, redacted (safe to log).
        post_lookup: hooks run after each lookup as `hook(store, response, request)`; request-time
            (on-demand) views plug in here.
    """

    def __init__(
        self,
        registry: Registry,
        client: Any,
        redis_url: str = "",
        feature_log: FeatureLogConfig | None = None,
    ):
        self.registry = registry
        self.redis = client
        self.redis_url = redact(redis_url) if redis_url else ""
        self.post_lookup: list[PostLookup] = []
        self.feature_log: FeatureLogger | None = None
        self._plans: dict[Any, _Plan] = {}
        # pointer key → (generation, data-key tail) last seen; one tuple, so threads never see
        # a generation with another generation's tail
        self._generations: dict[bytes, tuple[bytes, bytes]] = {}
        self._cluster = type(client).__name__ == "RedisCluster"
        import redis

        self._redis_errors = redis
        kwargs = getattr(getattr(client, "connection_pool", None), "connection_kwargs", {})
        # the lean read path needs raw bytes replies from a plain (non-cluster) pool
        self._pool = (
            None
            if self._cluster or kwargs.get("decode_responses")
            else getattr(client, "connection_pool", None)
        )
        if feature_log is not None:
            from skewless.guards.feature_log import FeatureLogger

            # attached last: it logs what the caller receives, request-time features included
            self.feature_log = FeatureLogger(feature_log).attach(self)

    @classmethod
    def from_dbt(
        cls,
        project_dir: str | Path,
        target_path: str = "target",
        redis_url: str | None = None,
        feature_log: FeatureLogConfig | bool | None = True,
        **redis_options: Any,
    ) -> FeatureStore:
        """Read `<project_dir>/<target_path>/manifest.json` (no dbt import) and connect to Redis.

        Args:
            project_dir: the dbt project folder.
            target_path: dbt's target folder, relative to `project_dir` (or absolute).
            redis_url: `redis://[user:password@]host:port/db` or `rediss://…` (TLS); a
                `redis+cluster://` URL opens a Redis Cluster client. Default: local Redis.
            feature_log: served-feature logging: a `FeatureLogConfig`, False for none, or True
                (default) to read it from `SKEWLESS_FEATURE_LOG*` (off when unset).
            **redis_options: passed to redis-py's `from_url` (timeouts, TLS files…).
        """
        registry = Registry.from_dbt(project_dir, target_path)
        url = redis_url or DEFAULT_REDIS_URL
        return cls(registry, connect(url, **redis_options), url, _log_config(feature_log))

    @classmethod
    def from_manifest(
        cls,
        manifest_path: str | Path,
        redis_url: str | None = None,
        feature_log: FeatureLogConfig | bool | None = True,
        **redis_options: Any,
    ) -> FeatureStore:
        """Like `from_dbt`, from the path of a `manifest.json`."""
        url = redis_url or DEFAULT_REDIS_URL
        registry = Registry.from_manifest(manifest_path)
        return cls(registry, connect(url, **redis_options), url, _log_config(feature_log))

    def close(self) -> None:
        """Flush and stop the served-feature log (if any) and close the Redis connections."""
        if self.feature_log is not None:
            self.feature_log.close()
        close = getattr(self.redis, "close", None)
        if close is not None:
            close()

    def check_training_record(self, path: str | Path) -> list[Any]:
        """Every feature of a training record whose served version differs from the record's
        (definition changed since, or the current version not materialized), see
        `skewless.training.check_training_record`."""
        from skewless.guards.training import check_training_record

        return check_training_record(path, self.registry, self.redis)

    def _plan(self, features: Sequence[str]) -> _Plan:
        try:
            key = tuple(features)
        except TypeError:
            raise RequestError(
                f"features must be a list of `<model>.<column>` strings, got {features!r}"
            ) from None
        plan = self._plans.get(key)
        if plan is None:
            if isinstance(features, str):
                raise RequestError(
                    f"features must be a list of references, got the string {features!r}"
                )
            plan = self._plans[key] = _Plan(self.registry, key)
        return plan

    def _read(self, keys: list[bytes]) -> list[Any]:
        """One MGET (a cluster pipeline of GETs on Redis Cluster)."""
        pool = self._pool
        if pool is not None:
            # Lean path: one pooled connection, send + read, no per-command dispatch (saves
            # ≈4 µs a call over `execute_command`). Any connection trouble falls through to
            # `execute_command`, which reconnects and retries as configured.
            conn = pool.get_connection()
            try:
                conn.send_command("MGET", *keys)
                return conn.read_response()  # type: ignore[no-any-return]
            except (self._redis_errors.ConnectionError, self._redis_errors.TimeoutError, OSError):
                conn.disconnect()
            except self._redis_errors.RedisError as e:
                raise OnlineStoreError(
                    f"reading features from Redis at {self.redis_url} failed: {type(e).__name__}: "
                    f"{e}"
                ) from None
            finally:
                pool.release(conn)
        try:
            if self._cluster:
                pipe = self.redis.pipeline(transaction=False)
                for k in keys:
                    pipe.get(k)
                return pipe.execute()  # type: ignore[no-any-return]
            return self.redis.execute_command("MGET", *keys)  # type: ignore[no-any-return]
        except self._redis_errors.RedisError as e:
            raise OnlineStoreError(
                f"reading features from Redis at {self.redis_url} failed: {type(e).__name__}"
            ) from None

    def _refresh_generations(self, plan: _Plan) -> None:
        self._pointers_moved(plan, self._read(list(plan.pointers)))

    def _pointers_moved(self, plan: _Plan, pointers: list[Any]) -> bool:
        """Record the generations the pointers name; True when one differs from the cached one.

        Raises:
            NotMaterializedError: a view's pointer is absent.
        """
        moved = False
        for vp, gen in zip(plan.views, pointers, strict=True):
            if gen is None:
                self._generations.pop(vp.pointer, None)
                raise self._not_materialized(vp.view)
            cached = self._generations.get(vp.pointer)
            if cached is None or cached[0] != gen:
                self._generations[vp.pointer] = (gen, data_key_tail(vp.name, gen))
                moved = True
        return moved

    def _not_materialized(self, view: FeatureView) -> NotMaterializedError:
        try:
            stored = self.redis.hget(meta_key(view.name), "version")
        except Exception:
            stored = None
        held = (
            f" (Redis holds version {stored.decode()} from an older or newer definition)"
            if stored and stored.decode() != view.version
            else ""
        )
        return NotMaterializedError(
            f"feature view `{view.name}` at its current definition version {view.version} was "
            f"never materialized into Redis at {self.redis_url}{held}; run "
            f"`skewless materialize --select {view.name}`"
        )

    def _view_slow(
        self,
        vp: _ViewPlan,
        blobs: list[bytes | None],
        now_us: int,
        entities: Sequence[Mapping[str, Any]],
    ) -> tuple[list[list[Any]], list[str], list[int | None]]:
        """Values, statuses and timestamps of one view when a row is missing, expired or stale."""
        values_v: list[list[Any]] = []
        status_v: list[str] = []
        ts_v: list[int | None] = []
        for ei, blob in enumerate(blobs):
            if blob is None:
                values_v.append(vp.fallback())
                status_v.append(_MISSING)
                ts_v.append(None)
                continue
            row = _unpackb(blob)
            ts = row.pop()
            age = now_us - ts
            if age > vp.limit_us:
                status, values = self._aged(vp, row, age, entities[ei])
            else:
                status = _PRESENT
                values = list(vp.getter(row))
                for j, dec in vp.decoders:
                    values[j] = dec(values[j])
            values_v.append(values)
            status_v.append(status)
            ts_v.append(ts)
        return values_v, status_v, ts_v

    @staticmethod
    def _aged(
        vp: _ViewPlan, row: list[Any], age: int, entity: Mapping[str, Any]
    ) -> tuple[str, list[Any]]:
        """Status and values of a row older than its view's ttl or freshness SLA."""
        if vp.ttl_us is not None and age > vp.ttl_us:
            return _EXPIRED, vp.fallback()
        policy = vp.on_stale
        if policy == "serve":
            values = list(vp.getter(row))
            for j, dec in vp.decoders:
                values[j] = dec(values[j])
            return _STALE, values
        if policy == "null":
            return _STALE, vp.fallback(null_only=True)
        if policy == "default":
            return _STALE, vp.fallback()
        raise StaleFeatureError(
            f"feature view `{vp.name}`: the value for entity {_entity_repr(entity, vp.view)} is "
            f"{timedelta(microseconds=age)} old, past its freshness SLA of {vp.view.freshness} "
            f"(on_stale: reject); rematerialize (`skewless materialize --select {vp.name}`) or "
            "relax the SLA"
        )

    def _evaluate_on_demand(
        self,
        plan: _Plan,
        od: _OnDemandPlan,
        rows: list[list[Any]],
        entities: Sequence[Mapping[str, Any]],
        request: Any,
        now_us: int,
    ) -> list[list[Any]]:
        """Visible values of each row, followed by the requested on-demand features computed
        from the request payload and the input features read in the same round trip."""
        payloads = _requests(request, len(rows), od.views)
        now = codec.decode_timestamp(now_us)
        offsets = od.offsets
        out = []
        for ei, row in enumerate(rows):
            computed = []
            for i, odv in enumerate(od.views):
                inputs: dict[str, Any] = {}
                for si, cols in od.inputs[i]:
                    base = offsets[si]
                    for j, col in cols:
                        inputs[col] = row[base + j]
                computed.append(odv.evaluate(entities[ei], payloads[ei], inputs, now, od.names[i]))
            visible = row[: od.width]
            visible += [computed[i][name] for i, name in od.outputs]
            out.append(visible)
        return out

    def get_online_features(
        self,
        features: Sequence[str],
        entities: Sequence[Mapping[str, Any]],
        request: Any = None,
        now: datetime | None = None,
    ) -> OnlineResponse:
        """Look up feature values for entities, in one Redis round trip.

        Args:
            features: feature references, `<model>.<column>`.
            entities: one dict of entity-key values per entity, e.g. `[{"user_id": 42}]`; it must
                hold the key columns of every view involved.
            request: the request payload of each entity, `[{"amount": 120.0, …}, …]` (a dict when
                there is one entity), read by request-time (on-demand) features. Each field takes
                the Python value of the request model's column type or its JSON spelling (text
                is read as DuckDB's CAST reads it: `"11.30"`, ISO 8601 timestamps; see
                `skewless.sql.helpers`). A name also given in the entity must hold the same
                value; the request timestamp is required unless the view sets
                `request_timestamp: now`. Also kept on the response and handed to the
                `post_lookup` hooks.
            now: the time values are aged against (default: the current time); naive means UTC.

        Raises:
            UnknownFeatureError: a reference names no feature.
            RequestError: an entity lacks a key or has one that cannot be converted; a payload
                field is missing or not of its type; a name has different values in the entity
                and in the request (each naming the field).
            NotMaterializedError: a view's current definition version was never materialized.
            StaleFeatureError: a value is past its view's freshness SLA and `on_stale: reject`.
            OnlineStoreError: Redis failed.
        """
        plan = self._plan(features)
        if entities.__class__ is not list:
            if (
                isinstance(entities, Mapping)
                or isinstance(entities, str)
                or not isinstance(entities, Sequence)
            ):
                raise RequestError(f"entities must be a list of dicts, got {entities!r}")
            entities = list(entities)
        now_us = _now_micros(now)
        views = plan.views
        nv = len(views)
        n = len(entities)
        builders = plan.builders
        cache = self._generations
        for pointer in plan.pointers:
            if pointer not in cache:
                self._refresh_generations(plan)
                break
        if not views:  # only request-time features that read no stored input
            assert plan.on_demand is not None
            blank: list[list[Any]] = [[] for _ in entities]
            rows = self._evaluate_on_demand(plan, plan.on_demand, blank, entities, request, now_us)
            response = OnlineResponse(plan, entities, rows, [], [], request, now_us)
            return self._respond(response, request)
        for _attempt in range(_MAX_POINTER_RETRIES):
            # (generation, key tail) per view, read once: the keys and the check use the same
            entries = [cache[p] for p in plan.pointers]
            keys = list(plan.pointers)
            if n == 1:
                entity = entities[0]
                keys += [
                    builders[vp.entity_group].data_key(entity, entry[1])
                    for vp, entry in zip(views, entries, strict=True)
                ]
            else:
                for vp, entry in zip(views, entries, strict=True):
                    keys += builders[vp.entity_group].data_keys(entities, entry[1])
            raw = self._read(keys)
            if raw[:nv] == [e[0] for e in entries]:
                break
            self._pointers_moved(plan, raw[:nv])  # a pointer moved: read again under the new one
        else:
            raise OnlineStoreError(
                f"the generation pointers of {[vp.name for vp in views]} kept moving during "
                f"{_MAX_POINTER_RETRIES} reads; is a loader flipping in a loop?"
            )

        per_view: list[list[list[Any]]] = []
        vstatus: list[list[str] | None] = []
        stamps: list[list[int | None]] = []
        if n == 1:
            # one entity: no comprehensions, one unpack per view
            row_out: list[Any] = []
            for vi, vp in enumerate(views):
                blob = raw[nv + vi]
                values = None
                if blob is not None:
                    row = _unpackb(blob)
                    ts = row.pop()
                    if now_us - ts <= vp.limit_us:
                        if vp.whole:
                            values = row
                        elif vp.slice is not None:
                            values = row[vp.slice]
                        else:
                            values = list(vp.getter(row))
                        for j, dec in vp.decoders:
                            values[j] = dec(values[j])
                        vstatus.append(None)
                        stamps.append([ts])
                if values is None:
                    (values,), status_v, ts_v = self._view_slow(vp, [blob], now_us, entities)
                    vstatus.append(status_v)
                    stamps.append(ts_v)
                if nv == 1:
                    row_out = values
                else:
                    row_out += values
            rows = [row_out]
        else:
            for vi, vp in enumerate(views):
                blobs = raw[nv + vi * n : nv + (vi + 1) * n]
                unpacked = None
                if None not in blobs:
                    # every row present: unpack them all as one msgpack array (one C call)
                    unpacked = _unpackb(_array_header(n) + b"".join(blobs))
                    ts_v = [r.pop() for r in unpacked]
                    if ts_v and now_us - min(ts_v) > vp.limit_us:  # type: ignore[type-var, operator]
                        unpacked = None
                if unpacked is not None:
                    sl = vp.slice
                    if vp.whole:
                        values_v = unpacked
                    elif sl is not None:
                        values_v = [r[sl] for r in unpacked]
                    else:
                        getter = vp.getter
                        values_v = [list(getter(r)) for r in unpacked]
                    for j, dec in vp.decoders:
                        for values in values_v:
                            values[j] = dec(values[j])
                    statuses: list[str] | None = None  # all present
                else:
                    values_v, statuses, ts_v = self._view_slow(vp, blobs, now_us, entities)
                per_view.append(values_v)
                vstatus.append(statuses)
                stamps.append(ts_v)
            if nv == 1:
                rows = per_view[0]
            else:
                rows = [list(chain.from_iterable(parts)) for parts in zip(*per_view, strict=True)]
        if plan.on_demand is not None:
            rows = self._evaluate_on_demand(plan, plan.on_demand, rows, entities, request, now_us)
            del vstatus[plan.nvisible :], stamps[plan.nvisible :]
        return self._respond(
            OnlineResponse(plan, entities, rows, vstatus, stamps, request, now_us), request
        )

    def _respond(self, response: OnlineResponse, request: Any) -> OnlineResponse:
        for hook in self.post_lookup:
            hook(self, response, request)
        return response


def _requests(
    request: Any, n: int, views: Sequence[OnDemandView]
) -> list[Mapping[str, Any] | None]:
    """The request payload per entity: a list aligned with `entities` (a dict when n == 1)."""
    if request is None:
        return [None] * n
    if isinstance(request, Mapping):
        if n == 1:
            return [request]
    elif isinstance(request, Sequence) and not isinstance(request, (str, bytes)):
        if len(request) == n and all(r is None or isinstance(r, Mapping) for r in request):
            return list(request)
    names = ", ".join(f"`{v.name}`" for v in views)
    raise RequestError(
        f"request must be a list of {n} dict(s), one per entity, for the request-time view(s) "
        f"{names}; got {type(request).__name__} of length {len(request) if hasattr(request, '__len__') else '?'}"
    )


def _log_config(feature_log: FeatureLogConfig | bool | None) -> FeatureLogConfig | None:
    if feature_log is True:
        import os

        if not os.environ.get("SKEWLESS_FEATURE_LOG"):
            return None
        from skewless.guards.feature_log import FeatureLogConfig

        return FeatureLogConfig.from_env()
    return feature_log or None


def _array_header(n: int) -> bytes:
    """The msgpack header of an array of `n` items."""
    if n < 16:
        return bytes((0x90 | n,))
    if n < 0x10000:
        return b"\xdc" + n.to_bytes(2, "big")
    return b"\xdd" + n.to_bytes(4, "big")


def _entity_repr(entity: Mapping[str, Any], view: FeatureView) -> str:
    return "{" + ", ".join(f"{c}={entity.get(c)!r}" for c in view.entity) + "}"
