"""The `skewless` CLI (click's runner, in process) against real Redis, DuckDB and dbt output."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from serving_fixtures import NOON, BuiltProject, build_serving_project

from skewless.cli import main


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuiltProject:
    return build_serving_project(tmp_path_factory.mktemp("serving-build"))


@pytest.fixture()
def env(built: BuiltProject, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "SKEWLESS_PROJECT_DIR": str(built.dir),
        "SKEWLESS_REDIS_URL": redis_url,
        "SKEWLESS_DUCKDB_PATH": str(built.duckdb),
        "SKEWLESS_TARGET_PATH": "target",
    }
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    return values


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["materialize"],
        ["get"],
        ["features"],
        ["freshness"],
        ["consistency"],
        ["training-record"],
    ],
)
def test_help_shows_an_example(command: list[str]) -> None:
    code, out, _ = run(*command, "--help")
    assert code == 0 and "Example:" in out and "skewless" in out


def test_materialize_get_features_round(env: dict[str, str]) -> None:
    now = NOON.isoformat()
    code, out, err = run("get", "-e", "user_id=1", "-f", "all_types.s", "--now", now)
    assert code == 1 and "skewless materialize --select all_types" in err

    code, out, _ = run("features", "--json")
    assert code == 0 and {r["online_status"] for r in json.loads(out)} == {"never"}

    code, out, err = run("materialize", "--select", "all_types,pairs", "--now", now, "--json")
    assert code == 0, err
    loaded = {r["view"]: r for r in json.loads(out)}
    assert loaded["all_types"]["rows"] == 4 and loaded["pairs"]["rows"] == 2
    assert "rows/s" in err  # the summary goes to stderr

    code, out, _ = run(
        "get", "--entity", "user_id=1", "--entity", "user_id=3",
        "--features", "all_types.dec,all_types.f_dbl", "-f", "all_types.t_tz", "--now", now, "--json",
    )  # fmt: skip
    assert code == 0
    first, third = json.loads(out)
    assert first["entity"] == {"user_id": "1"}
    assert first["features"]["all_types.dec"] == {
        "value": "12345678901234.5678",
        "status": "present",
        "reason": None,
        "age_seconds": 7200.0,
    }
    assert first["features"]["all_types.f_dbl"]["value"] == "NaN"
    assert first["features"]["all_types.t_tz"]["value"] == "2024-02-29T07:04:56.123456+00:00"
    assert third["features"]["all_types.f_dbl"]["value"] == "-Infinity"

    code, out, _ = run("get", "-e", "a=12,b=3", "-f", "pairs.label", "--now", now)
    assert code == 0
    assert "a=12,b=3" in out and "'twelve-three'" in out and "present" in out

    code, out, _ = run("features")
    lines = {line.split()[0]: line for line in out.splitlines()[2:]}
    assert "current" in lines["pairs"] and "current" not in lines["events"]
    code, out, _ = run("features", "--json")
    by_view = {r["view"]: r for r in json.loads(out)}
    assert by_view["all_types"]["materialized_version"] == by_view["all_types"]["version"]
    assert by_view["all_types"]["rows"] == 4 and by_view["stale_null"]["on_stale"] == "null"
    assert (
        by_view["stale_null"]["freshness"] == "1h" and by_view["events"]["online_status"] == "never"
    )


def test_command_line_options_win_over_environment(env: dict[str, str]) -> None:
    bad = "redis://user:Sup3rSecret@127.0.0.1:1/0"
    code, _, err = run("--redis-url", bad, "get", "-e", "user_id=1", "-f", "all_types.s")
    assert code == 1 and "cannot reach Redis" in err
    assert "Sup3rSecret" not in err and "user:***@127.0.0.1:1" in err
    # given after the command, too
    code, _, err = run("features", "--redis-url", bad)
    assert code == 1 and "Sup3rSecret" not in err and "cannot reach Redis" in err
    # and the environment still works when nothing is given
    code, out, err = run("materialize", "-s", "pairs", "--now", NOON.isoformat())
    assert code == 0 and "pairs" in out, err


def test_bad_arguments_are_clear(env: dict[str, str]) -> None:
    code, _, err = run("get", "-e", "user_id", "-f", "all_types.s")
    assert code == 2 and "KEY=VALUE" in err
    code, _, err = run("get", "-e", "user_id=1", "-f", "nope.x")
    assert code == 1 and "no feature view named `nope`" in err
    code, _, err = run("materialize", "--incremental", "--lookback", "soon")
    assert code == 2 and "duration" in err
