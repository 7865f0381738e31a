"""Online serving: `FeatureStore.get_online_features` and its `OnlineResponse`.

Read path, per call (see `keys.py` for the key layout and `codec.py` for the value layout):

1. The feature list is resolved once and cached as a *plan*: the views involved, the key builder
   of each distinct entity, the position and decoder of every requested feature in the view's
   packed value, and the coerced column defaults.
2. ONE round trip: a single MGET of the per-(view, version) pointer keys followed by the data
   keys of every (view, entity) under the generation cached for the view. On a plain Redis an
   MGET is atomic, so pointers and data are one consistent snapshot; if a pointer moved (a new
   generation was flipped in since), the data keys are re-read under the new generation — a rare
   second round trip. The very first call per view reads the pointers first. The same MGET
   checks that Redis did not lose what it serves: on a plain Redis the pointer is the sentinel
   (same server, written after everything of its generation); on a cluster the MGET ends with
   one completeness sentinel (`keys.sentinel_key`) per view and node the call reads from, in a
   slot of that node. A value absent where its view's pointer (once seen) or its node's
   sentinel is gone too was lost by Redis — a node restarted empty, a flushed database — and
   is never served as `missing`: it raises `StoreUnavailableError`, or under `on_store_error="defaults"` serves
   the column default with status `unavailable` (a window view's outputs: None, never the
   counts 0 of an entity without events). Values still present are served as usual.
3. Per value a status and an age: `present`; `missing` (no row); `expired` (older than the view's
   `ttl`, checked on read too, not only by Redis key expiry); `stale` (older than `freshness`,
   with `on_stale: serve` → value kept, `null` → None, `default` → the column default with
   status `defaulted`, `reject` → `StaleFeatureError`); `defaulted` (a column `default` served
   for a missing, expired or stale value). And per value a `reason`, why the value served is
   not the stored one: None when it is (`present`, or `stale` under `on_stale: serve`), else
   `missing`, `expired` or `stale` — what `defaulted` (and a None served for a missing, expired
   or nulled stale row) does not say.

Redis Cluster: MGET cannot span slots, so the keys are grouped by node and slot (the cluster
client's slot map) and each node gets one pipelined batch of per-slot MGETs on a connection of
the store's own, every node sent before any reply is read (one round trip, the nodes in
parallel), read with the time left before the deadline (`_read_cluster`). Each view's data keys
carry the generation, so a read still never mixes generations within a view; what is lost is
the atomic pointer+data snapshot, which the one-generation grace period of the loader covers
(a generation is deleted only after two newer ones were flipped in). The cluster path is tested
against a three-node cluster started by the test suite.

Request-time features: `request=` is kept on the response, and every callable in
`FeatureStore.post_lookup` runs after the lookup as `hook(store, response, request)`; request-time
(on-demand) views plug in there. No such view is evaluated yet.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Generator, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import msgpack
from redis.crc import key_slot as _key_slot

from skewless.definitions import FeatureView
from skewless.definitions.registry import Registry
from skewless.errors import (
    NotMaterializedError,
    OnlineStoreError,
    RequestError,
    RequestLimitError,
    RetiredVersionError,
    StaleFeatureError,
    StoreUnavailableError,
    UnknownFeatureError,
    brief,
)
from skewless.online import codec
from skewless.online.connection import (
    DEFAULT_REDIS_URL,
    FAULTS,
    client_url,
    connect,
    deadline_error,
    redact,
    redis_faults,
    store_error,
)
from skewless.online.keys import KeyBuilder, data_key_tail, meta_key, pointer_key, sentinel_key
from skewless.online.push import PushResult, push_events
from skewless.online.windows import (
    STATE,
    WindowServing,
    t0_key,
    unpack_record,
    window_serving,
)

if TYPE_CHECKING:
    from skewless.definitions.ondemand import OnDemandView
    from skewless.guards.feature_log import FeatureLogConfig, FeatureLogger

__all__ = [
    "DEADLINE_ENV",
    "DEFAULT_DEADLINE_MS",
    "MAX_ENTITIES",
    "MAX_FEATURES",
    "MAX_FEATURE_REF_CHARS",
    "ON_STORE_ERROR_ENV",
    "ON_STORE_ERROR_POLICIES",
    "REASONS",
    "STATUSES",
    "FeatureStore",
    "OnlineResponse",
    "PostLookup",
]

#: Every status a served value can have (`unavailable`: Redis failed and the store's
#: `on_store_error` policy is `defaults`, so the column default, or None, was served).
STATUSES = ("present", "missing", "expired", "stale", "defaulted", "unavailable")
#: Every reason a served value is not the stored one (`OnlineResponse.reasons`; None: it is).
REASONS = ("missing", "expired", "stale", "unavailable")

#: The per-call deadline of `get_online_features` when neither the call, the store nor
#: `SKEWLESS_DEADLINE_MS` says: long enough that a healthy but loaded Redis never reaches it
#: (reads take well under a millisecond), short enough that a service degrades or fails in time.
DEFAULT_DEADLINE_MS = 1000
DEADLINE_ENV = "SKEWLESS_DEADLINE_MS"
#: What `get_online_features` does when Redis fails: `raise` an `OnlineStoreError` (default), or
#: serve every value of the views read as its column default (None without one) with status
#: `unavailable`.
ON_STORE_ERROR_POLICIES = ("raise", "defaults")
ON_STORE_ERROR_ENV = "SKEWLESS_ON_STORE_ERROR"

PostLookup = Callable[["FeatureStore", "OnlineResponse", Any], None]

_log = logging.getLogger("skewless")
_unpackb = msgpack.unpackb
_PRESENT, _MISSING, _EXPIRED, _STALE = "present", "missing", "expired", "stale"
_UNAVAILABLE = "unavailable"
_monotonic = time.monotonic
_MAX_POINTER_RETRIES = 5
_MAX_REDIRECTS = 5  # cluster reads after a MOVED/ASK reply, within the deadline

#: Most entities in one `get_online_features` call (`RequestLimitError` beyond): one call is one
#: MGET, and Redis serves nobody else while it answers it.
MAX_ENTITIES = 10_000
#: Most feature references in one call.
MAX_FEATURES = 1_000
#: Most characters of one feature reference (`<model>.<column>`).
MAX_FEATURE_REF_CHARS = 1_024
_MAX_PLANS = 4_096  # resolved feature lists kept; the cache starts over past this


def _checked_features(features: Any, key: tuple[Any, ...] | None) -> tuple[str, ...]:
    """The feature list of a call not seen before, checked (off the hot path: a plan is cached).

    Raises:
        RequestError: not a list of strings, or empty.
        RequestLimitError: past `MAX_FEATURES` or `MAX_FEATURE_REF_CHARS`.
        UnknownFeatureError: an item is not a string.
    """
    shape = "features must be a list of `<model>.<column>` strings"
    if isinstance(features, (str, bytes)):
        raise RequestError(f"{shape}, got the {type(features).__name__} {brief(features)}")
    if key is None:
        try:
            key = tuple(features)
        except TypeError:
            raise RequestError(f"{shape}, got {brief(features)}") from None
    if not key:
        raise RequestError(f"{shape}, got an empty list; ask for at least one feature")
    if len(key) > MAX_FEATURES:
        raise RequestLimitError(
            f"features: {len(key):,} references in one call, past the limit of "
            f"{MAX_FEATURES:,} (MAX_FEATURES, see docs/limits.md); split the call"
        )
    for i, ref in enumerate(key):
        if not isinstance(ref, str):
            raise UnknownFeatureError(
                f"features[{i}] = {brief(ref)} is not a `<model>.<column>` string"
            )
        if len(ref) > MAX_FEATURE_REF_CHARS:
            raise RequestLimitError(
                f"features[{i}] = {brief(ref)} is longer than {MAX_FEATURE_REF_CHARS:,} characters "
                "(MAX_FEATURE_REF_CHARS); no feature has such a name"
            )
    return key


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
        "outputs",
        "pointer",
        "push_tail",
        "slice",
        "stale_us",
        "ttl_us",
        "view",
        "whole",
        "window",
    )

    def __init__(self, view: FeatureView, feature_names: list[str], entity_group: int):
        self.window: WindowServing | None = None
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

    def serve_window(self, serving: WindowServing, names: list[str]) -> None:
        """Make this the plan of window view outputs `names` (its stored row is the record)."""
        self.window = serving
        self.outputs = tuple(serving.by_name[n] for n in names)
        self.push_tail = data_key_tail(serving.name, b"push")
        self.n = len(names)
        self.features = tuple(names)
        self.defaults = (None,) * self.n
        self.has_defaults = (False,) * self.n
        self.decoders = ()

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
        "windows",
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
            if view_name in registry.windows:
                serving = window_serving(registry.windows[view_name])
                fv = serving.feature_view
                views[slot(fv, [STATE], fv.entity)].serve_window(serving, names)
            else:
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
        self.windows = tuple(i for i, vp in enumerate(views) if vp.window is not None)
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
        raise RequestError(f"`now` must be a datetime, got {brief(now)}")
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    return _micros(now - codec.EPOCH)  # type: ignore[return-value]


class OnlineResponse:
    """Feature values for a list of entities, with a status, a reason and an age per value.

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
        """One dict per entity: feature reference → `present | missing | expired | stale |
        defaulted | unavailable` (`unavailable`: Redis failed under `on_store_error="defaults"`).

        `defaulted` (the column default was served) does not say why; `reasons` does.
        """

        def status(vp: _ViewPlan, s: str, _age: int | None, j: int) -> str:
            return _served_status(vp, s, j)

        return self._per_value(status)

    @property
    def reasons(self) -> list[dict[str, str | None]]:
        """One dict per entity: feature reference → why the value served is not the stored one.

        None when it is the stored value (status `present`, or `stale` under `on_stale: serve`);
        otherwise the value is the column default (status `defaulted`) or None, because the row
        was `missing` (none for the entity), `expired` (older than the view's `ttl`) or `stale`
        (past `freshness` under `on_stale: default` or `null`). One of `REASONS` or None, so a
        service can branch on it (`if reason: …`) and log it; request-time features take the
        reason None (they are computed, not stored).
        """

        def reason(vp: _ViewPlan, s: str, _age: int | None, _j: int) -> str | None:
            return _served_reason(vp, s)

        return self._per_value(reason)

    @property
    def ages(self) -> list[dict[str, timedelta | None]]:
        """One dict per entity: feature reference → age of the value (now − its timestamp).

        None when no row was found.
        """

        def age(_vp: _ViewPlan, _s: str, a: int | None, _j: int) -> timedelta | None:
            return None if a is None else timedelta(microseconds=a)

        return self._per_value(age)

    def details(
        self,
    ) -> tuple[list[list[str]], list[list[str | None]], list[list[float | None]]]:
        """(statuses, reasons, ages in seconds): per entity one list each, aligned with
        `features` — what `statuses`, `reasons` and `ages` give as dicts, built in one pass (the
        HTTP server's form). Request-time features are `present`, reason None, age None."""
        plan = self._plan
        n = len(self._rows)
        now = self._now_us
        st: list[list[str]] = [[] for _ in range(n)]
        rs: list[list[str | None]] = [[] for _ in range(n)]
        ag: list[list[float | None]] = [[] for _ in range(n)]
        for vi, vp in enumerate(plan.views[: plan.nvisible]):
            statuses = self._vstatus[vi]
            stamps = self._stamps[vi]
            k = len(vp.features)
            for ei in range(n):
                ts = stamps[ei]
                age = None if ts is None else (now - ts) / 1_000_000
                s = _PRESENT if statuses is None else statuses[ei]
                if s is _PRESENT:
                    st[ei] += [_PRESENT] * k
                    rs[ei] += [None] * k
                else:
                    st[ei] += [_served_status(vp, s, j) for j in range(k)]
                    rs[ei] += [_served_reason(vp, s)] * k
                ag[ei] += [age] * k
        od = plan.on_demand
        if od is not None:
            m = len(od.outputs)
            for ei in range(n):
                st[ei] += [_PRESENT] * m
                rs[ei] += [None] * m
                ag[ei] += [None] * m
        perm = plan.permutation
        if perm is not None:
            st = [list(perm(r)) for r in st]
            rs = [list(perm(r)) for r in rs]
            ag = [list(perm(r)) for r in ag]
        return st, rs, ag

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


def manifest_path(project_dir: str | Path, target_path: str = "target") -> Path:
    """`<project_dir>/<target_path>/manifest.json` (`target_path` may be absolute)."""
    target = Path(target_path)
    return (target if target.is_absolute() else Path(project_dir) / target) / "manifest.json"


def _served_status(vp: _ViewPlan, s: str, j: int) -> str:
    """The status of feature `j` of a view row read with raw status `s`."""
    if s is _PRESENT or s == _UNAVAILABLE:
        return s
    if s is _STALE:
        return "defaulted" if vp.on_stale == "default" else s
    return "defaulted" if vp.has_defaults[j] else s


def _served_reason(vp: _ViewPlan, s: str) -> str | None:
    """Why a value of a view row read with raw status `s` is not the stored one (None: it is)."""
    if s == _PRESENT or (s == _STALE and vp.on_stale == "serve"):
        return None
    return s


class FeatureStore:
    """Serves feature vectors from Redis for the feature views of a dbt project.

    A view whose definition is broken (invalid meta, an unsupported request-time construct, no
    compiled SQL in the manifest, a disabled input view) is disabled alone: `problems` says why,
    asking for one of its features raises `BrokenViewError`, every other view serves. Build the
    store with `strict=True` to fail at load instead.

    Faults: every Redis failure of a lookup is an `OnlineStoreError` (never a redis-py or socket
    exception), and a lookup never waits past its deadline (`deadline_ms`; `DeadlineExceeded`,
    nothing re-sent). With `on_store_error="defaults"` a failed lookup serves instead every value
    of its views as the column default (None without one) with status `unavailable`.

    Attributes:
        registry: the feature views, read from the dbt manifest.
        redis_url: the Redis URL, redacted (safe to log).
        deadline_ms: the default per-call deadline of `get_online_features`.
        on_store_error: the default policy on a Redis failure, `raise` or `defaults`.
        post_lookup: hooks run after each lookup as `hook(store, response, request)`; request-time
            (on-demand) views plug in here.
    """

    def __init__(
        self,
        registry: Registry,
        client: Any,
        redis_url: str = "",
        feature_log: FeatureLogConfig | None = None,
        *,
        deadline_ms: float | None = None,
        on_store_error: str | None = None,
    ):
        """
        Args:
            registry: the feature views.
            client: a redis-py client (`connection.connect`).
            redis_url: its URL (redacted here; used in messages only).
            feature_log: served-feature logging, or None.
            deadline_ms: the per-call deadline of `get_online_features` in milliseconds
                (> 0); None reads `SKEWLESS_DEADLINE_MS`, default 1000.
            on_store_error: `raise` or `defaults` (see the class); None reads
                `SKEWLESS_ON_STORE_ERROR`, default `raise`.

        Raises:
            RequestError: `deadline_ms` or `on_store_error` (argument or variable) is invalid.
        """
        self.registry = registry
        self.redis = client
        self.redis_url = redact(redis_url) if redis_url else client_url(client)
        self.deadline_ms = _deadline_ms(deadline_ms, "deadline_ms", env=True)
        self.on_store_error = _policy(on_store_error, "on_store_error", env=True)
        self.post_lookup: list[PostLookup] = []
        #: the store the post-lookup hooks are given: this one, or the `AsyncFeatureStore` it
        #: plans and decodes for
        self.owner: Any = self
        self.feature_log: FeatureLogger | None = None
        self._plans: dict[Any, _Plan] = {}
        # pointer key → (generation, data-key tail) last seen; one tuple, so threads never see
        # a generation with another generation's tail
        self._generations: dict[bytes, tuple[bytes, bytes]] = {}
        #: per window view: (the generation last read, the instant it was loaded at)
        self._window_t0: dict[str, tuple[bytes, int]] = {}
        self._cluster = type(client).__name__ == "RedisCluster"
        from redis.exceptions import TimeoutError as RedisTimeout

        self._timeout_error = RedisTimeout
        # The read path of a plain Redis uses connections of its own, made like the client's
        # pool makes them but with no retry and bytes replies: their socket timeouts are set per
        # call from the remaining deadline, which a pool shared with other callers cannot allow.
        # On Redis Cluster likewise, per node: the cluster client only supplies the slot map.
        self._idle: list[Any] | None = None
        self._node_idle: dict[str, list[Any]] | None = None
        if self._cluster:
            node = client.get_default_node()
            pool = getattr(getattr(node, "redis_connection", None), "connection_pool", None)
        else:
            pool = getattr(client, "connection_pool", None)
        if pool is not None and getattr(pool, "connection_class", None) is not None:
            from redis.backoff import NoBackoff
            from redis.retry import Retry

            self._conn_class = pool.connection_class
            self._conn_kwargs = {
                **pool.connection_kwargs,
                "retry": Retry(NoBackoff(), 0),
                "decode_responses": False,
                "health_check_interval": 0,
            }
            if self._cluster:
                self._node_idle = {}
                self._slot_refresh: threading.Thread | None = None
                self._slot_refreshed = 0.0
            else:
                self._idle = []
            _STORES.add(self)
        if self.problems:
            _log.warning(
                "skewless: %d view(s) disabled, the others serve: %s",
                len(self.problems),
                "; ".join(f"{name}: {message}" for name, message in self.problems.items()),
            )
        if isinstance(feature_log, bool):  # True: from the environment; False: none
            feature_log = _log_config(feature_log)
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
        *,
        strict: bool = False,
        deadline_ms: float | None = None,
        on_store_error: str | None = None,
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
            strict: fail on the first broken definition (`Registry.from_manifest`) instead of
                disabling that view and serving the rest (see `problems`).
            deadline_ms: the default per-call deadline (default: `SKEWLESS_DEADLINE_MS`, else
                1000 ms).
            on_store_error: `raise` (default) or `defaults` (default: `SKEWLESS_ON_STORE_ERROR`).
            **redis_options: passed to redis-py's `from_url` (timeouts, TLS files…).

        Raises:
            ManifestError: no readable manifest.
            SkewlessError: with `strict`, the first broken definition.
            OnlineStoreError: Redis cannot be reached or refuses the credentials.
        """
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
    ) -> FeatureStore:
        """Like `from_dbt`, from the path of a `manifest.json`."""
        url = redis_url or DEFAULT_REDIS_URL
        registry = Registry.from_manifest(manifest_path, strict=strict)
        return cls(
            registry,
            connect(url, **redis_options),
            url,
            _log_config(feature_log),
            deadline_ms=deadline_ms,
            on_store_error=on_store_error,
        )

    @property
    def problems(self) -> dict[str, str]:
        """The disabled views: view name → why (the error its definition raised, naming the
        model, column or construct and the fix). Empty when every view serves.

        Asking for a feature of one of these views raises `BrokenViewError` with the same text.
        """
        problems = getattr(self.registry, "problems", None) or {}
        return {name: p.message for name, p in problems.items()}

    def close(self) -> None:
        """Flush and stop the served-feature log (if any) and close the Redis connections."""
        if self.feature_log is not None:
            self.feature_log.close()
        idle, self._idle = self._idle, ([] if self._idle is not None else None)
        for conn in idle or ():
            conn.disconnect()
        nodes, self._node_idle = self._node_idle, ({} if self._node_idle is not None else None)
        for conns in (nodes or {}).values():
            for conn in conns:
                conn.disconnect()
        close = getattr(self.redis, "close", None)
        if close is not None:
            close()

    def check_training_record(self, path: str | Path) -> list[Any]:
        """Every feature of a training record whose served version differs from the record's
        (definition changed since, or the current version not materialized), see
        `skewless.training.check_training_record`."""
        from skewless.guards.training import check_training_record
        from skewless.online.connection import redis_faults

        with redis_faults("training-record check", self.redis_url):
            return check_training_record(path, self.registry, self.redis)

    def _plan(self, features: Sequence[str]) -> _Plan:
        try:
            key = tuple(features)
            plan = self._plans.get(key)
        except TypeError:  # not iterable, or an unhashable item (a list as a feature name)
            key, plan = None, None
        if plan is None:
            key = _checked_features(features, key)
            if len(self._plans) >= _MAX_PLANS:  # distinct feature lists are a caller's choice
                self._plans.clear()
            plan = self._plans[key] = _Plan(self.registry, key)
        return plan

    def _read(self, keys: list[bytes], deadline: float, budget_ms: float, plan: _Plan) -> list[Any]:
        """One MGET (a cluster pipeline of GETs on Redis Cluster), answered before `deadline`
        (a `time.monotonic()` instant) or abandoned: never re-sent.

        Raises:
            DeadlineExceeded: Redis did not answer in time (connect, send or read).
            OnlineStoreError: any other Redis fault.
        """
        idle = self._idle
        if idle is not None:
            # Lean path: a connection of the store's own, send + read, no per-command dispatch
            # (saves ≈4 µs a call over `execute_command`) and no retry: the socket waits at most
            # the time left, and a failure is raised at once, not re-sent.
            try:
                conn = idle.pop()
            except IndexError:
                conn = self._conn_class(**self._conn_kwargs)
            try:
                _ready(conn, deadline)
                conn.send_command("MGET", *keys, check_health=False)
                return conn.read_response()  # type: ignore[no-any-return]
            except FAULTS as e:
                conn.disconnect()  # the reply may still come: this socket is out of step
                raise self._fault(e, plan, budget_ms) from None
            finally:
                idle.append(conn)
        if self._node_idle is not None:
            return self._read_cluster(keys, deadline, budget_ms, plan)
        if deadline - _monotonic() <= 0:
            raise self._fault(TimeoutError(), plan, budget_ms)
        try:
            if self._cluster:  # a cluster client of another shape: its own pipeline
                pipe = self.redis.pipeline(transaction=False)
                for k in keys:
                    pipe.get(k)
                return pipe.execute()  # type: ignore[no-any-return]
            return self.redis.execute_command("MGET", *keys)  # type: ignore[no-any-return]
        except FAULTS as e:
            raise self._fault(e, plan, budget_ms) from None

    def _read_cluster(
        self, keys: list[bytes], deadline: float, budget_ms: float, plan: _Plan
    ) -> list[Any]:
        """`keys` read from a Redis Cluster before `deadline`, or abandoned: never re-sent past it.

        The keys are grouped by the node serving their slot (the cluster client's slot map) and
        by slot; each node gets one pipelined batch — one MGET per slot (the keys of one entity,
        and its sentinel, share a slot) — on a connection of the store's own. Every batch is
        sent before any reply is read (the nodes answer in parallel: one round trip, not one
        per node), and each node's replies are read with the time left as the socket timeout.
        A MOVED reply (the slot migrated) updates the slot map and the slot is read again; an
        ASK or TRYAGAIN reply (the slot is migrating) reads its keys again one GET each (after
        ASKING, at the node an ASK names) — only while time remains.

        Raises:
            DeadlineExceeded: a node did not answer in time (connect, send or read).
            OnlineStoreError: any other fault (a node down, an error reply, slots that keep
                moving).
        """
        from redis.exceptions import AskError, ResponseError, TryAgainError

        manager = self.redis.nodes_manager
        slots = manager.slots_cache
        out: list[Any] = [None] * len(keys)
        todo: list[int] = list(range(len(keys)))
        # keys read one GET each (a migrating slot) → the node an ASK named, or None
        single: dict[int, str | None] = {}
        for _attempt in range(_MAX_REDIRECTS):
            # per node, in reply order: a slot → its keys' indices (one MGET), or ("get", i)
            # / ("ask", i) → [i] (one GET, after ASKING for an ask)
            batches: dict[str, dict[Any, list[int]]] = {}
            try:
                group: Any
                for i in todo:
                    at = single.get(i) if single else None
                    if at is not None:
                        name, group = at, ("ask", i)
                    else:
                        slot = _key_slot(keys[i])
                        owners = slots.get(slot)
                        if not owners:
                            manager.get_node_from_slot(slot)  # raises, naming the slot
                        name = owners[0].name
                        group = ("get", i) if single and i in single else slot
                    node = batches.get(name)
                    if node is None:
                        node = batches[name] = {}
                    idxs = node.get(group)
                    if idxs is None:
                        node[group] = [i]
                    else:
                        idxs.append(i)
            except FAULTS as e:  # a slot no node serves right now
                raise self._fault(e, plan, budget_ms) from None
            sent: list[tuple[Any, dict[Any, list[int]]]] = []
            moved: list[Any] = []
            retry: list[int] = []
            retry_at: dict[int, str | None] = {}
            error: BaseException | None = None
            done = 0
            try:
                for name, node in batches.items():
                    conn = self._node_conn(name, deadline)
                    sent.append((conn, node))
                    parts = []
                    for group, idxs in node.items():
                        if type(group) is int:
                            parts.append(b"*%d\r\n$4\r\nMGET\r\n" % (len(idxs) + 1))
                        elif group[0] == "ask":
                            parts.append(b"*1\r\n$6\r\nASKING\r\n*2\r\n$3\r\nGET\r\n")
                        else:
                            parts.append(b"*2\r\n$3\r\nGET\r\n")
                        for i in idxs:
                            k = keys[i]
                            parts.append(b"$%d\r\n%s\r\n" % (len(k), k))
                    conn._sock.sendall(b"".join(parts))
                for conn, node in sent:
                    remaining = deadline - _monotonic()
                    if remaining <= 0:
                        raise TimeoutError
                    conn._sock.settimeout(remaining)
                    read = conn.read_response
                    for group, idxs in node.items():
                        try:
                            if type(group) is int:
                                for i, value in zip(idxs, read(), strict=True):
                                    out[i] = value
                                continue
                            if group[0] == "ask":
                                read()  # ASKING's OK
                            out[idxs[0]] = read()
                        except ResponseError as e:  # a whole reply: the socket stays in step
                            if type(e) is AskError:  # migrating: at the node it names
                                for i in idxs:
                                    retry.append(i)
                                    retry_at[i] = f"{e.host}:{e.port}"
                            elif isinstance(e, AskError):  # MOVED: the slot has a new owner
                                moved.append(e)
                                retry += idxs
                            elif isinstance(e, TryAgainError):  # migrating, keys on both sides
                                for i in idxs:
                                    retry.append(i)
                                    retry_at[i] = None
                            elif error is None:
                                error = e
                    done += 1
            except FAULTS as e:
                for conn, _node in sent[done:]:
                    conn.disconnect()  # replies may still come: these sockets are out of step
                if not isinstance(e, (TimeoutError, self._timeout_error)):
                    self._refresh_slot_map_soon()  # a node down: did its slots fail over?
                raise self._fault(e, plan, budget_ms) from None
            finally:
                for conn, _node in sent:
                    self._node_idle_list(conn).append(conn)
            if error is not None:
                raise self._fault(error, plan, budget_ms)
            if not retry:
                return out
            for redirect in moved:
                manager.move_slot(redirect)  # the slot map learns the slot's new owner
            todo, single = retry, retry_at
            if deadline - _monotonic() <= 0:
                raise self._fault(TimeoutError(), plan, budget_ms)
        raise OnlineStoreError(
            f"the hash slots read for {[vp.name for vp in plan.views]} kept moving during "
            f"{_MAX_REDIRECTS} reads; is the cluster resharding?",
            operation="serve",
            view=", ".join(vp.name for vp in plan.views),
            url=self.redis_url,
        )

    def _refresh_slot_map_soon(self) -> None:
        """Reload the cluster client's slot map (CLUSTER SLOTS) in a background thread, at most
        one at a time and once a second: a call never waits for it (the nodes asked may be
        slow), the next calls use the new map (a failed-over slot's new primary)."""
        now = _monotonic()
        if self._slot_refresh is not None or now - self._slot_refreshed < 1.0:
            return
        manager = self.redis.nodes_manager

        def refresh() -> None:
            try:
                manager.initialize()
            except Exception:  # the next failed call tries again
                pass
            finally:
                self._slot_refreshed = _monotonic()
                self._slot_refresh = None

        self._slot_refreshed = now
        thread = threading.Thread(target=refresh, name="skewless-slot-map", daemon=True)
        self._slot_refresh = thread
        thread.start()

    def _node_idle_list(self, conn: Any) -> list[Any]:
        idle = self._node_idle
        name = f"{conn.host}:{conn.port}"
        if idle is None:  # closed meanwhile
            return []
        return idle.setdefault(name, [])

    def _node_conn(self, name: str, deadline: float) -> Any:
        """A connection of the store's own to cluster node `name` (`host:port`), connected
        and with the time left before `deadline` as its socket timeout."""
        assert self._node_idle is not None
        try:
            conn = self._node_idle.get(name, []).pop()
        except IndexError:
            host, _, port = name.rpartition(":")
            conn = self._conn_class(**{**self._conn_kwargs, "host": host, "port": int(port)})
        try:
            _ready(conn, deadline)
        except BaseException:
            self._node_idle.setdefault(name, []).append(conn)
            raise
        return conn

    def _fault(self, e: BaseException, plan: _Plan, budget_ms: float) -> OnlineStoreError:
        """The error for a failed read of `plan`'s views: `DeadlineExceeded` for a timeout."""
        views = ", ".join(dict.fromkeys(vp.name for vp in plan.views))
        if isinstance(e, (TimeoutError, self._timeout_error)):
            return deadline_error("serve", self.redis_url, views, budget_ms)
        return store_error(e, "serve", self.redis_url, views)

    def _pointers_moved(self, plan: _Plan, pointers: list[Any]) -> tuple[bool, list[FeatureView]]:
        """Record the generations the pointers name. → (whether one differs from the cached
        one, the views whose pointer is gone after it was seen).

        A pointer gone after it was seen was either retired (`_settle` asks Redis) or lost by
        Redis (a node restarted empty): then the cached generation is kept, so its data keys are
        still read, and the view counts as lost (`_lost`).

        Raises:
            _Unmaterialized: a view's pointer is absent and was never seen.
        """
        moved = False
        gone = []
        for vp, gen in zip(plan.views, pointers, strict=True):
            cached = self._generations.get(vp.pointer)
            if gen is None:
                if cached is None:
                    raise _Unmaterialized(vp.view)
                gone.append(vp.view)
                continue
            if cached is None or cached[0] != gen:
                self._generations[vp.pointer] = (gen, data_key_tail(vp.name, gen))
                moved = True
        return moved, gone

    def _settle(
        self, plan: _Plan, pointers: list[Any]
    ) -> Generator[Any, NotMaterializedError | None, bool]:
        """`_pointers_moved`, then for each view whose pointer is gone an `_Unmaterialized`
        yielded to the I/O driver, which answers with the view's `NotMaterializedError`: a
        retired version raises it, else the view counts as lost. → whether a pointer moved."""
        moved, gone = self._pointers_moved(plan, pointers)
        for view in gone:
            error = yield _Unmaterialized(view)
            if isinstance(error, RetiredVersionError):
                self._generations.pop(pointer_key(view.name, view.version), None)
                raise error
        return moved

    def _lost(
        self,
        plan: _Plan,
        raw: list[Any],
        n: int,
        groups: list[list[int]] | None,
        t0s: dict[int, tuple[int | None, int]] | None = None,
    ) -> list[tuple[int, int]]:
        """The (view, entity) pairs whose value is absent from a generation Redis lost part of:
        the view's pointer is gone (after it was seen) or, on a cluster, the sentinel covering
        the entity is (`groups`: per view the index in `raw` of each entity's sentinel); every
        entity of a window view whose load instant was read and is gone (`t0s`, `_Call.t0s`:
        the generation's records cannot be read without it)."""
        nv = len(plan.views)
        out = []
        for vi, (t0, at) in (t0s or {}).items():
            if t0 is None and raw[at] is None and raw[vi] is not None:
                out += [(vi, ei) for ei in range(n)]
        whole = {vi for vi, _ in out}
        for vi in range(nv):
            if vi in whole:
                continue
            blobs = raw[nv + vi * n : nv + (vi + 1) * n]
            if None not in blobs:
                continue
            if raw[vi] is None:
                out += [(vi, ei) for ei, b in enumerate(blobs) if b is None]
            elif groups is not None:
                where = groups[vi]
                out += [
                    (vi, ei) for ei, b in enumerate(blobs) if b is None and raw[where[ei]] is None
                ]
        return out

    def _lost_error(
        self, plan: _Plan, raw: list[Any], lost: list[tuple[int, int]]
    ) -> StoreUnavailableError:
        views = list(dict.fromkeys(plan.views[vi].name for vi, _ in lost))
        gens = {
            plan.views[vi].name: self._generations[plan.views[vi].pointer][0].decode()
            for vi, _ in lost
        }
        pointer_gone = [plan.views[vi].name for vi, _ in lost if raw[vi] is None]
        what = (
            f"its generation pointer is gone ({', '.join(dict.fromkeys(pointer_gone))})"
            if pointer_gone
            else "the completeness sentinel covering them is gone"
        )
        return StoreUnavailableError(
            f"Redis at {self.redis_url} lost part of the served data of "
            f"{', '.join(f'`{v}` (generation {gens[v]})' for v in views)}: {len(lost)} value "
            f"row(s) asked for are absent and {what} — a node restarted empty or a flushed "
            "database, not missing rows. Rematerialize (`skewless materialize --select "
            f'{",".join(views)}`); meanwhile `on_store_error="defaults"` serves the column '
            "defaults with status `unavailable`",
            operation="serve",
            view=", ".join(views),
            url=self.redis_url,
        )

    def _not_materialized(self, view: FeatureView) -> NotMaterializedError:
        """The error for a view whose version has no pointer: retired (materialized, then pushed
        out by newer versions; names the live ones) or never materialized."""
        from skewless.online.versions import retired_error

        try:
            retired = retired_error(self.redis, view.name, view.version, self.redis_url)
        except Exception:
            retired = None
        if retired is not None:
            return retired
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
            f"never materialized into Redis at {self.redis_url}{held} (or Redis lost it: a "
            f"server or node restarted empty); run `skewless materialize --select {view.name}`"
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

    def _window_values(
        self,
        plan: _Plan,
        vi: int,
        raw: list[Any],
        n: int,
        now_us: int,
        t0s: dict[int, tuple[int | None, int]],
        lost: list[tuple[int, int]] | None = None,
    ) -> tuple[list[list[Any]], list[str], list[int | None]]:
        """Values, statuses and timestamps of a window view's outputs at `now_us`, from each
        entity's record and pushed events (`online.windows`): `present` when exact (no events
        at all is exact: counts 0, the rest None), else None values with status `stale` (the
        load is older than the view's horizon). An entity whose record Redis lost (`lost`: the
        (view, entity) pairs of `_lost`) has None values with status `unavailable`: its
        absent record says nothing of its events, so it is never served as "no events"."""
        vp = plan.views[vi]
        serving = vp.window
        assert serving is not None
        nv = len(plan.views)
        blobs = raw[nv + vi * n : nv + (vi + 1) * n]
        k = plan.windows.index(vi)
        at = nv + nv * n + k * n
        pushes = raw[at : at + n]
        t0, at = t0s[vi]
        if t0 is None:
            loaded = raw[at]
            if loaded is None:  # the generation's load instant is gone: Redis lost data
                return [[None] * vp.n for _ in blobs], [_UNAVAILABLE] * n, [None] * n
            t0 = _unpackb(loaded)[1]
            self._window_t0[vp.name] = (raw[vi], t0)  # (the pointer's reply: the generation)
        gone = {ei for v, ei in lost if v == vi} if lost else ()
        values_v: list[list[Any]] = []
        status_v: list[str] = []
        ts_v: list[int | None] = []
        for ei, (blob, pblob) in enumerate(zip(blobs, pushes, strict=True)):
            if ei in gone:
                values_v.append([None] * vp.n)
                status_v.append(_UNAVAILABLE)
                ts_v.append(None)
                continue
            record = None
            ts = None
            if blob is not None:
                state, ts = _unpackb(blob)
                record = unpack_record(state)
            pushed = serving.pushed_events(pblob, record[2] if record else 0) if pblob else ()
            values = (
                None if pushed is None else serving.evaluate(record, pushed, now_us, vp.outputs, t0)
            )
            if values is None:
                values_v.append([None] * vp.n)
                status_v.append(_STALE)
            else:
                values_v.append(values)
                status_v.append(_PRESENT)
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
        for entity in entities:  # (a view's key builder checks them when one is read)
            if not isinstance(entity, Mapping):
                raise RequestError(f"entities must be dicts, got {brief(entity)}")
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

    def push(
        self,
        view: str,
        events: Sequence[Mapping[str, Any]],
        *,
        log_dir: str | Path | None = None,
        now: datetime | None = None,
    ) -> PushResult:
        """Push events into a window view: its online aggregates include them from the next
        read (docs/windows.md "Push").

        Args:
            view: the window view (`meta.skewless.kind: window` with an `event_id`).
            events: one dict per event: the entity keys, the event time (datetime, naive = UTC,
                or ISO 8601 text), the event id and the aggregated columns (typed as declared,
                read like request fields).
            log_dir: the offline event log folder the view's dbt model reads; the events are
                written there first (one Parquet file per push). Default: `$SKEWLESS_EVENT_LOG`,
                else no log (then training will not see them: set it in production).
            now: the push's time (default: now), for how long replay tombstones are kept.

        Pushing is idempotent: an event id already pushed changes nothing (`duplicates`), and
        the events of one call are applied in one transaction. A load (`materialize`) absorbs
        the pushed events it finds and never overwrites those pushed after it read them.

        Raises:
            UnknownFeatureError: no window view `view`.
            RequestError: an event is malformed (naming the event and the field); nothing is
                written.
            DefinitionError: the view declares no `event_id`.
            OnlineStoreError: Redis failed; pushing the same events again is safe.
        """
        if view not in self.registry.windows:
            raise UnknownFeatureError(
                f"no window view named `{view}`; window views: "
                f"{', '.join(sorted(self.registry.windows)) or '(none)'}"
            )
        serving = window_serving(self.registry.windows[view])
        if log_dir is None:
            log_dir = os.environ.get("SKEWLESS_EVENT_LOG") or None
        now_us = _now_micros(now)
        with redis_faults("push", self.redis_url, view):
            return push_events(serving, self.redis, events, now_us=now_us, log_dir=log_dir)

    def get_online_features(
        self,
        features: Sequence[str],
        entities: Sequence[Mapping[str, Any]],
        request: Any = None,
        now: datetime | None = None,
        *,
        deadline_ms: float | None = None,
        on_store_error: str | None = None,
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
            deadline_ms: this call's deadline in milliseconds (default: the store's
                `deadline_ms`). Connecting, sending and reading all count; when it is reached
                the call stops waiting (nothing is re-sent) and raises `DeadlineExceeded`.
            on_store_error: what a Redis failure does (default: the store's `on_store_error`):
                `raise` an `OnlineStoreError`, or `defaults`: serve every value of the views
                read as its column default (None without one) with status `unavailable`;
                request-time features are computed from those values as usual.

        Raises:
            UnknownFeatureError: a reference names no feature.
            BrokenViewError: a reference names a feature of a disabled view (see `problems`).
            RequestError: an entity lacks a key or has one that cannot be converted; a payload
                field is missing or not of its type; a name has different values in the entity
                and in the request (each naming the field).
            NotMaterializedError: a view's current definition version was never materialized.
            StaleFeatureError: a value is past its view's freshness SLA and `on_stale: reject`.
            DeadlineExceeded: Redis did not answer within the deadline (policy `raise`).
            OnlineStoreError: Redis failed (policy `raise`): connection refused or reset, an
                error reply (OOM, NOPERM, LOADING…), a cluster error — naming the views and the
                redacted URL.
        """
        call = self._begin(features, entities, now, deadline_ms, on_store_error)
        plan, entities, now_us = call.plan, call.entities, call.now_us
        if not plan.views:  # only request-time features that read no stored input
            return self._finish(call, [], None, request)
        try:
            raw, groups = self._fetch(plan, entities, call.deadline, call.budget_ms, call.t0s)
        except OnlineStoreError:
            if call.policy == "raise":
                raise
            return self._unavailable(plan, entities, request, now_us)
        return self._finish(call, raw, groups, request)

    def _begin(
        self,
        features: Sequence[str],
        entities: Sequence[Mapping[str, Any]],
        now: datetime | None,
        deadline_ms: float | None,
        on_store_error: str | None,
    ) -> _Call:
        """A lookup's arguments checked and its plan resolved (no I/O); its deadline starts."""
        plan = self._plan(features)
        if entities.__class__ is not list:
            if (
                isinstance(entities, Mapping)
                or isinstance(entities, str)
                or not isinstance(entities, Sequence)
            ):
                raise RequestError(f"entities must be a list of dicts, got {brief(entities)}")
            entities = list(entities)
        if len(entities) > MAX_ENTITIES:
            raise RequestLimitError(
                f"entities: {len(entities):,} in one call, past the limit of {MAX_ENTITIES:,} "
                "(MAX_ENTITIES, see docs/limits.md); split the call"
            )
        now_us = _now_micros(now)
        if deadline_ms is None:
            budget_ms = self.deadline_ms
        else:
            budget_ms = _deadline_ms(deadline_ms, "deadline_ms")
        if on_store_error is not None:
            _policy(on_store_error, "on_store_error")
        # the deadline starts here: key building and every round trip of the call count
        deadline = _monotonic() + budget_ms / 1000
        return _Call(
            plan, entities, now_us, budget_ms, deadline, on_store_error or self.on_store_error, {}
        )

    def _finish(
        self,
        call: _Call,
        raw: list[Any],
        groups: list[list[int]] | None,
        request: Any,
    ) -> OnlineResponse:
        """The response of a lookup from its replies (`_fetch`): decoding, statuses, ages,
        request-time features and the post-lookup hooks (no I/O)."""
        plan, entities, now_us = call.plan, call.entities, call.now_us
        views = plan.views
        nv = len(views)
        n = len(entities)
        if not views:
            assert plan.on_demand is not None
            blank: list[list[Any]] = [[] for _ in entities]
            rows = self._evaluate_on_demand(plan, plan.on_demand, blank, entities, request, now_us)
            response = OnlineResponse(plan, entities, rows, [], [], request, now_us)
            return self._respond(response, request)
        lost = self._lost(plan, raw, n, groups, call.t0s) if None in raw else None
        if lost and call.policy == "raise":
            raise self._lost_error(plan, raw, lost)

        per_view: list[list[list[Any]]] = []
        vstatus: list[list[str] | None] = []
        stamps: list[list[int | None]] = []
        if n == 1:
            # one entity: no comprehensions, one unpack per view
            row_out: list[Any] = []
            for vi, vp in enumerate(views):
                blob = raw[nv + vi]
                values = None
                if vp.window is not None:
                    (values,), status_w, ts_w = self._window_values(
                        plan, vi, raw, 1, now_us, call.t0s, lost
                    )
                    vstatus.append(status_w)
                    stamps.append(ts_w)
                elif blob is not None:
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
                if vp.window is not None:
                    values_v, window_status, ts_v = self._window_values(
                        plan, vi, raw, n, now_us, call.t0s, lost
                    )
                    per_view.append(values_v)
                    vstatus.append(window_status)
                    stamps.append(ts_v)
                    continue
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
        if lost:
            # absent values of a generation Redis lost part of: served as `missing` would be
            # (the column default, or None), with status `unavailable`
            for vi, ei in lost:
                vstatus[vi][ei] = _UNAVAILABLE  # type: ignore[index]
        if plan.on_demand is not None:
            rows = self._evaluate_on_demand(plan, plan.on_demand, rows, entities, request, now_us)
            del vstatus[plan.nvisible :], stamps[plan.nvisible :]
        return self._respond(
            OnlineResponse(plan, entities, rows, vstatus, stamps, request, now_us), request
        )

    def _fetch(
        self,
        plan: _Plan,
        entities: Sequence[Mapping[str, Any]],
        deadline: float,
        budget_ms: float,
        t0s: dict[int, tuple[int | None, int]] | None = None,
    ) -> tuple[list[Any], list[list[int]] | None]:
        """`_fetch_steps` driven with `_read`: the replies of the call's MGET(s) before
        `deadline`. → (the replies, on a cluster per view the reply index of each entity's
        sentinel)."""
        steps = self._fetch_steps(plan, entities, budget_ms, t0s)
        try:
            step = next(steps)
            while True:
                if step.__class__ is list:
                    step = steps.send(self._read(step, deadline, budget_ms, plan))
                else:
                    step = steps.send(self._not_materialized(step.view))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        except _Unmaterialized as e:
            raise self._not_materialized(e.view) from None

    def _fetch_steps(
        self,
        plan: _Plan,
        entities: Sequence[Mapping[str, Any]],
        budget_ms: float,
        t0s: dict[int, tuple[int | None, int]] | None = None,
    ) -> Generator[Any, Any, tuple[list[Any], list[list[int]] | None]]:
        """The keys of the call, without I/O: yields each key list to read (MGET) and receives
        its replies (or an `_Unmaterialized`, answered with `_not_materialized`); returns (the replies, on a cluster per view the reply index of each
        entity's sentinel). The pointers, the data keys of every (view, entity), then the
        completeness sentinels, as one MGET — again under the new generation when a pointer
        moved, and preceded by a read of the pointers when a view's generation is not cached.
        The sync store drives it with `_read`, the async one with its own read: one logic.

        Raises:
            _Unmaterialized: a view's pointer is absent and was never seen.
            OnlineStoreError: the pointers kept moving; a cluster slot no node serves.
        """
        views = plan.views
        nv = len(views)
        n = len(entities)
        builders = plan.builders
        cache = self._generations
        for pointer in plan.pointers:
            if pointer not in cache:
                yield from self._settle(plan, (yield list(plan.pointers)))
                break
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
            for vi in plan.windows:  # a window view's pushed events, after every data key
                # (its data keys with the push tail for the generation's: no second encoding)
                cut = -len(entries[vi][1])
                tail = views[vi].push_tail
                keys += [k[:cut] + tail for k in keys[nv + vi * n : nv + (vi + 1) * n]]
            if t0s is None:
                t0s = {}
            t0s.clear()
            for vi in plan.windows:  # and the instant its generation was loaded at, unless known
                gen = entries[vi][0]
                known = self._window_t0.get(views[vi].name)
                if known is not None and known[0] == gen:
                    t0s[vi] = (known[1], -1)
                else:
                    t0s[vi] = (None, len(keys))
                    keys.append(t0_key(views[vi].name, gen))
            # a plain Redis needs no sentinel key: the pointer is one (same server, written
            # after everything of its generation); a cluster node needs its own
            groups = None
            if self._cluster:
                try:
                    groups = self._cluster_sentinels(plan, keys, entries, n)
                except FAULTS as e:  # a slot no node serves right now
                    raise self._fault(e, plan, budget_ms) from None
            raw = yield keys
            if raw[:nv] == [e[0] for e in entries]:
                return raw, groups
            if not (yield from self._settle(plan, raw[:nv])):
                return raw, groups  # only pointers lost (`_lost` tells), none moved
        raise OnlineStoreError(
            f"the generation pointers of {[vp.name for vp in views]} kept moving during "
            f"{_MAX_POINTER_RETRIES} reads; is a loader flipping in a loop?",
            operation="serve",
            view=", ".join(vp.name for vp in views),
            url=self.redis_url,
        )

    def _cluster_sentinels(
        self, plan: _Plan, keys: list[bytes], entries: list[tuple[bytes, bytes]], n: int
    ) -> list[list[int]]:
        """Append to `keys` one sentinel per (view, cluster node) the data keys go to — the one
        of the slot of the first such key, so it lives on that node and is lost with it.
        → per view, the index in `keys` of each entity's sentinel."""
        from redis.crc import key_slot

        nv = len(plan.views)
        slot_node = self.redis.nodes_manager.get_node_from_slot
        groups = []
        for vi, vp in enumerate(plan.views):
            gen = entries[vi][0]
            at: dict[str, int] = {}
            where = []
            for k in keys[nv + vi * n : nv + (vi + 1) * n]:
                slot = key_slot(k)
                node = slot_node(slot).name
                i = at.get(node)
                if i is None:
                    i = at[node] = len(keys)
                    keys.append(sentinel_key(vp.name, gen, slot))
                where.append(i)
            groups.append(where)
        return groups

    def _unavailable(
        self,
        plan: _Plan,
        entities: Sequence[Mapping[str, Any]],
        request: Any,
        now_us: int,
    ) -> OnlineResponse:
        """The response of a failed lookup under `on_store_error="defaults"`: every value of
        every view its column default (None without one), status `unavailable`; request-time
        features computed from those values as usual."""
        n = len(entities)
        fallback: list[Any] = []
        for vp in plan.views:
            fallback += vp.fallback()
        rows = [list(fallback) for _ in range(n)]
        vstatus: list[list[str] | None] = [[_UNAVAILABLE] * n for _ in plan.views]
        stamps: list[list[int | None]] = [[None] * n for _ in plan.views]
        if plan.on_demand is not None:
            rows = self._evaluate_on_demand(plan, plan.on_demand, rows, entities, request, now_us)
            del vstatus[plan.nvisible :], stamps[plan.nvisible :]
        return self._respond(
            OnlineResponse(plan, entities, rows, vstatus, stamps, request, now_us), request
        )

    def _respond(self, response: OnlineResponse, request: Any) -> OnlineResponse:
        for hook in self.post_lookup:
            hook(self.owner, response, request)
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


#: every store with connections of its own: a forked child drops the parent's (shared sockets)
_STORES: weakref.WeakSet[FeatureStore] = weakref.WeakSet()


class _Call(NamedTuple):
    """One lookup between `_begin` and `_finish`: what the I/O in between needs."""

    plan: _Plan
    entities: Sequence[Mapping[str, Any]]  # a list
    now_us: int
    budget_ms: float
    deadline: float  # a `time.monotonic()` instant
    policy: str  # on_store_error
    #: per window view (index in plan.views): (its load instant, or None and the reply index
    #: of its load-instant key), filled by `_fetch_steps`
    t0s: dict[int, tuple[int | None, int]]


class _Unmaterialized(Exception):
    """A view without a pointer, raised or yielded by the I/O-free steps of a lookup; the I/O
    driver turns it into the view's `NotMaterializedError` (asking Redis whether the version was
    retired or never materialized)."""

    def __init__(self, view: FeatureView):
        super().__init__(view.name)
        self.view = view


def _forget_connections_after_fork() -> None:
    for store in list(_STORES):
        if store._idle is not None:
            store._idle = []
        if store._node_idle is not None:
            store._node_idle = {}


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_connections_after_fork)


def _deadline_ms(value: Any, name: str, env: bool = False) -> float:
    """A deadline in milliseconds: `value`; with `env`, None reads `$SKEWLESS_DEADLINE_MS`,
    else `DEFAULT_DEADLINE_MS`.

    Raises:
        RequestError: not a finite number > 0 (naming the argument or the variable).
    """
    if value is None and env:
        value, name = os.environ.get(DEADLINE_ENV), DEADLINE_ENV
        if not value:
            return float(DEFAULT_DEADLINE_MS)
    try:
        if isinstance(value, bool):
            raise ValueError
        ms = float(value)
    except (TypeError, ValueError, OverflowError):
        ms = float("nan")
    if not (0 < ms < float("inf")):
        raise RequestError(
            f"{name} must be a number of milliseconds > 0, e.g. 250; got {str(value)[:40]!r}"
        )
    return ms


def _policy(value: Any, name: str, env: bool = False) -> str:
    """`raise` or `defaults`: `value`; with `env`, None reads `$SKEWLESS_ON_STORE_ERROR`, else
    `raise`.

    Raises:
        RequestError: another value (naming the argument or the variable).
    """
    if value is None and env:
        value, name = os.environ.get(ON_STORE_ERROR_ENV), ON_STORE_ERROR_ENV
        if not value:
            return "raise"
    if value not in ON_STORE_ERROR_POLICIES:
        choices = " or ".join(repr(p) for p in ON_STORE_ERROR_POLICIES)
        raise RequestError(f"{name} must be {choices}; got {str(value)[:40]!r}")
    return str(value)


def _log_config(feature_log: FeatureLogConfig | bool | None) -> FeatureLogConfig | None:
    if feature_log is True:
        import os

        if not os.environ.get("SKEWLESS_FEATURE_LOG"):
            return None
        from skewless.guards.feature_log import FeatureLogConfig

        return FeatureLogConfig.from_env()
    return feature_log or None


def _ready(conn: Any, deadline: float) -> None:
    """Make a connection of the store's own usable before `deadline`: an idle socket that reads
    as ready was closed by the server (a restart, CLIENT KILL, an idle timeout) and is reopened
    before sending, never after; a (re)connect - TCP and the handshake's replies - and the reads
    that follow wait at most the time left.

    Raises:
        TimeoutError: no time is left; or a redis/socket fault of the connect.
    """
    remaining = deadline - _monotonic()
    if remaining <= 0:
        raise TimeoutError
    sock = conn._sock
    if sock is not None:
        try:
            closed = conn.can_read()
        except FAULTS:
            closed = True
        if closed:
            conn.disconnect()
            sock = None
    if sock is None:
        conn.socket_connect_timeout = conn.socket_timeout = remaining
        conn.connect()
        sock = conn._sock
        remaining = deadline - _monotonic()
        if remaining <= 0:
            raise TimeoutError
    sock.settimeout(remaining)


def _array_header(n: int) -> bytes:
    """The msgpack header of an array of `n` items."""
    if n < 16:
        return bytes((0x90 | n,))
    if n < 0x10000:
        return b"\xdc" + n.to_bytes(2, "big")
    return b"\xdd" + n.to_bytes(4, "big")


def _entity_repr(entity: Mapping[str, Any], view: FeatureView) -> str:
    return "{" + ", ".join(f"{c}={entity.get(c)!r}" for c in view.entity) + "}"
