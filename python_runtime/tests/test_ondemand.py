"""Request-time (on-demand) views end to end: dbt compiles them, the runtime compiles their SQL at
load time (or rejects it, naming model, column and construct), and `get_online_features`
evaluates them on the payload plus input features read in the same single MGET — including the
same view joined twice under renamed keys (payer and payee)."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis
from click.testing import CliRunner

from skewless.cli import main
from skewless.definitions.registry import Registry
from skewless.errors import RequestError, UnsupportedExpression
from skewless.online.materialize import materialize
from skewless.online.store import FeatureStore

REPO = Path(__file__).resolve().parents[2]
PROJECT = Path(__file__).parent / "projects" / "ondemand"
NOW = datetime(2026, 1, 3, 12, 0, tzinfo=timezone.utc)

pytestmark = pytest.mark.xdist_group("ondemand_project")

# every test taking `store` runs on FeatureStore and on AsyncFeatureStore (conftest.py)
ASYNC_PARITY = True


def _dbt(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SKEWLESS_DUCKDB_PATH": str(project / "ondemand.duckdb"),
        "SKEWLESS_PACKAGE_DIR": str(REPO),
        "TZ": "UTC",
        "DO_NOT_TRACK": "1",
    }
    common = ["--project-dir", str(project), "--profiles-dir", str(project)]
    common += ["--log-path", str(project / "logs")]
    return subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), *args, *common],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("ondemand") / "project"
    shutil.copytree(PROJECT, dest, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb"))
    for args in (["deps"], ["build"]):
        proc = _dbt(dest, *args)
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return dest


@pytest.fixture(scope="module")
def registry(project: Path) -> Registry:
    return Registry.from_dbt(project)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def test_wiring_is_read_from_the_compiled_sql(registry: Registry) -> None:
    odv = registry.on_demand["transfer_features"]
    assert [(i.view, i.keys, i.prefix) for i in odv.inputs] == [
        ("account_stats", (("account_id", "payer_id"),), "payer_"),
        ("account_stats", (("account_id", "payee_id"),), "payee_"),
    ]
    assert odv.request_schema == {"amount": "DECIMAL(12,2)", "country": "VARCHAR"}
    assert odv.feature_names == (
        "amount_to_payer_balance", "balance_gap", "payer_abroad", "transfers_7d_both",
        "country_upper",
    )  # fmt: skip
    assert {f.name: f.data_type for f in odv.features}["transfers_7d_both"] == "BIGINT"
    assert registry.feature("transfer_features.balance_gap").data_type == "DOUBLE"


def test_offline_rows_equal_the_compiled_projections(project: Path, registry: Registry) -> None:
    """The table dbt built vs the runtime's evaluation of each row's point-in-time inputs."""
    import duckdb
    import sqlglot
    from sqlglot import exp

    odv = registry.on_demand["transfer_features"]
    tree = sqlglot.parse_one(odv.compiled_sql, read="duckdb")  # the inputs, not the projections
    tree.set("expressions", [exp.Column(this=exp.Star(), table=exp.to_identifier("inputs"))])
    with duckdb.connect(str(project / "ondemand.duckdb"), read_only=True) as con:
        con.execute("set TimeZone='UTC'")
        cur = con.execute(f"{tree.sql(dialect='duckdb')} order by transfer_id")
        cols = [d[0] for d in cur.description]
        inputs = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
        cur = con.execute("select * from transfer_features order by transfer_id")
        cols = [d[0] for d in cur.description]
        offline = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    assert len(inputs) == len(offline) == 4
    for row, want in zip(inputs, offline, strict=True):
        got = odv.evaluate({}, row, row, now=NOW)
        for name in odv.feature_names:
            assert _same(got[name], want[name]), (row["transfer_id"], name, got[name], want[name])


@pytest.fixture()
def store(
    project: Path, registry: Registry, redis_url: str, store_api: str
) -> Iterator[FeatureStore]:
    from async_parity import serving

    client = redis.Redis.from_url(redis_url)
    materialize(registry, client, project / "ondemand.duckdb", now=NOW)
    with serving(store_api, registry, client, redis_url) as s:
        yield s


def test_served_values_with_renamed_keys_in_one_round_trip(store: FeatureStore) -> None:
    features = [
        "transfer_features.balance_gap",
        "account_stats.balance",
        "transfer_features.transfers_7d_both",
        "transfer_features.amount_to_payer_balance",
        "transfer_features.payer_abroad",
    ]
    entities = [
        {"payer_id": 1, "payee_id": 2, "account_id": 1},
        {"payer_id": 3, "payee_id": 404, "account_id": 3},  # payee unknown: default / NULL
    ]
    request = [{"amount": Decimal("25.50"), "country": "DE"}, {"amount": 1, "country": None}]
    store.get_online_features(features, entities, request=request, now=NOW)  # warm the pointers
    store.redis.config_resetstat()
    resp = store.get_online_features(features, entities, request=request, now=NOW)
    stats = store.redis.info("commandstats")
    assert stats["cmdstat_mget"]["calls"] == 1
    assert [k for k in stats if not k.startswith(("cmdstat_mget", "cmdstat_config"))] == []
    rows = resp.to_dicts()
    assert rows[0] == {
        "transfer_features.balance_gap": 0.0 - 110.0,
        "account_stats.balance": 110.0,
        "transfer_features.transfers_7d_both": 4,
        "transfer_features.amount_to_payer_balance": 25.5 / 110.0,
        "transfer_features.payer_abroad": False,
    }
    # payee 404 is missing: its balance is NULL, its transfers_7d the column default 0
    assert rows[1]["transfer_features.balance_gap"] is None
    assert rows[1]["transfer_features.transfers_7d_both"] == 7 + 0
    assert rows[1]["transfer_features.amount_to_payer_balance"] is None  # payer balance NULL
    assert rows[1]["transfer_features.payer_abroad"] is None  # NULL country
    assert resp.statuses[1]["transfer_features.balance_gap"] == "present"
    assert set(resp.versions) == {"account_stats", "transfer_features"}


def test_only_request_fields_need_no_redis_read(store: FeatureStore) -> None:
    resp = store.get_online_features(
        ["transfer_features.country_upper"], [{}], request={"country": "straße"}, now=NOW
    )
    import duckdb

    want = duckdb.sql("select upper('straße')").fetchall()[0][0]
    assert resp.to_dicts()[0]["transfer_features.country_upper"] == want


def test_request_is_validated_naming_the_field(store: FeatureStore) -> None:
    f = ["transfer_features.amount_to_payer_balance"]
    e = [{"payer_id": 1, "payee_id": 2}]
    with pytest.raises(RequestError, match=r"`transfer_features`.*lacks field `amount`"):
        store.get_online_features(f, e, request=[{"country": "DE"}], now=NOW)
    with pytest.raises(RequestError, match=r"transfer_features.*'amount'.*DECIMAL"):
        store.get_online_features(f, e, request=[{"amount": "12,5", "country": "DE"}], now=NOW)
    with pytest.raises(RequestError, match="one per entity"):
        store.get_online_features(f, e * 2, request=[{"amount": 1, "country": "DE"}], now=NOW)
    with pytest.raises(RequestError, match="payer_id"):
        store.get_online_features(f, [{"payee_id": 2}], request=[{"amount": 1}], now=NOW)


def test_cli_check_and_get(project: Path, store: FeatureStore, redis_url: str) -> None:
    runner = CliRunner()
    ok = runner.invoke(main, ["--project-dir", str(project), "check"])
    assert ok.exit_code == 0, ok.output
    assert "transfer_features" in ok.output and "OK: 2 model(s) valid" in ok.output
    got = runner.invoke(
        main,
        [
            "--project-dir", str(project), "--redis-url", redis_url, "get",
            "-e", "payer_id=1,payee_id=2", "-f", "transfer_features.transfers_7d_both",
            "-r", "amount=25.50,country=DE", "--now", NOW.isoformat(), "--json",
        ],
    )  # fmt: skip
    assert got.exit_code == 0, got.output
    assert '"value": 4' in got.output


def test_unsupported_construct_is_rejected_at_load_and_by_check(
    project: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(
        project, bad, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb", "dbt_packages")
    )
    for args in (["deps"], ["compile", "--vars", "{bad: true}"]):
        proc = _dbt(bad, *args)
        assert proc.returncode == 0, proc.stdout[-3000:]
    with pytest.raises(UnsupportedExpression) as err:
        Registry.from_dbt(bad, strict=True)  # without strict: the view alone is disabled
    message = str(err.value)
    assert (
        "transfer_features" in message and "country_hash" in message and "HASH" in message.upper()
    )
    result = CliRunner().invoke(main, ["--project-dir", str(bad), "check"])
    assert result.exit_code == 1
    assert "country_hash" in result.output


def test_view_statuses_are_the_raw_form_of_statuses(store: FeatureStore) -> None:
    """The served-feature log reads `view_statuses` (one status per view row) instead of the
    per-value `statuses`; both must tell the same story, `defaulted` derived from the column."""
    resp = store.get_online_features(
        ["account_stats.balance", "account_stats.transfers_7d"],
        [{"account_id": 1}, {"account_id": 404}],
        now=NOW,
    )
    assert resp.view_statuses == (["account_stats"], [["present"], ["missing"]])
    assert resp.statuses[1] == {
        "account_stats.balance": "missing",
        "account_stats.transfers_7d": "defaulted",  # the column has a default
    }
    with_request_time = store.get_online_features(
        ["transfer_features.country_upper"], [{}], request={"country": "de"}, now=NOW
    )
    assert with_request_time.view_statuses is None  # no view row: use `statuses`
    assert with_request_time.statuses == [{"transfer_features.country_upper": "present"}]
