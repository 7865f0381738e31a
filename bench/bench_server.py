"""Serving from asyncio and over HTTP: `AsyncFeatureStore` in process, and `skewless serve`'s app.

Writes bench/results/server.md, and bench/results/server.json (the HTTP figures, for the Feast
peer bench's side-by-side ratios). Starts its own redis-server on a free port, builds the
feature views of bench_online.py in a scratch DuckDB file and loads them with the real loader.

In process (one event loop, uvloop; interleaved, medians over runs of each run's p50/p99, µs):

- async: `await AsyncFeatureStore.get_online_features(features, entities)`;
- sync: `FeatureStore.get_online_features` (same data, same process);
- raw async MGET: one `redis.asyncio` MGET of the same packed keys, built inside the timed call
  (bytes back, nothing decoded).

The three read the same entities in each iteration, in an order that rotates: the first finds
the keys cold in Redis, the others warm (with a fixed order, the first pays up to 30% more on
100-entity reads).

Targets: async ≤ 1.2× sync; async ≤ 1.5× (1 entity) / 2× (100 entities) raw async MGET.

HTTP (one server process, a load generator in another process, loopback): the server is
`skewless.server.FeatureServer` on uvicorn with httptools + uvloop (what `skewless serve` runs;
started by a small launcher because these views are built here, not by dbt); the load generator
is an asyncio HTTP/1.1 client (uvloop, keep-alive, one request in flight per connection).
1 entity × 10 features at concurrency 1 and 32: p50/p99 and requests/s. The same client against
a bare ASGI echo app on the same stack (uvicorn + httptools + uvloop, the body sent back) gives
the floor: target p50 at concurrency 1 ≤ 2 × (in-process async call + echo round trip), and
≥ 3,000 req/s at concurrency 32.

The machine has 2 cores, shared by the server, the load generator, Redis (and anything else
running): throughput is bounded by that, and the figures are noisy when other work runs.

    python bench/bench_server.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python_runtime"))
sys.path.insert(0, str(ROOT / "bench"))

RESULT = ROOT / "bench" / "results" / "server.md"
RESULT_JSON = ROOT / "bench" / "results" / "server.json"
CASES = [
    ("1 entity × 10 features (1 view)", ["v10"], 1),
    ("1 entity × 50 features (3 views)", ["w20", "x20", "y10"], 1),
    ("100 entities × 10 features (1 view)", ["v10"], 100),
]


#: the in-process reads of one iteration, in an order that rotates (each goes first a third
#: of the time)
_ORDERS = (("async", "sync", "raw"), ("sync", "raw", "async"), ("raw", "async", "sync"))


def _views() -> list[Any]:
    from bench_online import make_view

    return [make_view("v10", 10), make_view("w20", 20), make_view("x20", 20), make_view("y10", 10)]


def percentile(samples: list[int], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(q * len(s)))] / 1000.0  # ns → µs


# --- the processes: server, echo server, load generator -------------------------------------


def run_server(redis_url: str, port: int) -> None:
    """The feature server over the bench views (a launcher of `FeatureServer`, as the CLI runs it)."""
    import uvicorn

    from skewless.definitions.registry import Registry
    from skewless.online.async_store import AsyncFeatureStore, async_client
    from skewless.online.connection import connect
    from skewless.server.app import FeatureServer
    from skewless.server.config import ServerConfig
    from skewless.server.reload import Loaded

    views = _views()
    registry = Registry({v.name: v for v in views})
    store = AsyncFeatureStore(
        registry, async_client(redis_url), redis_url, None, sync_client=connect(redis_url)
    )
    config = ServerConfig(redis_url=redis_url, reload_interval=0)
    app = FeatureServer(config, Loaded(store, "bench", (0, 0)))
    uvicorn.run(
        app, host="127.0.0.1", port=port, loop="uvloop", http="httptools",
        log_level="warning", access_log=False, lifespan="on", server_header=False,
        proxy_headers=False,  # as `skewless serve` without --access-log
    )  # fmt: skip


async def _echo_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def run_echo(port: int) -> None:
    import uvicorn

    uvicorn.run(
        _echo_app, host="127.0.0.1", port=port, loop="uvloop", http="httptools",
        log_level="warning", access_log=False, lifespan="on", server_header=False,
    )  # fmt: skip


async def _client(
    port: int, bodies: list[bytes], concurrency: int, seconds: float, warm: float
) -> dict[str, Any]:
    latencies: list[int] = []
    errors = 0
    perf = time.perf_counter_ns
    start = time.perf_counter()
    t_warm = start + warm
    t_end = t_warm + seconds
    counted = 0

    async def worker(i: int) -> None:
        nonlocal errors, counted
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        rng = random.Random(i)
        heads = [
            b"POST /get-online-features HTTP/1.1\r\nhost: b\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n\r\n%s" % (len(b), b)
            for b in bodies
        ]
        while True:
            now = time.perf_counter()
            if now >= t_end:
                break
            req = heads[rng.randrange(len(heads))]
            t0 = perf()
            writer.write(req)
            head = await reader.readuntil(b"\r\n\r\n")
            n = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    n = int(line[15:])
            await reader.readexactly(n)
            dt = perf() - t0
            if not head.startswith(b"HTTP/1.1 200"):
                errors += 1
            if now >= t_warm:
                latencies.append(dt)
                counted += 1
        writer.close()

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return {
        "p50_us": percentile(latencies, 0.5),
        "p99_us": percentile(latencies, 0.99),
        "rps": counted / seconds,
        "requests": counted,
        "errors": errors,
    }


def run_loadgen(args: argparse.Namespace) -> None:
    import uvloop

    bodies = [line.encode() for line in Path(args.bodies).read_text().splitlines() if line]
    result = uvloop.run(_client(args.port, bodies, args.concurrency, args.seconds, args.warm))
    print(json.dumps(result))


def loadgen(port: int, bodies: Path, concurrency: int, seconds: float) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--loadgen", "--port", str(port), "--bodies", str(bodies),
         "--concurrency", str(concurrency), "--seconds", str(seconds), "--warm", "0.5"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def _wait_http(port: int, timeout: float = 30.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


# --- in process -------------------------------------------------------------------------------


async def _in_process(
    url: str, registry: Any, tails: dict[str, bytes], entities_n: int, runs: int,
    iters: dict[int, int],
) -> list[tuple[str, dict[str, tuple[float, float]]]]:  # fmt: skip
    import redis.asyncio

    from skewless.online.async_store import AsyncFeatureStore, async_client
    from skewless.online.connection import connect
    from skewless.online.store import FeatureStore

    astore = AsyncFeatureStore(registry, async_client(url), url, None, sync_client=connect(url))
    sstore = FeatureStore(registry, connect(url), url)
    raw = redis.asyncio.Redis.from_url(url)
    rng = random.Random(7)
    perf = time.perf_counter_ns
    rows = []
    for title, names, n_ent in CASES:
        refs = [f"{v}.{f}" for v in names for f in registry.views[v].feature_names]
        spec_tails = [tails[v] for v in names]
        stats: dict[str, list[tuple[float, float]]] = {"async": [], "sync": [], "raw": []}
        for _run in range(runs):
            picks = [[rng.randrange(entities_n) for _ in range(n_ent)] for _ in range(iters[n_ent])]
            ents = [[{"user_id": u} for u in p] for p in picks]
            check = await astore.get_online_features(refs, ents[0])
            assert all(s == "present" for row in check.statuses for s in row.values())
            sstore.get_online_features(refs, ents[0])
            samples: dict[str, list[int]] = {"async": [], "sync": [], "raw": []}
            for i, (p, e) in enumerate(zip(picks, ents, strict=True)):
                # the three read the same keys: whichever goes first finds them cold in Redis
                # (hash-table and cache misses), the others warm — so the order rotates
                for which in _ORDERS[i % 3]:
                    t0 = perf()
                    if which == "async":
                        await astore.get_online_features(refs, e)
                    elif which == "sync":
                        sstore.get_online_features(refs, e)
                    else:
                        digits = [b"%d" % u for u in p]
                        keys = [
                            b"skw:{%d:%s%s" % (len(d), d, t) for t in spec_tails for d in digits
                        ]
                        await raw.execute_command("MGET", *keys)
                    samples[which].append(perf() - t0)
            for k, v in samples.items():
                stats[k].append((percentile(v, 0.5), percentile(v, 0.99)))
        med = {
            k: (statistics.median(a for a, _ in v), statistics.median(b for _, b in v))
            for k, v in stats.items()
        }
        rows.append((title, med))
        print(
            "in process:",
            title,
            {k: tuple(round(x) for x in v) for k, v in med.items()},
            flush=True,
        )
    await astore.aclose()
    sstore.close()
    await raw.aclose()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--loadgen", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve", metavar="REDIS_URL", help=argparse.SUPPRESS)
    parser.add_argument("--echo", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--bodies", help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=5.0, help=argparse.SUPPRESS)
    parser.add_argument("--warm", type=float, default=0.5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.loadgen:
        run_loadgen(args)
        return 0
    if args.serve:
        run_server(args.serve, args.port)
        return 0
    if args.echo:
        run_echo(args.port)
        return 0

    import uvloop
    from bench_online import build_duckdb

    from skewless.definitions.registry import Registry
    from skewless.online import keys
    from skewless.online.connection import connect
    from skewless.online.local_redis import LocalRedis, free_port
    from skewless.online.materialize import materialize

    runs = 3
    entities_n = 2_000 if args.quick else 50_000
    iters = {1: 300, 100: 60} if args.quick else {1: 3000, 100: 400}
    seconds = 1.5 if args.quick else 5.0
    redis_server = LocalRedis()
    tmp = Path(tempfile.mkdtemp(prefix="skewless-bench-server-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        url = redis_server.url
        now = datetime.now(timezone.utc).replace(microsecond=0)
        views = _views()
        build_duckdb(tmp / "bench.duckdb", views, entities_n, now)
        registry = Registry({v.name: v for v in views})
        client = connect(url)
        materialize(registry, client, tmp / "bench.duckdb", now=now)
        tails = {
            v.name: b"}:%s:%s" % (v.name.encode(), client.get(keys.pointer_key(v.name, v.version)))
            for v in views
        }
        inproc = uvloop.run(_in_process(url, registry, tails, entities_n, runs, iters))

        # HTTP
        port, echo_port = free_port(), free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT / "python_runtime")}
        procs.append(
            subprocess.Popen(
                [sys.executable, __file__, "--serve", url, "--port", str(port)], env=env
            )
        )
        procs.append(
            subprocess.Popen(
                [sys.executable, __file__, "--echo", "--port", str(echo_port)], env=env
            )
        )
        _wait_http(port)
        _wait_http(echo_port)
        rng = random.Random(3)
        refs = [f"v10.{f}" for f in registry.views["v10"].feature_names]
        bodies = tmp / "bodies.jsonl"
        bodies.write_text(
            "\n".join(
                json.dumps({"features": refs, "entities": [{"user_id": rng.randrange(entities_n)}]})
                for _ in range(2000)
            )
        )
        http: dict[str, dict[str, dict[str, Any]]] = {"skewless": {}, "echo": {}}
        for _run in range(runs):
            for c in (1, 32):
                for name, p in (("skewless", port), ("echo", echo_port)):
                    r = loadgen(p, bodies, c, seconds)
                    assert r["errors"] == 0, r
                    http[name].setdefault(str(c), []).append(r)  # type: ignore[arg-type]
        med: dict[str, dict[str, dict[str, float]]] = {}
        for name, by_c in http.items():
            med[name] = {}
            for c, results in by_c.items():
                med[name][c] = {
                    k: statistics.median(r[k] for r in results)  # type: ignore[index]
                    for k in ("p50_us", "p99_us", "rps")
                }
        print("http:", json.dumps(med), flush=True)
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        redis_server.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    quick = " **--quick run: tiny sizes, not representative.**" if args.quick else ""
    lines = [
        "## Serving from asyncio and over HTTP (`AsyncFeatureStore`, `skewless serve`)",
        "",
        f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, shared with "
        "whatever else runs (the server, the load generator and Redis share the cores): the "
        f"figures are noisy and bounded by that.{quick}",
        "",
        "### In process",
        "",
        f"{entities_n:,} entities per view, random entities per call, {runs} runs × "
        f"{iters[1]:,} calls (1 entity) / {iters[100]:,} calls (100 entities), the three reads "
        "interleaved call by call on one uvloop event loop, reading the same entities in an "
        "order that rotates (the first of the three finds the keys cold in Redis); the median "
        "over runs of each run's "
        "p50/p99, in µs. *async*: `await AsyncFeatureStore.get_online_features` (decoded, "
        "status and age per value); *sync*: `FeatureStore.get_online_features`; *raw async "
        "MGET*: one redis.asyncio `MGET` of the same packed keys, built in the timed call, bytes "
        "back, nothing decoded.",
        "",
        "| case | async p50 / p99 | sync p50 / p99 | raw async MGET p50 / p99 | async ÷ sync p50 (target ≤ 1.2×) | async ÷ raw p50 (target) | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for title, m in inproc:
        r_sync = m["async"][0] / m["sync"][0]
        r_raw = m["async"][0] / m["raw"][0]
        target = 1.5 if title.startswith("1 entity") else 2.0
        met = r_sync <= 1.2 and r_raw <= target
        lines.append(
            f"| {title} | {m['async'][0]:.0f} / {m['async'][1]:.0f} | {m['sync'][0]:.0f} / "
            f"{m['sync'][1]:.0f} | {m['raw'][0]:.0f} / {m['raw'][1]:.0f} | {r_sync:.2f}× | "
            f"{r_raw:.2f}× (≤ {target}×) | {'yes' if met else 'NO'} |"
        )
    sk, echo = med["skewless"], med["echo"]
    async_1x10 = inproc[0][1]["async"][0]
    floor = async_1x10 + echo["1"]["p50_us"]
    ratio = sk["1"]["p50_us"] / floor
    lines += [
        "",
        "### HTTP: one server process, the load generator in another (loopback)",
        "",
        f"`POST /get-online-features`, 1 entity × 10 features (random entities), {runs} runs × "
        f"{seconds:g} s per concurrency (after 0.5 s of warm-up); the median over runs. Server: "
        "`FeatureServer` (the app `skewless serve` runs) on uvicorn + httptools + uvloop, one "
        "worker. Load: an asyncio HTTP/1.1 client (uvloop, keep-alive, one request in flight "
        "per connection, the latency from write to last byte). *echo*: a bare ASGI app on the "
        "same stack sending the request body back (the HTTP floor).",
        "",
        "| concurrency | skewless p50 / p99 (µs) | skewless req/s | echo p50 / p99 (µs) | echo req/s |",
        "|---|---|---|---|---|",
    ]
    for c in ("1", "32"):
        lines.append(
            f"| {c} | {sk[c]['p50_us']:.0f} / {sk[c]['p99_us']:.0f} | {sk[c]['rps']:,.0f} | "
            f"{echo[c]['p50_us']:.0f} / {echo[c]['p99_us']:.0f} | {echo[c]['rps']:,.0f} |"
        )
    lines += [
        "",
        f"- p50 at concurrency 1: {sk['1']['p50_us']:.0f} µs = **{ratio:.2f}×** (in-process async "
        f"call {async_1x10:.0f} µs + echo round trip {echo['1']['p50_us']:.0f} µs); target ≤ 2×: "
        f"{'met' if ratio <= 2 else 'NOT met'}.",
        f"- throughput at concurrency 32: **{sk['32']['rps']:,.0f} req/s** (echo: "
        f"{echo['32']['rps']:,.0f}); target ≥ 3,000: {'met' if sk['32']['rps'] >= 3000 else 'NOT met'}.",
        "",
    ]
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text("\n".join(lines))
    RESULT_JSON.write_text(
        json.dumps(
            {
                "case": "1 entity x 10 features (1 view), POST /get-online-features",
                "quick": bool(args.quick),
                "cpus": os.cpu_count(),
                "skewless": {f"c{c}": sk[c] for c in sk},
                "echo": {f"c{c}": echo[c] for c in echo},
                "in_process_async_p50_us": async_1x10,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {RESULT} and {RESULT_JSON}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
