"""`skewless materialize`: load the latest row per entity of each feature view into Redis.

Per view:

1. **Generation**: a full load takes a NEW generation id (`INCR skw:genseq:<view>`), registered
   in `skw:gens:<view>` (and `skw:genver:<view>` → version) before anything is written.
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
   plus one `RPUSH skw:gen:<view>:<gen>:keys <keys…>` recording the keys for cleanup, sent with
   `send_packed_command`. While Redis executes a buffer the next one is encoded (one in flight);
   the replies — all one-line — are read from the socket in bulk and counted, not parsed one by
   one. redis-py's pipeline API costs ≈20 µs a row on this machine; this path ≈1 µs of Python
   CPU a row (see bench/results/materialize.md).
4. **Flip**: only when every buffer is acknowledged, one MULTI sets the pointer
   `skw:ptr:<view>:<version>` to the new generation and updates `skw:meta:<view>`. A loader
   killed before this leaves the previous generation served; its partial generation stays in
   `skw:gens:<view>` and is deleted by the next successful run.
5. **Cleanup**: every generation of the view except the new one and the one served just before
   (kept as grace for readers that fetched the old pointer a moment ago) is deleted: its data
   keys are read from its key list and UNLINKed in chunks by a server-side script (no keys
   travel to the client, no SCAN), then the list and — if it still points there — its version's
   pointer are removed.

`incremental=True` writes into the generation currently served (no flip) only the rows whose
timestamp is >= the stored watermark (`>=`: a correction with the same timestamp as the stored
row is applied, not dropped); `lookback` widens that window for late corrections of older rows.
A view never materialized at its current version falls back to a full load. Incremental writes
are per-key atomic but not a snapshot across entities (that is what a full load is for).

Before anything is written (for every selected view, before the first one is loaded), each
declared `data_type` is compared with the type DuckDB reports for the built column
(`offline.duckdb.check_relation_types`); a mismatch — a HUGEINT `sum()` declared `bigint`, a DOUBLE
declared `bigint` — is a `ColumnTypeError` naming model, column, both types and the fix.

Redis Cluster: data keys go through redis-py's cluster pipeline (grouped by node; slower), the
flip is HSET meta then SET pointer (no MULTI across slots; the SET is the commit point), and old
generations are deleted from the client. Tested against a three-node cluster.

One loader per view at a time is assumed (a concurrent full load of the same view could delete
a generation another loader is still writing).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from skewless.definitions import FeatureView
from skewless.definitions.registry import Registry
from skewless.errors import DefinitionError, OnlineStoreError, SkewlessError
from skewless.offline.duckdb import (
    _quote,
    check_relation_types,
    duckdb_path_from_profile,
    open_duckdb,
)
from skewless.online import codec, keys

__all__ = [
    "MaterializeResult",
    "duckdb_path_from_profile",
    "materialize",
    "materialize_view",
]

DEFAULT_CHUNK_ROWS = 5000
_DELETE_CHUNK = 5000
_CAD_SCRIPT = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
)

# Standalone Redis only (touches keys it is not given, which Redis Cluster forbids).
_DELETE_SCRIPT = """
local ks = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #ks > 0 then redis.call('UNLINK', unpack(ks)) end
redis.call('LTRIM', KEYS[1], #ks, -1)
return #ks
"""

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
        }


# ---------------------------------------------------------------------------------------------
# Where the DuckDB file is


# ---------------------------------------------------------------------------------------------
# SQL


def _ts_literal(micros: int) -> str:
    ts = codec.decode_timestamp(micros)
    return f"TIMESTAMPTZ '{ts.strftime('%Y-%m-%d %H:%M:%S.%f')}+00'"


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
) -> str:
    """The DuckDB query selecting, per entity, the latest row in `[since, now]`, ready to send.

    Columns: `__skw_set` (the RESP head of `SET <key>` as BLOB), `__skw_arg` (the key as a RESP
    bulk string, for the generation's key list), `__skw_px` (the RESP tail: `PXAT <ts + ttl>`),
    `__skw_ts` (epoch micros), then each feature in its stored form (`codec.sql_select`). Key
    and framing are computed vectorised in DuckDB; Python only packs the values. With
    `framed=False` (Redis Cluster, written through redis-py's cluster pipeline) the columns are
    `__skw_key`, `__skw_ts`, then the features.
    """
    ts = f"CAST({_quote(view.timestamp)} AS TIMESTAMPTZ)"
    inner = [
        f"{keys.sql_data_key_expression(view, generation, _quote)} AS __skw_key",
        f"epoch_us({ts}) AS __skw_ts",
    ]
    for f in view.features:
        kind = codec.column_kind(view.name, f.name, f.data_type)
        inner.append(f"{codec.sql_select(kind, _quote(f.name))} AS {_quote(f.name)}")
    where = [f"{_quote(c)} IS NOT NULL" for c in view.entity]
    # a row is servable once its batch lag has passed: `timestamp + available_after <= now`,
    # the bound the point-in-time join applies, so serving never sees what training could not
    visible_us = now_us - _micros(view.available_after or timedelta(0))
    where.append(f"{ts} <= {_ts_literal(visible_us)}")
    if since_us is not None:
        where.append(f"{ts} >= {_ts_literal(since_us)}")
    partition = ", ".join(_quote(c) for c in view.entity)
    if not view.relation_name:
        raise DefinitionError(
            f"model `{view.name}` has no relation_name in the manifest (ephemeral?); materialize "
            "it as a table or view"
        )
    crlf = "(chr(13) || chr(10))"
    bulk_key = f"'$' || CAST(strlen(__skw_key) AS VARCHAR) || {crlf} || __skw_key || {crlf}"
    head = "'*5'" if ttl_ms is not None else "'*3'"
    set_head = f"{head} || {crlf} || '$3' || {crlf} || 'SET' || {crlf} || {bulk_key}"
    if ttl_ms is not None:
        pxat = f"CAST((__skw_ts + 999) // 1000 + {ttl_ms} AS VARCHAR)"
        px_tail = (
            f"{crlf} || '$4' || {crlf} || 'PXAT' || {crlf} || '$' || "
            f"CAST(strlen({pxat}) AS VARCHAR) || {crlf} || {pxat} || {crlf}"
        )
    else:
        px_tail = crlf
    features = ", ".join(_quote(f.name) for f in view.features)
    # Several rows of one entity at the same timestamp: the one with the greatest feature values
    # (declared order, NULL lowest) wins — the tie rule of the point-in-time join macro.
    order = ", ".join([f"{ts} DESC", *(f"{_quote(f.name)} DESC NULLS LAST" for f in view.features)])
    if not framed:
        return (
            f"SELECT {', '.join(inner)}\nFROM {view.relation_name}\nWHERE {' AND '.join(where)}\n"
            f"QUALIFY row_number() OVER (PARTITION BY {partition} ORDER BY {order}) = 1"
        )
    return (
        f"WITH latest AS (\nSELECT {', '.join(inner)}\nFROM {view.relation_name}\n"
        f"WHERE {' AND '.join(where)}\n"
        f"QUALIFY row_number() OVER (PARTITION BY {partition} ORDER BY {order}) = 1)\n"
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

    def __init__(self, client: Any, redis_url: str):
        self.client = client
        self.redis_url = redis_url
        self.pool = client.connection_pool
        self.conn = self.pool.get_connection()
        self.pending = 0

    def send(self, payload: bytes, replies: int) -> None:
        self.drain()
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
        if errors:
            raise OnlineStoreError(
                f"Redis at {self.redis_url} rejected a write: {errors[0][1:].decode(errors='replace')}"
            )

    def close(self, broken: bool = False) -> None:
        if broken:
            self.conn.disconnect()
        self.pool.release(self.conn)


class _ClusterWriter:
    """Redis Cluster: writes each batch through redis-py's cluster pipeline (grouped by node).

    Slower than the bulk path (redis-py encodes every command), but each data key goes to the
    node owning its slot.
    """

    def __init__(self, client: Any, redis_url: str, ttl_ms: int | None):
        self.client = client
        self.redis_url = redis_url
        self.ttl_ms = ttl_ms

    def write_batch(self, batch: Any, list_key: bytes) -> tuple[int, int]:
        cols = [c.to_pylist() for c in batch.columns]
        keys_, stamps, features = cols[0], cols[1], cols[2:]
        if not keys_:
            return 0, 0
        pack = codec._packer.pack
        pipe = self.client.pipeline(transaction=False)
        for key, ts, row in zip(keys_, stamps, zip(*features, stamps, strict=True), strict=True):
            if self.ttl_ms is None:
                pipe.set(key, pack(row))
            else:
                pipe.set(key, pack(row), pxat=-(-ts // 1000) + self.ttl_ms)
        pipe.rpush(list_key, *keys_)
        try:
            pipe.execute()
        except Exception as e:
            raise OnlineStoreError(
                f"Redis Cluster at {self.redis_url} rejected a write: {type(e).__name__}"
            ) from None
        return len(keys_) + 1, max(stamps)

    def drain(self) -> None:
        pass

    def close(self, broken: bool = False) -> None:
        pass


def _encode_batch(batch: Any, list_key: bytes) -> tuple[bytes, int, int]:
    """RESP for one Arrow batch: SET per row plus one RPUSH of its keys. → (payload, replies, max ts)."""
    cols = [c.to_pylist() for c in batch.columns]
    heads, args, tails, stamps, features = cols[0], cols[1], cols[2], cols[3], cols[4:]
    if not heads:
        return b"", 0, 0
    pack = codec._packer.pack
    out = []
    for head, tail, row in zip(heads, tails, zip(*features, stamps, strict=True), strict=True):
        v = pack(row)
        out.append(b"%s$%d\r\n%s%s" % (head, len(v), v, tail))
    out.append(b"*%d\r\n$5\r\nRPUSH\r\n$%d\r\n%s\r\n" % (len(args) + 2, len(list_key), list_key))
    out += args
    return b"".join(out), len(heads) + 1, max(stamps)


def _delete_generation(client: Any, view: str, gen: bytes) -> None:
    """Remove one generation: its data keys (from its key list, chunked), the list, its pointer."""
    list_key = keys.gen_keys_key(view, gen)
    cluster = type(client).__name__ == "RedisCluster"
    if cluster:
        # the data keys live in other slots than the list: delete them from the client
        while True:
            chunk = client.lrange(list_key, 0, _DELETE_CHUNK - 1)
            if not chunk:
                break
            pipe = client.pipeline(transaction=False)
            for k in chunk:
                pipe.unlink(k)
            pipe.execute()
            client.ltrim(list_key, len(chunk), -1)
    else:
        # server side, a chunk per call: the keys never travel to the client and back
        while client.eval(_DELETE_SCRIPT, 1, list_key, _DELETE_CHUNK):
            pass
    client.delete(list_key)
    version = client.hget(keys.genver_key(view), gen)
    if version is not None:
        client.eval(_CAD_SCRIPT, 1, keys.pointer_key(view, version.decode()), gen)
    client.hdel(keys.genver_key(view), gen)
    client.lrem(keys.gens_key(view), 0, gen)


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
) -> MaterializeResult:
    """Load one view (see the module docstring). `progress(done, total)` is called per chunk.

    With `check_types` (the default) the view's declared column types are first compared with
    the built relation's (`ColumnTypeError` before anything is written); `materialize` checks
    every selected view up front and passes False.
    """
    import duckdb

    if check_types:
        check_relation_types(duck, [view])
    t0 = time.perf_counter()
    now_us = _micros(now) if now is not None else time.time_ns() // 1000
    ttl_us = _micros(view.ttl) if view.ttl is not None else None
    ttl_ms = -(-ttl_us // 1000) if ttl_us is not None else None
    meta_key = keys.meta_key(view.name)
    pointer = keys.pointer_key(view.name, view.version)
    meta = {k.decode(): v.decode() for k, v in client.hgetall(meta_key).items()}
    current = client.get(pointer)
    mode = "full"
    since = now_us - ttl_us if ttl_us is not None else None
    if incremental and current is not None and meta.get("watermark"):
        mode = "incremental"
        watermark = int(meta["watermark"]) - (_micros(lookback) if lookback else 0)
        since = watermark if since is None else max(since, watermark)

    if mode == "full":
        # a new generation, registered before anything is written so a crash leaves it findable
        gen = b"%d" % client.incr(keys.genseq_key(view.name))
        client.rpush(keys.gens_key(view.name), gen)
        client.hset(keys.genver_key(view.name), gen, view.version)
    else:
        gen = current
    list_key = keys.gen_keys_key(view.name, gen)
    cluster = type(client).__name__ == "RedisCluster"
    sql = latest_rows_sql(view, now_us, since, gen, ttl_ms, framed=not cluster)
    try:
        duck.execute("DROP TABLE IF EXISTS temp.__skw_rows")
        duck.execute(f"CREATE TEMP TABLE __skw_rows AS {sql}")
        total = duck.execute("SELECT count(*) FROM temp.__skw_rows").fetchall()[0][0]
        reader = duck.sql("SELECT * FROM temp.__skw_rows").to_arrow_reader(chunk_rows)
    except duckdb.Error as e:
        raise SkewlessError(
            f"model `{view.name}`: querying {view.relation_name} in DuckDB failed: {e} — "
            "is the model built (`dbt build`)?"
        ) from None
    t_query = time.perf_counter()

    writer: _Writer | _ClusterWriter = (
        _ClusterWriter(client, redis_url, ttl_ms) if cluster else _Writer(client, redis_url)
    )
    written = 0
    max_ts = int(meta["watermark"]) if mode == "incremental" else None
    try:
        for batch in reader:
            if cluster:
                replies, batch_max = writer.write_batch(batch, list_key)  # type: ignore[union-attr]
            else:
                payload, replies, batch_max = _encode_batch(batch, list_key)
                if replies:
                    writer.send(payload, replies)  # type: ignore[union-attr]
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
    duck.execute("DROP TABLE IF EXISTS temp.__skw_rows")

    previous = meta.get("generation")
    info = {
        "version": view.version,
        "generation": gen.decode(),
        "materialized_at": str(time.time_ns() // 1000),
        "as_of": str(now_us),  # the `now` rows were selected against (consistency's ttl bound)
        "watermark": "" if max_ts is None else str(max_ts),
        "rows": str(written if mode == "full" else int(meta.get("rows") or 0) + written),
        "mode": mode,
    }
    deleted: list[str] = []
    if mode == "full":
        if cluster:
            # two slots: no MULTI; the pointer SET is the commit point, so it goes last
            client.hset(meta_key, mapping=info)
            client.set(pointer, gen)
        else:
            tx = client.pipeline(transaction=True)
            tx.set(pointer, gen)
            tx.hset(meta_key, mapping=info)
            tx.execute()
        t_flip = time.perf_counter()
        keep = {gen, previous.encode() if previous else b""}
        for old in client.lrange(keys.gens_key(view.name), 0, -1):
            if old not in keep:
                _delete_generation(client, view.name, old)
                deleted.append(old.decode())
    else:
        client.hset(meta_key, mapping=info)
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
    )


def materialize(
    registry: Registry,
    client: Any,
    duckdb_path: str | Path,
    *,
    select: Sequence[str] | None = None,
    now: datetime | None = None,
    incremental: bool = False,
    lookback: timedelta | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    progress: Callable[[FeatureView, int, int], None] | None = None,
    redis_url: str = "",
) -> list[MaterializeResult]:
    """Materialize the selected feature views (default: all) from a DuckDB file into Redis.

    Args:
        registry: the feature views (from the dbt manifest).
        client: a redis-py client (see `connection.connect`).
        duckdb_path: the DuckDB database dbt built (see `duckdb_path_from_profile`).
        select: view names to load; None loads every view.
        now: the time `ttl` is measured from (default: now).
        incremental: write only rows at or after each view's stored watermark.
        lookback: with `incremental`, also rewrite rows this far before the watermark.
        chunk_rows: rows per Arrow batch and per Redis write buffer.
        progress: called as `progress(view, rows_done, rows_total)` after each chunk.
        redis_url: the redacted URL, for messages.

    Raises:
        UnknownFeatureError: a selected view does not exist.
        DefinitionError: a column type cannot be served.
        ColumnTypeError: a declared `data_type` differs from the type dbt built (every
            mismatch of every selected view, in one line), raised before anything is written.
        ManifestError: the DuckDB file cannot be opened.
        OnlineStoreError: Redis rejected a write.
    """
    names = list(select) if select else sorted(registry.views)
    views = [registry.view(n) for n in names]
    for v in views:
        for c, t in zip(v.entity, v.entity_types, strict=True):
            keys.canonical_key_kind(v.name, c, t)
        for f in v.features:
            codec.column_kind(v.name, f.name, f.data_type)
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be >= 1")
    duck = open_duckdb(duckdb_path, views)
    results = []
    try:
        check_relation_types(duck, views)  # every view, before the first byte is written
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
                )
            )
    finally:
        duck.close()
    return results
