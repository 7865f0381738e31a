"""Served-feature logging overhead on `get_online_features`, and `skewless consistency` replay throughput.

Writes bench/results/logging.md. Starts its own redis-server on a free port, builds one feature
view (10 features) in a scratch DuckDB file, loads it with the real loader, then:

- **logging overhead**: `get_online_features` for 1 entity × 10 features and 100 entities × 10
  features, logging off vs on (Parquet sink, attached as a `post_lookup` hook; 100% and 10%
  sampling; saturated back-to-back calls and paced bursts, see CASES), interleaved in blocks
  within the same run; p50/p99 per block, medians over runs. The raw limit
  beside it is one redis-py MGET of the same keys. Also: the caller-thread cost of one
  `log_response` call, and what the background writer kept up with (rows written, dropped).
- **replay**: a log of served rows (real serving, 100 entities per call) replayed with
  `consistency.replay` (decode + DuckDB point-in-time join + serving rules + comparison), in rows/s,
  beside its parts measured in the same run: reading/decoding the log, and the DuckDB ASOF join
  alone.

    python bench/bench_logging.py [--quick]
"""

from __future__ import annotations

import argparse
import gc
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python_runtime"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_online import build_duckdb, make_view  # noqa: E402

from skewless.definitions.registry import Registry  # noqa: E402
from skewless.guards.consistency import pit_rows, replay  # noqa: E402
from skewless.guards.feature_log import FeatureLogConfig, FeatureLogger, read_feature_log  # noqa: E402
from skewless.online import keys  # noqa: E402
from skewless.online.connection import connect  # noqa: E402
from skewless.online.local_redis import LocalRedis  # noqa: E402
from skewless.online.materialize import materialize, open_duckdb  # noqa: E402
from skewless.online.store import FeatureStore  # noqa: E402

RESULT = ROOT / "bench" / "results" / "logging.md"
#: (entities per call, sample rate, traffic): `saturated` = calls back to back (the writer must
#: work while requests run: the worst case); `paced` = bursts of 20 calls 5 ms apart (the writer
#: works in the gaps, as it would behind a service that is not saturated).
CASES = [
    (1, 1.0, "saturated"),
    (1, 1.0, "paced"),
    (1, 0.1, "saturated"),
    (100, 1.0, "saturated"),
    (100, 1.0, "paced"),
    (100, 0.1, "saturated"),
]
PACE_EVERY, PACE_SLEEP = 20, 0.005


def pct(samples: list[int], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(q * len(s)))] / 1000.0  # ns → µs


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    runs = 3 if args.quick else 15
    entities_n = 2_000 if args.quick else 20_000
    block = {1: 300, 100: 30} if args.quick else {1: 2000, 100: 100}
    replay_calls = 20 if args.quick else 500  # × 100 entities

    server = LocalRedis()
    tmp = Path(tempfile.mkdtemp(prefix="skewless-bench-logging-"))
    try:
        url = server.url
        now = datetime.now(timezone.utc).replace(microsecond=0)
        view = make_view("v10", 10)
        build_duckdb(tmp / "bench.duckdb", [view], entities_n, now)
        registry = Registry({view.name: view})
        client = connect(url)
        materialize(registry, client, tmp / "bench.duckdb", now=now)
        store = FeatureStore(registry, client, url)
        refs = [f"v10.{f}" for f in view.feature_names]
        gen = client.get(keys.pointer_key("v10", view.version))
        rnd = random.Random(7)

        from skewless.online.keys import KeyBuilder

        kb = KeyBuilder(view)
        pointer = keys.pointer_key("v10", view.version)

        def raw_keys(ents: list[dict[str, int]]) -> list[bytes]:
            return [pointer] + [b"skw:{" + kb.entity(e) + b"}:v10:" + gen for e in ents]

        results: dict[tuple[int, str], dict[str, list[float]]] = {}
        stats_on: dict[int, dict[str, int]] = {}
        for case in CASES:
            n_ent, rate, traffic = case
            logger = FeatureLogger(
                FeatureLogConfig(path=str(tmp / f"log{n_ent}-{rate}-{traffic}"), sample_rate=rate)
            )
            picks = [
                [{"user_id": rnd.randrange(entities_n)} for _ in range(n_ent)]
                for _ in range(block[n_ent])
            ]
            keysets = [raw_keys(p) for p in picks]
            for r in range(runs):
                order = ["off", "on", "raw"] if r % 2 == 0 else ["on", "off", "raw"]
                for mode in order:
                    store.post_lookup = [logger.hook] if mode == "on" else []
                    gc.collect()
                    samples = []
                    perf = time.perf_counter_ns
                    if mode == "raw":
                        mget = client.execute_command
                        for ks in keysets:
                            t0 = perf()
                            mget("MGET", *ks)
                            samples.append(perf() - t0)
                    else:
                        get = store.get_online_features
                        paced = traffic == "paced"
                        for k, ents in enumerate(picks):
                            if paced and k % PACE_EVERY == 0:
                                time.sleep(PACE_SLEEP)
                            t0 = perf()
                            get(refs, ents)
                            samples.append(perf() - t0)
                    res = results.setdefault((case, mode), {"p50": [], "p99": []})
                    res["p50"].append(pct(samples, 0.5))
                    res["p99"].append(pct(samples, 0.99))
                    if mode == "on":
                        logger.flush(timeout=120)  # let the writer catch up between blocks
            store.post_lookup = []
            logger.close()
            stats_on[case] = {
                "calls": logger.stats.calls,
                "dropped": logger.stats.dropped,
                "sampled_out": logger.stats.sampled_out,
                "rows": logger.stats.rows_written,
                "errors": logger.stats.sink_errors,
            }

        # caller-thread cost of one log_response (the background thread is busy formatting meanwhile)
        resp = store.get_online_features(refs, [{"user_id": 1}])
        logger = FeatureLogger(
            FeatureLogConfig(path=str(tmp / "logcost"), queue_size=10**7, flush_interval=3600)
        )
        n = 20_000
        t0 = time.perf_counter_ns()
        for _ in range(n):
            logger.log_response(resp)
        caller_ns = (time.perf_counter_ns() - t0) / n
        t0 = time.perf_counter()
        logger.close(timeout=600)
        writer_rows_s = n / (time.perf_counter() - t0)

        # replay throughput
        log_dir = tmp / "replay_log"
        logger = FeatureLogger(FeatureLogConfig(path=str(log_dir), queue_size=10**6))
        store.post_lookup = [logger.hook]
        for _ in range(replay_calls):
            store.get_online_features(
                refs, [{"user_id": rnd.randrange(entities_n)} for _ in range(100)]
            )
        store.post_lookup = []
        logger.close(timeout=600)
        duck = open_duckdb(tmp / "bench.duckdb", [view])
        rep = {"decode": [], "pit": [], "replay": []}
        rows_n = 0
        mismatches = 0
        for _ in range(3):
            t0 = time.perf_counter()
            rows = list(read_feature_log(log_dir))
            t1 = time.perf_counter()
            pit_rows(duck, view, [(r.entity, r.served_at) for r in rows])
            t2 = time.perf_counter()
            report = replay(registry, duck, rows)
            t3 = time.perf_counter()
            rows_n = len(rows)
            mismatches = sum(f.mismatch for f in report.features)
            rep["decode"].append(rows_n / (t1 - t0))
            rep["pit"].append(rows_n / (t2 - t1))
            rep["replay"].append(rows_n / (t3 - t2))
            rep.setdefault("end_to_end", []).append(rows_n / ((t1 - t0) + (t3 - t2)))
        duck.close()
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    med = statistics.median
    lines = [
        "## Served-feature logging and consistency replay",
        "",
        f"`get_online_features`, 10 features of one view, {entities_n:,} entities loaded; logging "
        "to the Parquet sink (attached as a `post_lookup` hook) vs off, "
        f"interleaved in the same run; medians of {runs} runs (µs); the overheads are medians of "
        "the per-run on/off ratios (each on block against the off block next to it).",
        "",
        "| case | raw MGET p50 | off p50 | on p50 | overhead p50 | off p99 | on p99 | overhead p99 | dropped / calls |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for case in CASES:
        n_ent, rate, traffic = case
        off50, on50 = med(results[(case, "off")]["p50"]), med(results[(case, "on")]["p50"])
        off99, on99 = med(results[(case, "off")]["p99"]), med(results[(case, "on")]["p99"])
        # paired: each run's on block against the off block next to it, then the median
        over50 = med(
            [
                a / b
                for a, b in zip(
                    results[(case, "on")]["p50"], results[(case, "off")]["p50"], strict=True
                )
            ]
        )
        over99 = med(
            [
                a / b
                for a, b in zip(
                    results[(case, "on")]["p99"], results[(case, "off")]["p99"], strict=True
                )
            ]
        )
        raw50 = med(results[(case, "raw")]["p50"])
        st = stats_on[case]
        lines.append(
            f"| {n_ent} entit{'y' if n_ent == 1 else 'ies'} × 10, {rate:.0%} sampled"
            f", {traffic} | {raw50:.1f} | {off50:.1f} | {on50:.1f} | "
            f"{(over50 - 1) * 100:+.1f}% | {off99:.1f} | {on99:.1f} | {(over99 - 1) * 100:+.1f}% | "
            f"{st['dropped']} / {st['calls'] + st['dropped'] + st['sampled_out']} |"
        )
    lines += [
        "",
        f"Caller-thread cost of one `log_response` (1 entity): **{caller_ns / 1000:.2f} µs**; the "
        f"background writer formats and writes ≈{writer_rows_s:,.0f} calls/s to Parquet (1 entity per "
        "call). A full queue drops and counts; it never blocks the request. The writer formats in "
        "the gaps between requests (none logged for 2 ms), and while requests run only once 1,024 "
        "calls wait: with paced traffic it stays out of the requests' way; saturated, it shares "
        "the one GIL with them "
        "(per call it reads the per-view row statuses, packs one msgpack document and holds the "
        "response until then, which is work for Python's cyclic GC too). Sampling by entity key "
        "scales that down. The machine's 2 cores are shared with the Redis server and other "
        "jobs: differences under ~10% are within noise.",
        "",
        f"Replay (`skewless consistency --log`): {rows_n:,} logged rows (100 entities per call), "
        f"medians of 3 runs; {mismatches} mismatches (expected 0).",
        "",
        "| step | rows/s |",
        "|---|---|",
        f"| read + decode the Parquet log (typed JSON) | {med(rep['decode']):,.0f} |",
        f"| DuckDB ASOF point-in-time join alone (raw limit of the offline side) | {med(rep['pit']):,.0f} |",
        f"| replay: ASOF join + serving rules + per-feature comparison | {med(rep['replay']):,.0f} |",
        f"| **end to end** (decode + replay) | **{med(rep['end_to_end']):,.0f}** |",
        "",
    ]
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
