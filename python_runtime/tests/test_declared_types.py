"""Declared column types as the runtime reads them from a real dbt manifest: a type that YAML
flow style cut at its comma, key and timestamp columns without a type (refused when definitions
load, naming model and column and the fix), key columns whose declared type is not what dbt
built (refused by materialize before a byte is written), and every type spelling the runtime
knows compared with what DuckDB itself makes of it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from skewless.definitions.registry import Registry
from skewless.errors import ColumnTypeError, DefinitionError, UnsupportedExpression
from skewless.offline.duckdb import canonical_type
from skewless.online.connection import connect
from skewless.online.materialize import materialize
from skewless.sql.types import parse_type

SQL = "select 1::integer as user_id, timestamp '2099-01-01 00:00:00' as ts"
#: model → (extra select, YAML of the model). Flow style on purpose, as a user would write it.
MODELS = {
    "flow_cut": (
        "1.25::decimal(10,2) as amount",
        "    columns:\n"
        "      - {name: user_id, data_type: integer}\n"
        "      - {name: ts, data_type: timestamp}\n"
        "      - {name: amount, data_type: decimal(10,2)}\n",
    ),
    "flow_quoted": (
        "1.25::decimal(10,2) as amount",
        "    columns:\n"
        "      - {name: user_id, data_type: integer}\n"
        "      - {name: ts, data_type: timestamp}\n"
        '      - {name: amount, data_type: "decimal(10,2)"}\n',
    ),
    "key_untyped": (
        "1.5::double as score",
        "    columns:\n"
        "      - {name: user_id}\n"
        "      - {name: ts, data_type: timestamp}\n"
        "      - {name: score, data_type: double}\n",
    ),
    "ts_untyped": (
        "1.5::double as score",
        "    columns:\n"
        "      - {name: user_id, data_type: integer}\n"
        "      - name: ts\n"
        "      - {name: score, data_type: double}\n",
    ),
    "key_mistyped": (
        "1.5::double as score",
        "    columns:\n"
        "      - {name: user_id, data_type: bigint}\n"
        "      - {name: ts, data_type: timestamp}\n"
        "      - {name: score, data_type: double}\n",
    ),
    "ts_mistyped": (
        "1.5::double as score",
        "    columns:\n"
        "      - {name: user_id, data_type: integer}\n"
        "      - {name: ts, data_type: timestamptz}\n"
        "      - {name: score, data_type: double}\n",
    ),
    "pg_spellings": (
        "'x' as tier, 1.5::double as ratio, 1.25::decimal(10,2) as amount, true as flag, "
        "timestamptz '2024-01-01 00:00:00+00' as seen_at",
        "    columns:\n"
        "      - {name: user_id, data_type: int4}\n"
        "      - {name: ts, data_type: timestamp without time zone}\n"
        "      - {name: tier, data_type: character varying(20)}\n"
        "      - {name: ratio, data_type: double precision}\n"
        '      - {name: amount, data_type: "numeric(10,2)"}\n'
        "      - {name: flag, data_type: bool}\n"
        "      - {name: seen_at, data_type: timestamp with time zone}\n",
    ),
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dbt project on DuckDB with one model per case, built by `dbt build` (no tests)."""
    root = tmp_path_factory.mktemp("declared_types") / "types"
    (root / "models").mkdir(parents=True)
    (root / "dbt_project.yml").write_text(
        "name: types\nversion: '1.0'\nconfig-version: 2\nprofile: types\n"
        "flags: {send_anonymous_usage_stats: false}\n"
        "models:\n  types:\n    +materialized: table\n"
    )
    (root / "profiles.yml").write_text(
        "types:\n  target: duckdb\n  outputs:\n    duckdb:\n      type: duckdb\n"
        f"      path: {root / 'types.duckdb'}\n      threads: 1\n"
    )
    yaml = ["version: 2", "models:"]
    for name, (select, columns) in MODELS.items():
        (root / "models" / f"{name}.sql").write_text(f"{SQL}, {select}\n")
        yaml.append(f"  - name: {name}")
        yaml.append("    config: {meta: {skewless: {entity: user_id, timestamp: ts, ttl: 1d}}}")
        yaml.append(columns.rstrip("\n"))
    (root / "models" / "schema.yml").write_text("\n".join(yaml) + "\n")
    dbt = Path(sys.executable).with_name("dbt")
    proc = subprocess.run(
        [str(dbt), "build", "--project-dir", str(root), "--profiles-dir", str(root)],
        capture_output=True,
        text=True,
        env={**os.environ, "TZ": "UTC"},
        timeout=600,
        cwd=root,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return root


@pytest.fixture(scope="module")
def registry(project: Path) -> Registry:
    return Registry.from_manifest(project / "target" / "manifest.json")


def test_dbt_stores_the_cut_type_and_the_rest_as_a_key(project: Path) -> None:
    """What the runtime has to work with: dbt keeps `decimal(10` and a column key `2)`."""
    import json

    manifest = json.loads((project / "target" / "manifest.json").read_text())
    amount = manifest["nodes"]["model.types.flow_cut"]["columns"]["amount"]
    assert amount["data_type"] == "decimal(10" and "2)" in amount


def test_a_type_cut_by_yaml_flow_style_names_model_column_and_fix(
    registry: Registry, project: Path
) -> None:
    message = registry.problems["flow_cut"].message
    assert message.startswith("model `flow_cut`, column `amount`: data_type `decimal(10`")
    assert "YAML flow style" in message and "cut the type at the comma" in message
    assert "a key `2)`" in message
    assert 'quote it: `data_type: "decimal(10,2)"`' in message
    assert "docs/functions.md" not in message
    # quoted, the same type is read whole and the view serves
    assert "flow_quoted" in registry.views
    assert registry.views["flow_quoted"].feature("amount").data_type == "decimal(10,2)"
    with pytest.raises(DefinitionError, match="cut the type at the comma"):
        Registry.from_manifest(project / "target" / "manifest.json", strict=True)


@pytest.mark.parametrize(
    ("model", "column", "role", "example"),
    [
        ("key_untyped", "user_id", "entity key", "data_type: bigint"),
        ("ts_untyped", "ts", "timestamp", "data_type: timestamp"),
    ],
)
def test_key_and_timestamp_columns_need_a_data_type(
    registry: Registry, model: str, column: str, role: str, example: str
) -> None:
    message = registry.problems[model].message
    assert message.startswith(f"model `{model}`, column `{column}` (the {role}): no data_type")
    assert example in message


@pytest.mark.parametrize(
    ("model", "column", "declared", "built"),
    [
        ("key_mistyped", "user_id", "bigint", "INTEGER"),
        ("ts_mistyped", "ts", "timestamptz", "TIMESTAMP"),
    ],
)
def test_key_columns_are_type_checked_at_materialize(
    registry: Registry,
    project: Path,
    redis_url: str,
    model: str,
    column: str,
    declared: str,
    built: str,
) -> None:
    assert model in registry.views  # loads: the mismatch shows only against the built relation
    client = connect(redis_url)
    with pytest.raises(ColumnTypeError) as err:
        materialize(registry, client, project / "types.duckdb", select=[model])
    message = str(err.value)
    assert f"model `{model}`, column `{column}`: declared data_type {declared}" in message
    assert f"dbt built {built}" in message and f"cast({column} as {declared})" in message
    assert client.keys("*") == []  # refused before a byte was written


def test_postgres_spellings_load_check_and_serve(
    registry: Registry, project: Path, redis_url: str
) -> None:
    from datetime import datetime, timezone
    from decimal import Decimal

    from skewless.online.store import FeatureStore

    now = datetime(2099, 1, 1, 12, tzinfo=timezone.utc)  # keys expire at ts + ttl
    view = registry.views["pg_spellings"]
    client = connect(redis_url)
    (result,) = materialize(registry, client, project / "types.duckdb", select=[view.name], now=now)
    assert result.rows == 1
    store = FeatureStore(registry, client, redis_url)
    resp = store.get_online_features(
        [f"pg_spellings.{c}" for c in ("tier", "ratio", "amount", "flag", "seen_at")],
        [{"user_id": "1"}],
        now=now,
    )
    assert resp.values == [
        ["x", 1.5, Decimal("1.25"), True, datetime(2024, 1, 1, tzinfo=timezone.utc)]
    ]


# What DuckDB itself makes of each spelling (`typeof(cast(… as <spelling>))`): the runtime's
# `canonical_type` must agree, and `parse_type` too wherever the request-time compiler supports
# the type. PostgreSQL's `float` is double precision; DuckDB's is FLOAT (4 bytes): DuckDB wins.
SPELLINGS = [
    "character varying", "character varying(20)", "character varying (20)", "character",
    "character(3)", "char", "char(3)", "char varying(3)", "bpchar", "bpchar(3)", "nvarchar",
    "text", "text(10)", "string", "varchar", "varchar(20)",
    "double precision", "float8", "double", "float4", "real", "float", "float(24)", "float(25)",
    "float(53)",
    "timestamp", "timestamp without time zone", "timestamp with time zone", "timestamptz",
    "datetime", "timestamp(6)", "timestamp(6) without time zone", "timestamp(3)", "timestamp(0)",
    "timestamp(9)",
    "numeric", "numeric(10)", "numeric(10,2)", "numeric(10, 2)", "decimal", "decimal(38,0)",
    "dec", "dec(10,2)",
    "int", "integer", "int4", "int32", "signed", "int8", "int64", "long", "bigint", "int2",
    "int16", "short", "smallint", "int1", "tinyint", "hugeint",
    "bool", "boolean", "logical", "date",
]  # fmt: skip


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_each_spelling_means_what_it_means_to_duckdb(spelling: str) -> None:
    import duckdb

    con = duckdb.connect()
    try:
        (duck,) = con.execute(f"select typeof(cast(null as {spelling}))").fetchone()  # type: ignore[misc]
    finally:
        con.close()
    assert canonical_type(spelling) == duck, spelling
    try:
        parsed = str(parse_type(spelling))
    except UnsupportedExpression:
        assert duck.startswith("TIMESTAMP_"), f"{spelling} ({duck}) should parse"
    else:
        assert parsed == duck, spelling


def test_a_float_is_duckdbs_float_not_postgres_double_precision() -> None:
    assert str(parse_type("float")) == "FLOAT" and str(parse_type("double precision")) == "DOUBLE"
    assert canonical_type("float") != canonical_type("float8")


def test_parse_type_names_a_cut_type() -> None:
    with pytest.raises(UnsupportedExpression, match=r'quote it: `data_type: "decimal\(10,2\)"`'):
        parse_type("decimal(10")
