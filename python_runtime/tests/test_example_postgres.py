"""The example feature repo (examples/payments) on its `postgres` target, end to end.

The same small data test_example_project uses (its sizes and boundary payments) is generated,
loaded into a fresh PostgreSQL schema by `load_postgres.py`, built with `dbt build --target postgres`
(every model and data test must pass) and with the default DuckDB target from the same Parquet
files; then `skewless materialize`, `get`, `consistency` and `training-record` run through the CLI
against PostgreSQL. Every model both engines build is compared row for row: the port of the models
to PostgreSQL must not change one value. Never skipped when CI=true (the `postgres` fixture fails).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import postgres_dsn
from test_example_project import SMALL, copy_project, run_dbt, write_small_data

pytestmark = [pytest.mark.postgres, pytest.mark.xdist_group("example_postgres")]

VIEWS = ("user_txn_stats", "merchant_risk", "user_profile")
WINDOW_VIEWS = ("user_txn_windows", "merchant_txn_windows")
# the models both targets build, each with the columns that order its rows uniquely
MODELS = {
    "stg_transactions": "txn_id",
    "stg_merchants": "merchant_id",
    "stg_users": "user_id, updated_at",
    "stg_chargebacks": "chargeback_id",
    "data_watermark": "watermark",
    "user_txn_stats": "user_id, as_of",
    "merchant_risk": "merchant_id, as_of",
    "user_profile": "user_id, valid_from",
    "labels": "txn_id",
    "training_spine": "txn_id",
    "training_set": "txn_id",
    "txn_requests": "txn_id",
}
# DuckDB-only: request-time SQL is DuckDB's dialect (disabled on the postgres target)
DUCKDB_ONLY = {"txn_risk"}


@dataclass(frozen=True)
class Example:
    root: Path
    project: Path
    data: Path
    duckdb_path: Path
    schema: str
    raw_schema: str
    env: dict[str, str]

    def target_path(self, target: str) -> Path:
        return self.root / f"target-{target}"

    def cli(self, target: str, redis_url: str, *args: str) -> Any:
        """`skewless <args>` in-process, reading the `target`'s manifest and offline tables."""
        from skewless.cli import main

        common = [
            "--project-dir", str(self.project),
            "--target-path", str(self.target_path(target)),
            "--redis-url", redis_url,
        ]  # fmt: skip
        env: dict[str, str | None] = {**self.env, "DBT_TARGET": None}
        if target == "postgres":
            # the CLI reads SKEWLESS_DUCKDB_PATH as --duckdb-path, which wins over --dbt-target
            env["SKEWLESS_DUCKDB_PATH"] = None
        res = CliRunner().invoke(main, [*common, *args], env=env)
        if res.exit_code != 0:
            pytest.fail(f"skewless {' '.join(args)} exited {res.exit_code}:\n{res.output}")
        return res

    def offline(self, target: str) -> list[str]:
        return ["--profiles-dir", str(self.project), "--dbt-target", target]


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory, postgres: Any) -> Iterator[Example]:
    """examples/payments built on PostgreSQL (a fresh schema pair, dropped at the end; dbt's
    session in a non-UTC time zone, which must change nothing) and on DuckDB."""
    root = tmp_path_factory.mktemp("payments-pg")
    project = copy_project(root)
    data = root / "data"
    write_small_data(data)  # as test_example_project's: ending at the current hour
    schema = f"skewless_payments_{uuid.uuid4().hex[:10]}"
    dsn = postgres_dsn()
    env = {
        "SKEWLESS_PG_HOST": str(dsn["host"]),
        "SKEWLESS_PG_PORT": str(dsn["port"]),
        "SKEWLESS_PG_USER": str(dsn["user"]),
        "SKEWLESS_PG_PASSWORD": str(dsn["password"]),
        "SKEWLESS_PG_DATABASE": str(dsn["dbname"]),
        "SKEWLESS_PAYMENTS_PG_SCHEMA": schema,
        "SKEWLESS_PAYMENTS_PG_RAW_SCHEMA": f"{schema}_raw",
        "SKEWLESS_PAYMENTS_DATA_DIR": str(data),
        "SKEWLESS_DUCKDB_PATH": str(root / "payments.duckdb"),
        "DBT_PROFILES_DIR": str(project),
        "DO_NOT_TRACK": "1",
    }
    out = Example(root, project, data, root / "payments.duckdb", schema, f"{schema}_raw", env)
    run_env = {k: v for k, v in os.environ.items() if k not in {"DBT_TARGET"}}
    run_env.update(env)
    try:
        proc = subprocess.run(
            [sys.executable, str(project / "load_postgres.py")],
            env=run_env,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        assert proc.returncode == 0, f"load_postgres.py failed:\n{proc.stdout}\n{proc.stderr}"
        assert f"{schema}_raw.transactions" in proc.stdout
        common = ["--project-dir", str(project), "--profiles-dir", str(project)]
        logs = ["--log-path", str(root / "logs")]
        run_dbt(["deps", *common, *logs], run_env, "dbt deps")
        run_dbt(
            ["build", *common, *logs, "--target", "postgres",
             "--target-path", str(out.target_path("postgres"))],
            {**run_env, "PGTZ": "America/New_York"},
            "dbt build --target postgres of examples/payments",
        )  # fmt: skip
        run_dbt(
            ["build", *common, *logs, "--target-path", str(out.target_path("duckdb"))],
            {**run_env, "TZ": "UTC"},
            "dbt build (DuckDB) of examples/payments",
        )
        yield out
    finally:
        cur = postgres.cursor()  # type: ignore[attr-defined]
        cur.execute(f"drop schema if exists {schema} cascade")
        cur.execute(f"drop schema if exists {schema}_raw cascade")
        cur.close()


def _pg(postgres: Any, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    cur = postgres.cursor()
    cur.execute("set time zone 'UTC'")
    cur.execute(sql)
    names = [d[0] for d in cur.description]
    rows = cur.fetchall()
    cur.close()
    return names, list(rows)


def _duck(example: Example, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    import duckdb

    with duckdb.connect(str(example.duckdb_path), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        cur = con.execute(sql)
        names = [d[0] for d in cur.description]
        return names, cur.fetchall()


def _run_results(example: Example, target: str) -> dict[str, str]:
    results = json.loads((example.target_path(target) / "run_results.json").read_text())
    return {r["unique_id"]: r["status"] for r in results["results"]}


def test_dbt_build_on_postgres_passes_every_model_and_test(example: Example) -> None:
    pg = _run_results(example, "postgres")
    duck = _run_results(example, "duckdb")
    failed = {k: s for k, s in pg.items() if s not in {"success", "pass"}}
    assert not failed, failed
    models = {k.split(".")[-1] for k in pg if k.startswith("model.payments.")}
    duck_models = {k.split(".")[-1] for k in duck if k.startswith("model.payments.")}
    assert models == duck_models - DUCKDB_ONLY
    assert set(MODELS) <= models
    # the same data tests, less those of the DuckDB-only models
    tests = {k for k in pg if k.startswith("test.")}
    duck_tests = {k for k in duck if k.startswith("test.") and "txn_risk" not in k}
    assert tests == duck_tests and len(tests) >= 30
    manifest = json.loads((example.target_path("postgres") / "manifest.json").read_text())
    source = manifest["sources"]["source.payments.raw.transactions"]
    assert source["schema"] == example.raw_schema
    assert any(n["name"] == "txn_risk" for ns in manifest["disabled"].values() for n in ns)


def test_raw_timestamps_are_truncated_to_microseconds_like_duckdb(
    example: Example, postgres: Any
) -> None:
    """load_postgres.py truncates as `duckdb__to_microseconds` does, and keeps tz-awareness: the
    payment 500 ns before midnight stays on its day; `updated_at` stays timestamptz."""
    _, pg = _pg(
        postgres, f"select txn_id, txn_ts from {example.raw_schema}.transactions order by 1"
    )
    _, duck = _duck(
        example,
        f"select txn_id, make_timestamp(epoch_ns(txn_ts) // 1000) from "
        f"read_parquet('{example.data}/transactions.parquet') order by 1",
    )
    assert pg == duck and len(pg) == SMALL["transactions"] + 3
    _, pg_users = _pg(
        postgres, f"select user_id, updated_at from {example.raw_schema}.users order by 1, 2"
    )
    _, duck_users = _duck(
        example,
        f"select user_id, make_timestamptz(epoch_ns(updated_at) // 1000) as u from "
        f"read_parquet('{example.data}/users.parquet') order by 1, 2",
    )
    assert pg_users == duck_users
    assert all(ts.utcoffset() is not None for _, ts in pg_users)
    midnight = [ts for _, ts in pg if (ts.hour, ts.minute, ts.second) == (23, 59, 59)]
    assert any(ts.microsecond == 999_999 for ts in midnight)  # 23:59:59.9999995 → .999999


def _same(a: Any, b: Any) -> bool:
    """Exactly equal and of the same Python type (Decimal with the same scale; an aware datetime
    equal as an instant). Doubles too: both engines divide the same two doubles (IEEE 754)."""
    if a is None or b is None:
        return a is None and b is None
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and a != a:
        return b != b
    if isinstance(a, Decimal):
        return a == b and a.as_tuple().exponent == b.as_tuple().exponent
    if isinstance(a, datetime):
        return a == b and (a.tzinfo is None) == (b.tzinfo is None)
    return bool(a == b)


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_model_equals_duckdb_row_for_row(example: Example, postgres: Any, model: str) -> None:
    """Every value of every model both targets build is the same on PostgreSQL as on DuckDB.
    The one column allowed to differ is a raw `txn_ts`: DuckDB keeps its nanoseconds
    (TIMESTAMP_NS), PostgreSQL has microseconds; it must equal DuckDB's truncated to them."""
    order = MODELS[model]
    names, pg_rows = _pg(postgres, f"select * from {example.schema}.{model} order by {order}")
    types = dict(_duck(example, f"select column_name, column_type from (describe {model})")[1])
    cols = ", ".join(
        f"make_timestamp(epoch_ns({c}) // 1000) as {c}" if types[c] == "TIMESTAMP_NS" else c
        for c in types
    )
    duck_names, duck_rows = _duck(example, f"select {cols} from {model} order by {order}")
    assert names == duck_names
    assert len(pg_rows) == len(duck_rows) > 0
    mismatches = [
        (model, d[0], name, pv, dv)
        for p, d in zip(pg_rows, duck_rows, strict=True)
        for name, pv, dv in zip(names, p, d, strict=True)
        if not _same(pv, dv)
    ]
    assert not mismatches, mismatches[:10]
    if model == "training_set":
        assert [n for n, t in types.items() if t == "TIMESTAMP_NS"] == ["txn_ts"]
        assert sum(r[names.index("is_fraud")] for r in pg_rows) > 0


def test_cli_materialize_get_consistency_training_record_on_postgres(
    example: Example, postgres: Any, redis_url: str
) -> None:
    """The runtime's CLI against the postgres target at the data watermark: `materialize` loads
    every view, `get` serves what the same load from DuckDB serves, `consistency` finds Redis
    equal to PostgreSQL, `training-record` reads the training set's relation from PostgreSQL."""
    import redis

    (_, [(watermark,)]) = _pg(postgres, f"select watermark from {example.schema}.data_watermark")
    now = watermark.replace(tzinfo=timezone.utc).isoformat()
    # the busiest users and merchants, and an unknown one
    _, pairs = _pg(
        postgres,
        f"select user_id, merchant_id, count(*) as n from {example.schema}.txn_requests "
        f"group by 1, 2 order by 3 desc, 1, 2 limit 15",
    )
    entities = [f"user_id={u},merchant_id={m}" for u, m, _ in pairs] + [
        "user_id=1000000000,merchant_id=1000000000"
    ]
    features = ",".join(
        [
            "user_txn_stats.txn_count_7d,user_txn_stats.amount_sum_30d,user_txn_stats.amount_avg_30d",
            "user_txn_stats.amount_max_7d,user_txn_stats.last_txn_ts",
            "merchant_risk.txn_count_90d,merchant_risk.chargeback_rate_90d,merchant_risk.age_days",
            "user_profile.home_country,user_profile.kyc_verified,user_profile.profile_updated_at",
            "user_profile.signup_ts",
        ]
    )
    get = ["get", *[a for e in entities for a in ("-e", e)], "-f", features, "--now", now, "--json"]
    windows = ",".join(
        f"{v}.{o}"
        for v in WINDOW_VIEWS
        for o in ("events_count_1h", "events_count_7d", "amount_usd_sum_24h", "amount_usd_sum_7d")
    )
    windows += ",user_txn_windows.amount_usd_max_7d,user_txn_windows.merchant_id_count_distinct_7d"
    get_windows = ["get", *[a for e in entities for a in ("-e", e)], "-f", windows, "--now", now]
    get_windows.append("--json")

    served = {}
    windowed = {}
    for target in ("duckdb", "postgres"):
        redis.Redis.from_url(redis_url).flushall()
        dbt_target = "dev" if target == "duckdb" else "postgres"
        res = example.cli(
            target, redis_url, "materialize", *example.offline(dbt_target), "--now", now, "--json"
        )
        loaded = {r["view"]: r["rows"] for r in json.loads(res.stdout)}
        # the feature views, and the real-time window views (loaded from either engine)
        assert set(loaded) == {*VIEWS, *WINDOW_VIEWS}, loaded
        assert all(n > 0 for n in loaded.values()), loaded
        served[target] = (loaded, json.loads(example.cli(target, redis_url, *get).stdout))
        windowed[target] = json.loads(example.cli(target, redis_url, *get_windows).stdout)
    # the window values loaded from PostgreSQL are those loaded from DuckDB, exact and present
    assert windowed["postgres"] == windowed["duckdb"]
    statuses = {v["status"] for row in windowed["duckdb"] for v in row["features"].values()}
    assert statuses == {"present"}, statuses
    assert any(v["value"] for v in windowed["duckdb"][0]["features"].values())
    assert served["postgres"][0] == served["duckdb"][0]  # the same rows loaded per view
    pg_served, duck_served = served["postgres"][1], served["duckdb"][1]
    assert pg_served == duck_served
    # the known entities are served present values from every view; the unknown one none
    for row in pg_served[:-1]:
        present = {
            ref.split(".")[0] for ref, v in row["features"].items() if v["status"] == "present"
        }
        assert present == set(VIEWS), row
    assert all(v["status"] != "present" for v in pg_served[-1]["features"].values())

    # Redis (loaded from PostgreSQL, still there) against PostgreSQL
    res = example.cli("postgres", redis_url, "consistency", *example.offline("postgres"), "--json")
    report = json.loads(res.stdout)
    assert report["ok"] and report["rows"] > 0, report
    mismatches = {f["feature"]: f["mismatch"] for f in report["features"]}
    assert mismatches and set(mismatches.values()) == {0}, mismatches
    assert {f.split(".")[0] for f in mismatches} == set(VIEWS)

    res = example.cli(
        "postgres",
        redis_url,
        "training-record",
        *example.offline("postgres"),
        "--model",
        "training_set",
    )
    record = json.loads(res.stdout)
    dbname = postgres_dsn()["dbname"]
    assert record["relation"] == f'"{dbname}"."{example.schema}"."training_set"'
    (_, [(count, lo, hi)]) = _pg(
        postgres, f"select count(*), min(txn_ts), max(txn_ts) from {example.schema}.training_set"
    )
    assert record["row_count"] == count > 500
    assert record["spine_timestamp"] == "txn_ts"
    assert [datetime.fromisoformat(t).replace(tzinfo=None) for t in record["time_range"]] == [
        lo,
        hi,
    ]
    assert {f.split(".")[0] for f in record["features"]} == set(VIEWS)
