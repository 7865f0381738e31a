"""`skewless materialize` on Spark: the executors write Redis, the driver flips.

results = materialize(registry, client, reader, url="redis://…", write="auto")

`reader` is an `offline.spark.SparkReader` (a dbt-spark `session` target). `write` chooses where
the Redis writes run:

- `driver`: the generic engine path of `online.materialize` — Spark selects the latest rows,
  they stream to this process as Arrow (a partition at a time) and are written from here.
- `executors`: one Spark job selects the latest rows and writes them from the executors, one
  task per partition (`partitions`, default the cluster's `defaultParallelism`; the source is
  repartitioned by the entity key, so the window and the write share one shuffle). Each task
  frames its rows exactly as the driver path does (`online.materialize.framed_sql`: the key of
  `keys.py`, the stored forms of `codec.py`, in an in-memory DuckDB) and writes them on one
  connection with the loader's own writer (`_Writer`: each buffer's record script — RPUSH of
  its keys onto the generation's key list — pipelined *before* its SETs, so Redis lists every
  key before it is written; `_ClusterWriter` on a Redis Cluster, each record answered before
  its SETs). Only a small summary per task (rows, greatest timestamp) returns to the driver.
- `auto` (default): `executors` when the session's master is a cluster (`spark://…`, `yarn`,
  `k8s://…`), `driver` for `local[…]`.

The driver does what the loader does around the writes, with the same code (`lease.Lease`,
`generations`, `versions`): it takes the view's lease (the executors' record scripts are fenced
by it and renew it), deletes what a dead loader left, registers a new generation, runs the job,
and only when every task succeeded writes the sentinels, clears the unfinished-generation guard
(`generations.persist`), flips the pointer and deletes old generations (the keep-versions policy
of `online.materialize._write`). A task that fails is retried by Spark: the retry rewrites the
same keys (same generation, same rows), the failed attempt's keys are listed already. A job that
fails (a task out of retries, a lost executor, a killed driver) never flips: the previous
generation stays served, and the unfinished one — every key it wrote listed — is deleted at the
start of the view's next load. The failure is an `OnlineStoreError` naming the view, the target
and the task's own error.

An incremental load (`incremental=True`) writes into the served generation from the driver
(the delta is small; `driver` path), whatever `write` says.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from skewless.definitions import FeatureView
from skewless.definitions.registry import Registry
from skewless.errors import LeaseLostError, OnlineStoreError, SkewlessError
from skewless.offline import visible_bound
from skewless.online import codec, generations, keys, versions
from skewless.online.connection import redact
from skewless.online.lease import Lease, resolve_lease_ttl
from skewless.online.materialize import (
    DEFAULT_CHUNK_ROWS,
    MaterializeResult,
    _micros,
    _store_faults,
    flip_and_clean,
    materialize_window,
    seal,
    selected_views,
    selected_windows,
)

__all__ = ["WRITE_MODES", "materialize", "materialize_view", "resolve_write"]

#: Where `materialize` runs the Redis writes (see the module docstring).
WRITE_MODES = ("auto", "driver", "executors")
#: The environment variable the CLI's `--spark-write` reads.
WRITE_ENV = "SKEWLESS_SPARK_WRITE"

_SUMMARY = "partition int, attempt int, rows long, max_ts long"


def resolve_write(write: str | None, reader: Any) -> str:
    """`driver` or `executors` for `write` (`auto`/None: executors on a cluster master).

    Raises:
        SkewlessError: `write` is not one of `WRITE_MODES`.
    """
    chosen = (write or os.environ.get(WRITE_ENV) or "auto").strip().lower()
    if chosen not in WRITE_MODES:
        raise SkewlessError(
            f"spark write mode {write!r}: use one of {', '.join(WRITE_MODES)} "
            f"(--spark-write / {WRITE_ENV})"
        )
    if chosen == "auto":
        return "executors" if getattr(reader, "is_cluster", False) else "driver"
    return chosen


@dataclass(frozen=True)
class _Fault:
    """Test hook: the task of `partition` raises after sending `after` buffers, on its first
    `attempts` attempts (a failed task; with attempts past Spark's retries, a failed job)."""

    partition: int
    after: int
    attempts: int


@dataclass(frozen=True)
class PartitionWriter:
    """The executors' side of a load (pickled into each task): frame one partition's latest
    rows and write them to Redis on one connection, each buffer's keys recorded first. Yields
    one summary row (partition, attempt, rows, greatest timestamp)."""

    view: FeatureView
    generation: bytes
    fence: bytes
    lease_ttl_ms: int
    ttl_ms: int | None
    key_guard_ms: int | None
    list_ttl_ms: int
    url: str
    chunk_rows: int
    cluster: bool
    fault: _Fault | None = None

    def __call__(self, batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa
        from pyspark import TaskContext

        from skewless.online.connection import redis_faults

        ctx = TaskContext.get()
        part, attempt = (ctx.partitionId(), ctx.attemptNumber()) if ctx else (0, 0)
        written, max_ts = 0, None
        first = next(batches, None)
        if first is not None:
            shown = redact(self.url)
            with redis_faults("materialize", shown, self.view.name):
                written, max_ts = self._write(
                    itertools.chain([first], batches), first.schema, part, attempt, shown
                )
        yield pa.RecordBatch.from_pydict(
            {"partition": [part], "attempt": [attempt], "rows": [written], "max_ts": [max_ts]},
            schema=pa.schema(
                [
                    ("partition", pa.int32()),
                    ("attempt", pa.int32()),
                    ("rows", pa.int64()),
                    ("max_ts", pa.int64()),
                ]
            ),
        )

    def _write(
        self, batches: Iterator[Any], schema: Any, part: int, attempt: int, shown: str
    ) -> tuple[int, int | None]:
        import duckdb
        import pyarrow as pa

        from skewless.online.connection import connect
        from skewless.online.materialize import (
            _ClusterWriter,
            _encode_batch,
            _stored_columns,
            _Writer,
            framed_sql,
        )

        view, gen = self.view, self.generation
        client = connect(self.url)
        frame = duckdb.connect()
        writer: Any = None
        try:
            frame.execute("SET TimeZone='UTC'")
            frame.register("__skw_src", pa.RecordBatchReader.from_batches(schema, batches))
            if self.cluster:
                cols = ", ".join(_stored_columns(view, gen, "__skw_ts"))
                sql = f"SELECT {cols} FROM __skw_src"

                def record(keys_: list[bytes]) -> None:
                    generations.record(
                        client, self.fence, view.name, gen, view.version, self.lease_ttl_ms,
                        keys_, self.list_ttl_ms,
                    )  # fmt: skip

                writer = _ClusterWriter(client, shown, self.ttl_ms, record, self.key_guard_ms)
            else:
                sql = framed_sql(view, "__skw_src", gen, self.ttl_ms, self.key_guard_ms)
                writer = _Writer(client, shown, view.name)
            head = generations.record_command_head(
                view.name, gen, view.version, self.fence, self.lease_ttl_ms, self.list_ttl_ms
            )
            written, max_ts, sent = 0, None, 0
            for batch in frame.sql(sql).to_arrow_reader(self.chunk_rows):
                if self.cluster:
                    replies, batch_max = writer.write_batch(batch)
                else:
                    payload, replies, batch_max, args = _encode_batch(batch, head)
                    if replies:
                        writer.send(payload, replies, args)
                if not replies:
                    continue
                written += replies - 1
                max_ts = batch_max if max_ts is None else max(max_ts, batch_max)
                sent += 1
                f = self.fault
                if f and f.partition == part and attempt < f.attempts and sent == f.after:
                    writer.drain()
                    raise SkewlessError(
                        f"injected fault (test hook): partition {part}, attempt {attempt}, "
                        f"after {sent} buffer(s)"
                    )
            writer.drain()
        except BaseException:
            if writer is not None:
                writer.close(broken=True)
                writer = None
            raise
        finally:
            if writer is not None:
                writer.close()
            frame.close()
            client.close()
        return written, max_ts


def _task_error(e: BaseException) -> str:
    from skewless.offline.spark import _first_line

    return _first_line(e)


@_store_faults
def materialize_view(
    view: FeatureView,
    reader: Any,
    client: Any,
    *,
    url: str,
    now: datetime | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    progress: Callable[[int, int], None] | None = None,
    redis_url: str = "",
    check_types: bool = True,
    keep_versions: int | None = None,
    wait: float = 0.0,
    lease_ttl: float | None = None,
    unfinished_ttl: float | None = None,
    partitions: int | None = None,
    _fault: tuple[int, int, int] | None = None,
) -> MaterializeResult:
    """A full load of one view written from the Spark executors (see the module docstring).

    `url` is the Redis URL the executors connect to (with its credentials; only its redacted
    form appears in messages). Other arguments as in `online.materialize.materialize_view`.
    """
    keep = versions.resolve_keep_versions(keep_versions)
    lease_s = resolve_lease_ttl(lease_ttl)
    guard = generations.resolve_unfinished_ttl(unfinished_ttl)
    if check_types:
        reader.check_relation_types([view])
    lease = Lease.acquire(client, view.name, ttl=lease_s, wait=wait, redis_url=redis_url)
    with lease:
        return _load(
            view, reader, client, lease, url=url, now=now, chunk_rows=chunk_rows,
            progress=progress, redis_url=redis_url or redact(url), keep=keep, guard=guard,
            partitions=partitions, fault=_Fault(*_fault) if _fault else None,
        )  # fmt: skip


def _load(
    view: FeatureView,
    reader: Any,
    client: Any,
    lease: Lease,
    *,
    url: str,
    now: datetime | None,
    chunk_rows: int,
    progress: Callable[[int, int], None] | None,
    redis_url: str,
    keep: int,
    guard: float,
    partitions: int | None,
    fault: _Fault | None,
) -> MaterializeResult:
    t0 = time.perf_counter()
    fence = lease.value
    now_us = _micros(now) if now is not None else time.time_ns() // 1000
    ttl_us = _micros(view.ttl) if view.ttl is not None else None
    ttl_ms = -(-ttl_us // 1000) if ttl_us is not None else None
    since = now_us - ttl_us if ttl_us is not None else None
    current = client.get(keys.pointer_key(view.name, view.version))
    discarded = generations.discard_unfinished(client, fence, view.name)
    gen = generations.register(client, fence, view.name, view.version)
    guard_ms = int(guard * 1000)
    list_ttl = generations.key_list_ttl(guard_ms, ttl_ms)
    cluster = type(client).__name__ == "RedisCluster"
    n = partitions or int(reader.spark.sparkContext.defaultParallelism)
    df = reader.latest_frame(view, visible_bound(view, now_us), since, max(1, n))
    job = PartitionWriter(
        view, gen, fence, lease.ttl_ms, ttl_ms, guard_ms if ttl_ms is None else None, list_ttl,
        url, chunk_rows, cluster, fault,
    )  # fmt: skip
    t_query = time.perf_counter()
    try:
        summaries = df.mapInArrow(job, _SUMMARY).collect()
    except Exception as e:
        if lease.lost or client.get(keys.lease_key(view.name)) != fence:
            generations.discard_own(client, view.name, gen)
            raise generations.lease_lost(view.name) from None
        raise OnlineStoreError(
            f"materializing `{view.name}` from the Spark executors ({reader.where}) failed: "
            f"{_task_error(e)} — nothing was flipped: the previous generation is still served, "
            "and the next load of the view deletes what this one wrote",
            operation="materialize",
            view=view.name,
            url=redis_url,
        ) from None
    written = sum(int(r["rows"]) for r in summaries)
    stamps = [int(r["max_ts"]) for r in summaries if r["rows"]]
    max_ts = max(stamps) if stamps else None
    if progress is not None:
        progress(written, written)
    if ttl_ms is None and any(r["attempt"] for r in summaries):
        try:  # a retried task listed its keys twice: `persist` counts each key once
            generations.dedupe(client, fence, view.name, gen)
        except LeaseLostError:
            generations.discard_own(client, view.name, gen)
            raise
    seal(client, lease, view, gen, ttl_ms, guard_ms, list_ttl)
    info = {
        "version": view.version,
        "generation": gen.decode(),
        "materialized_at": str(time.time_ns() // 1000),
        "as_of": str(now_us),
        "watermark": "" if max_ts is None else str(max_ts),
        "rows": str(written),
        "mode": "full",
        "keep_versions": str(keep),
    }
    t_flip, (deleted, live, retired) = flip_and_clean(client, fence, view, gen, current, keep, info)
    t_end = time.perf_counter()
    return MaterializeResult(
        view=view.name,
        version=view.version,
        generation=gen.decode(),
        mode="full",
        rows=written,
        watermark=None if max_ts is None else codec.decode_timestamp(max_ts),
        query_seconds=t_query - t0,
        write_seconds=t_flip - t_query,
        cleanup_seconds=t_end - t_flip,
        deleted_generations=discarded + deleted,
        live_versions=live,
        retired_versions=retired,
    )


def materialize(
    registry: Registry,
    client: Any,
    reader: Any,
    *,
    url: str,
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
    write: str | None = None,
    partitions: int | None = None,
    _fault: tuple[int, int, int] | None = None,
) -> list[MaterializeResult]:
    """Materialize the selected feature views from a Spark target into Redis.

    Args:
        registry, client, select, now, incremental, lookback, chunk_rows, progress, redis_url,
            keep_versions, wait, lease_ttl, unfinished_ttl: as in `online.materialize.materialize`.
        reader: the `offline.spark.SparkReader` (the caller closes it).
        url: the Redis URL the executors connect to (credentials included; messages show it
            redacted).
        write: `auto` (default; `$SKEWLESS_SPARK_WRITE`), `driver` or `executors` (see the
            module docstring).
        partitions: write tasks per view (executors; default the session's defaultParallelism).
            A window view's records are built and written on the driver either way (its
            whole load, `online.materialize.materialize_window`).
        _fault: test hook `(partition, after_buffers, attempts)`: that task raises after sending
            that many buffers on its first `attempts` attempts.

    Raises:
        OnlineStoreError: a write task failed (after Spark's retries), naming the view, the
            target and the task's error; or any Redis fault. Nothing was flipped.
        and everything `online.materialize.materialize` raises.
    """
    mode = resolve_write(write, reader)
    if mode == "driver" or incremental:
        from skewless.online.materialize import materialize as on_driver

        extra = {} if unfinished_ttl is None else {"unfinished_ttl": unfinished_ttl}
        return on_driver(  # type: ignore[no-any-return]
            registry, client, reader, select=select, now=now, incremental=incremental,
            lookback=lookback, chunk_rows=chunk_rows, progress=progress,
            redis_url=redis_url or redact(url), keep_versions=keep_versions, wait=wait,
            lease_ttl=lease_ttl, **extra,
        )  # fmt: skip
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be >= 1")
    keep = versions.resolve_keep_versions(keep_versions)
    lease_s = resolve_lease_ttl(lease_ttl)
    guard = generations.resolve_unfinished_ttl(unfinished_ttl)
    views = selected_views(registry, select)
    windows = selected_windows(registry, select)
    # every view, before the first byte is written
    reader.check_relation_types([*views, *(w.checked_view for w in windows)])
    results = []
    for v in views:
        cb = None
        if progress is not None:
            cb = (lambda view: lambda done, total: progress(view, done, total))(v)
        result = materialize_view(
            v, reader, client, url=url, now=now, chunk_rows=chunk_rows, progress=cb,
            redis_url=redis_url or redact(url), check_types=False, keep_versions=keep,
            wait=wait, lease_ttl=lease_s, unfinished_ttl=guard, partitions=partitions,
            _fault=_fault,
        )  # fmt: skip
        results.append(result)
    for w in windows:  # a window view's records are built on the driver (its whole load)
        cb = None
        if progress is not None:
            cb = (lambda view: lambda done, total: progress(view, done, total))(w.feature_view)
        result = materialize_window(
            w, reader, client, now=now, chunk_rows=chunk_rows, progress=cb,
            redis_url=redis_url or redact(url), keep_versions=keep, wait=wait,
            lease_ttl=lease_s, unfinished_ttl=guard,
        )  # fmt: skip
        results.append(result)
    return results
