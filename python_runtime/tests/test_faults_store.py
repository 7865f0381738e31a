"""The online store under Redis faults, against real redis-server processes (no mocks).

- a paused server (SIGSTOP): a call returns within its deadline + 10% and raises
  `DeadlineExceeded` (nothing re-sent), on a live connection and on a reconnect; serving
  resumes after SIGCONT;
- a killed server under 8 serving threads: every failed call raises `OnlineStoreError` (no other
  exception), no call outlives the deadline, and serving recovers once the server is back;
- `on_store_error="defaults"`: every value its column default (or None) with status
  `unavailable`, request-time features computed from those defaults;
- every API path and CLI command against a stopped server, an ACL user without the rights,
  bad credentials and an out-of-memory server: one `OnlineStoreError` (the CLI: one `Error:`
  line, exit 1), never a traceback.

Destructive tests start servers of their own; the suite's shared server only gets extra ACL
users (removed again).
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner
from conftest import RedisServer, free_port
from serving_fixtures import NOON, BuiltProject, build_serving_project

from skewless.cli import main
from skewless.definitions.registry import Registry
from skewless.errors import DeadlineExceeded, OnlineStoreError, RequestError
from skewless.online.connection import connect
from skewless.online.materialize import materialize
from skewless.online.store import FeatureStore

#: scheduling slack on top of deadline + 10%: a loaded CI runner with two workers
SLACK_S = 0.06


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuiltProject:
    return build_serving_project(tmp_path_factory.mktemp("serving-build"))


@pytest.fixture()
def registry(built: BuiltProject) -> Registry:
    return Registry.from_manifest(built.manifest)


@pytest.fixture()
def loaded(built: BuiltProject, registry: Registry) -> Iterator[RedisServer]:
    """A server of this test's own holding `events` and `pairs` (stopped, and resumed, after)."""
    server = RedisServer()
    try:
        materialize(
            registry, connect(server.url), built.duckdb, select=["events", "pairs"], now=NOON
        )
        yield server
    finally:
        if server.proc.poll() is None:
            os.kill(server.proc.pid, signal.SIGCONT)
        server.stop()


def _bound(deadline_ms: float) -> float:
    """The longest a call may take: its deadline + 10%, plus scheduling slack (seconds)."""
    return deadline_ms / 1000 * 1.1 + SLACK_S


def _timed_failure(store: FeatureStore, **kwargs: object) -> tuple[float, OnlineStoreError]:
    t0 = time.monotonic()
    with pytest.raises(OnlineStoreError) as err:
        store.get_online_features(["events.value"], [{"user_id": 7}], now=NOON, **kwargs)  # type: ignore[arg-type]
    return time.monotonic() - t0, err.value


def test_a_paused_server_fails_a_call_within_its_deadline(
    loaded: RedisServer, registry: Registry, record_property: Callable[[str, object], None]
) -> None:
    store = FeatureStore(registry, connect(loaded.url), loaded.url, deadline_ms=300)
    assert store.get_online_features(["events.value"], [{"user_id": 7}], now=NOON).values == [[7]]
    os.kill(loaded.proc.pid, signal.SIGSTOP)
    try:
        # on the live connection: the MGET is sent, its reply never comes
        elapsed, error = _timed_failure(store)
        assert isinstance(error, DeadlineExceeded), error
        assert 0.3 * 0.9 <= elapsed <= _bound(300), elapsed
        took = [elapsed]
        assert "`events`" in str(error) and f"127.0.0.1:{loaded.port}" in str(error)
        assert error.view == "events" and error.operation == "serve"
        # then on a reconnect (the timed-out socket was dropped): the handshake never answers
        elapsed, error = _timed_failure(store)
        assert isinstance(error, DeadlineExceeded) and elapsed <= _bound(300), elapsed
        took.append(elapsed)
        # a per-call deadline overrides the store's
        elapsed, error = _timed_failure(store, deadline_ms=100)
        assert isinstance(error, DeadlineExceeded) and 0.09 <= elapsed <= _bound(100), elapsed
        assert "100 ms" in str(error)
        record_property(
            "summary",
            "paused Redis: calls took "
            + ", ".join(f"{t * 1000:.0f}" for t in took)
            + f" ms (deadline 300 ms), {elapsed * 1000:.0f} ms (deadline 100 ms)",
        )
        # and the degraded policy answers within the deadline too
        t0 = time.monotonic()
        resp = store.get_online_features(
            ["events.value"], [{"user_id": 7}], now=NOON, on_store_error="defaults"
        )
        assert time.monotonic() - t0 <= _bound(300)
        assert resp.values == [[0]] and resp.statuses == [{"events.value": "unavailable"}]
    finally:
        os.kill(loaded.proc.pid, signal.SIGCONT)
    assert store.get_online_features(["events.value"], [{"user_id": 8}], now=NOON).values == [[8]]


def test_a_killed_server_under_8_threads_raises_only_online_store_errors(
    loaded: RedisServer, registry: Registry, record_property: Callable[[str, object], None]
) -> None:
    deadline_ms = 500
    admin = redis.Redis.from_url(loaded.url)
    admin.save()  # the restarted server loads this snapshot: the same generations, served again
    admin.close()
    store = FeatureStore(registry, connect(loaded.url), loaded.url, deadline_ms=deadline_ms)
    phase = ["up"]
    stop = threading.Event()
    lock = threading.Lock()
    outcomes: Counter[tuple[str, str]] = Counter()
    foreign: list[BaseException] = []
    wrong: list[tuple[int, object]] = []
    longest = [0.0]
    last_ok: dict[int, bool] = {}

    def serve(worker: int) -> None:
        rng = random.Random(worker)
        while not stop.is_set():
            uid = rng.randint(1, 1000)
            at = phase[0]
            t0 = time.monotonic()
            try:
                values = store.get_online_features(
                    ["events.value", "pairs.label"], [{"user_id": uid, "a": 1, "b": 2}], now=NOON
                ).values
                kind = "ok"
                if values[0][0] != uid:
                    wrong.append((uid, values))
            except OnlineStoreError:
                kind = "store error"
            except BaseException as e:  # counted: the assertion is that there are none
                kind = "foreign"
                foreign.append(e)
            elapsed = time.monotonic() - t0
            if phase[0] != at:  # the phase changed during the call (or while it waited its turn)
                at = "transition"
            with lock:
                outcomes[(at, kind)] += 1
                longest[0] = max(longest[0], elapsed)
                last_ok[worker] = kind == "ok"
            time.sleep(0.0005)  # a service between requests: leaves the GIL to the others

    threads = [threading.Thread(target=serve, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    restarted = None
    try:
        time.sleep(0.4)
        loaded.proc.kill()  # kill -9
        loaded.proc.wait(5)
        phase[0] = "down"
        time.sleep(2.0)
        phase[0] = "restarting"
        restarted = RedisServer("--dir", loaded.dir, "--dbfilename", "dump.rdb", port=loaded.port)
        phase[0] = "restarted"
        time.sleep(1.0)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
        if restarted is not None:
            restarted.stop()
    record_property(
        "summary",
        f"Redis killed under 8 threads: calls by (phase, outcome) {dict(outcomes)}; foreign "
        f"{len(foreign)}, wrong {len(wrong)}; longest call {longest[0] * 1000:.0f} ms "
        f"(deadline {deadline_ms} ms)",
    )
    assert foreign == [], foreign[:3]
    assert wrong == []
    assert outcomes[("up", "ok")] > 0 and outcomes[("down", "store error")] > 100
    assert outcomes[("down", "ok")] == 0
    assert outcomes[("restarted", "ok")] > 0 and all(last_ok.values()), last_ok
    assert longest[0] <= _bound(deadline_ms), longest[0]


def test_the_defaults_policy_serves_defaults_as_unavailable(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    client = redis.Redis.from_url(dead)  # nothing listens: every read is refused
    features = ["events.value", "events.batch", "pairs.label"]
    entities = [{"user_id": 1, "a": 1, "b": 2}, {"user_id": 2, "a": 3, "b": 4}]
    strict = FeatureStore(registry, client, dead)
    with pytest.raises(OnlineStoreError) as err:
        strict.get_online_features(features, entities, now=NOON)
    assert not isinstance(err.value, DeadlineExceeded) and "`events, pairs`" in str(err.value)
    # per call
    resp = strict.get_online_features(features, entities, now=NOON, on_store_error="defaults")
    assert resp.values == [[0, None, None], [0, None, None]]  # `value` has default 0
    assert resp.statuses == [dict.fromkeys(features, "unavailable")] * 2
    assert resp.reasons == [dict.fromkeys(features, "unavailable")] * 2
    assert resp.ages == [dict.fromkeys(features)] * 2
    # on the store, and from the environment; a call can still ask to raise
    degraded = FeatureStore(registry, client, dead, on_store_error="defaults")
    assert degraded.get_online_features(features, entities, now=NOON).values[1] == [0, None, None]
    monkeypatch.setenv("SKEWLESS_ON_STORE_ERROR", "defaults")
    monkeypatch.setenv("SKEWLESS_DEADLINE_MS", "250")
    from_env = FeatureStore(registry, client, dead)
    assert from_env.on_store_error == "defaults" and from_env.deadline_ms == 250
    assert from_env.get_online_features(features, entities, now=NOON).values[0] == [0, None, None]
    with pytest.raises(OnlineStoreError):
        from_env.get_online_features(features, entities, now=NOON, on_store_error="raise")
    # bad settings are refused, naming where they came from
    with pytest.raises(RequestError, match="on_store_error"):
        strict.get_online_features(features, entities, on_store_error="ignore")
    with pytest.raises(RequestError, match="deadline_ms"):
        strict.get_online_features(features, entities, deadline_ms=0)
    monkeypatch.setenv("SKEWLESS_DEADLINE_MS", "soon")
    with pytest.raises(RequestError, match="SKEWLESS_DEADLINE_MS"):
        FeatureStore(registry, client, dead)


ONDEMAND = Path(__file__).parent / "projects" / "ondemand"


def test_request_time_features_are_computed_from_the_defaults(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A degraded lookup still feeds request-time features: defaults in, computed values out."""
    import shutil
    import subprocess
    import sys

    dest = tmp_path_factory.mktemp("ondemand-faults") / "project"
    shutil.copytree(ONDEMAND, dest, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb"))
    env = {
        **os.environ,
        "SKEWLESS_DUCKDB_PATH": str(dest / "ondemand.duckdb"),
        "SKEWLESS_PACKAGE_DIR": str(Path(__file__).resolve().parents[2]),
        "DO_NOT_TRACK": "1",
    }
    for args in (["deps"], ["compile"]):
        proc = subprocess.run(
            [str(Path(sys.executable).with_name("dbt")), *args, "--project-dir", str(dest),
             "--profiles-dir", str(dest), "--log-path", str(dest / "logs")],
            env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout[-3000:]
    dead = f"redis://127.0.0.1:{free_port()}/0"
    store = FeatureStore(
        Registry.from_dbt(dest), redis.Redis.from_url(dead), dead, on_store_error="defaults"
    )
    features = [
        "transfer_features.transfers_7d_both",
        "transfer_features.country_upper",
        "transfer_features.balance_gap",
        "account_stats.transfers_7d",
    ]
    resp = store.get_online_features(
        features,
        [{"payer_id": 1, "payee_id": 2, "account_id": 1}],
        request=[{"amount": Decimal("25.50"), "country": "de"}],
    )
    # transfers_7d defaults to 0 on both sides; balance has no default; country is the request's
    assert resp.values == [[0, "DE", None, 0]]
    assert resp.statuses[0]["account_stats.transfers_7d"] == "unavailable"


def test_every_api_path_raises_online_store_errors(built: BuiltProject, registry: Registry) -> None:
    from skewless.guards.feature_log import read_feature_log
    from skewless.guards.freshness import check_freshness

    port = free_port()
    dead = f"redis://user:S3cret@127.0.0.1:{port}/0"
    client = redis.Redis.from_url(dead)
    with pytest.raises(OnlineStoreError) as err:
        materialize(registry, client, built.duckdb, select=["events"], now=NOON)
    assert err.value.view == "events" and err.value.operation == "materialize"
    with pytest.raises(OnlineStoreError) as err2:
        check_freshness(registry, client, views=["events"])
    assert err2.value.view == "events"
    with pytest.raises(OnlineStoreError) as err3:
        list(read_feature_log(dead))
    with pytest.raises(OnlineStoreError) as err4:
        connect(dead)
    for e in (err.value, err2.value, err3.value, err4.value):
        assert f"127.0.0.1:{port}" in str(e) and "S3cret" not in str(e), e
        assert "\n" not in str(e)


# --- the CLI ---------------------------------------------------------------------------------


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _one_error_line(code: int, err: str) -> str:
    """The command's one `Error:` line: exit 1, no traceback, nothing after it (a progress bar
    of `materialize` may precede it, on a line of its own)."""
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error: ")]
    assert code == 1 and len(errors) == 1 and lines[-1] == errors[0], (code, err)
    assert "Traceback" not in err
    return errors[0]


@pytest.fixture()
def cli_env(built: BuiltProject, monkeypatch: pytest.MonkeyPatch) -> BuiltProject:
    monkeypatch.setenv("SKEWLESS_PROJECT_DIR", str(built.dir))
    monkeypatch.setenv("SKEWLESS_DUCKDB_PATH", str(built.duckdb))
    monkeypatch.setenv("SKEWLESS_TARGET_PATH", "target")
    return built


COMMANDS = {
    "get": ["get", "-e", "user_id=1", "-f", "events.value", "--now", NOON.isoformat()],
    "features": ["features"],
    "freshness": ["freshness"],
    "materialize": ["materialize", "-s", "events", "--now", NOON.isoformat()],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_cli_against_a_stopped_server_prints_one_line(
    cli_env: BuiltProject, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    port = free_port()
    monkeypatch.setenv("SKEWLESS_REDIS_URL", f"redis://:pw-S3cret@127.0.0.1:{port}/0")
    code, _, err = run(*COMMANDS[command])
    line = _one_error_line(code, err)
    assert f"127.0.0.1:{port}" in line and "S3cret" not in line


def test_cli_with_an_acl_user_lacking_rights_prints_one_line(
    cli_env: BuiltProject, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user that may only serve (`~skw:* +mget +ping`) serves; what it may not do fails in one
    line per command, as does a user that may not even read and a wrong password."""
    admin = redis.Redis.from_url(redis_url)
    monkeypatch.setenv("SKEWLESS_REDIS_URL", redis_url)
    assert run(*COMMANDS["materialize"])[0] == 0
    reader, nobody = f"reader_{uuid.uuid4().hex[:8]}", f"nobody_{uuid.uuid4().hex[:8]}"
    admin.acl_setuser(
        reader, enabled=True, passwords=["+r-pw"], keys=["skw:*"], commands=["+mget", "+ping"]
    )
    admin.acl_setuser(nobody, enabled=True, passwords=["+n-pw"], keys=["skw:*"], commands=["+ping"])
    host = redis_url.split("//", 1)[1]
    try:
        monkeypatch.setenv("SKEWLESS_REDIS_URL", f"redis://{reader}:r-pw@{host}")
        code, out, err = run(*COMMANDS["get"])
        assert code == 0 and "present" in out, err
        for command in ("features", "freshness", "materialize"):
            line = _one_error_line(*run(*COMMANDS[command])[::2])
            assert "NoPermissionError" in line and "ACL" in line and "r-pw" not in line, line
        monkeypatch.setenv("SKEWLESS_REDIS_URL", f"redis://{nobody}:n-pw@{host}")
        line = _one_error_line(*run(*COMMANDS["get"])[::2])
        assert "NoPermissionError" in line and "`events`" in line, line
        monkeypatch.setenv("SKEWLESS_REDIS_URL", redis_url)
        line = _one_error_line(
            *run("consistency", "--log", f"redis://{reader}:wrong-pw@{host}")[::2]
        )
        assert "feature log" in line and "wrong-pw" not in line, line
    finally:
        admin.acl_deluser(reader, nobody)


def test_cli_materialize_out_of_memory_prints_one_line(
    cli_env: BuiltProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    with RedisServer("--maxmemory-policy", "noeviction") as server:
        admin = redis.Redis.from_url(server.url)
        # room for a few of the 1,000 rows: the load fails part-way, after its first buffers
        admin.config_set("maxmemory", admin.info("memory")["used_memory"] + 200_000)
        monkeypatch.setenv("SKEWLESS_REDIS_URL", server.url)
        code, _, err = run(*COMMANDS["materialize"], "--chunk-rows", "100")
        line = _one_error_line(code, err)
        assert "maxmemory" in line and "`events`" in line, line
        assert "events" in err.splitlines()[0], err  # the progress bar: rows had gone in
        admin.config_set("maxmemory", 0)
        assert run(*COMMANDS["materialize"])[0] == 0  # and the next load, with room, succeeds
