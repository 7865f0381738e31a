"""A view's generations in Redis: registered, recorded, completed, flipped and deleted, each step
fenced by the loader's lease (`lease.py`).

Every step is one Lua script over the view's bookkeeping keys (all hash-tagged `{<view>}`, so one
Redis Cluster slot; see `keys.py`) that first checks the lease still holds the caller's value and
otherwise answers `SKWLEASE` (raised as `LeaseLostError`):

- `register`: INCR the generation counter, list the generation in `skw:gens`, its version in
  `skw:genver` and mark it unfinished in `skw:loading` — before anything is written.
- `record`: RPUSH a write buffer's keys onto the generation's key list *before* the buffer's
  SETs (the bulk writer puts the script first in the same pipeline: Redis runs one connection's
  commands in order, so however much of a buffer a killed loader delivered, no SET ran before
  its key was listed). Recording never depends on the lease — keys are listed even by a loader
  that lost it, and a generation deleted under it is listed again as unfinished — so every key
  ever written is found by the next load; only the answer says the lease is gone.
- `complete`: the sentinels (`keys.sentinel_key`: one per generation, or one per hash slot on a
  cluster), recorded then written once every data buffer is acknowledged. Readers check them.
- `flip`: SET the pointer, update `skw:meta`, take the version off `skw:retired`, and mark the
  generation finished — atomically, and only if the generation is still registered.
- `delete_generation`: the pointer (compare and delete), the listed keys a chunk per call
  (server side on a plain Redis; on a cluster the chunk is read under the fence, unlinked from
  the client, then trimmed under the fence), then the bookkeeping. The generation stays listed
  until the end, so an interrupted delete is finished by the next load.

`discard_unfinished` (start of every load) deletes the generations still marked unfinished: their
loader died or lost its lease (the caller holds it now). A loader that finds its own lease lost
calls `discard_own`: its own generation is never served (it did not flip), so deleting it needs
no fence (an empty lease value).

An unfinished generation also expires by itself, as a second guard (`resolve_unfinished_ttl`,
`$SKEWLESS_UNFINISHED_TTL`, default 24 h): a data key of a view without a `ttl` is written with
`PX <unfinished ttl>` (a view with a `ttl` already writes `PXAT timestamp + ttl`), every sentinel
with the same `PX`, and the key list expires that long (plus the view's ttl) after its last
record. Before the flip, `persist` clears those expiries: server side a chunk of the key list
per call on a plain Redis, pipelined per node on a cluster — and it counts what it cleared, so a
key that vanished in between (it outlived the guard, or `maxmemory` evicted it) stops the load
instead of being served as `missing`. The flip persists the key list under the fence. A killed
load of a view that is never loaded again thus leaves nothing behind for longer than the guard
(or its view's ttl).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from skewless.errors import GuardExpiredError, LeaseLostError, OnlineStoreError
from skewless.online import keys

__all__ = [
    "complete",
    "dedupe",
    "delete_generation",
    "discard_own",
    "discard_unfinished",
    "flip",
    "key_list_ttl",
    "persist",
    "record",
    "record_command_head",
    "register",
    "resolve_unfinished_ttl",
    "set_meta",
]

_log = logging.getLogger("skewless")

DELETE_CHUNK = 5000
#: Keys per persist script call (one LRANGE and one PERSIST each, server side).
PERSIST_CHUNK = 5000
#: Seconds an unfinished generation lives without its loader (the second guard).
DEFAULT_UNFINISHED_TTL = 86_400.0
#: The environment variable `resolve_unfinished_ttl` reads.
UNFINISHED_TTL_ENV = "SKEWLESS_UNFINISHED_TTL"
#: Keys per RPUSH inside the record script (Lua's `unpack` stops near 8,000 values).
_PUSH_CHUNK = 1000

# KEYS[1] is always the lease; ARGV[1] the caller's lease value ('' = the caller's own unfinished
# generation: no fence).
_FENCE = (
    "if ARGV[1] ~= '' and redis.call('GET', KEYS[1]) ~= ARGV[1] then "
    "return redis.error_reply('SKWLEASE the loader lease is no longer held by this loader') end\n"
)

# KEYS: lease, genseq. ARGV: lease value. The counter jumps to the server clock in ms.
_BUMP = (
    _FENCE
    + """local t = redis.call('TIME')
local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ms > tonumber(redis.call('GET', KEYS[2]) or '0') then
  redis.call('SET', KEYS[2], string.format('%d', ms))
end
return 1
"""
)

# KEYS: lease, genseq, gens, genver, loading. ARGV: lease value, version.
_REGISTER = (
    _FENCE
    + """local gen = redis.call('INCR', KEYS[2])
redis.call('RPUSH', KEYS[3], gen)
redis.call('HSET', KEYS[4], gen, ARGV[2])
redis.call('SADD', KEYS[5], gen)
return gen
"""
)

# KEYS: lease, gens, genver, loading, key list. ARGV: lease value, generation, version, lease
# ttl ms, key list ttl ms (0: leave it), keys... Records first, whatever the lease says.
_RECORD = f"""local n = #ARGV
for i = 6, n, {_PUSH_CHUNK} do
  redis.call('RPUSH', KEYS[5], unpack(ARGV, i, math.min(i + {_PUSH_CHUNK - 1}, n)))
end
if tonumber(ARGV[5]) > 0 then redis.call('PEXPIRE', KEYS[5], ARGV[5]) end
if redis.call('HEXISTS', KEYS[3], ARGV[2]) == 0 then
  redis.call('RPUSH', KEYS[2], ARGV[2])
  redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
  redis.call('SADD', KEYS[4], ARGV[2])
end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return redis.error_reply('SKWLEASE the loader lease is no longer held by this loader')
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return n - 5
"""

# KEYS: lease, pointer, meta, retired, genver, loading, key list. ARGV: lease value, generation,
# version, meta field, value, ...
_FLIP = (
    _FENCE
    + """if redis.call('HGET', KEYS[5], ARGV[2]) ~= ARGV[3] then
  return redis.error_reply('SKWLEASE generation ' .. ARGV[2] .. ' was deleted by another loader')
end
if redis.call('EXISTS', KEYS[7]) == 0 then
  return redis.error_reply('SKWGONE the key list of generation ' .. ARGV[2] .. ' expired')
end
redis.call('PERSIST', KEYS[7])
redis.call('SET', KEYS[2], ARGV[2])
redis.call('HSET', KEYS[3], unpack(ARGV, 4))
redis.call('ZREM', KEYS[4], ARGV[3])
redis.call('SREM', KEYS[6], ARGV[2])
return 1
"""
)

# A retried writer (a Spark task run again) lists its keys twice, which `persist` (it counts the
# expiries it clears) would read as vanished keys. Removes repeats, atomically, under the fence
# (no key ever leaves the list). KEYS: lease, key list. ARGV: lease value.
_DEDUPE = (
    _FENCE
    + """local ks = redis.call('LRANGE', KEYS[2], 0, -1)
local seen, out = {}, {}
for i = 1, #ks do
  if not seen[ks[i]] then seen[ks[i]] = true; out[#out + 1] = ks[i] end
end
if #out < #ks then
  local ttl = redis.call('PTTL', KEYS[2])
  redis.call('DEL', KEYS[2])
  for i = 1, #out, 1000 do redis.call('RPUSH', KEYS[2], unpack(out, i, math.min(i + 999, #out))) end
  if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
end
return #ks - #out
"""
)

# Plain Redis only (touches keys it is not given, which Redis Cluster forbids). Clears the
# guard's expiry of a chunk of listed keys. KEYS: lease, key list. ARGV: lease value, start,
# chunk. → {listed, persisted}
_PERSIST_CHUNK = (
    _FENCE
    + """local ks = redis.call('LRANGE', KEYS[2], tonumber(ARGV[2]), tonumber(ARGV[2]) + tonumber(ARGV[3]) - 1)
local n = 0
for i = 1, #ks do n = n + redis.call('PERSIST', ks[i]) end
return {#ks, n}
"""
)

# Redis Cluster: a chunk of the key list read under the fence. KEYS: lease, key list. ARGV:
# lease value, start, chunk.
_RANGE_CHUNK = (
    _FENCE + "return redis.call('LRANGE', KEYS[2], tonumber(ARGV[2]), "
    "tonumber(ARGV[2]) + tonumber(ARGV[3]) - 1)\n"
)

# KEYS: lease, meta. ARGV: lease value, field, value, ...
_SET_META = _FENCE + "return redis.call('HSET', KEYS[2], unpack(ARGV, 2))\n"

# KEYS: lease, pointer. ARGV: lease value, generation.
_DROP_POINTER = (
    _FENCE + "if redis.call('GET', KEYS[2]) == ARGV[2] then return redis.call('DEL', KEYS[2]) end "
    "return 0\n"
)

# Plain Redis only (unlinks keys it is not given, which Redis Cluster forbids).
# KEYS: lease, key list. ARGV: lease value, chunk.
_DELETE_CHUNK = (
    _FENCE
    + """local ks = redis.call('LRANGE', KEYS[2], 0, tonumber(ARGV[2]) - 1)
for i = 1, #ks, 1000 do redis.call('UNLINK', unpack(ks, i, math.min(i + 999, #ks))) end
redis.call('LTRIM', KEYS[2], #ks, -1)
return #ks
"""
)

# Redis Cluster: read a chunk under the fence (`_RANGE_CHUNK` from 0; the client unlinks it),
# then trim it.
_TRIM_CHUNK = _FENCE + "return redis.call('LTRIM', KEYS[2], tonumber(ARGV[2]), -1)\n"

# KEYS: lease, key list, genver, gens, loading. ARGV: lease value, generation.
_UNREGISTER = (
    _FENCE
    + """redis.call('DEL', KEYS[2])
redis.call('HDEL', KEYS[3], ARGV[2])
redis.call('LREM', KEYS[4], 0, ARGV[2])
redis.call('SREM', KEYS[5], ARGV[2])
return 1
"""
)


def _is_cluster(client: Any) -> bool:
    return type(client).__name__ == "RedisCluster"


def _eval(client: Any, script: str, keys_: Sequence[bytes], args: Sequence[Any], view: str) -> Any:
    """Run a fenced script; `SKWLEASE` → `LeaseLostError`, other Redis errors → OnlineStoreError."""
    import redis

    try:
        return client.eval(script, len(keys_), *keys_, *args)
    except redis.ResponseError as e:
        if str(e).startswith("SKWLEASE"):
            raise lease_lost(view, str(e)) from None
        if str(e).startswith("SKWGONE"):
            raise guard_expired(view, str(e).removeprefix("SKWGONE ")) from None
        raise OnlineStoreError(
            f"feature view `{view}`: Redis refused a loader step: {e}",
            operation="materialize",
            view=view,
        ) from None


def lease_lost(view: str, detail: str = "") -> LeaseLostError:
    """The error of a loader that found its lease gone."""
    why = detail.removeprefix("SKWLEASE ").strip() or "the loader lease is no longer held"
    return LeaseLostError(
        f"feature view `{view}`: {why} — it expired (a pause longer than the lease ttl) and "
        "another loader took over; this load stopped without flipping the pointer or deleting "
        "anything but its own unfinished generation. Rerun it (`--wait` to queue behind the "
        "other loader), or raise SKEWLESS_LEASE_TTL if loads pause that long",
        operation="materialize",
        view=view,
    )


def guard_expired(view: str, detail: str) -> GuardExpiredError:
    """The error of a load that outlived its unfinished generation's guard (or lost keys to
    eviction) before the flip: nothing was flipped, the old generation is still served."""
    return GuardExpiredError(
        f"feature view `{view}`: {detail} before the pointer flip, so this load was not "
        f"served (the previous generation still is). Either the load took longer than the "
        f"unfinished-generation guard ({UNFINISHED_TTL_ENV}, default "
        f"{DEFAULT_UNFINISHED_TTL / 3600:g}h): raise it; or Redis evicted keys under `maxmemory` "
        "(a volatile-* policy evicts keys that have an expiry): give it memory or use "
        "`noeviction`",
        operation="materialize",
        view=view,
    )


def resolve_unfinished_ttl(value: float | str | None = None) -> float:
    """Seconds an unfinished generation lives without its loader: `value`, else
    `$SKEWLESS_UNFINISHED_TTL`, else 24 h. A load must flip within it.

    Raises:
        SkewlessError: not a number of seconds >= 1.
    """
    from skewless.online.lease import resolve_seconds

    return resolve_seconds(
        value,
        what="unfinished_ttl",
        env=UNFINISHED_TTL_ENV,
        default=DEFAULT_UNFINISHED_TTL,
        minimum=1.0,
        meaning="how long an unfinished generation outlives a dead loader (and how long a load "
        "may take before its flip)",
        example="86400",
    )


def register(client: Any, lease_value: bytes, view: str, version: str) -> bytes:
    """A new generation id for `view`, registered as unfinished.

    On a cluster whose node holding the view's bookkeeping restarted empty, the counter starts
    again at 1 while earlier generations' keys survive on the other nodes: an id whose
    sentinels exist somewhere was used before, so the counter jumps to the server's clock in ms
    (ids stay increasing and never name old keys again).
    """
    bookkeeping = [
        keys.lease_key(view),
        keys.genseq_key(view),
        keys.gens_key(view),
        keys.genver_key(view),
        keys.loading_key(view),
    ]
    gen = b"%d" % int(_eval(client, _REGISTER, bookkeeping, [lease_value, version], view))
    if _is_cluster(client) and _used_before(client, view, gen):
        _eval(client, _BUMP, bookkeeping[:2], [lease_value], view)
        delete_generation(client, lease_value, view, gen)  # registered, nothing listed
        gen = b"%d" % int(_eval(client, _REGISTER, bookkeeping, [lease_value, version], view))
    return gen


def _used_before(client: Any, view: str, gen: bytes) -> bool:
    """Whether a sentinel of `gen` exists on any cluster node (one slot probed per node)."""
    first: dict[str, int] = {}
    for slot, nodes in client.nodes_manager.slots_cache.items():
        if nodes:
            first.setdefault(nodes[0].name, slot)
    pipe = client.pipeline(transaction=False)
    for slot in first.values():
        pipe.exists(keys.sentinel_key(view, gen, slot))
    return any(pipe.execute())


def _record_keys(view: str, gen: bytes) -> list[bytes]:
    return [
        keys.lease_key(view),
        keys.gens_key(view),
        keys.genver_key(view),
        keys.loading_key(view),
        keys.gen_keys_key(view, gen),
    ]


def _bulk(value: bytes | str | int) -> bytes:
    raw = value if isinstance(value, bytes) else str(value).encode()
    return b"$%d\r\n%s\r\n" % (len(raw), raw)


def record_command_head(
    view: str, gen: bytes, version: str, lease_value: bytes, ttl_ms: int, list_ttl_ms: int = 0
) -> tuple[bytes, int]:
    """RESP of the record script call minus its header and keys: (bytes, arguments in it). The
    bulk writer prepends `*<arguments + keys>` and appends the buffer's keys as bulk strings.
    `list_ttl_ms` (> 0) expires the key list that long after this record (the guard)."""
    parts = [b"EVAL", _RECORD.encode(), b"5", *_record_keys(view, gen)]
    parts += [lease_value, gen, version.encode(), b"%d" % ttl_ms, b"%d" % list_ttl_ms]
    return b"".join(_bulk(p) for p in parts), len(parts)


def record(
    client: Any,
    lease_value: bytes,
    view: str,
    gen: bytes,
    version: str,
    ttl_ms: int,
    keys_: Sequence[bytes],
    list_ttl_ms: int = 0,
) -> None:
    """List `keys_` in the generation's key list (a round trip of its own; the cluster writer and
    the sentinels wait for it before writing). `list_ttl_ms` as in `record_command_head`."""
    for i in range(0, len(keys_), 50_000):
        _eval(
            client,
            _RECORD,
            _record_keys(view, gen),
            [lease_value, gen, version, ttl_ms, list_ttl_ms, *keys_[i : i + 50_000]],
            view,
        )


def key_list_ttl(guard_ms: int | None, ttl_ms: int | None) -> int:
    """The expiry of an unfinished generation's key list, refreshed by every record: it outlives
    every key it lists (the guard, or the keys' own ttl) by a margin. 0 without a guard."""
    if not guard_ms:
        return 0
    return guard_ms + (ttl_ms or 0) + min(60_000, guard_ms)


def sentinels_of(client: Any, view: str, gen: bytes) -> list[bytes]:
    """The generation's sentinel keys: one on a plain Redis, one per hash slot on a cluster."""
    if _is_cluster(client):
        return [keys.sentinel_key(view, gen, s) for s in range(keys.CLUSTER_SLOTS)]
    return [keys.sentinel_key(view, gen)]


def complete(
    client: Any,
    lease_value: bytes,
    view: str,
    gen: bytes,
    version: str,
    ttl_ms: int,
    guard_ms: int = 0,
    list_ttl_ms: int = 0,
) -> None:
    """Write the generation's sentinels (recorded first), so a reader finds out when a node lost
    its part of the generation; with `guard_ms`, each expires that long after (until `persist`).
    `list_ttl_ms` as in `record_command_head` (`key_list_ttl`)."""
    sentinels = sentinels_of(client, view, gen)
    record(client, lease_value, view, gen, version, ttl_ms, sentinels, list_ttl_ms)
    pipe = client.pipeline(transaction=False)
    for k in sentinels:
        pipe.set(k, gen, px=guard_ms or None)
    pipe.execute()


def dedupe(client: Any, lease_value: bytes, view: str, gen: bytes) -> int:
    """Remove repeated entries from the generation's key list (a writer that ran again listed
    its keys twice), under the fence. → how many were removed."""
    return int(
        _eval(
            client,
            _DEDUPE,
            [keys.lease_key(view), keys.gen_keys_key(view, gen)],
            [lease_value],
            view,
        )
    )


def persist(client: Any, lease_value: bytes, view: str, gen: bytes, *, every_key: bool) -> None:
    """Clear the guard's expiry before the flip: of every listed key (`every_key`: a view
    without a ttl), else of the sentinels only (data keys keep `PXAT timestamp + ttl`).

    Raises:
        OnlineStoreError: a key that should have had the guard's expiry was gone (it outlived
            the guard, or was evicted) — nothing is flipped.
        LeaseLostError: the lease is gone.
    """
    lease, list_key = keys.lease_key(view), keys.gen_keys_key(view, gen)
    listed = cleared = 0
    if not every_key:
        sentinels = sentinels_of(client, view, gen)
        pipe = client.pipeline(transaction=False)
        for k in sentinels:
            pipe.persist(k)
        listed, cleared = len(sentinels), sum(pipe.execute())
    elif _is_cluster(client):
        while True:
            chunk = _eval(
                client, _RANGE_CHUNK, [lease, list_key], [lease_value, listed, PERSIST_CHUNK], view
            )
            if not chunk:
                break
            pipe = client.pipeline(transaction=False)
            for k in chunk:
                pipe.persist(k)
            listed += len(chunk)
            cleared += sum(pipe.execute())
    else:
        while True:
            n, done = _eval(
                client,
                _PERSIST_CHUNK,
                [lease, list_key],
                [lease_value, listed, PERSIST_CHUNK],
                view,
            )
            listed += n
            cleared += done
            if n < PERSIST_CHUNK:
                break
    if cleared != listed:
        raise guard_expired(
            view,
            f"{listed - cleared:,} of the {listed:,} keys of generation {gen.decode()} "
            "had vanished",
        )


def flip(
    client: Any, lease_value: bytes, view: str, gen: bytes, version: str, meta: Mapping[str, str]
) -> None:
    """Point the version at `gen` and update the view's meta, atomically, under the fence."""
    _eval(
        client,
        _FLIP,
        [
            keys.lease_key(view),
            keys.pointer_key(view, version),
            keys.meta_key(view),
            keys.retired_key(view),
            keys.genver_key(view),
            keys.loading_key(view),
            keys.gen_keys_key(view, gen),
        ],
        [lease_value, gen, version, *(x for kv in meta.items() for x in kv)],
        view,
    )


def set_meta(client: Any, lease_value: bytes, view: str, meta: Mapping[str, str]) -> None:
    """Update the view's meta under the fence (an incremental load)."""
    _eval(
        client,
        _SET_META,
        [keys.lease_key(view), keys.meta_key(view)],
        [lease_value, *(x for kv in meta.items() for x in kv)],
        view,
    )


def delete_generation(client: Any, lease_value: bytes, view: str, gen: bytes) -> None:
    """Remove one generation: its pointer (if it still names it), its listed keys (chunked),
    then its bookkeeping — in that order, each step under the fence, so a reader never finds a
    pointer to a half-deleted generation and an interrupted delete is finished by the next load.
    """
    lease = keys.lease_key(view)
    list_key = keys.gen_keys_key(view, gen)
    version = client.hget(keys.genver_key(view), gen)
    if version is not None:
        pointer = keys.pointer_key(view, version.decode())
        _eval(client, _DROP_POINTER, [lease, pointer], [lease_value, gen], view)
    if _is_cluster(client):
        # the keys live in other slots than their list: unlinked from the client
        while True:
            chunk = _eval(
                client, _RANGE_CHUNK, [lease, list_key], [lease_value, 0, DELETE_CHUNK], view
            )
            if not chunk:
                break
            pipe = client.pipeline(transaction=False)
            for k in chunk:
                pipe.unlink(k)
            pipe.execute()
            _eval(client, _TRIM_CHUNK, [lease, list_key], [lease_value, len(chunk)], view)
    else:
        while _eval(client, _DELETE_CHUNK, [lease, list_key], [lease_value, DELETE_CHUNK], view):
            pass
    _eval(
        client,
        _UNREGISTER,
        [lease, list_key, keys.genver_key(view), keys.gens_key(view), keys.loading_key(view)],
        [lease_value, gen],
        view,
    )


def discard_unfinished(client: Any, lease_value: bytes, view: str) -> list[str]:
    """Delete every generation of `view` still marked unfinished (its loader died or lost its
    lease; the caller holds the lease). Returns their ids."""
    gone = sorted(client.smembers(keys.loading_key(view)), key=int)
    for gen in gone:
        delete_generation(client, lease_value, view, gen)
    return [g.decode() for g in gone]


def discard_own(client: Any, view: str, gen: bytes, recent: Sequence[bytes] = ()) -> None:
    """Delete this loader's own unfinished generation after it lost its lease: the keys listed
    for it, and `recent` (the keys of its last buffers, which another loader may have unlisted
    before their SETs ran). Never served (it was not flipped in), so no fence is needed."""
    cluster = _is_cluster(client)
    try:
        for i in range(0, len(recent), DELETE_CHUNK):
            chunk = recent[i : i + DELETE_CHUNK]
            if cluster:
                pipe = client.pipeline(transaction=False)
                for k in chunk:
                    pipe.unlink(k)
                pipe.execute()
            else:
                client.unlink(*chunk)
        delete_generation(client, b"", view, gen)
    except Exception as e:
        _log.warning(
            "skewless: could not remove the unfinished generation %s of `%s` (%s); the next "
            "load of the view deletes it",
            gen.decode(),
            view,
            type(e).__name__,
        )
