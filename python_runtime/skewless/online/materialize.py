"""`skewless materialize`: load the latest row per entity of each feature view into Redis.

Per view:

0. **Lease** (`lease.py`): one loader per view. The loader takes the view's lease (SET NX PX,
   renewed while it works) or fails with `LeaseHeldError` naming the holder — or waits for it,
   `wait` seconds. Every later step that writes bookkeeping is fenced by the lease
   (`generations.py`), so a loader that lost its lease can neither flip nor delete. The load
   starts by deleting the generations a dead (or fenced-out) loader left unfinished.
1. **Generation**: a full load takes a NEW generation id (`INCR skw:genseq:{<view>}`),
   registered in `skw:gens:{<view>}`, `skw:genver:{<view>}` → version and `skw:loading:{<view>}`
   before anything is written.
2. **Query** (DuckDB): the latest row per entity whose timestamp lies within `ttl` of `now` and
   whose batch lag has passed (`timestamp + available_after <= now`, the bound the
   point-in-time join applies, so serving never holds a row training could not have seen), rows
   with a null key dropped. DuckDB also computes, vectorised, each row's
   data key (`keys.sql_data_key_expression`) and its RESP framing (`SET <key>` head, `PXAT
   <timestamp + ttl>` tail, the key as an RPUSH argument) and turns every feature into its
   stored form (`codec.sql_select`). The result goes to a temporary table, so its row count
   drives the progress bar, then streams out as Arrow record batches of `chunk_rows` (bounded
   memory: never a whole table in Python lists).
3. **Write** (Redis): per batch, Python only msgpack-packs the values and joins bytes: one
   buffer of `SET skw:{<entity>}:<view>:<gen> <msgpack [f1, …, ts]> PXAT <ts + ttl>` per row
   preceded by one record script that RPUSHes the buffer's keys onto
   `skw:gen:{<view>}:<gen>:keys` (no key is written before it is recorded: Redis runs one
   connection's commands in order, so a loader killed mid-buffer leaves only listed keys), sent
   with `send_packed_command`. While Redis executes a buffer the next one is encoded (one in flight);
   the replies — all one-line — are read from the socket in bulk and counted, not parsed one by
   one. redis-py's pipeline API costs ≈20 µs a row on this machine; this path ≈1 µs of Python
   CPU a row (see bench/results/materialize.md).
4. **Flip**: only when every buffer is acknowledged, the generation's sentinels are written
   (`generations.complete`; readers detect a lost node by them), then one fenced script sets the
   pointer `skw:ptr:{<view>}:<version>` to the new generation, updates `skw:meta:{<view>}`, takes
   the version off the retired list and marks the generation finished. A loader killed before
   this leaves the previous generation served; its partial generation stays marked unfinished
   and is deleted at the start of the view's next load.
5. **Cleanup** (`versions.py`): the generations still needed are the new one, the one this
   version served just before (grace for readers that fetched the old pointer a moment ago) and
   the served generation of each of the `keep_versions` - 1 other most recently materialized
   versions (default 3 in all: services a few deploys behind keep reading their own version).
   Versions beyond that are first recorded in `skw:retired:<view>` (so their readers are told
   "retired", with the live versions), then every other generation is deleted: its version's
   pointer if it still points there (readers then get an error, never a half-deleted
   generation), its data keys — read from its key list and UNLINKed in chunks by a server-side
   script (no keys travel to the client, no SCAN) — then the list and its bookkeeping. A crash
   anywhere in the cleanup leaves the generation in `skw:gens:<view>`, and the next full load
   deletes it.

`incremental=True` writes into the generation currently served (no flip) only the rows whose
timestamp is >= the stored watermark (`>=`: a correction with the same timestamp as the stored
row is applied, not dropped); `lookback` widens that window for late corrections of older rows.
A view never materialized at its current version falls back to a full load, and so does a
version that is live but not the view's latest load (the watermark in `skw:meta:<view>` is the
latest load's, not this version's). Incremental writes
are per-key atomic but not a snapshot across entities (that is what a full load is for).

Before anything is written (for every selected view, before the first one is loaded), each
declared `data_type` is compared with the type DuckDB reports for the built column
(`offline.duckdb.check_relation_types`); a mismatch — a HUGEINT `sum()` declared `bigint`, a DOUBLE
declared `bigint` — is a `ColumnTypeError` naming model, column, both types and the fix.

Redis Cluster: data keys go through redis-py's cluster pipeline (grouped by node; slower),
each buffer's record script answered before its SETs are sent (the nodes run a pipeline in no
common order); the bookkeeping of a view shares one slot, so the fenced scripts work as on a
plain Redis; old generations' data keys are unlinked from the client. Window views load the
same way (`online.windows.load`). Tested against a three-node cluster.
"""

from __future__ import annotations

import functools
import itertools
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar, cast

from skewless.definitions import FeatureView
from skewless.definitions.registry import Registry
from skewless.errors import GuardExpiredError, LeaseLostError, OnlineStoreError, SkewlessError
from skewless.offline import LatestWindow, OfflineReader, visible_bound
from skewless.offline.duckdb import (
    DuckDBReader,
    _quote,
    check_relation_types,
    duckdb_path_from_profile,
    open_duckdb,
)
from skewless.online import codec, generations, keys, versions
from skewless.online.connection import client_url, redis_faults
from skewless.online.lease import Lease, resolve_lease_ttl
from skewless.online.windows import WindowServing

__all__ = [
    "MaterializeResult",
    "check_relation_types",
    "duckdb_path_from_profile",
    "materialize",
    "materialize_view",
    "open_duckdb",
]

DEFAULT_CHUNK_ROWS = 5000
_log = logging.getLogger("skewless")

Progress = Callable[[int], None]


@dataclass
class MaterializeResult:
    """What one view's load did.

    Attributes:
        view: the feature view.
        version: its definition version.
        generation: the generation written into.
        mode: `full`, or `incremental`.
        rows: rows written to Redis (one per entity).
        watermark: the greatest row timestamp now stored (None when nothing was ever loaded).
        query_seconds: time in DuckDB (the latest-row query).
        write_seconds: time writing to Redis, incl. the pointer flip.
        cleanup_seconds: time deleting old generations.
        deleted_generations: generations removed by the cleanup.
        live_versions: after a full load, the versions Redis serves, newest first (this one
            first); empty after an incremental load (nothing retired).
        retired_versions: versions whose pointer this load removed (beyond `keep_versions`).
    """

    view: str
    version: str
    generation: str
    mode: str
    rows: int
    watermark: datetime | None
    query_seconds: float
    write_seconds: float
    cleanup_seconds: float = 0.0
    deleted_generations: list[str] = field(default_factory=list)
    live_versions: list[str] = field(default_factory=list)
    retired_versions: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        """End to end: query, write and cleanup."""
        return self.query_seconds + self.write_seconds + self.cleanup_seconds

    @property
    def write_rows_per_second(self) -> float:
        return self.rows / self.write_seconds if self.write_seconds > 0 else 0.0

    @property
    def rows_per_second(self) -> float:
        """End to end (query + write)."""
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "view": self.view,
            "version": self.version,
            "generation": self.generation,
            "mode": self.mode,
            "rows": self.rows,
            "watermark": self.watermark.isoformat() if self.watermark else None,
            "query_seconds": round(self.query_seconds, 4),
            "write_seconds": round(self.write_seconds, 4),
            "cleanup_seconds": round(self.cleanup_seconds, 4),
            "rows_per_second": round(self.rows_per_second),
            "write_rows_per_second": round(self.write_rows_per_second),
            "deleted_generations": self.deleted_generations,
            "live_versions": self.live_versions,
            "retired_versions": self.retired_versions,
        }


# ---------------------------------------------------------------------------------------------
# Where the DuckDB file is


# ---------------------------------------------------------------------------------------------
# SQL


def _micros(value: datetime | timedelta) -> int:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        value = value - codec.EPOCH
    return value.days * 86_400_000_000 + value.seconds * 1_000_000 + value.microseconds


def latest_rows_sql(
    view: FeatureView,
    now_us: int,
    since_us: int | None,
    generation: bytes,
    ttl_ms: int | None,
    framed: bool = True,
    guard_ms: int | None = None,
) -> str:
    """The DuckDB query selecting, per entity, the latest row in `[since, now]`, ready to send.

    Columns: `__skw_set` (the RESP head of `SET <key>` as BLOB), `__skw_arg` (the key as a RESP
    bulk string, for the generation's key list), `__skw_px` (the RESP tail: `PXAT <ts + ttl>`),
    `__skw_ts` (epoch micros), then each feature in its stored form (`codec.sql_select`); the
    tail is `PX <guard_ms>` instead for a view without a ttl (an unfinished generation's
    guard, see `generations.py`), or nothing when both are None. Key
    and framing are computed vectorised in DuckDB; Python only packs the values. With
    `framed=False` (Redis Cluster, written through redis-py's cluster pipeline) the columns are
    `__skw_key`, `__skw_ts`, then the features.
    """
    w = LatestWindow(view, visible_bound(view, now_us), since_us)
    relation = w.relation()
    inner = _stored_columns(view, generation, w.ts)
    qualify = (
        f"QUALIFY row_number() OVER (PARTITION BY {', '.join(w.partition)} "
        f"ORDER BY {', '.join(w.order())}) = 1"
    )
    select = f"SELECT {', '.join(inner)}\nFROM {relation}\nWHERE {' AND '.join(w.where)}\n{qualify}"
    return select if not framed else _framed(view, select, ttl_ms, guard_ms)


def _stored_columns(view: FeatureView, generation: bytes, ts: str) -> list[str]:
    """The data key, the timestamp in epoch micros and each feature in its stored form
    (`codec.sql_select`), as DuckDB select-list items over the view's columns."""
    inner = [
        f"{keys.sql_data_key_expression(view, generation, _quote)} AS __skw_key",
        f"epoch_us({ts}) AS __skw_ts",
    ]
    for f in view.features:
        kind = codec.column_kind(view.name, f.name, f.data_type)
        inner.append(f"{codec.sql_select(kind, _quote(f.name))} AS {_quote(f.name)}")
    return inner


def framed_sql(
    view: FeatureView,
    source: str,
    generation: bytes,
    ttl_ms: int | None,
    guard_ms: int | None = None,
) -> str:
    """DuckDB SQL framing rows an engine selected (`OfflineReader.latest_rows`: the key columns,
    `__skw_ts` as TIMESTAMPTZ, the features) read from the relation `source`: the columns of
    `latest_rows_sql` with `framed=True`."""
    inner = _stored_columns(view, generation, "__skw_ts")
    return _framed(view, f"SELECT {', '.join(inner)}\nFROM {source}", ttl_ms, guard_ms)


def _framed(view: FeatureView, select: str, ttl_ms: int | None, guard_ms: int | None) -> str:
    crlf = "(chr(13) || chr(10))"
    bulk_key = f"'$' || CAST(strlen(__skw_key) AS VARCHAR) || {crlf} || __skw_key || {crlf}"
    expires = ttl_ms is not None or guard_ms is not None
    head = "'*5'" if expires else "'*3'"
    set_head = f"{head} || {crlf} || '$3' || {crlf} || 'SET' || {crlf} || {bulk_key}"
    if ttl_ms is not None:
        pxat = f"CAST((__skw_ts + 999) // 1000 + {ttl_ms} AS VARCHAR)"
        px_tail = (
            f"{crlf} || '$4' || {crlf} || 'PXAT' || {crlf} || '$' || "
            f"CAST(strlen({pxat}) AS VARCHAR) || {crlf} || {pxat} || {crlf}"
        )
    elif guard_ms is not None:
        px = str(guard_ms)
        px_tail = f"{crlf} || '$2' || {crlf} || 'PX' || {crlf} || '${len(px)}' || {crlf} || '{px}' || {crlf}"
    else:
        px_tail = crlf
    features = ", ".join(_quote(f.name) for f in view.features)
    return (
        f"WITH latest AS (\n{select})\n"
        f"SELECT encode({set_head}) AS __skw_set, encode({bulk_key}) AS __skw_arg, "
        f"encode({px_tail}) AS __skw_px, __skw_ts, {features}\nFROM latest"
    )


# ---------------------------------------------------------------------------------------------
# Redis writing


class _Writer:
    """Sends pre-built RESP buffers on one connection, one chunk in flight.

    Every command the loader pipelines (SET, RPUSH) answers with a one-line reply (`+OK`, `:n`
    or `-ERR …`), so replies are read from the socket in bulk and counted by line ends instead
    of being parsed one by one (≈1.5 µs a reply through redis-py's parser).
    """

    def __init__(self, client: Any, redis_url: str, view: str = ""):
        self.client = client
        self.redis_url = redis_url
        self.view = view
        self.pool = client.connection_pool
        self.conn = self.pool.get_connection()
        self.pending = 0
        #: the RESP-framed keys of the last two buffers sent (removed if the lease is lost)
        self.recent: list[list[bytes]] = []

    def send(self, payload: bytes, replies: int, args: list[bytes]) -> None:
        self.drain()
        self.recent = [*self.recent[-1:], args]
        self.conn.send_packed_command([payload], check_health=False)
        self.pending = replies

    def drain(self) -> None:
        if not self.pending:
            return
        sock = self.conn._sock
        seen = 0
        at_line_start = True
        errors: list[bytes] = []
        leftover = b""
        while seen < self.pending:
            data = sock.recv(1 << 20)
            if not data:
                raise OnlineStoreError(f"Redis at {self.redis_url} closed the connection mid-load")
            seen += data.count(b"\r\n")
            if (at_line_start and data[:1] == b"-") or b"\n-" in data:
                text = leftover + data
                errors += [line for line in text.split(b"\r\n") if line.startswith(b"-")][:3]
            at_line_start = data.endswith(b"\n")
            leftover = data[-200:]
        if seen > self.pending:
            raise OnlineStoreError(
                f"Redis at {self.redis_url} sent {seen} replies for {self.pending} commands; "
                "the connection is out of step — rerun the load"
            )
        self.pending = 0
        lost = [e for e in errors if e.startswith(b"-SKWLEASE")]
        if lost:
            raise generations.lease_lost(self.view, lost[0][1:].decode(errors="replace"))
        if errors:
            raise OnlineStoreError(
                f"Redis at {self.redis_url} rejected a write: {errors[0][1:].decode(errors='replace')}"
            )

    def close(self, broken: bool = False) -> None:
        if broken:
            self.conn.disconnect()
        self.pool.release(self.conn)

    def recent_keys(self) -> list[bytes]:
        return [_unframe(a) for args in self.recent for a in args]


class _ClusterWriter:
    """Redis Cluster: writes each batch through redis-py's cluster pipeline (grouped by node).

    Slower than the bulk path (redis-py encodes every command), but each data key goes to the
    node owning its slot.
    """

    def __init__(
        self,
        client: Any,
        redis_url: str,
        ttl_ms: int | None,
        record: Callable[..., None],
        guard_ms: int | None = None,
    ):
        self.client = client
        self.redis_url = redis_url
        self.ttl_ms = ttl_ms
        self.guard_ms = guard_ms
        self.record = record
        self.recent: list[list[bytes]] = []

    def write_batch(self, batch: Any) -> tuple[int, int]:
        cols = [c.to_pylist() for c in batch.columns]
        keys_, stamps, features = cols[0], cols[1], cols[2:]
        if not keys_:
            return 0, 0
        keys_ = [k.encode() if isinstance(k, str) else k for k in keys_]
        self.recent = [*self.recent[-1:], keys_]
        self.record(keys_)  # answered before any SET is sent
        pack = codec._packer.pack
        pipe = self.client.pipeline(transaction=False)
        for key, ts, row in zip(keys_, stamps, zip(*features, stamps, strict=True), strict=True):
            if self.ttl_ms is None:
                pipe.set(key, pack(row), px=self.guard_ms)
            else:
                pipe.set(key, pack(row), pxat=-(-ts // 1000) + self.ttl_ms)
        pipe.execute()  # a fault is raised as OnlineStoreError by `materialize_view`
        return len(keys_) + 1, max(stamps)

    def drain(self) -> None:
        pass

    def close(self, broken: bool = False) -> None:
        pass

    def recent_keys(self) -> list[bytes]:
        return [k for ks in self.recent for k in ks]


def _encode_batch(batch: Any, record: tuple[bytes, int]) -> tuple[bytes, int, int, list[bytes]]:
    """RESP for one Arrow batch: the record script listing its keys (`record`: the call's RESP
    and argument count, from `generations.record_command_head`), then a SET per row.
    → (payload, replies, max ts, the keys as RESP bulk strings)."""
    cols = [c.to_pylist() for c in batch.columns]
    heads, args, tails, stamps, features = cols[0], cols[1], cols[2], cols[3], cols[4:]
    if not heads:
        return b"", 0, 0, []
    pack = codec._packer.pack
    head, nargs = record
    out = [b"*%d\r\n" % (nargs + len(args)), head, *args]
    for set_head, tail, row in zip(heads, tails, zip(*features, stamps, strict=True), strict=True):
        v = pack(row)
        out.append(b"%s$%d\r\n%s%s" % (set_head, len(v), v, tail))
    return b"".join(out), len(heads) + 1, max(stamps), args


def _unframe(bulk: bytes) -> bytes:
    """The key inside a RESP bulk string `$<n>\\r\\n<key>\\r\\n` (a key may hold CR LF)."""
    head, _, rest = bulk.partition(b"\r\n")
    return rest[: int(head[1:])]


_Load = TypeVar("_Load", bound=Callable[..., Any])


def _store_faults(load: _Load) -> _Load:
    """`load(view, duck, client, …)` with every Redis fault (`connection.FAULTS`: refused or
    reset connections, timeouts, OOM and other error replies, cluster errors) raised as one
    `OnlineStoreError` naming the operation, the view and the redacted URL."""

    @functools.wraps(load)
    def wrapper(view: FeatureView, duck: Any, client: Any, *args: Any, **kwargs: Any) -> Any:
        url = kwargs.get("redis_url") or client_url(client)
        try:
            with redis_faults("materialize", url, view.name):
                return load(view, duck, client, *args, **kwargs)
        except OnlineStoreError as e:
            if e.view:
                raise
            if type(e) is not OnlineStoreError:  # a specific kind (lease…): keep it, add where
                e.view, e.operation, e.url = view.name, e.operation or "materialize", e.url or url
                raise
            raise OnlineStoreError(
                f"materializing `{view.name}`: {e}",
                operation=e.operation or "materialize",
                view=view.name,
                url=e.url or url,
            ) from None

    return cast(_Load, wrapper)


@_store_faults
def materialize_view(
    view: FeatureView,
    duck: Any,
    client: Any,
    *,
    now: datetime | None = None,
    incremental: bool = False,
    lookback: timedelta | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    progress: Callable[[int, int], None] | None = None,
    redis_url: str = "",
    check_types: bool = True,
    keep_versions: int | None = None,
    wait: float = 0.0,
    lease_ttl: float | None = None,
    unfinished_ttl: float | None = None,
) -> MaterializeResult:
    """Load one view (see the module docstring). `progress(done, total)` is called per chunk.

    `duck` is the offline reader (`offline.OfflineReader`), or a DuckDB session where the view's
    relation resolves.

    With `check_types` (the default) the view's declared column types are first compared with
    the built relation's (`ColumnTypeError` before anything is written); `materialize` checks
    every selected view up front and passes False. `keep_versions`, `wait`, `lease_ttl` and
    `unfinished_ttl` as in `materialize`.
    """
    keep = versions.resolve_keep_versions(keep_versions)
    ttl = resolve_lease_ttl(lease_ttl)
    guard = generations.resolve_unfinished_ttl(unfinished_ttl)
    reader = as_reader(duck)
    if check_types:
        reader.check_relation_types([view])
    lease = Lease.acquire(client, view.name, ttl=ttl, wait=wait, redis_url=redis_url)
    with lease:
        return _load(
            view,
            reader,
            client,
            lease,
            now=now,
            incremental=incremental,
            lookback=lookback,
            chunk_rows=chunk_rows,
            progress=progress,
            redis_url=redis_url,
            keep=keep,
            unfinished_ttl=guard,
        )


def as_reader(source: Any) -> OfflineReader:
    """An `offline.OfflineReader` as is; a DuckDB session wrapped in a `DuckDBReader`."""
    if hasattr(source, "latest_rows"):
        return cast(OfflineReader, source)
    return DuckDBReader(source)


def _rows_from_duckdb(
    view: FeatureView,
    reader: DuckDBReader,
    sql: str,
    chunk_rows: int,
) -> tuple[int, Any]:
    """The DuckDB fast path: key, framing and codec computed in the latest-row query itself."""
    import duckdb

    duck = reader.con
    try:
        duck.execute("DROP TABLE IF EXISTS temp.__skw_rows")
        duck.execute(f"CREATE TEMP TABLE __skw_rows AS {sql}")
        total = duck.execute("SELECT count(*) FROM temp.__skw_rows").fetchall()[0][0]
        rows = duck.sql("SELECT * FROM temp.__skw_rows").to_arrow_reader(chunk_rows)
    except duckdb.Error as e:
        raise SkewlessError(
            f"model `{view.name}`: querying {view.relation_name} in DuckDB failed: {e} — "
            "is the model built (`dbt build`)?"
        ) from None
    return int(total), rows


def _rows_from_engine(
    view: FeatureView,
    reader: OfflineReader,
    now_us: int,
    since: int | None,
    gen: bytes,
    ttl_ms: int | None,
    framed: bool,
    chunk_rows: int,
    guard_ms: int | None = None,
) -> tuple[int, Any, Any]:
    """Any other engine: it selects the latest rows (`reader.latest_rows`, run in the engine);
    an in-memory DuckDB frames the Arrow stream as it arrives (`framed_sql`), so the Redis write
    is the same as from DuckDB. → (total, batches, the framing session to close)."""
    import duckdb
    import pyarrow as pa

    total, batches = reader.latest_rows(
        view, visible_us=visible_bound(view, now_us), since_us=since, chunk_rows=chunk_rows
    )
    first = next(batches, None)
    if first is None:
        return 0, iter(()), None
    stream = pa.RecordBatchReader.from_batches(first.schema, itertools.chain([first], batches))
    frame = duckdb.connect()
    try:
        frame.execute("SET TimeZone='UTC'")
        frame.register("__skw_src", stream)
        sql = framed_sql(view, "__skw_src", gen, ttl_ms, guard_ms)
        if not framed:
            sql = f"SELECT {', '.join(_stored_columns(view, gen, '__skw_ts'))} FROM __skw_src"
        rows = frame.sql(sql).to_arrow_reader(chunk_rows)
    except duckdb.Error as e:
        frame.close()
        raise SkewlessError(
            f"model `{view.name}`: framing the rows {reader.engine} returned failed: {e}"
        ) from None
    return total, rows, frame


def _load(
    view: FeatureView,
    reader: OfflineReader,
    client: Any,
    lease: Lease,
    *,
    now: datetime | None,
    incremental: bool,
    lookback: timedelta | None,
    chunk_rows: int,
    progress: Callable[[int, int], None] | None,
    redis_url: str,
    keep: int,
    unfinished_ttl: float,
) -> MaterializeResult:
    """`materialize_view` under the view's lease."""
    t0 = time.perf_counter()
    fence = lease.value
    now_us = _micros(now) if now is not None else time.time_ns() // 1000
    ttl_us = _micros(view.ttl) if view.ttl is not None else None
    ttl_ms = -(-ttl_us // 1000) if ttl_us is not None else None
    meta_key = keys.meta_key(view.name)
    pointer = keys.pointer_key(view.name, view.version)
    meta = {k.decode(): v.decode() for k, v in client.hgetall(meta_key).items()}
    current = client.get(pointer)
    mode = "full"
    since = now_us - ttl_us if ttl_us is not None else None
    # the watermark is the view's latest load's: only valid for the generation that load wrote
    if (
        incremental
        and current is not None
        and meta.get("watermark")
        and meta.get("generation") == current.decode()
    ):
        mode = "incremental"
        watermark = int(meta["watermark"]) - (_micros(lookback) if lookback else 0)
        since = watermark if since is None else max(since, watermark)

    # what a dead or fenced-out loader left unfinished goes first (we hold the lease)
    discarded = generations.discard_unfinished(client, fence, view.name)
    if mode == "full":
        # a new generation, registered before anything is written so a crash leaves it findable
        gen = generations.register(client, fence, view.name, view.version)
    else:
        gen = current
    # the second guard: a new generation expires by itself until `persist` (incremental keys go
    # into the served generation and never carry it)
    guard_ms = int(unfinished_ttl * 1000) if mode == "full" else None
    key_guard = guard_ms if ttl_ms is None else None
    cluster = type(client).__name__ == "RedisCluster"
    frame = None
    if isinstance(reader, DuckDBReader):
        sql = latest_rows_sql(view, now_us, since, gen, ttl_ms, not cluster, key_guard)
        total, rows = _rows_from_duckdb(view, reader, sql, chunk_rows)
    else:
        total, rows, frame = _rows_from_engine(
            view, reader, now_us, since, gen, ttl_ms, not cluster, chunk_rows, key_guard
        )
    try:
        return _write(
            view, reader, client, lease, rows, total, gen, current, meta, mode, discarded,
            now_us=now_us, ttl_ms=ttl_ms, progress=progress, redis_url=redis_url, keep=keep,
            cluster=cluster, t0=t0, guard_ms=guard_ms,
        )  # fmt: skip
    finally:
        if frame is not None:
            frame.close()


def _write(
    view: FeatureView,
    reader: OfflineReader,
    client: Any,
    lease: Lease,
    rows: Any,
    total: int,
    gen: bytes,
    current: bytes | None,
    meta: dict[str, str],
    mode: str,
    discarded: list[str],
    *,
    now_us: int,
    ttl_ms: int | None,
    progress: Callable[[int, int], None] | None,
    redis_url: str,
    keep: int,
    cluster: bool,
    t0: float,
    guard_ms: int | None,
) -> MaterializeResult:
    """Write the framed rows of one load, flip and clean up (`_load`'s second half). With
    `guard_ms` (a full load), the generation's keys carry the unfinished-generation guard until
    `generations.persist` (see generations.py)."""
    fence = lease.value
    t_query = time.perf_counter()
    key_guard = guard_ms if ttl_ms is None else None
    list_ttl = generations.key_list_ttl(guard_ms, ttl_ms)

    def record(keys_: list[bytes]) -> None:
        generations.record(
            client, fence, view.name, gen, view.version, lease.ttl_ms, keys_, list_ttl
        )

    writer: _Writer | _ClusterWriter = (
        _ClusterWriter(client, redis_url, ttl_ms, record, key_guard)
        if cluster
        else _Writer(client, redis_url, view.name)
    )
    head = generations.record_command_head(
        view.name, gen, view.version, fence, lease.ttl_ms, list_ttl
    )
    written = 0
    max_ts = int(meta["watermark"]) if mode == "incremental" else None
    try:
        try:
            for batch in rows:
                if lease.lost:  # the renewal thread found it gone: stop before the next buffer
                    raise generations.lease_lost(view.name)
                if cluster:
                    replies, batch_max = writer.write_batch(batch)  # type: ignore[union-attr]
                else:
                    payload, replies, batch_max, args = _encode_batch(batch, head)
                    if replies:
                        writer.send(payload, replies, args)  # type: ignore[union-attr]
                if not replies:
                    continue
                written += replies - 1
                max_ts = batch_max if max_ts is None else max(max_ts, batch_max)
                if progress is not None:
                    progress(written, total)
            writer.drain()
        except BaseException:
            writer.close(broken=True)
            raise
        writer.close()
    except LeaseLostError:
        if mode == "full":  # never flipped in, so never served: ours to delete, no fence
            generations.discard_own(client, view.name, gen, writer.recent_keys())
        raise
    if mode == "full":
        seal(client, lease, view, gen, ttl_ms, guard_ms or 0, list_ttl, writer.recent_keys())
    if isinstance(reader, DuckDBReader):
        reader.con.execute("DROP TABLE IF EXISTS temp.__skw_rows")

    info = {
        "version": view.version,
        "generation": gen.decode(),
        "materialized_at": str(time.time_ns() // 1000),
        "as_of": str(now_us),  # the `now` rows were selected against (consistency's ttl bound)
        "watermark": "" if max_ts is None else str(max_ts),
        "rows": str(written if mode == "full" else int(meta.get("rows") or 0) + written),
        "mode": mode,
        "keep_versions": str(keep),
    }
    deleted: list[str] = list(discarded)
    live: list[str] = []
    retired: list[str] = []
    if mode == "full":
        t_flip, (gone, live, retired) = flip_and_clean(
            client, fence, view, gen, current, keep, info
        )
        deleted += gone
    else:
        generations.set_meta(client, fence, view.name, info)
        t_flip = time.perf_counter()
    t_end = time.perf_counter()
    return MaterializeResult(
        view=view.name,
        version=view.version,
        generation=gen.decode(),
        mode=mode,
        rows=written,
        watermark=None if max_ts is None else codec.decode_timestamp(max_ts),
        query_seconds=t_query - t0,
        write_seconds=t_flip - t_query,
        cleanup_seconds=t_end - t_flip,
        deleted_generations=deleted,
        live_versions=live,
        retired_versions=retired,
    )


def seal(
    client: Any,
    lease: Lease,
    view: FeatureView,
    gen: bytes,
    ttl_ms: int | None,
    guard_ms: int,
    list_ttl: int,
    recent: Sequence[bytes] = (),
) -> None:
    """A full load's generation, once every data key is written and acknowledged: its
    sentinels written and the guard's expiry cleared (`generations.complete`, `persist`). A lost
    lease or a vanished key deletes it (never flipped in, so never served; `recent`: the keys of
    the last buffers, see `generations.discard_own`) and raises."""
    fence = lease.value
    try:
        generations.complete(
            client, fence, view.name, gen, view.version, lease.ttl_ms, guard_ms, list_ttl
        )
        generations.persist(client, fence, view.name, gen, every_key=ttl_ms is None)
    except (LeaseLostError, GuardExpiredError):
        generations.discard_own(client, view.name, gen, recent)
        raise


def flip_and_clean(
    client: Any,
    fence: bytes,
    view: FeatureView,
    gen: bytes,
    current: bytes | None,
    keep: int,
    info: Mapping[str, str],
) -> tuple[float, tuple[list[str], list[str], list[str]]]:
    """Flip a sealed generation in (`info`: the view's meta), then apply the keep-versions
    policy: keep this generation, the one this version served before (`current`, the grace) and
    the served generation of the `keep` - 1 other newest versions; retire the rest, then delete
    every other generation. → (the flip's `perf_counter`, (deleted generations, live versions,
    retired versions))."""
    try:
        generations.flip(client, fence, view.name, gen, view.version, info)
    except LeaseLostError:
        generations.discard_own(client, view.name, gen)
        raise
    t_flip = time.perf_counter()
    serving = versions.live_versions(client, view.name)  # newest first: this load's first
    kept, beyond = serving[:keep], serving[keep:]
    needed = {gen, *(lv.generation.encode() for lv in kept)}
    if current is not None:
        needed.add(current)  # grace: this version's previous generation
    live = [lv.version for lv in kept]
    retired = [lv.version for lv in beyond]
    # recorded before any pointer goes, so a reader never sees "never materialized" for it
    versions.record_retired(client, view.name, retired)
    deleted: list[str] = []
    try:
        for old in client.lrange(keys.gens_key(view.name), 0, -1):
            if old not in needed:
                generations.delete_generation(client, fence, view.name, old)
                deleted.append(old.decode())
    except LeaseLostError:
        # flipped in and served; the next holder of the lease finishes the cleanup
        _log.warning(
            "skewless: `%s` lost its loader lease during the cleanup; the next load of the "
            "view finishes it",
            view.name,
        )
    return t_flip, (deleted, live, retired)


def selected_windows(registry: Registry, select: Sequence[str] | None) -> list[WindowServing]:
    """The window views a load asks for (default: all, by name), each checked servable."""
    names = [n for n in select if n in registry.windows] if select else sorted(registry.windows)
    return [WindowServing(registry.windows[n]) for n in names]


def selected_views(registry: Registry, select: Sequence[str] | None) -> list[FeatureView]:
    """The views a load asks for (default: all, by name), each checked servable first: its key
    and feature types have an online form. Window views named in `select` are left to
    `selected_windows`.

    Raises:
        UnknownFeatureError: a selected view does not exist.
        DefinitionError: a key or feature type cannot be served.
    """
    if select:
        select = [n for n in select if n not in registry.windows]
        if not select:
            return []
    views = [registry.view(n) for n in (list(select) if select else sorted(registry.views))]
    for v in views:
        for c, t in zip(v.entity, v.entity_types, strict=True):
            keys.canonical_key_kind(v.name, c, t)
        for f in v.features:
            codec.column_kind(v.name, f.name, f.data_type)
    return views


def materialize(
    registry: Registry,
    client: Any,
    duckdb_path: str | Path | OfflineReader,
    *,
    select: Sequence[str] | None = None,
    now: datetime | None = None,
    incremental: bool = False,
    lookback: timedelta | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    progress: Callable[[FeatureView, int, int], None] | None = None,
    redis_url: str = "",
    keep_versions: int | None = None,
    wait: float = 0.0,
    lease_ttl: float | None = None,
    unfinished_ttl: float | None = None,
) -> list[MaterializeResult]:
    """Materialize the selected feature views and window views (default: all) from the offline
    store into Redis (window views: `materialize_window`, always a full load).

    Args:
        registry: the feature views (from the dbt manifest).
        client: a redis-py client (see `connection.connect`).
        duckdb_path: the DuckDB database dbt built (see `duckdb_path_from_profile`), or any
            engine's reader (`offline.reader_from_profile`: DuckDB, PostgreSQL), which the
            caller closes.
        select: view names to load; None loads every view.
        now: the time `ttl` is measured from (default: now).
        incremental: write only rows at or after each view's stored watermark.
        lookback: with `incremental`, also rewrite rows this far before the watermark.
        chunk_rows: rows per Arrow batch and per Redis write buffer.
        progress: called as `progress(view, rows_done, rows_total)` after each chunk.
        redis_url: the redacted URL, for messages.
        keep_versions: definition versions kept live per view by a full load, this one
            included (>= 1); None reads `SKEWLESS_KEEP_VERSIONS`, default 3. Older versions are
            retired: their keys deleted, their readers told which versions are live.
        wait: seconds to wait, per view, for another loader of the view to finish (its lease to
            be released or expire); 0 fails at once with `LeaseHeldError`.
        lease_ttl: seconds the view's lease lives without renewal (how long a loader that died
            blocks the next one; a live loader renews it every third of that); None reads
            `SKEWLESS_LEASE_TTL`, default 30.
        unfinished_ttl: seconds an unfinished generation outlives a loader that died (keys of a
            view without a ttl, and sentinels, expire that long after they are written, until
            the load's flip); a load must flip within it. None reads
            `SKEWLESS_UNFINISHED_TTL`, default 86400 (24 h).

    Raises:
        UnknownFeatureError: a selected view does not exist.
        DefinitionError: a column type cannot be served.
        ColumnTypeError: a declared `data_type` differs from the type dbt built (every
            mismatch of every selected view, in one line), raised before anything is written.
        ManifestError: the DuckDB file cannot be opened, or a relation is not built.
        OnlineStoreError: Redis rejected a write.
        SkewlessError: `keep_versions` (or `SKEWLESS_KEEP_VERSIONS`) is not an integer >= 1,
            or `lease_ttl` (`SKEWLESS_LEASE_TTL`) not a number >= 0.1.
        LeaseHeldError: another loader is loading a selected view (after `wait` seconds),
            naming it (host, pid, since when); views before it were loaded.
        LeaseLostError: this loader's lease expired mid-load (a pause past `lease_ttl`) and
            another loader took over: nothing of it was flipped in or deleted.
        GuardExpiredError: keys of this load vanished before its flip (it outlived
            `unfinished_ttl`, or Redis evicted them): nothing was flipped.
        OnlineStoreError: any Redis fault (connection refused or reset, timeout, OOM, ACL,
            cluster down), naming the view and the redacted URL; what was written is cleaned
            up by the next full load.
    """
    keep = versions.resolve_keep_versions(keep_versions)
    lease_seconds = resolve_lease_ttl(lease_ttl)
    guard = generations.resolve_unfinished_ttl(unfinished_ttl)
    views = selected_views(registry, select)
    windows = selected_windows(registry, select)
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be >= 1")
    owned = not hasattr(duckdb_path, "latest_rows")
    duck = (
        DuckDBReader.open(cast("str | Path", duckdb_path), views)
        if owned
        else as_reader(duckdb_path)
    )
    results = []
    try:
        # every view, before the first byte is written
        duck.check_relation_types([*views, *(w.checked_view for w in windows)])
        for v in views:
            cb = None
            if progress is not None:
                cb = (lambda view: lambda done, total: progress(view, done, total))(v)
            results.append(
                materialize_view(
                    v,
                    duck,
                    client,
                    now=now,
                    incremental=incremental,
                    lookback=lookback,
                    chunk_rows=chunk_rows,
                    progress=cb,
                    redis_url=redis_url,
                    check_types=False,
                    keep_versions=keep,
                    wait=wait,
                    lease_ttl=lease_seconds,
                    unfinished_ttl=guard,
                )
            )
        for w in windows:
            cb = None
            if progress is not None:
                cb = (lambda view: lambda done, total: progress(view, done, total))(w.feature_view)
            result = materialize_window(
                w, duck, client, now=now, chunk_rows=chunk_rows, progress=cb,
                redis_url=redis_url, keep_versions=keep, wait=wait,
                lease_ttl=lease_seconds, unfinished_ttl=guard,
            )  # fmt: skip
            results.append(result)
    finally:
        if owned:
            duck.close()
    return results


@_store_faults
def materialize_window(
    serving: WindowServing,
    duck: Any,
    client: Any,
    *,
    now: datetime | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    progress: Callable[[int, int], None] | None = None,
    redis_url: str = "",
    keep_versions: int | None = None,
    wait: float = 0.0,
    lease_ttl: float | None = None,
    unfinished_ttl: float | None = None,
) -> MaterializeResult:
    """Load one window view (`online.windows`): a full load at `now` (default: now), under the
    view's lease, into a new generation flipped in when complete. A progress unit is an entity.

    Raises:
        OnlineStoreError: as `materialize_view`.
    """
    keep = versions.resolve_keep_versions(keep_versions)
    ttl = resolve_lease_ttl(lease_ttl)
    guard = generations.resolve_unfinished_ttl(unfinished_ttl)
    reader = as_reader(duck)
    now_us = _micros(now) if now is not None else time.time_ns() // 1000
    lease = Lease.acquire(client, serving.name, ttl=ttl, wait=wait, redis_url=redis_url)
    with lease:
        from skewless.online import windows as _windows

        return _windows.load(  # type: ignore[no-any-return]
            serving, reader, client, lease, now_us=now_us, chunk_rows=chunk_rows,
            progress=progress, redis_url=redis_url, keep=keep, unfinished_ttl=guard,
        )  # fmt: skip
