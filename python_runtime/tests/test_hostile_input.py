"""Hostile input (issue 10, Why 7-11): every input is served, or refused with a skewless error.

- The API (`get_online_features`): feature lists, entity dicts with hostile keys and values,
  request payloads; the CLI's `get` argument vectors (click's CliRunner, against the suite's real
  Redis); manifests (mutations of the committed dbt manifest fixture: deleted, retyped, huge and
  deeply nested fields); served-feature log records (mutations of real records a FeatureLogger
  wrote into the real Redis). Over >= 2,000 generated inputs per run: 0 foreign exceptions
  (anything but a `SkewlessError`; for the CLI a traceback or an exit code other than 0/1/2),
  every message bounded in length. Random locally (the seed is printed; SKEWLESS_FUZZ_SEED
  replays it), a fixed seed under CI=true.
- An explicit test per Why item, with the inputs the issue names.

The serving data: the committed manifest's models (plus a string-keyed view and a request-time
view synthesized from its nodes, as dbt would write them), their compiled SQL run in a real
DuckDB file, loaded into Redis by the real loader. No dbt run, so the module stays fast.
"""

from __future__ import annotations

import copy
import json
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import msgpack
import pytest
import redis
from click.testing import CliRunner
from conftest import IN_CI

from skewless.cli import main
from skewless.definitions.registry import Registry
from skewless.errors import (
    DefinitionError,
    ManifestError,
    RequestError,
    RequestLimitError,
    SkewlessError,
    UnknownFeatureError,
    UnsupportedExpression,
)
from skewless.guards.consistency import replay
from skewless.guards.feature_log import FeatureLogConfig, FeatureLogger, read_feature_log
from skewless.offline.duckdb import open_duckdb
from skewless.online.connection import connect
from skewless.online.materialize import materialize
from skewless.online.store import MAX_ENTITIES, MAX_FEATURES, FeatureStore
from skewless.sql.helpers import convert_input

# every test taking `store` runs on FeatureStore and on AsyncFeatureStore (conftest.py)
ASYNC_PARITY = True

UTC = timezone.utc
FIXTURE = Path(__file__).parent / "fixtures" / "manifest_dbt1.11.json"
#: The fixture's rows are shifted to 2099 (Redis expiry follows the row's time) and read then.
NOW = datetime(2099, 1, 2, tzinfo=UTC)
CI_SEED = 20_261_201
N_API, N_CLI, N_MANIFEST, N_LOG = 1_100, 250, 450, 400  # 2,200 generated inputs per run
#: Longest error message accepted: values in messages are cut to ~200 characters.
MAX_MESSAGE = 2_000
USER = "user_stats.txn_count_7d"


def _seed() -> int:
    env = os.environ.get("SKEWLESS_FUZZ_SEED")
    if env:
        return int(env)
    return CI_SEED if IN_CI else random.SystemRandom().randrange(2**32)


# --- the fixture project ------------------------------------------------------------------------


def _column(name: str, data_type: str) -> dict[str, Any]:
    return {"name": name, "data_type": data_type, "meta": {}, "config": {"meta": {}}}


def fixture_manifest() -> dict[str, Any]:
    """The committed manifest's models (macros left out), its in-memory catalog renamed (a
    DuckDB file cannot attach as `memory`), plus three nodes derived from its `user_stats` node:
    a view keyed by a string, a request model and a request-time view reading `user_stats`."""
    data = json.loads(FIXTURE.read_text())
    nodes = {k: v for k, v in data["nodes"].items() if k.startswith("model.")}
    for node in nodes.values():
        node["database"] = "fixture"
        node["relation_name"] = node["relation_name"].replace('"memory"', '"fixture"')
    base = nodes["model.manifest_fixture.user_stats"]
    names = copy.deepcopy(base)
    names.update(
        name="name_stats",
        alias="name_stats",
        unique_id="model.manifest_fixture.name_stats",
        relation_name='"fixture"."main"."name_stats"',
        columns={
            c: _column(c, t)
            for c, t in [("name", "varchar"), ("day_ts", "timestamp"), ("score", "double")]
        },
        compiled_code=(
            "select * from (values ('a', timestamp '2026-01-01 00:00:00', 1.5::double), "
            "('b}%', timestamp '2026-01-01 00:00:00', 2.5::double)) as t(name, day_ts, score)"
        ),
    )
    names["config"]["meta"]["skewless"] = {"entity": "name", "timestamp": "day_ts", "ttl": "30d"}
    names["meta"] = {}
    request_cols = [
        ("user_id", "bigint"), ("amount", "decimal(12,2)"), ("n", "integer"), ("x", "double"),
        ("label", "varchar"), ("ts", "timestamp"), ("d", "date"), ("ok", "boolean"),
    ]  # fmt: skip
    requests = copy.deepcopy(base)
    requests.update(
        name="requests",
        alias="requests",
        unique_id="model.manifest_fixture.requests",
        relation_name='"fixture"."main"."requests"',
        columns={c: _column(c, t) for c, t in request_cols},
        compiled_code="select 1 as user_id",
        config={"meta": {}},
        meta={},
    )
    spec = {
        "request": "requests",
        "timestamp": "ts",
        "inputs": [{"view": "user_stats", "keys": {}, "prefix": ""}],
    }
    on_demand = copy.deepcopy(requests)
    on_demand.update(
        name="request_features",
        alias="request_features",
        unique_id="model.manifest_fixture.request_features",
        relation_name='"fixture"."main"."request_features"',
        columns={},
        config={"meta": {"skewless": {"kind": "on_demand"}}},
        compiled_code=(
            "select user_id, ts, amount * 2 as amount2, n + txn_count_7d as n2, "
            "x / amount_avg_30d as ratio, upper(label) as label_up, d + 1 as next_day, "
            "not ok as not_ok\nfrom (\n"
            f"    /* skewless:request_inputs {json.dumps(spec)} */\n"
            "    select * from requests\n) as inputs"
        ),
    )
    for node in (names, requests, on_demand):
        nodes[node["unique_id"]] = node
    return {"metadata": data["metadata"], "nodes": nodes}


@dataclass(frozen=True)
class Project:
    dir: Path
    manifest: Path
    duckdb: Path
    data: dict[str, Any]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    folder = tmp_path_factory.mktemp("hostile")
    data = fixture_manifest()
    (folder / "target").mkdir()
    manifest = folder / "target" / "manifest.json"
    manifest.write_text(json.dumps(data))
    db = folder / "fixture.duckdb"
    con = duckdb.connect(str(db))
    for node in data["nodes"].values():
        meta = node["config"]["meta"].get("skewless", {})
        if node["name"] in ("requests", "request_features"):
            continue
        con.execute(f'CREATE TABLE "{node["alias"]}" AS {node["compiled_code"]}')
        ts = meta.get("timestamp")
        if ts:
            con.execute(f'UPDATE "{node["alias"]}" SET "{ts}" = "{ts}" + INTERVAL 73 YEAR')
    con.close()
    return Project(folder, manifest, db, data)


@pytest.fixture()
def store(project: Project, redis_url: str, store_api: str) -> Iterator[FeatureStore]:
    from async_parity import serving

    registry = Registry.from_manifest(project.manifest, strict=True)
    client = connect(redis_url)
    materialize(registry, client, project.duckdb, now=NOW)
    with serving(store_api, registry, client, redis_url) as s:
        yield s


def _outcome(call: Callable[[], Any], foreign: list[str], kinds: Counter[str], label: str) -> Any:
    """Run one generated input: a result, or a SkewlessError (counted, message bounded); any
    other exception is recorded as foreign."""
    try:
        result = call()
    except SkewlessError as e:
        kinds[type(e).__name__] += 1
        if len(str(e)) > MAX_MESSAGE:
            foreign.append(f"{label}: {type(e).__name__} message of {len(str(e)):,} chars")
        return e
    except Exception as e:  # the defect this file hunts
        foreign.append(f"{label}: {type(e).__name__}: {str(e)[:300]}")
        return e
    kinds["ok"] += 1
    return result


# --- generated API inputs -----------------------------------------------------------------------

_TEXTS = [
    "1", " 1", "+1", "1_0", "01", "1e0", "1.5", "0x1", "٤٢", "４２", "", " ", "-", "1 1", "nan",
    "inf", "\ud800", "a\ud800b", "é", "}", "%7D", "a}b%", "m-1", "2", "9" * 40, "\x00",
]  # fmt: skip


def hostile_value(rng: random.Random) -> Any:
    pick = rng.randrange(8)
    if pick == 0:
        return rng.choice([0, 1, 2, -1, 2**63 - 1, 2**63, -(2**63) - 1, 2**127, 10**19])
    if pick == 1:
        return 10 ** rng.randint(20, 6000) * rng.choice([1, -1])
    if pick == 2:
        return rng.choice(_TEXTS)
    if pick == 3:
        size = rng.choice([300, 1100, 5000, 200_000, 10_000_000 if rng.random() < 0.05 else 2000])
        return rng.choice("1a}é") * size
    if pick == 4:
        return rng.choice([1.0, 1.5, float("nan"), float("inf"), -0.0, 1e308, 2.0**64])
    if pick == 5:
        return Decimal(rng.choice(["1", "NaN", "sNaN", "1e999999", "-Infinity", "1.5", "1E+39"]))
    if pick == 6:
        return rng.choice([None, True, False, b"1", bytearray(b"1"), [1], {"a": 1}, (1,)])
    return rng.choice([object(), date(2024, 2, 29), datetime(2099, 1, 1), "".join(
        chr(rng.randrange(1, 0x10FFFF)) for _ in range(rng.randint(1, 8)))])  # fmt: skip


def gen_features(rng: random.Random, refs: list[str]) -> Any:
    pick = rng.randrange(12)
    if pick < 6:
        return rng.sample(refs, rng.randint(1, min(4, len(refs))))
    odd: list[Any] = [
        [], "user_stats.txn_count_7d", None, [None], [["user_stats.txn_count_7d"]], ["nope.x"],
        ["x" * 5000], [USER] * (MAX_FEATURES + 1), (r for r in [USER]), [b"user_stats.x"],
        ["user_stats."], [".x"], ["user_stats.nope"], [USER, USER], 42, {USER: 1}, [USER, 7],
        ["x" * 10_000_000] if rng.random() < 0.05 else ["y.z"],
    ]  # fmt: skip
    return rng.choice(odd)


def gen_entity(rng: random.Random) -> Any:
    if rng.random() < 0.05:
        return rng.choice([None, 5, "user_id=1", [("user_id", 1)], {1: 2}])
    entity: dict[Any, Any] = {}
    for key in ("user_id", "merchant_id", "name"):
        r = rng.random()
        if r < 0.55:
            entity[key] = {"user_id": 1, "merchant_id": "m-1", "name": "a"}[key]
        elif r < 0.9:
            entity[key] = hostile_value(rng)
    if rng.random() < 0.1:
        odd_key: Any = rng.choice([*_TEXTS, 5, None, (1,), b"user_id", "extra"])
        entity[odd_key] = hostile_value(rng)
    return entity


def gen_entities(rng: random.Random) -> Any:
    pick = rng.randrange(20)
    if pick == 0:
        odd: list[Any] = [None, {}, "abc", 5, [], ({"user_id": 1},)]
        return rng.choice(odd)
    if pick == 1:
        return [{"user_id": 1}] * (MAX_ENTITIES + 1)
    return [gen_entity(rng) for _ in range(rng.choice([1, 1, 2, 3, 5]))]


_GOOD_REQUEST = {"amount": "1.50", "n": 3, "x": 2.0, "label": "a", "ts": "2099-01-02T00:00:00",
                 "d": "2099-01-01", "ok": True}  # fmt: skip


def gen_request(rng: random.Random, n: int) -> Any:
    pick = rng.randrange(10)
    if pick == 0:
        odd: list[Any] = [None, "x", 5, [None], [{}] * (n + 1)]
        return rng.choice(odd)
    payloads = []
    for _ in range(max(n, 1)):
        payload: dict[Any, Any] = dict(_GOOD_REQUEST)
        for _ in range(rng.randint(0, 3)):
            field = rng.choice([*_GOOD_REQUEST, "user_id", "extra"])
            if rng.random() < 0.15:
                payload.pop(field, None)
            else:
                payload[field] = hostile_value(rng)
        payloads.append(payload)
    return payloads[0] if n == 1 and rng.random() < 0.5 else payloads


def test_fuzz_api(store: FeatureStore, record_property: Callable[[str, object], None]) -> None:
    seed = _seed()
    print(f"\nreproduce: SKEWLESS_FUZZ_SEED={seed} pytest '{__file__}::test_fuzz_api'")
    rng = random.Random(seed)
    registry = store.registry
    refs = [f.ref for v in registry.views.values() for f in v.features]
    refs += [f.ref for v in registry.on_demand.values() for f in v.features]
    foreign: list[str] = []
    kinds: Counter[str] = Counter()
    start = time.monotonic()
    for i in range(N_API):
        features = gen_features(rng, refs)
        entities = gen_entities(rng)
        n = len(entities) if isinstance(entities, list) else 1
        request = gen_request(rng, n) if rng.random() < 0.6 else None
        now: Any = NOW if rng.random() < 0.95 else rng.choice(["x", 5, datetime(1, 1, 1)])
        _outcome(
            partial(store.get_online_features, features, entities, request=request, now=now),
            foreign,
            kinds,
            f"api #{i}",
        )
    line = (
        f"hostile API fuzz (seed {seed}): {N_API} calls in {time.monotonic() - start:.1f} s, "
        f"{len(foreign)} foreign exceptions; outcomes: "
        + ", ".join(f"{k} {v}" for k, v in kinds.most_common())
    )
    print(line)
    record_property("summary", line)
    assert kinds["ok"] >= N_API // 20, line  # the generator reaches the serving path too
    assert not foreign, "\n".join([line, *foreign[:20]])


# --- generated CLI argument vectors ---------------------------------------------------------------

_CLI_PIECES = {
    "-e": [
        "user_id=1", "user_id=1,user_id=2", "", "=", "user_id", "user_id=", "user_id=٤٢",
        "user_id=" + "9" * 5000, "name=a}b", "user_id=1,merchant_id=m-1", "user_id=1,,", ",",
        "x=1", "user_id= 1", "user_id=+1", "name=a\udcff", "user_id=1=2", "=1", "name=" + "n" * 2000,
    ],
    "-f": [
        "", ",", " ", USER, "nope", "a.b.c", "request_features.amount2", "user_stats.", ".",
        "user_stats.txn_count_7d,,name_stats.score", "pair_stats.pair_share", "name_stats.score",
        "x" * 3000, "request_features.n2,user_stats.home_country",
    ],
    "-r": [
        "amount=1.50,n=3,x=2,label=a,ts=2099-01-02T00:00:00,d=2099-01-01,ok=true", "amount=NaN",
        "amount=1e999999", "n=" + "9" * 5000, "", "a=1,a=2", "ts=x", "ok=maybe", "x=null",
        "amount=1.50,n=3,x=2,label=a,ts=2099-01-02,d=2099-01-01,ok=t,user_id=2",
    ],
    "--now": ["2099-01-02", "x", "", "9999-12-31T23:59:59+14:00", "0001-01-01", "2099-01-02T25:00"],
}  # fmt: skip


def gen_argv(rng: random.Random) -> list[str]:
    if rng.random() < 0.25:  # a well-formed call, hostile values at most
        return ["-e", rng.choice(["user_id=1", "user_id=+1", "user_id=2,merchant_id=m-1"]),
                "-f", rng.choice([USER, "user_stats.home_country,user_stats.amount_avg_30d"]),
                "--now", "2099-01-02", *rng.choice([[], ["--json"]])]  # fmt: skip
    argv: list[str] = []
    for option, count in (("-e", rng.choice([0, 1, 1, 2])), ("-f", rng.choice([0, 1, 1, 2]))):
        for _ in range(count):
            argv += [option, rng.choice(_CLI_PIECES[option])]
    if rng.random() < 0.4:
        for _ in range(rng.choice([1, 1, 2])):
            argv += ["-r", rng.choice(_CLI_PIECES["-r"])]
    if rng.random() < 0.2:
        argv += ["--now", rng.choice(_CLI_PIECES["--now"])]
    if rng.random() < 0.3:
        argv.append("--json")
    if rng.random() < 0.05:
        argv.append(rng.choice(["--bogus", "-e", "--now", "--strict"]))
    return argv


def test_fuzz_cli_get(
    project: Project,
    store: FeatureStore,
    redis_url: str,
    record_property: Callable[[str, object], None],
) -> None:
    seed = _seed()
    print(f"\nreproduce: SKEWLESS_FUZZ_SEED={seed} pytest '{__file__}::test_fuzz_cli_get'")
    rng = random.Random(seed)
    runner = CliRunner()
    base = ["--project-dir", str(project.dir), "--redis-url", redis_url, "get"]
    foreign: list[str] = []
    codes: Counter[int] = Counter()
    start = time.monotonic()
    for i in range(N_CLI):
        argv = gen_argv(rng)
        result = runner.invoke(main, base + argv, catch_exceptions=True)
        codes[result.exit_code] += 1
        escaped = result.exception is not None and not isinstance(result.exception, SystemExit)
        if escaped or result.exit_code not in (0, 1, 2) or "Traceback" in result.output:
            foreign.append(
                f"cli #{i} {[a[:40] for a in argv]}: exit {result.exit_code}, "
                f"{type(result.exception).__name__}: {str(result.exception)[:200]}"
            )
        if len(result.output) > 50_000 or (
            result.exit_code and len(result.output) > MAX_MESSAGE * 2
        ):
            foreign.append(f"cli #{i} {[a[:40] for a in argv]}: {len(result.output):,} chars out")
    line = (
        f"hostile CLI fuzz (seed {seed}): {N_CLI} `skewless get` argument vectors in "
        f"{time.monotonic() - start:.1f} s, {len(foreign)} tracebacks or foreign exits; exit codes: "
        + ", ".join(f"{k}: {v}" for k, v in sorted(codes.items()))
    )
    print(line)
    record_property("summary", line)
    assert codes[0] >= N_CLI // 20 and codes[2] and codes[1], line
    assert not foreign, "\n".join([line, *foreign[:20]])


# --- generated manifests ----------------------------------------------------------------------------


def _paths(value: Any, prefix: tuple[Any, ...] = (), depth: int = 0) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if depth >= 6:
        return
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k), depth + 1)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i), depth + 1)


def _nested(depth: int, leaf: Any) -> Any:
    for _ in range(depth):
        leaf = [leaf]
    return leaf


def hostile_json_value(rng: random.Random) -> Any:
    return rng.choice([
        None, 0, -1, 99999999999, 10**30, 1.5, True, "", "x" * rng.choice([10, 5000]), [], {},
        "99999999999d", "1d1d", "30", "bigint", "decimal(10", ["user_id", ["x"]], {"a": {"b": 1}},
        _nested(rng.choice([40, 900]), 1), "(" * 5000, "select " + "(" * 5000 + "1" + ")" * 5000,
        "😀\u0000", [None], {"skewless": "x"}, {"meta": []}, "on_demand",
    ])  # fmt: skip


def _dependents(name: str) -> set[str]:
    """The views a broken node may disable besides itself (request_features reads these)."""
    return {"request_features"} if name in ("user_stats", "requests") else set()


def mutate_manifest(rng: random.Random, data: dict[str, Any]) -> tuple[str | bytes, str | None]:
    """(the manifest file's text, the model whose node was mutated, or None: the top level)."""
    if rng.random() < 0.1:
        pick = rng.randrange(9)
        top: Any
        if pick == 0:
            top = {**data, "nodes": rng.choice([list(data["nodes"].values()), "x", 5, None])}
        elif pick == 1:
            top = {**data, "metadata": rng.choice([[], "x", None, 5])}
        elif pick == 2:
            top = rng.choice([[], "x", 5, None, {}])
        elif pick == 3:
            return json.dumps(data)[: rng.randrange(1, 2000)], None
        elif pick == 4:
            return '{"nodes": ' + "[" * 5000 + "]" * 5000 + "}", None
        elif pick == 5:
            return b"\xff\xfe" + json.dumps(data).encode(), None
        elif pick == 6:
            return "", None
        elif pick == 7:
            top = {**data, "nodes": {**data["nodes"], "model.p.junk": rng.choice([[], "x", 5])}}
        else:
            top = {**data, "nodes": {**data["nodes"], rng.choice(["", "model.", 5]): {}}}
        return json.dumps(top), None
    mutated = copy.deepcopy(data)
    uid = rng.choice(sorted(mutated["nodes"]))
    node = mutated["nodes"][uid]
    name = node["name"]
    special = rng.random()
    if special < 0.03:
        node["compiled_code"] = "select " + "x, " * 2_000_000 + "1"  # 6 MB of SQL
    elif special < 0.08:
        node["compiled_code"] = (node.get("compiled_code") or "").replace(
            "select", "select " + "(" * 5000 + "1" + ")" * 5000 + " as deep,", 1
        )
    else:
        paths = [p for p in _paths(node) if p]
        path = rng.choice(paths)
        parent = node
        for key in path[:-1]:
            parent = parent[key]
        op = rng.randrange(4)
        if op == 0 and isinstance(parent, dict):
            del parent[path[-1]]
        elif op == 0 and isinstance(parent, list):
            parent.pop(path[-1])
        else:
            parent[path[-1]] = hostile_json_value(rng)
        if "name" in path or "alias" in path or path[-1] == "resource_type":
            name = "*"  # renamed: name collisions may disable other views (legitimately)
    return json.dumps(mutated), name


def test_fuzz_manifest(
    project: Project, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    seed = _seed()
    print(f"\nreproduce: SKEWLESS_FUZZ_SEED={seed} pytest '{__file__}::test_fuzz_manifest'")
    rng = random.Random(seed)
    healthy = Registry.from_manifest(project.manifest, strict=True)
    names = {*healthy.views, *healthy.on_demand}
    path = tmp_path / "manifest.json"
    foreign: list[str] = []
    kinds: Counter[str] = Counter()
    slowest = 0.0
    start = time.monotonic()
    for i in range(N_MANIFEST):
        text, mutated = mutate_manifest(rng, project.data)
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
        t0 = time.monotonic()
        strict = i % 4 == 0
        got = _outcome(
            partial(Registry.from_manifest, path, strict=strict),
            foreign,
            kinds,
            f"manifest #{i}",
        )
        slowest = max(slowest, time.monotonic() - t0)
        if isinstance(got, Registry) and mutated is not None and mutated != "*":
            # a malformed node disables that view (and the views reading it), never the others
            lost = names - {*got.views, *got.on_demand} - {mutated} - _dependents(mutated)
            if lost:
                foreign.append(f"manifest #{i}: mutating `{mutated}` also disabled {sorted(lost)}")
    line = (
        f"hostile manifest fuzz (seed {seed}): {N_MANIFEST} manifests in "
        f"{time.monotonic() - start:.1f} s (slowest load {slowest:.2f} s), {len(foreign)} foreign "
        "exceptions or spread problems; outcomes: "
        + ", ".join(f"{k} {v}" for k, v in kinds.most_common())
    )
    print(line)
    record_property("summary", line)
    assert slowest < 10, line
    assert not foreign, "\n".join([line, *foreign[:20]])


# --- generated log records ---------------------------------------------------------------------------


def _logged_stream(store: FeatureStore, redis_url: str, stream: str) -> list[dict[bytes, bytes]]:
    """Real records: calls served by `store`, logged by a FeatureLogger into `stream`."""
    logger = FeatureLogger(
        FeatureLogConfig(sink="redis_stream", redis_url=redis_url, stream=stream)
    )
    logger.attach(store)
    try:
        store.get_online_features([USER, "user_stats.home_country"], [{"user_id": 1}], now=NOW)
        store.get_online_features(
            [USER, "user_stats.amount_avg_30d"], [{"user_id": u} for u in (1, 2, 3)], now=NOW
        )
        store.get_online_features(["name_stats.score"], [{"name": "a"}, {"name": "b}%"}], now=NOW)
        store.get_online_features(
            ["pair_stats.pair_share"], [{"user_id": 1, "merchant_id": "m-1"}], now=NOW
        )
        store.get_online_features(
            ["request_features.amount2", "request_features.ratio", USER],
            [{"user_id": 1}, {"user_id": 2}],
            request=[_GOOD_REQUEST, {**_GOOD_REQUEST, "amount": Decimal("12.25")}],
            now=NOW,
        )
    finally:
        store.post_lookup.remove(logger.hook)
        logger.close()
    entries: Any = redis.Redis.from_url(redis_url).xrange(stream)
    assert len(entries) == 5
    return [fields for _id, fields in entries]


def _mutated_call(rng: random.Random, call: bytes) -> tuple[bytes, bool]:
    """(a mutation of a record's msgpack document, whether it is certainly unreadable)."""
    pick = rng.randrange(10)
    if pick == 0:
        return call[: rng.randrange(len(call))], True
    if pick == 1:
        return call + msgpack.packb(rng.choice([1, "x", [1]])), True  # ExtraData
    if pick == 2:
        i = rng.randrange(len(call))
        return call[:i] + bytes([rng.randrange(256)]) + call[i + 1 :], False
    doc = msgpack.unpackb(call, ext_hook=lambda code, data: msgpack.ExtType(code, data), raw=False)
    if pick == 3:
        return msgpack.packb([*doc[:5], msgpack.ExtType(rng.choice([0, 9, 99, 127]), b"x")]), True
    if pick == 4:
        big = msgpack.ExtType(rng.choice([7, 5]), b"9" * rng.choice([30, 5000, 100_000]))
        doc[3] = [[big] * len(row) for row in doc[3]]
        return msgpack.packb(doc), False
    if pick == 5:
        bad = msgpack.ExtType(rng.choice([1, 2, 3, 4, 6]), rng.choice([b"x", b"\xff", b""]))
        doc[1] = [{"user_id": bad} for _ in doc[1]]
        return msgpack.packb(doc), True
    if pick == 6:
        index = rng.randrange(6)
        doc[index] = rng.choice([None, 5, "x", [], {}, [[]], [None] * 3, _nested(500, 1)])
        return msgpack.packb(doc), index in (0, 4)
    if pick == 7:
        return msgpack.packb(doc[: rng.randrange(6)]), True
    if pick == 8:
        return b"[" + call[1:] if rng.random() < 0.5 else b"[1, 2", True  # the typed-JSON path
    return b"\xdd\xff\xff\xff\xff", True  # an array header claiming 4 billion items


def mutate_record(
    rng: random.Random, fields: dict[bytes, bytes]
) -> tuple[dict[bytes, bytes], bool]:
    out = dict(fields)
    pick = rng.randrange(6)
    if pick < 3:
        out[b"call"], certain = _mutated_call(rng, fields[b"call"])
        return out, certain
    if pick == 3:
        field = rng.choice([b"features", b"versions"])
        out[field] = rng.choice(
            [b"not json", b"[1, 2]", b'{"a": 1}', b"[" * 5000, b"\xff\xfe", b"7"]
        )
        return out, out[field] != b"[1, 2]" or field == b"features"
    if pick == 4:
        out[b"served_at"] = rng.choice([b"x", b"9999-99-99", b"", b"2099-01-01T00:00:00+25:00"])
        return out, True
    del out[rng.choice([b"served_at", b"call", b"request_id"])]
    return out, False


def test_fuzz_log_records(
    store: FeatureStore,
    project: Project,
    redis_url: str,
    record_property: Callable[[str, object], None],
) -> None:
    seed = _seed()
    print(f"\nreproduce: SKEWLESS_FUZZ_SEED={seed} pytest '{__file__}::test_fuzz_log_records'")
    rng = random.Random(seed)
    good = _logged_stream(store, redis_url, "good")
    client = redis.Redis.from_url(redis_url)
    certain = 0
    kept: set[str] = set()
    pipe = client.pipeline(transaction=False)
    for i in range(N_LOG):
        record, bad = mutate_record(rng, rng.choice(good))
        certain += bad
        pipe.xadd("mutated", record)  # type: ignore[arg-type]
        if i % 10 == 0:  # good records between the bad ones: one bad record must not stop reading
            fields = {**rng.choice(good), b"request_id": f"good-{i}".encode()}
            kept.add(f"good-{i}")
            pipe.xadd("mutated", fields)  # type: ignore[arg-type]
    pipe.execute()
    foreign: list[str] = []
    kinds: Counter[str] = Counter()
    start = time.monotonic()
    reader = read_feature_log(redis_url, stream="mutated")
    rows = _outcome(lambda: list(reader), foreign, kinds, "read_feature_log")
    duck = open_duckdb(project.duckdb, store.registry.views.values())
    try:
        report = _outcome(
            lambda: replay(store.registry, duck, read_feature_log(redis_url, stream="mutated")),
            foreign,
            kinds,
            "replay",
        )
    finally:
        duck.close()
    line = (
        f"hostile log-record fuzz (seed {seed}): {N_LOG} mutated records of real ones in "
        f"{time.monotonic() - start:.1f} s, {len(foreign)} foreign exceptions; "
        f"{reader.skipped_count} skipped (>= {certain} certainly malformed), "
        f"{len(rows) if isinstance(rows, list) else '?'} rows read"
    )
    print(line)
    record_property("summary", line)
    assert not foreign, "\n".join([line, *foreign[:20]])
    assert reader.skipped_count >= certain, line
    assert kept <= {r.request_id for r in rows}, line
    assert all(s.where.startswith("stream mutated entry ") for s in reader.skipped), line
    assert report.skipped_records == reader.skipped_count, line
    assert "malformed served-feature log record(s) skipped" in "\n".join(report.notes)


# --- Why 7: API and CLI inputs ----------------------------------------------------------------------


def test_why7_api_inputs_are_refused_by_name_and_briefly(store: FeatureStore) -> None:
    request = dict(_GOOD_REQUEST)
    cases: list[tuple[Any, Any, Any, type[SkewlessError], str]] = [
        ([], [{"user_id": 1}], None, RequestError, "empty list"),
        ([[USER]], [{"user_id": 1}], None, UnknownFeatureError, "features[0]"),
        ([USER], [{"user_id": 10**5000}], None, RequestError, "`user_id`"),
        (["name_stats.score"], [{"name": "a"}, {"name": "a\ud800"}], None, RequestError, "`name`"),
        ([USER], [{"user_id": "1" * 10_000_000}], None, RequestLimitError, "`user_id`"),
        (["name_stats.score"], [{"name": "é" * 600}], None, RequestLimitError, "`name`"),
        ([USER], [{"user_id": 1}] * (MAX_ENTITIES + 1), None, RequestLimitError, "entities"),
        ([USER] * (MAX_FEATURES + 1), [{"user_id": 1}], None, RequestLimitError, "features"),
        (["x" * 10_000_000], [{"user_id": 1}], None, RequestLimitError, "features[0]"),
    ]
    for field, dtype in (("amount", "DECIMAL"), ("x", "DOUBLE"), ("n", "INTEGER")):
        for bad in ("NaN", "sNaN", "1e999999"):
            payload = {**request, field: Decimal(bad)}
            if field == "x" and bad != "sNaN":
                continue  # NaN and inf (1e999999 as a DOUBLE) are values of DOUBLE: served below
            cases.append(
                (["request_features.amount2", "request_features.ratio", "request_features.n2"],
                 [{"user_id": 1}], payload, RequestError, f"'{field}' ({dtype}")
            )  # fmt: skip
    for features, entities, payload, error, named in cases:
        with pytest.raises(error) as info:
            store.get_online_features(features, entities, request=payload, now=NOW)
        message = str(info.value)
        assert named in message, message
        assert len(message) < 1_000, f"{len(message):,} chars: {message[:300]}"
    doubles = [{**request, "x": Decimal(v)} for v in ("NaN", "1e999999")]
    served = store.get_online_features(
        ["request_features.ratio"], [{"user_id": 1}] * 2, request=doubles, now=NOW
    )
    assert [str(r[0]) for r in served.values] == ["nan", "inf"]
    # the same keys, well formed, serve
    ok = store.get_online_features(
        ["name_stats.score", USER],
        [{"name": "b}%", "user_id": "+1"}, {"name": "a", "user_id": 2}],
        now=NOW,
    )
    assert ok.values == [[2.5, 3], [1.5, 1]]


def _get(project: Project, redis_url: str, *args: str) -> Any:
    return CliRunner().invoke(
        main, ["--project-dir", str(project.dir), "--redis-url", redis_url, "get", *args]
    )


def test_why7_cli_get_refuses_an_empty_feature_list_and_a_repeated_key(
    project: Project, store: FeatureStore, redis_url: str
) -> None:
    empty = _get(project, redis_url, "-e", "user_id=1", "-f", "")
    assert empty.exit_code == 2 and "--features" in empty.output, empty.output
    twice = _get(project, redis_url, "-e", "user_id=1,user_id=2", "-f", USER)
    assert twice.exit_code == 2 and "given twice" in twice.output and "--entity" in twice.output
    field = _get(project, redis_url, "-e", "user_id=1", "-f", USER, "-r", "n=1,n=2")
    assert field.exit_code == 2 and "--request" in field.output, field.output
    long_key = _get(project, redis_url, "-e", "user_id=" + "9" * 100_000, "-f", USER)
    assert long_key.exit_code == 1 and len(long_key.output) < 1_000, long_key.output[:300]
    for result in (empty, twice, field, long_key):
        assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    served = _get(project, redis_url, "-e", "user_id= +1", "-f", USER, "--now", "2099-01-02")
    assert served.exit_code == 0 and "present" in served.output, served.output


# --- Why 8: hostile manifests -----------------------------------------------------------------------


def _write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "manifest.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def _node(data: dict[str, Any], name: str) -> dict[str, Any]:
    return data["nodes"][f"model.manifest_fixture.{name}"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "case",
    ["nodes_list", "deep_json", "config_string", "columns_list", "column_string", "data_type_list",
     "ttl_overflow", "entity_nested", "meta_deep", "deep_parentheses", "marker_shape",
     "request_columns", "node_not_mapping", "compiled_not_text"],
)  # fmt: skip
def test_why8_hostile_manifest_is_a_named_error(
    project: Project, tmp_path: Path, case: str
) -> None:
    data = copy.deepcopy(project.data)
    user, od = _node(data, "user_stats"), _node(data, "request_features")
    broken = "user_stats"
    if case == "nodes_list":
        data["nodes"] = list(data["nodes"].values())
    elif case == "deep_json":
        data = '{"nodes": {"model.p.x": ' + "[" * 5000 + "]" * 5000 + "}}"  # type: ignore[assignment]
    elif case == "config_string":
        user["config"] = "materialized=table"
    elif case == "columns_list":
        user["columns"] = list(user["columns"].values())
    elif case == "column_string":
        user["columns"]["home_country"] = "varchar"
    elif case == "data_type_list":
        user["columns"]["home_country"]["data_type"] = ["varchar"]
    elif case == "ttl_overflow":
        user["config"]["meta"]["skewless"]["ttl"] = "99999999999d"
    elif case == "entity_nested":
        user["config"]["meta"]["skewless"]["entity"] = [["user_id"]]
    elif case == "meta_deep":
        user["config"]["meta"]["skewless"]["owner"] = _nested(500, "x")
    elif case == "deep_parentheses":
        broken = "request_features"
        od["compiled_code"] = od["compiled_code"].replace(
            "select", "select " + "(" * 5000 + "1" + ")" * 5000 + " as deep,", 1
        )
    elif case == "marker_shape":
        broken = "request_features"
        od["compiled_code"] = od["compiled_code"].replace('"inputs": [', '"inputs": [5, ', 1)
    elif case == "request_columns":
        broken = "request_features"
        _node(data, "requests")["columns"]["amount"] = ["decimal"]
    elif case == "node_not_mapping":
        data["nodes"]["model.manifest_fixture.user_stats"] = ["user_stats"]
    elif case == "compiled_not_text":
        user["compiled_code"] = {"sql": "select 1"}
    path = _write(tmp_path, data)
    if case in ("nodes_list", "deep_json"):
        with pytest.raises(ManifestError, match="rerun `dbt compile`"):
            Registry.from_manifest(path)
        return
    registry = Registry.from_manifest(path)
    problem = registry.problems[broken]
    assert isinstance(problem.error, (DefinitionError, UnsupportedExpression)), problem
    assert f"`{broken}`" in problem.message and len(problem.message) < 1_000, problem.message
    field = {
        "config_string": "`config`", "columns_list": "`columns`", "column_string": "home_country",
        "data_type_list": "data_type", "ttl_overflow": "ttl", "entity_nested": "entity",
        "meta_deep": "nested deeper", "deep_parentheses": "nests too deeply",
        "marker_shape": "inputs[0]", "request_columns": "`requests`",
        "node_not_mapping": "not a mapping", "compiled_not_text": "compiled_code",
    }[case]  # fmt: skip
    assert field in problem.message, problem.message
    # the other views serve
    assert {"pair_stats", "name_stats"} <= set(registry.views)
    with pytest.raises(type(problem.error)):
        Registry.from_manifest(path, strict=True)


def test_why8_size_limits_bound_the_time(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = copy.deepcopy(project.data)
    six_mb = "select " + "x, " * 2_000_000 + "1"
    _node(data, "request_features")["compiled_code"] = (
        six_mb + " " + _node(data, "request_features")["compiled_code"]
    )
    _node(data, "user_stats")["compiled_code"] += " union all select " + "x, " * 2_000_000 + "1"
    path = _write(tmp_path, data)
    start = time.monotonic()
    registry = Registry.from_manifest(path)
    assert time.monotonic() - start < 5
    assert "MAX_ON_DEMAND_SQL_CHARS" in registry.problems["request_features"].message
    assert "user_stats" in registry.views  # a long feature view is versioned, not parsed
    monkeypatch.setenv("SKEWLESS_MAX_MANIFEST_BYTES", "1000")
    with pytest.raises(ManifestError, match="MAX_MANIFEST_BYTES"):
        Registry.from_manifest(path)


# --- Why 9 and 10: the served-feature log -------------------------------------------------------------


def _doc(*items: Any) -> Callable[[bytes], bytes]:
    return lambda _old: msgpack.packb(list(items))


#: The issue's 13 crafted records: (what, field, its new value from the real one; None drops it)
CRAFTED: list[tuple[str, bytes, Callable[[bytes], bytes | None]]] = [
    ("msgpack ExtraData", b"call", lambda old: old + b"\x01"),
    ("unknown ext type", b"call", _doc(*[msgpack.ExtType(99, b"x")] * 6)),
    ("huge int", b"call", _doc([0], [{"user_id": msgpack.ExtType(7, b"9" * 5000)}], None, [[1]], {"rows": [["present"]]}, None)),
    ("huge timedelta", b"call", _doc([0], [{}], None, [[msgpack.ExtType(5, b"9" * 30)]], {"rows": [["present"]]}, None)),
    ("bad JSON features", b"features", lambda _old: b"[not json"),
    ("bad JSON versions", b"versions", lambda _old: b"{"),
    ("bad JSON call", b"call", lambda _old: b"[1, 2"),
    ("truncated call", b"call", lambda old: old[:7]),
    ("bad served_at", b"served_at", lambda _old: b"yesterday"),
    ("no call", b"call", lambda _old: None),
    ("short document", b"call", _doc([0], [{}])),
    ("rows of another width", b"features", lambda _old: b'["a.b", "a.c", "a.d", "a.e"]'),
    ("not UTF-8", b"versions", lambda _old: b"\xff\xfe"),
]  # fmt: skip


def test_why9_bad_records_are_skipped_counted_and_the_replay_goes_on(
    store: FeatureStore, project: Project, redis_url: str
) -> None:
    good = _logged_stream(store, redis_url, "good")
    client = redis.Redis.from_url(redis_url)
    ids = []
    for _what, field, damage in CRAFTED:
        fields: dict[Any, Any] = dict(good[0])
        value = damage(fields[field])
        if value is None:
            del fields[field]
        else:
            fields[field] = value
        ids.append(client.xadd("crafted", fields).decode())  # type: ignore[union-attr]
        client.xadd("crafted", dict(good[1]))  # type: ignore[arg-type]
    reader = read_feature_log(redis_url, stream="crafted")
    rows = list(reader)
    assert reader.skipped_count == len(CRAFTED), [str(s) for s in reader.skipped]
    assert [s.where for s in reader.skipped] == [f"stream crafted entry {i}" for i in ids]
    assert len(rows) == 3 * len(CRAFTED)  # every good record after every bad one
    assert all(len(s.reason) < 400 for s in reader.skipped)
    result = CliRunner().invoke(
        main,
        ["--project-dir", str(project.dir), "consistency", "--log", redis_url, "--stream",
         "crafted", "--duckdb-path", str(project.duckdb), "--json"],
    )  # fmt: skip
    assert "Traceback" not in result.output and result.exit_code == 0, result.output[-2000:]
    report = json.loads(result.stdout)
    assert report["skipped_records"] == len(CRAFTED) and report["rows"] == len(rows)
    assert any("13 malformed served-feature log record(s) skipped" in n for n in report["notes"])


def test_why10_log_config_repr_hides_the_password() -> None:
    config = FeatureLogConfig(sink="redis_stream", redis_url="redis://svc:s3cr3t@cache:6379/2")
    for text in (repr(config), str(config), f"{config}"):
        assert "s3cr3t" not in text and "redis://svc:***@cache:6379/2" in text


# --- Why 11: integer keys ---------------------------------------------------------------------------


def test_why11_integer_keys_are_read_as_duckdb_casts_them(store: FeatureStore) -> None:
    """One rule for an integer key's text: DuckDB's CAST to the key column's type (what the
    replay's TRY_CAST of a logged key does, and what request payloads follow). Differential
    against DuckDB itself over generated spellings."""
    from skewless.online.keys import KeyBuilder

    rng = random.Random(_seed())
    texts = ["٤٢", "４２", "4_2", " 42", "+42", "42 ", "\t42\n", "042", "4.5", "1e1", "0x2A",
             "-0", "4__2", "", " ", "+-1", "1e400", "9223372036854775807", "9223372036854775808",
             "\u00a042", "42\u2003", "⁴²", "𝟒𝟐", "- 1", "0b101", "1_000_000", "_1"]  # fmt: skip
    for _ in range(300):
        texts.append(
            rng.choice(["", " ", "+", "-", "\t"])
            + "".join(rng.choice("0123456789_٤４. e+-x") for _ in range(rng.randint(1, 12)))
            + rng.choice(["", " ", "\n"])
        )
    con = duckdb.connect()
    builder = KeyBuilder(store.registry.view("user_stats"))
    for text in texts:
        expected = con.execute("SELECT TRY_CAST(? AS BIGINT)", [text]).fetchone()[0]  # type: ignore[index]
        try:
            got: Any = builder.entity({"user_id": text})
        except RequestError as e:
            assert "`user_id`" in str(e)
            got = None
        assert got == (None if expected is None else b"%d:%d" % (len(str(expected)), expected)), (
            text
        )
        try:
            payload = convert_input(text, "BIGINT", "user_id")
        except RequestError:
            payload = None
        assert payload == expected, f"the key and the payload rules differ on {text!r}"
    # served: the spellings, as DuckDB reads them
    for text, served in (("4_2", True), (" 1", True), ("+1", True), ("٤٢", False), ("４２", False)):
        if served:
            store.get_online_features([USER], [{"user_id": text}], now=NOW)
        else:
            with pytest.raises(RequestError, match="`user_id`"):
                store.get_online_features([USER], [{"user_id": text}], now=NOW)


def test_a_huge_declared_type_gives_a_bounded_message() -> None:
    """Found by the manifest fuzz (seed 1394255696): a declared type of 5,000 unbalanced
    parentheses put the whole type in the message, twice."""
    from skewless.definitions.manifest import _check_not_cut
    from skewless.errors import DefinitionError, UnsupportedExpression
    from skewless.sql.types import parse_type

    huge = "(" * 5_000 + "decimal(10"
    with pytest.raises(UnsupportedExpression) as err:
        parse_type(huge)
    assert "unbalanced parentheses" in str(err.value) and len(str(err.value)) < MAX_MESSAGE // 4
    with pytest.raises(DefinitionError) as err2:
        _check_not_cut("m", "c", huge, {huge: None, "2)": None})
    assert "unbalanced parentheses" in str(err2.value) and "5,010 chars" in str(err2.value)
    assert len(str(err2.value)) < MAX_MESSAGE // 2
