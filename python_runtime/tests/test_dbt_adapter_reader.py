"""The generic offline reader (`offline.dbt_adapter.DbtAdapterReader`): any dbt adapter read
through its own dbt connection. It is tested on the two adapters here that also have a native
reader (PostgreSQL through ADBC, DuckDB), so every read is compared with the native one: the
latest rows, the point-in-time rows the consistency replay uses, the values served after a load,
and the refusals (a declared type that was not built, a value that does not fit its type, an
adapter with no dialect entry). Real dbt, real PostgreSQL, real DuckDB, real Redis.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import test_postgres_offline
from click.testing import CliRunner
from test_postgres_offline import NOON, PgProject

from skewless.definitions.registry import Registry
from skewless.errors import ColumnTypeError, ManifestError, SkewlessError
from skewless.guards.consistency import pit_rows
from skewless.offline import reader_from_profile
from skewless.offline.dbt_adapter import DbtAdapterReader, split_relation
from skewless.offline.duckdb import canonical_type
from skewless.online.connection import connect
from skewless.online.materialize import materialize
from skewless.online.store import FeatureStore

pytestmark = pytest.mark.postgres

# the PostgreSQL-and-DuckDB fixture project of test_postgres_offline, built once for this module
pg_project = test_postgres_offline.pg_project
pg_env = test_postgres_offline.pg_env

UTC = timezone.utc
ENGINES = ("postgres", "duckdb")


def _registry(p: PgProject, target: str) -> Registry:
    return Registry.from_manifest(p.dir / f"target-{target}" / "manifest.json")


def _open(p: PgProject, target: str, how: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    if target == "duckdb":
        monkeypatch.setenv("SKEWLESS_DUCKDB_PATH", str(p.duckdb))
    views = _registry(p, target).views.values()
    return reader_from_profile(p.dir, p.dir, target, views, reader=how)


def _rows(batches: Any) -> list[dict[str, Any]]:
    return [r for b in batches for r in b.to_pylist()]


def _typed(rows: list[dict[str, Any]]) -> list[list[tuple[str, str, str]]]:
    """Each value with its Python type, so 1 == 1.0 or a naive/aware swap cannot pass."""
    return [[(k, type(v).__name__, repr(v)) for k, v in r.items()] for r in rows]


NOW_US = 4_102_444_800_000_000  # 2100-01-01


def _reads(reader: Any, registry: Registry) -> dict[str, Any]:
    """Everything the loader and the checks read of the fixture project, typed."""
    out: dict[str, Any] = {"engine": reader.engine}
    for name in ("user_stats", "pair_stats", "load_stats"):
        view = registry.view(name)
        out[f"{name} types"] = {c: canonical_type(t) for c, t in reader.column_types(view).items()}
        reader.check_relation_types([view])
        # bounds that cut through the data: the 10:00 ties, the 11:50 edge, the ttl edge
        for visible, since in (
            (NOON - timedelta(minutes=10), NOON - timedelta(days=1)),
            (datetime(2099, 1, 1, 10, 0, tzinfo=UTC), None),
            (datetime(2099, 1, 1, 9, 59, 59, 999999, tzinfo=UTC), None),
            (datetime(2100, 1, 1, tzinfo=UTC), datetime(2099, 1, 1, 11, tzinfo=UTC)),
        ):
            vis = int(visible.timestamp() * 1_000_000)
            sin = None if since is None else int(since.timestamp() * 1_000_000)
            n, batches = reader.latest_rows(view, visible_us=vis, since_us=sin, chunk_rows=7)
            rows = sorted(_rows(batches), key=repr)
            assert n == len(rows)
            out[f"{name} {visible} {since}"] = (n, _typed(rows))
    # the point-in-time rows the consistency replay compares against, over every edge
    view = registry.view("user_stats")
    spine = [
        ({"user_id": u}, at)
        for u in (1, 2, 3, 4, 5, "2", "x", None)
        for at in (
            NOON,
            datetime(2099, 1, 1, 10, 10, tzinfo=UTC),  # 10:00 + available_after exactly
            datetime(2099, 1, 1, 10, 9, 59, 999999, tzinfo=UTC),
            datetime(2099, 1, 2, 11, 0, tzinfo=UTC),  # past the 1d ttl of some rows
            datetime(2099, 1, 3, tzinfo=UTC),
        )
    ]
    feats = [f.name for f in view.features]
    pit = pit_rows(reader, view, spine)
    assert len(pit) == len(spine)
    out["pit"] = [(ts, None if r is None else _typed([{f: r[f] for f in feats}])) for ts, r in pit]
    out["pit found"] = sum(ts is not None for ts, _ in pit)
    return out


@pytest.mark.parametrize("target", ENGINES)
def test_generic_reader_reads_exactly_what_the_native_reader_reads(
    pg_env: PgProject, target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = _registry(pg_env, target)
    reads = {}
    for how in ("auto", "dbt"):  # one after the other: DuckDB attaches a file once a process
        reader = _open(pg_env, target, how, monkeypatch)
        try:
            assert isinstance(reader, DbtAdapterReader) == (how == "dbt")
            reads[how] = _reads(reader, registry)
        finally:
            reader.close()
    assert reads["auto"]["pit found"] >= 10  # the spine does reach rows
    assert reads["auto"]["user_stats types"]["amount"] == "DECIMAL(18,4)"
    differ = [k for k in reads["auto"] if reads["dbt"].get(k) != reads["auto"][k]]
    assert not differ  # (named only: a full diff of these reads takes pytest minutes)


def test_ties_on_text_are_byte_wise_whatever_the_column_collation(
    pg_env: PgProject, postgres: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """User 2's three rows at 11:00 differ only in `label` ('A', 'B', 'b'): byte-wise 'b' wins,
    an ICU collation would pick 'B'. The column is given an ICU collation here (the test
    database's default, C.UTF-8, is byte-wise already, so it alone could not tell)."""
    import dataclasses

    schema = pg_env.schema
    cur = postgres.cursor()
    cur.execute(
        f"create table {schema}.user_stats_icu as select user_id, ts, amount, txn_count, score, "
        f'label collate "und-x-icu" as label, last_seen, first_day, flagged '
        f"from {schema}.user_stats"
    )
    cur.close()
    registry = _registry(pg_env, "postgres")
    view = registry.view("user_stats")
    icu = dataclasses.replace(
        view, relation_name=str(view.relation_name).replace('"user_stats"', '"user_stats_icu"')
    )
    vis = int((NOON - timedelta(minutes=10)).timestamp() * 1_000_000)
    for how in ("auto", "dbt"):
        reader = _open(pg_env, "postgres", how, monkeypatch)
        try:
            _, batches = reader.latest_rows(icu, visible_us=vis, since_us=None, chunk_rows=10)
            labels = {r["user_id"]: r["label"] for r in _rows(batches)}
        finally:
            reader.close()
        assert labels[2] == "b", how


@pytest.mark.parametrize("target", ENGINES)
def test_loads_through_dbt_serve_the_same_values(
    pg_env: PgProject, target: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = _registry(pg_env, target)
    views = ["user_stats", "pair_stats", "load_stats"]
    ents = {
        "user_stats": [{"user_id": u} for u in (1, 2, 3, 4, 5)],
        "pair_stats": [{"k": "1", "n": 23}, {"k": "12", "n": 3}, {"k": "a}b:%", "n": 1}],
        "load_stats": [{"user_id": u} for u in (0, 7, 19999, 20000)],
    }
    served: dict[str, Any] = {}
    for how in ("auto", "dbt"):
        connect(redis_url).flushall()
        reader = _open(pg_env, target, how, monkeypatch)
        try:
            results = materialize(registry, connect(redis_url), reader, select=views, now=NOON)
        finally:
            reader.close()
        served[how] = (
            [(r.view, r.rows) for r in results],
            {
                v: FeatureStore(registry, connect(redis_url), redis_url)
                .get_online_features(
                    [f"{v}.{f}" for f in registry.view(v).feature_names], ents[v], now=NOON
                )
                .to_dicts()
                for v in views
            },
        )
    assert (
        served["auto"][0]
        == served["dbt"][0]
        == [
            ("user_stats", 3),
            ("pair_stats", 3),
            ("load_stats", 20000),
        ]
    )
    for v in views:
        assert _typed(served["dbt"][1][v]) == _typed(served["auto"][1][v]), v
    assert served["dbt"][1]["user_stats"][0]["user_stats.label"] == '日本語 🚀 "q" }{: %7D'


def test_refuses_types_that_were_not_built_and_values_that_do_not_fit(
    pg_env: PgProject, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = _registry(pg_env, "postgres")
    reader = _open(pg_env, "postgres", "dbt", monkeypatch)
    try:
        with pytest.raises(ColumnTypeError) as e:
            materialize(registry, connect(redis_url), reader, select=["bad_types"], now=NOON)
        msg = str(e.value)
        assert "model `bad_types`, column `total`" in msg and "numeric" in msg
        assert "column `ratio`: declared data_type bigint but dbt built double precision" in msg
        assert connect(redis_url).dbsize() == 0
        # past the check (as a caller that skips it would be): 0.5 is never served as a bigint
        view = registry.view("bad_types")
        _, batches = reader.latest_rows(view, visible_us=NOW_US, since_us=None, chunk_rows=10)
        with pytest.raises(ColumnTypeError) as e:
            list(batches)
        assert "model `bad_types`, column `ratio`" in str(e.value) and "0.5" in str(e.value)
    finally:
        reader.close()


def test_cli_materialize_consistency_and_training_record_with_reader_dbt(
    pg_env: PgProject, redis_url: str
) -> None:
    from skewless.cli import main

    common = [
        "--project-dir", str(pg_env.dir), "--target-path", str(pg_env.dir / "target-postgres"),
        "--redis-url", redis_url,
    ]  # fmt: skip
    target = ["--profiles-dir", str(pg_env.dir), "--dbt-target", "postgres", "--reader", "dbt"]
    res = CliRunner().invoke(
        main,
        [*common, "materialize", *target, "--select", "load_stats",
         "--now", "2099-01-03T00:00:00", "--json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert [(r["view"], r["rows"]) for r in json.loads(res.stdout)] == [("load_stats", 20000)]
    res = CliRunner().invoke(
        main, [*common, "consistency", *target, "--select", "load_stats", "--json"]
    )
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["ok"] and report["rows"] == 1000
    res = CliRunner().invoke(main, [*common, "training-record", *target, "--model", "training_set"])
    assert res.exit_code == 0, res.output
    record = json.loads(res.stdout)
    assert record["relation"] == f'"test"."{pg_env.schema}"."training_set"'
    assert record["row_count"] == 10 and record["spine_timestamp"] == "event_ts"
    # the environment variable chooses it too; an unknown reader is a usage error
    res = CliRunner().invoke(
        main,
        [*common, "materialize", "--profiles-dir", str(pg_env.dir), "--dbt-target", "postgres",
         "--select", "load_stats", "--now", "2099-01-03T00:00:00", "--json"],
        env={"SKEWLESS_READER": "dbt"},
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(main, [*common, "materialize", *target[:-1], "fast"])
    assert res.exit_code == 2 and "'fast' is not one of 'auto', 'dbt'" in res.output


def test_secrets_errors_and_one_reader_at_a_time(
    pg_env: PgProject, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = f"s3cret-{uuid.uuid4().hex}"
    monkeypatch.setenv("SKEWLESS_PG_PASSWORD", secret)
    reader = _open(pg_env, "postgres", "dbt", monkeypatch)  # trust auth: sent and ignored
    try:
        assert secret not in repr(reader) and "postgres via dbt" in repr(reader)
        with pytest.raises(SkewlessError, match="another dbt-adapter reader is open"):
            _open(pg_env, "postgres", "dbt", monkeypatch)
        (batch,) = list(reader.query("select 1.50::numeric(10,2) as x, 2::bigint as y", 10))
        assert batch.to_pylist() == [{"x": Decimal("1.50"), "y": 2}]
        with pytest.raises(SkewlessError, match="query through postgres failed"):
            list(reader.query("select * from no_such_table_anywhere", 10))
    finally:
        reader.close()
    monkeypatch.setenv("SKEWLESS_PG_PORT", "1")  # nothing listens there
    views = _registry(pg_env, "postgres").views.values()
    with pytest.raises(SkewlessError) as e:
        r = reader_from_profile(pg_env.dir, pg_env.dir, "postgres", views, reader="dbt")
        list(r.query("select 1", 1))
    assert secret not in str(e.value)
    monkeypatch.undo()

    # an adapter with no dialect entry is refused before dbt is even asked
    (tmp_path / "dbt_project.yml").write_text("name: p\nprofile: p\nversion: '1'\n")
    (tmp_path / "profiles.yml").write_text(
        "p:\n  target: t\n  outputs:\n    t: {type: sqlserver, host: x}\n"
    )
    with pytest.raises(ManifestError) as e:
        reader_from_profile(tmp_path, tmp_path, None, [])
    assert "no SQL dialect entry for the `sqlserver` adapter" in str(e.value)
    assert "postgres, duckdb (tested)" in str(e.value) and "snowflake" in str(e.value)
    with pytest.raises(ManifestError, match="unknown offline reader 'fast'"):
        reader_from_profile(tmp_path, tmp_path, None, [], reader="fast")


def test_relation_names_split_as_every_adapter_quotes_them() -> None:
    assert split_relation('"test"."s"."t"') == ["test", "s", "t"]
    assert split_relation('"a""b"."s.x"."t"') == ['a"b', "s.x", "t"]
    assert split_relation("`proj`.`ds`.`t``x`") == ["proj", "ds", "t`x"]
    assert split_relation("db.schema.tbl") == ["db", "schema", "tbl"]
    assert split_relation("`s`.`t`") == ["s", "t"]


@pytest.mark.parametrize(
    ("value", "declared"),
    [
        (0.5, "bigint"),  # pyarrow alone would store 0
        (3.0, "integer"),  # even a whole float: the engine built a DOUBLE
        (True, "bigint"),
        (2**53 + 1, "double"),  # would round
        (Decimal("1.5"), "numeric(38,0)"),
        (Decimal("1.23456"), "numeric(18,4)"),
        ("7", "bigint"),
        (1, "boolean"),
        (2**63, "bigint"),
    ],
)
def test_a_value_that_does_not_fit_its_declared_type_is_refused(value: Any, declared: str) -> None:
    from skewless.offline.dbt_adapter import _array, arrow_type

    t = arrow_type("m", "c", declared)
    with pytest.raises(ColumnTypeError, match="model `m`, column `c`: the engine returned"):
        _array([None, value], t, "m", "c")


def test_values_that_fit_are_kept_exactly() -> None:
    from skewless.offline.dbt_adapter import _array, arrow_type

    def arr(values: list[Any], declared: str) -> list[Any]:
        return _array(values, arrow_type("m", "c", declared), "m", "c").to_pylist()

    assert arr([2**63 - 1, None, Decimal("-5")], "bigint") == [2**63 - 1, None, -5]
    assert arr([2**53, 1.5], "double") == [2.0**53, 1.5]
    assert arr([Decimal("1.2300")], "numeric(18,4)") == [Decimal("1.2300")]
    aware = datetime(2024, 2, 29, 7, 4, 56, 123456, tzinfo=timezone(timedelta(hours=-5)))
    got = arr([aware, datetime(2024, 1, 1)], "timestamp with time zone")
    assert got == [aware.astimezone(UTC), datetime(2024, 1, 1, tzinfo=UTC)]
