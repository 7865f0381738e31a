"""One broken definition disables that view only, and dbt's selective workflows serve (issue 9,
items 3 and 4; "Why" items 4 and 5).

- An unsupported request-time expression, invalid meta, or a model dbt did not compile (after
  `dbt build -s one_model`) is a problem of that view: `Registry.problems`,
  `FeatureStore.problems`, `skewless check` (exit 1) and `skewless features` report it, asking
  for one of its features raises `BrokenViewError` naming it, and every other view serves. A
  request-time view reading a disabled feature view is disabled too, saying why.
- A partial build gives the models it compiled the same versions as a full build.
- `strict=True` / `--strict` / `SKEWLESS_STRICT=1` fail everything, as before.

Real dbt (the on-demand fixture plus a second feature view and request-time view), real DuckDB,
real Redis. dbt runs five times for the module: deps, a full build, a compile with the
unsupported construct, and two partial builds, each into its own target folder.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from click.testing import CliRunner
from test_ondemand import NOW, PROJECT, _dbt

from skewless import FeatureStore
from skewless.cli import main
from skewless.definitions.registry import Registry
from skewless.errors import (
    BrokenViewError,
    DefinitionError,
    NotCompiledError,
    UnsupportedExpression,
)
from skewless.online.materialize import materialize

pytestmark = pytest.mark.xdist_group("isolation_project")

_COUNTRY_STATS = """select * from (
    values
        ('DE', timestamp '2026-01-01 00:00:00', 0.01::double),
        ('FR', timestamp '2026-01-02 00:00:00', 0.5::double)
) as t(country, as_of, fraud_rate)
"""

_COUNTRY_FEATURES = """select
    transfer_id,
    transfer_ts,
    country,
    amount * fraud_rate as expected_loss
from {{ skewless.request_inputs(
    request=ref('transfers'), timestamp='transfer_ts', inputs=[ref('country_stats')]
) }}
"""

_COUNTRY_YML = """version: 2
models:
  - name: country_stats
    config:
      meta:
        skewless: {entity: country, timestamp: as_of}
    columns:
      - {name: country, data_type: varchar}
      - {name: as_of, data_type: timestamp}
      - {name: fraud_rate, data_type: double}
  - name: country_features
    config:
      meta:
        skewless: {kind: on_demand}
"""

ALL_VIEWS = {"account_stats", "transfer_features", "country_stats", "country_features"}


@dataclass(frozen=True)
class Project:
    dir: Path
    duckdb: Path

    def manifest(self, target: str) -> Path:
        return self.dir / target / "manifest.json"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """Built in full (`target`), then compiled with `hash(country)` in `transfer_features`
    (`target_bad`), then partially built: `-s account_stats` (`target_partial`) and
    `-s transfer_features country_features` (`target_partial_od`)."""
    dest = tmp_path_factory.mktemp("isolation") / "project"
    shutil.copytree(PROJECT, dest, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb"))
    (dest / "models" / "country_stats.sql").write_text(_COUNTRY_STATS)
    (dest / "models" / "country_features.sql").write_text(_COUNTRY_FEATURES)
    (dest / "models" / "country.yml").write_text(_COUNTRY_YML)
    for args in (
        ["deps"],
        ["build", "--target-path", str(dest / "target")],
        ["compile", "--vars", "{bad: true}", "--target-path", str(dest / "target_bad")],
        ["build", "-s", "account_stats", "--target-path", str(dest / "target_partial")],
        [
            "build", "-s", "transfer_features", "country_features",
            "--target-path", str(dest / "target_partial_od"),
        ],
    ):  # fmt: skip
        proc = _dbt(dest, *args)
        assert proc.returncode == 0, (args, proc.stdout[-4000:], proc.stderr[-2000:])
    return Project(dest, dest / "ondemand.duckdb")


@pytest.fixture(scope="module")
def broken_target(project: Project) -> str:
    """`target_bad` plus invalid meta on `country_stats` (`on_stale: drop`): two broken views,
    and `country_features`, which reads `country_stats`, disabled by it."""
    data = json.loads(project.manifest("target_bad").read_text())
    node = data["nodes"]["model.ondemand_fixture.country_stats"]
    for holder in (node["config"]["meta"], node.get("meta") or {}):
        if "skewless" in holder:
            holder["skewless"]["on_stale"] = "drop"
    out = project.dir / "target_broken"
    out.mkdir(exist_ok=True)
    (out / "manifest.json").write_text(json.dumps(data))
    return "target_broken"


def cli(project: Project, target: str, *args: str, redis_url: str = "") -> tuple[int, str, str]:
    """`skewless --project-dir … --target-path target ARGS`: exit code, all output, stdout."""
    common = ["--project-dir", str(project.dir), "--target-path", target]
    if redis_url:
        common += ["--redis-url", redis_url]
    result = CliRunner().invoke(main, [*common, *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output, result.stdout


def _get(project: Project, target: str, redis_url: str, *args: str) -> tuple[int, str, str]:
    return cli(
        project, target, "get", *args, "--now", NOW.isoformat(), "--json", redis_url=redis_url
    )


@pytest.fixture()
def client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


# --- "Why" item 4: dbt build -s one_model ---------------------------------------------------


def test_partial_build_keeps_versions_and_serves_what_it_compiled(
    project: Project, redis_url: str, client: redis.Redis
) -> None:
    # dbt build -s account_stats, then skewless materialize -s account_stats: works
    code, out, _ = cli(
        project, "target_partial", "materialize", "-s", "account_stats",
        "--duckdb-path", str(project.duckdb), "--now", NOW.isoformat(), redis_url=redis_url,
    )  # fmt: skip
    assert code == 0, out
    assert "account_stats" in out and "3 other view(s) disabled" in out
    code, out, stdout = _get(
        project, "target_partial", redis_url, "-e", "account_id=1", "-f", "account_stats.balance"
    )
    assert code == 0, out
    assert json.loads(stdout)[0]["features"]["account_stats.balance"]["value"] == 110.0

    full = Registry.from_manifest(project.manifest("target"))
    assert not full.problems and set(full.views) | set(full.on_demand) == ALL_VIEWS
    partial = Registry.from_manifest(project.manifest("target_partial"))
    # the model dbt compiled has the version of a full build: keys written now are the keys a
    # service reading a full `dbt compile` manifest looks up
    assert partial.views["account_stats"].version == full.views["account_stats"].version
    assert set(partial.problems) == ALL_VIEWS - {"account_stats"}
    for name, problem in partial.problems.items():
        assert isinstance(problem.error, NotCompiledError)
        assert problem.message == (
            f"model `{name}` has no compiled SQL in target_partial/manifest.json — run "
            f"`dbt compile` or `dbt build -s {name}` (dbt compiles only the models a command "
            "selects)"
        )

    # the uncompiled ones fail by name, with the fix
    code, out, _ = cli(
        project, "target_partial", "materialize", "-s", "country_stats",
        "--duckdb-path", str(project.duckdb), redis_url=redis_url,
    )  # fmt: skip
    assert code == 1
    assert "view `country_stats` is disabled" in out and "`dbt build -s country_stats`" in out
    assert not list(client.scan_iter(match="*country_stats*"))
    code, out, _ = _get(
        project, "target_partial", redis_url,
        "-e", "payer_id=1,payee_id=2", "-f", "transfer_features.balance_gap", "-r", "amount=1",
    )  # fmt: skip
    assert code == 1 and "`dbt build -s transfer_features`" in out

    # every view: the healthy one is loaded, then the command fails naming the others
    client.flushall()
    code, out, _ = cli(
        project, "target_partial", "materialize",
        "--duckdb-path", str(project.duckdb), "--now", NOW.isoformat(), redis_url=redis_url,
    )  # fmt: skip
    assert code == 1
    assert "1 view(s) not materialized" not in out  # one broken feature view: its own message
    assert "view `country_stats` is disabled" in out
    assert "request-time view `transfer_features` is disabled" in out  # a warning only
    store = FeatureStore(partial, client, redis_url)
    got = store.get_online_features(["account_stats.balance"], [{"account_id": 1}], now=NOW)
    assert got.to_dicts() == [{"account_stats.balance": 110.0}]


def test_partial_build_of_request_time_views_keeps_versions(project: Project) -> None:
    """`dbt build -s transfer_features country_features`: the request-time views dbt compiled
    have their full-build versions, and each is disabled because the feature view it reads was
    not compiled, saying so."""
    full = Registry.from_manifest(project.manifest("target"))
    partial = Registry.from_manifest(project.manifest("target_partial_od"))
    assert set(partial.problems) == ALL_VIEWS
    for name in ("transfer_features", "country_features"):
        problem = partial.problems[name]
        view = {"transfer_features": "account_stats", "country_features": "country_stats"}[name]
        assert problem.disabled_by == view
        assert problem.message.startswith(
            f"model `{name}`: its input feature view `{view}` is disabled — model `{view}` has "
            f"no compiled SQL in target_partial_od/manifest.json — run `dbt compile` or "
            f"`dbt build -s {view}`"
        ), problem.message
    # the versions of what dbt compiled: read without the input views' check
    from skewless.definitions.manifest import load_manifest
    from skewless.definitions.ondemand import read_on_demand_views

    compiled = read_on_demand_views(
        load_manifest(project.manifest("target_partial_od")), full.views
    )
    for name in ("transfer_features", "country_features"):
        assert compiled[name].version == full.on_demand[name].version


# --- "Why" item 5: one unsupported expression in one on-demand view -------------------------


def test_one_unsupported_expression_disables_only_its_view(
    project: Project, redis_url: str, client: redis.Redis
) -> None:
    store = FeatureStore.from_manifest(
        project.manifest("target_bad"), redis_url=redis_url, feature_log=False
    )
    assert list(store.problems) == ["transfer_features"]
    message = store.problems["transfer_features"]
    assert "transfer_features" in message and "country_hash" in message
    assert "HASH" in message.upper()
    assert isinstance(store.registry.problems["transfer_features"].error, UnsupportedExpression)

    materialize(store.registry, client, project.duckdb, now=NOW)
    got = store.get_online_features(
        ["account_stats.balance", "country_features.expected_loss"],
        [{"account_id": 1, "country": "DE"}],
        request={"amount": "10.00"},
        now=NOW,
    )
    assert got.to_dicts() == [
        {"account_stats.balance": 110.0, "country_features.expected_loss": 10.0 * 0.01}
    ]
    with pytest.raises(BrokenViewError) as err:
        store.get_online_features(
            ["account_stats.balance", "transfer_features.balance_gap"],
            [{"account_id": 1, "payer_id": 1, "payee_id": 2}],
            request={"amount": 1},
            now=NOW,
        )
    assert err.value.view == "transfer_features" and err.value.problem == message
    assert str(err.value).startswith(f"view `transfer_features` is disabled: {message}")
    assert isinstance(err.value, DefinitionError)


# --- several problems, dependants, strict mode, the CLI ---------------------------------------


def test_two_broken_views_and_the_view_reading_one(
    project: Project, broken_target: str, redis_url: str, client: redis.Redis
) -> None:
    registry = Registry.from_manifest(project.manifest(broken_target))
    assert set(registry.views) == {"account_stats"} and not registry.on_demand
    assert list(registry.problems) == ["country_stats", "country_features", "transfer_features"]
    stats = registry.problems["country_stats"]
    assert isinstance(stats.error, DefinitionError) and stats.kind == "feature_view"
    assert "model `country_stats`: meta.skewless.on_stale is 'drop'" in stats.message
    assert "country_hash" in registry.problems["transfer_features"].message
    dependant = registry.problems["country_features"]
    assert dependant.kind == "on_demand" and dependant.disabled_by == "country_stats"
    assert dependant.message == (
        f"model `country_features`: its input feature view `country_stats` is disabled — "
        f"{stats.message}"
    )
    store = FeatureStore(registry, client, redis_url)
    assert store.problems == {n: p.message for n, p in registry.problems.items()}
    materialize(registry, client, project.duckdb, now=NOW)
    got = store.get_online_features(["account_stats.transfers_7d"], [{"account_id": 2}], now=NOW)
    assert got.to_dicts() == [{"account_stats.transfers_7d": 0}]
    for ref in ("country_stats.fraud_rate", "country_features.expected_loss"):
        with pytest.raises(BrokenViewError, match=f"view `{ref.split('.')[0]}` is disabled: "):
            store.get_online_features([ref], [{"country": "DE"}], request={"amount": 1}, now=NOW)


def test_strict_mode_fails_everything(
    project: Project, broken_target: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(UnsupportedExpression, match="country_hash"):
        Registry.from_manifest(project.manifest("target_bad"), strict=True)
    with pytest.raises(UnsupportedExpression, match="country_hash"):
        FeatureStore.from_dbt(project.dir, "target_bad", redis_url=redis_url, strict=True)
    with pytest.raises(DefinitionError) as err:
        Registry.from_manifest(project.manifest(broken_target), strict=True)
    assert "meta.skewless.on_stale is 'drop'" in str(err.value)
    assert "and 2 more disabled view(s): `country_features`, `transfer_features`" in str(err.value)

    registry = Registry.from_manifest(project.manifest(broken_target))
    materialize(registry, redis.Redis.from_url(redis_url), project.duckdb, now=NOW)
    healthy = ("-e", "account_id=1", "-f", "account_stats.balance")
    code, out, _ = _get(project, broken_target, redis_url, *healthy)
    assert code == 0, out  # without strict, the healthy view serves
    code, out, _ = _get(project, broken_target, redis_url, "--strict", *healthy)
    assert code == 1 and "on_stale is 'drop'" in out and "Traceback" not in out
    monkeypatch.setenv("SKEWLESS_STRICT", "1")
    code, out, _ = cli(project, broken_target, "features", redis_url=redis_url)
    assert code == 1 and "on_stale is 'drop'" in out
    code, out, _ = cli(project, "target", "features", redis_url=redis_url)
    assert code == 0 and "BROKEN" not in out  # strict and nothing broken: fine


def test_cli_check_and_features_report_every_problem(
    project: Project, broken_target: str, redis_url: str
) -> None:
    code, out, _ = cli(project, "target", "check")
    assert code == 0 and "OK: 4 model(s) valid" in out

    code, out, _ = cli(project, broken_target, "check")
    assert code == 1
    assert "account_stats" in out.splitlines()[2]  # the valid model's row
    for line in (
        "error: country_stats (feature_view): model `country_stats`: meta.skewless.on_stale",
        "error: transfer_features (on_demand): model 'transfer_features', column 'country_hash'",
        "error: country_features (on_demand): model `country_features`: its input feature "
        "view `country_stats` is disabled",
        "FAILED: 3 model(s) disabled (country_stats, country_features, transfer_features), 1 valid",
    ):
        assert line in out, out
    code, out, stdout = cli(project, broken_target, "check", "--json")
    assert code == 1
    report: dict[str, Any] = json.loads(stdout)
    assert report["ok"] is False and [m["model"] for m in report["models"]] == ["account_stats"]
    assert [(p["model"], p["error_type"], p["disabled_by"]) for p in report["problems"]] == [
        ("country_stats", "DefinitionError", None),
        ("country_features", "DefinitionError", "country_stats"),
        ("transfer_features", "UnsupportedExpression", None),
    ]

    code, out, _ = cli(project, broken_target, "features", redis_url=redis_url)
    assert code == 0, out
    rows: dict[str, str] = {}
    for line in out.splitlines():
        if line.strip():
            rows.setdefault(line.split()[0], line)  # the first table: one row per view
    assert "BROKEN" in rows["country_stats"] and "BROKEN" not in rows["account_stats"]
    assert "disabled views" in out and "HASH" in out.upper()
    assert "warning: 3 view(s) disabled" in out
    code, out, stdout = cli(project, broken_target, "features", "--json", redis_url=redis_url)
    assert code == 0
    records = json.loads(stdout)
    status = {r["view"]: (r["online_status"], r["problem"] is None) for r in records}
    assert status == {
        "account_stats": ("never", True),
        "country_stats": ("broken", False),
        "transfer_features": ("broken", False),
        "country_features": ("broken", False),
    }
