"""`skewless consistency`: equality semantics and statistics on constructed data, then end to end on
the guards dbt project with a real Redis — a clean run reports nothing, each deliberate skew is
caught with the right feature named."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from guards_helpers import (
    AS_OF,
    USER_STATS_FEATURES,
    build_guards,
    built_once,
    dbt,
    duck,
    materialize_all,
)

from skewless.definitions.registry import Registry
from skewless.guards.consistency import (
    StatsAccumulator,
    feature_thresholds,
    online_vs_offline,
    replay,
    smape_term,
    values_equal,
)
from skewless.guards.feature_log import FeatureLogConfig, FeatureLogger, read_feature_log
from skewless.online import codec, keys
from skewless.online.connection import connect
from skewless.online.store import FeatureStore

UTC = timezone.utc
NAN = float("nan")


@pytest.mark.parametrize(
    ("left", "right", "equal"),
    [
        (None, None, True),
        (NAN, NAN, True),
        (NAN, None, False),
        (0.1 + 0.2, 0.3, False),
        (-0.0, 0.0, True),
        (float("inf"), float("inf"), True),
        (1, 1, True),
        (1, 1.0, False),
        (True, 1, False),
        (Decimal("1.10"), Decimal("1.1"), True),
        (Decimal("1.10"), 1.1, False),
        ("é", "é", True),
        ("a", "a ", False),
        (datetime(2026, 1, 1, 12), datetime(2026, 1, 1, 12, tzinfo=UTC), True),
        (datetime(2026, 1, 1, 12, tzinfo=UTC), datetime(2026, 1, 1, 13, tzinfo=UTC), False),
    ],
)
def test_equality_semantics(left: Any, right: Any, equal: bool) -> None:
    assert values_equal(left, right) is equal
    assert values_equal(right, left) is equal


def test_float_tolerance_is_relative_and_opt_in() -> None:
    assert not values_equal(0.1 + 0.2, 0.3)
    assert values_equal(0.1 + 0.2, 0.3, float_tolerance=1e-12)
    assert not values_equal(100.0, 101.0, float_tolerance=1e-3)
    assert values_equal(100.0, 100.05, float_tolerance=1e-3)


def test_stats_on_constructed_pairs() -> None:
    acc = StatsAccumulator("v.x", "double", threshold=0.25)
    pairs = [(1.0, 1.0), (None, None), (None, 2.0), (3.0, None), (2.0, 4.0), (NAN, NAN), (0.0, 0.0)]
    results = [acc.add(a, b, {"entity": {"id": i}}) for i, (a, b) in enumerate(pairs)]
    assert results == [True, True, False, False, False, True, True]
    s = acc.finish()
    assert (s.total, s.mismatch, s.both_null, s.left_null, s.right_null) == (7, 3, 1, 1, 1)
    # SMAPE over the finite non-null pairs: (1,1)=0, (2,4)=2/3, (0,0)=0 → mean 2/9
    assert s.smape == pytest.approx((0 + 2 / 3 + 0) / 3)
    assert s.mismatch_rate == pytest.approx(3 / 7) and s.breached
    assert [e["entity"]["id"] for e in s.examples] == [2, 3, 4]
    assert s.chart["kind"] == "numeric" and sum(s.chart["left"]) == 4


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ([1e16], [1e16]),  # equal: a span of their own (1.0 vanishes next to 1e16)
        ([1e16, 1e16 + 2], [1e16, 1e16]),
        ([-1.7e308, 0.0], [1.7e308, 0.0]),  # a span past the float range
        ([5, 5], [5, 5]),
        ([0.0], [5e-324]),
    ],
)
def test_numeric_chart_of_extreme_values(left: list[float], right: list[float]) -> None:
    """Found by the window replay of the property datasets (sums of 1e16): every value lands in
    a bin, the edges are finite and ascending."""
    acc = StatsAccumulator("v.x", "DOUBLE")
    for a, b in zip(left, right, strict=True):
        acc.add(a, b, {})
    chart = acc.finish().chart
    assert chart["kind"] == "numeric"
    assert sum(chart["left"]) == len(left) and sum(chart["right"]) == len(right)
    edges = chart["edges"]
    assert all(math.isfinite(e) for e in edges) and edges == sorted(edges)


def test_smape_terms() -> None:
    assert smape_term(100, 110) == pytest.approx(10 / 105)
    assert smape_term(0, 0) == 0.0
    assert smape_term(1, -1) == pytest.approx(2.0)
    assert (
        smape_term("a", "b") is None
        and smape_term(NAN, 1.0) is None
        and smape_term(True, 1) is None
    )


def test_category_chart_and_no_smape_for_strings() -> None:
    acc = StatsAccumulator("v.c", "varchar")
    for a, b in [("DE", "DE"), ("FR", "DE"), (None, "US")]:
        acc.add(a, b)
    s = acc.finish()
    assert s.smape is None and s.mismatch == 2
    assert s.chart["kind"] == "category" and s.chart["categories"][0] == "DE"


# --- end to end on the guards project ------------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return built_once(tmp_path_factory.mktemp("guards"))


def _store(manifest: Path, redis_url: str) -> FeatureStore:
    return FeatureStore(Registry.from_manifest(manifest), connect(redis_url), redis_url)


def _corrupt(redis_url: str, manifest: Path, user_id: int, feature: str, value: Any) -> None:
    """Write a wrong value straight into Redis for one entity, keeping its timestamp and TTL."""
    reg = Registry.from_manifest(manifest)
    view = reg.view("user_stats")
    client = connect(redis_url)
    gen = client.get(keys.pointer_key(view.name, view.version))
    key = keys.data_key(view.name, keys.encode_entity(("int",), (user_id,)), gen)
    row = codec.unpack(client.get(key))
    row[view.feature_names.index(feature)] = value  # codec layout: [f1, …, fn, timestamp]
    client.set(key, codec.pack(row), keepttl=True)


def test_online_vs_offline_clean_run_reports_no_mismatch(built: Any, redis_url: str) -> None:
    materialize_all(built, redis_url)
    store = _store(built.manifest, redis_url)
    report = online_vs_offline(store, duck(built.duckdb), sample=100)
    assert report.ok, report.to_table()
    assert report.rows == 120  # 40 users in each of the three views
    by = {f.feature: f for f in report.features}
    # user_risk has `freshness: 1h, on_stale: reject` and rows hours apart: reading Redis must
    # not trip on the policy (each entity is aged against its own row)
    assert set(by) == {*USER_STATS_FEATURES, "user_flags.is_vip", "user_risk.risk_score"}
    assert all(f.total == 40 and f.mismatch == 0 for f in by.values())
    # the seed holds a NaN (user 7) and a NULL (user 8) avg_amount: equal on both sides
    assert by["user_stats.avg_amount"].both_null == 1


def test_online_vs_offline_catches_a_wrong_value_written_into_redis(
    built: Any, redis_url: str
) -> None:
    materialize_all(built, redis_url)
    _corrupt(redis_url, built.manifest, 5, "avg_amount", 12345.5)
    report = online_vs_offline(_store(built.manifest, redis_url), duck(built.duckdb), sample=100)
    assert report.breaches == ["user_stats.avg_amount"]
    bad = next(f for f in report.features if f.feature == "user_stats.avg_amount")
    assert bad.mismatch == 1 and bad.examples[0]["entity"] == {"user_id": 5}
    assert bad.examples[0]["left"] == 12345.5


def test_thresholds_from_overrides_allow_a_known_rate(built: Any, redis_url: str) -> None:
    materialize_all(built, redis_url)
    _corrupt(redis_url, built.manifest, 5, "avg_amount", 1.0)
    store = _store(built.manifest, redis_url)
    th = feature_thresholds(store.registry, 0.0, {"user_stats.avg_amount": 0.05})
    assert th["user_stats.txn_count"] == 0.0 and th["user_stats.avg_amount"] == 0.05
    report = online_vs_offline(store, duck(built.duckdb), sample=100, thresholds=th)
    assert report.ok  # 1 of 40 = 2.5% <= 5%
    th = feature_thresholds(store.registry, 0.0, {"user_stats.avg_amount": 0.01})
    assert not online_vs_offline(store, duck(built.duckdb), sample=100, thresholds=th).ok


def test_definition_changed_after_materialization_is_caught(tmp_path: Path, redis_url: str) -> None:
    project = build_guards(tmp_path)
    materialize_all(project, redis_url)
    sql = project.dir / "models" / "user_stats.sql"
    sql.write_text(sql.read_text().replace("    txn_count,", "    txn_count * 2 as txn_count,"))
    dbt(project.dir, "build")
    store = _store(project.manifest, redis_url)
    report = online_vs_offline(store, duck(project.duckdb), sample=100)
    assert sorted(report.breaches) == sorted(USER_STATS_FEATURES)
    bad = next(f for f in report.features if f.feature == "user_stats.txn_count")
    assert "definition changed after materialization" in bad.error
    assert "skewless materialize --select user_stats" in bad.error


def _serve_and_log(store: FeatureStore, log_dir: Path, times: list[datetime]) -> FeatureLogger:
    logger = FeatureLogger(FeatureLogConfig(path=str(log_dir))).attach(store)
    feats = [*USER_STATS_FEATURES, "user_flags.is_vip"]
    for t in times:
        store.get_online_features(feats, [{"user_id": u} for u in range(1, 45)], now=t)
    logger.close()
    assert logger.stats.rows_written == 44 * len(times)
    return logger


def test_replay_of_a_clean_log_reports_no_mismatch(
    built: Any, redis_url: str, tmp_path: Path
) -> None:
    materialize_all(built, redis_url)
    store = _store(built.manifest, redis_url)
    # served after the load: online state == the offline point-in-time rows
    _serve_and_log(store, tmp_path / "log", [AS_OF, AS_OF + timedelta(hours=3)])
    rows = list(read_feature_log(tmp_path / "log"))
    report = replay(store.registry, duck(built.duckdb), rows)
    assert report.ok, report.to_table()
    assert report.rows == 88
    by = {f.feature: f for f in report.features}
    assert by["user_stats.txn_count"].total == 88
    # users 41..44 do not exist: missing online, no row offline; txn_count has a default of 0
    # (`defaulted` when the log holds per-feature statuses; the view's raw `missing` when the
    # response offers per-view statuses — both say the same thing)
    st = by["user_stats.txn_count"].statuses
    assert st.get("defaulted", 0) + st.get("missing", 0) == 8
    assert by["user_stats.amount_sum"].both_null == 8
    assert by["user_stats.avg_amount"].statuses["stale"] == 80


def test_replay_catches_a_wrong_value_served_from_redis(
    built: Any, redis_url: str, tmp_path: Path
) -> None:
    materialize_all(built, redis_url)
    _corrupt(redis_url, built.manifest, 9, "last_country", "XX")
    store = _store(built.manifest, redis_url)
    _serve_and_log(store, tmp_path / "log", [AS_OF])
    report = replay(store.registry, duck(built.duckdb), read_feature_log(tmp_path / "log"))
    assert report.breaches == ["user_stats.last_country"]
    bad = next(f for f in report.features if f.feature == "user_stats.last_country")
    assert bad.mismatch == 1 and bad.examples[0]["left"] == "XX"
    assert bad.examples[0]["entity"] == {"user_id": 9}


def test_replay_catches_serving_a_value_training_could_not_have_seen(
    built: Any, redis_url: str, tmp_path: Path
) -> None:
    """Served before the rows' timestamps (a clock or load-order skew): the point-in-time join
    gives the older rows, so every feature whose value changed is a mismatch."""
    materialize_all(built, redis_url)
    store = _store(built.manifest, redis_url)
    _serve_and_log(store, tmp_path / "log", [datetime(2026, 1, 2, 12, tzinfo=UTC)])
    report = replay(store.registry, duck(built.duckdb), read_feature_log(tmp_path / "log"))
    assert set(report.breaches) == set(USER_STATS_FEATURES)
    assert "user_flags.is_vip" not in report.breaches


def test_replay_notes_rows_served_at_an_older_version(tmp_path: Path, redis_url: str) -> None:
    project = build_guards(tmp_path)
    materialize_all(project, redis_url)
    _serve_and_log(_store(project.manifest, redis_url), tmp_path / "log", [AS_OF])
    sql = project.dir / "models" / "user_stats.sql"
    sql.write_text(
        sql.read_text().replace("    avg_amount,", "    round(avg_amount, 1) as avg_amount,")
    )
    dbt(project.dir, "build")
    reg = Registry.from_manifest(project.manifest)
    report = replay(reg, duck(project.duckdb), read_feature_log(tmp_path / "log"))
    assert report.breaches == ["user_stats.avg_amount"]
    assert any("served at version" in n for n in report.notes)


def test_replay_point_in_time_semantics(built: Any) -> None:
    from skewless.guards.consistency import pit_rows

    view = Registry.from_manifest(built.manifest).view("user_stats")
    # user 1 rows: 2026-01-01 01:00, 01-02 01:00, 01-03 01:00
    spine = [
        ({"user_id": 1}, datetime(2026, 1, 1, 0, 59, tzinfo=UTC)),  # before the first row
        ({"user_id": 1}, datetime(2026, 1, 1, 1, 0, tzinfo=UTC)),  # exactly at it: included
        ({"user_id": "1"}, datetime(2026, 1, 2, 23, 0, tzinfo=UTC)),  # string key, cast
        ({"user_id": None}, datetime(2026, 1, 2, 23, 0, tzinfo=UTC)),  # null key
        ({"user_id": 1}, datetime(2040, 1, 1, tzinfo=UTC)),  # beyond ttl (3650d)
    ]
    got = [ts for ts, _ in pit_rows(duck(built.duckdb), view, spine)]
    assert got == [
        None,
        datetime(2026, 1, 1, 1, tzinfo=UTC),
        datetime(2026, 1, 2, 1, tzinfo=UTC),
        None,
        None,
    ]
    assert not math.isnan(0.0)


def test_cli_online_json_html_and_exit_code(built: Any, redis_url: str, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from skewless.cli.consistency import consistency

    materialize_all(built, redis_url)
    common = [
        "--project-dir",
        str(built.dir),
        "--redis-url",
        redis_url,
        "--duckdb-path",
        str(built.duckdb),
    ]
    res = CliRunner().invoke(consistency, [*common, "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["ok"] is True
    _corrupt(redis_url, built.manifest, 3, "amount_sum", "1.00")
    html_path = tmp_path / "report.html"
    res = CliRunner().invoke(consistency, [*common, "--html", str(html_path)])
    assert res.exit_code == 1
    assert "BREACH: user_stats.amount_sum" in res.output
    page = html_path.read_text()
    assert "user_stats.amount_sum" in page and "<svg" in page
    assert "<script" not in page and "http://" not in page and "https://" not in page
    thresholds = tmp_path / "th.yml"
    thresholds.write_text("user_stats.amount_sum: 0.1\n")
    res = CliRunner().invoke(consistency, [*common, "--thresholds", str(thresholds)])
    assert res.exit_code == 0, res.output


def test_cli_replay_with_drift_against_the_training_set(
    built: Any, redis_url: str, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from skewless.cli.consistency import consistency

    materialize_all(built, redis_url)
    store = _store(built.manifest, redis_url)
    _serve_and_log(store, tmp_path / "log", [AS_OF])
    common = [
        "--project-dir",
        str(built.dir),
        "--redis-url",
        redis_url,
        "--duckdb-path",
        str(built.duckdb),
        "--log",
        str(tmp_path / "log"),
    ]
    res = CliRunner().invoke(
        consistency,
        [
            *common,
            "--training-relation",
            "training_set",  # a model name: its relation comes from the manifest
            "--json",
            "--html",
            str(tmp_path / "r.html"),
        ],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["mode"] == "replay" and data["rows"] == 44
    drift = {d["feature"]: d for d in data["drift"]}
    assert set(drift) == {*USER_STATS_FEATURES, "user_flags.is_vip"}
    assert drift["user_stats.avg_amount"]["kind"] == "numeric"
    assert drift["user_stats.last_country"]["kind"] == "category"
    assert all(d["psi"] >= 0 for d in drift.values())
    assert "Drift: training set vs served" in (tmp_path / "r.html").read_text()
    # a PSI limit below what the served sample shows is a breach
    res = CliRunner().invoke(
        consistency, [*common, "--training-relation", "main.training_set", "--max-psi", "0"]
    )
    assert res.exit_code == 1


def _serve_request_time(
    store: FeatureStore, logger: FeatureLogger, requests: list[dict[str, Any]]
) -> None:
    """Serve txn_risk the way the runtime does (inputs looked up in Redis, then the compiled
    projections), and log what was served."""
    from skewless.definitions.ondemand import read_on_demand_views

    odv = read_on_demand_views(store.registry.manifest, store.registry.views)["txn_risk"]
    input_refs = [ref for _col, ref in odv.input_refs]
    names = odv.feature_names
    for req in requests:
        entity = {"user_id": req["user_id"]}
        resp = store.get_online_features(input_refs, [entity], now=AS_OF)
        inputs = {col: resp.to_dicts()[0][ref] for col, ref in odv.input_refs}
        payload = {"amount": req["amount"], "country": req["country"]}
        computed = odv.evaluate(entity, payload, inputs, AS_OF)
        values = [computed[n] for n in names]
        logger.log(
            [f"txn_risk.{n}" for n in names],
            [entity],
            [values],
            [["present"] * len(names)],
            {"txn_risk": odv.version},
            request=[payload],
            served_at=AS_OF,
        )


REQUESTS = [
    {"user_id": u, "amount": Decimal(a), "country": c}
    for u, a, c in [
        (1, "12.50", "DE"),
        (5, "999.99", "FR"),
        (7, "100.00", None),
        (8, "0.01", "US"),
        (9, "1500.00", "ü-land"),
        (42, "5.00", "DE"),
        (5, "0.00", "DE"),
        (13, "250.25", ""),
    ]
]


def test_replay_request_time_features_clean_then_skewed_input(
    built: Any, redis_url: str, tmp_path: Path
) -> None:
    materialize_all(built, redis_url)
    store = _store(built.manifest, redis_url)
    with FeatureLogger(FeatureLogConfig(path=str(tmp_path / "clean"))) as logger:
        _serve_request_time(store, logger, REQUESTS)
    report = replay(store.registry, duck(built.duckdb), read_feature_log(tmp_path / "clean"))
    assert report.ok, report.to_table()
    by = {f.feature: f for f in report.features}
    assert set(by) == {
        "txn_risk.amount_to_avg",
        "txn_risk.foreign_country",
        "txn_risk.amount_bucket",
        "txn_risk.txn_count_next",
    }
    assert all(f.total == len(REQUESTS) for f in by.values())
    # user 42 is unknown: txn_count is defaulted to 0 online and offline alike
    assert by["txn_risk.amount_to_avg"].both_null >= 1
    # an input feature whose online value differs from offline: only the features reading it
    _corrupt(redis_url, built.manifest, 5, "avg_amount", 3.0)
    with FeatureLogger(FeatureLogConfig(path=str(tmp_path / "skewed"))) as logger:
        _serve_request_time(store, logger, REQUESTS)
    report = replay(store.registry, duck(built.duckdb), read_feature_log(tmp_path / "skewed"))
    assert report.breaches == ["txn_risk.amount_to_avg"]
    bad = next(f for f in report.features if f.feature == "txn_risk.amount_to_avg")
    # user 5's 999.99 request differs; its 0.00 request is 0.0 whatever the average
    assert bad.mismatch == 1 and bad.examples[0]["entity"] == {"user_id": 5}
    assert bad.examples[0]["left"] == pytest.approx(999.99 / 3.0)


def test_thresholds_precedence_column_meta_then_overrides(built: Any) -> None:
    reg = Registry.from_manifest(built.manifest)
    th = feature_thresholds(reg, 0.001)
    assert th["user_stats.amount_sum"] == 0.02  # column meta skewless.max_mismatch_rate
    assert th["user_stats.txn_count"] == 0.001  # the default
    th = feature_thresholds(reg, 0.0, {"user_stats.amount_sum": 0.5})
    assert th["user_stats.amount_sum"] == 0.5  # an override file wins


def test_replay_join_equals_the_point_in_time_macro(built: Any) -> None:
    """The replay's DuckDB join returns, for every spine row, what skewless.point_in_time_join
    returned for the same (entity, timestamp) in dbt (model pit_training)."""
    from skewless.guards.consistency import pit_rows

    con = duck(built.duckdb)
    view = Registry.from_manifest(built.manifest).view("user_stats")
    names = view.feature_names
    macro = _fetch(con, f"SELECT user_id, label_ts, {', '.join(names)} FROM main.pit_training")
    spine = [({"user_id": r[0]}, r[1].replace(tzinfo=UTC)) for r in macro]
    ours = pit_rows(con, view, spine)
    assert len(ours) == len(macro) == 120
    for r, (_ts, row) in zip(macro, ours, strict=True):
        got = [None] * len(names) if row is None else [row[n] for n in names]
        for a, b in zip(r[2:], got, strict=True):
            assert values_equal(a, b), (r, got)


def _fetch(con: Any, sql: str) -> list[tuple[Any, ...]]:
    return con.execute(sql).fetchall()


def test_replay_request_time_features_served_by_the_runtime(
    built: Any, redis_url: str, tmp_path: Path
) -> None:
    """The real path: get_online_features evaluates txn_risk, the attached logger records it,
    the replay recomputes it in DuckDB; then an input skewed in Redis is named."""
    materialize_all(built, redis_url)
    store = _store(built.manifest, redis_url)
    refs = [
        "txn_risk.amount_to_avg",
        "txn_risk.foreign_country",
        "txn_risk.amount_bucket",
        "txn_risk.txn_count_next",
        "user_stats.avg_amount",
    ]
    entities = [{"user_id": r["user_id"]} for r in REQUESTS]
    payloads = [{"amount": r["amount"], "country": r["country"]} for r in REQUESTS]

    def serve_and_replay(folder: Path) -> Any:
        logger = FeatureLogger(FeatureLogConfig(path=str(folder))).attach(store)
        store.get_online_features(refs, entities, request=payloads, now=AS_OF)
        logger.close()
        store.post_lookup.remove(logger.hook)
        return replay(store.registry, duck(built.duckdb), read_feature_log(folder))

    report = serve_and_replay(tmp_path / "clean")
    assert report.ok, report.to_table()
    assert {f.feature for f in report.features} == set(refs)
    _corrupt(redis_url, built.manifest, 9, "avg_amount", 0.5)
    report = serve_and_replay(tmp_path / "skewed")
    # the input itself and the request-time feature reading it; nothing else
    assert sorted(report.breaches) == ["txn_risk.amount_to_avg", "user_stats.avg_amount"]
