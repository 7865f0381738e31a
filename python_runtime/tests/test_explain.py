"""`skewless explain`: every verdict reached on real data (dbt-built DuckDB, a real Redis loaded by
`materialize`), then the CLI's table, JSON, errors and help.

The project is the guards fixture with one more hop of lineage (`user_stats` reads the model
`stg_user_stats`, which reads the seed) and a dbt source (`user_flags` reads
`source('raw', 'raw_user_flags')`). Each test that changes data works on its own copy of the
DuckDB file and loads Redis from it.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner
from guards_helpers import AS_OF, PROJECT, REPO, Guards, dbt

from skewless.cli import main
from skewless.definitions.registry import Registry
from skewless.errors import RequestError, UnknownFeatureError
from skewless.guards.explain import Explanation, explain
from skewless.offline.duckdb import DuckDBReader
from skewless.online.connection import connect
from skewless.online.local_redis import free_port
from skewless.online.materialize import materialize
from skewless.online.store import FeatureStore

UTC = timezone.utc
#: user 1's rows in raw_user_stats: 01-01 01:00, 01-02 01:00 and this one (txn_count 41)
ROW_TS = datetime(2026, 1, 3, 1, 0, tzinfo=UTC)
AVG_1 = 90.09004917506228  # user 1's avg_amount at ROW_TS
LOADED_AT = AS_OF + timedelta(hours=1)  # explained an hour after the load


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Guards:
    """The guards project, with a staging model between the seed and `user_stats` and a source."""
    target = tmp_path_factory.mktemp("explain") / "guards"
    shutil.copytree(
        PROJECT, target, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb", "dbt_packages")
    )
    (target / "packages.yml").write_text(f"packages:\n  - local: {REPO}\n")
    models = target / "models"
    (models / "stg_user_stats.sql").write_text("select * from {{ ref('raw_user_stats') }}\n")
    sql = models / "user_stats.sql"
    sql.write_text(sql.read_text().replace("ref('raw_user_stats')", "ref('stg_user_stats')"))
    (models / "sources.yml").write_text(
        "version: 2\nsources:\n  - name: raw\n    schema: main\n    tables:\n"
        "      - name: raw_user_flags\n"
    )
    # the seed loads the source's table: the hint orders the model after it
    (models / "user_flags.sql").write_text(
        "-- depends_on: {{ ref('raw_user_flags') }}\n"
        "select user_id, flag_ts, is_vip from {{ source('raw', 'raw_user_flags') }}\n"
    )
    dbt(target, "deps")
    dbt(target, "build")
    return Guards(target, target / "guards.duckdb")


def _copy(project: Guards, tmp_path: Path, *sql: str) -> Path:
    """A copy of the built DuckDB file with `sql` applied to it."""
    db = tmp_path / "guards.duckdb"
    shutil.copy(project.duckdb, db)
    if sql:
        con = duckdb.connect(str(db))
        try:
            con.execute("SET TimeZone='UTC'")
            for statement in sql:
                con.execute(statement)
        finally:
            con.close()
    return db


def _load(project: Guards, db: Path, redis_url: str, *views: str) -> None:
    registry = Registry.from_manifest(project.manifest)
    client = connect(redis_url)
    for name in views or ("user_stats",):
        materialize(registry, client, db, now=AS_OF, select=[name])


def _explain(
    project: Guards, db: Path, redis_url: str, feature: str, entity: dict[str, Any], at: datetime
) -> Explanation:
    registry = Registry.from_manifest(project.manifest)
    store = FeatureStore(registry, connect(redis_url), redis_url)
    reader = DuckDBReader.open(db, registry.views.values())
    try:
        return explain(store, reader, feature, entity, now=at)
    finally:
        reader.close()


def test_equal_with_generation_lineage_and_offline_rows(
    project: Guards, redis_url: str, tmp_path: Path
) -> None:
    db = _copy(project, tmp_path)
    t0 = datetime.now(UTC)
    _load(project, db, redis_url)
    t1 = datetime.now(UTC)
    e = _explain(project, db, redis_url, "user_stats.txn_count", {"user_id": "1"}, LOADED_AT)
    assert (e.verdict, e.consistent, e.fix) == ("equal", True, "")
    assert e.detail == "Redis holds what the loader would load at the generation's as_of"
    # served: 11 h old, past the 2h freshness SLA under on_stale: serve
    assert (e.value, e.status, e.reason, e.age) == (41, "stale", None, timedelta(hours=12))
    assert (e.stored_value, e.stored_ts) == (41, ROW_TS)
    assert e.notes == (
        "the value is past the view's freshness SLA (2:00:00) at 2026-01-03T13:00:00+00:00 "
        "(on_stale: serve)",
    )
    # the generation, from the load's bookkeeping
    registry = Registry.from_manifest(project.manifest)
    view = registry.view("user_stats")
    pointer = connect(redis_url).get(f"skw:ptr:{{user_stats}}:{view.version}".encode())
    assert (e.version, e.generation) == (view.version, pointer.decode())
    assert (e.as_of, e.mode, e.rows, e.watermark) == (
        AS_OF,
        "full",
        40,
        datetime(2026, 1, 3, 4, 0, tzinfo=UTC),
    )
    assert e.materialized_at is not None and t0 <= e.materialized_at <= t1
    # the source model and its lineage, nearest first
    assert (e.model, e.relation, e.path) == (
        "model.guards.user_stats",
        '"guards"."main"."user_stats"',
        "models/user_stats.sql",
    )
    assert [(n.unique_id, n.resource_type, n.depth, n.path, n.parents) for n in e.lineage] == [
        (
            "model.guards.stg_user_stats",
            "model",
            1,
            "models/stg_user_stats.sql",
            ("seed.guards.raw_user_stats",),
        ),
        ("seed.guards.raw_user_stats", "seed", 2, "seeds/raw_user_stats.csv", ()),
    ]
    # offline: the loader's row at as_of, the point-in-time row at `at`, the latest row
    assert (e.loaded.at, e.loaded.ts, e.loaded.value) == (AS_OF, ROW_TS, 41)  # type: ignore[union-attr]
    assert (e.point_in_time.at, e.point_in_time.ts, e.point_in_time.value) == (  # type: ignore[union-attr]
        LOADED_AT,
        ROW_TS,
        41,
    )
    assert e.latest_ts == ROW_TS and e.equal


def test_lineage_reaches_a_dbt_source(project: Guards, redis_url: str, tmp_path: Path) -> None:
    db = _copy(project, tmp_path)
    _load(project, db, redis_url, "user_flags")
    e = _explain(project, db, redis_url, "user_flags.is_vip", {"user_id": 3}, LOADED_AT)
    assert (e.verdict, e.value, e.status) == ("equal", True, "present")
    assert [(n.unique_id, n.resource_type, n.relation, n.depth) for n in e.lineage] == [
        ("source.guards.raw.raw_user_flags", "source", '"guards"."main"."raw_user_flags"', 1),
        ("seed.guards.raw_user_flags", "seed", '"guards"."main"."raw_user_flags"', 1),
    ]


def test_offline_newer_than_the_load(project: Guards, redis_url: str, tmp_path: Path) -> None:
    db = _copy(project, tmp_path)
    _load(project, db, redis_url)
    # a row stamped after the load's as_of arrives offline
    con = duckdb.connect(str(db))
    con.execute(
        "INSERT INTO main.raw_user_stats VALUES (1, TIMESTAMP '2026-01-03 14:00:00', 99, 1.00, "
        "1.0, 'IT')"
    )
    con.close()
    at = datetime(2026, 1, 3, 15, 0, tzinfo=UTC)
    e = _explain(project, db, redis_url, "user_stats.txn_count", {"user_id": 1}, at)
    assert e.verdict == "offline_newer" and not e.consistent and not e.equal
    assert e.detail == (
        "offline has a newer row (ts 2026-01-03T14:00:00+00:00, value 99) than the generation's "
        "as_of (2026-01-03T12:00:00+00:00): Redis holds the row of ts 2026-01-03T01:00:00+00:00 "
        "(value 41)"
    )
    assert e.fix == "rematerialize: `skewless materialize --select user_stats`"
    assert (e.value, e.loaded.ts, e.point_in_time.ts, e.point_in_time.value) == (  # type: ignore[union-attr]
        41,
        ROW_TS,
        datetime(2026, 1, 3, 14, 0, tzinfo=UTC),
        99,
    )
    # after the fix the verdict is equal
    registry = Registry.from_manifest(project.manifest)
    materialize(registry, connect(redis_url), db, now=at, select=["user_stats"])
    e = _explain(project, db, redis_url, "user_stats.txn_count", {"user_id": 1}, at)
    assert (e.verdict, e.value, e.as_of) == ("equal", 99, at)


def test_entity_absent(project: Guards, redis_url: str, tmp_path: Path) -> None:
    db = _copy(project, tmp_path)
    _load(project, db, redis_url)
    e = _explain(project, db, redis_url, "user_stats.txn_count", {"user_id": 999}, LOADED_AT)
    assert e.verdict == "entity_absent"
    assert e.detail == (
        'entity absent offline: "guards"."main"."user_stats" has no row for user_id=999, and '
        "Redis holds none"
    )
    assert e.fix.startswith("check the entity key; the model `user_stats`")
    # the column default is served, as training sees it: consistent
    assert (e.value, e.status, e.reason, e.age) == (0, "defaulted", "missing", None)
    assert (e.stored_ts, e.loaded.ts, e.point_in_time.ts, e.latest_ts) == (None,) * 4  # type: ignore[union-attr]
    assert e.consistent


def test_value_changed_offline_after_the_load(
    project: Guards, redis_url: str, tmp_path: Path
) -> None:
    where = "WHERE user_id = 1 AND as_of_ts = TIMESTAMP '2026-01-03 01:00:00'"
    db = _copy(project, tmp_path, f"UPDATE main.raw_user_stats SET avg_amount = 3.4 {where}")
    _load(project, db, redis_url)
    con = duckdb.connect(str(db))
    con.execute(f"UPDATE main.raw_user_stats SET avg_amount = 3.5 {where}")
    con.close()
    e = _explain(project, db, redis_url, "user_stats.avg_amount", {"user_id": 1}, LOADED_AT)
    assert e.verdict == "value_differs"
    assert e.detail == (
        "value differs: served 3.4, offline 3.5 — the relation changed after the load (its row "
        "ts 2026-01-03T01:00:00+00:00)"
    )
    assert e.fix == "rematerialize: `skewless materialize --select user_stats`"
    assert (e.value, e.stored_value, e.loaded.value) == (3.4, 3.4, 3.5)  # type: ignore[union-attr]
    assert not e.consistent


def test_row_deleted_offline_after_the_load(
    project: Guards, redis_url: str, tmp_path: Path
) -> None:
    db = _copy(project, tmp_path)
    _load(project, db, redis_url)
    con = duckdb.connect(str(db))
    con.execute(
        "DELETE FROM main.raw_user_stats WHERE user_id = 2 AND as_of_ts = "
        "TIMESTAMP '2026-01-03 02:00:00'"
    )
    con.execute("DELETE FROM main.raw_user_stats WHERE user_id = 3")
    con.close()
    e = _explain(project, db, redis_url, "user_stats.amount_sum", {"user_id": 2}, LOADED_AT)
    assert e.verdict == "changed_offline"
    assert e.detail == (
        "Redis holds the row of ts 2026-01-03T02:00:00+00:00 (value 2272.57), but the loader "
        "would load at the generation's as_of the row of ts 2026-01-02T02:00:00+00:00 (value "
        "1069.27): the relation changed after the load"
    )
    assert (e.value, e.loaded.value) == (Decimal("2272.57"), Decimal("1069.27"))  # type: ignore[union-attr]
    e = _explain(project, db, redis_url, "user_stats.amount_sum", {"user_id": 3}, LOADED_AT)
    assert e.verdict == "entity_absent" and e.latest_ts is None
    assert "but Redis holds the row of ts 2026-01-03T03:00:00+00:00 (value 18.61)" in e.detail
    assert e.fix == "rematerialize: `skewless materialize --select user_stats`"


def test_not_materialized(project: Guards, redis_url: str, tmp_path: Path) -> None:
    db = _copy(project, tmp_path)
    e = _explain(project, db, redis_url, "user_stats.txn_count", {"user_id": 1}, LOADED_AT)
    assert e.verdict == "not_materialized" and e.generation is None and e.status is None
    assert "was never materialized into Redis" in e.detail == e.served_error
    assert e.fix == "`skewless materialize --select user_stats`"
    # the offline side is still read
    assert (e.point_in_time.ts, e.point_in_time.value, e.loaded) == (ROW_TS, 41, None)  # type: ignore[union-attr]
    assert not e.consistent


def test_expired_by_ttl(project: Guards, redis_url: str, tmp_path: Path) -> None:
    db = _copy(project, tmp_path)
    _load(project, db, redis_url)
    at = datetime(2036, 6, 1, tzinfo=UTC)  # user_stats' ttl is 3650d
    e = _explain(project, db, redis_url, "user_stats.txn_count", {"user_id": 1}, at)
    assert e.verdict == "expired" and e.consistent
    assert (e.value, e.status, e.reason) == (0, "defaulted", "expired")
    assert e.stored_value == 41 and e.age == at - ROW_TS
    assert e.detail == (
        "the row Redis holds (ts 2026-01-03T01:00:00+00:00, value 41) is older than the view's "
        "ttl (3650 days, 0:00:00) at 2036-06-01T00:00:00+00:00; offline has no newer row within "
        "ttl either, so training sees no value at that instant"
    )
    assert e.point_in_time.ts is None and e.latest_ts == ROW_TS  # type: ignore[union-attr]
    # a feature without a default: None, status expired
    e = _explain(project, db, redis_url, "user_stats.avg_amount", {"user_id": 1}, at)
    assert (e.verdict, e.value, e.status, e.reason) == ("expired", None, "expired", "expired")


def test_before_the_load(project: Guards, redis_url: str, tmp_path: Path) -> None:
    db = _copy(project, tmp_path)
    _load(project, db, redis_url)
    at = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
    e = _explain(project, db, redis_url, "user_stats.txn_count", {"user_id": 1}, at)
    assert e.verdict == "before_load"
    assert e.point_in_time.value == 1 and e.value == 41 and not e.consistent  # type: ignore[union-attr]


def test_redis_lost_the_generation(project: Guards, redis_url: str, tmp_path: Path) -> None:
    db = _copy(project, tmp_path)
    _load(project, db, redis_url)
    registry = Registry.from_manifest(project.manifest)
    client = connect(redis_url)
    store = FeatureStore(registry, client, redis_url)
    store.get_online_features(["user_stats.txn_count"], [{"user_id": 1}], now=LOADED_AT)
    client.flushall()  # a server restarted empty, after this store saw the generation
    reader = DuckDBReader.open(db, registry.views.values())
    try:
        e = explain(store, reader, "user_stats.txn_count", {"user_id": 1}, now=LOADED_AT)
    finally:
        reader.close()
    assert e.verdict == "unavailable" and not e.consistent
    assert (e.value, e.status, e.reason) == (0, "unavailable", "unavailable")
    assert e.detail.startswith("Redis lost the generation of `user_stats` it served")
    assert e.fix == "rematerialize: `skewless materialize --select user_stats`"


def test_request_time_feature_explains_its_inputs(
    project: Guards, redis_url: str, tmp_path: Path
) -> None:
    db = _copy(project, tmp_path)
    _load(project, db, redis_url)
    e = _explain(project, db, redis_url, "txn_risk.amount_to_avg", {"user_id": 1}, LOADED_AT)
    assert (e.kind, e.verdict, e.value, e.status) == ("on_demand", "equal", None, None)
    assert [(i.feature, i.verdict, i.value) for i in e.inputs] == [
        ("user_stats.avg_amount", "equal", AVG_1)
    ]
    assert "computed per request" in e.notes[0]
    assert e.model == "model.guards.txn_risk"
    assert {n.unique_id for n in e.lineage if n.depth == 1} >= {
        "model.guards.user_stats",
        "seed.guards.requests",
    }
    with pytest.raises(RequestError, match=r"`request_id` is not a key of on-demand view"):
        _explain(
            project, db, redis_url, "txn_risk.amount_to_avg", {"user_id": 1, "request_id": 2}, AS_OF
        )


def test_library_errors_name_the_feature_and_the_key(
    project: Guards, redis_url: str, tmp_path: Path
) -> None:
    db = _copy(project, tmp_path)
    with pytest.raises(UnknownFeatureError, match=r"feature view `user_stats` has no feature `x`"):
        _explain(project, db, redis_url, "user_stats.x", {"user_id": 1}, AS_OF)
    with pytest.raises(RequestError, match=r"lacks key `user_id` of feature view `user_stats`"):
        _explain(project, db, redis_url, "user_stats.txn_count", {"uid": 1}, AS_OF)
    with pytest.raises(RequestError, match=r"`merchant_id` is not a key of feature view"):
        _explain(
            project, db, redis_url, "user_stats.txn_count", {"user_id": 1, "merchant_id": 2}, AS_OF
        )


# --- the CLI ---------------------------------------------------------------------------------


def _cli(project: Guards, db: Path, redis_url: str, *args: str) -> tuple[int, str, str]:
    common = ["--project-dir", str(project.dir), "--redis-url", redis_url]
    result = CliRunner().invoke(
        main, ["explain", *args, *common, "--duckdb-path", str(db)], catch_exceptions=False
    )
    return result.exit_code, result.stdout, result.stderr


def _table(text: str) -> dict[str, list[str]]:
    """field → its values (a field may repeat: `upstream`, `note`)."""
    out: dict[str, list[str]] = {}
    for line in text.splitlines()[2:]:
        field_, _, value = line.partition("  ")
        out.setdefault(field_, []).append(value.strip())
    return out


def test_cli_table(project: Guards, redis_url: str, tmp_path: Path) -> None:
    db = _copy(project, tmp_path)
    _load(project, db, redis_url)
    code, out, err = _cli(
        project, db, redis_url, "user_stats.last_country", "-e", "user_id=1", "--at",
        "2026-01-03T13:00:00",
    )  # fmt: skip
    assert code == 0, err
    assert out.splitlines()[0].split() == ["field", "value"]
    rows = _table(out)
    assert rows["feature"] == ["user_stats.last_country"]
    assert rows["entity"] == ["user_id=1"]
    assert rows["at"] == ["2026-01-03T13:00:00+00:00"]
    assert rows["served value"] == ["'DE'"]
    assert rows["status"] == ["stale"] and rows["reason"] == ["-"]
    assert rows["age"] == ["43200s"]
    assert rows["stored ts"] == ["2026-01-03T01:00:00+00:00"]
    assert rows["as_of"] == ["2026-01-03T12:00:00+00:00"] and rows["mode"] == ["full"]
    assert rows["rows"] == ["40"]
    assert rows["path"] == ["models/user_stats.sql"]
    assert rows["upstream 1"] == ['model stg_user_stats ("guards"."main"."stg_user_stats")']
    assert rows["upstream 2"] == ['seed raw_user_stats ("guards"."main"."raw_user_stats")']
    assert rows["offline at as_of"] == ["'DE' (row ts 2026-01-03T01:00:00+00:00)"]
    assert rows["offline at `at`"] == ["'DE' (row ts 2026-01-03T01:00:00+00:00)"]
    assert rows["consistent"] == ["yes"]
    assert rows["verdict"] == ["equal"] and rows["fix"] == ["-"]


def test_cli_json(project: Guards, redis_url: str, tmp_path: Path) -> None:
    where = "WHERE user_id = 1 AND as_of_ts = TIMESTAMP '2026-01-03 01:00:00'"
    db = _copy(project, tmp_path)
    _load(project, db, redis_url)
    con = duckdb.connect(str(db))
    con.execute(f"UPDATE main.raw_user_stats SET amount_sum = 500.25 {where}")
    con.close()
    code, out, err = _cli(
        project, db, redis_url, "user_stats.amount_sum", "-e", "user_id=1", "--at",
        "2026-01-03T13:00:00", "--json",
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert data["verdict"] == "value_differs" and data["equal"] is False
    assert data["consistent"] is False
    assert data["detail"] == (
        "value differs: served 543.72, offline 500.25 — the relation changed after the load "
        "(its row ts 2026-01-03T01:00:00+00:00)"
    )
    assert data["served"] == {
        "value": "543.72",
        "status": "stale",
        "reason": None,
        "age_seconds": 43200.0,
        "error": "",
    }
    assert data["stored"] == {"value": "543.72", "ts": "2026-01-03T01:00:00+00:00"}
    assert data["offline"]["loaded"] == {
        "at": "2026-01-03T12:00:00+00:00",
        "ts": "2026-01-03T01:00:00+00:00",
        "value": "500.25",
    }
    assert data["offline"]["latest_ts"] == "2026-01-03T01:00:00+00:00"
    gen = data["generation"]
    assert (gen["as_of"], gen["mode"], gen["rows"]) == ("2026-01-03T12:00:00+00:00", "full", 40)
    assert [n["unique_id"] for n in data["source"]["lineage"]] == [
        "model.guards.stg_user_stats",
        "seed.guards.raw_user_stats",
    ]
    assert data["entity"] == {"user_id": "1"} and data["kind"] == "feature_view"


def test_cli_reads_through_the_profile_target(
    project: Guards, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = _copy(project, tmp_path)
    _load(project, db, redis_url)
    monkeypatch.delenv("SKEWLESS_DUCKDB_PATH", raising=False)
    monkeypatch.delenv("DBT_TARGET", raising=False)
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "profiles.yml").write_text(
        f"guards:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: '{db}'\n"
    )
    base = ["explain", "user_stats.txn_count", "-e", "user_id=1", "--at", "2026-01-03T13:00:00"]
    common = ["--project-dir", str(project.dir), "--redis-url", redis_url]
    runner = CliRunner()
    res = runner.invoke(main, [*base, *common, "--profiles-dir", str(profiles), "--json"])
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["offline"]["loaded"]["value"] == 41
    res = runner.invoke(
        main, [*base, *common, "--profiles-dir", str(profiles), "--dbt-target", "nope"]
    )
    assert res.exit_code == 1 and res.stdout == ""
    assert res.stderr.count("\n") == 1
    assert "profile `guards` has no target `nope`" in res.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["user_stats.nope", "-e", "user_id=1"],
            "Error: feature view `user_stats` has no feature `nope`; its features: txn_count, "
            "amount_sum, avg_amount, last_country",
        ),
        (["nope.x", "-e", "user_id=1"], "Error: no feature view named `nope`"),
        (
            ["user_stats.txn_count", "-e", "customer_id=1"],
            "Error: the entity lacks key `user_id` of feature view `user_stats` (its entity is "
            "['user_id']); give it, e.g. `-e user_id=…`",
        ),
        (
            ["user_stats.txn_count", "-e", "user_id=1", "-e", "merchant_id=2"],
            "Error: `merchant_id` is not a key of feature view `user_stats` (its entity is "
            "['user_id']); leave it out",
        ),
        (
            ["user_stats.txn_count", "-e", "user_id=abc"],
            "Error: entity key `user_id` = 'abc' cannot be used for feature view `user_stats`",
        ),
    ],
)
def test_cli_errors_are_one_line(
    project: Guards, redis_url: str, tmp_path: Path, args: list[str], message: str
) -> None:
    code, out, err = _cli(project, project.duckdb, redis_url, *args)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith(message), err


def test_cli_never_prints_the_redis_password(project: Guards) -> None:
    url = f"redis://explainer:s3cret-pw@127.0.0.1:{free_port()}/0"
    started = time.monotonic()
    code, out, err = _cli(project, project.duckdb, url, "user_stats.txn_count", "-e", "user_id=1")
    assert code == 1 and out == "" and err.count("\n") == 1
    assert "s3cret-pw" not in err and "127.0.0.1" in err
    assert time.monotonic() - started < 20


def test_cli_help_shows_an_example() -> None:
    res = CliRunner().invoke(main, ["explain", "--help"])
    assert res.exit_code == 0
    assert re.search(
        r"Example:\n\s+skewless explain user_txn_stats\.txn_count_30d -e user_id=42", res.stdout
    )


def test_a_rejected_stale_value(project: Guards, redis_url: str, tmp_path: Path) -> None:
    """`on_stale: reject` (user_risk, freshness 1h): a service gets an error, not a value."""
    db = _copy(project, tmp_path)
    _load(project, db, redis_url, "user_risk")
    e = _explain(project, db, redis_url, "user_risk.risk_score", {"user_id": 1}, LOADED_AT)
    assert (e.verdict, e.value, e.status, e.reason) == ("equal", None, "stale", "stale")
    assert "past its freshness SLA of 1:00:00 (on_stale: reject)" in e.served_error
    assert (e.stored_value, e.stored_ts) == (0.237965, datetime(2026, 1, 3, 4, 30, tzinfo=UTC))
    assert e.consistent  # training's row is as old: a correct server rejects it too
    assert e.notes[0].endswith("(on_stale: reject)")
