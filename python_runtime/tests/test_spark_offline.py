"""Spark as the offline store, session mode: `dbt build --target spark` (dbt-spark, `local[2]`),
then `materialize` (driver and executor paths, Python and CLI), `get` and
`consistency` through the Spark reader chosen from the dbt profile — against the suite's real
Redis. The same project is also built on DuckDB, so both engines' loads are compared value by
value and type by type.

Needs Java >= 17 and the spark extra: on a laptop without them the tests skip saying so; under
CI=true they fail instead (`_require_spark`).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from test_integration_spark import _require_spark, forget_local_spark

from skewless.definitions.registry import Registry
from skewless.errors import ColumnTypeError, ManifestError
from skewless.offline import reader_from_profile
from skewless.online import keys
from skewless.online.connection import connect
from skewless.online.store import FeatureStore

# one Spark JVM at a time in the suite (memory): every Spark test runs in this xdist group
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("spark")]

PROJECT = Path(__file__).parent / "projects" / "spark_offline"
UTC = timezone.utc
NOON = datetime(2099, 1, 1, 12, 0, tzinfo=UTC)
USER_FEATURES = [
    "amount",
    "txn_count",
    "n",
    "score",
    "label",
    "last_seen",
    "first_day",
    "flagged",
]
SCHEMA = "spark_offline"


@dataclass(frozen=True)
class SparkProject:
    dir: Path
    registry: Registry  # from the Spark build's manifest
    duck_registry: Registry  # from the DuckDB build's manifest
    duckdb: Path
    reader: Any  # the module's SparkReader: it started Spark from the profile
    build_seconds: float


def _stop_spark() -> None:
    forget_local_spark()  # (and what a property test's local session left in the JVM)


def _dbt_build(project: Path, target: str, env: dict[str, str]) -> None:
    dbt = Path(sys.executable).with_name("dbt")
    proc = subprocess.run(
        [str(dbt), "build", "--target", target,
         "--project-dir", str(project), "--profiles-dir", str(project),
         "--target-path", str(project / f"target-{target}"), "--log-path", str(project / "logs")],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, f"dbt build --target {target} failed:\n{proc.stdout[-5000:]}"


@pytest.fixture(scope="module")
def spark_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkProject]:
    """The fixture project built on Spark and on DuckDB (dbt subprocesses: dbt's in-process
    state never leaks into other tests), then one Spark reader for the module, started from the
    profile as `skewless materialize --dbt-target spark` starts it (its own warehouse and
    metastore, released by the dbt process)."""
    _require_spark()
    _stop_spark()  # a Spark left in this process would be joined, with its own metastore
    base = tmp_path_factory.mktemp("spark-offline")
    with built_on_spark_and_duckdb(PROJECT, base, "SKEWLESS_SPO_DIR", _dbt_build) as built:
        yield built


@contextmanager
def built_on_spark_and_duckdb(
    source: Path,
    base: Path,
    spark_dir_env: str,
    build: Callable[[Path, str, dict[str, str]], None],
) -> Iterator[SparkProject]:
    """`source` copied under `base` and built by `build(project, target, env)` on Spark, then
    on DuckDB (into `<name>.duckdb`, `SKEWLESS_DUCKDB_PATH`), Spark's files under `base/spark`
    (`spark_dir_env`); then one Spark reader started from the profile. Spark is stopped and the
    environment restored after."""
    project = base / source.name
    shutil.copytree(
        source,
        project,
        ignore=shutil.ignore_patterns("target*", "logs", "*.duckdb", "dbt_packages"),
    )
    saved = os.environ.get(spark_dir_env)
    os.environ[spark_dir_env] = str(base / "spark")
    db = project / f"{source.name}.duckdb"
    reader = None
    try:
        t0 = time.monotonic()
        build(project, "spark", {"DBT_SEND_ANONYMOUS_USAGE_STATS": "false"})
        seconds = time.monotonic() - t0
        build(project, "duckdb", {"SKEWLESS_DUCKDB_PATH": str(db)})
        registry = Registry.from_manifest(project / "target-spark" / "manifest.json")
        reader = reader_from_profile(project, project, "spark", registry.views.values())
        yield SparkProject(
            dir=project,
            registry=registry,
            duck_registry=Registry.from_manifest(project / "target-duckdb" / "manifest.json"),
            duckdb=db,
            reader=reader,
            build_seconds=seconds,
        )
    finally:
        if reader is not None:
            reader.close()
        _stop_spark()
        if saved is None:
            os.environ.pop(spark_dir_env, None)
        else:
            os.environ[spark_dir_env] = saved


def _reader(p: SparkProject, target: str = "spark", registry: Registry | None = None) -> Any:
    """A reader of `target`; for `spark`, one that joins the module's Spark (closing it leaves
    Spark running)."""
    reg = registry or p.registry
    return reader_from_profile(p.dir, p.dir, target, reg.views.values())


def _duck_reader(p: SparkProject) -> Any:
    os.environ["SKEWLESS_DUCKDB_PATH"] = str(p.duckdb)
    try:
        return _reader(p, "duckdb", p.duck_registry)
    finally:
        os.environ.pop("SKEWLESS_DUCKDB_PATH", None)


def _get(
    url: str,
    registry: Registry,
    view: str,
    features: list[str],
    entities: list[dict[str, Any]],
    now: datetime = NOON,
) -> list[dict[str, Any]]:
    store = FeatureStore(registry, connect(url), url)
    resp = store.get_online_features([f"{view}.{f}" for f in features], entities, now=now)
    return [{k.split(".")[-1]: v for k, v in row.items()} for row in resp.to_dicts()]


def _same(a: Any, b: Any) -> bool:
    """Equal values of the same type (NaN equals NaN)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b and type(a) is type(b)


def _orphans(url: str) -> list[bytes]:
    """Data keys (`skw:{…}`) that no generation's key list records: what a load leaked."""
    client = connect(url)
    listed: set[bytes] = set()
    data: set[bytes] = set()
    for k in client.scan_iter(count=10_000):
        if k.startswith(b"skw:gen:") and k.endswith(b":keys"):
            listed.update(client.lrange(k, 0, -1))
        elif k.startswith(b"skw:{"):
            data.add(k)
    return sorted(data - listed)


ENTITIES = {
    "user_stats": [{"user_id": u} for u in (1, 2, 3, 4, 5)],
    "pair_stats": [
        {"k": "1", "n": 23},
        {"k": "12", "n": 3},
        {"k": "a}b:%", "n": 1},
        {"k": "1", "n": 3},
    ],
}
FEATURES = {"user_stats": USER_FEATURES, "pair_stats": ["echo"]}


def test_get_serves_exactly_what_spark_holds(
    spark_project: SparkProject, redis_url: str, record_property: Any
) -> None:
    from skewless.offline.spark import SparkReader
    from skewless.online.spark import materialize

    reader = spark_project.reader
    assert isinstance(reader, SparkReader) and reader.owned  # started from the profile
    assert not reader.is_cluster and reader.master == "local[2]"
    joined = _reader(spark_project)
    assert isinstance(joined, SparkReader) and not joined.owned  # joins the running Spark
    joined.close()
    assert reader.spark.sparkContext._jsc is not None  # still running
    t0 = time.perf_counter()
    results = materialize(
        spark_project.registry, connect(redis_url), reader, url=redis_url,
        select=["user_stats", "pair_stats"], now=NOON, write="driver",
    )  # fmt: skip
    seconds = time.perf_counter() - t0
    assert [(r.view, r.rows) for r in results] == [("user_stats", 3), ("pair_stats", 3)]
    record_property(
        "summary",
        f"spark session: dbt build {spark_project.build_seconds:.0f}s, driver-path load of "
        f"2 views {seconds:.1f}s",
    )

    # the oracle: every row as Spark returns it (collect, UTC session), latest per entity in
    # [now - ttl, now - available_after], ties → greatest features (text byte-wise, NULL lowest)
    spark = reader.spark.newSession()
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    rows = spark.sql(
        f"select user_id, ts, {', '.join(USER_FEATURES)} from {SCHEMA}.user_stats"
    ).collect()
    lo, hi = NOON - timedelta(days=1), NOON - timedelta(minutes=10)
    best: dict[int, tuple[Any, ...]] = {}

    def rank(row: tuple[Any, ...]) -> tuple[Any, ...]:
        return (
            row[1],
            *((v is not None, v.encode() if isinstance(v, str) else v) for v in row[2:]),
        )

    for r in map(tuple, rows):
        ts = r[1].replace(tzinfo=UTC)  # timestamp_ntz: naive, read as UTC
        if r[0] is None or not lo <= ts <= hi:
            continue
        if r[0] not in best or rank(r) > rank(best[r[0]]):
            best[r[0]] = r
    assert sorted(best) == [1, 2, 4]
    got = _get(
        redis_url, spark_project.registry, "user_stats", USER_FEATURES, ENTITIES["user_stats"]
    )
    for row, u in zip(got, (1, 2, 3, 4, 5), strict=True):
        if u not in best:
            assert all(row[f] is None for f in USER_FEATURES), row  # 3: only an expired row
            continue
        want = dict(zip(USER_FEATURES, best[u][2:], strict=True))
        for f in USER_FEATURES:
            a, b = row[f], want[f]
            if isinstance(b, datetime):  # Spark hands LTZ values back in the session zone
                b = b.replace(tzinfo=UTC) if b.tzinfo is None else b.astimezone(UTC)
                assert a.utcoffset() == timedelta(0), (u, f, a)
            assert _same(a, b), (u, f, a, b)

    # type-exact, spelled out: DECIMAL, bigint/int extremes, instants, the tie winners
    one, two, _, four, _ = got
    assert one["amount"] == Decimal("12345678901234.5678")
    assert one["txn_count"] == 9223372036854775807 and one["n"] == 2147483647
    assert one["label"] == '日本語 🚀 "q" }{: %7D'  # the 10:00 tie: greater amount wins
    assert one["last_seen"] == datetime(2024, 2, 29, 7, 4, 56, 123456, tzinfo=UTC)
    assert one["first_day"] == date(2024, 2, 29) and one["flagged"] is True
    assert two["label"] == "b" and two["amount"] == Decimal("-0.0001")  # byte-wise: b > B > A
    assert two["last_seen"] is None and two["flagged"] is None
    assert four["txn_count"] == -9223372036854775808 and four["n"] == -2147483648
    assert four["amount"] == Decimal("99999999999999.9999") and math.isnan(four["score"])
    assert four["last_seen"] == datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    pairs = _get(redis_url, spark_project.registry, "pair_stats", ["echo"], ENTITIES["pair_stats"])
    assert [p["echo"] for p in pairs] == ["one-twentythree", "twelve-three", "delimiters", None]


def test_executor_driver_and_duckdb_loads_serve_the_same_values(
    spark_project: SparkProject, redis_url: str
) -> None:
    """The executors' write (each Spark task frames and writes its partition), the driver's
    write and a load of the same project built on DuckDB serve identical values and types;
    the executors' load leaves no key outside its generation's key list."""
    from skewless.online.materialize import materialize as duck_materialize
    from skewless.online.spark import materialize

    views = ["user_stats", "pair_stats", "spark_types", "load_stats"]
    served: dict[str, dict[str, list[dict[str, Any]]]] = {}
    latest: dict[str, list[dict[str, Any]]] = {}
    for how in ("executors", "driver", "duckdb"):
        client = connect(redis_url)
        client.flushall()
        registry = spark_project.duck_registry if how == "duckdb" else spark_project.registry
        reader = _duck_reader(spark_project) if how == "duckdb" else spark_project.reader
        try:
            if how == "duckdb":
                results = duck_materialize(
                    registry, client, reader, select=views[:2] + views[3:], now=NOON
                )
            else:
                results = materialize(
                    registry, client, reader, url=redis_url, select=views, now=NOON, write=how
                )
            # the reader's own latest-row query, in bounded batches
            total, batches = reader.latest_rows(
                registry.view("user_stats"), visible_us=4_102_444_200_000_000, since_us=None,
                chunk_rows=2,
            )  # fmt: skip
            got = [r for b in batches for r in b.to_pylist()]
            assert total == len(got) == 4 and max(len(got[i : i + 2]) for i in range(4)) <= 2
            latest[how] = sorted(got, key=lambda r: r["user_id"])
        finally:
            if how == "duckdb":
                reader.close()
        rows = {r.view: r.rows for r in results}
        assert rows["user_stats"] == 3 and rows["pair_stats"] == 3 and rows["load_stats"] == 2000
        if how == "executors":
            assert rows["spark_types"] == 1
            assert _orphans(redis_url) == []
            # spark_types has no ttl: its keys carried the unfinished-generation guard until
            # the flip cleared it
            st = spark_project.registry.view("spark_types")
            gen = client.get(keys.pointer_key("spark_types", st.version))
            listed = client.lrange(keys.gen_keys_key("spark_types", gen), 0, -1)
            data = [k for k in listed if k.startswith(b"skw:{")]
            assert len(data) == 1 and client.pttl(data[0]) == -1
            spark_types = _get(redis_url, registry, "spark_types", ["n", "s", "t"], [{"k": 7}])
            assert spark_types == [
                {"n": 42, "s": "spark", "t": datetime(2099, 1, 1, 9, 0, 0, 1, tzinfo=UTC)}
            ]
        ents = {**ENTITIES, "load_stats": [{"user_id": u} for u in (0, 7, 1999, 2000)]}
        feats = {**FEATURES, "load_stats": ["v", "d"]}
        served[how] = {
            v: _get(redis_url, registry, v, feats[v], ents[v], now=NOON)
            for v in ("user_stats", "pair_stats")
        }
        served[how]["load_stats"] = _get(
            redis_url, registry, "load_stats", ["v", "d"], ents["load_stats"],
            now=datetime(2099, 1, 2, tzinfo=UTC),
        )  # fmt: skip
    # the latest row of entity 7 is i = 18007 (v = 3i, d = i / 4), of 0 i = 20000; 2000 is none
    assert served["executors"]["load_stats"] == [
        {"v": 60000, "d": 5000.0},
        {"v": 54021, "d": 4501.75},
        {"v": 59997, "d": 4999.75},
        {"v": None, "d": None},
    ]
    # 11:50: users 1 (the 10:00 tie winner), 2, 3 (no since bound here) and 4 on every engine
    assert [r["user_id"] for r in latest["driver"]] == [1, 2, 3, 4]
    assert latest["driver"][1]["label"] == "b"
    for how in ("executors", "duckdb"):
        for a, b in zip(latest[how], latest["driver"], strict=True):
            assert set(a) == set(b)
            for k in a:
                assert _same(a[k], b[k]) or (
                    isinstance(a[k], datetime)
                    and a[k] == b[k]
                    and a[k].utcoffset() == b[k].utcoffset()
                ), (how, k, a[k], b[k])
        for v, rows_ in served[how].items():
            for a, b in zip(rows_, served["driver"][v], strict=True):
                assert set(a) == set(b)
                for k in a:
                    assert _same(a[k], b[k]), (how, v, k, a[k], b[k])


def test_cli_materialize_and_consistency_read_the_spark_target(
    spark_project: SparkProject, redis_url: str
) -> None:
    from skewless.cli import main

    common = [
        "--project-dir", str(spark_project.dir),
        "--target-path", str(spark_project.dir / "target-spark"), "--redis-url", redis_url,
    ]  # fmt: skip
    target = ["--profiles-dir", str(spark_project.dir), "--dbt-target", "spark"]
    res = CliRunner().invoke(
        main, [*common, "materialize", *target, "--spark-write", "executors",
               "--select", "load_stats,pair_stats", "--now", "2099-01-03T00:00:00", "--json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert [(r["view"], r["rows"]) for r in out] == [("load_stats", 2000), ("pair_stats", 3)]
    assert _orphans(redis_url) == []
    res = CliRunner().invoke(
        main, [*common, "consistency", *target, "--select", "load_stats,pair_stats", "--json"]
    )
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["ok"] and report["rows"] == 1003  # a sample of 1000 + 3, compared in Spark
    assert {f["feature"]: f["mismatch"] for f in report["features"]} == {
        "load_stats.v": 0,
        "load_stats.d": 0,
        "pair_stats.echo": 0,
    }
    # a value Redis no longer holds as Spark does: consistency says so (exit 1)
    client = connect(redis_url)
    view = spark_project.registry.view("pair_stats")
    gen = client.get(keys.pointer_key("pair_stats", view.version))
    for k in client.lrange(keys.gen_keys_key("pair_stats", gen), 0, -1):
        if k.startswith(b"skw:{"):
            client.delete(k)
            break
    res = CliRunner().invoke(
        main, [*common, "consistency", *target, "--select", "pair_stats", "--json"]
    )
    assert res.exit_code == 1, res.output
    assert json.loads(res.stdout)["features"][0]["mismatch"] == 1
    # training-record reads the training set's relation in Spark (its columns, count and time
    # range), quoting the spine timestamp column in Spark's dialect
    res = CliRunner().invoke(main, [*common, "training-record", *target, "--model", "training_set"])
    assert res.exit_code == 0, res.output
    record = json.loads(res.stdout)
    assert record["relation"] == f"{SCHEMA}.training_set" and record["row_count"] == 10
    assert record["spine_timestamp"] == "event ts"
    assert record["time_range"] == ["2098-12-30T00:00:00+00:00", "2099-01-02T00:00:00+00:00"]
    assert sorted(record["features"]) == ["user_stats.amount", "user_stats.label"]


def test_declared_types_are_checked_against_spark(
    spark_project: SparkProject, redis_url: str
) -> None:
    from skewless.offline.spark import spark_type_matches
    from skewless.online.spark import materialize

    reader = spark_project.reader
    types = reader.column_types(spark_project.registry.view("user_stats"))
    assert types["ts"] == "timestamp_ntz" and types["last_seen"] == "timestamp"
    assert types["amount"] == "decimal(18,4)" and types["label"] == "string"
    assert types["n"] == "int" and types["txn_count"] == "bigint"
    # Spark's spellings (spark_types: int, string, timestamp_ntz) and the runtime's
    # (user_stats: timestamptz, timestamp) are both accepted
    reader.check_relation_types(
        [spark_project.registry.view(v) for v in ("user_stats", "spark_types", "load_stats")]
    )
    with pytest.raises(ColumnTypeError) as e:
        materialize(
            spark_project.registry, connect(redis_url), reader, url=redis_url,
            select=["bad_types"], now=NOON, write="executors",
        )  # fmt: skip
    msg = str(e.value)
    assert (
        "model `bad_types`, column `ratio`: declared data_type bigint but dbt built double" in msg
    )
    assert "column `total`: declared data_type decimal(18,4) but dbt built bigint" in msg
    assert connect(redis_url).dbsize() == 0  # nothing written
    assert spark_type_matches("timestamp", "timestamp_ntz")
    assert not spark_type_matches("timestamptz", "timestamp_ntz")
    assert not spark_type_matches("timestamp_ntz", "timestamp")
    assert not spark_type_matches("int", "bigint")


def test_an_executor_failure_is_a_skewless_error_without_the_password(
    spark_project: SparkProject,
) -> None:
    """The executors connect with the URL they are given; Redis (started here with a password)
    refuses its wrong one: the load fails as an OnlineStoreError naming the view and the
    target, neither password anywhere in it, nothing flipped."""
    from skewless.errors import OnlineStoreError
    from skewless.online.local_redis import LocalRedis
    from skewless.online.spark import materialize

    right, secret = "right-pass-9f2", "s3cret-do-not-print"
    with LocalRedis("--requirepass", right) as server:
        good = server.url.replace("redis://", f"redis://:{right}@", 1)
        bad = server.url.replace("redis://", f"redis://:{secret}@", 1)
        with pytest.raises(OnlineStoreError) as e:
            materialize(
                spark_project.registry, connect(good), spark_project.reader, url=bad,
                select=["pair_stats"], now=NOON, write="executors",
            )  # fmt: skip
        msg = str(e.value)
        for password in (secret, right):
            assert password not in msg and password not in repr(e.value)
        assert "`pair_stats`" in msg and "target `spark`" in msg and "credentials" in msg
        view = spark_project.registry.view("pair_stats")
        assert connect(good).get(keys.pointer_key("pair_stats", view.version)) is None


def test_other_spark_methods_are_refused_naming_the_target(spark_project: SparkProject) -> None:
    with pytest.raises(ManifestError) as e:
        _reader(spark_project, "thrift")
    msg = str(e.value)
    assert "target `thrift`" in msg and "`method: thrift`" in msg and "method: session" in msg


def test_consistency_and_replay_read_spark_and_catch_a_changed_row(
    spark_project: SparkProject, redis_url: str
) -> None:
    """online vs offline and the point-in-time replay run in Spark; the replay's rows equal
    DuckDB's for the same spine; a row changed in Spark after the load is caught. (Last in the
    module: it changes user_stats.)"""
    from skewless.guards.consistency import online_vs_offline, pit_rows
    from skewless.online.spark import materialize

    views = ["user_stats", "pair_stats"]
    reader = spark_project.reader
    duck = _duck_reader(spark_project)
    try:
        materialize(
            spark_project.registry, connect(redis_url), reader, url=redis_url, select=views,
            now=NOON, write="executors",
        )  # fmt: skip
        store = FeatureStore(spark_project.registry, connect(redis_url), redis_url)
        online = online_vs_offline(store, reader, views=views, sample=100)
        assert online.ok, online.to_table()
        assert online.rows == 7  # users 1-4 (3: expired, null on both sides) and 3 pairs

        # the replay's point-in-time rows: in Spark, equal to DuckDB's (ASOF) for every spine
        spine = [
            ({"user_id": u}, at)
            for u in (1, 2, 3, 4, 5, None, "x")
            for at in (NOON, NOON + timedelta(minutes=4), NOON + timedelta(hours=3),
                       datetime(2099, 1, 1, 10, 10, tzinfo=UTC), datetime(2099, 1, 3, tzinfo=UTC))
        ]  # fmt: skip
        for v, sp in (
            ("user_stats", spine),
            ("pair_stats", [(e, NOON) for e in ENTITIES["pair_stats"]]),
        ):
            got = pit_rows(reader, spark_project.registry.view(v), sp)
            want = pit_rows(duck, spark_project.duck_registry.view(v), sp)
            assert len(got) == len(want) == len(sp)
            feats = [f.name for f in spark_project.registry.view(v).features]
            for (ts_a, a), (ts_b, b), s in zip(got, want, sp, strict=True):
                assert ts_a == ts_b, (v, s, ts_a, ts_b)
                if a is None or b is None:
                    assert a is None and b is None, (v, s)
                    continue
                for f in feats:
                    x, y = a[f], b[f]
                    if isinstance(x, datetime):
                        assert x == y, (v, s, f)
                    else:
                        assert _same(x, y), (v, s, f, x, y)
        # not a vacuous comparison: user 1 at noon is the 10:00 tie winner; at 15:00 the 11:55
        # row (available at 12:05); user 3 at noon is past its ttl
        rows = pit_rows(reader, spark_project.registry.view("user_stats"), spine)
        assert rows[0][0] == datetime(2099, 1, 1, 10, tzinfo=UTC)
        assert rows[0][1] is not None and rows[0][1]["label"] == '日本語 🚀 "q" }{: %7D'
        assert rows[2][1] is not None and rows[2][1]["label"] == "not available yet"
        assert rows[10] == (None, None)

        # the offline row changes after the load (a same-timestamp row with a greater amount
        # now wins user 4's tie): the check sees it
        spark = reader.spark
        spark.sql(
            f"insert into {SCHEMA}.user_stats select 4, timestamp_ntz'2099-01-01 11:30:00', "
            "cast(99999999999999.9999 as decimal(18,4)), -9223372036854775808, -2147483648, "
            f"double('NaN'), 'zz', last_seen, first_day, flagged from {SCHEMA}.user_stats "
            "where user_id = 4 limit 1"
        )
        online = online_vs_offline(store, reader, views=views, sample=100)
    finally:
        duck.close()
    assert online.breaches == ["user_stats.label"]
