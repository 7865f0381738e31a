"""Served-feature logging overhead on `get_online_features`, and `skewless consistency` replay throughput.

Writes bench/results/logging.md. Starts its own redis-server on a free port, builds one feature
view (10 features) in a scratch DuckDB file, loads it with the real loader, then:

- **logging overhead**: `get_online_features` for 1 entity × 10 features and 100 entities × 10
  features, logging off vs on (Parquet sink, 100% sampling — and 10% for 100 entities —, attached
  as a `post_lookup` hook),
  interleaved in blocks within the same run; p50/p99 per block, medians over runs. The raw limit
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

from skewless.connection import connect  # noqa: E402
from skewless.consistency import pit_rows, replay  # noqa: E402
from skewless.feature_log import FeatureLogConfig, FeatureLogger, read_feature_log  # noqa: E402
from skewless.local_redis import LocalRedis  # noqa: E402
from skewless.materialize import materialize, open_duckdb  # noqa: E402
from skewless.online import FeatureStore  # noqa: E402
from skewless.registry import Registry  # noqa: E402

RESULT = ROOT / "bench" / "results" / "logging.md"
#: (entities per call, sample rate, with OnlineResponse.view_statuses): the `True` cases patch in
#: the cheap per-view statuses that OnlineResponse does not offer (yet) — the writer then skips
#: the per-value `statuses` expansion; see view_statuses_patch().
CASES = [
    (1, 1.0, False),
    (1, 1.0, True),
    (1, 0.1, False),
    (100, 1.0, False),
    (100, 1.0, True),
    (100, 0.1, False),
]


def view_statuses_patch(response_cls: type) -> bool:
    """Give OnlineResponse a `view_statuses` property (view names, per-entity row statuses) for
    the measurement, when it has none; returns whether it is there."""
    if hasattr(response_cls, "view_statuses"):
        return True

    def view_statuses(self):  # type: ignore[no-untyped-def]
        plan = self._plan
        views = plan.views[: getattr(plan, "nvisible", len(plan.views))]
        n = len(self._rows)
        columns = [["present"] * n if st is None else st for st in self._vstatus[: len(views)]]
        return tuple(vp.name for vp in views), [list(r) for r in zip(*columns, strict=True)]

    response_cls.view_statuses = property(view_statuses)  # type: ignore[attr-defined]
    return True


def pct(samples: list[int], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(q * len(s)))] / 1000.0  # ns → µs


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    runs = 3 if args.quick else 5
    entities_n = 2_000 if args.quick else 20_000
    block = {1: 300, 100: 30} if args.quick else {1: 3000, 100: 200}
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
        gen = client.get(f"skw:ptr:v10:{view.version}".encode())
        rnd = random.Random(7)

        from skewless.keys import KeyBuilder

        kb = KeyBuilder(view)
        pointer = f"skw:ptr:v10:{view.version}".encode()

        def raw_keys(ents: list[dict[str, int]]) -> list[bytes]:
            return [pointer] + [b"skw:{" + kb.entity(e) + b"}:v10:" + gen for e in ents]

        results: dict[tuple[int, str], dict[str, list[float]]] = {}
        stats_on: dict[int, dict[str, int]] = {}
        from skewless.online import OnlineResponse

        had_view_statuses = hasattr(OnlineResponse, "view_statuses")
        for case in CASES:
            n_ent, rate, patched = case
            if patched and not had_view_statuses:
                view_statuses_patch(OnlineResponse)
            elif not patched and not had_view_statuses and hasattr(OnlineResponse, "view_statuses"):
                del OnlineResponse.view_statuses  # type: ignore[attr-defined]
            logger = FeatureLogger(
                FeatureLogConfig(path=str(tmp / f"log{n_ent}-{rate}-{patched}"), sample_rate=rate)
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
                        for ents in picks:
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
            if patched and not had_view_statuses:
                del OnlineResponse.view_statuses  # type: ignore[attr-defined]
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
        f"interleaved in the same run; medians of {runs} runs (µs).",
        "",
        "| case | raw MGET p50 | off p50 | on p50 | overhead p50 | off p99 | on p99 | overhead p99 | dropped / calls |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for case in CASES:
        n_ent, rate, patched = case
        off50, on50 = med(results[(case, "off")]["p50"]), med(results[(case, "on")]["p50"])
        off99, on99 = med(results[(case, "off")]["p99"]), med(results[(case, "on")]["p99"])
        raw50 = med(results[(case, "raw")]["p50"])
        st = stats_on[case]
        lines.append(
            f"| {n_ent} entit{'y' if n_ent == 1 else 'ies'} × 10, {rate:.0%} sampled"
            f"{', with view_statuses*' if patched else ''} | {raw50:.1f} | {off50:.1f} | {on50:.1f} | "
            f"{(on50 / off50 - 1) * 100:+.1f}% | {off99:.1f} | {on99:.1f} | {(on99 / off99 - 1) * 100:+.1f}% | "
            f"{st['dropped']} / {st['calls'] + st['dropped'] + st['sampled_out']} |"
        )
    lines += [
        "",
        f"Caller-thread cost of one `log_response` (1 entity): **{caller_ns / 1000:.2f} µs**; the "
        f"background writer formats and writes ≈{writer_rows_s:,.0f} calls/s to Parquet (1 entity per "
        "call). A full queue drops and counts; it never blocks the request. The writer formats in "
        "the gaps between requests (none logged for 2 ms) unless 256 calls wait, so in these "
        "back-to-back loops (sustained saturation, the worst case) it works during the loop: its "
        "share of the one GIL is the overhead — per call it expands `OnlineResponse.statuses` "
        "(the largest part), encodes one typed-JSON document (≈0.4 µs per value here) and holds "
        "the response until then (work for Python's cyclic GC). Sampling by entity key scales it "
        "down. *view_statuses: OnlineResponse has no cheap per-view statuses yet; these rows patch "
        "one in for the measurement (the writer then logs one raw status per view).",
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
