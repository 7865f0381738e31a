"""`skewless freshness`: a view left past its SLA is named, a fresh one is not; an unmaterialized
version is a breach; `--json` and the exit code."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from guards_helpers import AS_OF, build_guards, built_once, dbt, materialize_all

from skewless.cli.freshness import freshness
from skewless.definitions.registry import Registry
from skewless.guards.freshness import check_freshness
from skewless.online import keys
from skewless.online.connection import connect

UTC = timezone.utc
# user_stats: newest row 2026-01-03 04:00, SLA 2h; user_flags: newest row 2026-01-02 00:00, SLA 30d;
# user_risk: newest row 2026-01-03 04:30, SLA 1h


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return built_once(tmp_path_factory.mktemp("guards"))


def test_fresh_views_pass(built: Any, redis_url: str) -> None:
    materialize_all(built, redis_url)
    reg = Registry.from_manifest(built.manifest)
    at = datetime(2026, 1, 3, 5, 0, tzinfo=UTC)  # user_stats' newest value is 1h old
    report = check_freshness(reg, connect(redis_url), now=at)
    assert report.ok, report.to_table()
    by = {v.view: v for v in report.views}
    assert by["user_stats"].watermark == datetime(2026, 1, 3, 4, tzinfo=UTC)
    assert by["user_stats"].watermark_age == timedelta(hours=1)
    assert by["user_stats"].materialized_version == reg.view("user_stats").version


def test_a_view_left_past_its_sla_is_named(built: Any, redis_url: str) -> None:
    materialize_all(built, redis_url)
    reg = Registry.from_manifest(built.manifest)
    report = check_freshness(reg, connect(redis_url), now=AS_OF)  # 8h after the newest row
    # user_risk (SLA 1h, newest row 04:30) is past its SLA too; user_flags (30d) is not
    assert report.breaches == ["user_risk", "user_stats"]
    (reason,) = next(v for v in report.views if v.view == "user_stats").reasons
    assert "newest value is 8h old, past the 2h SLA" in reason


def test_an_old_materialization_is_a_breach(built: Any, redis_url: str) -> None:
    materialize_all(built, redis_url)
    client = connect(redis_url)
    client.hset(
        keys.meta_key("user_flags"),
        "materialized_at",
        str(int(datetime(2025, 1, 1, tzinfo=UTC).timestamp() * 1e6)),
    )
    report = check_freshness(
        Registry.from_manifest(built.manifest),
        client,
        views=["user_flags"],
        now=datetime(2026, 1, 3, tzinfo=UTC),
    )
    assert report.breaches == ["user_flags"]
    assert "last materialization was" in report.views[0].reasons[0]


def test_unmaterialized_current_version_is_a_breach(tmp_path: Path, redis_url: str) -> None:
    project = build_guards(tmp_path)
    materialize_all(project, redis_url)
    sql = project.dir / "models" / "user_flags.sql"
    sql.write_text(sql.read_text().replace("is_vip", "not is_vip as is_vip"))
    dbt(project.dir, "build")
    report = check_freshness(
        Registry.from_manifest(project.manifest),
        connect(redis_url),
        now=datetime(2026, 1, 3, 5, tzinfo=UTC),
    )
    assert report.breaches == ["user_flags"]
    assert (
        "is not materialized"
        in report.views[[v.view for v in report.views].index("user_flags")].reasons[0]
    )


def test_cli_json_and_exit_code(built: Any, redis_url: str) -> None:
    materialize_all(built, redis_url)
    common = ["--project-dir", str(built.dir), "--redis-url", redis_url, "--json"]
    ok = CliRunner().invoke(freshness, [*common, "--now", "2026-01-03T05:00:00"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["ok"] is True
    bad = CliRunner().invoke(freshness, [*common, "--now", "2026-01-03T12:00:00"])
    assert bad.exit_code == 1
    assert json.loads(bad.output)["breaches"] == ["user_risk", "user_stats"]
    table = CliRunner().invoke(freshness, [*common[:-1], "--now", "2026-01-03T12:00:00"])
    assert table.exit_code == 1 and "BREACH: user_risk, user_stats" in table.output
