"""Benchmark: the compositional fuzz of request-time SQL - how many cases one CI run checks, how fast.

    python bench/bench_fuzz.py [--quick]

Runs `python_runtime/tests/test_sql_fuzz.py` exactly as CI does (CI=true: the fixed seeds,
pytest-xdist over both cores) and reads the per-shard summaries it records: expressions,
(expression, payload) cases compared with DuckDB, mismatches, refusals, and seconds. The wall
time of the whole run is the figure CI pays. Writes bench/results/fuzz.md.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
SUMMARY = re.compile(
    r"shard (\d+): (\d+) expressions, (\d+) cases, (\d+) mismatches, (\d+) documented refusals, "
    r"(\d+) raised as DuckDB does in a batch.*?, (\d+) raised where DuckDB alone gives NULL.*?, "
    r"(\d+) expressions refused \(([\d.]+)%\), ([\d.]+) s"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="accepted for make bench; same run")
    parser.parse_args()
    cmd = [sys.executable, "-m", "pytest", "-q", "-n", "2", "-p", "no:cacheprovider",
           str(REPO / "python_runtime" / "tests" / "test_sql_fuzz.py")]  # fmt: skip
    started = time.perf_counter()
    proc = subprocess.run(
        cmd, cwd=REPO, env={**os.environ, "CI": "true"}, capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    shards = sorted(SUMMARY.findall(proc.stdout), key=lambda m: int(m[0]))
    if proc.returncode != 0 or not shards:
        print(proc.stdout[-4000:], proc.stderr[-2000:], file=sys.stderr)
        return 1
    rows = [
        f"| {s[0]} | {s[1]} | {int(s[2]):,} | {s[3]} | {s[4]} | {s[5]} | {s[6]} | {s[7]} ({s[8]}%) "
        f"| {s[9]} |"
        for s in shards
    ]
    cases = sum(int(s[2]) for s in shards)
    mismatches = sum(int(s[3]) for s in shards)
    lines = [
        "## Compositional fuzz of request-time SQL (`test_sql_fuzz.py`, as CI runs it)",
        "",
        "Nested expressions (depth ≤ 5) from the typed grammar in `tests/sql_grammar.py`, each "
        "compiled and evaluated on payload rows by the runtime and by DuckDB 2.0.1; a case is one "
        "(expression, payload) pair compared on value, Python type, `typeof` and errors. CI seeds "
        "(CI=true), 4 shards over 2 cores.",
        "",
        "| shard | expressions | cases | mismatches | documented refusals | raised as DuckDB in a "
        "batch | raised, DuckDB alone NULL (capped) | expressions refused | shard s |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"**{cases:,} cases, {mismatches} mismatches**, {wall:.0f} s wall for the whole pytest run "
        f"({cases / wall:,.0f} cases/s including start-up and DuckDB's side).",
        "",
    ]
    out = BENCH / "results" / "fuzz.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
