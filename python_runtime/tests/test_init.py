"""`skewless init` as a newcomer runs it: scaffold a fresh folder, `dbt deps && dbt build`,
`skewless materialize`, `skewless get` — real dbt, DuckDB and Redis, every command a subprocess
of the virtualenv's own scripts run from the project folder — and the values served are the ones
DuckDB holds in the built tables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from skewless.cli import main
from skewless.cli.init import dbt_package_dir, project_name

BIN = Path(sys.executable).parent
FEATURES = [
    "customer_stats.order_count",
    "customer_stats.total_amount",
    "customer_stats.avg_amount",
    "customer_stats.last_order_amount",
    "order_risk.amount_to_avg",
    "order_risk.order_number",
]


def run(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert proc.returncode == 0, f"{' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def user_env(redis_url: str) -> dict[str, str]:
    """A shell as a user has it: the virtualenv on PATH, no skewless/dbt settings from the suite."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SKEWLESS_", "DBT_")) and k != "VIRTUAL_ENV"
    }
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["SKEWLESS_REDIS_URL"] = redis_url
    env["DO_NOT_TRACK"] = "1"
    return env


def test_init_build_materialize_get_in_a_fresh_folder(tmp_path: Path, redis_url: str) -> None:
    env = user_env(redis_url)
    run([str(BIN / "skewless"), "init", "shop"], tmp_path, env)
    project = tmp_path / "shop"
    assert (project / "packages.yml").read_text().count(f'local: "{dbt_package_dir()}"') == 1
    run([str(BIN / "dbt"), "deps"], project, env)
    run([str(BIN / "dbt"), "build"], project, env)  # models, seed and every data test
    run([str(BIN / "skewless"), "materialize"], project, env)
    args = [str(BIN / "skewless"), "get", "--features", ",".join(FEATURES), "--json"]
    customers = [1, 3, 4, 42]  # 42 has no orders
    for c in customers:
        args += ["--entity", f"customer_id={c}", "--request", "amount=120.00"]
    served = json.loads(run(args, project, env))

    con = duckdb.connect(str(project / "shop.duckdb"), read_only=True)
    latest = {
        row[0]: row[1:]
        for row in con.execute(
            "SELECT customer_id, order_count, total_amount, avg_amount, last_order_amount, "
            "  CAST('120.00' AS DECIMAL(10,2)) / nullif(avg_amount, 0), "
            "  coalesce(order_count, 0) + 1 "
            "FROM main.customer_stats "
            "QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY ordered_at DESC) = 1"
        ).fetchall()
    }
    trained = con.execute("SELECT count(*), count(DISTINCT order_id) FROM main.training_set")
    assert (
        trained.fetchall() == con.execute("SELECT count(*), count(*) FROM main.orders").fetchall()
    )
    con.close()
    assert sorted(latest) == [1, 2, 3, 4, 5]

    assert [s["entity"] for s in served] == [{"customer_id": str(c)} for c in customers]
    for c, vector in zip(customers, served, strict=True):
        got = vector["features"]
        if c == 42:
            assert got["customer_stats.order_count"] == {
                "value": 0,
                "status": "defaulted",
                "reason": "missing",
                "age_seconds": None,
            }
            assert Decimal(got["customer_stats.total_amount"]["value"]) == 0
            assert got["customer_stats.avg_amount"]["value"] is None
            assert got["order_risk.amount_to_avg"]["value"] is None  # DuckDB: 120 / NULL
            assert got["order_risk.order_number"]["value"] == 1
            continue
        count, total, avg, last, ratio, number = latest[c]
        assert {ref: v["status"] for ref, v in got.items()} == dict.fromkeys(FEATURES, "present")
        assert got["customer_stats.order_count"]["value"] == count
        assert Decimal(got["customer_stats.total_amount"]["value"]) == total
        assert got["customer_stats.total_amount"]["value"] == str(total)  # scale kept: "339.60"
        assert got["customer_stats.avg_amount"]["value"] == avg
        assert got["customer_stats.last_order_amount"]["value"] == str(last)
        assert got["order_risk.amount_to_avg"]["value"] == ratio  # bit for bit, as DuckDB
        assert got["order_risk.order_number"]["value"] == number


def test_init_refuses_a_non_empty_folder_and_never_overwrites(tmp_path: Path) -> None:
    runner = CliRunner()
    (tmp_path / "notes.txt").write_text("mine")
    result = runner.invoke(main, ["init", str(tmp_path)])
    assert result.exit_code == 1
    assert "is not empty (notes.txt); nothing was written" in result.output
    assert "--force" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]

    # --force adds the project next to what is there...
    (tmp_path / "README.md").write_text("my readme")
    result = runner.invoke(main, ["init", str(tmp_path), "--force"])
    assert result.exit_code == 1
    assert "already has README.md; nothing was written" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md", "notes.txt"]
    # ...but only when no file of the project exists
    (tmp_path / "README.md").unlink()
    result = runner.invoke(main, ["init", str(tmp_path), "--force", "--name", "shop"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert "name: shop" in (tmp_path / "dbt_project.yml").read_text()
    # a second init into the same folder clashes on every file and writes nothing
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    result = runner.invoke(main, ["init", str(tmp_path), "--force"])
    assert result.exit_code == 1 and "dbt_project.yml" in result.output
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_init_rejects_bad_names_and_files(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["init", str(tmp_path / "new"), "--name", "My-Project"])
    assert result.exit_code == 1 and "not a valid dbt project name" in result.output
    assert not (tmp_path / "new").exists()
    (tmp_path / "file").write_text("x")
    result = runner.invoke(main, ["init", str(tmp_path / "file")])
    assert result.exit_code == 1 and "is a file" in result.output
    assert project_name(tmp_path / "My-Features 2") == "my_features_2"
    assert project_name(tmp_path / "2024") == "p_2024"


def test_help_shows_an_example_and_the_package_path_is_the_dbt_package() -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["init", "--help"])
    assert result.exit_code == 0
    assert "  Example:\n    skewless init my_features && cd my_features\n" in result.output
    assert "dbt deps && dbt build" in result.output
    result = runner.invoke(main, ["init", "--print-package-path"])
    assert result.exit_code == 0
    root = Path(result.output.strip())
    assert root == dbt_package_dir()
    assert "name: skewless" in (root / "dbt_project.yml").read_text()
    assert (root / "macros" / "point_in_time_join.sql").is_file()
    assert (root / "tests" / "generic" / "valid_feature_view.sql").is_file()


@pytest.mark.parametrize("item", ["dbt_project.yml", "macros", "tests", "models"])
def test_the_bundled_dbt_package_mirrors_the_repository_root(item: str) -> None:
    """`skewless/dbt_package/*` (copied into wheels) must be the repository's own package."""
    bundled = Path(__file__).resolve().parents[1] / "skewless" / "dbt_package" / item
    root = Path(__file__).resolve().parents[2] / item
    assert bundled.resolve() == root.resolve()
