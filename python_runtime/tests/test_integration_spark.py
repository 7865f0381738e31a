"""`dbt build` of integration_tests/ on Spark (dbt-spark session mode: Spark 4 in this process).

The same seeds, models and equality tests as on DuckDB and PostgreSQL, on the `spark` target of
integration_tests/profiles.yml: skewless.point_in_time_join takes the portable default__ path
(no ASOF JOIN, no QUALIFY) with spark__ epoch conversion (unix_micros) and quoting, and so does
skewless.window_join (the window cases test_window_basic / test_window_delayed). The run works
in its own temporary warehouse and Derby metastore. dbt runs in-process so that, after the
build, the same Spark session checks the deliberately failing generic tests row by row and shows
that an equality test does fail on a wrong row.

Needs Java >= 17 and the `spark` extra (`pip install -c constraints.txt -e .[dev,spark]`): on a
laptop without them the test skips saying so; under CI=true it fails instead.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import IN_CI
from test_integration_dbt import _assert_everything_ran, _check_failing_cases, _copy_project

# one Spark JVM at a time in the suite (memory): every Spark test runs in this xdist group
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("spark")]

INSTALL_JAVA = "install it with: sudo apt-get install openjdk-17-jre-headless (or set JAVA_HOME)"


def _java_major() -> int | None:
    """Major version of the Java that pyspark would start ($JAVA_HOME/bin/java, else PATH)."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        return None
    out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    m = re.search(r'version "(?:1\.)?(\d+)', out.stderr + out.stdout)
    return int(m.group(1)) if m else None


def _require_spark() -> None:
    """Skip (laptop) or fail (CI=true) when Java >= 17 or the spark extra is missing."""
    problem = None
    major = _java_major()
    if major is None or major < 17:
        problem = f"the Spark suite needs Java >= 17 (found: {major or 'none'}); {INSTALL_JAVA}"
    else:
        try:
            import dbt.adapters.spark  # noqa: F401
            import pyspark  # noqa: F401
        except ImportError as e:
            problem = (
                f"the Spark suite needs the spark extra ({e}); run "
                "`.venv/bin/pip install -c constraints.txt -e .[dev,spark]` (or `make venv`)"
            )
    if problem:
        if IN_CI:
            pytest.fail(f"CI=true: {problem}")
        pytest.skip(problem)


def _local_conf(work: Path, time_zone: str) -> dict[str, str]:
    return {
        "spark.sql.catalogImplementation": "in-memory",
        "spark.sql.session.timeZone": time_zone,
        "spark.driver.memory": "1g",
        "spark.sql.warehouse.dir": str(work / "warehouse"),
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={work}",
        "spark.sql.shuffle.partitions": "1",
        "spark.sql.adaptive.enabled": "false",
        "spark.sql.codegen.wholeStage": "false",
        "spark.default.parallelism": "1",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
    }


def local_spark(work: Path, app: str, time_zone: str) -> Any:
    """An in-process SparkSession for the property tests (`local[2]`, in-memory catalog, its own
    warehouse and Derby home under `work`, session time zone `time_zone`), tuned for tiny
    inputs: code generation and adaptive re-planning cost more than they save there (about half
    of each query's time); neither changes a result. Stop it with `forget_local_spark`."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master("local[2]").appName(app)
    for key, value in _local_conf(work, time_zone).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def forget_local_spark() -> None:
    """Stop this process's SparkContext, if any, and clear the settings a local session leaves
    in the JVM: PySpark hands a session's settings to the JVM it launches as system properties,
    which every later `SparkConf()` of the process loads — a cluster session started after a
    property test would run with its `spark.default.parallelism=1`."""
    from pyspark import SparkContext

    if SparkContext._active_spark_context is not None:
        SparkContext._active_spark_context.stop()
    jvm = SparkContext._jvm
    if jvm is None:
        return
    for key in _local_conf(Path("."), "UTC"):  # (not the launch's own master and app name)
        jvm.System.clearProperty(key)


def _dbt(runner: Any, project: Path, *args: str) -> Any:
    return runner.invoke([*args, "--project-dir", str(project), "--profiles-dir", str(project)])


def test_integration_spark(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, record_property: Any
) -> None:
    _require_spark()
    from dbt.cli.main import dbtRunner
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    project = _copy_project(tmp_path)
    monkeypatch.setenv("SKEWLESS_IT_TARGET", "spark")
    monkeypatch.setenv("SKEWLESS_IT_SPARK_DIR", str(tmp_path / "spark"))
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    runner = dbtRunner()
    deps = _dbt(runner, project, "deps")
    assert deps.success, deps.exception

    started = time.monotonic()
    try:
        build = _dbt(runner, project, "build", "--target-path", str(project / "target"))
        seconds = time.monotonic() - started
        results = json.loads((project / "target" / "run_results.json").read_text())
        failed = {
            r["unique_id"]: r.get("message")
            for r in results["results"]
            if r["status"] not in ("success", "pass")
        }
        assert build.success, f"dbt build on Spark failed: {failed or build.exception}"
        _assert_everything_ran(results, engine="spark")
        record_property(
            "summary",
            f"integration_tests on Spark (session mode): {len(results['results'])} nodes, "
            f"cold dbt build {seconds:.0f}s",
        )

        models = project / "target" / "compiled" / "skewless_integration_tests" / "models"
        sql = (models / "point_in_time_join" / "test_pit_basic.sql").read_text().lower()
        # the portable path with Spark's epoch conversion: no ASOF JOIN, no QUALIFY, no extract
        assert "unix_micros(" in sql and "union all" in sql
        assert "asof" not in sql and "qualify" not in sql and "extract(" not in sql
        for case in ("test_window_basic", "test_window_delayed"):  # built and compared above
            sql = (models / "window_join" / f"{case}.sql").read_text().lower()
            assert "unix_micros(" in sql and "extract(" not in sql, case

        # dbt-spark's session (created by dbt's worker threads), not a new one
        assert SparkContext._active_spark_context is not None, "no Spark session in this process"
        spark = SparkSession.builder.getOrCreate()
        schema = "skewless_integration_tests"
        _check_failing_cases(project, lambda q: spark.sql(q).collect())

        # values that dbt-spark's own seed loader would mangle arrive intact, and a column
        # default with a quote is written as the model's value
        keys = {r[0] for r in spark.sql(f"select k from {schema}.seed_fv_text").collect()}
        assert {'say "hi"', "a:b;c\\d", "x,y", "😀"} <= keys
        tiers = spark.sql(
            f"select tier from {schema}.test_pit_defaults where spine_id = 5"
        ).collect()
        assert [r[0] for r in tiers] == ["o'neil"]
        micro = spark.sql(
            f"select cast(spine_at as string) from {schema}.seed_spine_user where spine_id = 3"
        ).collect()
        assert [r[0] for r in micro] == ["2024-01-03 00:00:00.000001"]

        # the equality test itself can fail: a row the model lacks and a row it should not have
        equality = next((project / "target" / "compiled").rglob("pit_equal_test_pit_basic_*.sql"))
        assert spark.sql(equality.read_text()).collect() == []
        spark.sql(
            f"insert into {schema}.expected_pit_basic values "
            "(2, 1, timestamp_ntz'2024-01-03 00:00:00', 99.0, 'b')"
        )
        spark.sql(
            f"insert into {schema}.test_pit_basic values "
            "(13, 1, timestamp_ntz'2024-01-03 00:00:00', 98.0, 'b')"
        )
        diff = spark.sql(equality.read_text()).collect()
        assert sorted(r[0] for r in diff) == ["missing row", "unexpected row"]
    finally:
        if SparkContext._active_spark_context is not None:
            SparkSession.builder.getOrCreate().stop()
