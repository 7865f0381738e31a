"""skewless.window_join on Spark against the brute-force oracle of test_window_property.

The same dbt project, dataset generator, oracle and comparison as test_window_property
(imported, not copied); the macros are compiled ONCE for a `spark` target (dbt-spark session
mode: Spark in this process), which takes window_join's portable path with the spark__
overrides (`unix_micros` epochs). The compiled schema is Spark's `global_temp`, so each batch's
tables are swapped in as global temporary views of `createDataFrame`s: no table is ever written.
The session time zone is America/New_York, not UTC: naive timestamps (TIMESTAMP_NTZ) must still
be read as UTC and instants (TIMESTAMP) compared as instants.

A Spark query costs a second or more however small its input, so datasets are checked in
batches (as test_pit_property_spark does): each hypothesis example is a list of `BATCH`
datasets put into the same tables with disjoint entity keys (dataset `d`'s `k1` and `k1b`
become `d * 100 + k`) and spine ids (`d * 1000 + spine_id`). Every window is per entity key, so
the datasets cannot see each other's events; every dataset is decoded back and checked against
the oracle on its own: counts, integer and DECIMAL sums, min, max, last and count_distinct
exactly, DOUBLE sums and averages within the bound docs/windows.md states. The timestamp types
of the spine and of the events (TIMESTAMP_NTZ or TIMESTAMP) change per batch, every pair in turn.

Needs Java >= 17 and the `spark` extra: on a laptop without them the tests skip saying so;
under CI=true they fail instead (`_require_spark`).
"""

from __future__ import annotations

import collections
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from test_integration_spark import _require_spark, local_spark
from test_pit_property import _pg_time
from test_window_property import (
    MIN_DATASETS,
    OUTPUT_NAMES,
    QUERIES,
    SELECT,
    VIEWS,
    _assert_coverage,
    _check_delegation,
    _check_replay,
    _compiled,
    _dbt,
    _registry,
    _write_project,
    check,
    datasets,
    oracle,
    outputs,
)

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

# one Spark JVM at a time in the suite (memory): every Spark test runs in this xdist group
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("spark")]

BATCH = int(os.environ.get("SKEWLESS_WINDOW_SPARK_BATCH", "40"))  # datasets per Spark query set
SPARK_TYPES = {"timestamp": "timestamp_ntz", "timestamptz": "timestamp"}  # naive / instant
KEY_STRIDE = 100  # k1 values are 1 and 2
ID_STRIDE = 1000  # spine ids stay below 200


@dataclass
class SparkWindow:
    spark: Any
    sql: dict[str, str]  # query name (QUERIES) -> the compiled SELECT
    registry: Any  # the window views as the runtime reads them from the Spark manifest


def _schema(types: dict[str, str]) -> dict[str, str]:
    return {
        "spine": f"spine_id int, k1 bigint, k2 string, k1b bigint, st {SPARK_TYPES[types['spine']]}",
        "events": f"k1 bigint, k2 string, ts {SPARK_TYPES[types['events']]}, x double, n bigint, "
        "d decimal(18,3), s string",
        "fv": "k1 bigint, ts timestamp_ntz, f_x double",
    }


def _key(d: int, k: int | None) -> int | None:
    return None if k is None else d * KEY_STRIDE + k


def _load(spark: Any, types: dict[str, str], batch: list[dict[str, Any]]) -> None:
    """The batch's datasets as global temp views under the compiled relation names."""
    aware = {t: types[t] == "timestamptz" for t in ("spine", "events")}
    rows: dict[str, list[tuple[Any, ...]]] = {"spine": [], "events": [], "fv": []}
    for d, data in enumerate(batch):
        rows["spine"] += [
            (d * ID_STRIDE + i, _key(d, a), b, _key(d, c), _pg_time(t, aware["spine"]))
            for i, a, b, c, t in data["spine"]
        ]
        rows["events"] += [
            (_key(d, a), b, _pg_time(t, aware["events"]), *rest)
            for a, b, t, *rest in data["events"]
        ]
        rows["fv"] += [(_key(d, k), _pg_time(t, False), x) for k, t, x in data["fv"]]
    schema = _schema(types)
    spark.createDataFrame(rows["spine"], schema["spine"]).createOrReplaceGlobalTempView("spine")
    events = spark.createDataFrame(rows["events"], schema["events"])
    for view in VIEWS:  # every window view reads the same events (test_window_property)
        events.createOrReplaceGlobalTempView(view)
    spark.createDataFrame(rows["fv"], schema["fv"]).createOrReplaceGlobalTempView("fv")


def _runner(spark: Any) -> Any:
    def run(sql: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in spark.sql(sql).collect()]

    return run


def _split(rows: list[tuple[Any, ...]], size: int) -> list[list[tuple[Any, ...]]]:
    """A batch's output rows (spine_id first) per dataset, the spine id decoded back."""
    out: list[list[tuple[Any, ...]]] = [[] for _ in range(size)]
    for row in rows:
        d, spine_id = divmod(row[0], ID_STRIDE)
        out[d].append((spine_id, *row[1:]))
    return out


@pytest.fixture(scope="module")
def spark_window(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkWindow]:
    """One in-process SparkSession (America/New_York, in-memory catalog, its own warehouse
    dir), the macros compiled once through dbt-spark's session method — which reuses it."""
    _require_spark()
    from pyspark.sql import SparkSession

    root = tmp_path_factory.mktemp("window_prop_spark")
    work = root / "spark"
    spark = local_spark(work, "skewless-window-property", "America/New_York")
    project = root / "project"
    try:
        _write_project(project, project / "unused.duckdb", "unused")
        with (project / "profiles.yml").open("a") as f:  # outputs: is the file's last mapping
            f.write(
                "    spark: {type: spark, method: session, host: localhost, "
                "schema: global_temp, threads: 1}\n"
            )
        _dbt(project, "deps")
        compiled = _compiled(project, "spark")
        assert SparkSession.getActiveSession() is spark, "dbt-spark started another session"
        assert spark.conf.get("spark.sql.session.timeZone") == "America/New_York"
        for name, text in compiled.items():
            lower = text.lower()
            assert "unix_micros(" in lower and "extract(" not in lower, name
            assert "global_temp.spine" in lower, name
        assert compiled["window_join"] == compiled["default"]  # no spark__window_join
        yield SparkWindow(spark, compiled, _registry(project, "spark"))
    finally:
        spark.stop()
        shutil.rmtree(root, ignore_errors=True)


# (spine, events) timestamp types, taken in turn by the batches so that every pair runs
TYPE_PAIRS = [{"spine": spine, "events": events} for spine in SPARK_TYPES for events in SPARK_TYPES]


def test_window_matches_oracle_spark(spark_window: SparkWindow, record_property: Any) -> None:
    from skewless.offline.spark import SparkReader

    spark, compiled = spark_window.spark, spark_window.sql
    run_sql = _runner(spark)
    # the consistency replay's reader: its own session in UTC (as `reader_from_profile` makes),
    # reading the same global temp views
    session = spark.newSession()
    session.conf.set("spark.sql.session.timeZone", "UTC")
    spark.sparkContext.pythonExec = sys.executable  # its Arrow stream runs skewless in workers
    reader = SparkReader(session, "the test's Spark session")
    stats: collections.Counter[str] = collections.Counter()
    wa = ", ".join(n for n, *_ in outputs("wa", ""))

    @settings(
        # one batch more than MIN_DATASETS needs: hypothesis's first batch is its simplest
        # (empty tables), which leaves the coverage floors of _assert_coverage to the rest; the
        # batches after it take every pair of TYPE_PAIRS
        max_examples=max(-(-MIN_DATASETS // BATCH), len(TYPE_PAIRS)) + 1,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        # no shrinking: each step costs Spark queries (minutes for a batch), and a failure
        # already names the one dataset (`data=...`) and spine row it is about
        phases=[Phase.explicit, Phase.generate],
    )
    @given(st.lists(datasets(), min_size=BATCH, max_size=BATCH))
    def run(batch: list[dict[str, Any]]) -> None:
        types = TYPE_PAIRS[stats["batches"] % len(TYPE_PAIRS)]
        stats["batches"] += 1
        for data in batch:
            data["types"] = types  # what the tables hold (a failure report prints the dataset)
        _load(spark, types, batch)
        size = len(batch)
        reference = _split(run_sql(SELECT.format(sql=compiled["window_join"])), size)
        windows = _split(run_sql(SELECT.format(sql=compiled["pit_windows"])), size)
        mixed = _split(
            run_sql(f"select spine_id, f_x, {wa} from ({compiled['pit_mixed']}) as q"), size
        )
        plain = _split(run_sql(f"select spine_id, f_x from ({compiled['pit_plain']}) as q"), size)
        for d, data in enumerate(batch):
            check(reference[d], data, oracle(data, stats), f"spark window_join ({types})")
            # point_in_time_join delegating, per dataset (the batch's queries ran once above)
            answers = {
                SELECT.format(sql=compiled["pit_windows"]): windows[d],
                f"select spine_id, f_x, {wa} from ({compiled['pit_mixed']}) as q": mixed[d],
                f"select spine_id, f_x from ({compiled['pit_plain']}) as q": plain[d],
            }
            _check_delegation(answers.__getitem__, compiled, reference[d])
            if d == 1:  # the served-value replay, through the Spark reader (keys as loaded)
                keyed = {
                    "spine": [(i, _key(d, a), b, c, t) for i, a, b, c, t in data["spine"]],
                    "events": data["events"],
                }
                expected = {i: row for i, row in oracle(data, collections.Counter()).items()}
                _check_replay(
                    spark_window.registry, reader, keyed, expected, stats, f"spark replay ({types})"
                )
            stats["datasets"] += 1
        stats["instants" if types["events"] == "timestamptz" else "naive"] += size
        stats["spine_instants" if types["spine"] == "timestamptz" else "spine_naive"] += size

    run()
    summary = f"window_join property run on Spark: {dict(stats)}"
    print(summary)
    record_property("summary", summary)
    _assert_coverage(stats)
    # both Spark timestamp types ran, for the events and for the spine
    assert min(stats[k] for k in ("instants", "naive", "spine_instants", "spine_naive")) > 0, stats
    assert stats["replayed_values"] > 0 and stats["replay_mutations_caught"] > 0, stats


def test_empty_tables_spark(spark_window: SparkWindow) -> None:
    """What a batch never has: an empty spine (no rows) and no events at all (zero counts and
    NULL aggregates for every spine row)."""
    spark, compiled = spark_window.spark, spark_window.sql
    run_sql = _runner(spark)
    types = {"spine": "timestamp", "events": "timestamp"}
    t = 1_710_043_200_000_000_000
    spine = [(0, 1, "a", 1, t), (1, None, None, None, None), (1, None, None, None, None)]
    events = [(1, "a", t, 1.0, 1, None, "a")]
    stats: collections.Counter[str] = collections.Counter()
    for data, want in (
        ({"spine": [], "events": events, "fv": []}, 0),
        ({"spine": spine, "events": [], "fv": []}, 3),
    ):
        _load(spark, types, [data])
        for name in ("window_join", "pit_windows"):
            actual = run_sql(SELECT.format(sql=compiled[name]))
            assert len(actual) == want, name
            check(actual, data, oracle(data, stats), f"spark {name}, empty tables")
            if want:
                counts = [
                    v for n, v in zip(OUTPUT_NAMES, actual[0][1:], strict=True) if "count" in n
                ]
                assert counts and set(counts) == {0}, actual[0]
    assert set(QUERIES) >= {"window_join", "pit_windows", "pit_mixed", "pit_plain"}
