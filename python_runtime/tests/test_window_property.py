"""skewless.window_join (and point_in_time_join over window views) against a brute-force oracle.

The macros are compiled through dbt ONCE per engine (the project reuses test_pit_property's dbt
helpers); the compiled SQL then runs over each hypothesis dataset after the tables behind the
compiled relation names are refilled.

The window contract checked, per spine row (keys, instant q), view and window W:
events e of that entity with  q - W < e.ts <= q - available_after  (microsecond-exact), NULL
values ignored by the aggregates; count / count_distinct / events_count are 0 for an empty
window (and for a null key or spine time), every other aggregate NULL; `last` is the value of
the latest event with a non-null value in the window, the greatest value among ties. View `wc`
declares a `hop` H: its lower edge is floor_H(q - W) (a multiple of H since the epoch) instead of
q - W.

Comparison: counts, integer and DECIMAL sums, min, max, last, count_distinct exactly. DOUBLE sums
and averages (and averages of integers, DOUBLE on DuckDB, NUMERIC on PostgreSQL) within the
documented bound (docs/windows.md): |got - exact| <= 1e-12 * sum(|x|) (for avg: divided by the
count), `exact` being the correctly rounded math.fsum — summation order is the engine's.

Datasets use a 30-minute grid with +-1 microsecond jitter, and windows / available_after that are
multiples of 30 minutes, so events fall exactly on q - W and q - available_after and one
microsecond either side; spine rows repeat, keys and times are null, values are null, several
events share a key and a time (ties for `last`).
"""

from __future__ import annotations

import collections
import dataclasses
import json
import math
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, postgres_dsn

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from test_pit_property import _dbt, _pg_time  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("window_property")]

MIN_DATASETS = int(os.environ.get("SKEWLESS_WINDOW_PROPERTY_EXAMPLES", "200"))
NS_PER_S = 1_000_000_000
US = 1_000  # one microsecond in ns
STEP = 1800 * NS_PER_S  # the 30-minute grid
BASE_NS = int(datetime(2024, 3, 10, 4, 0, tzinfo=timezone.utc).timestamp()) * NS_PER_S
DOUBLE_TOLERANCE = 1e-12  # relative to the sum of absolute values (docs/windows.md)

# The window views: meta.skewless and the declared column types (DuckDB, PostgreSQL).
VIEWS: dict[str, dict[str, Any]] = {
    "wa": {
        "meta": {
            "kind": "window",
            "entity": "k1",
            "timestamp": "ts",
            "windows": ["1h", "2h30m"],
            "aggregations": [
                {"column": "*", "functions": ["count"]},
                {"column": "x", "functions": ["count", "sum", "avg", "min", "max", "last"]},
                {"column": "n", "functions": ["sum", "avg", "last", "count_distinct"]},
                {"column": "d", "functions": ["sum", "min", "max", "last"]},
                {"column": "s", "functions": ["min", "last", "count_distinct"]},
            ],
        },
        "keys": ("k1",),
        "seconds": {"1h": 3600, "2h30m": 9000},
        "after": 0,
    },
    "wb": {
        "meta": {
            "kind": "window",
            "entity": ["k1", "k2"],
            "timestamp": "ts",
            "available_after": "30m",
            "windows": ["1h", "3h"],
            "aggregations": [
                {"column": "n", "functions": ["count", "sum"]},
                {"column": "x", "functions": ["last", "max"]},
            ],
        },
        "keys": ("k1", "k2"),
        "seconds": {"1h": 3600, "3h": 10800},
        "after": 1800,
    },
    # hopped: the windows start on the hour (the grid's events fall on those edges too)
    "wc": {
        "meta": {
            "kind": "window",
            "entity": "k1",
            "timestamp": "ts",
            "available_after": "30m",
            "hop": "1h",
            "windows": ["1h", "2h30m"],
            "aggregations": [
                {"column": "*", "functions": ["count"]},
                {"column": "x", "functions": ["sum", "min", "max", "last"]},
                {"column": "d", "functions": ["sum"]},
                {"column": "s", "functions": ["count_distinct"]},
            ],
        },
        "keys": ("k1",),
        "seconds": {"1h": 3600, "2h30m": 9000},
        "after": 1800,
        "hop": 3600,
    },
}
COLUMN_TYPES = {"k1": "bigint", "k2": "varchar", "ts": "timestamp", "x": "double"}
COLUMN_TYPES |= {"n": "bigint", "d": "decimal(18,3)", "s": "varchar"}
EVENT_COLUMNS = ("k1", "k2", "ts", "x", "n", "d", "s")
# (view, prefix, spine key columns) as joined by every query
JOINS = (
    ("wa", "", ("k1",)),
    ("wb", "b_", ("k1", "k2")),
    ("wa", "p_", ("k1b",)),
    ("wc", "c_", ("k1",)),
)
WINDOW_VIEWS = (
    "[ref('wa'), {'view': ref('wb'), 'prefix': 'b_'}, "
    "{'view': ref('wa'), 'keys': {'k1': 'k1b'}, 'prefix': 'p_'}, "
    "{'view': ref('wc'), 'prefix': 'c_'}]"
)


def outputs(view: str, prefix: str) -> list[tuple[str, str, str, str]]:
    """(output name, column, function, window) in the macro's order."""
    meta = VIEWS[view]["meta"]
    out = []
    for agg in meta["aggregations"]:
        for fn in agg["functions"]:
            base = "events_count" if agg["column"] == "*" else f"{agg['column']}_{fn}"
            out += [(f"{prefix}{base}_{w}", agg["column"], fn, w) for w in meta["windows"]]
    return out


OUTPUTS = [o for view, prefix, _ in JOINS for o in outputs(view, prefix)]
OUTPUT_NAMES = [o[0] for o in OUTPUTS]


# ---------------------------------------------------------------------------------------------
# The dbt project, compiled once per engine
# ---------------------------------------------------------------------------------------------

QUERIES = {
    "window_join": f"skewless.window_join(ref('spine'), 'st', {WINDOW_VIEWS})",
    "default": f"skewless.default__window_join(ref('spine'), 'st', {WINDOW_VIEWS})",
    # point_in_time_join delegating: window views only, and mixed with a plain feature view
    "pit_windows": f"skewless.point_in_time_join(ref('spine'), 'st', {WINDOW_VIEWS})",
    "pit_mixed": "skewless.point_in_time_join(ref('spine'), 'st', [ref('fv'), ref('wa')])",
    "pit_plain": "skewless.point_in_time_join(ref('spine'), 'st', [ref('fv')])",
}


def _write_project(root: Path, duckdb_path: Path, pg_schema: str) -> None:
    (root / "models").mkdir(parents=True)
    (root / "dbt_project.yml").write_text(
        "name: window_prop\nversion: '0.1.0'\nconfig-version: 2\nprofile: window_prop\n"
        "model-paths: ['models']\nflags: {send_anonymous_usage_stats: false}\n"
    )
    (root / "packages.yml").write_text(f"packages:\n  - local: {REPO}\n")
    dsn = postgres_dsn()
    (root / "profiles.yml").write_text(
        "window_prop:\n  target: duckdb\n  outputs:\n"
        f"    duckdb: {{type: duckdb, path: '{duckdb_path}', threads: 1}}\n"
        f"    postgres: {{type: postgres, host: '{dsn['host']}', port: {dsn['port']}, "
        f"user: '{dsn['user']}', password: '{dsn['password']}', dbname: '{dsn['dbname']}', "
        f"schema: '{pg_schema}', threads: 1}}\n"
    )
    models: list[dict[str, Any]] = [{"name": "spine"}]
    for name, view in VIEWS.items():
        models.append(
            {
                "name": name,
                "config": {"meta": {"skewless": view["meta"]}},
                "columns": [{"name": c, "data_type": COLUMN_TYPES[c]} for c in EVENT_COLUMNS],
            }
        )
    models.append(
        {
            "name": "fv",
            "config": {"meta": {"skewless": {"entity": "k1", "timestamp": "ts"}}},
            "columns": [
                {"name": "k1", "data_type": "bigint"},
                {"name": "ts", "data_type": "timestamp"},
                {"name": "f_x", "data_type": "double"},
            ],
        }
    )
    for name in [*VIEWS, "spine", "fv"]:
        (root / "models" / f"{name}.sql").write_text("select 1 as placeholder\n")
    for name, call in QUERIES.items():
        (root / "models" / f"q_{name}.sql").write_text(f"select * from ({{{{ {call} }}}}) as w\n")
    (root / "models" / "models.yml").write_text(
        json.dumps({"version": 2, "models": models}, indent=1)
    )


def _registry(root: Path, target: str) -> Any:
    """The window views as the runtime reads them from `target`'s manifest (after `_compiled`)."""
    from skewless.definitions.registry import Registry

    return Registry.from_manifest(root / f"target_{target}" / "manifest.json")


def _compiled(root: Path, target: str) -> dict[str, str]:
    target_path = root / f"target_{target}"
    _dbt(root, "compile", "--target", target, "--target-path", str(target_path))
    base = target_path / "compiled" / "window_prop" / "models"
    return {name: (base / f"q_{name}.sql").read_text() for name in QUERIES}


@dataclass
class Project:
    root: Path
    pg_schema: str
    duckdb: dict[str, str]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    root = tmp_path_factory.mktemp("window_prop")
    pg_schema = f"window_prop_{uuid.uuid4().hex[:10]}"
    _write_project(root, root / "prop.duckdb", pg_schema)
    _dbt(root, "deps")
    yield Project(root, pg_schema, _compiled(root, "duckdb"))
    shutil.rmtree(root, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Random datasets and the oracle
# ---------------------------------------------------------------------------------------------


@st.composite
def instants(draw: Any) -> int | None:
    """Nanoseconds since the epoch (whole microseconds) on the 30-minute grid, +-1 us."""
    if draw(st.integers(0, 9)) == 0:
        return None
    return BASE_NS + draw(st.integers(0, 10)) * STEP + draw(st.sampled_from((0, 0, US, -US)))


@st.composite
def datasets(draw: Any) -> dict[str, Any]:
    k1 = st.sampled_from((1, 2, None))
    k2 = st.sampled_from(("a", "b", None))
    x = st.sampled_from((0.0, 1.5, -2.25, 0.1, 1e16, -1e16, None))
    n = st.sampled_from((0, 1, -7, 2**40, None))
    d = st.sampled_from((Decimal("0.001"), Decimal("-12.5"), Decimal("99999.999"), None))
    s = st.sampled_from(("a", "ab", "b", "zz", None))
    spine = draw(st.lists(st.tuples(k1, k2, k1, instants()), max_size=8))
    rows = [(i, *row) for i, row in enumerate(spine)]
    rows += draw(st.lists(st.sampled_from(rows), max_size=3)) if rows else []
    events = draw(st.lists(st.tuples(k1, k2, instants(), x, n, d, s), max_size=14))
    if events and draw(st.booleans()):  # a tie: another event with the same keys and time
        a, b, t, *_ = draw(st.sampled_from(events))
        events.append((a, b, t, draw(x), draw(n), draw(d), draw(s)))
    if events and draw(st.booleans()):  # a spine row exactly one window / lag after an event
        a, b, t, *_ = draw(st.sampled_from(events))
        if t is not None:
            q = t + draw(st.sampled_from((3600, 9000, 10800, 1800, 5400))) * NS_PER_S
            rows.append((len(rows) + 100, a, b, a, q + draw(st.sampled_from((0, US, -US)))))
    fv = draw(st.lists(st.tuples(k1, instants(), x), max_size=5))
    return {"spine": rows, "events": events, "fv": fv}


def _aggregate(fn: str, column: str, events: list[tuple[Any, ...]]) -> Any:
    if column == "*":
        return len(events)
    i = EVENT_COLUMNS.index(column)
    values = [(e[2], e[i]) for e in events if e[i] is not None]
    if fn == "count":
        return len(values)
    if fn == "count_distinct":
        return len({v for _, v in values})
    if not values:
        return None
    plain = [v for _, v in values]
    if fn == "sum":
        return math.fsum(plain) if column == "x" else sum(plain)
    if fn == "avg":
        return math.fsum(plain) / len(plain) if column == "x" else Decimal(sum(plain)) / len(plain)
    if fn == "min":
        return min(plain)
    if fn == "max":
        return max(plain)
    latest = max(t for t, _ in values)
    return max(v for t, v in values if t == latest)  # last: the greatest value among ties


def oracle(data: dict[str, Any], stats: collections.Counter[str]) -> dict[int, dict[str, Any]]:
    """Per spine_id: output name -> the exact value."""
    out = {}
    for spine_id, k1, k2, k1b, q in data["spine"]:
        spine_keys = {"k1": k1, "k2": k2, "k1b": k1b}
        row = {}
        for view, prefix, keys in JOINS:
            v = VIEWS[view]
            want = tuple(spine_keys[k] for k in keys)
            mine = [
                e
                for e in data["events"]
                if q is not None
                and None not in want
                and e[2] is not None
                and tuple(e[EVENT_COLUMNS.index(k)] for k in v["keys"]) == want
            ]
            for w, secs in v["seconds"].items():
                lo, hi = q - secs * NS_PER_S if q else 0, q - v["after"] * NS_PER_S if q else 0
                if v.get("hop"):  # floor to a multiple of the hop (Python's % floors)
                    lo -= lo % (v["hop"] * NS_PER_S)
                    stats["hopped_edges"] += sum(e[2] in (lo, lo + US) for e in mine)
                inside = [e for e in mine if lo < e[2] <= hi]
                stats["edge_events"] += sum(e[2] in (lo, hi) for e in mine)
                stats["windows_nonempty" if inside else "windows_empty"] += 1
                for name, column, fn, window in outputs(view, prefix):
                    if window == w:
                        row[name] = _aggregate(fn, column, inside)
                        if fn == "last" and inside:
                            stats["last_ties"] += len({e[2] for e in inside}) < len(inside)
        out[spine_id] = row
    return out


def _close(got: Any, want: Any, scale: float) -> bool:
    return abs(float(got) - float(want)) <= DOUBLE_TOLERANCE * scale + 1e-300


def check(
    actual: list[tuple[Any, ...]],
    data: dict[str, Any],
    expected: dict[int, dict[str, Any]],
    label: str,
) -> None:
    counts = collections.Counter(row[0] for row in data["spine"])
    got_counts = collections.Counter(row[0] for row in actual)
    assert got_counts == counts, f"{label}: not one output row per spine row\ndata={data}"
    for row in actual:
        spine_id, values = row[0], dict(zip(OUTPUT_NAMES, row[1:], strict=True))
        for name, column, fn, _window in OUTPUTS:
            got, want = values[name], expected[spine_id][name]
            where = f"{label}: spine_id {spine_id} `{name}`: got {got!r}, expected {want!r}"
            if want is None or got is None:
                assert got is want, f"{where}\ndata={data}"
            elif fn == "avg" or (fn == "sum" and column == "x"):
                i = EVENT_COLUMNS.index(column)
                scale = math.fsum(abs(float(e[i])) for e in data["events"] if e[i] is not None)
                assert _close(got, want, scale), f"{where} (tolerance)\ndata={data}"
            else:
                assert got == want, f"{where}\ndata={data}"
                if fn == "sum":  # integer and DECIMAL sums are exact, never a float
                    assert not isinstance(got, float), where


# ---------------------------------------------------------------------------------------------
# Engines
# ---------------------------------------------------------------------------------------------

TABLES = {
    "spine": "spine_id integer, k1 bigint, k2 varchar, k1b bigint, st timestamp",
    "events": "k1 bigint, k2 varchar, ts timestamptz, x double precision, n bigint, "
    "d decimal(18,3), s varchar",
    "fv_data": "k1 bigint, ts timestamp, f_x double precision",
}
SELECT = f"select spine_id, {', '.join(OUTPUT_NAMES)} from ({{sql}}) as q"


def _rows(data: dict[str, Any]) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "spine": [(i, a, b, c, _pg_time(t, False)) for i, a, b, c, t in data["spine"]],
        "events": [(a, b, _pg_time(t, True), *rest) for a, b, t, *rest in data["events"]],
        "fv_data": [(k, _pg_time(t, False), x) for k, t, x in data["fv"]],
    }


def _check_delegation(run: Any, compiled: dict[str, str], reference: list[tuple[Any, ...]]) -> None:
    """point_in_time_join over window views gives window_join's rows; mixed with a plain view,
    the window columns are window_join's and the plain view's are point_in_time_join's."""
    assert collections.Counter(run(SELECT.format(sql=compiled["pit_windows"]))) == (
        collections.Counter(reference)
    )
    wa = [n for n, *_ in outputs("wa", "")]
    mixed = run(f"select spine_id, f_x, {', '.join(wa)} from ({compiled['pit_mixed']}) as q")
    plain = dict(run(f"select spine_id, f_x from ({compiled['pit_plain']}) as q"))
    by_id = {r[0]: r[1 : 1 + len(wa)] for r in reference}
    assert len(mixed) == len(reference)
    for row in mixed:
        assert row[1] == plain[row[0]] and row[2:] == by_id[row[0]], row


@pytest.fixture(scope="module")
def duck(project: Project) -> Iterator[Any]:
    import duckdb

    con = duckdb.connect()
    con.execute("attach ':memory:' as prop")
    con.execute("set TimeZone = 'America/New_York'")
    con.execute("set threads = 1")
    for table, columns in TABLES.items():
        con.execute(f"create table prop.main.{table} ({columns})")
    for view in VIEWS:
        con.execute(f"create view prop.main.{view} as select * from prop.main.events")
    con.execute("create view prop.main.fv as select * from prop.main.fv_data")
    yield con
    con.close()


def test_window_matches_oracle_duckdb(project: Project, duck: Any) -> None:
    compiled = project.duckdb
    registry = _registry(project.root, "duckdb")
    stats: collections.Counter[str] = collections.Counter()

    def run_sql(sql: str) -> list[tuple[Any, ...]]:
        return duck.execute(sql).fetchall()  # type: ignore[no-any-return]

    @settings(
        max_examples=MIN_DATASETS,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(datasets())
    def run(data: dict[str, Any]) -> None:
        for table, rows in _rows(data).items():
            duck.execute(f"delete from prop.main.{table}")
            if rows:
                marks = ", ".join("?" * len(rows[0]))
                duck.executemany(f"insert into prop.main.{table} values ({marks})", rows)
        expected = oracle(data, stats)
        reference = run_sql(SELECT.format(sql=compiled["window_join"]))
        check(reference, data, expected, "duckdb window_join")
        check(run_sql(SELECT.format(sql=compiled["default"])), data, expected, "duckdb default__")
        _check_delegation(run_sql, compiled, reference)
        if stats["datasets"] % 4 == 0:
            _check_replay(registry, duck, data, expected, stats, "duckdb replay")
        stats["datasets"] += 1

    run()
    print(f"window_join property run (duckdb): {dict(stats)}")
    _assert_coverage(stats)
    assert stats["replayed_values"] >= MIN_DATASETS, stats


# ---------------------------------------------------------------------------------------------
# The consistency replay of served window values (guards/window_replay.py), on each engine
# ---------------------------------------------------------------------------------------------

REPLAYED = (("wa", "", ("k1",)), ("wb", "b_", ("k1", "k2")), ("wc", "c_", ("k1",)))


def _logged(data: dict[str, Any], expected: dict[int, dict[str, Any]]) -> list[Any]:
    """The oracle's values of each spine row with a time and keys, as served-feature log rows
    (what a server exact to the contract would have logged)."""
    from skewless.guards.feature_log import LoggedRow

    rows = []
    for spine_id, k1, k2, _k1b, q in data["spine"]:
        if q is None:
            continue
        served_at = datetime.fromtimestamp(q // US / 1e6, timezone.utc).replace(
            microsecond=(q // US) % 1_000_000
        )
        for view, prefix, keys in REPLAYED:
            entity = {k: {"k1": k1, "k2": k2}[k] for k in keys}
            if None in entity.values():
                continue
            refs = {
                f"{view}.{name[len(prefix) :]}": expected[spine_id][name]
                for name, *_ in outputs(view, prefix)
            }
            rows.append(
                LoggedRow(
                    request_id=f"r{spine_id}",
                    row=0,
                    served_at=served_at,
                    entity=entity,
                    request={},
                    values=refs,
                    statuses=dict.fromkeys(refs, "present"),
                    ages={},
                    versions={},
                )
            )
    return rows


def _check_replay(
    registry: Any, reader: Any, data: dict[str, Any], expected: Any, stats: Any, label: str
) -> None:
    """The replay of the oracle's values finds 0 mismatches; one value changed is found."""
    from skewless.guards.consistency import replay

    logged = _logged(data, expected)
    if not logged:
        return
    report = replay(registry, reader, logged)
    compared = sum(f.total for f in report.features)
    assert compared == sum(len(r.values) for r in logged), (label, report.notes)
    bad = [(f.feature, f.examples[:1]) for f in report.features if f.mismatch]
    assert not bad, f"{label}: replay mismatches {bad}\ndata={data}"
    stats["replayed_values"] += compared
    # a served count one too high is a mismatch of exactly that output
    first = logged[0]
    ref = next(r for r in first.values if r.endswith("_count_1h") or "events_count" in r)
    changed = dict(first.values)
    changed[ref] = (changed[ref] or 0) + 1
    report = replay(registry, reader, [dataclasses.replace(first, values=changed)])
    assert {f.feature for f in report.features if f.mismatch} == {ref}, label
    stats["replay_mutations_caught"] += 1


def _assert_coverage(stats: collections.Counter[str]) -> None:
    assert stats["datasets"] >= MIN_DATASETS, stats
    # the generator reaches the edges, empty and non-empty windows and ties of `last`
    assert stats["edge_events"] >= MIN_DATASETS and stats["last_ties"] >= MIN_DATASETS // 10, stats
    assert stats["windows_empty"] >= MIN_DATASETS, stats
    assert stats["windows_nonempty"] >= MIN_DATASETS, stats
    assert stats["hopped_edges"] >= MIN_DATASETS // 10, stats


def test_window_matches_oracle_postgres(project: Project, postgres: Any) -> None:
    from psycopg2.extras import execute_values

    compiled = _compiled(project.root, "postgres")
    assert "asof" not in compiled["window_join"].lower()
    registry = _registry(project.root, "postgres")
    from skewless.offline.postgres import PostgresReader
    from skewless.offline.profile import ProfileTarget

    dsn = postgres_dsn()
    reader = PostgresReader.from_target(
        ProfileTarget(
            project.root / "profiles.yml",
            "window_prop",
            "postgres",
            "postgres",
            dict(dsn),
            project.root,
        )
    )
    schema = project.pg_schema
    cur = postgres.cursor()
    cur.execute(f"create schema {schema}")
    try:
        for table, columns in TABLES.items():
            cur.execute(f"create table {schema}.{table} ({columns})")
        for view in VIEWS:
            cur.execute(f"create view {schema}.{view} as select * from {schema}.events")
        cur.execute(f"create view {schema}.fv as select * from {schema}.fv_data")
        cur.execute("set timezone = 'America/New_York'")
        stats: collections.Counter[str] = collections.Counter()

        def run_sql(sql: str) -> list[tuple[Any, ...]]:
            cur.execute(sql)
            return cur.fetchall()  # type: ignore[no-any-return]

        @settings(
            max_examples=MIN_DATASETS,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(datasets())
        def run(data: dict[str, Any]) -> None:
            cur.execute(f"truncate {', '.join(f'{schema}.{t}' for t in TABLES)}")
            for table, rows in _rows(data).items():
                if rows:
                    execute_values(cur, f"insert into {schema}.{table} values %s", rows)
            expected = oracle(data, stats)
            reference = run_sql(SELECT.format(sql=compiled["window_join"]))
            check(reference, data, expected, "postgres window_join")
            _check_delegation(run_sql, compiled, reference)
            if stats["datasets"] % 4 == 0:  # the replay reads the events through the reader
                _check_replay(registry, reader, data, expected, stats, "postgres replay")
            stats["datasets"] += 1

        run()
        print(f"window_join property run (postgres): {dict(stats)}")
        _assert_coverage(stats)
        assert stats["replayed_values"] >= MIN_DATASETS, stats
    finally:
        reader.close()
        cur.execute(f"drop schema {schema} cascade")
        cur.close()
