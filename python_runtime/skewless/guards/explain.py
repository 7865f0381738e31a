"""`skewless explain`: why one entity is served the value it is served, and whether it matches
the offline side.

For one feature and one entity, `explain` puts side by side:

- **served**: the value a service gets at `now` (`FeatureStore.get_online_features`, so the
  same statuses, reasons, ttl and `on_stale` rules), its status, reason and age; and the row
  Redis holds (its value and timestamp, before any serving rule);
- **generation**: the definition version and the generation the value came from, and from the
  view's bookkeeping (`skw:meta:{<view>}`, written by the load that flipped the generation in)
  when it was loaded (`materialized_at`), the instant rows were selected against (`as_of`),
  the mode (`full`/`incremental`) and the row count. The bookkeeping is per view: after a later
  load of another definition version it describes that load, and this generation's load time
  is then unknown (said in `notes`);
- **source**: the dbt model (unique id, relation, file) and its upstream lineage from the
  manifest (`depends_on.nodes`, recursively: models, seeds, snapshots, sources);
- **offline**: read from the dbt relation through the project's `OfflineReader`, with the
  loader's rules (`guards.consistency.pit_rows`: the latest row with `timestamp +
  available_after <= t` and `t - timestamp <= ttl`, same-timestamp ties to the greatest feature
  values): the row the loader would load *now* at the generation's `as_of` (`loaded`), the
  point-in-time row at `now` (`point_in_time`, what training sees at that instant), and the
  entity's latest row at any time (`latest_ts`, to tell an absent entity from an old one);
- a **verdict**, with the fix:

  | verdict | meaning |
  |---|---|
  | `equal` | Redis holds what the loader would load at `as_of`, and nothing newer is visible at `now` |
  | `offline_newer` | offline has a row newer than the load (visible at `now`): rematerialize |
  | `value_differs` | same row timestamp, another value: the relation was rebuilt after the load |
  | `changed_offline` | the loader would now pick another row (or none, or one Redis lacks) |
  | `entity_absent` | the relation has no row for the entity |
  | `expired` | the row Redis holds is past `ttl` at `now` and offline has nothing newer |
  | `before_load` | `now` is before the row Redis holds became visible: Redis holds a later row |
  | `not_materialized` | the view's current version has no generation in Redis |
  | `unavailable` | Redis lost the generation (a node restarted empty, a flushed database) |

  `consistent` says, independently of the verdict, whether the value served at `now` equals
  what a correct server would serve from the offline point-in-time row at `now` (the replay's
  rule, `guards.consistency`: ttl, freshness and `on_stale` applied, column defaults).

Request-time (on-demand) features are computed per request from a payload, so nothing stored
holds them: their explanation explains each stored input feature they read (with the entity's
keys mapped as the view maps them) and takes the first non-`equal` input verdict (`equal` when
every input is equal; `request_only` when the feature reads no stored input).

Redis is read twice (the served value, then the stored row under the generation's pointer): a
load flipping in between is reported as a generation other than the served one would be; rerun.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

from skewless.definitions import Feature, FeatureView
from skewless.errors import (
    NotMaterializedError,
    RequestError,
    SkewlessError,
    StaleFeatureError,
    StoreUnavailableError,
    brief,
)

__all__ = ["VERDICTS", "Explanation", "LineageNode", "OfflineRow", "explain"]

UTC = timezone.utc
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: The instant "the latest row at any time" is read at (epoch nanoseconds stay within int64).
_FAR = datetime(2200, 1, 1, tzinfo=UTC)
#: Most lineage nodes listed (a wide project's ancestry is cut there, with a note).
MAX_LINEAGE = 200

#: Every verdict `explain` reaches (see the module docstring).
VERDICTS = (
    "equal",
    "offline_newer",
    "value_differs",
    "changed_offline",
    "entity_absent",
    "expired",
    "before_load",
    "not_materialized",
    "unavailable",
    "request_only",
)


@dataclass(frozen=True)
class LineageNode:
    """One upstream node of a feature's model in the dbt manifest.

    Attributes:
        unique_id: dbt's unique id (`model.proj.x`, `seed.proj.y`, `source.proj.src.t`).
        resource_type: `model`, `seed`, `snapshot`, `source`… ("" when the manifest lacks it).
        name: the node's name.
        relation: its relation (`"db"."schema"."x"`), "" when dbt has none (ephemeral).
        path: the file defining it, relative to its project (`original_file_path`).
        depth: 1 for a direct parent of the model, 2 for a grandparent, …
        parents: the unique ids it depends on.
    """

    unique_id: str
    resource_type: str
    name: str
    relation: str
    path: str
    depth: int
    parents: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "unique_id": self.unique_id,
            "resource_type": self.resource_type,
            "name": self.name,
            "relation": self.relation,
            "path": self.path,
            "depth": self.depth,
            "parents": list(self.parents),
        }


@dataclass(frozen=True)
class OfflineRow:
    """The offline row of the feature for the entity read at one instant.

    Attributes:
        at: the instant the row is selected at.
        ts: the row's timestamp (None: no row qualifies).
        value: the feature's value in that row (None when there is no row).
    """

    at: datetime
    ts: datetime | None
    value: Any = None

    @property
    def found(self) -> bool:
        return self.ts is not None

    def to_dict(self) -> dict[str, Any]:
        return {"at": _iso(self.at), "ts": _iso(self.ts), "value": _jsonable(self.value)}


@dataclass(frozen=True)
class Explanation:
    """Why one entity is served the value it is served (see the module docstring).

    Attributes:
        feature: `<model>.<column>`.
        entity: the entity's key values, as given.
        at: the instant values were served and read at (tz-aware UTC).
        kind: `feature_view`, or `on_demand` (computed per request; see `inputs`).
        value: the value served at `at` (None for an on-demand feature).
        status: its status (`present | missing | expired | stale | defaulted | unavailable`),
            None when nothing could be served (not materialized, `on_stale: reject`).
        reason: why the value served is not the stored one (None when it is).
        age: `at` minus the stored row's timestamp (None without a row).
        served_error: the error a service gets instead of a value ("" when it gets one).
        stored_value: the value Redis holds for the entity (before any serving rule).
        stored_ts: that row's timestamp (None: Redis holds no row for the entity).
        version: the view's current definition version.
        generation: the generation the value came from (None when not materialized).
        materialized_at / as_of / mode / rows / watermark: from the load that flipped the
            generation in (None when unknown; see `notes`).
        model: the source model's unique id; `relation` and `path` its relation and file.
        lineage: its upstream nodes, nearest first.
        loaded: the row the loader would load for the entity at `as_of` (None if unknown).
        point_in_time: the point-in-time row at `at` (what training sees at that instant).
        latest_ts: the entity's latest offline row timestamp at any time (None: no row).
        verdict: one of `VERDICTS`.
        consistent: whether `value` equals what a correct server would serve at `at` from
            `point_in_time` (ttl, freshness, `on_stale` and defaults applied).
        detail: the verdict in words, with the values and timestamps involved.
        fix: what to do ("" when nothing is to be done).
        notes: anything else worth knowing (staleness, an unknown load time…).
        inputs: for an on-demand feature, the explanation of each stored input it reads.
    """

    feature: str
    entity: dict[str, Any]
    at: datetime
    kind: str
    verdict: str
    consistent: bool
    detail: str
    fix: str = ""
    value: Any = None
    status: str | None = None
    reason: str | None = None
    age: timedelta | None = None
    served_error: str = ""
    stored_value: Any = None
    stored_ts: datetime | None = None
    version: str = ""
    generation: str | None = None
    materialized_at: datetime | None = None
    as_of: datetime | None = None
    mode: str | None = None
    rows: int | None = None
    watermark: datetime | None = None
    model: str = ""
    relation: str = ""
    path: str = ""
    lineage: tuple[LineageNode, ...] = ()
    loaded: OfflineRow | None = None
    point_in_time: OfflineRow | None = None
    latest_ts: datetime | None = None
    notes: tuple[str, ...] = ()
    inputs: tuple[Explanation, ...] = field(default=())

    @property
    def equal(self) -> bool:
        """The verdict is `equal` (or `request_only`: nothing stored to differ)."""
        return self.verdict in ("equal", "request_only")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: timestamps ISO 8601, ages in seconds, decimals as strings, NaN/±inf as
        strings."""
        return {
            "feature": self.feature,
            "entity": _jsonable(self.entity),
            "at": _iso(self.at),
            "kind": self.kind,
            "verdict": self.verdict,
            "equal": self.equal,
            "consistent": self.consistent,
            "detail": self.detail,
            "fix": self.fix,
            "served": {
                "value": _jsonable(self.value),
                "status": self.status,
                "reason": self.reason,
                "age_seconds": None if self.age is None else self.age.total_seconds(),
                "error": self.served_error,
            },
            "stored": {"value": _jsonable(self.stored_value), "ts": _iso(self.stored_ts)},
            "generation": {
                "version": self.version,
                "generation": self.generation,
                "materialized_at": _iso(self.materialized_at),
                "as_of": _iso(self.as_of),
                "mode": self.mode,
                "rows": self.rows,
                "watermark": _iso(self.watermark),
            },
            "source": {
                "model": self.model,
                "relation": self.relation,
                "path": self.path,
                "lineage": [n.to_dict() for n in self.lineage],
            },
            "offline": {
                "loaded": None if self.loaded is None else self.loaded.to_dict(),
                "point_in_time": None
                if self.point_in_time is None
                else self.point_in_time.to_dict(),
                "latest_ts": _iso(self.latest_ts),
            },
            "notes": list(self.notes),
            "inputs": [i.to_dict() for i in self.inputs],
        }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def _show(value: Any) -> str:
    """A value in a message: `3.4`, `'DE'`, `NULL`."""
    if value is None:
        return "NULL"
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return repr(value) if isinstance(value, str) else str(value)


def _at(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if not isinstance(now, datetime):
        raise RequestError(f"`now` must be a datetime, got {brief(now)}")
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def _micros_to_dt(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return _EPOCH + timedelta(microseconds=int(text))
    except ValueError:
        return None


# --- lineage ---------------------------------------------------------------------------------


def lineage(manifest: Any, unique_id: str) -> tuple[list[LineageNode], bool]:
    """The upstream nodes of `unique_id` (breadth first: parents, then grandparents…; each node
    once), and whether the list was cut at `MAX_LINEAGE`."""
    out: list[LineageNode] = []
    if manifest is None or not unique_id:
        return out, False
    seen = {unique_id}
    frontier = [unique_id]
    depth = 0
    while frontier:
        depth += 1
        nxt: list[str] = []
        for uid in frontier:
            for parent in manifest.parents(uid):
                if parent in seen:
                    continue
                seen.add(parent)
                if len(out) >= MAX_LINEAGE:
                    return out, True
                node = manifest.node(parent) or {}
                out.append(
                    LineageNode(
                        unique_id=parent,
                        resource_type=_text(node.get("resource_type")),
                        name=_text(node.get("name")) or parent.rsplit(".", 1)[-1],
                        relation=_text(node.get("relation_name")),
                        path=_text(node.get("original_file_path")),
                        depth=depth,
                        parents=tuple(manifest.parents(parent)),
                    )
                )
                nxt.append(parent)
        frontier = nxt
    return out, False


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


# --- reading ---------------------------------------------------------------------------------


def _check_entity(entity: Mapping[str, Any], keys: Sequence[str], where: str) -> dict[str, Any]:
    """The entity as a dict holding exactly `keys` (each named when missing or extra)."""
    if not isinstance(entity, Mapping):
        raise RequestError(f"the entity must be a dict of key values, got {brief(entity)}")
    missing = [k for k in keys if k not in entity]
    if missing:
        raise RequestError(
            f"the entity lacks key `{missing[0]}` of {where} (its entity is {list(keys)}); "
            f"give it, e.g. `-e {missing[0]}=…`"
        )
    extra = [k for k in entity if k not in keys]
    if extra:
        raise RequestError(
            f"`{brief(str(extra[0]))[1:-1]}` is not a key of {where} (its entity is "
            f"{list(keys)}); leave it out"
        )
    return dict(entity)


def _offline(reader: Any, view: FeatureView, spine: list[tuple[dict[str, Any], datetime]]) -> Any:
    """`pit_rows`, with an engine failure turned into a skewless error naming the model."""
    from skewless.guards.consistency import pit_rows

    try:
        return pit_rows(reader, view, spine)
    except SkewlessError:
        raise
    except Exception as e:  # a DuckDB/ADBC/Spark error: the relation is missing or unreadable
        engine = getattr(reader, "engine", "the offline engine")
        raise SkewlessError(
            f"model `{view.name}`: reading {view.relation_name or 'its relation'} from {engine} "
            f"failed ({type(e).__name__}: {brief(str(e))[1:-1]}); build it (`dbt build -s "
            f"{view.name}`) or pass the profile target dbt built it in (--dbt-target)"
        ) from None


def _row(rows: Any, i: int, name: str, at: datetime) -> OfflineRow:
    from skewless.guards.consistency import _norm

    ts, r = rows[i]
    return OfflineRow(at=at, ts=ts, value=None if r is None else _norm(r[name]))


def _stored(
    store: Any, view: FeatureView, feature: Feature, entity: Mapping[str, Any], gen: bytes
) -> tuple[Any, datetime | None]:
    """(value, timestamp) of the row Redis holds for the entity in generation `gen`, before
    any serving rule; (None, None) without one."""
    from skewless.online import codec
    from skewless.online.connection import redis_faults
    from skewless.online.keys import KeyBuilder, data_key_tail

    key = KeyBuilder(view).data_key(entity, data_key_tail(view.name, gen))
    with redis_faults("explain", store.redis_url or store.redis, view.name):
        blob = store.redis.get(key)
    if blob is None:
        return None, None
    row = codec.unpack(blob)
    ts = codec.decode_timestamp(row.pop())
    value = row[view.feature_names.index(feature.name)]
    dec = codec.decoder(codec.column_kind(view.name, feature.name, feature.data_type))
    return (value if dec is None or value is None else dec(value)), ts


def _served(
    store: Any, ref: str, entity: dict[str, Any], at: datetime
) -> tuple[Any, str | None, str | None, timedelta | None, str]:
    """(value, status, reason, age, error) of what a service gets at `at`."""
    try:
        resp = store.get_online_features([ref], [entity], now=at, on_store_error="raise")
    except NotMaterializedError as e:
        return None, None, None, None, str(e)
    except StaleFeatureError as e:
        return None, "stale", "stale", None, str(e)
    except StoreUnavailableError as e:
        # what the `defaults` policy serves instead (the column default, status unavailable)
        resp = store.get_online_features([ref], [entity], now=at, on_store_error="defaults")
        return (
            resp.values[0][0],
            resp.statuses[0][ref],
            resp.reasons[0][ref],
            None,
            str(e),
        )
    return resp.values[0][0], resp.statuses[0][ref], resp.reasons[0][ref], resp.ages[0][ref], ""


# --- the verdict -----------------------------------------------------------------------------


def _same(a: OfflineRow | None, ts: datetime | None, value: Any) -> bool:
    from skewless.guards.consistency import values_equal

    if a is None:
        return False
    if a.ts is None or ts is None:
        return a.ts is None and ts is None
    return a.ts == ts and values_equal(value, a.value)


def _verdict(
    view: FeatureView,
    entity: Mapping[str, Any],
    *,
    status: str | None,
    reason: str | None,
    served_error: str,
    generation: str | None,
    stored_value: Any,
    stored_ts: datetime | None,
    mode: str | None,
    loaded: OfflineRow | None,
    pit: OfflineRow,
    latest_ts: datetime | None,
    at: datetime,
) -> tuple[str, str, str]:
    """(verdict, detail, fix)."""
    name = view.name
    who = ", ".join(f"{k}={v}" for k, v in entity.items())
    rel = view.relation_name or f"model `{name}`"
    full = " (a full load: without --incremental)" if mode == "incremental" else ""
    remat = f"rematerialize: `skewless materialize --select {name}`{full}"
    if status == "unavailable":
        return (
            "unavailable",
            f"Redis lost the generation of `{name}` it served (unavailable: a node restarted "
            f"empty or the database was flushed); the value cannot be told from a missing one: "
            f"{served_error}",
            remat,
        )
    if generation is None:
        return "not_materialized", served_error, f"`skewless materialize --select {name}`"
    # what the stored row is compared with: the loader's row at the load's as_of, else (as_of
    # unknown) the point-in-time row at `at`
    ref_row = loaded if loaded is not None else pit
    against = (
        "the loader would load at the generation's as_of"
        if loaded is not None
        else (f"the point-in-time row at {at.isoformat()}")
    )
    if _same(ref_row, stored_ts, stored_value):
        if pit.ts is not None and (stored_ts is None or pit.ts > stored_ts):
            as_of = f" ({loaded.at.isoformat()})" if loaded is not None else ""
            return (
                "offline_newer",
                f"offline has a newer row (ts {pit.ts.isoformat()}, value {_show(pit.value)}) "
                f"than the generation's as_of{as_of}: Redis holds "
                + (
                    f"the row of ts {stored_ts.isoformat()} (value {_show(stored_value)})"
                    if stored_ts is not None
                    else "no row for the entity"
                ),
                remat,
            )
        if stored_ts is not None and (pit.ts is None or pit.ts < stored_ts):
            if reason == "expired":
                return (
                    "expired",
                    f"the row Redis holds (ts {stored_ts.isoformat()}, value "
                    f"{_show(stored_value)}) is older than the view's ttl ({view.ttl}) at "
                    f"{at.isoformat()}; offline has no newer row within ttl either, so training "
                    "sees no value at that instant",
                    f"nothing in serving: a newer row for {who} must come from `{name}` "
                    f"(`dbt build -s {name}`), then `skewless materialize --select {name}`",
                )
            return (
                "before_load",
                f"{at.isoformat()} is before the row Redis holds (ts {stored_ts.isoformat()}) "
                "could be served: Redis holds a later load; the point-in-time value at that "
                f"instant is {_show(pit.value) if pit.found else 'none (no row)'}",
                "explain at an instant after the load (--at), or compare with training data",
            )
        if stored_ts is None and latest_ts is None:
            return (
                "entity_absent",
                f"entity absent offline: {rel} has no row for {who}, and Redis holds none",
                f"check the entity key; the model `{name}` (and its lineage) has no row for it",
            )
        if stored_ts is None:
            return (
                "equal",
                f"no row for {who} within the window on either side: the entity's latest "
                f"offline row (ts {latest_ts.isoformat() if latest_ts else '?'}) is not one "
                f"{against}",
                "",
            )
        return "equal", f"Redis holds what {against}", ""
    # the stored row is not what the loader would load
    if stored_ts is None:
        return (
            "changed_offline",
            f"Redis has no row for {who}, but {against} the row of ts "
            f"{ref_row.ts.isoformat() if ref_row.ts else '?'} (value {_show(ref_row.value)}): "
            "the relation gained it after the load",
            remat,
        )
    if latest_ts is None:
        return (
            "entity_absent",
            f"entity absent offline: {rel} has no row for {who}, but Redis holds the row of ts "
            f"{stored_ts.isoformat()} (value {_show(stored_value)}): the relation lost it after "
            "the load",
            remat,
        )
    if ref_row.ts is None:
        return (
            "changed_offline",
            f"Redis holds the row of ts {stored_ts.isoformat()} (value {_show(stored_value)}), "
            f"but no row qualifies for what {against} (the entity's latest offline row has ts "
            f"{latest_ts.isoformat()}): the relation changed after the load",
            remat,
        )
    if ref_row.ts == stored_ts:
        return (
            "value_differs",
            f"value differs: served {_show(stored_value)}, offline {_show(ref_row.value)} — the "
            f"relation changed after the load (its row ts {stored_ts.isoformat()})",
            remat,
        )
    return (
        "changed_offline",
        f"Redis holds the row of ts {stored_ts.isoformat()} (value {_show(stored_value)}), "
        f"but {against} the row of ts {ref_row.ts.isoformat()} (value {_show(ref_row.value)}): "
        "the relation changed after the load",
        remat,
    )


# --- explain ---------------------------------------------------------------------------------


def explain(
    store: Any,
    reader: Any,
    feature: str,
    entity: Mapping[str, Any],
    now: datetime | None = None,
) -> Explanation:
    """Explain the value one entity is served for one feature (see the module docstring).

    Args:
        store: a `FeatureStore` (its registry, Redis client and read path are used).
        reader: the offline reader of what dbt built (`offline.reader_from_profile`), or a
            DuckDB session where the views' relations resolve.
        feature: `<model>.<column>`.
        entity: the entity's key values, exactly the view's key columns (text is read as the
            key column's type, as `get_online_features` reads it).
        now: the instant to serve and read at (default: the current time; naive means UTC).

    Raises:
        UnknownFeatureError: no such feature (naming it and the known ones).
        BrokenViewError: the feature's view is disabled.
        RequestError: a key is missing, extra or not of its type (naming the column).
        OnlineStoreError: Redis failed (the URL redacted).
        SkewlessError: the offline relation cannot be read (naming the model).
    """
    registry = store.registry
    feat = registry.feature(feature)
    at = _at(now)
    if feat.view in registry.on_demand:
        return _explain_on_demand(store, reader, registry.on_demand[feat.view], feat, entity, at)
    view = registry.view(feat.view)
    entity = _check_entity(entity, view.entity, f"feature view `{view.name}`")
    return _explain_view(store, reader, view, feat, entity, at)


def _explain_view(
    store: Any,
    reader: Any,
    view: FeatureView,
    feat: Feature,
    entity: dict[str, Any],
    at: datetime,
) -> Explanation:
    from skewless.guards.consistency import _defaults, _serving_rule, values_equal
    from skewless.online.connection import redis_faults
    from skewless.online.keys import KeyBuilder, meta_key, pointer_key

    ref = feat.ref
    KeyBuilder(view).entity(entity)  # a key value not of its type: RequestError naming it
    value, status, reason, age, served_error = _served(store, ref, entity, at)
    with redis_faults("explain", store.redis_url or store.redis, view.name):
        pointer = store.redis.get(pointer_key(view.name, view.version))
        raw_meta = store.redis.hgetall(meta_key(view.name))
    meta = {k.decode(): v.decode() for k, v in raw_meta.items()}
    generation = pointer.decode() if pointer is not None else None
    notes: list[str] = []
    stored_value: Any = None
    stored_ts: datetime | None = None
    if pointer is not None and status != "unavailable":
        stored_value, stored_ts = _stored(store, view, feat, entity, pointer)
    ours = generation is not None and meta.get("generation") == generation
    if generation is not None and not ours:
        notes.append(
            f"the view's bookkeeping describes generation {meta.get('generation') or '?'} "
            f"(version {meta.get('version') or '?'}), a later load of another definition "
            f"version: when generation {generation} was loaded is not recorded; the stored row "
            "is compared with the point-in-time row instead"
        )
    as_of = _micros_to_dt(meta.get("as_of") or meta.get("materialized_at")) if ours else None

    spine: list[tuple[dict[str, Any], datetime]] = [(entity, at)]
    if as_of is not None:
        spine.append((entity, as_of))
    rows = _offline(reader, view, spine)
    pit = _row(rows, 0, feat.name, at)
    loaded = _row(rows, 1, feat.name, as_of) if as_of is not None else None
    # the entity's latest row at any time: no ttl, no batch lag
    anytime = dataclasses.replace(view, ttl=None, available_after=timedelta(0))
    latest_ts = _offline(reader, anytime, [(entity, _FAR)])[0][0]

    if status == "stale":
        notes.append(
            f"the value is past the view's freshness SLA ({view.freshness}) at {at.isoformat()} "
            f"(on_stale: {view.on_stale})"
        )
    verdict, detail, fix = _verdict(
        view,
        entity,
        status=status,
        reason=reason,
        served_error=served_error,
        generation=generation,
        stored_value=stored_value,
        stored_ts=stored_ts,
        mode=meta.get("mode") if ours else None,
        loaded=loaded,
        pit=pit,
        latest_ts=latest_ts,
        at=at,
    )
    # what a correct server serves at `at` from the point-in-time row (the replay's rule)
    consistent = False
    if generation is not None and status != "unavailable":
        row = {feat.name: pit.value} if pit.found else None
        expected, rule = _serving_rule(view, [feat], _defaults(view, [feat]), pit.ts, row, at)
        if view.on_stale == "reject" and (rule == "stale" or served_error):
            consistent = bool(served_error) and rule == "stale"  # both sides reject
        else:
            consistent = values_equal(value, expected[0])
    manifest = getattr(store.registry, "manifest", None)
    node = _node(manifest, view.unique_id)
    lin, cut = lineage(manifest, view.unique_id)
    if cut:
        notes.append(f"lineage cut at {MAX_LINEAGE} nodes")
    return Explanation(
        feature=ref,
        entity=entity,
        at=at,
        kind="feature_view",
        verdict=verdict,
        consistent=consistent,
        detail=detail,
        fix=fix,
        value=value,
        status=status,
        reason=reason,
        age=age,
        served_error=served_error,
        stored_value=stored_value,
        stored_ts=stored_ts,
        version=view.version,
        generation=generation,
        materialized_at=_micros_to_dt(meta.get("materialized_at")) if ours else None,
        as_of=as_of,
        mode=meta.get("mode") if ours else None,
        rows=int(meta["rows"]) if ours and (meta.get("rows") or "").isdigit() else None,
        watermark=_micros_to_dt(meta.get("watermark")) if ours else None,
        model=view.unique_id,
        relation=view.relation_name,
        path=_text(node.get("original_file_path")),
        lineage=tuple(lin),
        loaded=loaded,
        point_in_time=pit,
        latest_ts=latest_ts,
        notes=tuple(notes),
    )


def _node(manifest: Any, unique_id: str) -> Mapping[str, Any]:
    """A manifest node ({} when the registry has no manifest or the node is absent)."""
    return (manifest.node(unique_id) if manifest is not None else None) or {}


def _explain_on_demand(
    store: Any,
    reader: Any,
    odv: Any,
    feat: Feature,
    entity: Mapping[str, Any],
    at: datetime,
) -> Explanation:
    """An on-demand feature: each stored input it reads, explained for the entity's keys."""
    registry = store.registry
    used = odv.reads((feat.name,))
    wanted: list[tuple[FeatureView, Feature, dict[str, str]]] = []
    for spec in odv.inputs:
        view = registry.view(spec.view)
        mapping = dict(spec.keys)  # view key -> request column
        for f in view.features:
            if spec.column(f.name) in used:
                wanted.append((view, f, mapping))
    keys: list[str] = []
    for view, _, mapping in wanted:
        for k in view.entity:
            if mapping[k] not in keys:
                keys.append(mapping[k])
    entity = _check_entity(entity, keys, f"on-demand view `{odv.name}`'s inputs")
    inputs = tuple(
        _explain_view(store, reader, view, f, {k: entity[mapping[k]] for k in view.entity}, at)
        for view, f, mapping in wanted
    )
    manifest = getattr(registry, "manifest", None)
    node = _node(manifest, odv.unique_id)
    lin, cut = lineage(manifest, odv.unique_id)
    notes = [
        f"`{feat.ref}` is computed per request from the request payload and the stored inputs "
        "below; explain shows those inputs (pass the payload to `skewless get` for the value)"
    ]
    if cut:
        notes.append(f"lineage cut at {MAX_LINEAGE} nodes")
    first = next((i for i in inputs if not i.equal), None)
    if not inputs:
        verdict, detail, fix = "request_only", "computed from the request payload only", ""
    elif first is None:
        verdict = "equal"
        detail = "every stored input is what the loader would load: " + ", ".join(
            i.feature for i in inputs
        )
        fix = ""
    else:
        verdict, detail, fix = first.verdict, f"input `{first.feature}`: {first.detail}", first.fix
    return Explanation(
        feature=feat.ref,
        entity=dict(entity),
        at=at,
        kind="on_demand",
        verdict=verdict,
        consistent=all(i.consistent for i in inputs),
        detail=detail,
        fix=fix,
        version=odv.version,
        model=odv.unique_id,
        relation=_text(node.get("relation_name")),
        path=_text(node.get("original_file_path")),
        lineage=tuple(lin),
        notes=tuple(notes),
        inputs=inputs,
    )
