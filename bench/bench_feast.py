"""Peer: Feast's Python feature server (`feast serve`) on the same data, from the same kind of Redis.

Writes bench/results/feast.md. Feast lives only in bench/.peers-venv (`make bench-peers`), never in
the project's .venv: this script runs with the project's python and drives Feast's CLI in that
virtualenv by subprocess. It

1. writes view `v10` of bench_online.py (the same values: 10 features — f0..f9 of types double,
   bigint, double, varchar, bigint, twice — for user_id 0..N-1) to a parquet file, and a Feast
   feature repo around it in a temp dir: entity `user_id`, one FeatureView `v10` over a
   FileSource, the file offline store, the RedisOnlineStore on a redis-server it starts on a free
   port (`LocalRedis`);
2. runs `feast apply` and `feast materialize` (timed, reported for information);
3. starts `feast serve` (gunicorn with one uvicorn worker: one server process, as skewless's
   server bench runs one) on a free port and checks its answers for a sample of users, one
   request each and one batched request, against the parquet file;
4. drives `POST /get-online-features` with 1 entity × 10 features (a random user per request,
   Feast's request shape) from this process with bench/http_load.py: a closed loop of keep-alive
   connections, a warm-up, then rounds of concurrency 1 and concurrency 32; each figure is the
   median over rounds of that round's p50 / p99 / throughput, plus the CPU time `feast serve`
   spent per request (from /proc: Feast's own cost, which other load moves less than timings).

When bench/results/server.json (written by bench_server.py) exists, feast.md also gets the
skewless / Feast ratios for p50, p99 and throughput next to issue 12's targets (≥ 10× Feast's
throughput, ≤ 1/10 of its p99). Every subprocess is stopped and the temp dir removed on exit.

    make bench-peers                          # once: Feast in bench/.peers-venv
    python bench/bench_feast.py [--quick]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT / "python_runtime"))
sys.path.insert(0, str(BENCH))

from bench_online import build_duckdb, make_view  # noqa: E402
from http_load import LoadResult, run_load  # noqa: E402

from skewless.online.local_redis import LocalRedis, free_port  # noqa: E402

RESULT = BENCH / "results" / "feast.md"
SERVER_JSON = BENCH / "results" / "server.json"
PEERS_VENV = BENCH / ".peers-venv"
VIEW = "v10"
FEAST_TYPES = {"double": "Float64", "bigint": "Int64", "varchar": "String"}
SERVE_FLAGS = ["--workers", "1", "--no-access-log", "--max-requests", "0"]


class BenchError(Exception):
    """Something the bench needs is missing or misbehaved; the message says what to do."""


def peers_feast() -> tuple[Path, str]:
    """The `feast` executable of bench/.peers-venv and its version."""
    feast = PEERS_VENV / "bin" / "feast"
    python = PEERS_VENV / "bin" / "python"
    if not python.exists() or not feast.exists():
        raise BenchError(
            f"no Feast in {_rel(PEERS_VENV)}: run `make bench-peers` (it creates that "
            "virtualenv and installs the pinned Feast there, never in the project's .venv)"
        )
    probe = subprocess.run(
        [str(python), "-c", "from importlib.metadata import version; print(version('feast'))"],
        capture_output=True,
        text=True,
        env=_peer_env(),
    )
    if probe.returncode != 0:
        raise BenchError(
            f"{_rel(PEERS_VENV)} is broken ({probe.stderr.strip()[-300:]}): "
            f"remove it and run `make bench-peers`"
        )
    return feast, probe.stdout.strip()


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _peer_env() -> dict[str, str]:
    # nothing of the project's environment leaks into the peer's interpreter
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(
        {
            "PATH": f"{PEERS_VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}",
            "TZ": "UTC",
            "FEAST_USAGE": "False",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def write_repo(repo: Path, redis_port: int, entities: int, now: dt.datetime) -> Path:
    """bench_online's `v10` as parquet plus a Feast repo serving it; returns the parquet path."""
    import duckdb

    view = make_view(VIEW, 10)
    data = repo / "data"
    data.mkdir(parents=True)
    db = repo / "source.duckdb"
    build_duckdb(db, [view], entities, now)
    parquet = data / f"{VIEW}.parquet"
    con = duckdb.connect(str(db))
    con.execute(f"COPY {VIEW} TO '{parquet}' (FORMAT parquet)")
    con.close()
    db.unlink()
    fields = "\n".join(
        f'        Field(name="{f.name}", dtype={FEAST_TYPES[f.data_type]}),' for f in view.features
    )
    (repo / "feature_store.yaml").write_text(
        f"""project: skewless_bench
provider: local
registry:
  registry_type: file
  path: {data / "registry.db"}
  cache_ttl_seconds: 600
online_store:
  type: redis
  connection_string: "127.0.0.1:{redis_port}"
offline_store:
  type: file
entity_key_serialization_version: 3
"""
    )
    (repo / "features.py").write_text(
        f'''from datetime import timedelta

from feast import Entity, FeatureView, Field, FileSource, ValueType
from feast.types import Float64, Int64, String

user = Entity(name="user", join_keys=["user_id"], value_type=ValueType.INT64)

source = FileSource(name="{VIEW}_source", path="{parquet}", timestamp_field="ts")

{VIEW} = FeatureView(
    name="{VIEW}",
    entities=[user],
    ttl=timedelta(days=30),
    schema=[
{fields}
    ],
    source=source,
    online=True,
)
'''
    )
    return parquet


def feast_cli(feast: Path, repo: Path, *args: str, timeout: float = 1800) -> float:
    """Run `feast -c repo <args>`; seconds taken. Raises BenchError with its output on failure."""
    started = time.perf_counter()
    proc = subprocess.run(
        [str(feast), "-c", str(repo), *args],
        capture_output=True,
        text=True,
        env=_peer_env(),
        timeout=timeout,
    )
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip()[-2000:]
        raise BenchError(f"`feast {' '.join(args)}` failed ({proc.returncode}):\n{tail}")
    return time.perf_counter() - started


class FeastServer:
    """`feast serve` in its own process group on a free port; `stop()` ends the whole group."""

    def __init__(self, feast: Path, repo: Path, log: Path, timeout: float = 180.0):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log
        self._log = log.open("wb")
        cmd = [str(feast), "-c", str(repo), "serve", "-h", "127.0.0.1", "-p", str(self.port)]
        self.proc = subprocess.Popen(
            [*cmd, *SERVE_FLAGS],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=_peer_env(),
            start_new_session=True,  # its own group: gunicorn's master and worker stop together
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = self.log_tail()
                self.stop()
                raise BenchError(
                    f"`feast serve` did not answer /health on port {self.port} "
                    f"(exit code {self.proc.returncode}):\n{tail}"
                )
            time.sleep(0.2)

    def log_tail(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-2000:]

    def stop(self) -> None:
        """Terminate the process group, then kill what is left (idempotent)."""
        try:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGTERM)
                try:
                    self.proc.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait(5)
            else:
                os.killpg(self.proc.pid, signal.SIGKILL)  # a worker its master left behind
        except ProcessLookupError:
            pass
        self._log.close()


def request_body(users: list[int]) -> bytes:
    """Feast's request shape: `{"features": ["v10:f0", …], "entities": {"user_id": [...]}}`."""
    features = [f"{VIEW}:f{i}" for i in range(10)]
    return json.dumps({"features": features, "entities": {"user_id": users}}).encode()


def post(url: str, body: bytes) -> Any:
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def check_values(url: str, parquet: Path, users: list[int]) -> int:
    """Compare Feast's answers for `users` (one request each, then one batched) with the source.

    Returns the number of values checked. Raises BenchError on the first difference.
    """
    import pyarrow.parquet as pq

    table = pq.read_table(parquet).to_pylist()
    by_user = {row["user_id"]: row for row in table}
    names = [f"f{i}" for i in range(10)]
    checked = 0
    answers = [(u, post(url, request_body([u]))) for u in users]
    batched = post(url, request_body(users))
    for row_in_batch, (u, single) in enumerate(answers):
        for resp, row in ((single, 0), (batched, row_in_batch)):
            # Feast lists the features in an order of its own: match them by name
            names_got = resp["metadata"]["feature_names"]
            results = dict(zip(names_got, resp["results"], strict=True))
            got_user = results["user_id"]["values"][row]
            if not _same(got_user, u):
                raise BenchError(f"Feast answered for user {got_user!r} instead of {u}")
            for name in names:
                col = results[name]
                got, status = col["values"][row], col["statuses"][row]
                want = by_user[u][name]
                if status != "PRESENT" or not _same(got, want):
                    raise BenchError(
                        f"Feast served {VIEW}:{name} = {got!r} ({status}) for user {u}; "
                        f"the source has {want!r}"
                    )
                checked += 1
    return checked


def _same(got: Any, want: Any) -> bool:
    if isinstance(want, int) and not isinstance(want, bool):
        # protobuf's JSON mapping may write an int64 as a string; the value must still be exact
        return isinstance(got, int | str) and int(got) == want
    if isinstance(want, float):
        # exact, but a JSON encoder may write a whole double such as 2.0 as `2`
        return isinstance(got, int | float) and not isinstance(got, bool) and float(got) == want
    return type(got) is type(want) and got == want


def group_cpu_seconds(pgid: int) -> float:
    """CPU time (user + system) used so far by the live processes of process group `pgid`."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[2]) == pgid:  # fields from `state`: pgrp is the 3rd, utime/stime 12th/13th
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def measure(
    url: str, pgid: int, bodies: list[bytes], rounds: int, seconds: float, warmup: float
) -> dict[int, list[tuple[LoadResult, float]]]:
    """`rounds` rounds of concurrency 1 then 32, after `warmup` seconds at 32.

    Each result comes with the server's CPU milliseconds per request (its process group's CPU
    time over the measured span), which the machine's other load moves less than the timings.
    """
    endpoint = f"{url}/get-online-features"
    _ok(run_load(endpoint, bodies, 32, seconds=warmup))
    out: dict[int, list[tuple[LoadResult, float]]] = {1: [], 32: []}
    for r in range(rounds):
        for conc in (1, 32):
            _ok(run_load(endpoint, bodies, conc, seconds=0.5))  # connections and pace settle
            cpu0 = group_cpu_seconds(pgid)
            res = run_load(endpoint, bodies, conc, seconds=seconds)
            cpu_ms = (group_cpu_seconds(pgid) - cpu0) * 1000 / max(res.requests, 1)
            _ok(res)
            out[conc].append((res, cpu_ms))
            print(
                f"round {r + 1} c={conc}: p50 {res.p50_ms:.2f} ms, p99 {res.p99_ms:.2f} ms, "
                f"{res.throughput:,.0f} req/s ({res.requests:,} requests), "
                f"server CPU {cpu_ms:.2f} ms/request",
                flush=True,
            )
    return out


def _ok(res: LoadResult) -> None:
    if res.errors or not res.requests:
        raise BenchError(
            f"Feast answered {res.errors} of the load's requests with an error "
            f"(statuses {res.statuses}): {res.error_sample[:300]!r}"
        )


def summarize(runs: list[tuple[LoadResult, float]]) -> dict[str, float]:
    """Median over rounds of each round's figures, and their spread."""
    out: dict[str, float] = {}
    for key in ("p50_ms", "p99_ms", "throughput", "cpu_ms"):
        values = [cpu if key == "cpu_ms" else getattr(r, key) for r, cpu in runs]
        out[key] = statistics.median(values)
        out[f"{key}_min"], out[f"{key}_max"] = min(values), max(values)
    out["requests"] = sum(r.requests for r, _ in runs)
    return out


# --- bench/results/server.json, read tolerantly --------------------------------------------------

_P50 = {"p50_ms": 1.0, "p50": 1.0, "p50_us": 1e-3, "p50_s": 1e3}
_P99 = {"p99_ms": 1.0, "p99": 1.0, "p99_us": 1e-3, "p99_s": 1e3}
_TPUT = ("throughput", "throughput_rps", "rps", "req_per_s", "requests_per_second", "reqs_per_s")
_NAMES = ("case", "name", "title", "label", "id")
# cases that are not skewless's server: its baselines (bare echo app, in-process call, raw Redis)
_OTHER = re.compile(r"(?<![a-z])(echo|in[-_ ]?process|raw|feast|baseline|floor|bare)(?![a-z])")
_OURS = re.compile(r"skewless|server|http|serve")


def _walk(node: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        label = " ".join(str(node[k]) for k in _NAMES if isinstance(node.get(k), str))
        here = f"{where} {label}".strip()
        yield here, node
        for k, v in node.items():
            yield from _walk(v, f"{here} {k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, f"{where} [{i}]")


def _figures(node: dict[str, Any]) -> dict[str, float]:
    low = {str(k).lower(): v for k, v in node.items() if isinstance(v, int | float)}
    out = {}
    for target, table in (("p50_ms", _P50), ("p99_ms", _P99)):
        for key, scale in table.items():
            if key in low:
                out[target] = float(low[key]) * scale
                break
    for key in _TPUT:
        if key in low:
            out["throughput"] = float(low[key])
            break
    return out


def _concurrency(where: str, node: dict[str, Any]) -> int | None:
    for key in ("concurrency", "c", "conc", "connections"):
        if isinstance(node.get(key), int):
            return int(node[key])
    found = re.findall(r"(?:^|[^a-z0-9])(?:c|conc|concurrency)\s*[=_:\- ]?\s*(\d+)", where.lower())
    return int(found[-1]) if found else None


def _shape_is_1x10(where: str, node: dict[str, Any]) -> bool | None:
    ents, feats = node.get("entities"), node.get("features")
    if isinstance(ents, int) and isinstance(feats, int):
        return (ents, feats) == (1, 10)
    low = where.lower()
    if re.search(r"\b1\s*entit", low) and re.search(r"\b10\s*feature", low):
        return True
    pairs = re.findall(r"\b(\d+)\s*[x×]\s*(\d+)\b", low)
    if pairs:
        return ("1", "10") in pairs
    return None


def skewless_figures(path: Path) -> dict[int, dict[str, float]] | None:
    """skewless's HTTP figures for 1 entity × 10 features, by concurrency (1, 32), or None.

    Accepts any nesting: a dict holding p50_ms / p99_ms / throughput (or p50, p50_us, rps, …)
    counts as one case; its concurrency comes from a `concurrency` field or from its key or
    label (`c32`, `c=32`, `concurrency 32`). Skipped: a case labelled with another shape
    (`100x10`, `entities: 100`) or as a baseline (echo, in-process, raw, …). A labelled 1 × 10
    case beats an unlabelled one, then one labelled skewless/server/http.
    """
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    best: dict[int, tuple[int, dict[str, float]]] = {}
    for where, node in _walk(data):
        figs = _figures(node)
        conc = _concurrency(where, node)
        if not figs or conc not in (1, 32) or _OTHER.search(where.lower()):
            continue
        shape = _shape_is_1x10(where, node)
        if shape is False:
            continue
        score = 2 * bool(shape) + bool(_OURS.search(where.lower()))
        if conc not in best or score > best[conc][0]:
            best[conc] = (score, figs)
    return {c: figs for c, (_, figs) in best.items()} or None


# --- the report --------------------------------------------------------------------------------


def report(
    *,
    version: str,
    entities: int,
    materialize_s: float,
    apply_s: float,
    checked: tuple[int, int],
    rounds: int,
    seconds: float,
    warmup: float,
    figures: dict[int, dict[str, float]],
    quick: bool,
) -> str:
    lines = [
        "## Peer: Feast's Python feature server",
        "",
        f"Feast {version} (`feast[redis]`, in bench/.peers-venv from `make bench-peers`, pinned by "
        f"bench/peers-constraints.txt), `feast serve {' '.join(SERVE_FLAGS)}`: gunicorn with one "
        "uvicorn worker — one server process, like skewless's server bench (`--max-requests 0` "
        "turns off Feast's default worker recycling every ~1,000 requests, which would only "
        "add restarts to its figures). The data is bench_online.py's view `v10`: "
        f"{entities:,} users × 10 features (4 double, 4 bigint, 2 varchar), written to parquet, "
        f"`feast apply` ({apply_s:.1f} s) and `feast materialize` ({materialize_s:.1f} s, "
        f"{entities / materialize_s:,.0f} rows/s, for information) into a local redis-server "
        "(RedisOnlineStore, file offline store). Before timing, Feast's answers for "
        f"{checked[0]} random users (one request each and one batched request) were compared "
        f"with the parquet file: {checked[1]:,} values, all `PRESENT` and equal.",
        "",
        "Load: `POST /get-online-features`, 1 entity × 10 features in Feast's request shape, a "
        "random user per request, from bench/http_load.py in the bench process on loopback (a "
        "closed loop of keep-alive connections: each sends its next request when its answer is "
        f"in). {warmup:.0f} s warm-up, then {rounds} rounds of {seconds:.0f} s at concurrency 1 "
        "and at 32 (interleaved, each after 0.5 s unmeasured); each figure is the median over "
        "rounds of the round's p50, p99 and requests/s, with the range over rounds. *Server CPU* "
        "is the CPU time of `feast serve`'s processes over the round divided by its requests: "
        "Feast's own cost per request, which the machine's other load moves far less than the "
        "timings. Load generator, server and Redis share the machine's 2 cores (and other work "
        "on it): compare ratios from one sitting, not single timings."
        + (" **--quick run: tiny sizes, not representative.**" if quick else ""),
        "",
        "| concurrency | p50 ms (range) | p99 ms (range) | throughput req/s (range) "
        "| server CPU ms/request (range) | requests |",
        "|---|---|---|---|---|---|",
    ]
    for conc, f in sorted(figures.items()):
        lines.append(
            f"| {conc} | {f['p50_ms']:.2f} ({f['p50_ms_min']:.2f}–{f['p50_ms_max']:.2f}) "
            f"| {f['p99_ms']:.2f} ({f['p99_ms_min']:.2f}–{f['p99_ms_max']:.2f}) "
            f"| {f['throughput']:,.0f} ({f['throughput_min']:,.0f}–{f['throughput_max']:,.0f}) "
            f"| {f['cpu_ms']:.2f} ({f['cpu_ms_min']:.2f}–{f['cpu_ms_max']:.2f}) "
            f"| {int(f['requests']):,} |"
        )
    lines += ["", "### skewless / Feast (1 entity × 10 features)", ""]
    ours = skewless_figures(SERVER_JSON)
    if ours is None:
        lines.append(
            f"skewless figures missing — run bench_server first ({_rel(SERVER_JSON)} "
            "is absent or holds no 1 × 10 case at concurrency 1 or 32)."
        )
        return "\n".join(lines) + "\n"
    written = dt.datetime.fromtimestamp(SERVER_JSON.stat().st_mtime, dt.timezone.utc)
    try:
        theirs_quick = json.loads(SERVER_JSON.read_text()).get("quick") is True
    except (OSError, ValueError, AttributeError):
        theirs_quick = False
    lines += [
        f"skewless's figures from {_rel(SERVER_JSON)} (bench_server.py, written "
        f"{written:%Y-%m-%d %H:%M} UTC"
        + (", **a --quick run**" if theirs_quick else "")
        + "); Feast's from this run. Targets (issue 12): throughput at concurrency 32 ≥ 10× "
        "Feast's, p99 ≤ 1/10 of Feast's.",
        "",
        "| concurrency | figure | skewless | Feast | skewless / Feast | target | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for conc in (1, 32):
        theirs = figures.get(conc)
        mine = ours.get(conc, {})
        for key, label, unit in (
            ("p50_ms", "p50", "ms"),
            ("p99_ms", "p99", "ms"),
            ("throughput", "throughput", "req/s"),
        ):
            if theirs is None or key not in mine:
                lines.append(f"| {conc} | {label} | missing | | | | |")
                continue
            ratio = mine[key] / theirs[key]
            if key == "p99_ms":
                target, met = "≤ 0.1×", ratio <= 0.1
            elif key == "throughput" and conc == 32:
                target, met = "≥ 10×", ratio >= 10
            else:
                target, met = "", None
            fmt = "{:,.0f}" if unit == "req/s" else "{:.2f}"
            lines.append(
                f"| {conc} | {label} ({unit}) | {fmt.format(mine[key])} | {fmt.format(theirs[key])} "
                f"| {ratio:.3g}× | {target} | {'' if met is None else ('yes' if met else 'NO')} |"
            )
    lines += _floor_notes(figures)
    return "\n".join(lines) + "\n"


def _floor_notes(figures: dict[int, dict[str, float]]) -> list[str]:
    """Where the p99 target is below what the bare stack gives (the echo app of bench_server,
    same load generator): no server on that stack could meet it, whatever it does."""
    try:
        echo = json.loads(SERVER_JSON.read_text()).get("echo") or {}
    except (OSError, ValueError, AttributeError):
        return []
    out: list[str] = []
    for conc in (1, 32):
        floor = (echo.get(f"c{conc}") or {}).get("p99_us")
        theirs = figures.get(conc)
        if floor is None or theirs is None:
            continue
        bound = theirs["p99_ms"] / 10
        if floor / 1000 > bound:
            out.append(
                f"- p99 at concurrency {conc}: the target (≤ {bound:.3f} ms, 1/10 of Feast's) is "
                f"below the floor of the stack itself — a bare ASGI echo app on uvicorn + "
                f"httptools + uvloop with the same load generator has p99 {floor / 1000:.3f} ms "
                "(bench_server.py): no server on this stack and machine can meet it."
            )
    return ["", *out] if out else []


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    args = parser.parse_args()
    entities = 2_000 if args.quick else 50_000  # as bench_online.py and bench_server.py
    rounds, seconds, warmup = (3, 1.0, 1.0) if args.quick else (5, 5.0, 3.0)

    try:
        feast, version = peers_feast()
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    import importlib.util

    if importlib.util.find_spec("feast") is not None:
        print("warning: Feast is importable from the project's python; it belongs only in "
              f"{_rel(PEERS_VENV)}", file=sys.stderr)  # fmt: skip

    # a SIGTERM (e.g. a runner's timeout) unwinds through the `finally` below like Ctrl-C does
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = Path(tempfile.mkdtemp(prefix="skewless-bench-feast-"))
    redis: LocalRedis | None = None
    server: FeastServer | None = None
    try:
        redis = LocalRedis()
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        repo = tmp / "repo"
        parquet = write_repo(repo, redis.port, entities, now)
        print(f"feast {version}: apply …", flush=True)
        apply_s = feast_cli(feast, repo, "apply")
        start = (now - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
        end = (now + dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S")
        print(f"feast materialize {entities:,} rows …", flush=True)
        materialize_s = feast_cli(feast, repo, "materialize", start, end)
        print(f"  {materialize_s:.1f} s; feast serve …", flush=True)
        server = FeastServer(feast, repo, tmp / "serve.log")
        rng = random.Random(12)
        sample = [0, entities - 1, *rng.sample(range(1, entities - 1), 18)]
        checked = check_values(f"{server.url}/get-online-features", parquet, sample)
        print(f"  values checked: {checked}", flush=True)
        bodies = [request_body([rng.randrange(entities)]) for _ in range(2000)]
        runs = measure(server.url, server.proc.pid, bodies, rounds, seconds, warmup)
        figures = {conc: summarize(r) for conc, r in runs.items()}
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if server is not None:
            server.stop()
        if redis is not None:
            redis.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    text = report(
        version=version,
        entities=entities,
        materialize_s=materialize_s,
        apply_s=apply_s,
        checked=(len(sample), checked),
        rounds=rounds,
        seconds=seconds,
        warmup=warmup,
        figures=figures,
        quick=args.quick,
    )
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(text)
    print(text)
    print(f"wrote {RESULT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
