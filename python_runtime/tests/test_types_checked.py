"""Declared `data_type`s checked where they can first be checked (issue 9, item 1).

- `materialize` compares every declared type with the type DuckDB reports for the column dbt
  built, before it writes anything to Redis: a HUGEINT `sum()` or a DOUBLE `avg()` declared
  `bigint`, or a VARCHAR declared `integer`, is one `ColumnTypeError` naming model, column, both
  types and the fix; the CLI prints it as one line and exits 1.
- A column `default` that does not fit its declared type fails when definitions are read (the
  manifest reader, so `skewless check`, `features` and `get` all see it).

Real dbt (tests/projects/types_checked), real DuckDB, real Redis.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis

from skewless import FeatureStore
from skewless.definitions.manifest import Manifest, load_manifest, read_feature_views
from skewless.definitions.registry import Registry
from skewless.errors import ColumnTypeError, DefinitionError
from skewless.offline.duckdb import canonical_type
from skewless.online.materialize import materialize

PROJECT = Path(__file__).parent / "projects" / "types_checked"
NOON = datetime(2099, 1, 1, 12, 0, tzinfo=timezone.utc)
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Built:
    dir: Path
    manifest: Path
    duckdb: Path


def dbt(command: str, project: Path, db: Path) -> None:
    """`dbt <command>` in a subprocess (dbt-duckdb keeps the file attached in its process)."""
    proc = subprocess.run(
        [
            str(BIN / "dbt"), command,
            "--project-dir", str(project),
            "--profiles-dir", str(project),
            "--target-path", str(project / "target"),
            "--log-path", str(project / "logs"),
        ],
        env={**os.environ, "SKEWLESS_DUCKDB_PATH": str(db), "TZ": "UTC"},
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"dbt {command} failed:\n{proc.stdout}\n{proc.stderr}")


def copy_project(dest: Path) -> Path:
    shutil.copytree(PROJECT, dest, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb"))
    return dest


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    project = copy_project(tmp_path_factory.mktemp("types") / "types_checked")
    db = project / "types_checked.duckdb"
    dbt("build", project, db)
    return Built(project, project / "target" / "manifest.json", db)


@pytest.fixture()
def client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


def test_the_fixture_builds_the_types_the_yaml_disagrees_with(built: Built) -> None:
    import duckdb

    con = duckdb.connect(str(built.duckdb), read_only=True)
    try:
        huge = {r[0]: r[1] for r in con.execute("DESCRIBE user_qty_huge").fetchall()}
        assert huge["qty_total"] == "HUGEINT"
        double = {r[0]: r[1] for r in con.execute("DESCRIBE user_qty_double").fetchall()}
        assert double["qty_avg"] == "DOUBLE" and double["country"] == "VARCHAR"
    finally:
        con.close()


def test_hugeint_declared_bigint_is_refused_before_anything_is_written(
    built: Built, client: redis.Redis
) -> None:
    registry = Registry.from_manifest(built.manifest)
    with pytest.raises(ColumnTypeError) as e:
        materialize(registry, client, built.duckdb, select=["user_qty_huge"], now=NOON)
    msg = str(e.value)
    assert "\n" not in msg
    for part in (
        "model `user_qty_huge`",
        "column `qty_total`",
        "declared data_type bigint",
        "built HUGEINT",
        "`cast(qty_total as bigint)`",
        "`data_type: hugeint`",
    ):
        assert part in msg, msg
    assert isinstance(e.value, DefinitionError)
    assert client.dbsize() == 0  # not even a generation counter
    assert not list(client.scan_iter(match="*user_qty_huge*"))


def test_double_and_varchar_declared_integers_are_refused(
    built: Built, client: redis.Redis
) -> None:
    registry = Registry.from_manifest(built.manifest)
    with pytest.raises(ColumnTypeError) as e:
        materialize(registry, client, built.duckdb, select=["user_qty_double"], now=NOON)
    msg = str(e.value)
    assert "column `qty_avg`: declared data_type bigint but dbt built DOUBLE" in msg
    assert "column `country`: declared data_type integer but dbt built VARCHAR" in msg
    assert "`data_type: varchar`" in msg and "`cast(country as integer)`" in msg
    assert client.dbsize() == 0


def test_one_mismatching_view_stops_the_run_before_any_view_is_written(
    built: Built, client: redis.Redis
) -> None:
    """All views selected: the matching one (sorted first) is not loaded either."""
    registry = Registry.from_manifest(built.manifest)
    with pytest.raises(ColumnTypeError) as e:
        materialize(registry, client, built.duckdb, now=NOON)
    assert "user_qty_huge" in str(e.value) and "user_qty_double" in str(e.value)
    assert "user_totals" not in str(e.value)
    assert client.dbsize() == 0


def test_matching_types_in_other_spellings_materialize_and_serve(
    built: Built, client: redis.Redis, redis_url: str
) -> None:
    registry = Registry.from_manifest(built.manifest)
    (result,) = materialize(registry, client, built.duckdb, select=["user_totals"], now=NOON)
    assert result.rows == 2
    store = FeatureStore.from_dbt(built.dir, redis_url=redis_url)
    resp = store.get_online_features(
        ["user_totals.n_orders", "user_totals.qty_total", "user_totals.spend"],
        entities=[{"user_id": 1}, {"user_id": 2}],
        now=NOON,
    )
    rows = resp.to_dicts()
    assert [r["user_totals.qty_total"] for r in rows] == [5, 5]
    assert [r["user_totals.n_orders"] for r in rows] == [2, 1]
    assert [r["user_totals.spend"] for r in rows] == [Decimal("4.00"), Decimal("4.00")]


def _cli(built: Built, redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SKEWLESS_PROJECT_DIR": str(built.dir),
        "SKEWLESS_REDIS_URL": redis_url,
        "SKEWLESS_DUCKDB_PATH": str(built.duckdb),
    }
    return subprocess.run(
        [str(BIN / "skewless"), *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_cli_materialize_prints_one_line_and_exits_1(
    built: Built, client: redis.Redis, redis_url: str
) -> None:
    proc = _cli(
        built, redis_url, "materialize", "--select", "user_qty_huge", "--now", "2099-01-01T12:00:00"
    )
    assert proc.returncode == 1, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "decimal.Decimal" not in proc.stderr
    assert "user_qty_huge" in lines[0] and "qty_total" in lines[0] and "HUGEINT" in lines[0]
    assert "cast(qty_total as bigint)" in lines[0] and "data_type: hugeint" in lines[0]
    assert client.dbsize() == 0

    ok = _cli(
        built, redis_url, "materialize", "--select", "user_totals", "--now", "2099-01-01T12:00:00"
    )
    assert ok.returncode == 0, ok.stderr


@pytest.mark.parametrize(
    ("declared", "built_as", "compatible"),
    [
        ("bigint", "1::bigint", True),
        ("int8", "1::bigint", True),
        ("long", "1::bigint", True),
        ("INTEGER", "1::int", True),
        ("int4", "1::int", True),
        ("bigint", "sum(1)", False),  # HUGEINT
        ("hugeint", "sum(1)", True),
        ("int128", "sum(1)", True),
        ("bigint", "1::integer", False),
        ("integer", "1::bigint", False),
        ("bigint", "1::ubigint", False),
        ("bigint", "3.4::double", False),
        ("double", "3.4::double", True),
        ("float8", "3.4::double", True),
        ("double precision", "3.4::double", True),
        ("double", "3.4::float", False),
        ("real", "3.4::float", True),
        ("float4", "3.4::float", True),
        ("numeric(10,2)", "1::decimal(10,2)", True),
        ("decimal(10, 2)", "1::decimal(10,2)", True),
        ("decimal(18,2)", "1::decimal(10,2)", False),
        ("decimal(10,3)", "1::decimal(10,2)", False),
        ("decimal", "1::decimal", True),  # DuckDB's default width, DECIMAL(18,3)
        ("decimal(18,3)", "1::decimal", True),
        ("bigint", "1.5", False),  # a decimal literal
        ("text", "'a'", True),
        ("varchar", "'a'", True),
        ("string", "'a'", True),
        ("varchar(20)", "'a'", True),
        ("integer", "'7'", False),
        ("bool", "true", True),
        ("date", "date '2024-01-01'", True),
        ("timestamp", "date '2024-01-01'", False),
        ("timestamp", "timestamp '2024-01-01'", True),
        ("datetime", "timestamp '2024-01-01'", True),
        ("timestamptz", "timestamptz '2024-01-01 00:00:00+00'", True),
        ("timestamp with time zone", "timestamptz '2024-01-01 00:00:00+00'", True),
        ("timestamp", "timestamptz '2024-01-01 00:00:00+00'", False),
        ("timestamptz", "timestamp '2024-01-01'", False),
        ("time", "time '10:00'", True),
        ("blob", "'a'::blob", True),
        ("uuid", "uuid()", True),
        ("uhugeint", "1::uhugeint", True),
        ("hugeint", "1::uhugeint", False),
        ("timestamp_ns", "'2024-01-01'::timestamp_ns", True),
        ("timestamp", "'2024-01-01'::timestamp_ns", False),
    ],
)
def test_declared_and_built_types_compatible_only_when_the_same_duckdb_type(
    declared: str, built_as: str, compatible: bool
) -> None:
    import duckdb

    con = duckdb.connect()
    try:
        (actual,) = [r[1] for r in con.execute(f"DESCRIBE SELECT {built_as} AS c").fetchall()]
    finally:
        con.close()
    assert (canonical_type(declared) == canonical_type(actual)) is compatible, (declared, actual)


# ---------------------------------------------------------------------------------------------
# (b) defaults that do not fit their column's type fail when definitions load


def test_default_4_7_on_a_bigint_fails_at_load_and_in_check(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "types_checked")
    schema = project / "models" / "schema.yml"
    text = schema.read_text()
    assert "default: 0  # DEFAULT_MARKER" in text
    schema.write_text(
        text.replace("default: 0  # DEFAULT_MARKER", "default: 4.7  # DEFAULT_MARKER")
    )
    dbt("compile", project, project / "types_checked.duckdb")

    with pytest.raises(ColumnTypeError) as e:
        Registry.from_manifest(project / "target" / "manifest.json", strict=True)
    msg = str(e.value)
    for part in ("model `user_totals`", "column `qty_total`", "default 4.7", "data_type bigint"):
        assert part in msg, msg

    env = {**os.environ, "SKEWLESS_PROJECT_DIR": str(project)}
    # check fails; features lists the view as disabled (exit 0) unless --strict
    for command, code in ((["check"], 1), (["features"], 0), (["features", "--strict"], 1)):
        proc = subprocess.run(
            [str(BIN / "skewless"), *command], env=env, capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == code, (command, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr
        out = proc.stdout + proc.stderr
        assert "column `qty_total`" in out and "4.7" in out, out


def _with_column(manifest: Manifest, data_type: str, default: Any) -> Manifest:
    """The built manifest with `user_totals.qty_total` re-declared (type and default)."""
    data: dict[str, Any] = {"metadata": {}, "nodes": copy.deepcopy(dict(manifest.nodes))}
    node = data["nodes"]["model.types_checked.user_totals"]
    col = node["columns"]["qty_total"]
    col["data_type"] = data_type
    col.setdefault("config", {}).setdefault("meta", {})["skewless"] = {"default": default}
    col["meta"] = {}
    return Manifest(json.loads(json.dumps(data)))


@pytest.mark.parametrize(
    ("data_type", "default", "why"),
    [
        ("bigint", 4.7, "not an integer"),
        ("integer", "abc", "invalid literal"),
        ("bigint", True, "not an integer"),
        ("tinyint", 300, "out of range for TINYINT"),
        ("ubigint", -1, "out of range for UBIGINT"),
        ("date", "2024-13-01", "month must be in 1..12"),
        ("decimal(10,2)", 1.234, "would be stored as 1.23"),
        ("decimal(3,2)", 12.5, "Could not cast"),
        ("boolean", "yes", "not true/false"),
        ("timestamp", "tomorrow", "Invalid isoformat"),
    ],
)
def test_a_default_that_does_not_fit_its_type_fails_when_definitions_load(
    built: Built, data_type: str, default: Any, why: str
) -> None:
    manifest = _with_column(load_manifest(built.manifest), data_type, default)
    with pytest.raises(ColumnTypeError) as e:
        read_feature_views(manifest)
    msg = str(e.value)
    for part in (
        "model `user_totals`",
        "column `qty_total`",
        f"default {default!r}",
        f"data_type {data_type}",
        why,
    ):
        assert part in msg, msg


@pytest.mark.parametrize(
    ("data_type", "default"),
    [
        ("bigint", 0),
        ("bigint", 4.0),
        ("tinyint", 127),
        ("hugeint", 2**100),
        ("decimal(10,2)", 1.5),
        ("decimal(10,2)", "12.30"),
        ("double", 4.7),
        ("varchar", "unknown"),
        ("date", "2024-02-29"),
        ("timestamp", "2024-02-29 12:00:00"),
        ("boolean", False),
        ("bigint", None),
    ],
)
def test_a_default_that_fits_loads(built: Built, data_type: str, default: Any) -> None:
    views = read_feature_views(_with_column(load_manifest(built.manifest), data_type, default))
    assert views["user_totals"].feature("qty_total").default == default
