"""Materialization: `skewless.online.materialize` rows/s vs raw pipelined SET ingestion, same run.

Writes bench/results/materialize.md. Starts its own redis-server on a free port and builds a
scratch DuckDB file; then, per case, runs full loads through the real loader (DuckDB latest-row
query → Arrow batches → bulk-encoded RESP → Redis, new generation, pointer flip, cleanup of the
generation two back) and, interleaved, the two raw baselines over the same keys and values:

- server ingest: the same `SET key value PXAT t` commands, pre-encoded outside the timer, sent
  in 5,000-command buffers on one connection, replies read — what redis-server itself ingests;
- redis-py pipeline: `pipeline(transaction=False)` + `pipe.set(key, value, pxat=t)` per row,
  `execute()` every 5,000 rows (keys and values prebuilt) — the conventional client path.

Cases: A = 1M rows (100k entities × 10 rows, 10 features; 100k keys written), B = 1M entities ×
1 row (1M keys written), C = B's rows in a view without a ttl: its keys carry the
unfinished-generation guard (`PX`) until the load clears it (`PERSIST` of every key before the
flip), so C − B is the guard's cost. Two unmeasured warm-up loads first, so every measured load also
deletes the generation two back, as in steady state. Finally one more load of the largest case
runs alone in a child process, to report the loader's own peak memory.

    python bench/bench_materialize.py [--quick]
"""

from __future__ import annotations

import argparse
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

RESULT = ROOT / "bench" / "results" / "materialize.md"
CHUNK = 5000


FEATURES = [
    ("amount_sum", "double"), ("amount_avg", "double"), ("ratio", "double"), ("score", "double"),
    ("txn_count", "bigint"), ("merchant_count", "bigint"), ("days_active", "integer"),
    ("country", "varchar"), ("segment", "varchar"), ("is_active", "boolean"),
]  # fmt: skip


def make_view(name: str, ttl: timedelta | None = timedelta(days=30)) -> FeatureView:
    return FeatureView(
        name=name,
        unique_id=f"model.bench.{name}",
        relation_name=f'"bench"."main"."{name}"',
        entity=("user_id",),
        entity_types=("BIGINT",),
        timestamp="ts",
        ttl=ttl,
        available_after=timedelta(0),
        freshness=None,
        on_stale="serve",
        features=tuple(Feature(view=name, name=n, data_type=t) for n, t in FEATURES),
        version=f"{name}-v1",
        database="bench",
        schema="main",
        alias=name,
    )


def build_table(con, name: str, entities: int, rows_each: int, now: datetime) -> None:  # type: ignore[no-untyped-def]
    base = now.strftime("%Y-%m-%d %H:%M:%S")
    con.execute(
        f"""
        CREATE OR REPLACE TABLE {name} AS
        SELECT (i % {entities})::BIGINT AS user_id,
               TIMESTAMPTZ '{base}+00' - to_hours((i // {entities})::BIGINT) - INTERVAL 1 MINUTE AS ts,
               (i * 1.37) / 3.0 AS amount_sum, (i % 997) / 7.0 AS amount_avg,
               (i % 101) / 100.0 AS ratio, ((i * 7919) % 10007) / 10007.0 AS score,
               (i % 50000)::BIGINT AS txn_count, (i % 313)::BIGINT AS merchant_count,
               (i % 365)::INTEGER AS days_active,
               ['DE', 'FR', 'US', 'BR', 'JP'][1 + (i % 5)] AS country,
               'segment-' || (i % 17)::VARCHAR AS segment, (i % 3 = 0) AS is_active
        FROM range({entities * rows_each}) t(i)
        """
    )


def raw_commands(client, view: FeatureView, limit: int) -> list[tuple[bytes, bytes, int]]:  # type: ignore[no-untyped-def]
    """The (key, value, pxat; -1: none) of up to `limit` data keys the loader wrote, read back
    from Redis."""
    gen = client.get(keys.pointer_key(view.name, view.version))
    keys_ = client.lrange(keys.gen_keys_key(view.name, gen), 0, limit - 1)
    values = client.mget(keys_)
    pipe = client.pipeline(transaction=False)
    for k in keys_:
        pipe.pexpiretime(k)
    expiries = pipe.execute()
    # data keys only: the key list also records the sentinels
    return [
        (b"raw:" + k, v, e)
        for k, v, e in zip(keys_, values, expiries, strict=True)
        if not k.startswith(b"skw:ok:")
    ]


def server_ingest(client, cmds: list[tuple[bytes, bytes, int]]) -> float:  # type: ignore[no-untyped-def]
    buffers = []
    for i in range(0, len(cmds), CHUNK):
        parts = []
        for k, v, e in cmds[i : i + CHUNK]:
            if e < 0:
                parts.append(
                    b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v)
                )
                continue
            p = b"%d" % e
            parts.append(
                b"*5\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n$4\r\nPXAT\r\n$%d\r\n%s\r\n"
                % (len(k), k, len(v), v, len(p), p)
            )
        buffers.append((b"".join(parts), len(parts)))
    conn = client.connection_pool.get_connection()
    try:
        t0 = time.perf_counter()
        pending = 0
        for buf, n in buffers:
            for _ in range(pending):
                conn.read_response()
            conn.send_packed_command([buf], check_health=False)
            pending = n
        for _ in range(pending):
            conn.read_response()
        elapsed = time.perf_counter() - t0
    finally:
        client.connection_pool.release(conn)
    return len(cmds) / elapsed


def redis_py_pipeline(client, cmds: list[tuple[bytes, bytes, int]]) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    pipe = client.pipeline(transaction=False)
    for i, (k, v, e) in enumerate(cmds, 1):
        pipe.set(k, v, pxat=e if e > 0 else None)
        if i % CHUNK == 0:
            pipe.execute()
    pipe.execute()
    return len(cmds) / (time.perf_counter() - t0)


def loader_peak_rss(db: Path, view: FeatureView, url: str, now: datetime) -> float:
    """Peak RSS (MB) of a child process that runs one load of `view` and nothing else."""
    code = (
        "import sys, resource; sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[2])\n"
        "from datetime import datetime\n"
        "import bench_materialize as bm\n"
        "from skewless.online.connection import connect\n"
        "from skewless.online.materialize import materialize\n"
        "from skewless.definitions.registry import Registry\n"
        "v = bm.make_view(sys.argv[3])\n"
        "materialize(Registry({v.name: v}), connect(sys.argv[4]), sys.argv[5], "
        "now=datetime.fromisoformat(sys.argv[6]))\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(ROOT / "python_runtime"), str(ROOT / "bench"),
         view.name, url, str(db), now.isoformat()],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    runs = 3
    cases = (
        [
            ("A", "10k entities × 10 rows", 10_000, 10),
            ("B", "100k entities × 1 row", 100_000, 1),
            ("C", "100k entities × 1 row, no ttl", 100_000, 1),
        ]
        if args.quick
        else [
            ("A", "100k entities × 10 rows", 100_000, 10),
            ("B", "1M entities × 1 row", 1_000_000, 1),
            ("C", "1M entities × 1 row, no ttl", 1_000_000, 1),
        ]
    )
    raw_limit = 20_000 if args.quick else 200_000

    import duckdb

    server = LocalRedis()
    tmp = Path(tempfile.mkdtemp(prefix="skewless-bench-mat-"))
    results = []
    try:
        url = server.url
        client = connect(url)
        now = datetime.now(timezone.utc).replace(microsecond=0)
        db = tmp / "bench.duckdb"
        con = duckdb.connect(str(db))
        con.execute("SET TimeZone='UTC'")
        views = {}
        for tag, _title, entities, rows_each in cases:
            name = f"case_{tag.lower()}"
            build_table(con, name, entities, rows_each, now)
            views[tag] = make_view(name, None if tag == "C" else timedelta(days=30))
        con.close()
        registry = Registry({v.name: v for v in views.values()})

        for tag, title, entities, rows_each in cases:
            view = views[tag]
            for _ in range(2):  # after two loads, every further load also deletes a generation
                (warm,) = materialize(registry, client, db, select=[view.name], now=now)
                assert warm.rows == entities, (warm.rows, entities)
            cmds = raw_commands(client, view, raw_limit)
            loads, ingest, pipeline = [], [], []
            for _ in range(runs):
                (r,) = materialize(registry, client, db, select=[view.name], now=now)
                loads.append(r)
                ingest.append(server_ingest(client, cmds))
                pipeline.append(redis_py_pipeline(client, cmds))
                client.unlink(*[c[0] for c in cmds])
            med = statistics.median
            results.append(
                {
                    "title": f"{tag}: {title}",
                    "source_rows": entities * rows_each,
                    "keys": entities,
                    "query_s": med(r.query_seconds for r in loads),
                    "write_s": med(r.write_seconds for r in loads),
                    "cleanup_s": med(r.cleanup_seconds for r in loads),
                    "write_rps": med(r.write_rows_per_second for r in loads),
                    "e2e_keys_ps": med(r.rows_per_second for r in loads),
                    "e2e_source_ps": med(entities * rows_each / r.seconds for r in loads),
                    "ingest": med(ingest),
                    "pipeline": med(pipeline),
                    "deleted": sum(len(r.deleted_generations) for r in loads),
                }
            )
            print(results[-1], flush=True)
        child_rss_mb = loader_peak_rss(db, views["B"], url, now)
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    lines = [
        "## Materialization (`skewless materialize`)",
        "",
        "Full loads of one feature view (10 features: 4 DOUBLE, 2 BIGINT, 1 INTEGER, 2 VARCHAR, 1 "
        "BOOLEAN; ttl 30d, none in case C) from a DuckDB file into a local redis-server; medians of "
        f"{runs} loads after two warm-up loads (so each measured load also deletes the generation "
        "two back). *write* = Redis write phase (bulk-encoded SET … PXAT (C: SET … PX <guard>) + "
        "key-list RPUSH, sentinels, PERSIST of the guard (C: every key; A, B: the sentinel), "
        "pointer flip) "
        "÷ keys written; *cleanup* = deleting the generation two back (server-side, chunked); *end to "
        "end* = query + write + cleanup. Raw "
        f"baselines over the same keys and values (first {raw_limit:,} keys of the load), same "
        "run: *server ingest* = the same SETs pre-encoded and pipelined on one connection (what "
        "redis-server itself takes); *redis-py pipeline* = `pipe.set(…, pxat=…)` per row."
        + (" **--quick run: tiny sizes, not representative.**" if args.quick else ""),
        "",
        "| case | source rows | keys written | query s | write s | cleanup s | write rows/s | end-to-end keys/s (source rows/s) | server ingest SET/s | redis-py pipeline SET/s | write ÷ server ingest | write ÷ redis-py | targets (150k written, 100k e2e) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        met_w = r["write_rps"] >= 150_000
        met_e = r["e2e_keys_ps"] >= 100_000
        lines.append(
            f"| {r['title']} | {r['source_rows']:,} | {r['keys']:,} | {r['query_s']:.2f} | {r['write_s']:.2f} | {r['cleanup_s']:.2f} "
            f"| {r['write_rps']:,.0f} | {r['e2e_keys_ps']:,.0f} ({r['e2e_source_ps']:,.0f}) "
            f"| {r['ingest']:,.0f} | {r['pipeline']:,.0f} | {r['write_rps'] / r['ingest']:.2f} "
            f"| {r['write_rps'] / r['pipeline']:.1f}× | written {'yes' if met_w else 'NO'}, "
            f"e2e {'yes' if met_e else 'NO'} (keys/s) |"
        )
    by_tag = {r["title"][0]: r for r in results}
    if "B" in by_tag and "C" in by_tag:
        b_, c_ = by_tag["B"], by_tag["C"]
        lines += [
            "",
            f"The unfinished-generation guard (issue 10): case C (no ttl: every key written with "
            f"`PX`, then `PERSIST`ed before the flip) writes at {c_['write_rps']:,.0f} keys/s, "
            f"{c_['write_rps'] / b_['write_rps']:.2f}× case B (ttl: only the sentinel is persisted); "
            f"against its own raw ingest (SET without expiry) {c_['write_rps'] / c_['ingest']:.2f}.",
        ]
    lines += [
        "",
        f"Peak RSS of a child process doing one load of case B "
        f"({cases[1][2]:,} keys) and nothing else: {child_rss_mb:,.0f} MB — the loader streams "
        "Arrow batches of 5,000 rows; the query result sits in a DuckDB temp table (spillable), "
        "never in Python lists.",
        "",
    ]
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text("\n".join(lines))
    print(f"wrote {RESULT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
