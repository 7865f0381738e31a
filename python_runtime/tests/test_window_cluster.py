"""Window views on Redis Cluster, against a real three-node cluster and a plain redis-server.

The window views of test_window_online (`wa`: two folded windows; `wb`: two keys and a lag;
`wc`: hopped, with a lag) are loaded (`materialize`) at t0 into the cluster AND into the suite's
plain Redis, from the same DuckDB events; the same events are pushed to both (a late one, one
too old for every window, a replay), a second load at t1 absorbs them, more are pushed. At
instants around each load (before the slack, the load instant and 1 µs after, up to past the
horizon) every value and status served by the cluster equals the plain Redis's, for 48
entities spread over the three nodes; and for some entities each value equals
`skewless.window_join` on DuckDB (test_window_online's `_compare`).

Then the node holding `wc`'s bookkeeping and part of every view's records restarts empty: the
window values of the entities it held are `unavailable` (None; or `StoreUnavailableError`),
never the counts 0 of an entity without events — also after a new event is pushed to one of
them — while the entities of the other nodes are served as before; a new load repairs them.
`skewless push` on the cluster: a replay adds nothing; a push bigger than one script call,
with entities sharing a hash slot, counts every event once.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import json
import math
import random
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.crc import key_slot
from test_faults_loader import cluster as cluster  # the fixture
from test_faults_loader import restart_empty
from test_window_online import (
    BASE,
    COLUMNS,
    MIN,
    OLDEST,
    SLACK,
    STEP,
    US,
    VIEWS,
    _compare,
    _load_empty,
    _row,
    _ts,
    outputs,
)
from test_window_online import project as project  # the dbt project (module scope)

from skewless import FeatureStore
from skewless.definitions.registry import Registry
from skewless.errors import NotMaterializedError, StoreUnavailableError
from skewless.offline.duckdb import DuckDBReader
from skewless.online import keys
from skewless.online.connection import connect
from skewless.online.materialize import materialize
from skewless.online.push import PUSH_CHUNK, PUSH_SCRIPT, push_keys, read_pushes
from skewless.online.windows import window_serving

# one worker builds the dbt project once for every test here
pytestmark = pytest.mark.xdist_group("window_cluster")

SLOTS = [(0, 5460), (5461, 10922), (10923, 16383)]  # as the cluster fixture assigns them
T0 = BASE + 8 * STEP
T1 = T0 + 60 * MIN
K1 = range(1, 25)  # 1-20 have loaded events, 21-24 only pushed ones (or none)
ENTS = [{"k1": k, "k2": b} for k in K1 for b in ("a", "b")]
INSERT = f"insert into raw_events values ({', '.join('?' * len(COLUMNS))})"


def owner(slot: int) -> int:
    return next(i for i, (lo, hi) in enumerate(SLOTS) if lo <= slot <= hi)


def node_of(registry: Registry, view: str, entity: dict[str, Any]) -> int:
    """The cluster node holding an entity's record and push keys in `view` (one slot)."""
    serving = window_serving(registry.windows[view])
    encoded = serving.push_plan().builder.entity(entity)
    return owner(key_slot(push_keys(view, encoded)[0]))


def home(view: str) -> int:
    """The node holding the view's bookkeeping: its pointer and its load instant (`t0_key`)."""
    return owner(key_slot(keys.pointer_key(view, "any")))


def dataset() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(loaded before t0, pushed at t0 — a late one and one too old included —, pushed at t1)."""
    rng = random.Random(20260307)
    xs = (0.0, 1.5, -2.25, 0.1, 1e16, -1e16, None, math.nan, math.inf, -0.0)
    ns = (0, 1, -7, 2**40, 2**62, None)
    ds = (Decimal("0.001"), Decimal("-12.5"), Decimal("99999.999"), None)
    ss = ("a", "ab", "b", "zz", None)
    ids = iter(range(100_000))

    def event(k1: int, k2: str | None, ts: int) -> dict[str, Any]:
        return {"k1": k1, "k2": k2, "ts": ts, "eid": f"e{next(ids)}", "x": rng.choice(xs),
                "n": rng.choice(ns), "d": rng.choice(ds), "s": rng.choice(ss)}  # fmt: skip

    def near(at: int, before: int, after: int) -> int:
        return at + rng.randint(-before, after) * MIN + rng.choice((0, 0, US, -US))

    loaded = [
        event(k, rng.choice(("a", "b", "b", None)), near(T0, 250, 0))
        for k in range(1, 21)
        for _ in range(rng.randint(0, 7))
    ]
    loaded.append({**loaded[0], "eid": "tie", "x": 2.5})  # same keys and time, another value
    pushed1 = [event(rng.choice(K1), rng.choice(("a", "b")), near(T0, 4, 40)) for _ in range(40)]
    pushed1.append(event(3, "a", T0 - 20 * MIN))  # late: before the load instant
    pushed1.append(event(4, "b", T0 - 10 * 60 * MIN))  # older than every window: not kept
    pushed2 = [event(rng.choice(K1), rng.choice(("a", "b")), near(T1, 4, 40)) for _ in range(30)]
    return loaded, pushed1, pushed2


def _pushable(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**e, "ts": _ts(e["ts"])} for e in events]


def _norm(v: Any) -> Any:
    """A value comparable across stores: NaN equal to NaN, the type kept (1 != 1.0 here)."""
    if isinstance(v, float) and v != v:
        return "NaN"
    return (type(v).__name__, v)


class Pair:
    """The cluster store and the plain one, read and pushed alike."""

    def __init__(self, registry: Registry, cluster_url: str, plain_url: str):
        self.registry = registry
        self.urls = (cluster_url, plain_url)
        self.stores = [FeatureStore(registry, connect(u), u, feature_log=False) for u in self.urls]
        self.stats: collections.Counter[str] = collections.Counter()

    def load(self, con: Any, at: int) -> None:
        for url in self.urls:
            results = materialize(
                self.registry, connect(url), DuckDBReader(con), now=_ts(at), select=list(VIEWS)
            )
            assert [r.view for r in results] == list(VIEWS)

    def push(self, events: list[dict[str, Any]], at: int, replay: bool = False) -> None:
        for view in VIEWS:
            old = sum(e["ts"] < at - SLACK - OLDEST[view] for e in events)
            fresh = len(events) - old
            want = (0, fresh, old) if replay else (fresh, 0, old)
            got = [s.push(view, _pushable(events), now=_ts(at)).to_dict() for s in self.stores]
            for r in got:
                assert (r["added"], r["duplicates"], r["too_old"]) == want, (view, got)
            self.stats["pushes"] += 2

    def pushes(self) -> dict[str, int]:
        """The push keys as a load reads them (`read_pushes`): the same on both. → per view,
        how many entities have pushed events waiting."""
        held = {}
        for view in VIEWS:
            serving = window_serving(self.registry.windows[view])
            got, want = (read_pushes(serving, s.redis) for s in self.stores)
            assert got == want, view
            held[view] = sum(bool(events) for _seq, events in got.values())
        return held

    def read(self, store: FeatureStore, view: str, q: int, **options: Any) -> Any:
        refs = [f"{view}.{o[0]}" for o in outputs(view)]
        return store.get_online_features(refs, ENTS, now=_ts(q), **options)

    def same(self, q: int, views: Any = VIEWS) -> None:
        """Every value and status of `views` at q: the cluster's equal the plain Redis's."""
        for view in views:
            got, want = (self.read(s, view, q) for s in self.stores)
            for e, gv, wv, gs, ws in zip(
                ENTS, got.values, want.values, got.statuses, want.statuses, strict=True
            ):
                where = f"{view} {e} at t0{q - T0:+d}us"
                assert gs == ws, f"{where}: cluster {gs}, plain Redis {ws}"
                assert list(map(_norm, gv)) == list(map(_norm, wv)), f"{where}: {gv} != {wv}"
                for status in gs.values():
                    self.stats[status] += 1
                self.stats["values"] += len(gv)
                self.stats["nonzero"] += sum(bool(v) and v == v for v in gv)


def test_window_views_on_a_cluster_serve_what_a_plain_redis_serves(
    project: tuple[Path, Path],
    cluster: list[list[Any]],
    redis_url: str,
    record_property: Any,
) -> None:
    import duckdb

    db, manifest = project
    con = duckdb.connect(str(db))
    con.execute("set TimeZone = 'UTC'")
    con.execute("delete from raw_events")
    registry = Registry.from_manifest(manifest)
    url = f"redis+cluster://127.0.0.1:{cluster[0][1]}/0"
    pair = Pair(registry, url, redis_url)
    nodes = {v: {node_of(registry, v, e) for e in ENTS} for v in VIEWS}
    assert all(found == {0, 1, 2} for found in nodes.values()), nodes
    loaded, pushed1, pushed2 = dataset()
    con.executemany(INSERT, [_row(e) for e in loaded])
    events = list(loaded)
    window_join: collections.Counter[str] = collections.Counter()

    # load at t0; push (a late event, one too old, then the same again: a replay)
    pair.load(con, T0)
    pair.same(T0)
    pair.push(pushed1, T0)
    pair.push(pushed1, T0, replay=True)
    con.executemany(INSERT, [_row(e) for e in pushed1])  # as the offline event log would
    waiting = pair.pushes()  # every primary scanned: the same entities as the plain Redis
    kept = [e for e in pushed1 if e["ts"] >= T0 - SLACK - OLDEST["wc"]]
    assert waiting["wc"] == len({e["k1"] for e in kept}) >= 10, waiting
    assert waiting["wb"] == len({(e["k1"], e["k2"]) for e in kept}), waiting
    events += pushed1
    around_t0 = [-SLACK - US, -SLACK, 0, US, 10 * MIN, 29 * MIN, 30 * MIN + US, 45 * MIN]
    for o in [*around_t0, 59 * MIN]:
        pair.same(T0 + o)
    _compare(con, pair.stores[0], events, T0, around_t0, window_join)

    # a second load absorbs the pushed events (and prunes them); more are pushed, the first
    # ones replayed: their ids are still known, nothing is added
    pair.load(con, T1)
    assert pair.pushes() == dict.fromkeys(VIEWS, 0)  # absorbed, then pruned on every node
    pair.push(pushed2, T1)
    pair.push(pushed1, T1, replay=True)
    con.executemany(INSERT, [_row(e) for e in pushed2])
    events += pushed2
    around_t1 = [-SLACK - US, 0, US, 15 * MIN, 30 * MIN, 30 * MIN + US, 60 * MIN, 2 * 60 * MIN]
    for o in around_t1:
        pair.same(T1 + o)
    _compare(con, pair.stores[0], events, T1, around_t1, window_join)

    # the async store reads the cluster alike
    from skewless.online.async_store import AsyncFeatureStore

    async def read_async() -> Any:
        async with AsyncFeatureStore.from_manifest(manifest, url, feature_log=False) as store:
            return await store.get_online_features(
                [f"wb.{o[0]}" for o in outputs("wb")], ENTS, now=_ts(T1 + 15 * MIN)
            )

    got, want = asyncio.run(read_async()), pair.read(pair.stores[1], "wb", T1 + 15 * MIN)
    assert [list(map(_norm, v)) for v in got.values] == [list(map(_norm, v)) for v in want.values]
    assert got.statuses == want.statuses

    stats = pair.stats
    assert stats["values"] > 20_000 and stats["nonzero"] > 5_000, stats
    assert stats["present"] > 1_000 and stats["stale"] > 100 and not stats["unavailable"], stats
    assert window_join["values"] > 2_000 and window_join["nonzero"] > 500, window_join
    assert window_join["stale"] > 0, window_join

    # ---- a node restarts empty: what it held is unavailable, never "no events" -------------
    lost_node = home("wc")  # wc's pointer and load instant, and part of every view's records
    assert home("wa") != lost_node and home("wb") != lost_node
    restart_empty(cluster, lost_node)
    q = T1 + 15 * MIN
    cached = pair.stores[0]  # has seen every view's generation and load instant
    fresh = FeatureStore(registry, connect(url), url, feature_log=False)
    plain = {v: pair.read(pair.stores[1], v, q) for v in VIEWS}
    outcome: collections.Counter[str] = collections.Counter()

    def check_lost(store: FeatureStore, view: str) -> None:
        with pytest.raises(StoreUnavailableError, match=f"`{view}`"):
            pair.read(store, view, q)
        resp = pair.read(store, view, q, on_store_error="defaults")
        for e, values, statuses, want, want_statuses in zip(
            ENTS, resp.values, resp.statuses, plain[view].values, plain[view].statuses,
            strict=True,
        ):  # fmt: skip
            where = f"{view} {e}"
            if node_of(registry, view, e) == lost_node:
                assert values == [None] * len(values), f"{where}: served {values}"
                assert set(statuses.values()) == {"unavailable"}, f"{where}: {statuses}"
                outcome[f"{view} unavailable"] += 1
            elif set(statuses.values()) == {"unavailable"}:
                # wc lost its pointer too: an absent record cannot be told from a lost one
                assert view == "wc" and values == [None] * len(values), (where, values)
                outcome[f"{view} unavailable elsewhere"] += 1
            else:
                assert statuses == want_statuses, where
                assert list(map(_norm, values)) == list(map(_norm, want)), where
                outcome[f"{view} served"] += 1

    for view in VIEWS:
        check_lost(cached, view)
    for view in ("wa", "wb"):
        check_lost(fresh, view)
    with pytest.raises(NotMaterializedError, match="wc"):  # its pointer was never seen
        pair.read(fresh, "wc", q)
    assert all(outcome[f"{v} unavailable"] >= 4 and outcome[f"{v} served"] >= 4 for v in VIEWS)

    # a new event pushed to an entity of the lost node (the node lost the script too: NOSCRIPT,
    # loaded again) does not make its window "1 event": still unavailable
    victim = next(e for e in ENTS if node_of(registry, "wa", e) == lost_node)
    restarted = redis.Redis(port=cluster[lost_node][1])
    sha = hashlib.sha1(PUSH_SCRIPT.encode()).hexdigest()
    assert restarted.script_exists(sha) == [False]
    new = [{**victim, "ts": T1 + 5 * MIN, "eid": "after-restart", "x": 1.0, "n": 1,
            "d": Decimal("1"), "s": "a"}]  # fmt: skip
    pair.push(new, T1)
    assert restarted.script_exists(sha) == [True]
    con.executemany(INSERT, [_row(e) for e in new])
    events += new
    resp = cached.get_online_features(
        ["wa.events_count_1h", "wa.x_sum_1h"], [victim], now=_ts(q), on_store_error="defaults"
    )
    assert resp.values == [[None, None]], resp.values
    assert set(resp.statuses[0].values()) == {"unavailable"}, resp.statuses

    # a new load repairs it: the cluster serves what the plain Redis serves again
    pair.load(con, T1)
    before = dict(pair.stats)
    for o in around_t1:
        pair.same(T1 + o)
    assert pair.stats["unavailable"] == before.get("unavailable", 0), pair.stats
    repaired = FeatureStore(registry, connect(url), url, feature_log=False)
    _compare(con, repaired, events, T1, around_t1, window_join)
    con.close()

    summary = (
        f"window views, cluster vs plain Redis: {dict(stats)}; vs window_join: "
        f"{dict(window_join)}; node {lost_node} restarted empty: {dict(outcome)}"
    )
    print(summary)
    record_property("summary", summary)


def test_skewless_push_on_a_cluster_is_idempotent(
    project: tuple[Path, Path], cluster: list[list[Any]], tmp_path: Path
) -> None:
    """`skewless push` against a `redis+cluster://` URL: events of entities on every node; run
    again it adds nothing. `store.push` of more than one script call's events, entities sharing
    a hash slot among them: each counted once, a replay adds nothing."""
    from click.testing import CliRunner

    from skewless.cli import main

    db, manifest = project
    root = manifest.parent.parent
    url = f"redis+cluster://127.0.0.1:{cluster[0][1]}/0"
    t0 = int(datetime.now(timezone.utc).timestamp()) * 1_000_000
    registry = _load_empty(db, manifest, url, t0)
    users = list(range(30))
    assert {node_of(registry, "wa", {"k1": k}) for k in users} == {0, 1, 2}
    events = [
        {"k1": k, "ts": _ts(t0 - i * MIN).isoformat(), "eid": f"c{k}-{i}", "n": i}
        for k in users
        for i in range(k % 4 + 1)
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    args = ["--project-dir", str(root), "--redis-url", url, "push", "wa", str(path), "--json"]
    outs = []
    for _ in range(2):
        result = CliRunner().invoke(main, [*args, "--batch-size", "7"])
        assert result.exit_code == 0, result.output
        out = json.loads(result.output)
        outs.append((out["events"], out["added"], out["duplicates"]))
    assert outs == [(len(events), len(events), 0), (len(events), 0, len(events))], outs
    store = FeatureStore(registry, connect(url), url, feature_log=False)
    got = store.get_online_features(
        ["wa.events_count_1h", "wa.n_sum_1h"], [{"k1": k} for k in users], now=_ts(t0)
    )
    assert got.values == [[k % 4 + 1, sum(range(k % 4 + 1))] for k in users], got.values

    # two entities in one hash slot, and more events than one script call holds
    encode = window_serving(registry.windows["wa"]).push_plan().builder.entity
    seen: dict[int, int] = {}
    pair: tuple[int, int] | None = None
    for k in range(1000, 100_000):
        slot = key_slot(push_keys("wa", encode({"k1": k}))[0])
        if slot in seen:
            pair = (seen[slot], k)
            break
        seen[slot] = k
    assert pair is not None
    big = [
        {"k1": k, "ts": _ts(t0 - (i % 50) * MIN), "eid": f"b{k}-{i}", "n": i}
        for k in (*pair, *range(200, 240))
        for i in range(PUSH_CHUNK if k in pair else 5)
    ]
    r = store.push("wa", big, now=_ts(t0))
    assert (r.added, r.duplicates, r.too_old) == (len(big), 0, 0), r
    again = store.push("wa", big[::-1], now=_ts(t0))
    assert (again.added, again.duplicates) == (0, len(big)), again
    ents = [{"k1": k} for k in (*pair, *range(200, 240))]
    got = store.get_online_features(["wa.events_count_1h", "wa.n_sum_1h"], ents, now=_ts(t0))
    for e, (count, total) in zip(ents, got.values, strict=True):
        mine = [x["n"] for x in big if x["k1"] == e["k1"]]
        assert (count, total) == (len(mine), sum(mine)), e
