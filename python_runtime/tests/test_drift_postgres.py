"""Drift (`skewless consistency --log … --training-relation …`) with the training set on PostgreSQL.

The training set is read through the target's offline reader (`OfflineReader.query`, Arrow
batches), so drift works wherever the replay does. The fixture project of
test_postgres_offline is built on PostgreSQL and on DuckDB (same models, same rows); values are
served from a load of the PostgreSQL build and logged, then drift against `training_set` must
give the same figures from both engines — and the figures computed directly from the rows
psycopg2 reads. Never skipped when CI=true (the `postgres` fixture fails instead).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import test_postgres_offline
from click.testing import CliRunner
from test_postgres_offline import NOON, USER_FEATURES, PgProject, _reader

from skewless.definitions.registry import Registry
from skewless.errors import SkewlessError
from skewless.guards.drift import numeric_drift, training_vs_served
from skewless.guards.feature_log import FeatureLogConfig, FeatureLogger, read_feature_log
from skewless.offline.duckdb import DuckDBReader
from skewless.online.connection import connect
from skewless.online.materialize import materialize
from skewless.online.store import FeatureStore

pytestmark = pytest.mark.postgres

# test_postgres_offline's fixtures: its project built on PostgreSQL and on DuckDB
pg_project = test_postgres_offline.pg_project
pg_env = test_postgres_offline.pg_env

DRIFTED = ["user_stats.amount", "user_stats.label"]  # the features training_set holds


def _serve_and_log(p: PgProject, redis_url: str, folder: Path) -> list[Any]:
    """Load user_stats from PostgreSQL, serve users 1-5 twice (3 expired, 5 unknown), log it."""
    reader = _reader(p)
    try:
        materialize(p.registry, connect(redis_url), reader, select=["user_stats"], now=NOON)
    finally:
        reader.close()
    store = FeatureStore(p.registry, connect(redis_url), redis_url)
    logger = FeatureLogger(FeatureLogConfig(path=str(folder))).attach(store)
    refs = [f"user_stats.{f}" for f in USER_FEATURES]
    for _ in range(2):
        store.get_online_features(refs, [{"user_id": u} for u in range(1, 6)], now=NOON)
    logger.close()
    return list(read_feature_log(folder))


def _figures(drift: list[Any]) -> dict[str, dict[str, Any]]:
    return {d.feature: d.to_dict() for d in drift}


def test_drift_reads_the_training_set_from_postgres(
    pg_env: PgProject, redis_url: str, postgres: Any, tmp_path: Path
) -> None:
    rows = _serve_and_log(pg_env, redis_url, tmp_path / "log")
    assert len(rows) == 10
    pg_rel = f'"test"."{pg_env.schema}"."training_set"'
    reader = _reader(pg_env)
    try:
        # 3-row batches: the values of several batches are put together
        on_pg = training_vs_served(pg_env.registry, reader, pg_rel, rows, chunk_rows=3)
    finally:
        reader.close()
    duck_registry = Registry.from_manifest(pg_env.dir / "target-duckdb" / "manifest.json")
    duck = DuckDBReader.open(pg_env.duckdb, duck_registry.views.values())
    try:
        on_duckdb = training_vs_served(
            duck_registry, duck, '"postgres_offline"."main"."training_set"', rows
        )
    finally:
        duck.close()

    assert [d.feature for d in on_pg] == DRIFTED
    assert _figures(on_pg) == _figures(on_duckdb)
    amount, label = on_pg
    assert amount.kind == "numeric" and label.kind == "category"
    assert (amount.train_count, amount.served_count) == (10, 10)
    assert amount.psi > 0.25  # users 3 and 5 serve NULL: the NULL bin alone is a large shift
    # the same figures as computed from the rows PostgreSQL holds, read another way (psycopg2)
    cur = postgres.cursor()
    cur.execute(f"select amount from {pg_env.schema}.training_set")
    train = [r[0] for r in cur.fetchall()]
    cur.close()
    served = [r.values["user_stats.amount"] for r in rows]
    assert amount.to_dict() == numeric_drift("user_stats.amount", train, served).to_dict()
    shares = {s.value: (s.train_share, s.served_share) for s in label.shares}
    assert shares["B"] == (0.1, 0.0) and shares[None] == (0.0, 0.4)
    assert label.tvd > 0 and label.max_shift == pytest.approx(0.4)


def test_cli_drift_on_the_postgres_target(
    pg_env: PgProject, redis_url: str, tmp_path: Path
) -> None:
    from skewless.cli import main

    rows = _serve_and_log(pg_env, redis_url, tmp_path / "log")
    common = [
        "--project-dir", str(pg_env.dir), "--redis-url", redis_url,
    ]  # fmt: skip
    replay = ["consistency", "--log", str(tmp_path / "log"), "--json"]
    on_pg = CliRunner().invoke(
        main,
        [*common, "--target-path", str(pg_env.dir / "target-postgres"), *replay,
         "--profiles-dir", str(pg_env.dir), "--dbt-target", "postgres",
         "--training-relation", "training_set"],
    )  # fmt: skip
    assert on_pg.exit_code == 0, on_pg.output
    on_duckdb = CliRunner().invoke(
        main,
        [*common, "--target-path", str(pg_env.dir / "target-duckdb"), *replay,
         "--duckdb-path", str(pg_env.duckdb), "--training-relation", "training_set"],
    )  # fmt: skip
    assert on_duckdb.exit_code == 0, on_duckdb.output
    pg_report, duck_report = json.loads(on_pg.stdout), json.loads(on_duckdb.stdout)
    assert pg_report["rows"] == len(rows) == 10
    assert [d["feature"] for d in pg_report["drift"]] == DRIFTED
    assert pg_report["drift"] == duck_report["drift"]

    # a PSI limit below the served shift is a breach on PostgreSQL too
    breach = CliRunner().invoke(
        main,
        [*common, "--target-path", str(pg_env.dir / "target-postgres"), *replay,
         "--profiles-dir", str(pg_env.dir), "--dbt-target", "postgres",
         "--training-relation", "training_set", "--max-psi", "0.1"],
    )  # fmt: skip
    assert breach.exit_code == 1, breach.output


def test_a_wrong_training_relation_is_a_clear_error(
    pg_env: PgProject, redis_url: str, tmp_path: Path
) -> None:
    from skewless.cli import main

    rows = _serve_and_log(pg_env, redis_url, tmp_path / "log")
    missing = f'"test"."{pg_env.schema}"."no_such_training_set"'
    reader = _reader(pg_env)
    try:
        with pytest.raises(SkewlessError) as e:
            training_vs_served(pg_env.registry, reader, missing, rows)
        # the reader is still usable after the failed lookup
        assert [b.num_rows for b in reader.query("select 1 as x", 10)] == [1]
    finally:
        reader.close()
    msg = str(e.value)
    assert "cannot read the training set" in msg and "no_such_training_set" in msg
    assert "does not exist in PostgreSQL" in msg

    res = CliRunner().invoke(
        main,
        ["--project-dir", str(pg_env.dir), "--redis-url", redis_url,
         "--target-path", str(pg_env.dir / "target-postgres"),
         "consistency", "--log", str(tmp_path / "log"), "--profiles-dir", str(pg_env.dir),
         "--dbt-target", "postgres", "--training-relation", "nope_training"],
    )  # fmt: skip
    assert res.exit_code == 1
    assert "Error: drift: cannot read the training set nope_training (postgres)" in res.output
    assert "Traceback" not in res.output
