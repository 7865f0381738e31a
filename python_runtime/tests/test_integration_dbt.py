"""`dbt build` of integration_tests/ (seed -> test model -> equality test per macro edge case).

Runs on DuckDB with skewless.point_in_time_join as dispatched (duckdb__), on DuckDB with the
portable default__ forced (var pit_impl=default), and on PostgreSQL (default__) in a session whose
time zone is not UTC. Each run works in its own copy of the project, with its own target path,
DuckDB file or PostgreSQL schema. Besides success, the tests check from run_results.json that
every equality test and every generic-test case (passing and deliberately failing) actually ran,
and that the macro's compile-time errors name the problem and the fix.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, postgres_dsn

pytestmark = [pytest.mark.slow]

PROJECT = REPO / "integration_tests"
DBT = str(Path(sys.executable).parent / "dbt")


def _yaml_tests(pattern: str) -> set[str]:
    """Model names that the integration project's YAML gives a test matching `pattern`."""
    found = set()
    for path in (PROJECT / "models").rglob("*.yml"):
        model = None
        for line in path.read_text().splitlines():
            m = re.match(r"\s+- name: (\w+)$", line)
            if m and line.startswith("  - "):
                model = m.group(1)
            if re.search(pattern, line) and model:
                found.add(model)
    return found


EQUALITY_MODELS = _yaml_tests(r"- pit_equal:")


def _disabled_on(engine: str) -> set[str]:
    """Models the project turns off on `engine` (`config(enabled=target.type != '<engine>')`
    in their SQL), so a build there does not run their equality tests."""
    marker = re.compile(r"enabled\s*=\s*target\.type\s*!=\s*'" + re.escape(engine) + "'")
    return {p.stem for p in (PROJECT / "models").rglob("*.sql") if marker.search(p.read_text())}


def _copy_project(tmp_path: Path) -> Path:
    dest = tmp_path / "integration_tests"
    shutil.copytree(
        PROJECT, dest, ignore=shutil.ignore_patterns("target", "dbt_packages", "logs", "*.duckdb*")
    )
    (dest / "packages.yml").write_text(f"packages:\n  - local: {REPO}\n")
    return dest


def _dbt(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DBT, *args, "--project-dir", str(project), "--profiles-dir", str(project)],
        capture_output=True,
        text=True,
        env={**os.environ, "TZ": "UTC", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", **env},
        timeout=600,
    )


def _build(project: Path, env: dict[str, str], *extra: str) -> dict[str, Any]:
    deps = _dbt(project, env, "deps")
    assert deps.returncode == 0, deps.stdout + deps.stderr
    build = _dbt(project, env, "build", "--target-path", str(project / "target"), *extra)
    assert build.returncode == 0, build.stdout[-6000:] + build.stderr[-3000:]
    return json.loads((project / "target" / "run_results.json").read_text())


def _assert_everything_ran(results: dict[str, Any], engine: str = "duckdb") -> None:
    by_id = {r["unique_id"]: r for r in results["results"]}
    expected = EQUALITY_MODELS - _disabled_on(engine)
    not_ok = {
        uid: r["status"] for uid, r in by_id.items() if r["status"] not in ("success", "pass")
    }
    assert not not_ok, f"nodes not successful: {not_ok}"

    tests = [uid for uid in by_id if uid.startswith("test.")]
    equality = {uid for uid in tests if ".pit_equal_" in uid}
    ran_for = {m for m in expected if any(f".pit_equal_{m}_" in uid for uid in equality)}
    assert len(expected) >= 11, expected
    assert ran_for == expected, f"equality tests that did not run: {expected - ran_for}"
    assert len(equality) == len(expected)

    # each generic test has a passing case and a deliberately failing one (error_if/warn_if = the
    # exact number of failing rows), and both ran
    for test, passing, failing in (
        ("unique_as_of", "fv_user", "fv_dupes"),
        ("not_null_entity", "fv_user", "fv_dupes"),
        ("valid_feature_view", "fv_user", "fv_bad_meta"),
        ("no_future_values", "train_as_of", "train_leaky"),
    ):
        for model in (passing, failing):
            assert any(f".skewless_{test}_{model}_" in uid for uid in tests), (
                f"{test} on {model} did not run"
            )

    models = {uid.split(".")[-1] for uid in by_id if uid.startswith("model.")}
    assert expected <= models


def _failing_rows(project: Path, test_name: str, run_sql: Any) -> int:
    """Rows returned by the compiled SQL of the test named `test_name`."""
    files = [p for p in (project / "target" / "compiled").rglob("*.sql") if p.stem == test_name]
    assert len(files) == 1, (test_name, files)
    return len(run_sql(files[0].read_text()))


def _check_failing_cases(project: Path, run_sql: Any) -> None:
    """The deliberately failing cases fail with exactly the rows the YAML expects, the others pass."""
    assert _failing_rows(project, "skewless_unique_as_of_fv_dupes_", run_sql) == 2
    assert _failing_rows(project, "skewless_not_null_entity_fv_dupes_", run_sql) == 2
    assert _failing_rows(project, "skewless_valid_feature_view_fv_bad_meta_", run_sql) == 7
    assert (
        _failing_rows(project, "skewless_no_future_values_train_leaky_spine_at__as_of", run_sql)
        == 7
    )
    assert _failing_rows(project, "skewless_unique_as_of_fv_user_", run_sql) == 0
    assert _failing_rows(project, "skewless_valid_feature_view_fv_user_", run_sql) == 0
    assert (
        _failing_rows(project, "skewless_no_future_values_train_as_of_spine_at__as_of", run_sql)
        == 0
    )


BAD_MODELS = {
    # model name: (SQL, fragments the error must contain)
    "bad_collision_views": (
        "select * from ({{ skewless.point_in_time_join(ref('seed_spine_user'), 'spine_at', "
        "[ref('fv_user'), ref('fv_user_delayed')]) }}) as pit",
        ["feature_views[1]", "`score`", "collides", "prefix"],
    ),
    "bad_collision_spine": (
        "select * from ({{ skewless.point_in_time_join(ref('test_pit_basic'), 'spine_at', "
        "[ref('fv_user')]) }}) as pit",
        ["feature_views[0]", "`score`", "also a spine column", "prefix"],
    ),
    "bad_no_meta": (
        "select * from ({{ skewless.point_in_time_join(ref('seed_spine_user'), 'spine_at', "
        "[ref('train_leaky')]) }}) as pit",
        ["skewless.point_in_time_join", "`train_leaky` has no config.meta.skewless", "entity:"],
    ),
    "bad_keys": (
        "select * from ({{ skewless.point_in_time_join(ref('seed_spine_user'), 'spine_at', "
        "[{'view': ref('fv_user'), 'keys': {'account_id': 'user_id'}}]) }}) as pit",
        ["`keys` maps `account_id`", "not an entity column"],
    ),
    "bad_string_view": (
        "select * from ({{ skewless.point_in_time_join(ref('seed_spine_user'), 'spine_at', "
        "['fv_user']) }}) as pit",
        ["feature_views[0]", "ref('name')"],
    ),
    "bad_spine_timestamp": (
        "select * from ({{ skewless.point_in_time_join(ref('seed_spine_user'), 'event_at', "
        "[ref('fv_user')]) }}) as pit",
        ["argument `spine_timestamp`", "no column `event_at`", "spine_at"],
    ),
    "bad_meta_view": (
        "select * from ({{ skewless.point_in_time_join(ref('seed_spine_user'), 'spine_at', "
        "[ref('fv_bad_meta')]) }}) as pit",
        ["meta.skewless.ttl is 30 days, not a duration", "1h30m"],
    ),
}


def _compiled_basic(project: Path) -> str:
    """The SQL dbt compiled for test_pit_basic (lowercase), to see which implementation ran."""
    model = project / "target" / "compiled" / "skewless_integration_tests" / "models"
    return (model / "point_in_time_join" / "test_pit_basic.sql").read_text().lower()


def test_integration_duckdb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import duckdb

    project = _copy_project(tmp_path)
    db = tmp_path / "it.duckdb"
    env = {"SKEWLESS_IT_DUCKDB_PATH": str(db), "SKEWLESS_IT_TARGET": "duckdb"}
    results = _build(project, env)
    _assert_everything_ran(results)
    compiled = _compiled_basic(project)
    assert "asof join" in compiled  # the duckdb__ implementation was the one tested

    con = duckdb.connect(str(db))
    try:
        _check_failing_cases(project, lambda sql: con.execute(sql).fetchall())
        # the equality test itself can fail: a wrong row in an expected seed is reported
        con.execute("update main.expected_pit_basic set score = 99 where spine_id = 2")
        equality = next((project / "target" / "compiled").rglob("pit_equal_test_pit_basic_*.sql"))
        diff = con.execute(equality.read_text()).fetchall()
        assert sorted(r[0] for r in diff) == ["missing row", "unexpected row"]
    finally:
        con.close()

    # compile-time errors: each names the problem and the fix (dbt stops at the first compile
    # error, so one compile per bad model, in-process to keep the parse warm)
    from dbt.cli.main import dbtRunner

    for name, (sql, _) in BAD_MODELS.items():
        (project / "models" / f"{name}.sql").write_text(sql + "\n")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    runner = dbtRunner()
    for name, (_, fragments) in BAD_MODELS.items():
        res = runner.invoke(
            [
                "compile",
                "--select",
                name,
                "--project-dir",
                str(project),
                "--profiles-dir",
                str(project),
                "--target-path",
                str(project / "target_bad"),
                "--quiet",
            ]
        )
        assert not res.success, f"{name} compiled without error"
        message = str(res.exception)
        assert f"in model {name} " in message, message
        for fragment in fragments:
            assert fragment in message, f"{name}: {fragment!r} missing from:\n{message}"

    # a CTE spine cannot be inspected at compile time: on DuckDB (which would silently rename the
    # duplicate to score_1) the collision fails when the model runs, naming the column
    (project / "models" / "bad_collision_cte_spine.sql").write_text(
        "with spine as (select spine_id, user_id, spine_at, 1.0 as score "
        "from {{ ref('seed_spine_user') }})\n"
        "select * from ({{ skewless.point_in_time_join('spine', 'spine_at', [ref('fv_user')]) }}) as pit\n"
    )
    (project / "models" / "ok_cte_spine.sql").write_text(
        "with spine as (select spine_id, user_id, spine_at, 1.0 as other "
        "from {{ ref('seed_spine_user') }})\n"
        "select * from ({{ skewless.point_in_time_join('spine', 'spine_at', [ref('fv_user')]) }}) as pit\n"
    )
    res = runner.invoke(
        [
            "run",
            "--select",
            "bad_collision_cte_spine",
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(project),
            "--target-path",
            str(project / "target_bad"),
        ]
    )
    assert not res.success
    errors = [r.message for r in res.result.results if r.status == "error"]
    assert errors and 'Duplicate named argument "score"' in errors[0], errors
    res = runner.invoke(
        [
            "run",
            "--select",
            "ok_cte_spine",
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(project),
            "--target-path",
            str(project / "target_bad"),
        ]
    )
    assert res.success, res.exception


def test_integration_duckdb_default_impl(tmp_path: Path) -> None:
    project = _copy_project(tmp_path)
    env = {"SKEWLESS_IT_DUCKDB_PATH": str(tmp_path / "it.duckdb"), "SKEWLESS_IT_TARGET": "duckdb"}
    results = _build(project, env, "--vars", "{pit_impl: default}")
    _assert_everything_ran(results)
    compiled = _compiled_basic(project)
    assert "asof join" not in compiled and "union all" in compiled


@pytest.mark.postgres
def test_integration_postgres(tmp_path: Path, postgres: Any) -> None:
    project = _copy_project(tmp_path)
    schema = f"skewless_it_{uuid.uuid4().hex[:10]}"
    dsn = postgres_dsn()
    env = {
        "SKEWLESS_IT_TARGET": "postgres",
        "SKEWLESS_IT_PG_SCHEMA": schema,
        "SKEWLESS_PG_HOST": str(dsn["host"]),
        "SKEWLESS_PG_PORT": str(dsn["port"]),
        "SKEWLESS_PG_USER": str(dsn["user"]),
        "SKEWLESS_PG_PASSWORD": str(dsn["password"]),
        "SKEWLESS_PG_DATABASE": str(dsn["dbname"]),
        "PGTZ": "America/New_York",  # sessions not in UTC: comparisons must still be UTC instants
    }
    cur = postgres.cursor()
    try:
        results = _build(project, env)
        _assert_everything_ran(results)

        def run_sql(sql: str) -> list[tuple[Any, ...]]:
            cur.execute(sql)
            return cur.fetchall()

        _check_failing_cases(project, run_sql)
    finally:
        cur.execute(f"drop schema if exists {schema} cascade")
        cur.close()
