"""Pushed events of window views: `store.push`, `skewless push`, `POST /push` (docs/windows.md
"Push"), and how a load absorbs them.

Per entity three keys in the entity's hash slot (`push_keys`): the pushed events not yet absorbed
by a load (one string, appended to, read in the same MGET as the entity's record), the event ids
pushed (a sorted set scored by event time, for idempotency) and a sequence counter. A push runs
`PUSH_SCRIPT` (each event id once, atomic per entity); a load reads every push key
(`read_pushes`), folds what it finds into its records (`online.windows.load`, skipping events the
relation already holds by id) and then drops them (`prune_pushes`). With a log folder the events
are first appended to the offline event log (`write_event_log`), which the view's dbt model reads.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from io import BytesIO
from typing import Any

import msgpack

from skewless.errors import DefinitionError
from skewless.offline import _micros
from skewless.online import codec
from skewless.online.generations import _is_cluster
from skewless.online.windows import _SLACK_US, WindowServing, _wide

__all__ = [
    "PRUNE_SCRIPT",
    "PUSH_CHUNK",
    "PUSH_SCRIPT",
    "PushResult",
    "prune_pushes",
    "push_events",
    "push_keys",
    "read_pushes",
    "write_event_log",
]


def push_keys(view: str, entity: bytes) -> list[bytes]:
    """The keys of one entity's pushed events, all in the entity's hash slot: the events not yet
    absorbed by a load (read in the same MGET as the record), the event ids pushed (a sorted set
    scored by event time, for idempotency) and the entity's push sequence counter."""
    head = b"skw:{" + entity + b"}:" + view.encode()
    return [head + b":push", head + b":pushids", head + b":pushseq"]


def _push_items(blob: bytes) -> tuple[int, list[Any]]:
    """(the highest seq the key holds or was pruned up to, its events `[seq, ts, payload,
    id]`)."""
    top = 0
    events = []
    for item in msgpack.Unpacker(BytesIO(blob), raw=True):
        if item[0] == 0:
            top = max(top, item[1])
        else:
            top = max(top, item[0])
            events.append(item)
    return top, events


def read_pushes(serving: WindowServing, client: Any) -> dict[bytes, tuple[int, list[Any]]]:
    """Every entity's push key of the view: entity encoding → (the seq a load absorbs up to, the
    events `[seq, ts, payload, id]`), as they are now (the snapshot a load absorbs). A seq is
    written with its event in one script, so every event up to that seq is in the snapshot.

    On a Redis Cluster every primary is scanned and the values are read per slot
    (`mget_nonatomic`): the snapshot is per entity, which is all a record absorbs."""
    tail = b"}:%s:push" % serving.name.encode()
    match = b"skw:{*" + tail
    cluster = _is_cluster(client)
    if cluster:
        found = list(client.scan_iter(match=match, count=1000, target_nodes=client.PRIMARIES))
    else:
        found = list(client.scan_iter(match=match, count=1000))
    read = client.mget_nonatomic if cluster else client.mget
    out: dict[bytes, tuple[int, list[Any]]] = {}
    for i in range(0, len(found), 1000):
        chunk = found[i : i + 1000]
        for key, blob in zip(chunk, read(chunk), strict=True):
            if blob is not None:
                out[key[len(b"skw:{") : -len(tail)]] = _push_items(blob)
    return out


def prune_pushes(
    serving: WindowServing, client: Any, pushed: dict[bytes, tuple[int, list[Any]]]
) -> None:
    """After a load flipped in: the pushed events it absorbed leave the push keys (their ids
    stay in the id set, so a replay stays a no-op, until older than every window)."""
    if not pushed:
        return
    if _is_cluster(client):  # one call per entity, each sent to the node owning its slot
        calls = [
            ([push_keys(serving.name, entity)[0]], [b"%d" % seq])
            for entity, (seq, _events) in pushed.items()
        ]
        for i in range(0, len(calls), 1000):
            _cluster_scripts(client, PRUNE_SCRIPT, calls[i : i + 1000])
        return
    script = client.register_script(PRUNE_SCRIPT)
    items = list(pushed.items())
    for i in range(0, len(items), 1000):
        pipe = client.pipeline(transaction=False)
        for entity, (seq, _events) in items[i : i + 1000]:
            key = push_keys(serving.name, entity)[0]
            script(keys=[key], args=[str(seq).encode()], client=pipe)
        pipe.execute()


# ---------------------------------------------------------------------------------------------
# Push (`store.push`, `skewless push`, `POST /push`)

#: Adds a batch of events, each event id once. Per entity three keys (`push_keys`); ARGV[1]:
#: ids older than this (epoch micros) are forgotten; then per entity the number of its events
#: and, per event, id, time and payload. An event not pushed before takes the entity's next seq
#: and is appended to its push key as msgpack `[seq, ts, payload, id]`: O(1) per event, nothing
#: read back. An event older than ARGV[1] is in no window of any request from now on: it is not
#: kept (only logged). → {events added, events too old}.
PUSH_SCRIPT = """
local a, added, old = 2, 0, 0
local oldest = tonumber(ARGV[1])
for k = 1, #KEYS, 3 do
  local n = tonumber(ARGV[a])
  a = a + 1
  redis.call('ZREMRANGEBYSCORE', KEYS[k + 1], '-inf', '(' .. ARGV[1])
  for i = 1, n do
    local id, ts = ARGV[a], ARGV[a + 1]
    if tonumber(ts) < oldest then
      old = old + 1
    elseif redis.call('ZADD', KEYS[k + 1], 'NX', ts, id) == 1 then
      local seq = redis.call('INCR', KEYS[k + 2])
      redis.call('APPEND', KEYS[k], cmsgpack.pack({seq, tonumber(ts), ARGV[a + 2], id}))
      added = added + 1
    end
    a = a + 3
  end
end
return {added, old}
"""

#: After a load flipped in: rewrites a push key without the events the load absorbed
#: (seq <= ARGV[1]), behind a header `[0, pruned up to]`.
PRUNE_SCRIPT = """
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local upto = tonumber(ARGV[1])
local out, offset, item = {''}, 0, nil
while offset >= 0 and offset < #raw do
  offset, item = cmsgpack.unpack_one(raw, offset)
  if item[1] == 0 then
    if item[2] > upto then upto = item[2] end
  elseif item[1] > tonumber(ARGV[1]) then
    out[#out + 1] = cmsgpack.pack(item)
  end
end
out[1] = cmsgpack.pack({0, upto})
redis.call('SET', KEYS[1], table.concat(out))
return #out - 1
"""


class PushResult:
    """What one push did: events `added`, `duplicates` (an event id already pushed: nothing
    changed), `too_old` (older than every window of any request from now on: only logged) and
    the files the offline event log gained."""

    __slots__ = ("added", "duplicates", "log_files", "too_old", "view")

    def __init__(
        self, view: str, added: int, duplicates: int, log_files: list[str], too_old: int = 0
    ):
        self.view, self.added, self.duplicates, self.log_files = view, added, duplicates, log_files
        self.too_old = too_old

    def __repr__(self) -> str:
        return (
            f"PushResult(view={self.view!r}, added={self.added}, duplicates={self.duplicates}, "
            f"too_old={self.too_old}, log_files={len(self.log_files)})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "view": self.view,
            "added": self.added,
            "duplicates": self.duplicates,
            "too_old": self.too_old,
            "log_files": list(self.log_files),
        }


_EPOCH_NAIVE = codec.EPOCH.replace(tzinfo=None)


def _event_micros(value: Any, where: Callable[[], str]) -> int:
    """An event time as epoch micros: a datetime (naive = UTC) or ISO 8601 text."""
    from datetime import datetime

    from skewless.errors import RequestError

    if value.__class__ is datetime:
        if value.tzinfo is None:
            return _micros(value - _EPOCH_NAIVE)
        return _micros(value - codec.EPOCH)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            value = None
    if not isinstance(value, datetime):
        raise RequestError(
            f"{where()}: the event time must be a datetime or an ISO 8601 string "
            f"(e.g. '2024-05-01T12:00:00Z'; naive means UTC), got {value!r}"
        )
    if value.tzinfo is None:
        return _micros(value - _EPOCH_NAIVE)
    return _micros(value - codec.EPOCH)


_I64 = (-(2**63), 2**63)


def _converter(kind: str, data_type: str) -> Callable[[Any, Callable[[], str]], Any]:
    """A payload value of an event column as the runtime reads a request field of its declared
    type (`sql.helpers.convert_input`), with a fast path for values already of the type."""
    from skewless.sql.helpers import convert_input
    from skewless.sql.types import parse_type

    parsed = parse_type(data_type)
    big = parsed.name == "BIGINT"

    def slow(v: Any, where: Callable[[], str]) -> Any:
        return convert_input(v, parsed, where())

    if kind == "float" and parsed.name == "DOUBLE":
        return lambda v, where: v if v.__class__ is float or v is None else slow(v, where)
    if kind == "int" and big:
        lo, hi = _I64
        return lambda v, where: (
            v if (v.__class__ is int and lo <= v < hi) or v is None else slow(v, where)
        )
    if kind == "str" and parsed.name == "VARCHAR":
        return lambda v, where: v if v.__class__ is str or v is None else slow(v, where)
    return slow


class _PushPlan:
    """What preparing a push of one view needs, built once per view."""

    def __init__(self, serving: WindowServing):
        from skewless.online.keys import KeyBuilder

        view = serving.view
        self.builder = KeyBuilder(serving.feature_view)
        self.needed = [
            *view.entity,
            view.timestamp,
            view.event_id,
            *(c.name for c in serving.columns),
        ]
        # any declared column of the event model may come along (the log keeps whole events)
        self.allowed = set(self.needed) | {c for c, t in view.column_types if t}
        self.required = (*view.entity, view.timestamp, view.event_id)
        self.columns = [
            (c.name, _converter(c.kind, view.column_type(c.name)), c) for c in serving.columns
        ]
        self.others = {
            c: _converter(codec.column_kind(view.name, c, t), t)
            for c, t in view.column_types
            if t and c not in self.needed
        }
        self.keys = [
            (
                c,
                _converter(
                    codec.column_kind(view.name, c, view.column_type(c)), view.column_type(c)
                ),
            )
            for c in view.entity
        ]


class _Prepared:
    """Validated events of one push: per entity the script arguments; the log rows."""

    def __init__(self, serving: WindowServing, events: Sequence[Any], log: bool):
        from skewless.errors import RequestError

        view = serving.view
        if not view.event_id:
            raise DefinitionError(
                f"window view `{view.name}` has no meta.skewless.event_id, so a replayed push "
                "could not be told from a new event; declare the event id column "
                "(e.g. `event_id: txn_id`) to push to it"
            )
        if isinstance(events, (str, bytes)) or not isinstance(events, Sequence):
            raise RequestError(f"events must be a list of dicts, got {type(events).__name__}")
        plan = serving.push_plan()
        entity_of = plan.builder.entity
        ts_col, id_col = view.timestamp, view.event_id
        required, allowed, columns = plan.required, plan.allowed, plan.columns
        pack = _packer.pack
        self.by_entity: dict[bytes, list[bytes]] = {}
        self.log_rows: list[dict[str, Any]] = []
        self.count = len(events)
        name_ = view.name

        def where(i: int, col: str = "") -> str:
            at = f"window view `{name_}`, events[{i}]"
            return f"{at}, field `{col}`" if col else at

        at = functools.partial
        for i, event in enumerate(events):
            if event.__class__ is not dict:
                raise RequestError(
                    f"{where(i)}: an event must be a dict, got {type(event).__name__}"
                )
            if not allowed.issuperset(event) or any(c not in event for c in required):
                unknown = sorted(set(event) - allowed)
                missing = [c for c in required if c not in event]
                raise RequestError(
                    f"{where(i)}: "
                    + (f"missing field(s) {missing}" if missing else "")
                    + ("; " if missing and unknown else "")
                    + (f"unknown field(s) {unknown}" if unknown else "")
                    + f"; an event has the fields {plan.needed}"
                )
            entity = entity_of(event)
            ts = _event_micros(event[ts_col], at(where, i, ts_col))
            eid = event[id_col]
            if eid is None or isinstance(eid, (bool, float)) or str(eid) == "":
                raise RequestError(
                    f"{where(i, id_col)}: the event id must be a non-empty string or an integer, "
                    f"got {eid!r}"
                )
            eid_text = eid if eid.__class__ is str else str(eid)
            stored: list[Any] = []
            for name, convert, col in columns:
                value = convert(event.get(name), at(where, i, name))
                if value is None:
                    stored.append(None)
                elif col.kind == "timestamp":
                    stored.append(_event_micros(value, at(where, i, name)))
                elif col.kind in ("float", "str", "int", "bool"):
                    stored.append(value)
                else:
                    v = col.encode(value)
                    stored.append(_wide(v) if col.wide else v)
            args = self.by_entity.get(entity)
            if args is None:
                args = self.by_entity[entity] = []
            args += [eid_text.encode(), b"%d" % ts, pack(stored)]
            if log:
                row: dict[str, Any] = {
                    c: convert(event[c], at(where, i, c)) for c, convert in plan.keys
                }
                row[ts_col] = codec.decode_timestamp(ts)
                row[id_col] = eid_text
                for name, convert, _col in columns:
                    row[name] = convert(event.get(name), at(where, i, name))
                for c, convert in plan.others.items():
                    if c in event:
                        row[c] = convert(event[c], at(where, i, c))
                self.log_rows.append(row)


_packer = msgpack.Packer(use_bin_type=True)


#: Events per push script call: a bigger push is split (between entities) into calls of about
#: this many, so no call holds Redis for more than a few milliseconds.
PUSH_CHUNK = 200


def push_events(
    serving: WindowServing,
    client: Any,
    events: Sequence[Any],
    *,
    now_us: int,
    log_dir: Any = None,
) -> PushResult:
    """Push events into a window view's online state (module docstring), each event id once:
    one script call per `PUSH_CHUNK` events, each entity's events in one call (atomic per
    entity; the calls go out in one pipeline); with `log_dir`, first append them to the
    offline event log (`<log_dir>/<view>/<time>-<id>.parquet`, written whole then renamed),
    which the view's dbt model reads and deduplicates by event id. On a Redis Cluster a call
    holds entities of one hash slot only (`_cluster_scripts`).

    Raises:
        RequestError: an event lacks a field, has an unknown one, or a value not of its type
            (naming the event, the field and the accepted forms); nothing is written.
        DefinitionError: the view declares no `event_id`.
        OnlineStoreError: Redis failed (the log may hold the events: pushing again is safe).
    """
    prepared = _Prepared(serving, events, log=bool(log_dir))
    files = write_event_log(serving, prepared.log_rows, log_dir) if log_dir else []
    if not prepared.by_entity:
        return PushResult(serving.name, 0, 0, files)
    widest = max(serving.lengths_us) + serving.hop_us  # a hopped window starts up to H earlier
    min_ts = b"%d" % (now_us - _SLACK_US - widest - serving.horizon_us)
    if _is_cluster(client):
        # a call's keys must share a slot: the entities are grouped by the slot of their keys
        # (an entity's three share its `{entity}` tag), never split between calls
        from redis.crc import key_slot

        by_slot: dict[int, list[tuple[bytes, list[bytes]]]] = {}
        for entity, triples in prepared.by_entity.items():
            slot = key_slot(push_keys(serving.name, entity)[0])
            by_slot.setdefault(slot, []).append((entity, triples))
        calls = [c for group in by_slot.values() for c in _push_calls(serving, group, min_ts)]
        replies = _cluster_scripts(client, PUSH_SCRIPT, calls)
        return _push_result(serving, prepared, files, replies)
    script = serving.push_script(client)
    calls = _push_calls(serving, prepared.by_entity.items(), min_ts)
    if len(calls) == 1:
        keys, args = calls[0]
        replies = [script(keys=keys, args=args)]
    else:  # one pipeline; each call atomic, Redis free for other clients between them
        pipe = client.pipeline(transaction=False)
        for keys, args in calls:
            script(keys=keys, args=args, client=pipe)
        replies = pipe.execute()
    return _push_result(serving, prepared, files, replies)


def _push_calls(
    serving: WindowServing, entities: Iterable[tuple[bytes, list[bytes]]], min_ts: bytes
) -> list[tuple[list[bytes], list[bytes]]]:
    """`PUSH_SCRIPT` calls (keys, args) of about `PUSH_CHUNK` events, each entity's events
    (its script arguments: id, time, payload per event) in one call."""
    calls: list[tuple[list[bytes], list[bytes]]] = []
    keys: list[bytes] = []
    args: list[bytes] = [min_ts]
    for entity, triples in entities:
        if keys and len(args) + len(triples) > 3 * PUSH_CHUNK:
            calls.append((keys, args))
            keys, args = [], [min_ts]
        keys += push_keys(serving.name, entity)
        args.append(b"%d" % (len(triples) // 3))
        args += triples
    calls.append((keys, args))
    return calls


def _push_result(
    serving: WindowServing, prepared: _Prepared, files: list[str], replies: Sequence[Any]
) -> PushResult:
    added = sum(r[0] for r in replies)
    too_old = sum(r[1] for r in replies)
    duplicates = prepared.count - added - too_old
    return PushResult(serving.name, added, duplicates, files, too_old)


def _refresh_slots(client: Any) -> None:
    """Reload a cluster client's slot map (CLUSTER SLOTS), if a node answers."""
    try:
        client.nodes_manager.initialize()
    except Exception:  # the caller raises the fault that made it ask
        pass


#: How many times `_cluster_scripts` loads a script that a node answered NOSCRIPT for.
_SCRIPT_LOADS = 3


def _cluster_scripts(
    client: Any, script: str, calls: Sequence[tuple[Sequence[bytes], Sequence[bytes]]]
) -> list[Any]:
    """Run the Lua `script` once per call (keys, args) on a Redis Cluster. Each call's keys
    share one slot; the calls are grouped by the node serving it (the client's slot map) and
    sent as EVALSHA in one pipeline per node (redis-py's cluster pipeline refuses scripts). A
    node without the script (restarted, or new) answers NOSCRIPT without running anything: the
    script is loaded on every primary and only those calls are sent again. A call whose slot
    moved (MOVED, ASK, TRYAGAIN) runs again through the cluster client, which follows the
    redirection. → the replies, in the order of `calls`.

    Raises:
        redis.RedisError: a call failed (the first error), or a node is unreachable.
        OnlineStoreError: a node still lacked the script after it was loaded three times.
    """
    import hashlib

    from redis.crc import key_slot
    from redis.exceptions import (
        AskError,
        ConnectionError,
        MovedError,
        NoScriptError,
        TimeoutError,
        TryAgainError,
    )

    sha = hashlib.sha1(script.encode()).hexdigest()
    replies: list[Any] = [None] * len(calls)
    todo = list(range(len(calls)))
    node_of = client.nodes_manager.get_node_from_slot
    for _attempt in range(_SCRIPT_LOADS + 1):
        by_node: dict[str, tuple[Any, list[int]]] = {}
        for i in todo:
            node = node_of(key_slot(calls[i][0][0]))
            by_node.setdefault(node.name, (node, []))[1].append(i)
        again: list[int] = []
        moved: list[int] = []
        for node, calls_of_node in by_node.values():
            pipe = client.get_redis_connection(node).pipeline(transaction=False)
            for i in calls_of_node:
                keys, args = calls[i]
                pipe.evalsha(sha, len(keys), *keys, *args)
            try:
                out = pipe.execute(raise_on_error=False)
            except (ConnectionError, TimeoutError):
                _refresh_slots(client)  # a failover: the next call learns the new owner
                raise
            for i, reply in zip(calls_of_node, out, strict=True):
                if isinstance(reply, NoScriptError):
                    again.append(i)
                elif isinstance(reply, (MovedError, AskError, TryAgainError)):
                    moved.append(i)
                elif isinstance(reply, Exception):
                    raise reply
                else:
                    replies[i] = reply
        for i in moved:  # (EVAL: the node it lands on may not have the script either)
            keys, args = calls[i]
            replies[i] = client.execute_command("EVAL", script, len(keys), *keys, *args)
        if not again:
            return replies
        client.script_load(script)  # on every primary
        todo = again
    from skewless.errors import OnlineStoreError

    raise OnlineStoreError(
        f"Redis Cluster nodes kept answering NOSCRIPT after the script was loaded "
        f"{_SCRIPT_LOADS} times; are nodes restarting in a loop?"
    )


def write_event_log(serving: WindowServing, rows: list[dict[str, Any]], log_dir: Any) -> list[str]:
    """Append `rows` to the view's offline event log as one Parquet file (typed as declared)."""
    import os
    import time
    import uuid
    from pathlib import Path

    import pyarrow as pa
    import pyarrow.parquet as pq

    if not rows:
        return []
    view = serving.view
    folder = Path(log_dir) / view.name
    folder.mkdir(parents=True, exist_ok=True)
    names = list(rows[0])
    table = pa.Table.from_pylist(rows, schema=_log_schema(serving, names))
    final = folder / f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.parquet"
    tmp = folder / f".{final.name}.tmp"
    pq.write_table(table, tmp)
    os.replace(tmp, final)
    return [str(final)]


def _log_schema(serving: WindowServing, names: list[str]) -> Any:
    """The log's columns typed as declared (`offline.dbt_adapter.arrow_type`, as the generic
    reader types them); the event id as text, the event time as a UTC instant."""
    import pyarrow as pa

    from skewless.offline.dbt_adapter import arrow_type

    view = serving.view
    fields = []
    for n in names:
        if n == view.event_id:
            fields.append(pa.field(n, pa.string()))
        elif n == view.timestamp:
            fields.append(pa.field(n, pa.timestamp("us", "UTC")))
        else:
            fields.append(pa.field(n, arrow_type(view.name, n, view.column_type(n))))
    return pa.schema(fields)
