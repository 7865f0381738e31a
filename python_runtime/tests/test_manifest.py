"""The manifest reader against a real manifest written by the supported dbt (fixtures/)."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from skewless.definitions.durations import format_duration, parse_duration
from skewless.definitions.manifest import Manifest, load_manifest, read_feature_views
from skewless.definitions.registry import Registry
from skewless.errors import DefinitionError, ManifestError, UnknownFeatureError

FIXTURES = Path(__file__).parent / "fixtures"
MANIFESTS = sorted(FIXTURES.glob("manifest_dbt*.json"))


@pytest.fixture(params=MANIFESTS, ids=lambda p: p.stem)
def raw(request: pytest.FixtureRequest) -> dict[str, Any]:
    return json.loads(Path(request.param).read_text())


def _with_meta(raw: dict[str, Any], model: str, **changes: Any) -> Manifest:
    data = copy.deepcopy(raw)
    node = data["nodes"][f"model.manifest_fixture.{model}"]
    meta = node["config"]["meta"]["skewless"]
    for k, v in changes.items():
        if v is None:
            meta.pop(k, None)
        else:
            meta[k] = v
    return Manifest(data)


def test_fixture_manifests_exist() -> None:
    assert MANIFESTS, "run `make fixtures` to regenerate the dbt manifest fixtures"


def test_reads_feature_views(raw: dict[str, Any]) -> None:
    views = read_feature_views(Manifest(raw))
    assert set(views) == {"user_stats", "pair_stats"}  # not_a_view has no meta.skewless
    user = views["user_stats"]
    assert user.entity == ("user_id",)
    assert user.entity_types == ("bigint",)
    assert user.timestamp == "day_ts"
    assert user.ttl == timedelta(days=30)
    assert user.available_after == timedelta(hours=1)
    assert user.freshness == timedelta(days=2)
    assert user.on_stale == "serve"
    assert user.feature_names == ("txn_count_7d", "amount_avg_30d", "home_country")
    assert user.feature("txn_count_7d").default == 0 and user.feature("txn_count_7d").has_default
    assert not user.feature("amount_avg_30d").has_default
    assert user.relation_name.endswith('"user_stats"')
    pair = views["pair_stats"]
    assert pair.entity == ("user_id", "merchant_id")
    assert pair.ttl == timedelta(minutes=90)
    assert pair.feature("pair_share").data_type == "decimal(10, 4)"
    assert len(user.version) == 12 and user.version != pair.version


def test_version_ignores_layout_but_not_logic(raw: dict[str, Any]) -> None:
    base = read_feature_views(Manifest(raw))["user_stats"].version
    data = copy.deepcopy(raw)
    node = data["nodes"]["model.manifest_fixture.user_stats"]
    node["compiled_code"] = "-- a comment\n" + node["compiled_code"].replace("\n", "\n\n   ")
    assert read_feature_views(Manifest(data))["user_stats"].version == base
    node["compiled_code"] = node["compiled_code"].replace("12.5", "12.75")
    assert read_feature_views(Manifest(data))["user_stats"].version != base
    data = copy.deepcopy(raw)
    data["nodes"]["model.manifest_fixture.user_stats"]["columns"]["amount_avg_30d"]["data_type"] = (
        "float"
    )
    assert read_feature_views(Manifest(data))["user_stats"].version != base
    assert read_feature_views(_with_meta(raw, "user_stats", ttl="7d"))["user_stats"].version != base


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"entity": None}, "meta.skewless.entity"),
        ({"entity": 3}, "meta.skewless.entity"),
        ({"entity": ["user_id", "user_id"]}, "repeats"),
        ({"timestamp": None}, "meta.skewless.timestamp"),
        ({"ttl": "30 days"}, "meta.skewless.ttl"),
        ({"freshness": "2x"}, "meta.skewless.freshness"),
        ({"available_after": -1}, "meta.skewless.available_after"),
        ({"on_stale": "drop"}, "allowed: serve, default, null, reject"),
        ({"on_stale": "default"}, "amount_avg_30d"),
        ({"ttl_days": 3}, "unknown key"),
        ({"entity": "customer_id"}, "not declared"),
        ({"kind": "ondemand"}, "allowed: feature_view (the default), on_demand"),
    ],
)
def test_invalid_meta_names_model_and_key(
    raw: dict[str, Any], changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(DefinitionError) as err:
        read_feature_views(_with_meta(raw, "user_stats", **changes))
    assert "user_stats" in str(err.value)
    assert message in str(err.value)


def test_undeclared_type_is_an_error(raw: dict[str, Any]) -> None:
    data = copy.deepcopy(raw)
    data["nodes"]["model.manifest_fixture.user_stats"]["columns"]["home_country"]["data_type"] = (
        None
    )
    with pytest.raises(DefinitionError, match=r"`user_stats`, column `home_country`: no data_type"):
        read_feature_views(Manifest(data))


def test_missing_compiled_sql_says_run_dbt_compile(raw: dict[str, Any]) -> None:
    data = copy.deepcopy(raw)
    data["nodes"]["model.manifest_fixture.user_stats"].pop("compiled_code")
    with pytest.raises(DefinitionError, match="dbt compile"):
        read_feature_views(Manifest(data))


def test_unknown_manifest_fields_are_ignored(raw: dict[str, Any]) -> None:
    data = copy.deepcopy(raw)
    data["some_future_field"] = {"x": 1}
    data["nodes"]["model.manifest_fixture.user_stats"]["future_key"] = [1, 2]
    assert "user_stats" in read_feature_views(Manifest(data))


def test_load_manifest_errors(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="dbt compile"):
        load_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ManifestError, match="not valid JSON"):
        load_manifest(tmp_path / "manifest.json")
    (tmp_path / "manifest.json").write_text("[]")
    with pytest.raises(ManifestError, match="not a dbt manifest"):
        load_manifest(tmp_path / "manifest.json")


def test_registry_resolves_references() -> None:
    reg = Registry.from_manifest(MANIFESTS[-1])
    assert reg.feature("user_stats.txn_count_7d").data_type == "bigint"
    assert reg.manifest is not None and len(reg.manifest.sha256) == 64
    assert reg.manifest.adapter_type == "duckdb"
    with pytest.raises(UnknownFeatureError, match="known views: pair_stats, user_stats"):
        reg.feature("nope.x")
    with pytest.raises(UnknownFeatureError, match="its features: txn_count_7d"):
        reg.feature("user_stats.nope")
    with pytest.raises(UnknownFeatureError, match=r"<model>\.<column>"):
        reg.feature("txn_count_7d")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("15m", 900),
        ("12h", 43200),
        ("30d", 2592000),
        ("2w", 1209600),
        ("1h30m", 5400),
        ("0s", 0),
    ],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)
    assert parse_duration(format_duration(timedelta(seconds=seconds))) == timedelta(seconds=seconds)


@pytest.mark.parametrize("bad", ["", "30", "d", "1.5h", "-1d", "30 days", 30, None, True, "1y"])
def test_parse_duration_rejects(bad: object) -> None:
    with pytest.raises(ValueError, match="90s, 15m, 12h, 30d, 2w"):
        parse_duration(bad)
