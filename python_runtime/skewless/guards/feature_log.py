"""Served-feature logging: what the runtime served, kept for replay (`skewless consistency`).

Opt-in and configured in one place, a `FeatureLogConfig`:

    log = FeatureLogger(FeatureLogConfig(sink="parquet", path="logs/features", sample_rate=0.1))
    log.log(features, entities, values, statuses, versions, request=request)
    ...
    log.close()

Each served call is stored as one record (one Parquet row, one stream entry) and read back as
one `LoggedRow` per logged entity: the serving timestamp, the entity key, the request payload of
that row, the served value and status of every feature (and its age, when given), and the
definition version of every view served. One record per call keeps the background work to a
few C-level encodings per call instead of several per entity. Sampling is by a stable hash of the entity key
(crc32, the same in every process), so every request of a sampled key is kept.

The caller's thread only appends a tuple to a bounded queue (a length check and a
`deque.append`); a background thread formats and writes. Because formatting holds the one GIL,
the writer works in the gaps between requests (no call logged for 2 ms; the caller wakes it
once 256 calls wait, and the flush interval wakes it anyway), and while requests run only once
1024 calls (or half the queue) wait, or when `flush()`/`close()` ask for it; it hands the GIL
back every ~200 µs while it works. So traffic with gaps costs the request threads almost
nothing, and sustained saturation shares the GIL with the writer. A full queue drops the call and counts
it; a sink error is counted and logged, never raised to the request. `flush()` waits for what
was queued to be written, `close()` flushes and stops the thread.

Each call's document (rows, entities, requests, values, statuses, ages) is stored as msgpack, so
replay gets back exactly what was served: ints and floats (NaN, ±inf, -0.0 included) natively,
and extension types holding text for Decimal, datetime, date, time, timedelta, UUID and ints
beyond 64 bits; the feature list and the versions are JSON text. (Typed JSON, the format before,
is still read: `encode_value`/`dumps_typed` remain its writers.) In the log, a feature's status is
its view row's (`present`, `missing`, `expired`, `stale`); `defaulted` follows from the view's
column defaults, and the value's reason (`OnlineResponse.reasons`) is that status itself (None
for `present`, and for `stale` under `on_stale: serve`), so the log format needs no field for it. The Parquet sink writes `path/date=YYYY-MM-DD/hour=HH/part-<uuid>.parquet`
(written under a temporary name and renamed, so readers never see half a file); the Redis sink
`XADD`s one entry per row with `MAXLEN ~`.
"""

from __future__ import annotations

import atexit
import base64
import collections
import json
import logging
import math
import os
import threading
import time
import uuid
import weakref
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from datetime import time as dtime
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgpack

from skewless.errors import FeatureLogConfigError

__all__ = [
    "FeatureLogConfig",
    "FeatureLogReader",
    "FeatureLogStats",
    "FeatureLogger",
    "LoggedRow",
    "SkippedRecord",
    "decode_value",
    "dumps_typed",
    "encode_value",
    "entity_sampled",
    "loads_typed",
    "read_feature_log",
]

_log = logging.getLogger("skewless.guards.feature_log")
_RESPONSE = object()  # marks a queued OnlineResponse (formatted in the background thread)
_SAMPLE_LATER = object()  # a multi-entity call whose entities are sampled in the background
_IDLE_GAP = 0.002  # the writer works when no call was logged for this long (or on backlog)
_DEFER_CALLS = (
    256  # … the caller wakes the writer when this many calls wait (it then looks for a gap)
)
_FORCE_CALLS = 1024  # … and past this backlog it works even while requests run


def _seconds(v: Any) -> float | None:
    if v is None:
        return None
    if isinstance(v, timedelta):
        return v.total_seconds()
    return float(v)


SINKS = ("parquet", "redis_stream")
DEFAULT_STREAM = "skewless:feature_log"
_UTC = timezone.utc


@dataclass(frozen=True)
class FeatureLogConfig:
    """Where and how much of the served features to log.

    Attributes:
        sink: `parquet` (files on local disk, the default) or `redis_stream`.
        path: folder of the Parquet log (sink `parquet`).
        redis_url: Redis holding the stream (sink `redis_stream`).
        stream: the stream's key (sink `redis_stream`).
        maxlen: approximate cap on the stream's length (`XADD … MAXLEN ~`).
        sample_rate: share of entity keys logged, 0..1; every request of a sampled key is kept.
        sample_by: entity columns hashed for sampling (default: every column of the entity).
        queue_size: calls held in memory before new ones are dropped (and counted).
        flush_interval: seconds between writes of what is queued.
        rows_per_file: most rows per Parquet file.
    """

    sink: str = "parquet"
    path: str | None = None
    redis_url: str | None = None
    stream: str = DEFAULT_STREAM
    maxlen: int = 1_000_000
    sample_rate: float = 1.0
    sample_by: tuple[str, ...] | None = None
    queue_size: int = 10_000
    flush_interval: float = 1.0
    rows_per_file: int = 100_000

    def __post_init__(self) -> None:
        if self.sink not in SINKS:
            raise FeatureLogConfigError(
                f"FeatureLogConfig.sink is {self.sink!r}; choose one of {', '.join(SINKS)}"
            )
        if self.sink == "parquet" and not self.path:
            raise FeatureLogConfigError(
                "FeatureLogConfig(sink='parquet') needs `path`, the folder to write the log to"
            )
        if self.sink == "redis_stream" and not self.redis_url:
            raise FeatureLogConfigError("FeatureLogConfig(sink='redis_stream') needs `redis_url`")
        if not 0.0 <= float(self.sample_rate) <= 1.0:
            raise FeatureLogConfigError(
                f"FeatureLogConfig.sample_rate is {self.sample_rate!r}; give a share between 0 and 1"
            )
        if int(self.queue_size) < 1:
            raise FeatureLogConfigError(
                f"FeatureLogConfig.queue_size is {self.queue_size!r}; give at least 1"
            )

    def __repr__(self) -> str:
        # the Redis URL may carry a password: shown redacted, as every message shows it
        from dataclasses import fields

        from skewless.online.connection import redact

        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "redis_url" and value:
                value = redact(str(value))
            shown.append(f"{f.name}={value!r}")
        return f"FeatureLogConfig({', '.join(shown)})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> FeatureLogConfig | None:
        """The config from `SKEWLESS_FEATURE_LOG_*` variables, or None when logging is not enabled.

        `SKEWLESS_FEATURE_LOG` is the Parquet folder, or a `redis://`/`rediss://` URL for the
        stream sink; `SKEWLESS_FEATURE_LOG_SAMPLE_RATE`, `…_QUEUE_SIZE`, `…_STREAM` refine it.
        """
        env = os.environ if environ is None else environ
        target = env.get("SKEWLESS_FEATURE_LOG", "").strip()
        if not target:
            return None
        rate = _env_number(env, "SKEWLESS_FEATURE_LOG_SAMPLE_RATE", "1.0", float)
        queue = _env_number(env, "SKEWLESS_FEATURE_LOG_QUEUE_SIZE", "10000", int)
        if target.startswith(("redis://", "rediss://", "unix://")):
            return cls(
                sink="redis_stream",
                redis_url=target,
                sample_rate=rate,
                queue_size=queue,
                stream=env.get("SKEWLESS_FEATURE_LOG_STREAM", DEFAULT_STREAM),
            )
        return cls(sink="parquet", path=target, sample_rate=rate, queue_size=queue)


def _env_number(env: Mapping[str, str], name: str, default: str, kind: Any) -> Any:
    text = env.get(name, default)
    try:
        return kind(text)
    except ValueError:
        raise FeatureLogConfigError(
            f"{name} is {text[:40]!r}; give a {'number between 0 and 1' if kind is float else 'whole number'}"
        ) from None


@dataclass
class FeatureLogStats:
    """Counters of a logger (read them any time; they only grow).

    Attributes:
        calls: calls queued (single-entity calls only when their key is sampled; a multi-entity
            call is queued whole and its keys are sampled in the background).
        sampled_out: calls whose entities were all left out by sampling.
        dropped: calls dropped because the queue was full.
        rows_written: rows the sink accepted.
        rows_failed: rows lost to sink errors.
        sink_errors: sink errors (each logged, none raised to the caller).
    """

    calls: int = 0
    sampled_out: int = 0
    dropped: int = 0
    rows_written: int = 0
    rows_failed: int = 0
    sink_errors: int = 0
    last_error: str = ""


@dataclass(frozen=True)
class LoggedRow:
    """One entity of one served call, decoded back to Python values.

    Attributes:
        request_id: shared by the rows of one call.
        row: the entity's position in the call.
        served_at: serving time (tz-aware UTC).
        entity: the entity key, e.g. `{"user_id": 42}`.
        request: the request payload of this row (`{}` when none).
        values: served value per feature reference.
        statuses: status per feature reference. Logged through `log_response`/`hook`: the raw
            read status of the feature's view (`present`, `missing`, `expired`, `stale`; whether a
            default was then served follows from the view's definition at the logged version).
            Logged through `log`: whatever the caller passed (e.g. `defaulted`).
        ages: age in seconds per feature reference, when the caller of `log` passed them (`log_response` does not: it would double the background cost).
        versions: definition version per view served.
    """

    request_id: str
    row: int
    served_at: datetime
    entity: dict[str, Any]
    request: dict[str, Any]
    values: dict[str, Any]
    statuses: dict[str, str]
    ages: dict[str, float | None]
    versions: dict[str, str]


# --- typed JSON ------------------------------------------------------------------------------


def encode_value(value: Any) -> Any:
    """A JSON-safe form of `value` that `decode_value` turns back into an equal value of the same type."""
    t = type(value)
    if value is None or t is str or t is bool or t is int:
        return value
    if t is float:
        if math.isfinite(value):
            return value
        return {"$f": "nan" if value != value else ("inf" if value > 0 else "-inf")}
    if isinstance(value, Decimal):
        return {"$d": str(value)}
    if isinstance(value, datetime):
        return {"$ts": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, dtime):
        return {"$time": value.isoformat()}
    if isinstance(value, timedelta):
        return {"$td": (value.days * 86400 + value.seconds) * 1_000_000 + value.microseconds}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$b": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, uuid.UUID):
        return {"$uuid": str(value)}
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):  # numpy ints, IntEnum…
        return int(value)
    if isinstance(value, float):  # numpy floats
        return encode_value(float(value))
    if isinstance(value, Mapping):  # pairs, so no key of it is ever read as a type tag
        return {"$o": [[str(k), encode_value(v)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return [encode_value(v) for v in value]
    item = getattr(value, "item", None)  # other numpy scalars
    if callable(item):
        return encode_value(item())
    return {"$s": str(value)}


_DECODERS: dict[str, Any] = {
    "$f": float,
    "$d": Decimal,
    "$ts": datetime.fromisoformat,
    "$date": date.fromisoformat,
    "$time": dtime.fromisoformat,
    "$td": lambda us: timedelta(microseconds=us),
    "$b": lambda s: base64.b64decode(s),
    "$uuid": uuid.UUID,
    "$s": str,
}


def decode_value(obj: Any) -> Any:
    """Inverse of `encode_value` (on the already JSON-parsed form)."""
    if isinstance(obj, dict):
        if len(obj) == 1:
            ((k, v),) = obj.items()
            if k == "$o":
                return {kk: decode_value(vv) for kk, vv in v}
            dec = _DECODERS.get(k)
            if dec is not None:
                return dec(v)
        return {k: decode_value(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [decode_value(v) for v in obj]
    return obj


def _object_hook(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        ((k, v),) = obj.items()
        if k == "$o":
            return dict(v)
        dec = _DECODERS.get(k)
        if dec is not None:
            return dec(v)
    return obj


_fast_dumps = json.JSONEncoder(allow_nan=False, ensure_ascii=False, separators=(",", ":")).encode


def dumps_typed(mapping: Mapping[str, Any]) -> str:
    """Typed JSON text of a mapping of values (see the module docstring)."""
    if len(mapping) == 1 and str(next(iter(mapping))).startswith("$"):
        # one key that looks like a type tag: wrap, so it reads back as a plain mapping
        return _fast_dumps(encode_value(dict(mapping)))
    try:
        # Fast path, all in C: only JSON-native values (ints, finite floats, str, bool, None).
        if all(type(v) in _NATIVE for v in mapping.values()):
            return _fast_dumps(mapping)
    except ValueError:  # NaN/inf
        pass
    return _fast_dumps({k: encode_value(v) for k, v in mapping.items()})


_NATIVE = {int, float, str, bool, type(None)}


def _default(value: Any) -> Any:
    """Called by the C encoder for what JSON cannot hold natively (Decimal, datetime…)."""
    enc = encode_value(value)
    if enc is value:
        raise TypeError(f"cannot log a {type(value).__name__}")
    return enc


_call_dumps = json.JSONEncoder(
    allow_nan=False, ensure_ascii=False, separators=(",", ":"), default=_default
).encode


# The per-call document is msgpack (about 6x cheaper to encode than JSON for value-heavy calls:
# that encoding is the writer's main cost, which it shares with request threads through the
# GIL). What msgpack does not carry natively is an extension type holding text.
_EXT_DECIMAL, _EXT_DATETIME, _EXT_DATE, _EXT_TIME, _EXT_TIMEDELTA = 1, 2, 3, 4, 5
_EXT_UUID, _EXT_BIGINT, _EXT_TEXT = 6, 7, 8


def _msgpack_default(value: Any) -> Any:
    """msgpack's hook for what it cannot pack natively (exact, see `_msgpack_ext`)."""
    if isinstance(value, Decimal):
        return msgpack.ExtType(_EXT_DECIMAL, str(value).encode())
    if isinstance(value, datetime):
        return msgpack.ExtType(_EXT_DATETIME, value.isoformat().encode())
    if isinstance(value, date):
        return msgpack.ExtType(_EXT_DATE, value.isoformat().encode())
    if isinstance(value, dtime):
        return msgpack.ExtType(_EXT_TIME, value.isoformat().encode())
    if isinstance(value, timedelta):
        micros = (value.days * 86400 + value.seconds) * 1_000_000 + value.microseconds
        return msgpack.ExtType(_EXT_TIMEDELTA, str(micros).encode())
    if isinstance(value, uuid.UUID):
        return msgpack.ExtType(_EXT_UUID, str(value).encode())
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        if type(value) is int:  # beyond 64 bits
            return msgpack.ExtType(_EXT_BIGINT, str(value).encode())
        return int(value)  # numpy ints, IntEnum…
    if isinstance(value, float):
        return float(value)
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, Mapping):
        return dict(value)
    item = getattr(value, "item", None)  # other numpy scalars
    if callable(item):
        return item()
    return msgpack.ExtType(_EXT_TEXT, str(value).encode())


_EXT_DECODERS: dict[int, Any] = {
    _EXT_DECIMAL: lambda b: Decimal(b.decode()),
    _EXT_DATETIME: lambda b: datetime.fromisoformat(b.decode()),
    _EXT_DATE: lambda b: date.fromisoformat(b.decode()),
    _EXT_TIME: lambda b: dtime.fromisoformat(b.decode()),
    _EXT_TIMEDELTA: lambda b: timedelta(microseconds=int(b)),
    _EXT_UUID: lambda b: uuid.UUID(b.decode()),
    _EXT_BIGINT: lambda b: int(b),
    _EXT_TEXT: lambda b: b.decode(),
}


def _msgpack_ext(code: int, data: bytes) -> Any:
    dec = _EXT_DECODERS.get(code)
    if dec is None:
        raise ValueError(f"unknown extension type {code} in a served-feature log record")
    return dec(data)


_call_packb = msgpack.Packer(default=_msgpack_default, use_bin_type=True, datetime=False).pack


def _call_unpackb(raw: bytes) -> Any:
    return msgpack.unpackb(raw, ext_hook=_msgpack_ext, strict_map_key=False, raw=False)


def _tag_like(items: Sequence[Any]) -> bool:
    return any(
        isinstance(x, dict) and len(x) == 1 and str(next(iter(x))).startswith("$") for x in items
    )


def _view_statuses(resp: Any) -> tuple[list[str] | None, Any]:
    """(view names, per-entity raw status per view) when the response offers them cheaply as
    `view_statuses` (a `(names, rows)` pair), else (None, the per-feature `statuses`)."""
    public = getattr(resp, "view_statuses", None)
    if isinstance(public, tuple) and len(public) == 2:
        return list(public[0]), public[1]
    return None, resp.statuses


def loads_typed(text: str | bytes | None) -> dict[str, Any]:
    """Inverse of `dumps_typed`."""
    if text is None or text == "" or text == b"":
        return {}
    return json.loads(text, object_hook=_object_hook)  # type: ignore[no-any-return]


# --- sampling --------------------------------------------------------------------------------


def _key_text(entity: Mapping[str, Any], sample_by: Sequence[str] | None) -> str:
    if sample_by is None:
        if len(entity) == 1:
            for c, v in entity.items():
                return f"{c}\x1e{v}"
        cols: Sequence[str] = sorted(entity)
    else:
        cols = sample_by
    return "\x1f".join(f"{c}\x1e{entity.get(c)}" for c in cols)


def entity_sampled(
    entity: Mapping[str, Any], sample_rate: float, sample_by: Sequence[str] | None = None
) -> bool:
    """Whether `entity` is in the sample: a stable hash of its key, the same in every process."""
    if sample_rate >= 1.0:
        return True
    if sample_rate <= 0.0:
        return False
    text = _key_text(entity, sample_by)
    return zlib.crc32(text.encode("utf-8", "surrogatepass")) < sample_rate * 4294967296.0


def _sampled_rows(
    entities: Sequence[Mapping[str, Any]], sample_rate: float, sample_by: Sequence[str] | None
) -> list[int]:
    """Positions of the sampled entities (`entity_sampled` for each, in one tight loop)."""
    limit = sample_rate * 4294967296.0
    crc, key = zlib.crc32, _key_text
    return [
        i
        for i, e in enumerate(entities)
        if crc(key(e, sample_by).encode("utf-8", "surrogatepass")) < limit
    ]


# --- sinks -----------------------------------------------------------------------------------

# One record per served call; the list columns are aligned (one item per logged entity).
# One record per served call: two cached texts and ONE typed-JSON document per call (one C
# encoder pass: the fixed cost of an encode() dominates for small calls).
_COLUMNS = (
    "request_id",
    "served_at",
    "features",  # JSON list of feature references
    "versions",  # JSON {view: version}
    "call",  # msgpack [rows, entities, requests, values, statuses, ages], see _format
)


_SLICE = 256  # rows converted per GIL hold in the sinks


def _no_pause() -> None:
    pass


class _ParquetSink:
    def __init__(self, config: FeatureLogConfig) -> None:
        # Imported now, not at the first write: that may be at interpreter exit, too late to
        # import what pyarrow.parquet pulls in lazily (concurrent.futures.thread).
        import concurrent.futures.thread  # noqa: F401

        import pyarrow
        import pyarrow.parquet  # noqa: F401

        self.root = Path(str(config.path))
        self.rows_per_file = int(config.rows_per_file)
        self.pause: Any = _no_pause

    def _batch(self, rows: list[tuple[Any, ...]]) -> Any:
        import pyarrow as pa

        cols = list(zip(*rows, strict=True))
        return pa.record_batch(
            [
                pa.array(cols[0], pa.string()),
                pa.array(cols[1], pa.timestamp("us", tz="UTC")),
                pa.array(cols[2], pa.string()),
                pa.array(cols[3], pa.string()),
                pa.array(cols[4], pa.binary()),
            ],
            names=list(_COLUMNS),
        )

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        by_hour: dict[str, list[tuple[Any, ...]]] = collections.defaultdict(list)
        for r in rows:
            ts: datetime = r[1]
            by_hour[f"date={ts:%Y-%m-%d}/hour={ts:%H}"].append(r)
        for part, part_rows in by_hour.items():
            folder = self.root / part
            folder.mkdir(parents=True, exist_ok=True)
            for start in range(0, len(part_rows), self.rows_per_file):
                chunk = part_rows[start : start + self.rows_per_file]
                # Python objects → Arrow holds the GIL: convert in short slices, pausing between.
                batches = []
                for at in range(0, len(chunk), _SLICE):
                    batches.append(self._batch(chunk[at : at + _SLICE]))
                    self.pause()
                table = pa.Table.from_batches(batches)
                name = f"part-{uuid.uuid4().hex}.parquet"
                tmp = folder / f".{name}.tmp"
                pq.write_table(table, tmp, compression="zstd")
                os.replace(tmp, folder / name)

    def close(self) -> None:
        pass


class _RedisStreamSink:
    def __init__(self, config: FeatureLogConfig) -> None:
        import redis

        self.client = redis.Redis.from_url(str(config.redis_url))
        self.stream = config.stream
        self.maxlen = int(config.maxlen)
        self.pause: Any = _no_pause

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        for at in range(0, len(rows), _SLICE):
            self._write(rows[at : at + _SLICE])
            self.pause()

    def _write(self, rows: list[tuple[Any, ...]]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for r in rows:
            fields: dict[Any, Any] = {
                "request_id": r[0],
                "served_at": r[1].isoformat(),
                **{name: r[i] or "" for i, name in enumerate(_COLUMNS) if i > 1},
            }
            pipe.xadd(self.stream, fields, maxlen=self.maxlen, approximate=True)
        pipe.execute()

    def close(self) -> None:
        self.client.close()


def _make_sink(config: FeatureLogConfig) -> Any:
    return _ParquetSink(config) if config.sink == "parquet" else _RedisStreamSink(config)


# --- the logger ------------------------------------------------------------------------------


class FeatureLogger:
    """Logs served features in a background thread; never blocks or fails the request.

    Args:
        config: where and how much to log.
        sink: a sink object with `write(rows)` and `close()` replacing the one `config` names
            (for tests and custom destinations); it receives records, one tuple per served call
            in the order of the Parquet columns.
    """

    def __init__(self, config: FeatureLogConfig, sink: Any = None) -> None:
        self.config = config
        self.stats = FeatureLogStats()
        self._sink = sink if sink is not None else _make_sink(config)
        if sink is None:
            self._sink.pause = self._yield
        self._queue: collections.deque[tuple[Any, ...]] = collections.deque()
        self._max = int(config.queue_size)
        self._rate = float(config.sample_rate)
        self._sample_by = config.sample_by
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._closed = False
        self._prefix = uuid.uuid4().hex[:16]
        self._last_call = 0.0
        self._urgent = 0
        self._wake_at = max(1, min(self._max // 2, _DEFER_CALLS))
        self._texts: dict[Any, str] = {}
        self._last_yield = 0.0
        self._seq = 0
        self._thread = threading.Thread(target=self._run, name="skewless-feature-log", daemon=True)
        self._thread.start()
        # Flush what is queued when the interpreter exits (the thread is a daemon).
        ref = weakref.ref(self)
        atexit.register(
            lambda: (lambda lg: lg.close(timeout=10) if lg is not None else None)(ref())
        )

    # Caller's thread: keep it to a few hundred nanoseconds.
    def log(
        self,
        features: Sequence[str],
        entities: Sequence[Mapping[str, Any]],
        values: Sequence[Sequence[Any]],
        statuses: Sequence[Sequence[str]],
        versions: Mapping[str, str],
        request: Sequence[Mapping[str, Any]] | None = None,
        ages: Sequence[Sequence[float | None]] | None = None,
        served_at: float | datetime | None = None,
    ) -> bool:
        """Queue one served call for logging; returns False when it was dropped or sampled out.

        Args:
            features: feature references, in the order of each row of `values`.
            entities: one entity key per row.
            values: served values, one row per entity, one value per feature.
            statuses: status per value, same shape as `values`.
            versions: definition version per view served.
            request: the request payload per row (request-time features), if any.
            ages: age in seconds per value, same shape as `values`, if known.
            served_at: serving time (epoch seconds or tz-aware datetime); default: now.

        The logger keeps references to these objects until the background thread formats them:
        do not mutate them after the call.
        """
        if self._closed:
            return False
        rows: Any = None
        if self._rate < 1.0:
            if len(entities) != 1:
                rows = _SAMPLE_LATER  # hashing many keys is background work
            elif not entity_sampled(entities[0], self._rate, self._sample_by):
                self.stats.sampled_out += 1
                return False
        n = len(self._queue)
        if n >= self._max:
            self.stats.dropped += 1
            return False
        if n == self._wake_at:
            self._wake.set()  # a backlog: do not wait for the flush interval
        self._last_call = time.monotonic()
        self._queue.append(
            (
                features,
                entities,
                values,
                statuses,
                versions,
                request,
                ages,
                time.time() if served_at is None else served_at,
                rows,
            )
        )
        self.stats.calls += 1
        return True

    def log_response(self, response: Any, request: Any = None, served_at: Any = None) -> bool:
        """Queue a served `OnlineResponse`; everything is read from it in the background thread.

        Reads `features`, `entities`, `values`, `statuses` (or the cheaper per-view
        `view_statuses`, when offered), `versions` and `served_at` — off the request path.

        Args:
            response: what `FeatureStore.get_online_features` returned.
            request: the request payload (a list of dicts, one per entity), if any.
            served_at: the serving time; default `response.served_at`, else the time of this call.
        """
        if self._closed:
            return False
        rows: Any = None
        if self._rate < 1.0:
            entities = response.entities
            if len(entities) != 1:
                rows = _SAMPLE_LATER  # hashing many keys is background work
            elif not entity_sampled(entities[0], self._rate, self._sample_by):
                self.stats.sampled_out += 1
                return False
        n = len(self._queue)
        if n >= self._max:
            self.stats.dropped += 1
            return False
        if n == self._wake_at:
            self._wake.set()  # a backlog: do not wait for the flush interval
        self._last_call = time.monotonic()
        self._queue.append((_RESPONSE, response, request, served_at, rows, time.time()))
        self.stats.calls += 1
        return True

    def hook(self, store: Any, response: Any, request: Any) -> None:
        """A `FeatureStore.post_lookup` hook: `store.post_lookup.append(logger.hook)` (last)."""
        n = len(self._queue)
        if self._rate >= 1.0 and not self._closed and n < self._max and n != self._wake_at:
            self._last_call = time.monotonic()
            self._queue.append((_RESPONSE, response, request, None, None, time.time()))
            self.stats.calls += 1
        else:
            self.log_response(response, request)

    def attach(self, store: Any) -> FeatureLogger:
        """Log every lookup of `store` (appends `hook` to its `post_lookup`, after the others)."""
        store.post_lookup.append(self.hook)
        return self

    # Background thread.
    def _format(self, item: tuple[Any, ...], out: list[tuple[Any, ...]]) -> int:
        """Append one record for a served call to `out`; returns how many entities it logs."""
        view_names: list[str] | None = None
        if item[0] is _RESPONSE:
            _, resp, request, served_at, rows, queued_at = item
            if served_at is None:
                served_at = getattr(resp, "served_at", None) or queued_at
            features, entities, values = resp.features, resp.entities, resp.values
            ages = None  # not logged for responses: it would double the background cost
            view_names, statuses = _view_statuses(resp)
            versions = getattr(resp, "versions", None) or {}
        else:
            features, entities, values, statuses, versions, request, ages, served_at, rows = item
        if rows is _SAMPLE_LATER:
            rows = _sampled_rows(entities, self._rate, self._sample_by)
            if not rows:
                self.stats.sampled_out += 1
                return 0
        if isinstance(served_at, datetime):
            ts = served_at.astimezone(_UTC) if served_at.tzinfo else served_at.replace(tzinfo=_UTC)
        else:
            ts = datetime.fromtimestamp(float(served_at), _UTC)
        self._seq += 1
        feats = list(features)
        if not isinstance(features, tuple):
            features = tuple(feats)
        if request is not None and isinstance(request, Mapping):
            request = [request] * len(entities)
        keep = list(range(len(entities))) if rows is None else list(rows)
        if rows is not None:
            entities = [entities[i] for i in keep]
            values = [values[i] for i in keep]
            statuses = [statuses[i] for i in keep]
            request = None if request is None else [request[i] for i in keep]
            ages = None if ages is None else [ages[i] for i in keep]
        if view_names is not None:
            status_doc: dict[str, Any] = {"views": view_names, "rows": statuses}
        else:
            status_doc = {
                "features": True,
                "rows": [
                    [st[f] for f in feats] if isinstance(st, Mapping) else list(st)
                    for st in statuses
                ],
            }
        ages_rows = None
        if ages is not None:
            ages_rows = [
                [_seconds(a[f] if isinstance(a, Mapping) else a[j]) for j, f in enumerate(feats)]
                for a in ages
            ]
        doc = [keep, entities, request, values, status_doc, ages_rows]
        text = _call_packb(doc)
        ftext = self._texts.get(features)
        if ftext is None:
            ftext = self._texts[features] = _fast_dumps(feats)
        vkey = tuple(versions.items())
        vtext = self._texts.get(vkey)
        if vtext is None:
            vtext = self._texts[vkey] = _fast_dumps(dict(versions))
        if len(self._texts) > 10_000:
            self._texts.clear()
        out.append((f"{self._prefix}-{self._seq:x}", ts, ftext, vtext, text))
        self._yield()
        return len(keep)

    def _yield(self) -> None:
        # Hand the GIL back to request threads every ~200 µs of formatting: a request thread
        # waiting for the GIL then stalls at most that long (not the 5 ms switch interval).
        # Shorter is worse: every hand-over costs a thread wake-up (measured: 50 µs slices
        # doubled the p50 overhead of saturated 1-entity lookups; see bench/bench_logging.py).
        now = time.perf_counter()
        if now - self._last_yield > 2e-4:
            time.sleep(0)
            self._last_yield = time.perf_counter()

    def _drain(self) -> None:
        batch: list[tuple[Any, ...]] = []
        n_rows = 0
        queue = self._queue
        # Bounded so that deferring never holds more than a few hundred responses alive (each
        # retained response is also work for Python's cyclic GC on the request threads).
        defer_below = max(self._wake_at, min(self._max // 2, _FORCE_CALLS))
        while queue:
            if (
                not self._urgent
                and len(queue) < defer_below
                and time.monotonic() - self._last_call < _IDLE_GAP
            ):
                # Requests are in flight: wait for a gap rather than compete for the GIL, unless
                # the backlog reaches half the queue (or a flush/close asks for it now).
                time.sleep(_IDLE_GAP)
                continue
            item = queue.popleft()
            try:
                n_rows += self._format(item, batch)
            except Exception as e:  # a malformed call: count it, keep going
                self._error(f"could not format a served call: {e!r}", 1)
            if n_rows >= self.config.rows_per_file:
                self._write(batch, n_rows)
                batch, n_rows = [], 0
        if batch:
            self._write(batch, n_rows)

    def _write(self, records: list[tuple[Any, ...]], rows: int) -> None:
        try:
            self._sink.write(records)
            self.stats.rows_written += rows
        except Exception as e:
            self._error(f"{self.config.sink} sink failed: {e!r}", rows)

    def _error(self, message: str, rows: int) -> None:
        self.stats.sink_errors += 1
        self.stats.rows_failed += rows
        self.stats.last_error = message
        n = self.stats.sink_errors
        if n <= 10 or n & (n - 1) == 0:  # the first ten, then every power of two
            _log.warning(
                "feature log: %s (%d errors so far; rows lost, requests unaffected)", message, n
            )

    def _run(self) -> None:
        while True:
            self._wake.wait(self.config.flush_interval)
            self._wake.clear()
            self._idle.clear()
            try:
                self._drain()
            except Exception as e:  # never let the thread die
                self._error(f"feature log thread: {e!r}", 0)
            finally:
                self._idle.set()
            if self._closed and not self._queue:
                return

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Write everything queued so far; True when done within `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        self._urgent += 1
        try:
            while True:
                self._idle.clear()
                self._wake.set()
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                if not self._idle.wait(left):
                    return False
                if not self._queue:
                    return True
                if deadline is not None and time.monotonic() >= deadline:
                    return False
        finally:
            self._urgent -= 1

    def close(self, timeout: float | None = 30.0) -> None:
        """Flush, stop the background thread and close the sink."""
        if self._closed:
            return
        self.flush(timeout)
        self._closed = True
        self._wake.set()
        self._thread.join(timeout)
        try:
            self._sink.close()
        except Exception as e:
            self._error(f"closing the {self.config.sink} sink: {e!r}", 0)

    def __enter__(self) -> FeatureLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- reading the log back --------------------------------------------------------------------


#: Skipped records kept with their place and reason (`FeatureLogReader.skipped`); the count
#: (`skipped_count`) goes on past it.
MAX_SKIPPED_SHOWN = 100


@dataclass(frozen=True)
class SkippedRecord:
    """A malformed record of a served-feature log, skipped by the reader.

    Attributes:
        where: the record's place: `stream <key> entry <id>`, or `<file> row <i>` (a whole file
            when it cannot be read as Parquet: `<file>`).
        reason: what is wrong with it (bounded in length).
    """

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


class _BadRecord(Exception):
    """A record that cannot be read back (the reason is the message)."""


def _expect(ok: bool, what: str, value: Any) -> None:
    if not ok:
        from skewless.errors import brief

        raise _BadRecord(f"{what} is {brief(value, 80)}")


def _record_rows(get: Any) -> list[LoggedRow]:
    """Every row of one record, all or none.

    Raises:
        _BadRecord: the record is malformed (its reason).
    """
    try:
        return _decode_record(get)
    except _BadRecord:
        raise
    except Exception as e:  # anything a malformed record makes the decoders raise
        from skewless.errors import brief

        raise _BadRecord(f"{type(e).__name__}: {brief(str(e), 160)[1:-1]}") from None


def _decode_record(get: Any) -> list[LoggedRow]:
    served = get("served_at")
    if isinstance(served, str):
        served = datetime.fromisoformat(served)
    _expect(isinstance(served, datetime), "served_at", served)
    if served.tzinfo is None:
        served = served.replace(tzinfo=_UTC)
    served = served.astimezone(_UTC)
    rid = get("request_id")
    _expect(isinstance(rid, str), "request_id", rid)
    features = json.loads(get("features") or "[]")
    _expect(
        isinstance(features, list) and all(isinstance(f, str) for f in features),
        "features",
        features,
    )
    versions = json.loads(get("versions") or "{}")
    _expect(
        isinstance(versions, dict) and all(isinstance(v, str) for v in versions.values()),
        "versions",
        versions,
    )
    call = get("call")
    if isinstance(call, (bytes, bytearray)) and call[:1] != b"[":
        doc = _call_unpackb(bytes(call))
    else:  # a log written as typed JSON (before msgpack)
        _expect(isinstance(call, (str, bytes, bytearray)), "call", call)
        doc = json.loads(call, object_hook=_object_hook)
    _expect(isinstance(doc, list) and len(doc) == 6, "the call document", doc)
    positions, entities, requests, values, sdoc, ages = doc
    n = len(positions) if isinstance(positions, list) else -1
    _expect(n >= 0 and all(type(p) is int for p in positions), "rows", positions)
    _expect(
        isinstance(entities, list)
        and len(entities) == n
        and all(isinstance(e, dict) and all(isinstance(k, str) for k in e) for e in entities),
        "entities",
        entities,
    )
    _expect(
        requests is None
        or (
            isinstance(requests, list)
            and len(requests) == n
            and all(r is None or isinstance(r, dict) for r in requests)
        ),
        "requests",
        requests,
    )
    width = len(features)
    _expect(
        isinstance(values, list)
        and len(values) == n
        and all(isinstance(v, list) and len(v) == width for v in values),
        "values",
        values,
    )
    _expect(
        ages is None
        or (
            isinstance(ages, list)
            and len(ages) == n
            and all(isinstance(a, list) and len(a) == width for a in ages)
        ),
        "ages",
        ages,
    )
    _expect(isinstance(sdoc, dict) and isinstance(sdoc.get("rows"), list), "statuses", sdoc)
    views = sdoc.get("views")
    _expect(
        views is None or (isinstance(views, list) and all(isinstance(v, str) for v in views)),
        "statuses.views",
        views,
    )
    srows = sdoc["rows"]
    _expect(
        len(srows) == n
        and all(
            isinstance(r, list)
            and len(r) == (width if views is None else len(views))
            and all(isinstance(x, str) for x in r)
            for r in srows
        ),
        "statuses.rows",
        srows,
    )
    out = []
    for k, pos in enumerate(positions):
        srow = srows[k]
        if views is not None:
            by_view = dict(zip(views, srow, strict=True))
            statuses = {
                f: by_view[f.rpartition(".")[0]]
                for f in features
                if f.rpartition(".")[0] in by_view
            }
        else:
            statuses = dict(zip(features, srow, strict=True))
        out.append(
            LoggedRow(
                request_id=rid,
                row=pos,
                served_at=served,
                entity=entities[k],
                request=(requests[k] or {}) if requests is not None else {},
                values=dict(zip(features, values[k], strict=True)),
                statuses=statuses,
                ages=dict(zip(features, ages[k], strict=True)) if ages is not None else {},
                versions=versions,
            )
        )
    return out


class FeatureLogReader(Iterator[LoggedRow]):
    """The rows of a served-feature log, read lazily (what `read_feature_log` returns).

    A malformed record (undecodable msgpack or JSON, an unknown extension type, an integer past
    Python's limits, a document of the wrong shape…) is skipped whole, counted and named with
    its place and reason; reading goes on. A Parquet file that cannot be read is skipped the
    same way.

    Attributes:
        skipped: the first `MAX_SKIPPED_SHOWN` skipped records (`SkippedRecord`).
        skipped_count: every record (or unreadable file) skipped so far.
    """

    def __init__(self, rows: Iterator[LoggedRow]) -> None:
        self.skipped: list[SkippedRecord] = []
        self.skipped_count = 0
        self._rows = rows

    def __iter__(self) -> FeatureLogReader:
        return self

    def __next__(self) -> LoggedRow:
        return next(self._rows)

    def skip(self, where: str, reason: str) -> None:
        self.skipped_count += 1
        if len(self.skipped) < MAX_SKIPPED_SHOWN:
            self.skipped.append(SkippedRecord(where, reason))
        n = self.skipped_count
        if n <= 10 or n & (n - 1) == 0:
            _log.warning("served-feature log: skipped a malformed record, %s: %s", where, reason)


def read_feature_log(
    source: str | Path,
    *,
    stream: str = DEFAULT_STREAM,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
) -> FeatureLogReader:
    """The rows of a served-feature log (Parquet: hour partitions in order; Redis: stream order).

    A malformed record is skipped and counted, never raised: see `FeatureLogReader.skipped`.

    Args:
        source: the Parquet log's folder, or a `redis://`/`rediss://` URL holding the stream.
        stream: the stream's key (Redis source).
        since: only rows served at or after this instant.
        until: only rows served before this instant.
        limit: at most this many rows.

    Raises:
        FeatureLogError: (when iterated) no log at `source`.
        OnlineStoreError: (when iterated) Redis failed.
    """
    reader = FeatureLogReader(iter(()))
    reader._rows = _filtered(_read(source, stream, reader), since, until, limit)
    return reader


def _filtered(
    rows: Iterator[LoggedRow],
    since: datetime | None,
    until: datetime | None,
    limit: int | None,
) -> Iterator[LoggedRow]:
    n = 0
    for row in rows:
        if since is not None and row.served_at < since:
            continue
        if until is not None and row.served_at >= until:
            continue
        yield row
        n += 1
        if limit is not None and n >= limit:
            return


def _read(source: str | Path, stream: str, reader: FeatureLogReader) -> Iterator[LoggedRow]:
    text = str(source)
    if text.startswith(("redis://", "rediss://", "unix://")):
        from skewless.online.connection import redis_faults

        client = _stream_client(text)
        last: Any = "-"
        while True:
            with redis_faults("feature log read", text, stream):
                entries = client.xrange(stream, min=last, max="+", count=5000)
            if last != "-" and entries and entries[0][0] == last:
                entries = entries[1:]
            if not entries:
                break
            for entry_id, fields in entries:
                try:
                    rows = _record_rows(
                        lambda k, f=fields: (
                            f.get(b"call") if k == "call" else _text(f.get(k.encode()))
                        )
                    )
                except _BadRecord as e:
                    reader.skip(f"stream {stream} entry {_text(entry_id)}", str(e))
                    continue
                yield from rows
            last = entries[-1][0]
        client.close()
        return
    import pyarrow.parquet as pq

    root = Path(text)
    if not root.exists():
        from skewless.errors import FeatureLogError

        raise FeatureLogError(
            f"no served-feature log at {root}; enable logging with FeatureLogConfig(path=...)"
        )
    files = sorted(p for p in root.rglob("part-*.parquet"))
    for f in files:
        try:
            table = pq.read_table(f, columns=list(_COLUMNS))
            cols = {name: table.column(name).to_pylist() for name in _COLUMNS}
        except Exception as e:  # not Parquet, a column missing, a damaged page…
            from skewless.errors import brief

            reader.skip(str(f), f"unreadable file ({type(e).__name__}: {brief(str(e), 160)[1:-1]})")
            continue
        for i in range(table.num_rows):
            try:
                rows = _record_rows(lambda k, i=i, cols=cols: cols[k][i])
            except _BadRecord as e:
                reader.skip(f"{f} row {i}", str(e))
                continue
            yield from rows


def _stream_client(url: str) -> Any:
    """A redis-py client for the log's stream (no I/O yet; faults surface on the first read)."""
    import redis

    from skewless.online.connection import DEFAULT_CONNECT_TIMEOUT, redact

    try:
        return redis.Redis.from_url(url, socket_connect_timeout=DEFAULT_CONNECT_TIMEOUT)
    except ValueError as e:
        from skewless.errors import OnlineStoreError

        raise OnlineStoreError(
            f"{redact(url)} is not a usable Redis URL for the served-feature log: {str(e)[:200]}",
            operation="feature log read",
            url=redact(url),
        ) from None


def _text(b: bytes | None) -> str | None:
    return None if b is None else b.decode("utf-8")
