"""`skewless serve`: the HTTP feature server started as a subprocess on a free port, against a
real Redis (its own, started here) and the serving fixture project built by dbt.

Every endpoint and every error the server can give on this project is exercised over HTTP;
values are compared with the in-process `FeatureStore` on the same Redis; `/metrics` is parsed
and its counters checked against the calls made; auth on and off; the manifest reload (a
changed definition rebuilt by dbt while a client hammers the server: no failed request, the
latency around the swap reported).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from serving_fixtures import NOON, BuiltProject

from skewless.definitions.registry import Registry
from skewless.online.connection import connect
from skewless.online.local_redis import LocalRedis, free_port
from skewless.online.materialize import materialize
from skewless.online.store import FeatureStore

SKEWLESS = Path(sys.executable).with_name("skewless")
NOW = "2099-01-01T12:00:00Z"
ALL_TYPES = [
    "all_types.i_big",
    "all_types.i_int",
    "all_types.i_huge",
    "all_types.f_dbl",
    "all_types.dec",
    "all_types.s",
    "all_types.b",
    "all_types.d",
    "all_types.t_naive",
    "all_types.t_tz",
]


class ServerProcess:
    """`skewless serve` in a subprocess on a free port; its output goes to a log file."""

    def __init__(
        self,
        project: Path,
        redis_url: str,
        log: Path,
        *,
        token: str | None = None,
        duckdb: Path | None = None,
        args: tuple[str, ...] = (),
        wait_ready: bool = True,
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        env = {k: v for k, v in os.environ.items() if not k.startswith("SKEWLESS_")}
        env["TZ"] = "UTC"
        if token:
            env["SKEWLESS_SERVER_TOKEN"] = token
        cmd = [
            str(SKEWLESS), "--project-dir", str(project), "--redis-url", redis_url,
            "serve", "--port", str(self.port), "--log-level", "info",
            "--reload-interval", "0.2", *args,
        ]  # fmt: skip
        if duckdb is not None:
            cmd += ["--duckdb-path", str(duckdb)]
        self._out = log.open("wb")
        self.proc = subprocess.Popen(cmd, stdout=self._out, stderr=subprocess.STDOUT, env=env)
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"skewless serve exited:\n{self.output()}")
            try:
                r = requests.get(self.url + "/livez", timeout=1)
                if r.status_code == 200 and (
                    not wait_ready or requests.get(self.url + "/readyz", timeout=5).ok
                ):
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"skewless serve did not get ready:\n{self.output()}")
            time.sleep(0.1)

    def output(self) -> str:
        if not self._out.closed:
            self._out.flush()
        return self.log.read_text(errors="replace")

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.session.get(self.url + path, timeout=30, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> requests.Response:
        if body is not None:
            kw["data"] = body if isinstance(body, (bytes, str, Iterator)) else json.dumps(body)
        return self.session.post(self.url + path, timeout=30, **kw)

    def features(self, body: dict[str, Any]) -> requests.Response:
        return self.post("/get-online-features", body)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._out.close()
        self.session.close()
        return self.proc.returncode


def metrics_of(server: ServerProcess) -> dict[str, float]:
    """`/metrics` parsed: `name{labels}` → value (the labels as written, sorted by the server)."""
    r = server.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    out: dict[str, float] = {}
    for line in r.text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r"([a-z_]+)(\{[^}]*\})? (\S+)", line)
        assert m, f"not a Prometheus sample line: {line!r}"
        out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def expected_json(value: Any) -> Any:
    """A Python value as docs/server.md promises it in JSON (written independently of the
    server's encoder)."""
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value in (float("inf"), float("-inf")):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


@pytest.fixture(scope="module")
def redis_srv() -> Any:
    server = LocalRedis()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def loaded(built: BuiltProject, redis_srv: LocalRedis) -> Registry:
    registry = Registry.from_manifest(built.manifest)
    materialize(registry, connect(redis_srv.url), built.duckdb, now=NOON)
    return registry


@pytest.fixture(scope="module")
def server(
    built: BuiltProject, redis_srv: LocalRedis, loaded: Registry, tmp_path_factory: Any
) -> Any:
    log = tmp_path_factory.mktemp("server") / "server.log"
    proc = ServerProcess(
        built.dir, redis_srv.url, log, duckdb=built.duckdb, args=("--max-body-bytes", "200000")
    )
    yield proc
    assert proc.stop() in (0, -signal.SIGTERM), proc.output()  # uvicorn re-raises SIGTERM
    assert "Traceback" not in proc.output(), proc.output()


# --- POST /get-online-features -------------------------------------------------------------


def test_native_values_statuses_reasons_ages_match_the_in_process_store(
    server: ServerProcess, loaded: Registry, redis_srv: LocalRedis
) -> None:
    entities = [{"user_id": 1}, {"user_id": 2}, {"user_id": 424242}]
    r = server.features({"features": ALL_TYPES, "entities": entities, "now": NOW})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    store = FeatureStore(loaded, connect(redis_srv.url), redis_srv.url)
    ref = store.get_online_features(ALL_TYPES, entities, now=NOON)
    assert body["features"] == ALL_TYPES
    assert body["versions"] == {"all_types": loaded.views["all_types"].version}
    assert body["served_at"] == NOW
    assert len(body["results"]) == 3
    for i, result in enumerate(body["results"]):
        assert result["values"] == [expected_json(v) for v in ref.values[i]]
        assert result["statuses"] == [ref.statuses[i][f] for f in ALL_TYPES]
        assert result["reasons"] == [ref.reasons[i][f] for f in ALL_TYPES]
        ages = [ref.ages[i][f] for f in ALL_TYPES]
        assert result["age_seconds"] == [None if a is None else a.total_seconds() for a in ages]
    # the unknown entity: missing, with its reason and no age
    assert set(body["results"][2]["statuses"]) == {"missing"}
    assert set(body["results"][2]["reasons"]) == {"missing"}
    assert body["results"][0]["statuses"] == ["present"] * len(ALL_TYPES)
    # types survive JSON as documented: a HUGEINT exactly, a DECIMAL as exact text
    values = dict(zip(ALL_TYPES, body["results"][0]["values"], strict=True))
    assert isinstance(values["all_types.dec"], str)
    assert values["all_types.i_huge"] == ref.values[0][2]
    store.close()


def test_on_stale_policies_over_http(server: ServerProcess) -> None:
    later = "2099-01-01T14:00:00Z"  # every stale_* row is past its 1h freshness SLA
    r = server.features(
        {
            "features": ["stale_serve.score", "stale_default.score", "stale_null.score"],
            "entities": [{"user_id": 1}],
            "now": later,
        }
    )
    assert r.status_code == 200, r.text
    result = r.json()["results"][0]
    assert result["statuses"] == ["stale", "defaulted", "stale"]
    assert result["reasons"] == [None, "stale", "stale"]
    assert result["values"][1] == -1.0 and result["values"][2] is None
    assert all(a > 3600 for a in result["age_seconds"])
    # on_stale: reject is a 503 naming the view
    r = server.features(
        {"features": ["stale_reject.score"], "entities": [{"user_id": 1}], "now": later}
    )
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "stale_feature"
    assert "stale_reject" in r.json()["error"]["message"]


def test_feast_request_shape(server: ServerProcess, loaded: Registry) -> None:
    body = {
        "features": ["all_types:i_big", "pairs:label"],
        "entities": {"user_id": [1, 999], "a": [1, 1], "b": [2, 2]},
        "now": NOW,
    }
    r = server.features(body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["metadata"]["feature_names"] == ["user_id", "a", "b", "i_big", "label"]
    cols = out["results"]
    assert cols[0]["values"] == [1, 999] and cols[0]["statuses"] == ["PRESENT", "PRESENT"]
    i_big = cols[3]
    assert i_big["statuses"] == ["PRESENT", "NOT_FOUND"]
    assert i_big["skewless_statuses"] == ["present", "missing"]
    assert i_big["reasons"] == [None, "missing"]
    assert i_big["event_timestamps"][1] == "1970-01-01T00:00:00Z"
    # the event timestamp is the row's: served_at - age
    served = datetime.fromisoformat(out["served_at"])
    event = datetime.fromisoformat(i_big["event_timestamps"][0])
    assert served - event == timedelta(seconds=i_big["age_seconds"][0])
    assert out["versions"]["pairs"] == loaded.views["pairs"].version
    # full_feature_names, and `view.feature` accepted too
    body = {**body, "features": ["all_types.i_big"], "full_feature_names": True}
    r = server.features(body)
    assert r.json()["metadata"]["feature_names"][-1] == "all_types__i_big"
    # columns of different lengths: 400 naming the column
    r = server.features({"features": ["all_types:i_big"], "entities": {"user_id": [1], "x": []}})
    assert r.status_code == 400 and "entities.x" in r.json()["error"]["message"]


def _error(r: requests.Response, status: int, code: str, *words: str) -> str:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"] == "application/json"
    err = r.json()["error"]
    assert err["code"] == code, err
    for w in words:
        assert w in err["message"], err
    assert "Traceback" not in r.text and 'File "' not in r.text
    return str(err["message"])


def test_bad_input_is_400_naming_the_field(server: ServerProcess) -> None:
    f = ["all_types.i_big"]
    _error(server.post("/get-online-features", b"{not json"), 400, "invalid_json")
    _error(server.post("/get-online-features", b""), 400, "invalid_json")
    _error(server.features([1, 2]), 400, "bad_request", "JSON object")  # type: ignore[arg-type]
    _error(server.features({"entities": [{"user_id": 1}]}), 400, "bad_request", "features")
    _error(server.features({"features": f}), 400, "bad_request", "entities")
    _error(server.features({"features": f, "entities": [1]}), 400, "bad_request", "entities[0]")
    _error(
        server.features({"features": f, "entities": [{"user_id": 1}], "bogus": 1}),
        400, "bad_request", "bogus",
    )  # fmt: skip
    _error(
        server.features({"features": f, "entities": [{"user_id": 1}], "now": "yesterday"}),
        400, "bad_request", "now",
    )  # fmt: skip
    _error(
        server.features({"features": f, "entities": [{"user_id": 1}], "deadline_ms": -5}),
        400, "bad_request", "deadline_ms",
    )  # fmt: skip
    # the store's own checks: a missing key, a key not of its type, no features at all
    _error(
        server.features({"features": f, "entities": [{"other": 1}]}), 400, "bad_request", "user_id"
    )
    _error(
        server.features({"features": f, "entities": [{"user_id": "x1"}]}),
        400, "bad_request", "user_id",
    )  # fmt: skip
    _error(server.features({"features": [], "entities": [{"user_id": 1}]}), 400, "bad_request")
    # limits
    many = [{"user_id": i} for i in range(10_001)]
    body = json.dumps({"features": f, "entities": many})
    assert len(body) < 200_000
    _error(server.post("/get-online-features", body), 400, "request_limit", "10,000")


def test_unknown_feature_404_unknown_route_404_wrong_method_405(server: ServerProcess) -> None:
    _error(
        server.features({"features": ["all_types.nope"], "entities": [{"user_id": 1}]}),
        404, "unknown_feature", "`nope`",
    )  # fmt: skip
    _error(server.get("/nope"), 404, "not_found")
    _error(server.get("/get-online-features"), 405, "method_not_allowed", "POST")


def test_body_past_the_limit_is_413(server: ServerProcess) -> None:
    body = json.dumps({"features": ["all_types.i_big"], "entities": [{"user_id": 1}] * 30_000})
    assert len(body) > 200_000
    _error(server.post("/get-online-features", body), 413, "body_too_large", "200,000")
    # chunked (no content-length): cut while reading
    chunks = (body[i : i + 8192].encode() for i in range(0, len(body), 8192))
    _error(server.post("/get-online-features", chunks), 413, "body_too_large")


def test_deadline_is_503(server: ServerProcess) -> None:
    r = server.features(
        {"features": ["all_types.i_big"], "entities": [{"user_id": 1}], "deadline_ms": 0.0001}
    )
    _error(r, 503, "deadline_exceeded", "deadline")


def test_retired_version_is_410_then_serves_again(
    server: ServerProcess, loaded: Registry, built: BuiltProject, redis_srv: LocalRedis
) -> None:
    # three newer versions of `names` loaded: the served one is retired (keep_versions=3)
    view = loaded.views["names"]
    client = connect(redis_srv.url)
    for i in range(3):
        other = Registry({"names": replace(view, version=f"newer{i}")})
        materialize(other, client, built.duckdb, now=NOON)
    r = server.features({"features": ["names.echo"], "entities": [{"name": "a"}], "now": NOW})
    _error(r, 410, "retired_version", "names")
    ready = server.get("/readyz")
    assert ready.status_code == 503
    assert "names" in " ".join(ready.json()["checks"]["materialized"]["missing"])
    materialize(loaded, client, built.duckdb, now=NOON, select=["names"])
    r = server.features({"features": ["names.echo"], "entities": [{"name": "a"}], "now": NOW})
    assert r.status_code == 200, r.text
    assert server.get("/readyz").status_code == 200


# --- catalog, probes, explain, openapi ------------------------------------------------------


def test_catalog(server: ServerProcess, loaded: Registry) -> None:
    r = server.get("/features")
    assert r.status_code == 200, r.text
    cat = r.json()
    by_name = {v["name"]: v for v in cat["views"]}
    assert set(by_name) == set(loaded.views)
    at = by_name["all_types"]
    assert at["version"] == loaded.views["all_types"].version
    assert at["entity"] == ["user_id"] and at["ttl_seconds"] == 30 * 86400
    assert {"name": "dec", "data_type": "decimal(18,4)"}.items() <= next(
        f for f in at["features"] if f["name"] == "dec"
    ).items()
    assert at["online"]["materialized"] is True
    assert at["online"]["stored_version"] == at["version"] and at["online"]["rows"] >= 1
    assert by_name["stale_reject"]["on_stale"] == "reject"
    assert by_name["stale_reject"]["freshness_seconds"] == 3600
    assert cat["disabled"] == {} and cat["request_time_views"] == []


def test_livez_readyz(server: ServerProcess, loaded: Registry) -> None:
    assert server.get("/livez").json() == {"status": "ok"}
    r = server.get("/readyz")
    assert r.status_code == 200, r.text
    checks = r.json()["checks"]
    assert all(c["ok"] for c in checks.values()), checks
    assert checks["definitions"]["views"] == len(loaded.views)
    assert "manifest_sha256" in checks["definitions"]


def test_explain(server: ServerProcess) -> None:
    r = server.post("/explain", {"feature": "all_types.i_big", "entity": {"user_id": 1}, "at": NOW})
    assert r.status_code == 200, r.text
    ex = r.json()
    assert ex["verdict"] == "equal" and ex["consistent"] is True
    assert ex["served"]["status"] == "present"
    assert ex["source"]["model"].endswith(".all_types")
    _error(
        server.post("/explain", {"feature": "all_types.nope", "entity": {"user_id": 1}}),
        404, "unknown_feature",
    )  # fmt: skip
    _error(
        server.post("/explain", {"feature": "all_types.i_big", "entity": {"x": 1}}),
        400, "bad_request", "user_id",
    )  # fmt: skip
    _error(server.post("/explain", {"feature": 1, "entity": {}}), 400, "bad_request", "feature")


def test_openapi_document_covers_every_route(server: ServerProcess) -> None:
    r = server.get("/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"].startswith("3.")
    assert set(doc["paths"]) == {
        "/get-online-features", "/features", "/explain", "/push", "/livez", "/readyz",
        "/metrics", "/openapi.json",
    }  # fmt: skip
    op = doc["paths"]["/get-online-features"]["post"]
    assert {"200", "400", "404", "410", "413", "503"} <= set(op["responses"])


# --- metrics --------------------------------------------------------------------------------


def test_metrics_count_the_calls_made(server: ServerProcess) -> None:
    before = metrics_of(server)
    ok = {"features": ["all_types.i_big", "all_types.s"], "now": NOW}
    for _ in range(7):
        assert server.features({**ok, "entities": [{"user_id": 1}, {"user_id": 31337}]}).ok
    for _ in range(3):
        server.features({"features": ["all_types.nope"], "entities": [{"user_id": 1}]})
    after = metrics_of(server)

    def delta(key: str) -> float:
        return after.get(key, 0) - before.get(key, 0)

    route = '{route="/get-online-features",code="200"}'
    assert delta(f"skewless_http_requests_total{route}") == 7
    assert delta(f"skewless_http_request_duration_seconds_count{route}") == 7
    assert delta('skewless_http_requests_total{route="/get-online-features",code="404"}') == 3
    assert delta('skewless_errors_total{code="unknown_feature"}') == 3
    # 7 calls × 2 features: one present and one missing entity each
    assert delta('skewless_served_values_total{view="all_types",status="present"}') == 14
    assert delta('skewless_served_values_total{view="all_types",status="missing"}') == 14
    # buckets from 50 µs to 5 s, cumulative
    buckets = [
        (k, v)
        for k, v in after.items()
        if k.startswith("skewless_http_request_duration_seconds_bucket" + route[:-1])
    ]
    bounds = [re.search(r'le="([^"]+)"', k).group(1) for k, _ in buckets]  # type: ignore[union-attr]
    assert bounds[0] == "5e-05" and bounds[-2] == "5.0" and bounds[-1] == "+Inf"
    counts = [v for _, v in buckets]
    assert (
        counts == sorted(counts)
        and counts[-1] == after[f"skewless_http_request_duration_seconds_count{route}"]
    )
    # gauges: staleness per view (seconds since the load), SLA, Redis up, log drops
    assert 0 <= after['skewless_view_staleness_seconds{view="all_types"}'] < 3600
    assert after['skewless_view_freshness_sla_seconds{view="stale_serve"}'] == 3600
    assert after["skewless_redis_up"] == 1
    assert after["skewless_feature_log_dropped_total"] == 0


# --- auth -----------------------------------------------------------------------------------


def test_bearer_token(
    built: BuiltProject, redis_srv: LocalRedis, loaded: Registry, tmp_path: Path
) -> None:
    token = "s3cret-Token-for-the-test"
    srv = ServerProcess(built.dir, redis_srv.url, tmp_path / "auth.log", token=token)
    try:
        body = json.dumps({"features": ["all_types.i_big"], "entities": [{"user_id": 1}]})
        url = srv.url + "/get-online-features"
        r = requests.post(url, data=body, timeout=10)
        _error(r, 401, "unauthorized")
        assert r.headers["www-authenticate"] == "Bearer"
        r = requests.post(url, data=body, headers={"Authorization": "Bearer wrong"}, timeout=10)
        _error(r, 401, "unauthorized")
        assert token not in r.text
        r = requests.post(url, data=body, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert r.status_code == 200, r.text
        for path in ("/features", "/metrics", "/openapi.json"):
            assert requests.get(srv.url + path, timeout=10).status_code == 401, path
            assert srv.get(path).status_code == 200, path
        # probes stay open
        assert requests.get(srv.url + "/livez", timeout=10).status_code == 200
        assert requests.get(srv.url + "/readyz", timeout=10).status_code == 200
    finally:
        srv.stop()
    assert token not in srv.output()
    # and without a token the same server answers anyone (the module's server)


def test_without_token_no_auth(server: ServerProcess) -> None:
    r = requests.post(
        server.url + "/get-online-features",
        data=json.dumps({"features": ["all_types.i_big"], "entities": [{"user_id": 1}]}),
        timeout=10,
    )
    assert r.status_code == 200, r.text


# --- a server whose Redis fails, lost data, a broken view, a bad start ------------------------


def test_redis_faults_not_materialized_broken_view(
    built: BuiltProject, loaded: Registry, tmp_path: Path
) -> None:
    # a copy of the project whose manifest breaks `names` (an invalid on_stale)
    project = tmp_path / "proj"
    (project / "target").mkdir(parents=True)
    manifest = json.loads(built.manifest.read_text())
    for node in manifest["nodes"].values():
        if node.get("name") == "names":
            node["config"]["meta"]["skewless"]["on_stale"] = "bogus"
    (project / "target" / "manifest.json").write_text(json.dumps(manifest))
    shutil.copy(built.dir / "dbt_project.yml", project / "dbt_project.yml")
    rs = LocalRedis()
    srv = None
    try:
        srv = ServerProcess(project, rs.url, tmp_path / "faults.log", wait_ready=False)
        # nothing materialized: not ready, and a lookup is a 503 naming the command to run
        r = srv.get("/readyz")
        assert r.status_code == 503
        checks = r.json()["checks"]
        assert checks["redis"]["ok"] is True and checks["materialized"]["ok"] is False
        assert "names" in checks["definitions"]["disabled"]
        one = {"features": ["all_types.i_big"], "entities": [{"user_id": 1}], "now": NOW}
        _error(srv.features(one), 503, "not_materialized", "skewless materialize")
        _error(
            srv.features({"features": ["names.echo"], "entities": [{"name": "a"}]}),
            503, "broken_view", "on_stale",
        )  # fmt: skip
        # loaded: served; then Redis loses it (a flushed database): 503, never `missing`
        registry = Registry.from_manifest(project / "target" / "manifest.json")
        client = connect(rs.url)
        materialize(registry, client, built.duckdb, now=NOON)
        assert srv.features(one).status_code == 200
        assert srv.get("/readyz").status_code == 200
        client.flushall()
        _error(srv.features(one), 503, "store_unavailable")
        # Redis down: 503 online_store_error, not ready, alive, the error counted
        rs.stop()
        _error(srv.features(one), 503, "online_store_error", "127.0.0.1")
        r = srv.get("/readyz")
        assert r.status_code == 503 and r.json()["checks"]["redis"]["ok"] is False
        assert srv.get("/livez").status_code == 200
        _error(srv.get("/features"), 503, "online_store_error")
        m = metrics_of(srv)
        assert m["skewless_redis_up"] == 0
        assert m['skewless_redis_errors_total{code="online_store_error"}'] >= 1
        assert m['skewless_redis_errors_total{code="store_unavailable"}'] == 1
    finally:
        if srv is not None:
            srv.stop()
        rs.stop()
    assert "Traceback" not in srv.output()


def test_bad_start_is_one_line(tmp_path: Path, redis_srv: LocalRedis) -> None:
    proc = subprocess.run(
        [str(SKEWLESS), "--project-dir", str(tmp_path), "--redis-url", redis_srv.url, "serve",
         "--port", str(free_port())],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.startswith("Error: ") and "manifest" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_redis_password_never_in_output(built: BuiltProject, tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.run(
        [str(SKEWLESS), "--project-dir", str(built.dir), "--redis-url",
         f"redis://user:hunter2-pw@127.0.0.1:{port}/0", "serve", "--port", str(free_port())],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "hunter2-pw" not in proc.stdout + proc.stderr
    assert "***" in proc.stderr


# --- reload ---------------------------------------------------------------------------------


def _dbt_compile(project: Path, target: Path, duckdb: Path) -> None:
    dbt = Path(sys.executable).with_name("dbt")
    proc = subprocess.run(
        [str(dbt), "compile", "--project-dir", str(project), "--profiles-dir", str(project),
         "--target-path", str(target), "--log-path", str(project / "logs")],
        env={**os.environ, "SKEWLESS_DUCKDB_PATH": str(duckdb), "TZ": "UTC"},
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_reload_on_a_changed_definition_under_load(
    built: BuiltProject, redis_srv: LocalRedis, loaded: Registry, tmp_path: Path,
    record_property: Any,
) -> None:  # fmt: skip
    project = tmp_path / "serving"
    shutil.copytree(built.dir, project, ignore=shutil.ignore_patterns("logs", "*.duckdb"))
    db = tmp_path / built.duckdb.name
    shutil.copy(built.duckdb, db)
    old_version = loaded.views["events"].version
    # the new definition: `events` with another ttl (a new version), compiled by dbt aside
    schema = project / "models" / "schema.yml"
    text = schema.read_text()
    marker = "skewless: {entity: user_id, timestamp: ts, ttl: 30d}\n    columns:\n      - {name: user_id, data_type: bigint}\n      - {name: ts, data_type: timestamp}\n      - {name: batch"
    assert text.count(marker) == 1
    schema.write_text(text.replace(marker, marker.replace("ttl: 30d", "ttl: 31d")))
    _dbt_compile(project, tmp_path / "new_target", db)
    new_manifest = tmp_path / "new_target" / "manifest.json"
    new_registry = Registry.from_manifest(new_manifest)
    new_version = new_registry.views["events"].version
    assert new_version != old_version
    # deploy order: load the new version first (the old one stays live), then the definitions
    materialize(new_registry, connect(redis_srv.url), db, now=NOON, select=["events"])

    srv = ServerProcess(project, redis_srv.url, tmp_path / "reload.log")
    body = json.dumps(
        {"features": ["events.value", "all_types.i_big"], "entities": [{"user_id": 1}], "now": NOW}
    )
    stop = threading.Event()
    samples: list[tuple[float, float, int, str]] = []  # (start, seconds, status, events version)
    failures: list[str] = []

    def hammer() -> None:
        session = requests.Session()
        while not stop.is_set():
            t0 = time.perf_counter()
            try:
                r = session.post(srv.url + "/get-online-features", data=body, timeout=10)
            except requests.RequestException as e:
                failures.append(repr(e))
                continue
            dt = time.perf_counter() - t0
            version = r.json()["versions"].get("events", "") if r.status_code == 200 else ""
            if r.status_code != 200:
                failures.append(r.text)
            samples.append((t0, dt, r.status_code, version))

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    try:
        for t in threads:
            t.start()
        time.sleep(1.5)
        swap_at = time.perf_counter()
        # what a deploy does: the new manifest replaces the old one in one rename
        staged = project / "target" / "manifest.json.new"
        shutil.copy(new_manifest, staged)
        os.replace(staged, project / "target" / "manifest.json")
        deadline = time.monotonic() + 30
        while not any(v == new_version for *_, v in samples[-20:]):
            assert time.monotonic() < deadline, srv.output()
            time.sleep(0.05)
        time.sleep(1.5)
        # a broken manifest next: the new one keeps serving, /readyz says why
        (project / "target" / "manifest.json").write_text("{ not json")
        deadline = time.monotonic() + 30
        while srv.get("/readyz").json()["checks"]["reload"]["ok"]:
            assert time.monotonic() < deadline, srv.output()
            time.sleep(0.05)
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    ready = srv.get("/readyz")
    metrics = metrics_of(srv)
    srv.stop()
    out = srv.output()
    assert failures == [], failures[:3]
    assert ready.status_code == 200  # still serving the last good definitions
    assert "not loaded" in ready.json()["checks"]["reload"]["error"]
    assert metrics['skewless_manifest_reloads_total{result="ok"}'] == 1
    assert metrics['skewless_manifest_reloads_total{result="failed"}'] == 1
    assert "manifest" in out and "Traceback" not in out
    versions = [v for *_, v in samples]
    first_new = versions.index(new_version)
    assert set(versions[:first_new]) == {old_version}
    # in-flight calls may still finish on the old one right after the swap, but not later
    assert set(versions[first_new + 50 :]) == {new_version}
    before = [dt for t0, dt, *_ in samples if t0 < swap_at - 0.2]
    around = [dt for t0, dt, *_ in samples if swap_at - 0.2 <= t0 < swap_at + 2.0]
    after = [dt for t0, dt, *_ in samples if t0 >= swap_at + 2.0]
    summary = (
        f"reload under load: {len(samples)} requests, 0 failed; p50/max ms before "
        f"{statistics.median(before) * 1e3:.2f}/{max(before) * 1e3:.1f}, around the swap "
        f"{statistics.median(around) * 1e3:.2f}/{max(around) * 1e3:.1f}, after "
        f"{statistics.median(after) * 1e3:.2f}/{max(after) * 1e3:.1f}"
    )
    record_property("summary", summary)
    print(summary)
