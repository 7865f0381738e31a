"""The compile-time argument checks of `skewless.point_in_time_join` and `skewless.window_join`
(`_pit_spine_columns`, `_pit_view_item`, `_pit_join_keys` in macros/_pit_helpers.sql, shared by
both): each bad call fails `dbt compile` with a message naming the argument and the fix, on a
real dbt project on DuckDB whose spine is built (so its columns are known at compile time).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REPO
from test_integration_dbt import _dbt

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("macro_arguments")]

FV = {"entity": "user_id", "timestamp": "ts"}
WV = {
    "kind": "window",
    "entity": "user_id",
    "timestamp": "ts",
    "windows": ["1h"],
    "aggregations": [{"column": "x", "functions": ["sum"]}],
}
COLUMNS = [
    {"name": "user_id", "data_type": "bigint"},
    {"name": "ts", "data_type": "timestamp"},
    {"name": "x", "data_type": "double"},
]
VIEW_SQL = "select 1::bigint as user_id, timestamp '2024-01-01' as ts, 1.5::double as x"
SPINE_SQL = "select 1::bigint as payer_id, timestamp '2024-01-02' as at"

#: (case, the call, words the error must contain): each macro through the same checks
CASES = [
    ("pit_unknown_key", "skewless.point_in_time_join(ref('spine'), 'at', [{'view': ref('fv'), "
     "'keys': {'user_id': 'payer_id'}, 'colour': 1}])",
     ["feature_views[0]", "unknown key(s) ['colour']", "allowed: view, keys, prefix"]),
    ("win_unknown_key", "skewless.window_join(ref('spine'), 'at', [{'view': ref('wv'), "
     "'keys': {'user_id': 'payer_id'}, 'colour': 1}])",
     ["views[0]", "unknown key(s) ['colour']", "allowed: view, keys, prefix"]),
    ("pit_string_view", "skewless.point_in_time_join(ref('spine'), 'at', ['fv'])",
     ["expected ref('<feature view>')", "not as a string"]),
    ("win_string_view", "skewless.window_join(ref('spine'), 'at', ['wv'])",
     ["expected ref('<window view>')", "not as a string"]),
    ("pit_bad_prefix", "skewless.point_in_time_join(ref('spine'), 'at', [{'view': ref('fv'), "
     "'keys': {'user_id': 'payer_id'}, 'prefix': 3}])",
     ["`prefix` must be a string"]),
    ("win_bad_keys", "skewless.window_join(ref('spine'), 'at', [{'view': ref('wv'), "
     "'keys': ['user_id']}])",
     ["`keys` must map view key columns to spine columns"]),
    ("pit_not_entity", "skewless.point_in_time_join(ref('spine'), 'at', [{'view': ref('fv'), "
     "'keys': {'ts': 'payer_id'}}])",
     ["`keys` maps `ts`, which is not an entity column of `fv`"]),
    ("win_not_entity", "skewless.window_join(ref('spine'), 'at', [{'view': ref('wv'), "
     "'keys': {'x': 'payer_id'}}])",
     ["`keys` maps `x`, which is not an entity column of `wv`"]),
    ("pit_no_spine_column", "skewless.point_in_time_join(ref('spine'), 'at', [ref('fv')])",
     ["the spine has no column `user_id`", "'keys': {'user_id': '<spine column>'}"]),
    ("win_no_spine_column", "skewless.window_join(ref('spine'), 'at', [ref('wv')])",
     ["the spine has no column `user_id`", "'keys': {'user_id': '<spine column>'}"]),
    ("pit_no_spine_timestamp", "skewless.point_in_time_join(ref('spine'), 'when', [{'view': "
     "ref('fv'), 'keys': {'user_id': 'payer_id'}}])",
     ["argument `spine_timestamp`", "no column `when`", "payer_id, at"]),
    ("win_no_spine_timestamp", "skewless.window_join(ref('spine'), 'when', [{'view': ref('wv'), "
     "'keys': {'user_id': 'payer_id'}}])",
     ["argument `spine_timestamp`", "no column `when`", "payer_id, at"]),
    ("pit_not_a_node", "skewless.point_in_time_join(ref('spine'), 'at', [{'view': "
     "api.Relation.create(identifier='nowhere'), 'keys': {'user_id': 'payer_id'}}])",
     ["is not a model, seed, snapshot or source", "ref('<feature view>')"]),
]  # fmt: skip


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One project: the views and the spine built, a model per bad call."""
    root = tmp_path_factory.mktemp("macro_args")
    (root / "models").mkdir()
    (root / "dbt_project.yml").write_text(
        "name: macro_args\nversion: '0.1.0'\nconfig-version: 2\nprofile: macro_args\n"
        "model-paths: ['models']\nflags: {send_anonymous_usage_stats: false}\n"
        "models: {macro_args: {+materialized: table}}\n"
    )
    (root / "packages.yml").write_text(f"packages:\n  - local: {REPO}\n")
    (root / "profiles.yml").write_text(
        f"macro_args:\n  target: duckdb\n  outputs:\n    duckdb: {{type: duckdb, path: "
        f"'{root / 'args.duckdb'}', threads: 1}}\n"
    )
    models = [
        {"name": "fv", "config": {"meta": {"skewless": FV}}, "columns": COLUMNS},
        {"name": "wv", "config": {"meta": {"skewless": WV}}, "columns": COLUMNS},
        {"name": "spine"},
    ]
    (root / "models" / "models.yml").write_text(json.dumps({"version": 2, "models": models}))
    for name, sql in (("fv", VIEW_SQL), ("wv", VIEW_SQL), ("spine", SPINE_SQL)):
        (root / "models" / f"{name}.sql").write_text(sql + "\n")
    for name, call, _ in CASES:
        (root / "models" / f"{name}.sql").write_text(f"select * from ({{{{ {call} }}}}) as q\n")
    for args in (("deps",), ("run", "-s", "fv", "wv", "spine")):
        done = _dbt(root, {}, *args)
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    return root


@pytest.mark.parametrize(("name", "call", "words"), CASES, ids=[c[0] for c in CASES])
def test_a_bad_argument_fails_compile_naming_it(
    project: Path, name: str, call: str, words: list[str]
) -> None:
    done = _dbt(project, {}, "compile", "-s", name)
    output = done.stdout + done.stderr
    assert done.returncode != 0, f"{name} compiled:\n{output[-2000:]}"
    assert f"Compilation Error in model {name} " in output, output[-3000:]
    text = " ".join(output.split())
    for word in words:
        assert word in text, f"{name}: {word!r} not in {output[-2000:]}"
