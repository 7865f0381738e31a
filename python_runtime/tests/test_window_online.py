"""Window views served online (`skewless.online.windows`) against `skewless.window_join` on DuckDB.

A dbt project (built once) declares two window views over one DuckDB table of events and a
model running `window_join` over a table of spine rows. Per hypothesis dataset, on a real
redis-server:

1. some events are in the table; `materialize` loads them at an instant t0;
2. others are pushed (`store.push`) — before and after t0, late ones included, some twice — and
   appended to the table, as the offline event log would be;
3. at instants around t0 (the slack before it, the horizon after it, window edges to the
   microsecond) every entity's online values are compared with `window_join` at that instant:
   equal (DOUBLE sums and averages within docs/windows.md's bound), or status `stale` only where
   the record cannot be exact (before t0 - SLACK, or past the horizon of a window with a folded
   middle);
4. a second load at t1 finds the pushed events in the table too (absorbed once, by event id),
   more events are pushed, and step 3 runs again around t1.
"""

from __future__ import annotations

import collections
import json
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

pytestmark = [pytest.mark.slow]

MIN_DATASETS = int(os.environ.get("SKEWLESS_WINDOW_ONLINE_EXAMPLES", "200"))
US = 1
MIN = 60_000_000
STEP = 30 * MIN  # the 30-minute grid, in microseconds
BASE = int(datetime(2024, 3, 10, 4, 0, tzinfo=timezone.utc).timestamp()) * 1_000_000
SLACK = 5 * MIN
DOUBLE_TOLERANCE = 1e-12

VIEWS: dict[str, dict[str, Any]] = {
    # windows longer than the horizon: both have a folded middle
    "wa": {
        "kind": "window",
        "entity": "k1",
        "timestamp": "ts",
        "event_id": "eid",
        "windows": ["1h", "2h30m"],
        "horizon": "30m",
        "aggregations": [
            {"column": "*", "functions": ["count"]},
            {"column": "x", "functions": ["count", "sum", "avg", "min", "max", "last"]},
            {"column": "n", "functions": ["sum", "avg", "last", "count_distinct"]},
            {"column": "d", "functions": ["sum", "min", "max", "last"]},
            {"column": "s", "functions": ["min", "last", "count_distinct"]},
        ],
    },
    # a lag, two keys, one window with a whole timeline (1h <= horizon + lag), one folded
    "wb": {
        "kind": "window",
        "entity": ["k1", "k2"],
        "timestamp": "ts",
        "event_id": "eid",
        "available_after": "30m",
        "windows": ["1h", "3h"],
        "horizon": "1h",
        "aggregations": [
            {"column": "n", "functions": ["count", "sum"]},
            {"column": "x", "functions": ["last", "max", "count_distinct"]},
        ],
    },
    # hopped (windows start on the hour), a lag; 1h is whole (its timeline ends when its last
    # event leaves), 3h has a folded middle
    "wc": {
        "kind": "window",
        "entity": "k1",
        "timestamp": "ts",
        "event_id": "eid",
        "available_after": "30m",
        "hop": "1h",
        "windows": ["1h", "3h"],
        "horizon": "2h",
        "aggregations": [
            {"column": "*", "functions": ["count"]},
            {"column": "x", "functions": ["sum", "min", "max", "last", "count_distinct"]},
            {"column": "n", "functions": ["count", "sum"]},
            {"column": "d", "functions": ["sum", "last"]},
            {"column": "s", "functions": ["count_distinct"]},
        ],
    },
}
HORIZON = {"wa": 30 * MIN, "wb": 60 * MIN, "wc": 120 * MIN}
PREFIX = {"wa": "", "wb": "b_", "wc": "c_"}  # the outputs' prefixes in the `joined` model
# an event before `now - SLACK - OLDEST` is in no window of a request from `now - SLACK` on
# (a hopped window starts up to one hop earlier)
OLDEST = {
    "wa": 150 * MIN + HORIZON["wa"],
    "wb": 180 * MIN + HORIZON["wb"],
    "wc": 180 * MIN + 60 * MIN + HORIZON["wc"],
}
TYPES = {"k1": "bigint", "k2": "varchar", "ts": "timestamp", "eid": "varchar"}
TYPES |= {"x": "double", "n": "bigint", "d": "decimal(18,3)", "s": "varchar"}
COLUMNS = ("k1", "k2", "ts", "eid", "x", "n", "d", "s")


def outputs(view: str) -> list[tuple[str, str, str]]:
    """(output name, column, function) in the view's order."""
    meta = VIEWS[view]
    out = []
    for agg in meta["aggregations"]:
        for fn in agg["functions"]:
            base = "events_count" if agg["column"] == "*" else f"{agg['column']}_{fn}"
            out += [(f"{base}_{w}", agg["column"], fn) for w in meta["windows"]]
    return out


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    import duckdb

    root = tmp_path_factory.mktemp("window_online")
    db = root / "w.duckdb"
    con = duckdb.connect(str(db))
    con.execute(
        "create table raw_events (k1 bigint, k2 varchar, ts timestamp, eid varchar, "
        "x double, n bigint, d decimal(18,3), s varchar)"
    )
    con.execute("create table raw_spine (spine_id integer, k1 bigint, k2 varchar, st timestamp)")
    con.close()
    (root / "models").mkdir()
    (root / "dbt_project.yml").write_text(
        "name: window_online\nversion: '0.1.0'\nconfig-version: 2\nprofile: window_online\n"
        "model-paths: ['models']\nflags: {send_anonymous_usage_stats: false}\n"
        "models: {window_online: {+materialized: view}}\n"
    )
    (root / "packages.yml").write_text(f"packages:\n  - local: {REPO}\n")
    (root / "profiles.yml").write_text(
        "window_online:\n  target: dev\n  outputs:\n"
        f"    dev: {{type: duckdb, path: '{db}', threads: 1, settings: {{TimeZone: UTC}}}}\n"
    )
    models: list[dict[str, Any]] = [{"name": "spine"}, {"name": "joined"}]
    for name, meta in VIEWS.items():
        (root / "models" / f"{name}.sql").write_text("select * from main.raw_events\n")
        models.append(
            {
                "name": name,
                "config": {"meta": {"skewless": meta}},
                "columns": [{"name": c, "data_type": TYPES[c]} for c in COLUMNS],
            }
        )
    (root / "models" / "spine.sql").write_text("select * from main.raw_spine\n")
    (root / "models" / "joined.sql").write_text(
        "select * from ({{ skewless.window_join(ref('spine'), 'st', "
        "[ref('wa'), {'view': ref('wb'), 'prefix': 'b_'}, {'view': ref('wc'), 'prefix': 'c_'}]) "
        "}}) as j\n"
    )
    (root / "models" / "models.yml").write_text(json.dumps({"version": 2, "models": models}))
    dbt = str(Path(sys.executable).with_name("dbt"))
    for args in (["deps"], ["build"]):
        proc = subprocess.run(
            [dbt, *args, "--project-dir", str(root), "--profiles-dir", str(root)],
            capture_output=True,
            text=True,
            env={**os.environ, "TZ": "UTC"},
            timeout=600,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
    yield db, root / "target" / "manifest.json"
    shutil.rmtree(root, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# datasets


# event times a load at t0 splits at (online.windows `spans`: the lowest lower edge t0 - SLACK -
# W, the highest t0 + horizon - W, C = t0 - SLACK - available_after; for `wc` those floored to
# the hour), for the windows and lags of the views
EDGES = sorted(
    {-SLACK, -SLACK - 30 * MIN}
    | {
        HORIZON[v] - w + 1
        for v, ws in (("wa", (60, 150)), ("wb", (60, 180)), ("wc", (60, 180)))
        for w in (m * MIN for m in ws)
    }
    | {-SLACK - w for w in (60 * MIN, 150 * MIN, 180 * MIN)}
)


def _instant(draw: Any, around: int) -> int:
    if draw(st.integers(0, 4)) == 0:  # on a boundary of the record, or 1us either side
        return around + draw(st.sampled_from(EDGES)) + draw(st.sampled_from((0, US, -US)))
    return around + draw(st.integers(-9, 7)) * STEP + draw(st.sampled_from((0, 0, US, -US)))


@st.composite
def datasets(draw: Any) -> dict[str, Any]:
    k1 = st.sampled_from((1, 2))
    k2 = st.sampled_from(("a", "b"))
    x = st.sampled_from(
        (0.0, 1.5, -2.25, 0.1, 1e16, -1e16, None, math.nan, math.inf, -math.inf, -0.0)
    )
    n = st.sampled_from((0, 1, -7, 2**40, 2**62, None))
    d = st.sampled_from((Decimal("0.001"), Decimal("-12.5"), Decimal("99999.999"), None))
    s = st.sampled_from(("a", "ab", "b", "zz", None))
    t0 = BASE + 8 * STEP + draw(st.sampled_from((0, US, -US, 7 * MIN)))
    t1 = t0 + draw(st.sampled_from((STEP, 2 * STEP, 3 * STEP + US)))
    counter = iter(range(10_000))

    def event(around: int, nullable: bool = True) -> dict[str, Any]:
        nk = st.sampled_from((1, 2, 3, None)) if nullable else k1
        nk2 = st.sampled_from(("a", "b", None)) if nullable else k2
        return {
            "k1": draw(nk),
            "k2": draw(nk2),
            "ts": _instant(draw, around),
            "eid": f"e{next(counter)}",
            "x": draw(x),
            "n": draw(n),
            "d": draw(d),
            "s": draw(s),
        }

    loaded = [event(t0) for _ in range(draw(st.integers(0, 14)))]
    if loaded and draw(st.booleans()):  # a tie: same keys and time, other values
        e = dict(draw(st.sampled_from(loaded)))
        loaded.append({**e, "eid": f"e{next(counter)}", "x": draw(x), "n": draw(n), "s": draw(s)})
    pushed1 = [event(t0, nullable=False) for _ in range(draw(st.integers(0, 6)))]
    pushed2 = [event(t1, nullable=False) for _ in range(draw(st.integers(0, 6)))]
    replay = draw(st.booleans())
    offsets = [0, US, -US, -SLACK, -SLACK - US, 30 * MIN, 60 * MIN, 60 * MIN + US, 3 * STEP]
    offsets += [draw(st.integers(-8, 8)) * STEP + draw(st.sampled_from((0, US, -US)))]
    return {
        "t0": t0,
        "t1": t1,
        "loaded": loaded,
        "pushed1": pushed1,
        "pushed2": pushed2,
        "replay": replay,
        "offsets": offsets,
    }


def _ts(us: int) -> datetime:
    return datetime(1970, 1, 1) + timedelta(microseconds=us)


def _row(e: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(_ts(e["ts"]) if c == "ts" and e[c] is not None else e[c] for c in COLUMNS)


def _push_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**e, "ts": _ts(e["ts"])} for e in events]


# ---------------------------------------------------------------------------------------------
# the comparison


ENTITIES = [{"k1": a, "k2": b} for a in (1, 2, 3) for b in ("a", "b")]


def _valid(view: str, q: int, t0: int) -> bool:
    """Whether a record loaded at t0 answers exactly at q: from t0 - SLACK, and (a view with a
    folded window) up to t0 + horizon."""
    return t0 - SLACK <= q <= t0 + HORIZON[view]


def _nan(v: Any) -> bool:
    return isinstance(v, float) and v != v


def _close(got: Any, want: Any, scale: float) -> bool:
    if _nan(got) or _nan(want) or math.isinf(float(got)) or math.isinf(float(want)):
        return _nan(got) == _nan(want) and (_nan(got) or float(got) == float(want))
    return abs(float(got) - float(want)) <= DOUBLE_TOLERANCE * scale + 1e-300


def _compare(
    con: Any,
    store: Any,
    events: list[dict[str, Any]],
    t0: int,
    offsets: list[int],
    stats: collections.Counter[str],
) -> None:
    instants = sorted({t0 + o for o in offsets})
    spine = [
        (i * 10 + j, e["k1"], e["k2"], _ts(q))
        for i, q in enumerate(instants)
        for j, e in enumerate(ENTITIES)
    ]
    con.execute("delete from raw_spine")
    con.executemany("insert into raw_spine values (?, ?, ?, ?)", spine)
    names = {v: [o[0] for o in outputs(v)] for v in VIEWS}
    cols = [PREFIX[v] + n for v in VIEWS for n in names[v]]
    offline = {
        r[0]: dict(zip(cols, r[1:], strict=True))
        for r in con.execute(f"select spine_id, {', '.join(cols)} from main.joined").fetchall()
    }
    scale = {
        c: math.fsum(
            abs(float(e[c])) for e in events if e[c] is not None and math.isfinite(float(e[c]))
        )
        for c in ("x", "n")
    }
    for i, q in enumerate(instants):
        for view, prefix in PREFIX.items():
            refs = [f"{view}.{n}" for n in names[view]]
            resp = store.get_online_features(refs, ENTITIES, now=_ts(q))
            for j, (values, statuses) in enumerate(
                zip(resp.to_dicts(), resp.statuses, strict=True)
            ):
                status = set(statuses.values())
                assert len(status) == 1, statuses
                where = f"{view} entity {ENTITIES[j]} at t0{q - t0:+d}us"
                if status == {"stale"}:
                    assert not _valid(view, q, t0), f"{where}: stale inside the horizon"
                    assert all(v is None for v in values.values())
                    stats["stale"] += 1
                    continue
                assert status == {"present"}, f"{where}: {statuses}"
                stats["present"] += 1
                stats["outside_but_exact"] += not _valid(view, q, t0)
                want = offline[i * 10 + j]
                for name, column, fn in outputs(view):
                    got, exp = values[f"{view}.{name}"], want[prefix + name]
                    msg = f"{where} `{name}`: online {got!r}, window_join {exp!r}"
                    if exp is None or got is None:
                        assert got is exp, msg
                    elif fn == "avg" or (fn == "sum" and column == "x"):
                        assert _close(got, exp, scale[column]), msg
                    elif _nan(got) or _nan(exp):
                        assert _nan(got) and _nan(exp), msg
                    else:
                        assert got == exp, msg
                        assert type(got) is type(exp) or fn in ("count", "count_distinct"), msg
                    stats["values"] += 1
                    stats["nonzero"] += bool(exp)


def test_online_windows_match_window_join(
    project: tuple[Path, Path], redis_url: str, record_property: Any
) -> None:
    import duckdb

    from skewless import FeatureStore
    from skewless.definitions.registry import Registry
    from skewless.offline.duckdb import DuckDBReader
    from skewless.online.connection import connect
    from skewless.online.materialize import materialize

    db, manifest = project
    con = duckdb.connect(str(db))
    con.execute("set TimeZone = 'UTC'")
    registry = Registry.from_manifest(manifest)
    assert set(registry.windows) == set(VIEWS)
    client = connect(redis_url)
    store = FeatureStore(registry, client, redis_url, feature_log=False)
    reader = DuckDBReader(con)
    stats: collections.Counter[str] = collections.Counter()

    @settings(
        max_examples=MIN_DATASETS,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(datasets())
    def run(data: dict[str, Any]) -> None:
        client.flushdb()
        con.execute("delete from raw_events")
        events = list(data["loaded"])
        if events:
            con.executemany(
                f"insert into raw_events values ({', '.join('?' * len(COLUMNS))})",
                [_row(e) for e in events],
            )
        t0, t1 = data["t0"], data["t1"]
        results = materialize(registry, client, reader, now=_ts(t0), select=list(VIEWS))
        assert [r.view for r in results] == list(VIEWS)
        for phase, (pushed, at) in enumerate(((data["pushed1"], t0), (data["pushed2"], t1))):
            if phase == 1:  # the second load: the log holds the pushed events too
                materialize(registry, client, reader, now=_ts(t1), select=list(VIEWS))
            if pushed:
                for view in VIEWS:
                    r = store.push(view, _push_events(pushed), now=_ts(at))
                    # older than every window of any request from `at - SLACK` on: not kept
                    old = sum(e["ts"] < at - SLACK - OLDEST[view] for e in pushed)
                    assert (r.added, r.duplicates, r.too_old) == (len(pushed) - old, 0, old), r
                    stats["too_old"] += old
                    if data["replay"]:
                        again = store.push(view, _push_events(pushed), now=_ts(at))
                        want = (0, len(pushed) - old, old)
                        assert (again.added, again.duplicates, again.too_old) == want, again
                        stats["replays"] += 1
                con.executemany(
                    f"insert into raw_events values ({', '.join('?' * len(COLUMNS))})",
                    [_row(e) for e in pushed],
                )
                events += pushed
                stats["pushed"] += len(pushed)
            _compare(con, store, events, at, data["offsets"], stats)
        stats["datasets"] += 1

    run()
    con.close()
    summary = f"online windows vs window_join (DuckDB, redis-server): {dict(stats)}"
    print(summary)
    record_property("summary", summary)
    assert stats["datasets"] >= MIN_DATASETS, stats
    assert stats["stale"] >= MIN_DATASETS and stats["present"] >= 10 * MIN_DATASETS, stats
    assert stats["pushed"] >= MIN_DATASETS and stats["replays"] >= MIN_DATASETS // 4, stats
    assert stats["nonzero"] >= 10 * MIN_DATASETS, stats


def test_window_replay_consistency(
    project: tuple[Path, Path], redis_url: str, tmp_path: Path
) -> None:
    """Served window values (logged by the served-feature log) replayed offline at their serving
    instants: 0 mismatches over materialized + pushed events; a pushed event the offline log
    never received shows as mismatches of exactly the outputs it changed."""
    import duckdb

    from skewless import FeatureStore
    from skewless.definitions.registry import Registry
    from skewless.guards.consistency import replay
    from skewless.guards.feature_log import FeatureLogConfig, read_feature_log
    from skewless.offline.duckdb import DuckDBReader
    from skewless.online.connection import connect
    from skewless.online.materialize import materialize

    db, manifest = project
    con = duckdb.connect(str(db))
    con.execute("set TimeZone = 'UTC'")
    con.execute("delete from raw_events")
    registry = Registry.from_manifest(manifest)
    client = connect(redis_url)
    t0 = BASE + 8 * STEP
    rows = [
        (k, k2, t0 - m * MIN, f"l{k}{k2}{m}", m / 3, m * 1000, Decimal(m) / 8, f"s{m % 4}")
        for k in (1, 2)
        for k2 in ("a", "b")
        for m in range(0, 200, 7)
    ]
    con.executemany(
        "insert into raw_events values (?, ?, ?, ?, ?, ?, ?, ?)",
        [(a, b, _ts(t), *r) for a, b, t, *r in rows],
    )
    materialize(registry, client, DuckDBReader(con), now=_ts(t0), select=list(VIEWS))
    log = FeatureLogConfig(path=str(tmp_path / "log"), flush_interval=0.05)
    store = FeatureStore(registry, client, redis_url, feature_log=log)
    pushed = [
        {"k1": k, "k2": "a", "ts": _ts(t0 + m * MIN), "eid": f"p{k}{m}", "x": 0.5 * m, "n": m,
         "d": Decimal("0.125"), "s": "zz"}
        for k in (1, 2)
        for m in (1, 9, 20)
    ]  # fmt: skip
    late = {"k1": 1, "k2": "a", "ts": _ts(t0 - 3 * MIN), "eid": "late", "x": 1.0, "n": 5,
            "d": Decimal("1"), "s": "a"}  # fmt: skip
    for view in VIEWS:
        store.push(view, [*pushed, late], now=_ts(t0))
    con.executemany(
        f"insert into raw_events values ({', '.join('?' * len(COLUMNS))})",
        [tuple(e[c] for c in COLUMNS) for e in [*pushed, late]],
    )
    refs = [f"{v}.{o[0]}" for v in VIEWS for o in outputs(v)]
    for m in (
        0,
        4,
        21,
        29,
        31,
        60,
    ):  # 4: an event at q - 1h exactly; 31 and 60 min: past wa's horizon (stale)
        store.get_online_features(refs, ENTITIES, now=_ts(t0 + m * MIN))
    assert store.feature_log is not None
    store.feature_log.close()
    logged = list(read_feature_log(tmp_path / "log"))
    report = replay(registry, DuckDBReader(con), logged)
    by_ref = {f.feature: f for f in report.features}
    assert set(by_ref) == set(refs), report.notes
    assert all(f.mismatch == 0 for f in report.features), [
        (f.feature, f.examples[:1]) for f in report.features if f.mismatch
    ]
    assert sum(f.statuses.get("stale", 0) for f in report.features) > 0
    assert len(logged) == 6 * len(ENTITIES)  # one row per entity per call
    assert sum(f.total for f in report.features) == len(logged) * len(refs)
    # the offline log lost one pushed event: the replay sees it
    con.execute("delete from raw_events where eid = 'p120'")
    report = replay(registry, DuckDBReader(con), logged)
    broken = {f.feature for f in report.features if f.mismatch}
    assert {"wa.events_count_1h", "wb.n_count_1h", "wc.events_count_1h"} <= broken, broken
    assert "wa.s_min_1h" not in broken  # 'zz' is never the minimum
    con.close()


def _load_empty(db: Path, manifest: Path, redis_url: str, t0: int) -> Any:
    import duckdb

    from skewless.definitions.registry import Registry
    from skewless.offline.duckdb import DuckDBReader
    from skewless.online.connection import connect
    from skewless.online.materialize import materialize

    con = duckdb.connect(str(db))
    con.execute("set TimeZone = 'UTC'")
    con.execute("delete from raw_events")
    registry = Registry.from_manifest(manifest)
    materialize(registry, connect(redis_url), DuckDBReader(con), now=_ts(t0), select=["wa"])
    con.close()
    return registry


def test_push_cli_lines_errors_replays_and_the_event_log(
    project: tuple[Path, Path], redis_url: str, tmp_path: Path
) -> None:
    """`skewless push`: JSON Lines in batches; a bad event names its line and says what was
    pushed before it; running again skips what was pushed; the log holds typed Parquet."""
    import duckdb
    from click.testing import CliRunner

    from skewless import FeatureStore
    from skewless.cli import main
    from skewless.online.connection import connect

    db, manifest = project
    t0 = int(datetime.now(timezone.utc).timestamp()) * 1_000_000
    registry = _load_empty(db, manifest, redis_url, t0)
    root = manifest.parent.parent
    events = [
        {"k1": 7, "ts": _ts(t0 - i * MIN).isoformat(), "eid": f"c{i}", "x": i / 2, "n": i,
         "d": "1.250", "s": "q"}
        for i in range(5)
    ]  # fmt: skip
    bad = [*events[:3], {**events[3], "n": "seven"}, events[4]]
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in bad))
    log = tmp_path / "log"
    args = ["--project-dir", str(root), "--redis-url", redis_url, "push", "wa", str(path)]
    args += ["--log-dir", str(log), "--batch-size", "2", "--json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    assert "line 4" in result.output and "`n`" in result.output, result.output
    assert "2 events before it were pushed" in result.output, result.output
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert (out["events"], out["added"], out["duplicates"]) == (5, 3, 2), out
    listed = CliRunner().invoke(main, [*args[:4], "features", "--json"])
    assert listed.exit_code == 0, listed.output
    windows = {r["view"]: r for r in json.loads(listed.output) if r["kind"] == "window"}
    assert windows["wa"]["online_status"] == "current" and windows["wa"]["pushable"], windows
    assert windows["wb"]["online_status"] == "never" and windows["wa"]["horizon"] == "30m"
    assert windows["wa"]["hop"] is None and windows["wc"]["hop"] == "1h", windows
    store = FeatureStore(registry, connect(redis_url), redis_url, feature_log=False)
    got = store.get_online_features(["wa.events_count_1h", "wa.n_sum_1h"], [{"k1": 7}])
    assert got.values == [[5, 10]], got.values
    con = duckdb.connect()
    rows = con.execute(
        f"select eid, k1, ts, n, d from read_parquet('{log}/wa/*.parquet') order by eid"
    ).fetchall()
    # the failed run logged its first batch before Redis; the log is at-least-once by design
    assert sorted({r[0] for r in rows}) == [f"c{i}" for i in range(5)]
    assert all(r[3] == int(r[0][1:]) and r[4] == Decimal("1.250") for r in rows), rows
    described = con.execute(f"describe select * from read_parquet('{log}/wa/*.parquet')")
    types = {r[0]: r[1] for r in described.fetchall()}
    assert types["n"] == "BIGINT" and types["d"] == "DECIMAL(18,3)" and types["eid"] == "VARCHAR"


def test_push_over_http(project: tuple[Path, Path], redis_url: str, tmp_path: Path) -> None:
    """`POST /push` on `skewless serve`: the events count at once; a replay adds nothing; a bad
    event is a 400 naming it; an unknown view a 404."""
    from test_server import ServerProcess

    db, manifest = project
    t0 = int(datetime.now(timezone.utc).timestamp()) * 1_000_000
    _load_empty(db, manifest, redis_url, t0)
    server = ServerProcess(manifest.parent.parent, redis_url, tmp_path / "server.log")
    try:
        body = {
            "view": "wa",
            "events": [
                {"k1": 9, "ts": _ts(t0 - MIN).isoformat() + "Z", "eid": "h1", "x": 2.5},
                {"k1": 9, "ts": _ts(t0 - 2 * MIN).isoformat() + "Z", "eid": "h2", "x": None},
            ],
        }
        r = server.post("/push", body)
        assert r.status_code == 200, r.text
        assert r.json() == {
            "view": "wa",
            "added": 2,
            "duplicates": 0,
            "too_old": 0,
            "log_files": 0,
        }
        again = server.post("/push", body).json()
        assert (again["added"], again["duplicates"]) == (0, 2), again
        r = server.post(
            "/get-online-features",
            {"features": ["wa.events_count_1h", "wa.x_count_1h", "wa.x_max_1h"],
             "entities": [{"k1": 9}]},
        )  # fmt: skip
        assert r.status_code == 200, r.text
        result = r.json()["results"][0]
        assert result["values"] == [2, 1, 2.5] and set(result["statuses"]) == {"present"}, result
        r = server.post("/push", {"view": "wa", "events": [{"k1": 9, "eid": "h3"}]})
        assert r.status_code == 400 and "events[0]" in r.text and "ts" in r.text, r.text
        r = server.post("/push", {"view": "nope", "events": []})
        assert r.status_code == 404 and "wa" in r.text, r.text
    finally:
        server.stop()


def test_an_older_definition_version_is_refused_once_a_newer_load_pruned_its_pushes(
    project: tuple[Path, Path], redis_url: str, tmp_path: Path
) -> None:
    """Two definition versions live at once (a rolling deploy): the newer one's load absorbs
    the pushed events and prunes them; the older version's records, which did not absorb them,
    are then served `stale` (None), never undercounted, until that version is loaded again."""
    import duckdb

    from skewless import FeatureStore
    from skewless.definitions.registry import Registry
    from skewless.offline.duckdb import DuckDBReader
    from skewless.online.connection import connect
    from skewless.online.materialize import materialize

    db, manifest = project
    t0 = int(datetime.now(timezone.utc).timestamp()) * 1_000_000
    old = _load_empty(db, manifest, redis_url, t0)
    data = json.loads(manifest.read_text())
    node = next(n for n in data["nodes"].values() if n.get("name") == "wa")
    node["config"]["meta"]["skewless"]["description"] = "v2"  # a new definition version
    changed = tmp_path / "manifest.json"
    changed.write_text(json.dumps(data))
    new = Registry.from_manifest(changed)
    assert new.windows["wa"].version != old.windows["wa"].version
    client = connect(redis_url)
    stores = [FeatureStore(r, client, redis_url, feature_log=False) for r in (old, new)]

    def event(i: int) -> dict[str, Any]:
        return {"k1": 5, "ts": _ts(t0 - i * MIN), "eid": f"v{i}", "x": 1.0}

    def counts() -> list[Any]:
        return [
            (s.get_online_features(["wa.events_count_1h"], [{"k1": 5}], now=_ts(t0)).values[0][0])
            for s in stores
        ]

    stores[0].push("wa", [event(1), event(2)], now=_ts(t0))
    con = duckdb.connect(str(db))
    con.execute("set TimeZone = 'UTC'")
    materialize(new, client, DuckDBReader(con), now=_ts(t0), select=["wa"])  # absorbs, prunes
    con.close()
    resp = stores[0].get_online_features(["wa.events_count_1h"], [{"k1": 5}], now=_ts(t0))
    assert resp.values == [[None]] and resp.statuses[0]["wa.events_count_1h"] == "stale"
    assert counts()[1] == 2
    stores[1].push("wa", [event(3)], now=_ts(t0))
    assert counts() == [None, 3]


def test_a_big_push_is_split_between_entities_and_stays_exact(
    project: tuple[Path, Path], redis_url: str
) -> None:
    """A push of more than `PUSH_CHUNK` events goes out as several script calls, each entity's
    events in one of them: every event counted once, a replay adds nothing."""
    from skewless import FeatureStore
    from skewless.online.connection import connect
    from skewless.online.push import PUSH_CHUNK

    db, manifest = project
    t0 = int(datetime.now(timezone.utc).timestamp()) * 1_000_000
    registry = _load_empty(db, manifest, redis_url, t0)
    store = FeatureStore(registry, connect(redis_url), redis_url, feature_log=False)
    events = [
        {"k1": 100 + i % 37, "ts": _ts(t0 - (i % 50) * MIN), "eid": f"b{i}", "n": i}
        for i in range(3 * PUSH_CHUNK + 17)
    ]
    r = store.push("wa", events, now=_ts(t0))
    assert (r.added, r.duplicates, r.too_old) == (len(events), 0, 0), r
    again = store.push("wa", events[::-1], now=_ts(t0))
    assert (again.added, again.duplicates) == (0, len(events)), again
    entities = [{"k1": 100 + k} for k in range(37)]
    got = store.get_online_features(["wa.events_count_1h", "wa.n_sum_1h"], entities, now=_ts(t0))
    for k, (count, total) in enumerate(got.values):
        mine = [e["n"] for e in events if e["k1"] == 100 + k]
        assert (count, total) == (len(mine), sum(mine)), k


def test_a_lost_load_instant_is_unavailable_never_counts_of_zero(
    project: tuple[Path, Path], redis_url: str
) -> None:
    """The load-instant key of a generation gone (evicted, a node restarted) while its pointer
    is still there: a reader that had not read it yet cannot tell "no events" from "record
    lost", so it raises `StoreUnavailableError` (default policy), or serves None values with
    status `unavailable` (`on_store_error="defaults"`) — never counts of 0. A reader that had
    read it serves the records still there."""
    import pytest

    from skewless import FeatureStore
    from skewless.errors import StoreUnavailableError
    from skewless.online import keys
    from skewless.online.connection import connect
    from skewless.online.windows import t0_key

    db, manifest = project
    t0 = BASE + 8 * STEP
    registry = _load_empty(db, manifest, redis_url, t0)  # no events: every entity has no record
    client = connect(redis_url)
    refs = ["wa.events_count_1h", "wa.x_sum_1h"]
    seen = FeatureStore(registry, client, redis_url, feature_log=False)
    assert seen.get_online_features(refs, [{"k1": 1}], now=_ts(t0)).values == [[0, None]]
    view = registry.windows["wa"]
    gen = client.get(keys.pointer_key("wa", view.version))
    assert client.delete(t0_key("wa", gen)) == 1
    fresh = FeatureStore(registry, client, redis_url, feature_log=False)
    with pytest.raises(StoreUnavailableError, match="lost part of the served data of `wa`"):
        fresh.get_online_features(refs, [{"k1": 1}, {"k1": 2}], now=_ts(t0))
    got = fresh.get_online_features(
        refs, [{"k1": 1}, {"k1": 2}], now=_ts(t0), on_store_error="defaults"
    )
    assert got.values == [[None, None], [None, None]], got.values
    assert {s for row in got.statuses for s in row.values()} == {"unavailable"}, got.statuses
    # the reader that had read the load instant still knows it: the records answer
    assert seen.get_online_features(refs, [{"k1": 1}], now=_ts(t0)).values == [[0, None]]
