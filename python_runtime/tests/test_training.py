"""Training records: what a training set was built from, and a check naming every feature whose
served version differs from the record's."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from guards_helpers import build_guards, built_once, dbt, duck, materialize_all

from skewless.cli.training import training_record as training_record_cmd
from skewless.definitions.registry import Registry
from skewless.guards.training import check_training_record, training_record, write_training_record
from skewless.online.connection import connect

RECORDED = {
    "user_stats.txn_count",
    "user_stats.amount_sum",
    "user_stats.avg_amount",
    "user_stats.last_country",
    "user_flags.is_vip",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return built_once(tmp_path_factory.mktemp("guards"))


def test_record_holds_views_versions_manifest_hash_and_spine(built: Any) -> None:
    reg = Registry.from_manifest(built.manifest)
    rec = training_record(reg, "training_set", duck(built.duckdb), project_dir=built.dir)
    assert set(rec["features"]) == RECORDED
    assert rec["feature_views"]["user_stats"]["version"] == reg.view("user_stats").version
    assert rec["features"]["user_flags.is_vip"] == reg.view("user_flags").version
    assert rec["manifest_sha256"] == hashlib.sha256(built.manifest.read_bytes()).hexdigest()
    assert rec["row_count"] == 120
    assert rec["spine_timestamp"] == "label_ts"
    assert rec["time_range"] == ["2026-01-02T12:00:00+00:00", "2026-01-04T12:00:00+00:00"]
    assert rec["relation"].endswith('"training_set"')
    assert rec["git_commit"] is None  # the temporary copy is not a git checkout
    json.dumps(rec)  # serialisable as is


def test_record_pins_the_git_commit(tmp_path: Path) -> None:
    project = build_guards(tmp_path)
    git = ["git", "-C", str(project.dir), "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "models", "dbt_project.yml"], check=True)
    subprocess.run([*git, "commit", "-qm", "features"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    rec = training_record(
        Registry.from_manifest(project.manifest),
        "training_set",
        duck(project.duckdb),
        project_dir=project.dir,
    )
    assert rec["git_commit"] == head.stdout.strip()
    assert rec["git_dirty"] is True  # seeds, target/ and the database are untracked


def test_check_is_clean_then_names_features_of_a_changed_definition(
    tmp_path: Path, redis_url: str
) -> None:
    project = build_guards(tmp_path)
    reg = Registry.from_manifest(project.manifest)
    path = write_training_record(
        training_record(reg, "training_set", duck(project.duckdb)), tmp_path / "rec.json"
    )
    assert check_training_record(path, reg) == []
    # the current versions are not materialized yet: not served, so they differ from the record
    diffs = check_training_record(path, reg, connect(redis_url))
    assert {d.feature for d in diffs} == RECORDED
    assert all(d.materialized is False and "not materialized" in d.reason for d in diffs)
    materialize_all(project, redis_url)
    assert check_training_record(path, reg, connect(redis_url)) == []
    # a training record from an older definition of user_stats
    sql = project.dir / "models" / "user_stats.sql"
    sql.write_text(sql.read_text().replace("    amount_sum,", "    amount_sum * 1 as amount_sum,"))
    dbt(project.dir, "build")
    materialize_all(project, redis_url)
    new = Registry.from_manifest(project.manifest)
    diffs = check_training_record(path, new, connect(redis_url))
    assert {d.feature for d in diffs} == {r for r in RECORDED if r.startswith("user_stats.")}
    d = diffs[0]
    assert d.current_version == new.view("user_stats").version != d.recorded_version
    assert d.materialized is True and "definition changed" in d.reason


def test_check_names_removed_views_and_features(built: Any) -> None:
    reg = Registry.from_manifest(built.manifest)
    rec = {
        "features": {
            "gone_view.x": "abc",
            "user_stats.gone": "def",
            "user_stats.txn_count": reg.view("user_stats").version,
        }
    }
    diffs = {d.feature: d.reason for d in check_training_record(rec, reg)}
    assert set(diffs) == {"gone_view.x", "user_stats.gone"}
    assert (
        "no longer exists" in diffs["gone_view.x"] and "no longer has" in diffs["user_stats.gone"]
    )


def test_cli_writes_and_checks(tmp_path: Path, redis_url: str) -> None:
    project = build_guards(tmp_path)
    materialize_all(project, redis_url)
    common = [
        "--project-dir",
        str(project.dir),
        "--redis-url",
        redis_url,
        "--duckdb-path",
        str(project.duckdb),
    ]
    out = tmp_path / "records" / "r.json"
    res = CliRunner().invoke(
        training_record_cmd, [*common, "--model", "training_set", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert "120 rows, 5 features" in res.output
    assert set(json.loads(out.read_text())["features"]) == RECORDED
    res = CliRunner().invoke(training_record_cmd, [*common, "--check", str(out)])
    assert res.exit_code == 0 and "every recorded feature" in res.output
    sql = project.dir / "models" / "user_flags.sql"
    sql.write_text(sql.read_text().replace("is_vip", "not is_vip as is_vip"))
    dbt(project.dir, "build")
    res = CliRunner().invoke(training_record_cmd, [*common, "--check", str(out), "--json"])
    assert res.exit_code == 1
    assert [d["feature"] for d in json.loads(res.output)["differences"]] == ["user_flags.is_vip"]
