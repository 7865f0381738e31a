"""Benchmark: skewless.point_in_time_join on DuckDB vs a hand-written DuckDB ASOF JOIN, per data shape.

Writes bench/results/pit.md. Training sets come in many shapes, so the macro is measured on a
matrix of them (data generated in DuckDB SQL, deterministic, cached under bench/.data/):

    base       10M feature rows over 100k entities spread over 2024, 1M spine rows
    packed     issue 14: 100k entities, each entity's 100 rows packed into ~22 hours (13-minute
               steps + per-entity jitter); spine timestamps over 90 days, so most spine rows fall
               after the entity's last row
    many       10M feature rows, 100k spine rows (100 feature rows per spine row)
    few        1M feature rows, 1M spine rows (1 feature row per spine row)
    ties       10M feature rows, a quarter of them sharing (entity, timestamp) with another row
    skewed     10M feature rows, entities drawn ~ u^4: the top 1% of entities hold ~30% of rows
    wide       10M feature rows with 50 features
    three      3 views (3.3M rows each) in one call

Every view has `ttl: 30d`, `available_after: 1h`. Every view but `ties` carries the generic test
`skewless.unique_as_of`, which is how a project declares it unique on (entity, timestamp) (the
macro then takes its shortcut; see macros/point_in_time_join.yml). The macro is compiled through
dbt once (a throwaway dbt project under bench/.data/ that installs this package, or the package
given by --before as well), then the queries of a shape run on one connection with the same
settings, interleaved round by round, each materialised into a temp table: the hand-written ASOF
JOIN (same semantics: available_after 1h, ttl 30d, one ASOF LEFT JOIN per view, a CASE per feature
for the ttl), the macro as dispatched (duckdb__) and its portable default__ SQL. One warm-up round
that also checks the results equal, then --runs timed rounds.

Ties: the hand-written ASOF JOIN leaves ties (two view rows with one entity and timestamp) to
chance. On the `ties` shape the macro's results are checked against a deterministic reference
(the same ASOF JOIN over the view deduplicated by the macro's tie rule, not timed) and the
hand-written query only on its tie-free columns (row count, matched rows, spine ids).

    .venv/bin/python bench/bench_pit.py                        # every shape, 10M x 1M
    .venv/bin/python bench/bench_pit.py --shapes packed,ties   # some shapes
    .venv/bin/python bench/bench_pit.py --quick                # tiny sizes (harness smoke test)
    .venv/bin/python bench/bench_pit.py --before bench/.data/pkg_before   # also time an older
                                                               # copy of the package, interleaved
    .venv/bin/python bench/bench_pit.py --explain packed       # EXPLAIN ANALYZE into bench/.data/
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
DATA = BENCH / ".data"
RESULTS = BENCH / "results"
TTL_DAYS = 30
AFTER_HOURS = 1
TARGETS = {"macro": 1.2, "default": 1.5}

# Small primes make each feature a different deterministic function of the row number.
PRIMES = (7, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97)


@dataclass(frozen=True)
class Shape:
    name: str
    description: str
    n_rows: int  # feature rows, over all views
    n_spine: int
    n_entities: int
    n_features: int = 10
    n_views: int = 1
    ties: bool = False
    layout: str = "spread"  # spread | packed | skewed

    def scaled(self, quick: bool) -> Shape:
        if not quick:
            return self
        return Shape(
            self.name,
            self.description,
            max(1000, self.n_rows // 100),
            max(100, self.n_spine // 100),
            max(10, self.n_entities // 100),
            self.n_features,
            self.n_views,
            self.ties,
            self.layout,
        )

    def view_names(self) -> list[str]:
        if self.n_views == 1:
            return [f"feats_{self.name}"]
        return [f"feats_{self.name}_{v}" for v in range(1, self.n_views + 1)]

    def features(self, view: int) -> list[str]:
        """Feature column names of view number `view` (1-based): unique across the views."""
        if self.n_views == 1:
            return [f"f{k}" for k in range(self.n_features)]
        return [f"v{view}_f{k}" for k in range(self.n_features)]


SHAPES = [
    Shape("base", "100k entities, rows spread over 2024", 10_000_000, 1_000_000, 100_000),
    Shape(
        "packed",
        "issue 14: 100k entities, rows packed into ~22 h, spine over 90 days",
        10_000_000,
        1_000_000,
        100_000,
        layout="packed",
    ),
    Shape("many", "100 feature rows per spine row", 10_000_000, 100_000, 100_000),
    Shape("few", "1 feature row per spine row", 1_000_000, 1_000_000, 100_000),
    Shape(
        "ties",
        "25% of rows tie on (entity, timestamp); no uniqueness declared",
        10_000_000,
        1_000_000,
        100_000,
        ties=True,
    ),
    Shape(
        "skewed",
        "entities ~ u^4: top 1% hold ~30% of rows",
        10_000_000,
        1_000_000,
        100_000,
        layout="skewed",
    ),
    Shape("wide", "50 features", 10_000_000, 1_000_000, 100_000, n_features=50),
    Shape(
        "three", "3 views (3.3M rows each) in one call", 10_000_000, 1_000_000, 100_000, n_views=3
    ),
]


def _feature_sql(names: list[str], salt: int) -> str:
    return ", ".join(
        f"((i * {PRIMES[k % len(PRIMES)]} + {salt + k // len(PRIMES)}) % 1000003) / 1000003.0 as {n}"
        for k, n in enumerate(names)
    )


def generate(con: duckdb.DuckDBPyConnection, shape: Shape) -> None:
    """Create the shape's view table(s) and `spine_<shape>` (entity_id, ts, spine_id)."""
    e = shape.n_entities
    per_view = shape.n_rows // shape.n_views
    for v, table in enumerate(shape.view_names(), start=1):
        feats = _feature_sql(shape.features(v), salt=v)
        if shape.layout == "packed":
            # entity i % E, its step i // E every 13 minutes from a per-entity offset (< 10 min)
            # plus a per-row jitter (< 1 min): unique (entity, ts), all within ~22 hours
            entity = f"(i % {e})"
            ts = (
                f"timestamp '2024-01-01' + to_seconds((i // {e}) * 780 + ((i % {e}) * 7919) % 600 "
                "+ (i * 13) % 60)"
            )
        elif shape.layout == "skewed":
            entity = f"floor({e} * pow((hash(i) % 1000003) / 1000003.0, 4))"
            ts = f"timestamp '2024-01-01' + to_seconds(((i * 7919 + {v}) % 31536000))"
        else:
            # a tie: rows i = 1 mod 4 take the entity and timestamp of row i - 1
            k = "(i - (i % 4 = 1)::bigint)" if shape.ties else "i"
            entity = f"({k} % {e})"
            ts = f"timestamp '2024-01-01' + to_seconds((({k} * 7919 + {v} * 1009) % 31536000))"
        con.execute(
            f"""create or replace table {table} as
            select {entity}::bigint as entity_id, {ts} as ts, {feats}
            from range({per_view}) as t(i)"""
        )
        dupes = con.execute(
            f"select count(*) from (select entity_id, ts from {table} group by all having count(*) > 1)"
        ).fetchone()[0]
        assert (dupes > 0) == shape.ties, f"{table}: {dupes} duplicate (entity, ts) pairs"
    if shape.layout == "packed":
        spine_entity = f"(hash(j) % {e})"
        spine_ts = "timestamp '2024-01-01' + to_seconds((hash(j + 1000000007) % 7776000)::bigint)"
    elif shape.layout == "skewed":
        spine_entity = f"floor({e} * pow((hash(j) % 1000003) / 1000003.0, 4))"
        spine_ts = "timestamp '2024-01-01' + to_seconds(((j * 104729) % 31536000))"
    else:
        spine_entity = f"((j * 37) % {e})"
        spine_ts = "timestamp '2024-01-01' + to_seconds(((j * 104729) % 31536000))"
    con.execute(
        f"""create or replace table spine_{shape.name} as
        select {spine_entity}::bigint as entity_id, {spine_ts} as ts, j as spine_id
        from range({shape.n_spine}) as t(j)"""
    )


def compile_macro(
    data_path: Path, project: Path, shapes: list[Shape], package: Path
) -> dict[str, dict[str, str]]:
    """Compile the macro (dispatched duckdb__ and default__) per shape against `data_path`."""
    models = project / "models"
    models.mkdir(parents=True, exist_ok=True)
    for old in models.glob("*.sql"):
        old.unlink()
    (project / "dbt_project.yml").write_text(
        "name: bench_pit\nversion: '0.1.0'\nconfig-version: 2\nprofile: bench_pit\n"
        "model-paths: ['models']\nflags: {send_anonymous_usage_stats: false}\n"
    )
    (project / "packages.yml").write_text(f"packages:\n  - local: {package}\n")
    (project / "profiles.yml").write_text(
        f"bench_pit:\n  target: duckdb\n  outputs:\n    duckdb: {{type: duckdb, path: '{data_path}', "
        "threads: 1, settings: {TimeZone: UTC}}\n"
    )
    yml = ["version: 2", "models:"]
    selected = []
    for shape in shapes:
        for v, view in enumerate(shape.view_names(), start=1):
            columns = "\n".join(
                f"      - {{name: {f}, data_type: double}}" for f in shape.features(v)
            )
            # every view but the tied one is declared unique on (entity, timestamp)
            tests = "" if shape.ties else "    data_tests: [skewless.unique_as_of]\n"
            yml.append(
                textwrap.indent(
                    textwrap.dedent(
                        f"""\
                        - name: {view}
                          config:
                            meta:
                              skewless: {{entity: entity_id, timestamp: ts, ttl: {TTL_DAYS}d, available_after: {AFTER_HOURS}h}}
                        """
                    ),
                    "  ",
                )
                + tests
                + "    columns:\n      - {name: entity_id, data_type: bigint}\n"
                "      - {name: ts, data_type: timestamp}\n" + columns
            )
            # placeholders: the tables already exist, these models are only compiled, never run
            (models / f"{view}.sql").write_text("select 1 as placeholder\n")
        yml.append(f"  - name: spine_{shape.name}")
        (models / f"spine_{shape.name}.sql").write_text("select 1 as placeholder\n")
        refs = ", ".join(f"ref('{view}')" for view in shape.view_names())
        for name, macro in (
            ("macro", "skewless.point_in_time_join"),
            ("default", "skewless.default__point_in_time_join"),
        ):
            (models / f"pit_{name}_{shape.name}.sql").write_text(
                f"{{{{ {macro}(ref('spine_{shape.name}'), 'ts', [{refs}]) }}}}\n"
            )
            selected.append(f"pit_{name}_{shape.name}")
    (models / "models.yml").write_text("\n".join(yml) + "\n")
    dbt = str(Path(sys.executable).parent / "dbt")
    common = ["--project-dir", str(project), "--profiles-dir", str(project), "--quiet"]
    for args in (["deps"], ["compile", "--select", *selected]):
        done = subprocess.run([dbt, *args, *common], capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"dbt {args[0]} failed:\n{done.stdout}\n{done.stderr}")
    compiled = project / "target" / "compiled" / "bench_pit" / "models"
    return {
        shape.name: {
            name: (compiled / f"pit_{name}_{shape.name}.sql").read_text()
            for name in ("macro", "default")
        }
        for shape in shapes
    }


def hand_written_asof(shape: Shape, dedupe: bool = False) -> str:
    """One ASOF LEFT JOIN per view, a CASE per feature for the ttl. With `dedupe`, each view is
    first reduced to one row per (entity, ts) by the macro's tie rule (the deterministic
    reference of the ties shape; never timed)."""
    selects, joins = [], []
    for v, view in enumerate(shape.view_names(), start=1):
        features = shape.features(v)
        selects += [
            f"case when s.ts - j{v}.ts <= interval {TTL_DAYS} day then j{v}.{f} end as {f}"
            for f in features
        ]
        source = view
        if dedupe:
            order = ", ".join(f"{f} desc nulls last" for f in features)
            source = (
                f"(select * from {view} qualify row_number() over "
                f"(partition by entity_id, ts order by {order}) = 1)"
            )
        joins.append(
            f"asof left join {source} as j{v}\n"
            f"    on s.entity_id = j{v}.entity_id and s.ts >= j{v}.ts + interval {AFTER_HOURS} hour"
        )
    return (
        "select s.*,\n    "
        + ",\n    ".join(selects)
        + f"\nfrom spine_{shape.name} as s\n"
        + "\n".join(joins)
    )


def checksum(con: duckdb.DuckDBPyConnection, shape: Shape, tie_free: bool = False) -> tuple:
    first = shape.features(1)[0]
    cols = ["count(*)", f"count({first})", "sum(spine_id)"]
    if not tie_free:
        for v in range(1, shape.n_views + 1):
            cols += [f"round(sum({f}), 4)" for f in shape.features(v)]
    return con.execute(f"select {', '.join(cols)} from pit_out").fetchone()  # type: ignore[return-value]


LABELS = {
    "asof": "hand-written ASOF JOIN",
    "macro": "macro (`duckdb__`)",
    "default": "`default__`",
    "macro_before": "macro (`duckdb__`), before",
    "default_before": "`default__`, before",
}


def run_shape(
    con: duckdb.DuckDBPyConnection, shape: Shape, queries: dict[str, str], runs: int
) -> dict[str, object]:
    """Warm-up + equality check, then `runs` interleaved rounds. Returns times and ratios."""
    sums = {}
    for name, query in queries.items():
        con.execute(f"create or replace temp table pit_out as {query}")
        sums[name] = checksum(con, shape)
    if shape.ties:
        con.execute(f"create or replace temp table pit_out as {hand_written_asof(shape, True)}")
        reference = checksum(con, shape)
        tie_free = len(checksum(con, shape, tie_free=True))
        for name, got in sums.items():
            want = reference if name != "asof" else reference[:tie_free]
            assert got[: len(want)] == want, f"{shape.name}/{name}: {got} != {want}"
    else:
        reference = sums["asof"]
        assert all(s == reference for s in sums.values()), f"{shape.name}: results differ: {sums}"
    times: dict[str, list[float]] = {name: [] for name in queries}
    for _ in range(runs):
        for name, query in queries.items():
            t0 = time.perf_counter()
            con.execute(f"create or replace temp table pit_out as {query}")
            times[name].append(time.perf_counter() - t0)
    ratios = {
        name: [t / a for t, a in zip(times[name], times["asof"], strict=True)] for name in times
    }
    return {"times": times, "ratios": ratios, "rows": reference[0], "matched": reference[1]}


def explain(con: duckdb.DuckDBPyConnection, shape: Shape, queries: dict[str, str]) -> None:
    for name, query in queries.items():
        rows = con.execute(f"explain analyze {query}").fetchall()
        out = DATA / f"explain_{shape.name}_{name}.txt"
        out.write_text("\n".join(str(r[1]) for r in rows) + "\n")
        print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes (not representative)")
    parser.add_argument("--runs", type=int, default=5, help="timed rounds (median; >= 3)")
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads, same for all")
    parser.add_argument("--shapes", default="", help="comma-separated shape names (default: all)")
    parser.add_argument("--before", type=Path, help="an older copy of the package to time too")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE, no timing")
    parser.add_argument("--out", type=Path, default=RESULTS / "pit.md", help="results file")
    args = parser.parse_args()
    wanted = {s.strip() for s in args.shapes.split(",") if s.strip()}
    unknown = wanted - {s.name for s in SHAPES}
    if unknown:
        raise SystemExit(f"unknown shape(s) {sorted(unknown)}; known: {[s.name for s in SHAPES]}")
    shapes = [s.scaled(args.quick) for s in SHAPES if not wanted or s.name in wanted]
    runs = max(3, args.runs)

    DATA.mkdir(parents=True, exist_ok=True)
    data_path = DATA / ("pit_shapes_quick.duckdb" if args.quick else "pit_shapes.duckdb")
    con = duckdb.connect(str(data_path))
    con.execute(f"set threads = {args.threads}")
    con.execute("set TimeZone = 'UTC'")
    con.execute("create table if not exists generated (shape varchar, spec varchar)")
    for shape in shapes:
        spec = repr(shape)
        done = con.execute(
            "select 1 from generated where shape = ? and spec = ?", [shape.name, spec]
        )
        if done.fetchone() is None:
            t0 = time.perf_counter()
            generate(con, shape)
            con.execute("delete from generated where shape = ?", [shape.name])
            con.execute("insert into generated values (?, ?)", [shape.name, spec])
            con.execute("checkpoint")
            print(f"generated {shape.name} in {time.perf_counter() - t0:.1f}s", flush=True)
    con.close()  # dbt reads the tables' columns while compiling

    suffix = "quick" if args.quick else "full"
    sql = compile_macro(data_path, DATA / f"dbt_pit_{suffix}", shapes, REPO)
    before = (
        compile_macro(data_path, DATA / f"dbt_pit_{suffix}_before", shapes, args.before.resolve())
        if args.before
        else None
    )
    con = duckdb.connect(str(data_path))
    con.execute(f"set threads = {args.threads}")
    con.execute("set TimeZone = 'UTC'")
    results = {}
    started = time.perf_counter()
    loads = []
    for shape in shapes:
        compiled = sql[shape.name]
        assert "asof" in compiled["macro"].lower(), "the dispatched macro is not duckdb__"
        assert "asof" not in compiled["default"].lower(), "default__ must not use ASOF"
        queries = {"asof": hand_written_asof(shape), **compiled}
        if before is not None:
            queries["macro_before"] = before[shape.name]["macro"]
            queries["default_before"] = before[shape.name]["default"]
        if args.explain:
            explain(con, shape, queries)
            continue
        results[shape.name] = run_shape(con, shape, queries, runs)
        loads.append(os.getloadavg()[0])
        # written after every shape, so that an interrupted run keeps what it measured
        done = [s for s in shapes if s.name in results]
        write_results(args, done, results, runs, loads, time.perf_counter() - started, quiet=True)
        r = results[shape.name]["ratios"]
        print(
            f"{shape.name}: "
            + ", ".join(f"{n} {statistics.median(v):.2f}x" for n, v in r.items() if n != "asof"),
            flush=True,
        )
    con.close()
    if args.explain:
        return
    write_results(args, shapes, results, runs, loads, time.perf_counter() - started)


def write_results(
    args: argparse.Namespace,
    shapes: list[Shape],
    results: dict[str, dict[str, object]],
    runs: int,
    loads: list[float],
    elapsed: float,
    quiet: bool = False,
) -> None:
    names = list(next(iter(results.values()))["times"])  # type: ignore[arg-type]
    lines = [
        "## Point-in-time join (`skewless.point_in_time_join`), per data shape",
        "",
        f"DuckDB {duckdb.__version__}, `threads={args.threads}`, `TimeZone=UTC`, all queries of a "
        "shape on one connection, each materialised with `create or replace temp table … as`. "
        f"Views: DOUBLE features, `ttl: {TTL_DAYS}d`, `available_after: {AFTER_HOURS}h`; every "
        "view but `ties` is declared unique on (entity, timestamp) by carrying the generic test "
        "`skewless.unique_as_of`, so the macro takes its shortcut there (one ASOF LEFT JOIN per "
        "view). One warm-up round that checks the results equal (on `ties`: the macros against "
        "the ASOF JOIN over the view deduplicated by the tie rule, the hand-written query, which "
        "leaves ties to chance, on row count, matched rows and spine ids), then "
        f"{runs} interleaved rounds. *× ASOF* is the median of the per-round ratios to the "
        "hand-written ASOF JOIN of the same round (then min–max); seconds are medians. "
        f"1-minute load average during the run: {min(loads):.1f}–{max(loads):.1f} on "
        f"{os.cpu_count()} cores (a shared machine: compare ratios, not seconds). "
        f"Targets: macro ≤ {TARGETS['macro']}×, default__ ≤ {TARGETS['default']}×. "
        f"Total {elapsed / 60:.0f} min."
        + (
            f" *before*: the package at `{args.before}` (as it was before the shortcut for "
            "views declared unique), compiled and timed in the same rounds."
            if args.before
            else ""
        ),
        "",
        "| shape | feature rows × spine rows | ASOF s | "
        + " | ".join(f"{LABELS[n]} × ASOF" for n in names if n != "asof")
        + " |",
        "|---|---|---|" + "---|" * (len(names) - 1),
    ]
    for shape in shapes:
        r = results[shape.name]
        times, ratios = r["times"], r["ratios"]  # type: ignore[index]
        cells = []
        for n in names:
            if n == "asof":
                continue
            med = statistics.median(ratios[n])
            target = TARGETS.get(n)
            mark = "" if target is None else (" ✓" if med <= target else " ✗")
            cells.append(f"**{med:.2f}×**{mark} ({min(ratios[n]):.2f}–{max(ratios[n]):.2f})")
        lines.append(
            f"| `{shape.name}`: {shape.description} | {shape.n_rows:,} × {shape.n_spine:,} | "
            f"{statistics.median(times['asof']):.2f} | " + " | ".join(cells) + " |"
        )
    lines += ["", "Per-round seconds:", ""]
    for shape in shapes:
        times = results[shape.name]["times"]  # type: ignore[index]
        lines.append(
            f"- `{shape.name}`: "
            + "; ".join(f"{n} {', '.join(f'{t:.2f}' for t in times[n])}" for n in names)
        )
    if args.quick:
        lines += ["", "**--quick run: tiny sizes, not representative.**"]
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    if not quiet:
        print("\n".join(lines))


if __name__ == "__main__":
    main()
