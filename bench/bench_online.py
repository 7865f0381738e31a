"""Online reads: `get_online_features` latency vs the fastest raw redis-py read of the same data.

Writes bench/results/online.md. Starts its own redis-server on a free port, builds feature views
in a scratch DuckDB file, loads them with `skewless.online.materialize` (the real loader), then times,
interleaved, for each case:

- skewless: `store.get_online_features(features, entities)` — values decoded, status and age
  per value (and, separately, `+ to_dicts()`);
- raw MGET: one redis-py `MGET` of the same packed keys (bytes back, nothing decoded);
- raw HMGET: a redis-py pipeline (transaction=False) of one `HMGET` per entity and view, over
  the same values stored as one hash per entity and view.

The ratio is against the faster raw read. p50/p99 are medians over runs. Also reports
`python -X importtime -c "import skewless"` (total, and that no dbt module is imported).

    python bench/bench_online.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python_runtime"))

from skewless.definitions import Feature, FeatureView  # noqa: E402
from skewless.definitions.registry import Registry  # noqa: E402
from skewless.online import keys  # noqa: E402
from skewless.online.connection import connect  # noqa: E402
from skewless.online.local_redis import LocalRedis  # noqa: E402
from skewless.online.materialize import materialize  # noqa: E402
from skewless.online.store import FeatureStore  # noqa: E402

RESULT = ROOT / "bench" / "results" / "online.md"


def make_view(name: str, n_features: int) -> FeatureView:
    feats = []
    for i in range(n_features):
        dtype = ("double", "bigint", "double", "varchar", "bigint")[i % 5]
        feats.append(Feature(view=name, name=f"f{i}", data_type=dtype))
    return FeatureView(
        name=name,
        unique_id=f"model.bench.{name}",
        relation_name=f'"bench"."main"."{name}"',
        entity=("user_id",),
        entity_types=("BIGINT",),
        timestamp="ts",
        ttl=timedelta(days=30),
        available_after=timedelta(0),
        freshness=timedelta(days=1),
        on_stale="serve",
        features=tuple(feats),
        version=f"{name}-v1",
        database="bench",
        schema="main",
        alias=name,
    )


def build_duckdb(path: Path, views: list[FeatureView], entities: int, now: datetime) -> None:
    import duckdb

    con = duckdb.connect(str(path))
    con.execute("SET TimeZone='UTC'")
    base = now.strftime("%Y-%m-%d %H:%M:%S")
    for v in views:
        cols = []
        for i, f in enumerate(v.features):
            if f.data_type == "double":
                cols.append(f"(range * {i + 1}) / 7.0 AS {f.name}")
            elif f.data_type == "bigint":
                cols.append(f"(range * {i + 3})::BIGINT AS {f.name}")
            else:
                cols.append(f"'value-' || (range % 1000)::VARCHAR AS {f.name}")
        con.execute(
            f"CREATE OR REPLACE TABLE {v.name} AS SELECT range::BIGINT AS user_id, "
            f"TIMESTAMPTZ '{base}+00' - INTERVAL 5 MINUTE AS ts, {', '.join(cols)} "
            f"FROM range({entities})"
        )
    con.close()


def percentile(samples: list[int], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(q * len(s)))] / 1000.0  # ns → µs


def time_loop(fn, picks) -> list[int]:  # type: ignore[no-untyped-def]
    perf = time.perf_counter_ns
    out = []
    for arg in picks:
        t0 = perf()
        fn(arg)
        out.append(perf() - t0)
    return out


def import_time() -> tuple[int, list[str], int]:
    """(µs cumulative for `skewless`, dbt modules imported, µs for the interpreter's own start)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import skewless"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "python_runtime")},
    )
    total = 0
    dbt = []
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if not m:
            continue
        name = m.group(4)
        if name.split(".")[0] == "dbt":
            dbt.append(name)
        if name == "skewless" and m.group(3) == " ":
            total = int(m.group(2))
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", "import skewless"],
            env={**os.environ, "PYTHONPATH": str(ROOT / "python_runtime")},
        )
        t1 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"])
        runs.append(int(((t1 - t0) - (time.perf_counter() - t1)) * 1e6))
    return total, dbt, int(statistics.median(runs))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    runs = 3
    entities_n = 2_000 if args.quick else 50_000
    iters = {1: 300, 100: 60} if args.quick else {1: 4000, 100: 600}

    server = LocalRedis()
    tmp = Path(tempfile.mkdtemp(prefix="skewless-bench-online-"))
    try:
        url = server.url
        now = datetime.now(timezone.utc).replace(microsecond=0)
        views = [
            make_view("v10", 10),
            make_view("w20", 20),
            make_view("x20", 20),
            make_view("y10", 10),
        ]
        build_duckdb(tmp / "bench.duckdb", views, entities_n, now)
        registry = Registry({v.name: v for v in views})
        client = connect(url)
        materialize(registry, client, tmp / "bench.duckdb", now=now)
        store = FeatureStore(registry, client, url)

        # the same values, as one hash per entity and view, for the HMGET baseline
        import redis

        raw = redis.Redis(host="127.0.0.1", port=server.port)
        gens = {v.name: raw.get(keys.pointer_key(v.name, v.version)) for v in views}
        probe = store.get_online_features(
            [f"v10.{f}" for f in views[0].feature_names], [{"user_id": 1}]
        )
        assert probe.statuses[0]["v10.f0"] == "present"
        pipe = raw.pipeline(transaction=False)
        for v in views:
            refs = [f"{v.name}.{f}" for f in v.feature_names]
            for start in range(0, entities_n, 1000):
                chunk = [{"user_id": u} for u in range(start, min(start + 1000, entities_n))]
                resp = store.get_online_features(refs, chunk, now=now)
                for ent, vals in zip(chunk, resp.values, strict=True):
                    pipe.hset(
                        f"h:{v.name}:{ent['user_id']}",
                        mapping={
                            f: ("" if x is None else str(x))
                            for f, x in zip(v.feature_names, vals, strict=True)
                        },
                    )
                pipe.execute()

        tails = {v.name: b"}:%s:%s" % (v.name.encode(), gens[v.name]) for v in views}

        cases = [
            ("1 entity × 10 features (1 view)", [("v10", views[0].feature_names)], 1),
            (
                "1 entity × 50 features (3 views)",
                [
                    ("w20", views[1].feature_names),
                    ("x20", views[2].feature_names),
                    ("y10", views[3].feature_names),
                ],
                1,
            ),
            ("100 entities × 10 features (1 view)", [("v10", views[0].feature_names)], 100),
        ]
        rng = random.Random(7)
        rows = []
        for title, spec, n_ent in cases:
            refs = [f"{v}.{f}" for v, names in spec for f in names]
            n_iter = iters[n_ent]
            stats: dict[str, list[tuple[float, float]]] = {
                k: [] for k in ("ours", "dicts", "mget", "hmget", "floor")
            }
            spec_tails = [tails[v] for v, _ in spec]
            for _run in range(runs):
                picks = [[rng.randrange(entities_n) for _ in range(n_ent)] for _ in range(n_iter)]
                ent_picks = [[{"user_id": u} for u in p] for p in picks]

                def ours(ents, refs=refs):  # type: ignore[no-untyped-def]
                    return store.get_online_features(refs, ents)

                def ours_dicts(ents, refs=refs):  # type: ignore[no-untyped-def]
                    return store.get_online_features(refs, ents).to_dicts()

                def mget(uids, spec_tails=spec_tails):  # type: ignore[no-untyped-def]
                    # the keys are built from the ids, as any client must (inline, fastest form)
                    digits = [b"%d" % u for u in uids]
                    keys = [b"skw:{%d:%s%s" % (len(d), d, t) for t in spec_tails for d in digits]
                    return raw.execute_command("MGET", *keys)

                prebuilt = [
                    [
                        b"skw:{%d:%s%s" % (len(str(u)), str(u).encode(), t)
                        for t in spec_tails
                        for u in p
                    ]
                    for p in picks
                ]

                def floor(keys):  # type: ignore[no-untyped-def]
                    return raw.execute_command("MGET", *keys)

                def hmget(uids, spec=spec):  # type: ignore[no-untyped-def]
                    p = raw.pipeline(transaction=False)
                    for v, names in spec:
                        for u in uids:
                            p.hmget(f"h:{v}:{u}", names)
                    return p.execute()

                for fn in (ours, mget):  # warm
                    fn(ent_picks[0] if fn is ours else picks[0])
                for key, fn, arg in (
                    ("floor", floor, prebuilt),
                    ("mget", mget, picks),
                    ("ours", ours, ent_picks),
                    ("hmget", hmget, picks),
                    ("dicts", ours_dicts, ent_picks),
                ):
                    samples = time_loop(fn, arg)
                    stats[key].append((percentile(samples, 0.5), percentile(samples, 0.99)))
            med = {
                k: (statistics.median(a for a, _ in v), statistics.median(b for _, b in v))
                for k, v in stats.items()
            }
            best = "mget" if med["mget"][0] <= med["hmget"][0] else "hmget"
            target = 1.5 if n_ent == 1 else 2.0
            ratio50 = med["ours"][0] / med[best][0]
            ratio99 = med["ours"][1] / med[best][1]
            rows.append((title, med, best, ratio50, ratio99, target))
            print(
                title,
                {k: tuple(round(x) for x in v) for k, v in med.items()},
                f"x{ratio50:.2f}",
                flush=True,
            )

        imp_us, dbt_mods, wall_us = import_time()
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    lines = [
        "## Online reads (`get_online_features`)",
        "",
        f"{entities_n:,} entities per view, random entities per call, {runs} runs × "
        f"{iters[1]:,} calls (1 entity) / {iters[100]:,} calls (100 entities); figures are the median "
        "over runs of each run's p50/p99, in µs. *skewless* returns decoded, type-exact values with a "
        "status and age per value; *raw MGET* fetches the same packed values as bytes (nothing "
        "decoded); *raw HMGET* is a redis-py pipeline of one HMGET per entity and view over the same "
        "values kept as hashes. Both raw reads build their key strings from the entity ids inside "
        "the timed call, as any client must; *MGET floor* is the same MGET with the keys built "
        "beforehand (the bare network + redis-py cost). Ratio = skewless ÷ the faster raw read. "
        "Local redis-server, one connection, loopback. *skewless* includes the lost-data check "
        "(docs/operations.md): on a plain Redis the generation pointer, already in the MGET, is "
        "the sentinel, so no key is added; a cluster read adds one sentinel GET per view and node."
        + (" **--quick run: tiny sizes, not representative.**" if args.quick else ""),
        "",
        "| case | skewless p50 / p99 | + to_dicts() p50 / p99 | raw MGET p50 / p99 | raw HMGET p50 / p99 | MGET floor p50 / p99 | ratio p50 (p99) | target | met | vs floor p50 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for title, med, best, r50, r99, target in rows:
        lines.append(
            f"| {title} | {med['ours'][0]:.0f} / {med['ours'][1]:.0f} | {med['dicts'][0]:.0f} / {med['dicts'][1]:.0f} "
            f"| {med['mget'][0]:.0f} / {med['mget'][1]:.0f} | {med['hmget'][0]:.0f} / {med['hmget'][1]:.0f} "
            f"| {med['floor'][0]:.0f} / {med['floor'][1]:.0f} "
            f"| {r50:.2f}× ({r99:.2f}×) vs {best.upper()} | ≤ {target}× | {'yes' if r50 <= target else 'NO'} "
            f"| {med['ours'][0] / med['floor'][0]:.2f}× |"
        )
    lines += [
        "",
        f'`python -X importtime -c "import skewless"`: **{imp_us / 1000:.1f} ms** cumulative for '
        f"`skewless`; dbt modules imported: **{len(dbt_mods)}**"
        + (f" ({', '.join(dbt_mods[:5])}…)" if dbt_mods else "")
        + f". Wall-clock cost of `import skewless` over a bare interpreter start: {wall_us / 1000:.1f} ms "
        "(median of 5).",
        "",
    ]
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text("\n".join(lines))
    print(f"wrote {RESULT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
