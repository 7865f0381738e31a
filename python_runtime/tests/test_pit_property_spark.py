"""skewless.point_in_time_join on Spark against the brute-force oracle of test_pit_property.

The same dbt project, dataset generator and oracle as test_pit_property (imported, not copied);
the macro is compiled ONCE for a `spark` target (dbt-spark session mode: Spark in this process,
session time zone UTC), which takes the portable default__ path with the spark__ overrides
(`unix_micros` epochs, no ASOF JOIN, no QUALIFY). The compiled schema is Spark's `global_temp`,
so each dataset's tables are swapped in as global temporary views of `createDataFrame`s: no
table is ever written.

A Spark query of the portable path costs a second or more however small its input (a dozen
stages), so
datasets are checked in batches: each hypothesis example is a list of `BATCH` datasets put into
the same tables with disjoint entity keys (dataset `d`'s `k1` becomes `d * 100 + k1`) and
spine ids (`d * 1000 + spine_id`). The join is per entity key, so the datasets cannot see each
other's rows; every dataset is decoded back and checked against the oracle on its own, with
the tie rule (greatest feature values win). The column types (TIMESTAMP_NTZ or TIMESTAMP, i.e.
naive or instant) are drawn per batch. Empty tables, which a batch never has, are checked
separately.

Needs Java >= 17 and the `spark` extra: on a laptop without them the tests skip saying so;
under CI=true they fail instead (`_require_spark`).
"""

from __future__ import annotations

import collections
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from test_integration_spark import _require_spark, local_spark
from test_pit_property import (
    CONFIGS,
    MIN_DATASETS,
    OUTPUT,
    _compiled,
    _dbt,
    _has_ties,
    _pg_time,
    _write_project,
    check,
    datasets,
)

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

# one Spark JVM at a time in the suite (memory): every Spark test runs in this xdist group
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("spark")]

BATCH = int(os.environ.get("SKEWLESS_PIT_SPARK_BATCH", "40"))  # datasets per Spark query set
SPARK_TYPES = {"timestamp": "timestamp_ntz", "timestamptz": "timestamp"}  # naive / instant
KEY_STRIDE = 100  # k1 values are 1, 2, 12
ID_STRIDE = 1000  # spine ids stay below 200


@dataclass
class SparkPit:
    spark: Any
    sql: dict[tuple[bool, str], str]  # (strict, cfg) -> the compiled SELECT


def _schema(types: dict[str, str]) -> dict[str, str]:
    return {
        "spine": f"spine_id int, k1 bigint, k2 string, k1b bigint, st {SPARK_TYPES[types['spine']]}",
        "va": f"k1 bigint, ts {SPARK_TYPES[types['va']]}, a_x double, a_s string",
        "vb": f"k1 bigint, k2 string, ts {SPARK_TYPES[types['vb']]}, b_x double",
    }


def _load(spark: Any, types: dict[str, str], batch: list[dict[str, Any]]) -> None:
    """The batch's datasets as global temp views under the compiled relation names."""
    aware = {t: types[t] == "timestamptz" for t in ("spine", "va", "vb")}

    def key(d: int, k: int | None) -> int | None:
        return None if k is None else d * KEY_STRIDE + k

    rows: dict[str, list[tuple[Any, ...]]] = {"spine": [], "va": [], "vb": []}
    for d, data in enumerate(batch):
        rows["spine"] += [
            (d * ID_STRIDE + i, key(d, a), b, key(d, c), _pg_time(t, aware["spine"]))
            for i, a, b, c, t in data["spine"]
        ]
        rows["va"] += [(key(d, k), _pg_time(t, aware["va"]), x, s) for k, t, x, s in data["va"]]
        rows["vb"] += [(key(d, a), b, _pg_time(t, aware["vb"]), x) for a, b, t, x in data["vb"]]
    schema = _schema(types)
    spark.createDataFrame(rows["spine"], schema["spine"]).createOrReplaceGlobalTempView("spine")
    for view in ("va", "vb"):
        frame = spark.createDataFrame(rows[view], schema[view])
        for cfg in CONFIGS:
            frame.createOrReplaceGlobalTempView(f"{view}_{cfg}")


def _run(spark: Any, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in spark.sql(f"select {', '.join(OUTPUT)} from ({sql}) as q").collect()]


def _split(rows: list[tuple[Any, ...]], size: int) -> list[list[tuple[Any, ...]]]:
    """A batch's output rows per dataset, keys and ids decoded back."""
    out: list[list[tuple[Any, ...]]] = [[] for _ in range(size)]

    def key(d: int, k: int | None) -> int | None:
        return None if k is None else k - d * KEY_STRIDE

    for row in rows:
        d, spine_id = divmod(row[0], ID_STRIDE)
        out[d].append((spine_id, key(d, row[1]), row[2], key(d, row[3]), *row[4:]))
    return out


@pytest.fixture(scope="module")
def spark_pit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkPit]:
    """One in-process SparkSession (UTC, in-memory catalog, its own warehouse dir), the macro
    compiled once through dbt-spark's session method — which reuses this session."""
    _require_spark()
    from pyspark.sql import SparkSession

    root = tmp_path_factory.mktemp("pit_prop_spark")
    work = root / "spark"
    spark = local_spark(work, "skewless-pit-property", "UTC")
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
        assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
        sql: dict[tuple[bool, str], str] = {}
        for (impl, strict, cfg), text in compiled.items():
            lower = text.lower()
            # the portable path with Spark's epoch conversion
            assert "unix_micros(" in lower and "union all" in lower, impl
            assert "asof" not in lower and "qualify" not in lower and "extract(" not in lower
            assert "global_temp.va_" in lower and "global_temp.spine" in lower
            if impl == "dispatch":
                sql[(strict, cfg)] = text
        for (impl, strict, cfg), text in compiled.items():  # dispatch picks default__ on Spark
            assert text == sql[(strict, cfg)], (impl, strict, cfg)
        yield SparkPit(spark, sql)
    finally:
        spark.stop()
        shutil.rmtree(root, ignore_errors=True)


@st.composite
def batches(draw: Any) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """(column types, BATCH datasets): microsecond instants (Spark's precision), as for
    PostgreSQL; naive or instant timestamps drawn per table."""
    types = {t: draw(st.sampled_from(tuple(SPARK_TYPES))) for t in ("spine", "va", "vb")}
    batch = draw(st.lists(datasets("postgres"), min_size=BATCH, max_size=BATCH))
    for data in batch:
        data["types"] = types  # what the tables hold (a failure report prints the dataset)
    return types, batch


def test_pit_matches_oracle_spark(spark_pit: SparkPit, record_property: Any) -> None:
    spark = spark_pit.spark
    seen = {"datasets": 0, "ties": 0, "matched": 0, "decided": 0, "instants": 0, "naive": 0}

    @settings(
        max_examples=-(-MIN_DATASETS // BATCH),
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(batches())
    def run(drawn: tuple[dict[str, str], list[dict[str, Any]]]) -> None:
        types, batch = drawn
        _load(spark, types, batch)
        for (strict, cfg), sql in spark_pit.sql.items():
            per_dataset = _split(_run(spark, sql), len(batch))
            for data, actual in zip(batch, per_dataset, strict=True):
                seen["decided"] += check(actual, data, cfg, strict, "spark")
                seen["matched"] += sum(1 for r in actual if r[4:] != (None,) * 5)
        seen["datasets"] += len(batch)
        seen["ties"] += sum(_has_ties(d) for d in batch)
        seen["instants"] += len(batch) * sum(t == "timestamptz" for t in types.values())
        seen["naive"] += len(batch) * sum(t == "timestamp" for t in types.values())

    run()
    summary = f"point_in_time_join property run on Spark: {seen}"
    print(summary)
    record_property("summary", summary)
    assert seen["datasets"] >= MIN_DATASETS, seen
    assert seen["ties"] >= 20 and seen["matched"] >= 200 and seen["decided"] >= 100, seen
    assert seen["instants"] > 0 and seen["naive"] > 0, seen  # both Spark timestamp types ran


def test_empty_tables_spark(spark_pit: SparkPit) -> None:
    """What a batch never has: an empty spine (no rows) and empty views (all-NULL features)."""
    spark = spark_pit.spark
    spine = [(0, 1, "a", 1, 1_710_043_200_000_000_000), (1, None, None, None, None)]
    types = dict.fromkeys(("spine", "va", "vb"), "timestamp")
    for data, want in (
        ({"spine": [], "va": [(1, 1_710_043_200_000_000_000, 1.0, "p")], "vb": []}, 0),
        ({"spine": spine, "va": [], "vb": []}, 2),
    ):
        _load(spark, types, [data])
        for (strict, cfg), sql in spark_pit.sql.items():
            actual = _run(spark, sql)
            assert len(actual) == want
            assert check(actual, data, cfg, strict, "spark") == 0
            assert collections.Counter(r[4:] for r in actual) == ({(None,) * 5: 2} if want else {})
