"""Served-feature logging: sampling by entity key, a bounded queue that drops and counts, sinks
that never fail a request, and exact round trips through Parquet and a Redis stream."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from skewless.errors import SkewlessError
from skewless.guards.feature_log import (
    FeatureLogConfig,
    FeatureLogger,
    dumps_typed,
    entity_sampled,
    loads_typed,
    read_feature_log,
)

UTC = timezone.utc
FEATURES = ["user_stats.txn_count", "user_stats.avg_amount"]


def _log_one(logger: FeatureLogger, user_id: Any, **kw: Any) -> bool:
    return logger.log(
        FEATURES,
        [{"user_id": user_id}],
        [[7, 12.5]],
        [["present", "present"]],
        {"user_stats": "abc123"},
        **kw,
    )


def test_sampling_keeps_every_request_of_a_sampled_key(tmp_path: Path) -> None:
    cfg = FeatureLogConfig(path=str(tmp_path / "log"), sample_rate=0.3, queue_size=100_000)
    with FeatureLogger(cfg) as logger:
        for _round in range(5):
            for uid in range(400):
                _log_one(logger, uid)
    counts: dict[int, int] = {}
    for row in read_feature_log(tmp_path / "log"):
        counts[row.entity["user_id"]] = counts.get(row.entity["user_id"], 0) + 1
    assert set(counts.values()) == {5}, "a sampled key must keep every one of its requests"
    assert 0.2 * 400 < len(counts) < 0.4 * 400
    assert logger.stats.sampled_out == 5 * (400 - len(counts))
    # The hash is stable across processes: another interpreter picks the same keys.
    code = (
        "from skewless.guards.feature_log import entity_sampled;"
        "print([u for u in range(400) if entity_sampled({'user_id': u}, 0.3)])"
    )
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(other.stdout) == sorted(counts)


def test_sampling_is_per_entity_within_a_call(tmp_path: Path) -> None:
    entities = [{"user_id": u} for u in range(50)]
    kept = [i for i, e in enumerate(entities) if entity_sampled(e, 0.5)]
    assert 0 < len(kept) < 50
    with FeatureLogger(FeatureLogConfig(path=str(tmp_path), sample_rate=0.5)) as logger:
        logger.log(
            ["v.x"],
            entities,
            [[i] for i in range(50)],
            [["present"]] * 50,
            {"v": "1"},
            request=None,
        )
    rows = list(read_feature_log(tmp_path))
    assert sorted(r.row for r in rows) == kept
    assert all(r.values["v.x"] == r.row and r.entity == entities[r.row] for r in rows)
    assert len({r.request_id for r in rows}) == 1


def test_sample_by_hashes_only_the_named_columns() -> None:
    a = entity_sampled({"user_id": 5, "merchant_id": 1}, 0.5, sample_by=("user_id",))
    assert all(
        entity_sampled({"user_id": 5, "merchant_id": m}, 0.5, sample_by=("user_id",)) == a
        for m in range(100)
    )


class SlowSink:
    """A real sink that takes its time: each write sleeps, as a slow disk or network would."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.rows: list[tuple[Any, ...]] = []

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        time.sleep(self.delay)
        self.rows.extend(rows)

    def close(self) -> None:
        pass


def test_full_queue_drops_and_counts_without_blocking() -> None:
    sink = SlowSink(delay=0.3)
    cfg = FeatureLogConfig(path="unused", queue_size=20, flush_interval=0.01, rows_per_file=5)
    logger = FeatureLogger(cfg, sink=sink)
    timings = []
    accepted = 0
    for uid in range(2000):
        t0 = time.perf_counter()
        accepted += _log_one(logger, uid)
        timings.append(time.perf_counter() - t0)
    # The sink needs >= 0.3 s per 5 rows; 2000 calls went by far faster: nothing waited for it.
    assert sum(timings) < 0.3
    assert max(timings) < 0.05
    assert logger.stats.dropped > 1000
    assert logger.stats.dropped + logger.stats.calls == 2000 == accepted + logger.stats.dropped
    logger.close(timeout=60)
    assert logger.stats.rows_written == accepted == len(sink.rows)


class BrokenSink:
    def write(self, rows: list[tuple[Any, ...]]) -> None:
        raise OSError("disk full")

    def close(self) -> None:
        raise OSError("still full")


def test_sink_errors_are_counted_never_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    logger = FeatureLogger(FeatureLogConfig(path="unused", flush_interval=0.01), sink=BrokenSink())
    assert all(_log_one(logger, u) for u in range(10))
    logger.close()
    assert logger.stats.rows_written == 0
    assert logger.stats.rows_failed == 10
    assert logger.stats.sink_errors >= 2
    assert "disk full" in logger.stats.last_error or "still full" in logger.stats.last_error
    assert "disk full" in caplog.text


def test_parquet_sink_error_on_an_unwritable_path_is_counted(tmp_path: Path) -> None:
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the log folder should be")
    with FeatureLogger(FeatureLogConfig(path=str(blocker))) as logger:
        assert _log_one(logger, 1)
    assert logger.stats.rows_failed == 1 and logger.stats.rows_written == 0


def test_logging_after_close_is_refused_quietly(tmp_path: Path) -> None:
    logger = FeatureLogger(FeatureLogConfig(path=str(tmp_path)))
    logger.close()
    assert _log_one(logger, 1) is False


EXOTIC: dict[str, Any] = {
    "v.nan": float("nan"),
    "v.inf": float("inf"),
    "v.ninf": float("-inf"),
    "v.negzero": -0.0,
    "v.tiny": 5e-324,
    "v.third": 1 / 3,
    "v.big": 2**63 - 1,
    "v.small": -(2**63),
    "v.huge": 10**30,
    "v.dec": Decimal("12.3400"),
    "v.negdec": Decimal("-0.000000000000000001"),
    "v.ts": datetime(2024, 3, 31, 1, 59, 59, 999999, tzinfo=UTC),
    "v.naive_ts": datetime(2024, 1, 1, 12, 0),
    "v.day": date(1970, 1, 1),
    "v.text": 'héllo "wörld" \\ 🎉 \x00 , ; :',
    "v.empty": "",
    "v.null": None,
    "v.true": True,
    "v.zero": 0,
    "v.bytes": b"\x00\xff",
    "v.span": timedelta(days=-1, microseconds=3),
    "v.dollar": "$d",
    "v.list": [1, 2.5, None],
}


def _assert_same(a: Any, b: Any) -> None:
    assert type(a) is type(b), (a, b)
    if isinstance(a, float):
        if math.isnan(a):
            assert math.isnan(b)
        else:
            assert a == b and math.copysign(1, a) == math.copysign(1, b)
    elif isinstance(a, Decimal):
        assert str(a) == str(b)
    elif isinstance(a, datetime):
        assert a == b and a.tzinfo == b.tzinfo
    else:
        assert a == b


def _exotic_call(logger: FeatureLogger, served_at: datetime) -> None:
    feats = list(EXOTIC)
    logger.log(
        feats,
        [{"user_id": "ü-1", "merchant_id": 10**20}],
        [[EXOTIC[f] for f in feats]],
        [["present"] * len(feats)],
        {"v": "0123456789ab"},
        request=[{"amount": Decimal("99.99"), "when": served_at, "country": None}],
        ages=[[1.5] * len(feats)],
        served_at=served_at,
    )


def test_parquet_round_trip_is_exact(tmp_path: Path) -> None:
    served = datetime(2026, 11, 25, 16, 59, 30, 123456, tzinfo=UTC)
    with FeatureLogger(FeatureLogConfig(path=str(tmp_path))) as logger:
        _exotic_call(logger, served)
        _exotic_call(logger, served + timedelta(hours=1))
    files = sorted(p.relative_to(tmp_path).parts[:2] for p in tmp_path.rglob("part-*.parquet"))
    assert files == [("date=2026-11-25", "hour=16"), ("date=2026-11-25", "hour=17")]
    assert not list(tmp_path.rglob("*.tmp"))
    rows = sorted(read_feature_log(tmp_path), key=lambda r: r.served_at)
    assert [r.served_at for r in rows] == [served, served + timedelta(hours=1)]
    for row in rows:
        assert row.entity == {"user_id": "ü-1", "merchant_id": 10**20}
        assert row.request["amount"] == Decimal("99.99") and row.request["country"] is None
        assert row.versions == {"v": "0123456789ab"}
        assert row.statuses == dict.fromkeys(EXOTIC, "present")
        assert row.ages == dict.fromkeys(EXOTIC, 1.5)
        assert list(row.values) == list(EXOTIC)
        for name, value in EXOTIC.items():
            _assert_same(value, row.values[name])
    # features and versions are strict JSON text (no NaN tokens), DuckDB reads them; the call
    # document is msgpack (binary), the cheap encoding for the background writer.
    table = pq.read_table(next(tmp_path.rglob("part-*.parquet")))
    assert table.column_names == ["request_id", "served_at", "features", "versions", "call"]
    for name in ("features", "versions"):
        text = table.column(name)[0].as_py()
        json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    import msgpack

    assert str(table.schema.field("call").type) == "binary"
    assert isinstance(msgpack.unpackb(table.column("call")[0].as_py(), strict_map_key=False), list)
    import duckdb

    con = duckdb.connect()
    (n,) = con.execute(
        f"SELECT count(*) FROM read_parquet('{tmp_path}/**/*.parquet') "
        "WHERE json_valid(features) AND json_valid(versions)"
    ).fetchone()
    assert n == 2


def test_redis_stream_sink_round_trip_and_maxlen(redis_url: str) -> None:
    served = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    cfg = FeatureLogConfig(sink="redis_stream", redis_url=redis_url, stream="t:log", maxlen=100)
    with FeatureLogger(cfg) as logger:
        _exotic_call(logger, served)
    rows = list(read_feature_log(redis_url, stream="t:log"))
    assert len(rows) == 1
    assert rows[0].served_at == served
    for name, value in EXOTIC.items():
        _assert_same(value, rows[0].values[name])
    with FeatureLogger(cfg) as logger:
        for uid in range(3000):
            _log_one(logger, uid)
    length = redis.Redis.from_url(redis_url).xlen("t:log")
    assert 100 <= length < 1000, "XADD MAXLEN ~ 100 must trim the stream"
    assert logger.stats.rows_written == 3000


def test_flush_makes_queued_rows_readable_while_logging_continues(tmp_path: Path) -> None:
    logger = FeatureLogger(FeatureLogConfig(path=str(tmp_path), flush_interval=30))
    for uid in range(100):
        _log_one(logger, uid)
    assert logger.flush(timeout=10)
    assert len(list(read_feature_log(tmp_path))) == 100
    stop = threading.Event()

    def keep_logging() -> None:
        uid = 1000
        while not stop.is_set():
            _log_one(logger, uid)
            uid += 1

    t = threading.Thread(target=keep_logging)
    t.start()
    time.sleep(0.05)
    stop.set()
    t.join()
    logger.close()
    assert logger.stats.rows_written == logger.stats.calls
    assert len(list(read_feature_log(tmp_path))) == logger.stats.calls


def test_config_from_env() -> None:
    assert FeatureLogConfig.from_env({}) is None
    cfg = FeatureLogConfig.from_env(
        {"SKEWLESS_FEATURE_LOG": "/var/log/f", "SKEWLESS_FEATURE_LOG_SAMPLE_RATE": "0.25"}
    )
    assert cfg is not None and cfg.sink == "parquet" and cfg.sample_rate == 0.25
    cfg = FeatureLogConfig.from_env({"SKEWLESS_FEATURE_LOG": "redis://h:1/0"})
    assert cfg is not None and cfg.sink == "redis_stream"
    with pytest.raises(ValueError, match="sample_rate"):
        FeatureLogConfig(path="x", sample_rate=2)
    with pytest.raises(ValueError, match="path"):
        FeatureLogConfig(sink="parquet")
    # a bad variable is a skewless error naming it (it used to be a bare ValueError of float())
    for name, text in (("SAMPLE_RATE", "abc"), ("QUEUE_SIZE", "1.5"), ("SAMPLE_RATE", "2")):
        with pytest.raises(SkewlessError, match=r"SAMPLE_RATE|QUEUE_SIZE|sample_rate"):
            FeatureLogConfig.from_env(
                {"SKEWLESS_FEATURE_LOG": "/var/log/f", f"SKEWLESS_FEATURE_LOG_{name}": text}
            )


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.datetimes(timezones=st.just(UTC)),
    st.dates(),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(min_size=1), scalars, max_size=6))
def test_typed_json_round_trip(values: dict[str, Any]) -> None:
    back = loads_typed(dumps_typed(values))
    assert list(back) == list(values)
    for k, v in values.items():
        _assert_same(v, back[k])


class _Served:
    """The public surface of an OnlineResponse the logger reads (features, entities, values,
    versions, served_at, and the cheap per-view `view_statuses`)."""

    def __init__(self) -> None:
        self.features = ("a.x", "a.y", "b.z")
        self.entities = [{"user_id": 1}, {"user_id": 2}]
        self.values = [[1, 2.5, "p"], [None, None, "q"]]
        self.versions = {"a": "va", "b": "vb"}
        self.served_at = datetime(2026, 5, 1, 10, tzinfo=UTC)
        self.view_statuses = (("a", "b"), [["present", "present"], ["missing", "stale"]])


def test_log_response_with_per_view_statuses(tmp_path: Path) -> None:
    with FeatureLogger(FeatureLogConfig(path=str(tmp_path))) as logger:
        assert logger.log_response(_Served(), request=[{"amount": 1}, {"amount": 2}])
    rows = sorted(read_feature_log(tmp_path), key=lambda r: r.row)
    assert [r.values for r in rows] == [
        {"a.x": 1, "a.y": 2.5, "b.z": "p"},
        {"a.x": None, "a.y": None, "b.z": "q"},
    ]
    assert rows[1].statuses == {"a.x": "missing", "a.y": "missing", "b.z": "stale"}
    assert rows[0].versions == {"a": "va", "b": "vb"}
    assert rows[0].served_at == datetime(2026, 5, 1, 10, tzinfo=UTC)
    assert [r.request for r in rows] == [{"amount": 1}, {"amount": 2}]


def test_queued_rows_are_written_at_interpreter_exit(tmp_path: Path) -> None:
    code = (
        "from skewless.guards.feature_log import FeatureLogConfig, FeatureLogger\n"
        f"lg = FeatureLogger(FeatureLogConfig(path={str(tmp_path)!r}, flush_interval=3600))\n"
        "for u in range(50):\n"
        "    lg.log(['v.x'], [{'user_id': u}], [[u]], [['present']], {'v': '1'})\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    assert sorted(r.entity["user_id"] for r in read_feature_log(tmp_path)) == list(range(50))


def test_a_backlog_wakes_the_writer_before_the_flush_interval(tmp_path: Path) -> None:
    """A queue far smaller than one flush interval of traffic still loses nothing when the
    writer can keep up: the caller wakes it once half the queue waits."""
    cfg = FeatureLogConfig(path=str(tmp_path), queue_size=40, flush_interval=3600)
    with FeatureLogger(cfg) as logger:
        for uid in range(1500):
            _log_one(logger, uid)
            time.sleep(0.0005)  # paced traffic, ~2000 calls/s
        assert logger.stats.dropped == 0
    assert logger.stats.rows_written == 1500


def test_logs_written_as_typed_json_are_still_read(tmp_path: Path) -> None:
    """Before msgpack, the call document was typed JSON text; such files still replay."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    served = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    call = json.dumps(
        [[0], [{"user_id": 7}], None, [[{"$d": "1.50"}, {"$f": "nan"}]],
         {"features": True, "rows": [["present", "missing"]]}, None]
    )  # fmt: skip
    folder = tmp_path / "date=2026-01-02" / "hour=03"
    folder.mkdir(parents=True)
    pq.write_table(
        pa.table(
            {
                "request_id": ["r1"],
                "served_at": pa.array([served], pa.timestamp("us", tz="UTC")),
                "features": ['["v.a", "v.b"]'],
                "versions": ['{"v": "abc"}'],
                "call": [call],
            }
        ),
        folder / "part-old.parquet",
    )
    (row,) = list(read_feature_log(tmp_path))
    assert row.entity == {"user_id": 7}
    assert row.values["v.a"] == Decimal("1.50") and math.isnan(row.values["v.b"])
    assert row.statuses == {"v.a": "present", "v.b": "missing"}
