"""PostgreSQL as the offline store: `dbt build --target postgres`, then `materialize` (Python and
CLI) through the ADBC reader chosen from the dbt profile, then `get` — against the real local
PostgreSQL and the suite's real Redis. The same project is also built on DuckDB so both engines'
loads are compared value by value. Never skipped when CI=true (the `postgres` fixture fails).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import postgres_dsn

from skewless.definitions.registry import Registry
from skewless.errors import ColumnTypeError, ManifestError
from skewless.offline import reader_from_profile
from skewless.offline.postgres import PostgresReader
from skewless.offline.profile import profile_target
from skewless.online.connection import connect
from skewless.online.materialize import materialize
from skewless.online.store import FeatureStore

pytestmark = pytest.mark.postgres

PROJECT = Path(__file__).parent / "projects" / "postgres_offline"
NOON = datetime(2099, 1, 1, 12, 0, tzinfo=timezone.utc)
UTC = timezone.utc
USER_FEATURES = [
    "amount",
    "txn_count",
    "score",
    "label",
    "last_seen",
    "first_day",
    "flagged",
]


@dataclass(frozen=True)
class PgProject:
    dir: Path
    schema: str
    env: dict[str, str]
    registry: Registry
    duckdb: Path


def _pg_env(schema: str) -> dict[str, str]:
    dsn = postgres_dsn()
    return {
        "SKEWLESS_PGO_SCHEMA": schema,
        "SKEWLESS_PG_HOST": str(dsn["host"]),
        "SKEWLESS_PG_PORT": str(dsn["port"]),
        "SKEWLESS_PG_USER": str(dsn["user"]),
        "SKEWLESS_PG_PASSWORD": str(dsn["password"]),
        "SKEWLESS_PG_DATABASE": str(dsn["dbname"]),
    }


def _dbt_build(project: Path, env: dict[str, str], target: str) -> None:
    dbt = Path(sys.executable).with_name("dbt")
    proc = subprocess.run(
        [
            str(dbt), "build", "--target", target,
            "--project-dir", str(project), "--profiles-dir", str(project),
            "--target-path", str(project / f"target-{target}"),
            "--log-path", str(project / "logs"),
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, (
        f"dbt build --target {target} failed:\n{proc.stdout}\n{proc.stderr}"
    )


@pytest.fixture(scope="module")
def pg_project(tmp_path_factory: pytest.TempPathFactory, postgres: Any) -> Iterator[PgProject]:
    """The fixture project built on PostgreSQL (a fresh schema, the session in a non-UTC time
    zone: naive timestamps must still read as UTC) and on DuckDB."""
    base = tmp_path_factory.mktemp("pg-offline")
    project = base / "postgres_offline"
    shutil.copytree(PROJECT, project, ignore=shutil.ignore_patterns("target*", "logs", "*.duckdb"))
    schema = f"skewless_pgo_{uuid.uuid4().hex[:10]}"
    env = {**_pg_env(schema), "PGTZ": "America/New_York"}
    db = project / "postgres_offline.duckdb"
    try:
        _dbt_build(project, env, "postgres")
        _dbt_build(project, {**env, "SKEWLESS_DUCKDB_PATH": str(db)}, "duckdb")
        registry = Registry.from_manifest(project / "target-postgres" / "manifest.json")
        yield PgProject(project, schema, env, registry, db)
    finally:
        cur = postgres.cursor()  # type: ignore[attr-defined]
        cur.execute(f"drop schema if exists {schema} cascade")
        cur.close()


@pytest.fixture()
def pg_env(pg_project: PgProject, monkeypatch: pytest.MonkeyPatch) -> PgProject:
    """The project's env vars set (the reader renders profiles.yml from the environment)."""
    for k, v in pg_project.env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("DBT_PROFILES_DIR", raising=False)
    monkeypatch.delenv("DBT_TARGET", raising=False)
    return pg_project


def _reader(p: PgProject, target: str = "postgres") -> Any:
    return reader_from_profile(p.dir, p.dir, target, p.registry.views.values())


def _get(
    url: str,
    p: PgProject,
    view: str,
    features: list[str],
    entities: list[dict[str, Any]],
    registry: Registry | None = None,
) -> list[dict[str, Any]]:
    store = FeatureStore(registry or p.registry, connect(url), url)
    resp = store.get_online_features([f"{view}.{f}" for f in features], entities, now=NOON)
    return [{k.split(".")[-1]: v for k, v in row.items()} for row in resp.to_dicts()]


def _pg_rows(postgres: Any, sql: str) -> list[tuple[Any, ...]]:
    cur = postgres.cursor()
    cur.execute("set time zone 'UTC'")
    cur.execute(sql)
    rows = cur.fetchall()
    cur.close()
    return list(rows)


def test_get_serves_exactly_what_postgres_holds(
    pg_env: PgProject, redis_url: str, postgres: Any
) -> None:
    reader = _reader(pg_env)
    assert isinstance(reader, PostgresReader)
    try:
        results = materialize(
            pg_env.registry, connect(redis_url), reader, select=["user_stats"], now=NOON
        )
    finally:
        reader.close()
    assert [(r.view, r.rows) for r in results] == [("user_stats", 3)]  # users 1, 2 and 4

    # the oracle: every row from PostgreSQL (psycopg2, typed by PostgreSQL), latest per entity
    # in [now - ttl, now - available_after], ties → greatest features (text byte-wise)
    rows = _pg_rows(
        postgres,
        f"select user_id, ts, {', '.join(USER_FEATURES)} from {pg_env.schema}.user_stats",
    )
    lo, hi = NOON - timedelta(days=1), NOON - timedelta(minutes=10)
    best: dict[int, tuple[Any, ...]] = {}
    for r in rows:
        ts = r[1].replace(tzinfo=UTC)
        if r[0] is None or not lo <= ts <= hi:
            continue

        def rank(row: tuple[Any, ...]) -> tuple[Any, ...]:
            return (
                row[1],
                *((v is not None, v.encode() if isinstance(v, str) else v) for v in row[2:]),
            )

        if r[0] not in best or rank(r) > rank(best[r[0]]):
            best[r[0]] = r
    assert sorted(best) == [1, 2, 4]
    got = _get(
        redis_url, pg_env, "user_stats", USER_FEATURES, [{"user_id": u} for u in (1, 2, 3, 4)]
    )
    for row, u in zip(got, (1, 2, 3, 4), strict=True):
        if u == 3:
            assert all(row[f] is None for f in USER_FEATURES), row  # only an expired row
            continue
        want = dict(zip(USER_FEATURES, best[u][2:], strict=True))
        for f in USER_FEATURES:
            a, b = row[f], want[f]
            if isinstance(b, float) and b != b:
                assert isinstance(a, float) and a != a, (u, f, a)
                continue
            assert a == b and type(a) is type(b), (u, f, a, b)
            if isinstance(b, datetime):
                assert a.utcoffset() == timedelta(0), (u, f, a)

    # type-exact, spelled out: DECIMAL, bigint extremes, timestamptz instants, the tie winners
    one, two, _, four = got
    assert one["amount"] == Decimal("12345678901234.5678")
    assert one["txn_count"] == 9223372036854775807
    assert one["label"] == '日本語 🚀 "q" }{: %7D'  # the 10:00 tie: greater amount wins
    assert one["last_seen"] == datetime(2024, 2, 29, 7, 4, 56, 123456, tzinfo=UTC)
    assert one["first_day"] == date(2024, 2, 29) and one["flagged"] is True
    assert two["label"] == "b" and two["amount"] == Decimal("-0.0001")  # byte-wise: b > B > A
    assert two["last_seen"] is None and two["flagged"] is None
    assert four["txn_count"] == -9223372036854775808
    assert four["amount"] == Decimal("99999999999999.9999")
    assert four["last_seen"] == datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


def test_postgres_and_duckdb_loads_serve_the_same_values(pg_env: PgProject, redis_url: str) -> None:
    views = ["user_stats", "pair_stats"]
    ents = {
        "user_stats": [{"user_id": u} for u in (1, 2, 3, 4, 5)],
        "pair_stats": [
            {"k": "1", "n": 23},
            {"k": "12", "n": 3},
            {"k": "a}b:%", "n": 1},
            {"k": "1", "n": 3},
        ],
    }
    feats = {"user_stats": USER_FEATURES, "pair_stats": ["echo"]}
    served: dict[str, dict[str, list[dict[str, Any]]]] = {}
    latest: dict[str, list[dict[str, Any]]] = {}
    for target in ("postgres", "duckdb"):
        connect(redis_url).flushall()
        # each build's own manifest: the relation names differ per engine
        registry = Registry.from_manifest(pg_env.dir / f"target-{target}" / "manifest.json")
        if target == "duckdb":
            os.environ["SKEWLESS_DUCKDB_PATH"] = str(pg_env.duckdb)
        try:
            reader = reader_from_profile(pg_env.dir, pg_env.dir, target, registry.views.values())
        finally:
            os.environ.pop("SKEWLESS_DUCKDB_PATH", None)
        assert reader.engine == target
        try:
            results = materialize(registry, connect(redis_url), reader, select=views, now=NOON)
            # the reader's own latest-row query (the generic path), in bounded batches
            total, batches = reader.latest_rows(
                registry.view("user_stats"), visible_us=4_102_444_200_000_000, since_us=None,
                chunk_rows=2,
            )  # fmt: skip
            got = [r for b in batches for r in b.to_pylist()]
            assert total == len(got) == 4 and max(len(got[i : i + 2]) for i in range(4)) <= 2
            latest[target] = sorted(got, key=lambda r: r["user_id"])
        finally:
            reader.close()
        assert [r.rows for r in results] == [3, 3]
        served[target] = {v: _get(redis_url, pg_env, v, feats[v], ents[v], registry) for v in views}
    # 11:50 (now - available_after at noon): users 1 (the 10:00 tie winner), 2, 3 (expired at
    # noon, but no since bound here) and 4, the same rows from both engines
    assert [r["user_id"] for r in latest["postgres"]] == [1, 2, 3, 4]
    assert latest["postgres"][1]["label"] == "b"
    assert repr(latest["postgres"]) == repr(latest["duckdb"])  # same values, same Arrow types
    pg, duck = served["postgres"], served["duckdb"]
    assert pg["pair_stats"][0]["echo"] == "one-twentythree"
    assert pg["pair_stats"][1]["echo"] == "twelve-three"
    assert pg["pair_stats"][2]["echo"] == "delimiters"
    assert pg["pair_stats"][3]["echo"] is None  # (1, 3) is no entity
    for v in views:
        for a, b in zip(pg[v], duck[v], strict=True):
            assert set(a) == set(b)
            for k in a:
                same = a[k] == b[k] or (a[k] != a[k] and b[k] != b[k])  # NaN
                assert same and type(a[k]) is type(b[k]), (v, k, a[k], b[k])


def test_cli_materialize_reads_the_postgres_target(
    pg_env: PgProject, redis_url: str, record_property: Any
) -> None:
    from skewless.cli import main

    res = CliRunner().invoke(
        main,
        [
            "--project-dir", str(pg_env.dir),
            "--target-path", str(pg_env.dir / "target-postgres"),
            "--redis-url", redis_url,
            "materialize", "--profiles-dir", str(pg_env.dir), "--dbt-target", "postgres",
            "--select", "load_stats", "--now", "2099-01-03T00:00:00", "--json",
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    import json

    out = json.loads(res.stdout)
    assert [(r["view"], r["rows"]) for r in out] == [("load_stats", 20000)]
    rate = out[0]["rows"] / (out[0]["query_seconds"] + out[0]["write_seconds"])
    record_property(
        "summary",
        f"postgres materialize: 100,000 source rows → 20,000 latest rows in "
        f"{out[0]['query_seconds'] + out[0]['write_seconds']:.2f}s ({rate:,.0f} rows/s written)",
    )
    # the latest row of entity 7 is i = 80007 (i % 20000 == 7): v = 3i, d = i / 4
    store = FeatureStore(pg_env.registry, connect(redis_url), redis_url)
    got = store.get_online_features(
        ["load_stats.v", "load_stats.d"], [{"user_id": 7}], now=datetime(2099, 1, 3, tzinfo=UTC)
    ).to_dicts()
    assert got == [{"load_stats.v": 240021, "load_stats.d": 20001.75}]


def test_cli_consistency_and_training_record_read_the_postgres_target(
    pg_env: PgProject, redis_url: str
) -> None:
    """`consistency` and `training-record` open the profile target's engine, as `materialize`."""
    import json

    from skewless.cli import main

    common = [
        "--project-dir", str(pg_env.dir), "--target-path", str(pg_env.dir / "target-postgres"),
        "--redis-url", redis_url,
    ]  # fmt: skip
    target = ["--profiles-dir", str(pg_env.dir), "--dbt-target", "postgres"]
    res = CliRunner().invoke(
        main, [*common, "materialize", *target, "--select", "load_stats",
               "--now", "2099-01-03T00:00:00"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(
        main, [*common, "consistency", *target, "--select", "load_stats", "--json"]
    )
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["ok"] and report["rows"] == 1000  # a sample compared against PostgreSQL
    assert {f["feature"]: f["mismatch"] for f in report["features"]} == {
        "load_stats.v": 0,
        "load_stats.d": 0,
    }
    res = CliRunner().invoke(main, [*common, "training-record", *target, "--model", "training_set"])
    assert res.exit_code == 0, res.output
    record = json.loads(res.stdout)  # read from PostgreSQL: its relation name and row count
    assert record["relation"] == f'"test"."{pg_env.schema}"."training_set"'
    assert record["row_count"] == 10


def test_declared_types_are_checked_against_postgres(pg_env: PgProject, redis_url: str) -> None:
    reader = _reader(pg_env)
    try:
        types = reader.column_types(pg_env.registry.view("user_stats"))
        assert types["amount"] == "numeric(18,4)" and types["ts"] == "timestamp without time zone"
        assert types["last_seen"] == "timestamp with time zone" and types["txn_count"] == "bigint"
        with pytest.raises(ColumnTypeError) as e:
            materialize(pg_env.registry, connect(redis_url), reader, select=["bad_types"], now=NOON)
    finally:
        reader.close()
    msg = str(e.value)
    assert "`total`" in msg and "numeric without precision" in msg
    assert "`ratio`" in msg and "double precision" in msg
    assert connect(redis_url).dbsize() == 0  # nothing written


def test_profile_is_rendered_and_secrets_never_printed(
    pg_env: PgProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = f"s3cret-{uuid.uuid4().hex}"
    monkeypatch.setenv("SKEWLESS_PG_PASSWORD", secret)
    t = profile_target(pg_env.dir, pg_env.dir, "postgres")
    assert t.type == "postgres" and t.get("port") == int(pg_env.env["SKEWLESS_PG_PORT"])
    assert t.get("password") == secret and secret not in repr(t)
    reader = _reader(pg_env)  # trust auth: the password is sent and ignored
    assert secret not in repr(reader)
    reader.close()
    monkeypatch.setenv("SKEWLESS_PG_PORT", "1")  # nothing listens: the connection fails
    with pytest.raises(ManifestError) as e:
        _reader(pg_env)
    assert "cannot connect to PostgreSQL" in str(e.value) and ":1/" in str(e.value)
    assert secret not in str(e.value)
    monkeypatch.setenv("SKEWLESS_PGO_TARGET", "nope")
    with pytest.raises(ManifestError, match="no target `nope`"):
        reader_from_profile(pg_env.dir, pg_env.dir)


def test_reader_streams_bounded_batches(pg_env: PgProject) -> None:
    reader = _reader(pg_env)
    try:
        view = pg_env.registry.view("load_stats")
        t0 = time.perf_counter()
        total, batches = reader.latest_rows(
            view, visible_us=4_102_531_200_000_000, since_us=None, chunk_rows=3000
        )
        sizes = [b.num_rows for b in batches]
        assert total == 20000 and sum(sizes) == 20000 and max(sizes) <= 3000
        assert time.perf_counter() - t0 < 60
        (batch,) = list(reader.query("select 1.50::numeric(10,2) as x, 2::bigint as y", 10))
        assert str(batch.schema.field("x").type) == "decimal128(10, 2)"
        assert batch.to_pylist() == [{"x": Decimal("1.50"), "y": 2}]
    finally:
        reader.close()


def test_training_record_reads_postgres(pg_env: PgProject) -> None:
    from skewless.guards.training import training_record

    registry = Registry.from_dbt(pg_env.dir, target_path="target-postgres")
    reader = _reader(pg_env)
    try:
        record = training_record(registry, "training_set", reader, project_dir=pg_env.dir)
    finally:
        reader.close()
    assert record["row_count"] == 10 and record["spine_timestamp"] == "event_ts"
    assert record["time_range"] == ["2098-12-30T00:00:00+00:00", "2099-01-02T00:00:00+00:00"]
    assert record["relation"] == f'"test"."{pg_env.schema}"."training_set"'
    assert sorted(record["features"]) == ["user_stats.amount", "user_stats.label"]


def test_consistency_reads_postgres_and_catches_a_changed_row(
    pg_env: PgProject, redis_url: str, postgres: Any, tmp_path: Path
) -> None:
    from skewless.guards.consistency import online_vs_offline, replay
    from skewless.guards.feature_log import FeatureLogConfig, FeatureLogger, read_feature_log

    views = ["user_stats", "pair_stats"]
    reader = _reader(pg_env)
    try:
        materialize(pg_env.registry, connect(redis_url), reader, select=views, now=NOON)
        store = FeatureStore(pg_env.registry, connect(redis_url), redis_url)
        refs = [f"user_stats.{f}" for f in USER_FEATURES]
        for folder, times in (
            ("log", (NOON, NOON + timedelta(minutes=4))),
            ("later", (NOON + timedelta(hours=3),)),
        ):
            logger = FeatureLogger(FeatureLogConfig(path=str(tmp_path / folder))).attach(store)
            for t in times:
                store.get_online_features(refs, [{"user_id": u} for u in range(1, 6)], now=t)
            store.get_online_features(["pair_stats.echo"], [{"k": "a}b:%", "n": 1}], now=NOON)
            logger.close()

        online = online_vs_offline(store, reader, views=views, sample=100)
        assert online.ok, online.to_table()
        assert online.rows == 7  # users 1-4 (3: expired, null on both sides) and 3 pairs
        log = list(read_feature_log(tmp_path / "log"))
        clean = replay(pg_env.registry, reader, log)
        assert clean.ok, clean.to_table()
        assert clean.rows == 11
        by = {f.feature: f for f in clean.features}
        assert by["user_stats.amount"].total == 10 and by["user_stats.amount"].both_null == 4
        # at 15:00 user 1's 11:55 row is available (11:55 + 10m): the point-in-time row is
        # newer than what the noon load serves — every feature of that one row differs
        later = replay(pg_env.registry, reader, read_feature_log(tmp_path / "later"))
        assert {f.feature: f.mismatch for f in later.features} == {
            "pair_stats.echo": 0,
            **{f"user_stats.{f}": 1 for f in USER_FEATURES},
        }

        # the offline row changes after the load: both checks see it
        cur = postgres.cursor()
        table = f"{pg_env.schema}.user_stats"
        cur.execute(f"update {table} set amount = amount - 1 where user_id = 4")  # 4 holds the max
        try:
            online = online_vs_offline(store, reader, views=views, sample=100)
            skewed = replay(pg_env.registry, reader, log)
        finally:
            cur.execute(f"update {table} set amount = amount + 1 where user_id = 4")
            cur.close()
    finally:
        reader.close()
    assert online.breaches == ["user_stats.amount"]
    assert skewed.breaches == ["user_stats.amount"]
    assert {f.feature: f.mismatch for f in skewed.features}["user_stats.amount"] == 2


def test_an_explicit_target_wins_over_the_duckdb_path_from_the_environment(
    pg_env: PgProject, redis_url: str
) -> None:
    """SKEWLESS_DUCKDB_PATH is also how profiles point at their DuckDB file, so it may well be
    set when a user names another target: the target is read (and stderr says so). The same
    path given as --duckdb-path next to a postgres target is a contradiction: a usage error."""
    import json

    from skewless.cli import main

    common = [
        "--project-dir", str(pg_env.dir), "--target-path", str(pg_env.dir / "target-postgres"),
        "--redis-url", redis_url,
    ]  # fmt: skip
    args = ["materialize", "--profiles-dir", str(pg_env.dir), "--dbt-target", "postgres",
            "--select", "load_stats", "--now", "2099-01-03T00:00:00", "--json"]  # fmt: skip
    res = CliRunner().invoke(
        main, [*common, *args], env={"SKEWLESS_DUCKDB_PATH": str(pg_env.duckdb)}
    )
    assert res.exit_code == 0, res.output
    assert "SKEWLESS_DUCKDB_PATH is set but --dbt-target `postgres` is a postgres output" in (
        res.stderr
    )
    assert [(r["view"], r["rows"]) for r in json.loads(res.stdout)] == [("load_stats", 20000)]
    res = CliRunner().invoke(
        main, [*common, "training-record", "--profiles-dir", str(pg_env.dir), "--dbt-target",
               "postgres", "--model", "training_set"],
        env={"SKEWLESS_DUCKDB_PATH": str(pg_env.duckdb)},
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["relation"] == f'"test"."{pg_env.schema}"."training_set"'
    res = CliRunner().invoke(main, [*common, *args, "--duckdb-path", str(pg_env.duckdb)])
    assert res.exit_code == 2 and "name two different sources" in res.output
