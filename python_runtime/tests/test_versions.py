"""Versions for rolling deploys: a full load keeps the `keep_versions` most recent definition
versions of a view live in Redis and retires the rest, leaving no key behind.

Four successive definitions of one view are built with real dbt (a tiny project; definition `i`
stores `i` in every row, so a value shows which definition computed it), each into its own
DuckDB file, and materialized into the suite's real Redis.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest
import redis
from conftest import RedisServer
from test_online import cluster_nodes  # noqa: F401 (a three-node Redis Cluster fixture)

from skewless.definitions.registry import Registry
from skewless.errors import NotMaterializedError, SkewlessError
from skewless.online import keys
from skewless.online.connection import connect
from skewless.online.materialize import materialize
from skewless.online.store import FeatureStore
from skewless.online.versions import (
    RetiredVersionError,
    describe_live_versions,
    live_versions,
    resolve_keep_versions,
)

NOON = datetime(2099, 1, 1, 12, tzinfo=timezone.utc)
USERS = 50
VIEW = "scores"

_PROJECT = {
    "dbt_project.yml": (
        "name: versions\nversion: '1.0.0'\nconfig-version: 2\nprofile: versions\n"
        "model-paths: ['models']\nmodels:\n  versions:\n    +materialized: table\n"
    ),
    "profiles.yml": (
        "versions:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        "      path: \"{{ env_var('SKEWLESS_DUCKDB_PATH') }}\"\n      threads: 1\n"
    ),
    # the definition number is part of the compiled SQL, so each one is a new version
    "models/scores.sql": (
        "select range::bigint as user_id, timestamp '2099-01-01 10:00:00' as ts,\n"
        "  {{ var('definition') }}::bigint as definition\nfrom range(1, " + str(USERS + 1) + ")\n"
    ),
    "models/schema.yml": (
        "version: 2\nmodels:\n  - name: scores\n    config:\n      meta:\n"
        "        skewless: {entity: user_id, timestamp: ts, ttl: 30d}\n    columns:\n"
        "      - {name: user_id, data_type: bigint}\n      - {name: ts, data_type: timestamp}\n"
        "      - {name: definition, data_type: bigint}\n"
    ),
}


@dataclass(frozen=True)
class Definition:
    number: int
    registry: Registry
    duckdb: Path

    @property
    def version(self) -> str:
        return self.registry.view(VIEW).version


@pytest.fixture(scope="session")
def definitions(tmp_path_factory: pytest.TempPathFactory) -> list[Definition]:
    """Definitions 1-4 of `scores`, each built by `dbt build` into its own DuckDB file (same file
    name, so the same catalog in relation names)."""
    root = tmp_path_factory.mktemp("versions")
    project = root / "project"
    for name, text in _PROJECT.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    dbt = Path(sys.executable).with_name("dbt")
    out = []
    for i in range(1, 5):
        db = root / f"def{i}" / "versions.duckdb"
        db.parent.mkdir()
        target = root / f"def{i}" / "target"
        proc = subprocess.run(
            [
                str(dbt), "build", "--project-dir", str(project), "--profiles-dir", str(project),
                "--target-path", str(target), "--log-path", str(root / "logs"),
                "--vars", f"{{definition: {i}}}",
            ],
            env={**os.environ, "SKEWLESS_DUCKDB_PATH": str(db), "TZ": "UTC"},
            capture_output=True,
            text=True,
            timeout=600,
        )  # fmt: skip
        assert proc.returncode == 0, f"dbt build of definition {i} failed:\n{proc.stdout}"
        out.append(Definition(i, Registry.from_manifest(target / "manifest.json"), db))
    assert len({d.version for d in out}) == 4, "each definition must be its own version"
    return out


def load(d: Definition, redis_url: str, keep: int | None = None) -> list[str]:
    (result,) = materialize(
        d.registry, connect(redis_url), d.duckdb, select=[VIEW], now=NOON, keep_versions=keep
    )
    assert result.mode == "full" and result.rows == USERS
    return result.retired_versions


def serve(d: Definition, redis_url: str) -> list[int]:
    """What a service running definition `d` gets for three users."""
    store = FeatureStore(d.registry, connect(redis_url), redis_url)
    resp = store.get_online_features(
        [f"{VIEW}.definition"], [{"user_id": u} for u in (1, 25, USERS)], now=NOON
    )
    assert resp.versions[VIEW] == d.version
    return [row[0] for row in resp.values]


def expected_keys(client, live: list[Definition], retired: bool) -> set[bytes]:  # type: ignore[no-untyped-def]
    """Every key Redis must hold for `live` (one served generation each) and nothing more."""
    out = {
        keys.meta_key(VIEW),
        keys.genseq_key(VIEW),
        keys.gens_key(VIEW),
        keys.genver_key(VIEW),
    }
    # the completeness sentinels: one per generation, one per hash slot on a cluster
    slots = range(keys.CLUSTER_SLOTS) if type(client).__name__ == "RedisCluster" else [None]
    if retired:
        out.add(keys.retired_key(VIEW))
    for d in live:
        pointer = keys.pointer_key(VIEW, d.version)
        gen = client.get(pointer)
        assert gen is not None, f"definition {d.number} is not live"
        out.add(pointer)
        out.add(keys.gen_keys_key(VIEW, gen))
        out.update(
            keys.data_key(VIEW, keys.encode_entity(("int",), (u,)), gen)
            for u in range(1, USERS + 1)
        )
        out.update(keys.sentinel_key(VIEW, gen, s) for s in slots)
    return out


def test_last_three_versions_serve_and_the_first_is_retired(
    definitions: list[Definition], redis_url: str
) -> None:
    client = connect(redis_url)
    d1, d2, d3, d4 = definitions
    assert [load(d, redis_url) for d in definitions] == [[], [], [], [d1.version]]
    # services two and three deploys behind still read their own definition's values
    for d in (d2, d3, d4):
        assert serve(d, redis_url) == [d.number] * 3
    with pytest.raises(RetiredVersionError) as err:
        serve(d1, redis_url)
    message = str(err.value)
    assert f"`{VIEW}` at definition version {d1.version}" in message and "retired" in message
    assert "never materialized" not in message
    assert f"newest first: {d4.version}, {d3.version}, {d2.version}." in message
    assert "the 3 kept version slots" in message and "SKEWLESS_KEEP_VERSIONS" in message
    assert isinstance(err.value, NotMaterializedError)  # existing handlers still catch it
    assert [lv.version for lv in live_versions(client, VIEW)] == [
        d4.version,
        d3.version,
        d2.version,
    ]
    # exactly the live versions' keys: the retired generation left nothing behind
    assert set(client.keys()) == expected_keys(client, [d2, d3, d4], retired=True)
    assert client.dbsize() == 3 * (USERS + 3) + 5


def test_a_version_never_materialized_keeps_its_error(
    definitions: list[Definition], redis_url: str
) -> None:
    d1, d2 = definitions[:2]
    load(d1, redis_url)
    with pytest.raises(NotMaterializedError) as err:
        serve(d2, redis_url)
    assert not isinstance(err.value, RetiredVersionError)
    assert "never materialized" in str(err.value) and "retired" not in str(err.value)
    assert f"Redis holds version {d1.version}" in str(err.value)


@pytest.mark.parametrize("keep", [1, 5])
def test_keep_versions_is_configurable(
    definitions: list[Definition], redis_url: str, keep: int
) -> None:
    client = connect(redis_url)
    for d in definitions:
        load(d, redis_url, keep)
    live = definitions[-keep:]
    retired = definitions[: max(0, len(definitions) - keep)]
    for d in live:
        assert serve(d, redis_url) == [d.number] * 3
    for d in retired:
        with pytest.raises(RetiredVersionError, match=f"newest first: {definitions[-1].version}"):
            serve(d, redis_url)
    assert set(client.keys()) == expected_keys(client, live, retired=bool(retired))
    assert client.hget(keys.meta_key(VIEW), "keep_versions") == str(keep).encode()


def test_keep_versions_from_the_environment(
    definitions: list[Definition], redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SKEWLESS_KEEP_VERSIONS", "2")
    assert resolve_keep_versions() == 2 and resolve_keep_versions(4) == 4
    for d in definitions:
        load(d, redis_url)
    client = connect(redis_url)
    assert [lv.version for lv in live_versions(client, VIEW)] == [
        definitions[3].version,
        definitions[2].version,
    ]
    monkeypatch.setenv("SKEWLESS_KEEP_VERSIONS", "0")
    with pytest.raises(SkewlessError, match=r"SKEWLESS_KEEP_VERSIONS = '0'.*integer >= 1"):
        load(definitions[0], redis_url)
    monkeypatch.delenv("SKEWLESS_KEEP_VERSIONS")
    assert resolve_keep_versions() == 3
    with pytest.raises(SkewlessError, match="keep_versions = 'x'"):
        resolve_keep_versions("x")


def test_reloading_a_version_keeps_one_grace_generation_and_a_rollback_is_newest(
    definitions: list[Definition], redis_url: str
) -> None:
    client = connect(redis_url)
    d1, d2, d3, d4 = definitions
    for d in (d1, d2, d3):
        load(d, redis_url)
    load(d3, redis_url)  # gen 4: gen 3 (d3's previous) kept as grace for in-flight readers
    assert client.lrange(keys.gens_key(VIEW), 0, -1) == [b"1", b"2", b"3", b"4"]
    load(d3, redis_url)  # gen 5: gen 3 goes, gen 4 is the grace
    assert client.lrange(keys.gens_key(VIEW), 0, -1) == [b"1", b"2", b"4", b"5"]
    # a rollback: d1 is rematerialized and becomes the newest; d4 then retires d2, not d1
    load(d1, redis_url)
    assert load(d4, redis_url) == [d2.version]
    assert [lv.version for lv in live_versions(client, VIEW)] == [
        d4.version,
        d1.version,
        d3.version,
    ]
    assert serve(d1, redis_url) == [1] * 3
    assert set(client.keys()) == expected_keys(client, [d1, d3, d4], retired=True)
    assert describe_live_versions(live_versions(client, VIEW), d3.version) == (
        f"{d4.version}, {d1.version}, {d3.version} (current)"
    )
    assert describe_live_versions([], d3.version) == "-"


def test_a_retired_version_rematerialized_serves_again(
    definitions: list[Definition], redis_url: str
) -> None:
    d1, d2, d3, d4 = definitions
    for d in definitions:
        load(d, redis_url)
    with pytest.raises(RetiredVersionError):
        serve(d1, redis_url)
    assert load(d1, redis_url) == [d2.version]
    assert serve(d1, redis_url) == [1] * 3
    client = connect(redis_url)
    assert client.zscore(keys.retired_key(VIEW), d1.version) is None
    assert set(client.keys()) == expected_keys(client, [d1, d3, d4], retired=True)


def test_cleanup_interrupted_after_any_step_is_finished_by_the_next_load(
    definitions: list[Definition], redis_url: str
) -> None:
    """The cleanup's steps are: record retired, remove the pointer, delete data keys, then the
    bookkeeping. A loader killed after any of them leaves state the next full load completes."""
    client = connect(redis_url)
    d1, d2, d3, d4 = definitions
    for d in (d1, d2, d3):
        load(d, redis_url)
    # killed after recording d1 as retired, before its pointer went: d1 still serves
    client.zadd(keys.retired_key(VIEW), {d1.version: 1})
    assert serve(d1, redis_url) == [1] * 3
    # killed after removing d2's pointer and half of its data keys
    gen2 = client.get(keys.pointer_key(VIEW, d2.version))
    client.delete(keys.pointer_key(VIEW, d2.version))
    half = client.lrange(keys.gen_keys_key(VIEW, gen2), 0, USERS // 2 - 1)
    client.unlink(*half)
    client.ltrim(keys.gen_keys_key(VIEW, gen2), len(half), -1)
    assert load(d4, redis_url, keep=2) == [d1.version]  # d2 is no longer live: only d1 retires
    assert set(client.keys()) == expected_keys(client, [d3, d4], retired=True)


def test_incremental_load_of_an_older_live_version_is_a_full_load(
    definitions: list[Definition], redis_url: str
) -> None:
    """The stored watermark is the view's latest load's; an older live version falls back to a
    full load instead of skipping the rows between its own load and that watermark."""
    d1, d2 = definitions[:2]
    client = connect(redis_url)
    load(d1, redis_url)
    load(d2, redis_url)
    (again,) = materialize(
        d1.registry, client, d1.duckdb, select=[VIEW], now=NOON, incremental=True
    )
    assert again.mode == "full" and again.rows == USERS
    (inc,) = materialize(d1.registry, client, d1.duckdb, select=[VIEW], now=NOON, incremental=True)
    assert inc.mode == "incremental"


def test_retirement_on_redis_cluster(
    definitions: list[Definition],
    cluster_nodes: list[RedisServer],  # noqa: F811
) -> None:
    """On a cluster the pointer, bookkeeping and data keys live in different slots (no MULTI,
    client-side deletes): the same versions stay live and no key is left on any node."""
    url = f"redis+cluster://127.0.0.1:{cluster_nodes[0].port}/0"
    d1 = definitions[0]
    assert [load(d, url) for d in definitions] == [[], [], [], [d1.version]]
    for d in definitions[1:]:
        assert serve(d, url) == [d.number] * 3
    with pytest.raises(RetiredVersionError, match=f"newest first: {definitions[3].version}"):
        serve(d1, url)
    per_node = [redis.Redis(port=n.port) for n in cluster_nodes]
    held = [k for c in per_node for k in c.keys()]
    assert len(held) == len(set(held))
    assert set(held) == expected_keys(connect(url), definitions[1:], retired=True)
