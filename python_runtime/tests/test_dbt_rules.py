"""One rule set: `skewless.valid_feature_view` (dbt) and the runtime reject the same definitions.

A table of feature views, each broken by one rule the runtime enforces (at load: the manifest
reader; at materialize: the declared vs built type check), plus valid ones. They are written as
one real dbt project on DuckDB that installs the package, built with one `dbt build`; then for
each view the dbt test's result and what dbt printed, and the runtime's `Registry` (and, for the
type rules, `type_mismatches` on the same DuckDB file) are compared: both reject it, naming the
same model and key or column, or both accept it. A model contract (`contract: {enforced: true}`)
on a mismatching view fails `dbt build` itself. Real dbt, real DuckDB; no mocks.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO
from test_integration_dbt import _dbt

from skewless.definitions.registry import Registry
from skewless.offline.duckdb import relation_column_types, type_mismatches

pytestmark = [pytest.mark.slow]

KEYS = [
    {"name": "user_id", "data_type": "integer"},
    {"name": "updated_at", "data_type": "timestamp"},
]
SQL = "select 1::integer as user_id, timestamp '2024-01-01 00:00:00' as updated_at"
META = {"entity": "user_id", "timestamp": "updated_at", "ttl": "1d"}
WINDOW_META = {
    "kind": "window",
    "entity": "user_id",
    "timestamp": "updated_at",
    "windows": ["1h", "1d"],
    "aggregations": [{"column": "score", "functions": ["count", "sum", "max"]}],
}


@dataclass(frozen=True)
class Case:
    """A feature view: `words` are what both rejections must name (empty: both accept it);
    `stage` is where the runtime rejects it (`load` or `materialize`)."""

    name: str
    words: tuple[str, ...]
    meta: Any = field(default_factory=lambda: dict(META))
    columns: list[dict[str, Any]] = field(
        default_factory=lambda: [*KEYS, {"name": "score", "data_type": "double"}]
    )
    select: str = "1.5::double as score"
    stage: str = "load"
    contract: bool = False


def _meta(**changes: Any) -> dict[str, Any]:
    meta = {**META, **changes}
    return {k: v for k, v in meta.items() if v is not None}


def _col(name: str, data_type: str | None, **skewless: Any) -> dict[str, Any]:
    col: dict[str, Any] = {"name": name}
    if data_type is not None:
        col["data_type"] = data_type
    if skewless:
        col["config"] = {"meta": {"skewless": skewless}}
    return col


CASES = [
    # valid: both accept
    Case(
        "ok_all_keys",
        (),
        meta=_meta(available_after="1h30m", freshness="2h", on_stale="default"),
        columns=[
            *KEYS,
            _col("score", "double", default=-1.5),
            _col("tier", "varchar", default="a"),
        ],
        select="1.5::double as score, 'x' as tier",
    ),
    Case(
        "ok_aliases",
        (),
        meta=_meta(entity=["user_id", "k"]),
        columns=[
            {"name": "user_id", "data_type": "int4"},
            {"name": "k", "data_type": "text"},
            {"name": "updated_at", "data_type": "timestamp without time zone"},
            _col("total", "hugeint"),
            _col("amount", "numeric(10,2)", default=12.5),
            _col("ratio", "float8", default=1),
            _col("seen_at", "timestamptz", default="2024-01-01 00:00:00+00:00"),
            _col("day", "date", default="2024-02-29"),
            _col("n", "int8", default=7),
            _col("flag", "bool", default=True),
        ],
        select="'k' as k, sum(1::bigint) as total, 1.25::decimal(10,2) as amount, 1.5::double as "
        "ratio, timestamptz '2024-01-01 00:00:00+00' as seen_at, date '2024-01-01' as day, "
        "1::bigint as n, true as flag",
    ),
    Case("ok_contract", (), contract=True),
    # meta.skewless rules (runtime: definitions/manifest.py, durations.py)
    Case("bad_meta_not_mapping", ("meta.skewless",), meta="user_id"),
    Case("bad_unknown_key", ("colour",), meta=_meta(colour="red")),
    Case("bad_kind", ("kind", "on_demand", "window"), meta=_meta(kind="table")),
    # window views (kind: window): their own rules (runtime: definitions/windows.py)
    Case("ok_window", (), meta=WINDOW_META),
    Case(
        "bad_window_not_longer_than_available_after",
        ("window 1h", "available_after"),
        meta={**WINDOW_META, "available_after": "2h", "windows": ["1h", "1d"]},
    ),
    Case("ok_window_hop", (), meta={**WINDOW_META, "hop": "30m"}),
    Case(
        "bad_window_hop_not_a_duration",
        ("meta.skewless.hop", "not a positive duration"),
        meta={**WINDOW_META, "hop": "often"},
    ),
    Case(
        "bad_window_shorter_than_hop",
        ("window 1h is shorter than hop", "2h"),
        meta={**WINDOW_META, "hop": "2h"},
    ),
    Case(
        "bad_window_ttl",
        ("unknown key(s)", "ttl"),
        meta={**WINDOW_META, "ttl": "1d"},
    ),
    Case(
        "bad_window_column_not_declared",
        ("amount", "not declared"),
        meta={**WINDOW_META, "aggregations": [{"column": "amount", "functions": ["sum"]}]},
    ),
    Case("bad_entity_missing", ("meta.skewless.entity",), meta=_meta(entity=None)),
    Case(
        "bad_entity_repeated", ("meta.skewless.entity",), meta=_meta(entity=["user_id", "user_id"])
    ),
    Case("bad_timestamp_missing", ("meta.skewless.timestamp",), meta=_meta(timestamp=None)),
    Case(
        "bad_timestamp_is_entity",
        ("meta.skewless.timestamp", "updated_at"),
        meta=_meta(entity=["user_id", "updated_at"]),
    ),
    Case("bad_ttl", ("meta.skewless.ttl", "1h30m"), meta=_meta(ttl="30 days")),
    Case("bad_available_after", ("meta.skewless.available_after",), meta=_meta(available_after=5)),
    Case("bad_freshness", ("meta.skewless.freshness",), meta=_meta(freshness="soon")),
    Case("bad_on_stale", ("meta.skewless.on_stale", "reject"), meta=_meta(on_stale="drop")),
    Case("bad_on_stale_no_freshness", ("on_stale", "freshness"), meta=_meta(on_stale="null")),
    Case(
        "bad_on_stale_default_no_default",
        ("on_stale", "default", "['tier']"),
        meta=_meta(freshness="2h", on_stale="default"),
        columns=[*KEYS, _col("score", "double", default=0), _col("tier", "varchar")],
        select="1.5::double as score, 'x' as tier",
    ),
    # columns declared in the YAML, with a data_type
    Case(
        "bad_key_not_declared",
        ("['updated_at']", "named in meta.skewless"),
        columns=[KEYS[0], _col("score", "double")],
    ),
    Case("bad_no_columns_declared", ("user_id", "updated_at", "declare"), columns=[]),
    Case("bad_no_data_type", ("`score`", "no data_type"), columns=[*KEYS, _col("score", None)]),
    Case("bad_no_feature_columns", ("feature columns",), columns=list(KEYS), select=""),
    # column defaults fit their declared types
    Case(
        "bad_default_bigint",
        ("`n`", "default 4.7", "bigint"),
        columns=[*KEYS, _col("n", "bigint", default=4.7)],
        select="1::bigint as n",
    ),
    Case(
        "bad_default_tinyint",
        ("`n`", "default 300", "tinyint"),
        columns=[*KEYS, _col("n", "tinyint", default=300)],
        select="1::tinyint as n",
    ),
    Case(
        "bad_default_integer_text",
        ("`n`", "default 'abc'", "integer"),
        columns=[*KEYS, _col("n", "integer", default="abc")],
        select="1::integer as n",
    ),
    Case(
        "bad_default_decimal_scale",
        ("`amount`", "default 1.234", "decimal(10,2)"),
        columns=[*KEYS, _col("amount", "decimal(10,2)", default=1.234)],
        select="1.25::decimal(10,2) as amount",
    ),
    Case(
        "bad_default_date",
        ("`day`", "default '2024-13-01'", "date"),
        columns=[*KEYS, _col("day", "date", default="2024-13-01")],
        select="date '2024-01-01' as day",
    ),
    # declared vs built (runtime: offline/duckdb.py, at materialize)
    Case(
        "bad_type_hugeint",
        ("`n`", "bigint", "HUGEINT", "cast(n as bigint)"),
        columns=[*KEYS, _col("n", "bigint")],
        select="sum(1::bigint) as n",
        stage="materialize",
    ),
    Case(
        "bad_type_double",
        ("`n`", "bigint", "DOUBLE"),
        columns=[*KEYS, _col("n", "bigint")],
        select="3.4::double as n",
        stage="materialize",
    ),
    Case(
        "bad_type_varchar",
        ("`code`", "integer", "VARCHAR"),
        columns=[*KEYS, _col("code", "integer")],
        select="'7' as code",
        stage="materialize",
    ),
    Case(
        "bad_type_decimal_width",
        ("`amount`", "decimal(18,2)", "DECIMAL(10,2)"),
        columns=[*KEYS, _col("amount", "decimal(18,2)")],
        select="1.25::decimal(10,2) as amount",
        stage="materialize",
    ),
    Case(
        "bad_type_key",
        ("`user_id`", "bigint", "INTEGER"),
        columns=[{"name": "user_id", "data_type": "bigint"}, KEYS[1], _col("score", "double")],
        stage="materialize",
    ),
    Case(
        "bad_column_not_built",
        ("`ghost`", "no such column"),
        columns=[*KEYS, _col("score", "double"), _col("ghost", "double")],
        stage="materialize",
    ),
]
# Once a gap: PostgreSQL's `character varying` (what its catalog reports for varchar) is VARCHAR
# for the dbt test and, since the runtime learnt DuckDB's aliases (sql/types.py), for the runtime.
GAPS = [
    pytest.param(
        Case(
            "gap_character_varying",
            (),
            columns=[*KEYS, _col("tier", "character varying")],
            select="'x' as tier",
        ),
        id="gap_character_varying",
    )
]
FLOW_STYLE = "bad_flow_style_decimal"
CONTRACT_BROKEN = Case(
    "bad_contract_hugeint",
    ("n", "HUGEINT", "BIGINT"),
    columns=[*KEYS, _col("n", "bigint")],
    select="sum(1::bigint) as n",
    contract=True,
)


def _write_project(root: Path) -> Path:
    """One dbt project (DuckDB) installing the package, one model per case, each tested."""
    project = root / "rules"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text(
        "name: rules\nversion: '1.0'\nconfig-version: 2\nprofile: rules\n"
        "flags: {send_anonymous_usage_stats: false}\n"
        "models:\n  rules:\n    +materialized: table\n"
    )
    (project / "profiles.yml").write_text(
        "rules:\n  target: duckdb\n  outputs:\n    duckdb:\n      type: duckdb\n"
        f"      path: {project / 'rules.duckdb'}\n      threads: 2\n"
        "      settings: {TimeZone: UTC}\n"
    )
    (project / "packages.yml").write_text(f"packages:\n  - local: {REPO}\n")
    models = []
    for case in [*CASES, *(g.values[0] for g in GAPS), CONTRACT_BROKEN]:
        select = f"{SQL}, {case.select}" if case.select else SQL
        (project / "models" / f"{case.name}.sql").write_text(select + "\n")
        config: dict[str, Any] = {"meta": {"skewless": case.meta}}
        if case.contract:
            config["contract"] = {"enforced": True}
        model: dict[str, Any] = {
            "name": case.name,
            "config": config,
            "data_tests": ["skewless.valid_feature_view"],
        }
        if case.columns:
            model["columns"] = case.columns
        models.append(model)
    # JSON is YAML: no quoting surprises (flow-style commas, `1d`, `on`)
    (project / "models" / "_rules.yml").write_text(json.dumps({"version": 2, "models": models}))
    # ... except on purpose: YAML flow style cuts `decimal(10,2)` at the comma
    (project / "models" / f"{FLOW_STYLE}.sql").write_text(f"{SQL}, 1.25::decimal(10,2) as amount\n")
    (project / "models" / "_flow_style.yml").write_text(
        f"version: 2\nmodels:\n  - name: {FLOW_STYLE}\n"
        "    config: {meta: {skewless: {entity: user_id, timestamp: updated_at}}}\n"
        "    data_tests: [skewless.valid_feature_view]\n"
        "    columns:\n"
        "      - {name: user_id, data_type: integer}\n"
        "      - {name: updated_at, data_type: timestamp}\n"
        "      - {name: amount, data_type: decimal(10,2)}\n"
    )
    return project


@dataclass(frozen=True)
class Built:
    project: Path
    stdout: str
    results: dict[str, dict[str, Any]]
    registry: Registry


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    project = _write_project(tmp_path_factory.mktemp("dbt_rules"))
    env = {"NO_COLOR": "1"}
    deps = _dbt(project, env, "deps")
    assert deps.returncode == 0, deps.stdout + deps.stderr
    build = _dbt(project, env, "build", "--target-path", str(project / "target"))
    assert build.returncode == 1, build.stdout[-4000:] + build.stderr[-2000:]  # failing tests
    run = json.loads((project / "target" / "run_results.json").read_text())
    results = {r["unique_id"]: r for r in run["results"]}
    registry = Registry.from_manifest(project / "target" / "manifest.json")
    return Built(project, build.stdout, results, registry)


def test_a_data_type_cut_by_yaml_flow_style_is_named(built: Built) -> None:
    """`{name: amount, data_type: decimal(10,2)}` is `decimal(10` to YAML: dbt says why; the
    runtime refuses it when definitions load, saying the same (and the quoted fix)."""
    assert _test_result(built, FLOW_STYLE)["status"] == "fail"
    (printed,) = _printed(built, FLOW_STYLE)
    assert "column `amount`: data_type decimal(10 has unbalanced parentheses" in printed
    assert "quote it" in printed
    case = Case(FLOW_STYLE, (), stage="materialize")
    (runtime,) = _runtime_problems(built, case)
    assert "column `amount`" in runtime and "decimal(10" in runtime and "quote it" in runtime


def _test_result(built: Built, model: str) -> dict[str, Any]:
    prefix = f"test.rules.skewless_valid_feature_view_{model}_."
    found = [r for uid, r in built.results.items() if uid.startswith(prefix)]
    assert len(found) == 1, f"valid_feature_view on {model} did not run once: {found}"
    return found[0]


def _printed(built: Built, model: str) -> list[str]:
    """The lines dbt printed about `model` (the test's warnings: one per problem)."""
    return [
        line
        for line in built.stdout.splitlines()
        if "skewless.valid_feature_view" in line and f"model `{model}`" in line
    ]


def _runtime_problems(built: Built, case: Case) -> list[str]:
    """What the runtime says about the view: its load problem, else its materialize problems."""
    if case.name in built.registry.problems:
        return [built.registry.problems[case.name].message]
    if case.name in built.registry.windows:
        return []  # a window view has no materialize-time rules yet (no online serving)
    view = built.registry.views[case.name]
    import duckdb

    con = duckdb.connect(str(built.project / "rules.duckdb"), read_only=True)
    try:
        return type_mismatches(view, relation_column_types(con, view))
    finally:
        con.close()


@pytest.mark.parametrize("case", [*(pytest.param(c, id=c.name) for c in CASES), *GAPS])
def test_dbt_and_runtime_agree(built: Built, case: Case) -> None:
    dbt_result = _test_result(built, case.name)
    printed = _printed(built, case.name)
    runtime = _runtime_problems(built, case)
    if not case.words:
        assert dbt_result["status"] == "pass", (dbt_result["message"], printed)
        assert runtime == [], runtime
        assert printed == []
        return
    assert dbt_result["status"] == "fail", f"dbt accepted {case.name}"
    assert runtime, f"the runtime accepted {case.name}"
    # the runtime rejects it where the case says
    assert (case.name in built.registry.problems) == (case.stage == "load"), runtime
    # dbt printed the reason (not only "Got 1 result"), and both name the model and key/column
    assert printed, f"dbt printed no reason for {case.name}:\n{built.stdout[-3000:]}"
    for word in case.words:
        assert any(word in line for line in printed), f"dbt: {word!r} not in {printed}"
        assert any(word in message for message in runtime), f"runtime: {word!r} not in {runtime}"
    assert any(f"`{case.name}`" in message for message in runtime), runtime


def test_type_mismatch_message_is_the_runtimes(built: Built) -> None:
    """The dbt test prints the runtime's own sentence for a declared vs built type mismatch."""
    case = next(c for c in CASES if c.name == "bad_type_hugeint")
    (runtime,) = _runtime_problems(built, case)
    printed = _printed(built, case.name)
    assert len(printed) == 1
    assert printed[0].endswith("  skewless.valid_feature_view: " + runtime), (
        printed[0],
        runtime,
    )


def test_failing_rows_carry_the_messages(built: Built) -> None:
    """The test's failing rows are the same messages, one per problem (store_failures shows them)."""
    import duckdb

    result = _test_result(built, "bad_on_stale_default_no_default")
    compiled = Path(built.project / "target" / "compiled").rglob(
        "skewless_valid_feature_view_bad_on_stale_default_no_default_.sql"
    )
    sql = next(compiled).read_text()
    con = duckdb.connect(str(built.project / "rules.duckdb"), read_only=True)
    try:
        rows = [r[0] for r in con.execute(sql).fetchall()]
    finally:
        con.close()
    assert result["failures"] == len(rows) == 1
    assert "column(s) ['tier'] have no meta.skewless.default" in rows[0]


def test_a_model_contract_fails_the_build_itself(built: Built) -> None:
    """`contract: {enforced: true}`: DuckDB's HUGEINT for a declared bigint stops `dbt build` at
    the model (its tests are skipped); a contracted view with the right types builds and passes."""
    model = next(
        r for uid, r in built.results.items() if uid == f"model.rules.{CONTRACT_BROKEN.name}"
    )
    assert model["status"] == "error"
    for word in CONTRACT_BROKEN.words:
        assert word in model["message"], model["message"]
    assert "enforced contract" in model["message"]
    assert _test_result(built, CONTRACT_BROKEN.name)["status"] == "skipped"
    assert built.results["model.rules.ok_contract"]["status"] == "success"


def test_the_feature_catalog_builds_in_a_users_project(built: Built) -> None:
    """The package's catalog model is part of the user's build, with its completeness test."""
    import duckdb

    catalog = built.results["model.skewless.skewless_feature_catalog"]
    assert catalog["status"] == "success", catalog["message"]
    tests = [
        r
        for uid, r in built.results.items()
        if ".skewless_feature_catalog" in uid and uid.startswith("test.")
    ]
    assert tests and all(t["status"] == "pass" for t in tests), tests
    con = duckdb.connect(str(built.project / "rules.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "select feature_view, column_name, data_type, entity, ttl, on_stale, default_value "
            "from skewless_feature_catalog where feature_view in ('ok_all_keys', 'ok_aliases') "
            "order by feature_view, column_name"
        ).fetchall()
    finally:
        con.close()
    ok = built.registry.views["ok_all_keys"]
    assert ("ok_all_keys", "score", "double", "user_id", "1d", "default", "-1.5") in rows
    assert ("ok_all_keys", "tier", "varchar", "user_id", "1d", "default", '"a"') in rows
    assert {r[1] for r in rows if r[0] == "ok_all_keys"} == set(ok.feature_names)
    aliases = built.registry.views["ok_aliases"]
    assert {r[1] for r in rows if r[0] == "ok_aliases"} == set(aliases.feature_names)
    assert {r[3] for r in rows if r[0] == "ok_aliases"} == {"user_id, k"}
    assert re.fullmatch(r"[0-9a-f]{12}", ok.version)  # the runtime's version: not in the catalog


def test_the_catalog_of_a_project_without_feature_views(tmp_path: Path, postgres: Any) -> None:
    """No feature view: the catalog builds empty with its column types, on DuckDB and
    PostgreSQL; `models: {skewless: {+enabled: false}}` leaves it out of the project."""
    import uuid

    import duckdb
    from conftest import postgres_dsn

    project = tmp_path / "plain"
    (project / "models").mkdir(parents=True)
    schema = f"skewless_plain_{uuid.uuid4().hex[:10]}"
    dsn = postgres_dsn()
    (project / "dbt_project.yml").write_text(
        "name: plain\nversion: '1.0'\nconfig-version: 2\nprofile: plain\n"
        "flags: {send_anonymous_usage_stats: false}\n"
    )
    (project / "profiles.yml").write_text(
        "plain:\n  target: duckdb\n  outputs:\n"
        f"    duckdb: {{type: duckdb, path: {project / 'plain.duckdb'}}}\n"
        f"    postgres: {{type: postgres, host: '{dsn['host']}', port: {dsn['port']}, "
        f"user: '{dsn['user']}', password: '{dsn['password']}', dbname: '{dsn['dbname']}', "
        f"schema: {schema}, threads: 1}}\n"
    )
    (project / "packages.yml").write_text(f"packages:\n  - local: {REPO}\n")
    (project / "models" / "orders.sql").write_text("select 1 as order_id\n")
    assert _dbt(project, {}, "deps").returncode == 0
    columns = {
        "feature_view": "VARCHAR",
        "column_name": "VARCHAR",
        "feature": "VARCHAR",
        "data_type": "VARCHAR",
        "entity": "VARCHAR",
        "ttl": "VARCHAR",
        "on_stale": "VARCHAR",
        "default_value": "VARCHAR",
        "description": "VARCHAR",
        "has_default": "BOOLEAN",
    }

    build = _dbt(project, {}, "build")
    assert build.returncode == 0, build.stdout[-3000:]
    con = duckdb.connect(str(project / "plain.duckdb"), read_only=True)
    try:
        assert con.execute("select count(*) from skewless_feature_catalog").fetchone() == (0,)
        described = {
            r[0]: r[1] for r in con.execute("describe skewless_feature_catalog").fetchall()
        }
    finally:
        con.close()
    assert {c: described.get(c) for c in columns} == columns

    cur = postgres.cursor()
    try:
        build = _dbt(project, {}, "build", "--target", "postgres")
        assert build.returncode == 0, build.stdout[-3000:]
        cur.execute(f"select count(*) from {schema}.skewless_feature_catalog")
        assert cur.fetchone() == (0,)
        cur.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = %s and table_name = 'skewless_feature_catalog'",
            (schema,),
        )
        pg_types = dict(cur.fetchall())
    finally:
        cur.execute(f"drop schema if exists {schema} cascade")
        cur.close()
    assert pg_types["has_default"] == "boolean"
    assert {pg_types[c] for c in columns if c != "has_default"} <= {"text", "character varying"}

    listed = _dbt(project, {}, "ls", "--resource-type", "model", "--output", "name")
    assert "skewless_feature_catalog" in listed.stdout.split()
    with (project / "dbt_project.yml").open("a") as f:
        f.write("models:\n  skewless:\n    +enabled: false\n")
    listed = _dbt(project, {}, "ls", "--resource-type", "model", "--output", "name")
    assert listed.returncode == 0, listed.stdout
    names = listed.stdout.split()
    assert "orders" in names and "skewless_feature_catalog" not in names
