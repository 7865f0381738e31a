"""`OnlineResponse.reasons`: why a served value is not the stored one (missing, expired, stale),
which `defaulted` alone does not say — against a real Redis loaded from the real dbt-built
serving fixture, through the Python API, `skewless get` (table and `--json`) and the
served-feature log."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from serving_fixtures import NOON, BuiltProject

from skewless.cli import main
from skewless.definitions.registry import Registry
from skewless.errors import StaleFeatureError
from skewless.guards.feature_log import FeatureLogConfig, read_feature_log
from skewless.online.connection import connect
from skewless.online.materialize import materialize
from skewless.online.store import REASONS, STATUSES, FeatureStore, OnlineResponse

# every test taking `store` runs on FeatureStore and on AsyncFeatureStore (conftest.py)
ASYNC_PARITY = True

FRESH, STALE = {"user_id": 2}, {"user_id": 1}  # 30 min and 2 h old at noon; freshness SLA 1 h
NOBODY = {"user_id": 999_999}
#: past the 7d ttl of the stale_* views for user 1 (10:00), within it for user 2 (11:30)
AFTER_TTL = NOON + timedelta(days=7, hours=-1)


def triples(resp: OnlineResponse) -> list[dict[str, tuple[object, str, str | None]]]:
    """Per entity: reference → (value, status, reason)."""
    values, statuses, reasons = resp.to_dicts(), resp.statuses, resp.reasons
    for row_s, row_r in zip(statuses, reasons, strict=True):
        assert set(row_s.values()) <= set(STATUSES)
        assert set(row_r.values()) <= {None, *REASONS}
    # the one-pass form (the HTTP server's) says the same, in `features` order
    st, rs, ag = resp.details()
    refs = resp.features
    assert st == [[d[r] for r in refs] for d in statuses]
    assert rs == [[d[r] for r in refs] for d in reasons]
    assert ag == [[None if a is None else a.total_seconds() for a in d.values()] for d in resp.ages]
    return [
        {ref: (v[ref], s[ref], r[ref]) for ref in resp.features}
        for v, s, r in zip(values, statuses, reasons, strict=True)
    ]


def test_missing_is_the_reason_of_a_default_and_of_a_none(store: FeatureStore) -> None:
    resp = store.get_online_features(["events.value", "all_types.s"], [NOBODY], now=NOON)
    assert triples(resp) == [
        {
            "events.value": (0, "defaulted", "missing"),
            "all_types.s": (None, "missing", "missing"),
        }
    ]


def test_expired_is_the_reason_of_a_default_and_of_a_none(store: FeatureStore) -> None:
    resp = store.get_online_features(
        ["stale_serve.score", "stale_default.label"], [STALE, FRESH], now=AFTER_TTL
    )
    assert triples(resp) == [
        {
            "stale_serve.score": (-1.0, "defaulted", "expired"),
            "stale_default.label": ("none", "defaulted", "expired"),
        },
        # user 2 is within the ttl but past freshness: served (serve) or defaulted (default)
        {
            "stale_serve.score": (2.5, "stale", None),
            "stale_default.label": ("none", "defaulted", "stale"),
        },
    ]
    month = NOON + timedelta(days=30, hours=-1, minutes=-30)  # all_types: ttl 30d, no defaults
    resp = store.get_online_features(["all_types.i_int"], [STALE], now=month)
    assert triples(resp) == [{"all_types.i_int": (None, "expired", "expired")}]


def test_details_follow_the_requested_order_across_views(store: FeatureStore) -> None:
    """Features of one view asked for apart (the plan reads them together, then permutes)."""
    refs = ["stale_default.score", "events.value", "stale_default.label", "all_types.s"]
    resp = store.get_online_features(refs, [STALE, NOBODY], now=NOON)
    assert triples(resp) == [
        {
            "stale_default.score": (-1.0, "defaulted", "stale"),
            "events.value": (1, "present", None),
            "stale_default.label": ("none", "defaulted", "stale"),
            "all_types.s": ('日本語 🚀 "q" }{: %7D', "present", None),
        },
        {
            "stale_default.score": (-1.0, "defaulted", "missing"),
            "events.value": (0, "defaulted", "missing"),
            "stale_default.label": ("none", "defaulted", "missing"),
            "all_types.s": (None, "missing", "missing"),
        },
    ]
    st, _rs, ag = resp.details()
    assert st[0] == ["defaulted", "present", "defaulted", "present"]
    assert ag[1] == [None, None, None, None] and ag[0][0] == 7200.0


@pytest.mark.parametrize("entities", [[STALE], [FRESH, STALE]], ids=["one", "many"])
def test_each_on_stale_policy_has_its_reason(
    store: FeatureStore, entities: list[dict[str, int]]
) -> None:
    """The single-entity and the many-entity read paths give the same reasons."""
    refs = ["stale_serve.score", "stale_default.score", "stale_null.score", "stale_null.label"]
    resp = store.get_online_features(refs, entities, now=NOON)
    stale = {
        "stale_serve.score": (1.5, "stale", None),  # the stored value: no reason
        "stale_default.score": (-1.0, "defaulted", "stale"),
        "stale_null.score": (None, "stale", "stale"),
        "stale_null.label": (None, "stale", "stale"),
    }
    fresh = {
        "stale_serve.score": (2.5, "present", None),
        "stale_default.score": (2.5, "present", None),
        "stale_null.score": (2.5, "present", None),
        "stale_null.label": ("two", "present", None),
    }
    assert triples(resp) == [fresh if e is FRESH else stale for e in entities]
    with pytest.raises(StaleFeatureError, match="on_stale: reject"):
        store.get_online_features(["stale_reject.score"], entities, now=NOON)
    ok = store.get_online_features(["stale_reject.score"], [FRESH], now=NOON)
    assert triples(ok) == [{"stale_reject.score": (2.5, "present", None)}]


def test_get_prints_the_reason(
    store: FeatureStore, built: BuiltProject, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for k, v in {
        "SKEWLESS_PROJECT_DIR": str(built.dir),
        "SKEWLESS_REDIS_URL": redis_url,
        "SKEWLESS_TARGET_PATH": "target",
    }.items():
        monkeypatch.setenv(k, v)
    args = ["get", "-e", "user_id=1", "-e", "user_id=999999", "--now", NOON.isoformat()]
    args += ["-f", "stale_default.score,stale_serve.score,events.value"]
    result = CliRunner().invoke(main, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    stale, nobody = json.loads(result.stdout)
    assert stale["features"]["stale_default.score"] == {
        "value": -1.0,
        "status": "defaulted",
        "reason": "stale",
        "age_seconds": 7200.0,
    }
    assert stale["features"]["stale_serve.score"]["reason"] is None
    assert nobody["features"]["events.value"] == {
        "value": 0,
        "status": "defaulted",
        "reason": "missing",
        "age_seconds": None,
    }

    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["entity", "feature", "value", "status", "reason", "age"]
    rows = {(line.split()[0], line.split()[1]): line.split()[2:] for line in lines[2:]}
    assert rows[("user_id=1", "stale_default.score")] == ["-1.0", "defaulted", "stale", "2:00:00"]
    assert rows[("user_id=1", "stale_serve.score")] == ["1.5", "stale", "-", "2:00:00"]
    assert rows[("user_id=999999", "events.value")] == ["0", "defaulted", "missing", "-"]


def test_the_feature_log_keeps_the_reason(
    built: BuiltProject, redis_url: str, tmp_path: Path
) -> None:
    """The log records each view row's read status (never `defaulted`), so a logged default
    still says whether its row was missing, expired or stale."""
    registry = Registry.from_manifest(built.manifest)
    client = connect(redis_url)
    materialize(registry, client, built.duckdb, now=NOON)
    log = tmp_path / "log"
    store = FeatureStore(registry, client, redis_url, FeatureLogConfig(path=str(log)))
    refs = ["stale_default.score", "events.value"]
    served = store.get_online_features(refs, [STALE, NOBODY], now=NOON)
    later = store.get_online_features(["stale_serve.score"], [STALE], now=AFTER_TTL)
    store.close()
    rows = list(read_feature_log(log))
    assert [r.statuses for r in rows] == [
        {"stale_default.score": "stale", "events.value": "present"},
        {"stale_default.score": "missing", "events.value": "missing"},
        {"stale_serve.score": "expired"},
    ]
    # what the service got: the same reasons (`present`: none)
    logged = [{f: None if s == "present" else s for f, s in r.statuses.items()} for r in rows]
    assert [*served.reasons, *later.reasons] == logged
    assert [r.values for r in rows] == [*served.to_dicts(), *later.to_dicts()]
