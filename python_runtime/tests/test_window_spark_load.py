"""Window views loaded into Redis from Spark: `materialize` of a `kind: window` model read
through the Spark reader (dbt-spark session mode, `local[2]`), against the same project built on
DuckDB and loaded from there, and against `skewless.window_join` on DuckDB.

The fixture project (tests/projects/spark_windows) has one window view, windows 1h, 1d and 7d
(horizon 1d: the 1h and 1d timelines whole, 7d with a folded middle), count/sum/avg/min/max/last/
count_distinct over a DOUBLE, a DECIMAL(18,4), a text and an instant column; its events sit on
every edge of the windows and of the load's split, with NULLs, ties, NaN and -inf, an entity
with only old events and one never seen. Both engines' loads at the same `now` are read at
instants around it, to the microsecond: every value (and its type, and its status) of the
Spark load equals the DuckDB load's, and both equal `window_join` at that instant. An event
only Spark holds is then served after a load from Spark: the load reads Spark, not DuckDB.

Needs Java >= 17 and the spark extra: on a laptop without them the tests skip saying so; under
CI=true they fail instead (`_require_spark`).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from test_integration_spark import _require_spark
from test_spark_offline import SparkProject, _stop_spark, built_on_spark_and_duckdb

from skewless.definitions.registry import Registry
from skewless.offline import reader_from_profile
from skewless.online import keys
from skewless.online.connection import connect
from skewless.online.store import FeatureStore

# one Spark JVM at a time in the suite (memory): every Spark test runs in this xdist group
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("spark")]

REPO = Path(__file__).resolve().parents[2]
PROJECT = Path(__file__).parent / "projects" / "spark_windows"
SCHEMA = "spark_windows"
VIEW = "user_windows"
UTC = timezone.utc
T0 = datetime(2099, 1, 8, 12, 0, tzinfo=UTC)  # the load instant of every load here
US = timedelta(microseconds=1)
# the instants a load at T0 answers exactly (windows.py: from T0 - SLACK to T0 + horizon)
EXACT = (T0 - timedelta(minutes=5), T0 + timedelta(days=1))
USERS = [1, 2, 3, 4, 5, 6, 2**53 + 1]  # 3: only old events; 6: none
# users with an event a load at T0 reads, so with a record: past the horizon (7d is folded) it
# cannot answer exactly. A user without one had no event in any window from T0 - 5m on.
RECORDED = [1, 2, 4, 5, 2**53 + 1]
LOADED = len(RECORDED)
DOUBLE_TOLERANCE = 1e-12  # docs/windows.md: DOUBLE sums and averages, relative to sum(|x|)


def _dbt(project: Path, env: dict[str, str], *args: str) -> None:
    dbt = Path(sys.executable).with_name("dbt")
    proc = subprocess.run(
        [str(dbt), *args, "--project-dir", str(project), "--profiles-dir", str(project),
         "--log-path", str(project / "logs")],
        env={**os.environ, "SKEWLESS_PACKAGE_DIR": str(REPO), **env},
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, f"dbt {' '.join(args)} failed:\n{proc.stdout[-5000:]}"


@pytest.fixture(scope="module")
def spark_windows(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkProject]:
    """The fixture project built on Spark and on DuckDB (dbt subprocesses), then one Spark
    reader for the module, started from the profile as `skewless materialize --dbt-target
    spark` starts it (the metastore the dbt process built, released when it exited)."""
    _require_spark()
    _stop_spark()  # a Spark left in this process would be joined, with its own metastore
    base = tmp_path_factory.mktemp("spark-windows")

    def build(project: Path, target: str, env: dict[str, str]) -> None:
        if target == "spark":  # the first build: the package first
            _dbt(project, {}, "deps")
        _dbt(project, env, "build", "--target", target,
             "--target-path", str(project / f"target-{target}"))  # fmt: skip

    with built_on_spark_and_duckdb(PROJECT, base, "SKEWLESS_SPW_DIR", build) as built:
        yield built


def _duck_reader(p: SparkProject) -> Any:
    os.environ["SKEWLESS_DUCKDB_PATH"] = str(p.duckdb)
    try:
        return reader_from_profile(p.dir, p.dir, "duckdb", p.duck_registry.views.values())
    finally:
        os.environ.pop("SKEWLESS_DUCKDB_PATH", None)


def _offline(p: SparkProject) -> dict[tuple[int, datetime], dict[str, Any]]:
    """`window_join` on DuckDB (model `joined`): (user, instant) → output → value."""
    import duckdb

    con = duckdb.connect(str(p.duckdb), read_only=True)
    try:
        con.execute("set TimeZone = 'UTC'")
        cur = con.execute("select * from main.joined")
        names = [d[0] for d in cur.description]
        rows = cur.fetchall()
    finally:
        con.close()
    out = {}
    for row in rows:
        r = dict(zip(names, row, strict=True))
        out[(r.pop("user_id"), r.pop("req_at").replace(tzinfo=UTC))] = r
    return out


Served = dict[tuple[int, datetime], tuple[dict[str, Any], dict[str, str]]]


def _serve(
    url: str, registry: Registry, instants: list[datetime], users: list[int] = USERS
) -> Served:
    """Every user's window values and statuses at each instant (one call per instant)."""
    store = FeatureStore(registry, connect(url), url)
    outputs = registry.windows[VIEW].output_names
    refs = [f"{VIEW}.{o}" for o in outputs]
    served: Served = {}
    for at in instants:
        resp = store.get_online_features(refs, [{"user_id": u} for u in users], now=at)
        for u, values, statuses in zip(users, resp.to_dicts(), resp.statuses, strict=True):
            served[(u, at)] = (
                {k.split(".", 1)[1]: v for k, v in values.items()},
                {k.split(".", 1)[1]: s for k, s in statuses.items()},
            )
    return served


def _records(url: str, registry: Registry) -> list[bytes]:
    """The entity encodings of the served generation's records of the view (its key list holds
    the generation's load instant too, which is not an entity)."""
    client = connect(url)
    view = registry.windows[VIEW]
    gen = client.get(keys.pointer_key(VIEW, view.version))
    assert gen is not None, "the view was never flipped in"
    tail = keys.data_key_tail(VIEW, gen)
    listed = client.lrange(keys.gen_keys_key(VIEW, gen), 0, -1)
    return sorted(k[len(b"skw:{") : -len(tail)] for k in listed if k.endswith(tail))


def _same(a: Any, b: Any) -> bool:
    """Equal values of the same type (NaN equals NaN)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b and type(a) is type(b)


def _assert_same_served(got: Served, want: Served, what: str) -> int:
    """`got` serves exactly what `want` serves: statuses, values and types. → values compared."""
    assert got.keys() == want.keys()
    n = 0
    for key, (values, statuses) in want.items():
        g_values, g_statuses = got[key]
        assert g_statuses == statuses, (what, key, g_statuses, statuses)
        assert g_values.keys() == values.keys()
        for name, v in values.items():
            assert _same(g_values[name], v), (what, key, name, g_values[name], v)
            n += 1
    return n


def _scales(p: SparkProject) -> dict[int, dict[str, float]]:
    """Per user, sum(|x|) of its finite amounts and fees: the scale of the DOUBLE bound."""
    import duckdb

    con = duckdb.connect(str(p.duckdb), read_only=True)
    try:
        rows = con.execute(
            "select user_id, sum(abs(amount)) filter (where isfinite(amount)), "
            "sum(abs(fee)) from main.user_windows group by user_id"
        ).fetchall()
    finally:
        con.close()
    return {u: {"amount": float(a or 0), "fee": float(f or 0)} for u, a, f in rows}


def _close(got: Any, want: Any, scale: float) -> bool:
    if not isinstance(got, float) or not isinstance(want, float):
        return False
    if math.isnan(got) or math.isnan(want) or math.isinf(got) or math.isinf(want):
        return _same(got, want)
    return abs(got - want) <= DOUBLE_TOLERANCE * scale + 1e-300


def test_spark_load_serves_what_the_duckdb_load_and_window_join_give(
    spark_windows: SparkProject, redis_url: str, record_property: Any
) -> None:
    from skewless.offline.spark import SparkReader
    from skewless.online.materialize import materialize as duck_materialize
    from skewless.online.spark import materialize as spark_materialize

    reader = spark_windows.reader
    assert isinstance(reader, SparkReader) and reader.engine == "spark"
    assert reader.owned and reader.master == "local[2]"  # started here from the profile
    assert VIEW in spark_windows.registry.windows and VIEW not in spark_windows.registry.views

    offline = _offline(spark_windows)
    instants = sorted({at for _, at in offline})
    assert len(instants) == 9 and sorted({u for u, _ in offline}) == sorted(USERS)
    client = connect(redis_url)
    served: dict[str, Served] = {}
    seconds: dict[str, float] = {}
    records: dict[str, list[bytes]] = {}
    for engine in ("duckdb", "spark"):
        client.flushall()
        t = time.perf_counter()
        if engine == "duckdb":
            duck = _duck_reader(spark_windows)
            try:
                assert duck.engine == "duckdb"
                results = duck_materialize(
                    spark_windows.duck_registry, client, duck, select=[VIEW], now=T0
                )
            finally:
                duck.close()
            registry = spark_windows.duck_registry
        else:
            sc = reader.spark.sparkContext
            jobs_before = set(sc.statusTracker().getJobIdsForGroup())
            results = spark_materialize(
                spark_windows.registry, client, reader, url=redis_url, select=[VIEW],
                now=T0, write="driver",
            )  # fmt: skip
            # the events were read by Spark jobs (the count and the events query)
            assert len(set(sc.statusTracker().getJobIdsForGroup()) - jobs_before) >= 2
            registry = spark_windows.registry
        seconds[engine] = time.perf_counter() - t
        assert [r.view for r in results] == [VIEW], (engine, results)
        records[engine] = _records(redis_url, registry)
        assert len(records[engine]) == LOADED, (engine, records[engine])
        served[engine] = _serve(redis_url, registry, instants)
    assert records["spark"] == records["duckdb"]  # the same entity keys

    # 1. the Spark load serves exactly what the DuckDB load serves: statuses, values, types
    n_engines = _assert_same_served(served["spark"], served["duckdb"], "spark vs duckdb load")

    # 2. and that is window_join on DuckDB at each instant, or `stale` outside the exact range
    scales = _scales(spark_windows)
    stats: Counter[str] = Counter()
    functions = {
        a.name: (a.column, a.function) for a in spark_windows.registry.windows[VIEW].aggregates
    }
    for (user, at), want in offline.items():
        values, statuses = served["spark"][(user, at)]
        # refused before T0 - 5m (older events were not loaded) and, for a user with a
        # record, past T0 + horizon (its folded 7d window is no longer exact)
        stale = at < EXACT[0] or (at > EXACT[1] and user in RECORDED)
        if stale:
            assert set(statuses.values()) == {"stale"}, (user, at, statuses)
            assert all(v is None for v in values.values()), (user, at)
            stats["stale rows"] += 1
            continue
        assert set(statuses.values()) == {"present"}, (user, at, statuses)
        stats["present rows"] += 1
        for name, exp in want.items():
            got = values[name]
            column, fn = functions[name]
            where = (user, at.isoformat(), name, got, exp)
            if exp is None or got is None:
                assert got is None and exp is None, where
            elif fn == "avg" or (fn == "sum" and column == "amount"):
                assert _close(got, exp, scales.get(user, {}).get(column, 0.0)), where
                stats["within the DOUBLE bound"] += 1
            else:
                assert _same(got, exp), where
            stats["values vs window_join"] += 1
            stats["non-null"] += exp is not None
    assert stats["stale rows"] == len(USERS) + LOADED  # T0 - 5m - 1us, T0 + 1d + 1us
    assert stats["present rows"] == 9 * len(USERS) - stats["stale rows"]
    assert stats["values vs window_join"] == stats["present rows"] * len(functions)

    # not a vacuous comparison: edges, ties, NULLs, NaN, the folded middle, the old-only user
    spark = served["spark"]
    one = spark[(1, T0)][0]
    assert (one["events_count_1h"], one["events_count_1d"], one["events_count_7d"]) == (4, 5, 8)
    assert spark[(1, T0 + US)][0]["events_count_1h"] == 3  # t0 - 1h + 1us left the hour
    assert spark[(1, T0 + timedelta(hours=1))][0]["events_count_1h"] == 1  # t0 out, t0+30m in
    assert spark[(1, T0 - timedelta(minutes=5))][0]["merchant_last_7d"] == "mC"  # on the edge
    day = spark[(1, T0 + timedelta(days=1))][0]
    assert day["events_count_7d"] == 9 and day["amount_last_1d"] == 10.0
    assert day["fee_sum_7d"] == Decimal("43.4444") and day["merchant_last_1d"] == "m30"
    two = spark[(2, T0)][0]
    assert two["merchant_last_1h"] == "b" and two["fee_last_1h"] == Decimal("9.9999")
    assert two["amount_last_1h"] == 7.5 and two["amount_count_1h"] == 3
    assert two["events_count_1h"] == 4 and two["merchant_count_distinct_1h"] == 3
    assert two["settled_at_last_1h"] == datetime(2099, 1, 8, 11, 50, 0, 1, tzinfo=UTC)
    assert two["merchant_min_7d"] == "A" and two["merchant_max_7d"] == '日本語 🚀 "q"'
    assert two["settled_at_max_7d"].utcoffset() == timedelta(0)
    three = spark[(3, T0)]
    assert set(three[1].values()) == {"present"}
    assert three[0]["events_count_7d"] == 0 and three[0]["merchant_count_distinct_7d"] == 0
    assert three[0]["amount_sum_7d"] is None and three[0]["settled_at_max_7d"] is None
    four = spark[(4, T0)][0]
    assert math.isnan(four["amount_max_7d"]) and four["amount_min_7d"] == -math.inf
    assert math.isnan(four["amount_sum_7d"]) and four["merchant_count_distinct_7d"] == 2
    five = spark[(5, T0)][0]
    assert five["fee_sum_7d"] == Decimal("199999999999999.9998") and five["events_count_1d"] == 0
    assert spark[(2**53 + 1, T0)][0]["amount_sum_1h"] == 42.0
    assert all(spark[(u, EXACT[0] - US)][1]["events_count_1h"] == "stale" for u in USERS)
    assert all(spark[(u, EXACT[1] + US)][1]["events_count_1h"] == "stale" for u in RECORDED)
    assert spark[(3, EXACT[1] + US)] == spark[(6, EXACT[1] + US)] == spark[(6, T0)]

    # 3. the load reads Spark: an event only Spark's relation holds is served after a reload
    reader.spark.sql(
        f"insert into {SCHEMA}.{VIEW} select 'e70', cast(7 as bigint), "
        "timestamp_ntz'2099-01-08 11:59:00', 70.0, cast(7.0 as decimal(18,4)), 'spark only', "
        "timestamp'2099-01-08 11:59:00'"
    )
    results = spark_materialize(
        spark_windows.registry, client, reader, url=redis_url, select=[VIEW], now=T0,
        write="driver",
    )  # fmt: skip
    assert [r.view for r in results] == [VIEW]
    assert len(_records(redis_url, spark_windows.registry)) == LOADED + 1
    seven = _serve(redis_url, spark_windows.registry, [T0], [7])[(7, T0)][0]
    assert seven["events_count_1h"] == 1 and seven["merchant_last_1h"] == "spark only"
    assert seven["fee_sum_1h"] == Decimal("7.0000") and seven["amount_max_7d"] == 70.0

    summary = (
        f"window view loaded from Spark (dbt build {spark_windows.build_seconds:.0f}s, load "
        f"{seconds['spark']:.1f}s; DuckDB {seconds['duckdb']:.1f}s): {n_engines} values equal "
        f"to the DuckDB load's, {dict(stats)}"
    )
    print(summary)
    record_property("summary", summary)


def test_every_spark_write_mode_and_the_cli_load_window_views(
    spark_windows: SparkProject, redis_url: str
) -> None:
    """`--spark-write executors` (the mode a cluster master picks by default) and the CLI load
    the window view too, serving what the driver path serves."""
    from skewless.cli import main
    from skewless.online.spark import materialize as spark_materialize

    reader = spark_windows.reader
    client = connect(redis_url)
    instants = [T0 - timedelta(minutes=5), T0, T0 + timedelta(hours=1), T0 + timedelta(days=1)]
    served: dict[str, Served] = {}
    rows: dict[str, int] = {}
    for how in ("driver", "executors", "cli"):
        client.flushall()
        if how == "cli":
            res = CliRunner().invoke(
                main,
                ["--project-dir", str(spark_windows.dir),
                 "--target-path", str(spark_windows.dir / "target-spark"),
                 "--redis-url", redis_url, "materialize",
                 "--profiles-dir", str(spark_windows.dir), "--dbt-target", "spark",
                 "--select", VIEW, "--now", T0.strftime("%Y-%m-%dT%H:%M:%S"), "--json"],
            )  # fmt: skip
            assert res.exit_code == 0, res.output
            out = json.loads(res.stdout)
            assert [r["view"] for r in out] == [VIEW], out
        else:
            results = spark_materialize(
                spark_windows.registry, client, reader, url=redis_url, select=[VIEW], now=T0,
                write=how,
            )  # fmt: skip
            assert [r.view for r in results] == [VIEW], (how, results)
        rows[how] = len(_records(redis_url, spark_windows.registry))
        served[how] = _serve(redis_url, spark_windows.registry, instants)
    # another test of the module may have added one Spark-only event (user 7): not read here
    assert rows["driver"] in (LOADED, LOADED + 1) and len(set(rows.values())) == 1, rows
    assert served["driver"][(1, T0)][0]["events_count_7d"] == 8
    for how in ("executors", "cli"):
        _assert_same_served(served[how], served["driver"], how)
