"""A closed-loop HTTP/1.1 load generator on bare asyncio, shared by the HTTP server benchmarks.

`concurrency` keep-alive connections each send one request, wait for the whole response and send
the next one (a closed loop): at concurrency 1 the latencies are the server's per-request cost,
at concurrency 32 the completed requests per second are its maximum throughput, and no latency
ever includes time spent queued inside the client. No dependency beyond the standard library
(uvloop is used when installed); `asyncio.Protocol` rather than streams, so the generator spends
as little as possible of the CPU it shares with the server.

    from http_load import run_load

    result = run_load(url, bodies, concurrency=32, seconds=5.0, warmup_seconds=1.0)
    result.p50_ms, result.p99_ms, result.throughput, result.errors

`bodies` is one request body (bytes) or a sequence of them, sent round-robin (e.g. one per random
entity). Run it in a process other than the server's. As a command:

    python bench/http_load.py http://127.0.0.1:8000/get-online-features \\
        --body '{"features": ["v10:f0"], "entities": {"user_id": [1]}}' -c 32 --seconds 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["LoadResult", "percentile", "run_load"]


def percentile(samples: Sequence[float], q: float) -> float:
    """The nearest-rank `q` quantile (0 < q < 1) of `samples`, as bench_online.py computes it."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass(frozen=True)
class LoadResult:
    """What one `run_load` measured (the warm-up excluded).

    Attributes:
        latencies: seconds from sending a request to having its whole response, one per request
            answered with a 2xx status, in completion order.
        elapsed: seconds from the first request sent to the last response received.
        errors: requests answered with a non-2xx status or lost with their connection.
        statuses: count of responses per HTTP status.
        concurrency: connections used.
        reconnects: connections the server closed and the generator reopened.
        error_sample: the start of the first non-2xx response, for the error message.
    """

    latencies: list[float]
    elapsed: float
    errors: int
    statuses: dict[int, int]
    concurrency: int
    reconnects: int = 0
    error_sample: bytes = b""

    @property
    def requests(self) -> int:
        """Requests answered with a 2xx status."""
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        """2xx responses per second over the measured span."""
        return self.requests / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies, 0.50) * 1000.0

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies, 0.99) * 1000.0

    def to_dict(self) -> dict[str, float | int]:
        """The figures a benchmark reports (milliseconds, requests per second)."""
        return {
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "throughput": self.throughput,
            "requests": self.requests,
            "errors": self.errors,
            "concurrency": self.concurrency,
        }


def run_load(
    url: str,
    body_bytes: bytes | Sequence[bytes] | None,
    concurrency: int,
    seconds: float | None = None,
    requests: int | None = None,
    *,
    warmup_seconds: float = 0.0,
    headers: Mapping[str, str] | None = None,
    method: str | None = None,
    timeout: float = 30.0,
) -> LoadResult:
    """Drive `url` with `concurrency` keep-alive connections, in a closed loop.

    Args:
        url: `http://host:port/path` (plain HTTP/1.1, no TLS).
        body_bytes: the request body, or several sent round-robin; None sends no body.
        concurrency: connections, each with one request in flight at a time.
        seconds: measure for this long (requests in flight at the end are still awaited), or
        requests: measure exactly this many requests, over all connections (give one of the two).
        warmup_seconds: run the same load this long first, on the same connections, unmeasured.
        headers: extra request headers (e.g. `{"Authorization": "Bearer …"}`).
        method: defaults to POST with a body, GET without.
        timeout: seconds to wait for connecting and for any single response.

    Returns:
        The measured `LoadResult`.

    Raises:
        ValueError: a bad argument. ConnectionError: the server cannot be reached.
        TimeoutError: a response took longer than `timeout`.
    """
    if (seconds is None) == (requests is None):
        raise ValueError("run_load: give exactly one of `seconds` and `requests`")
    if concurrency < 1:
        raise ValueError("run_load: `concurrency` must be >= 1")
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"run_load: {url!r} is not an http://host:port/path URL")
    if body_bytes is None or isinstance(body_bytes, bytes | bytearray):
        bodies: list[bytes | None] = [None if body_bytes is None else bytes(body_bytes)]
    else:
        bodies = [bytes(b) for b in body_bytes]
        if not bodies:
            raise ValueError("run_load: `body_bytes` is an empty sequence")
    host, port = parts.hostname, parts.port or 80
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    verb = method or ("GET" if bodies[0] is None else "POST")
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    payloads = []
    for body in bodies:
        head = f"{verb} {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{extra}"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        payloads.append(head.encode("latin-1") + b"\r\n" + (body or b""))
    try:  # uvloop when the interpreter has it: less of the shared CPU spent in the client
        import uvloop

        run = uvloop.run
    except ImportError:
        run = asyncio.run
    return run(
        _drive(host, port, payloads, concurrency, seconds, requests, warmup_seconds, timeout)
    )


async def _drive(
    host: str,
    port: int,
    payloads: list[bytes],
    concurrency: int,
    seconds: float | None,
    requests: int | None,
    warmup_seconds: float,
    timeout: float,
) -> LoadResult:
    loop = asyncio.get_running_loop()
    driver = _Driver(loop, host, port, payloads)
    try:
        await asyncio.wait_for(
            asyncio.gather(*(driver.connect() for _ in range(concurrency))), timeout
        )
        if warmup_seconds > 0:
            await driver.phase(warmup_seconds, None, timeout)
        return await driver.phase(seconds, requests, timeout)
    finally:
        driver.close()


class _Driver:
    """Shared state of one run: the request cycle, the stop rule and the phase's tallies."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, host: str, port: int, payloads: list[bytes]
    ):
        self.loop = loop
        self.host, self.port = host, port
        self.payloads = payloads
        self.next_payload = 0
        self.conns: list[_Conn] = []
        self._reset(None, None)

    def _reset(self, deadline: float | None, budget: int | None) -> None:
        self.deadline, self.budget = deadline, budget
        self.latencies: list[float] = []
        self.statuses: Counter[int] = Counter()
        self.errors = 0
        self.reconnects = 0
        self.error_sample = b""
        self.last_done = 0.0
        self.active = 0
        self.done: asyncio.Future[None] = self.loop.create_future()

    async def connect(self) -> _Conn:
        try:
            _, conn = await self.loop.create_connection(lambda: _Conn(self), self.host, self.port)
        except OSError as exc:
            raise ConnectionError(
                f"http_load: cannot connect to {self.host}:{self.port}: {exc}"
            ) from exc
        self.conns.append(conn)
        return conn

    async def phase(
        self, seconds: float | None, requests: int | None, timeout: float
    ) -> LoadResult:
        conns = list(self.conns)  # the live ones (a reconnect replaces a closed one)
        start = time.perf_counter()
        self._reset(None if seconds is None else start + seconds, requests)
        self.start = start
        for conn in conns:
            if self.may_send():
                self.active += 1
                conn.send()
        if self.active == 0:
            self.done.set_result(None)
        limit = (seconds or 0.0) + timeout if requests is None else None
        watchdog = self.loop.create_task(self._watch(timeout))
        try:
            await asyncio.wait_for(self.done, limit)
        finally:
            watchdog.cancel()
        return LoadResult(
            latencies=self.latencies,
            elapsed=max(self.last_done - start, 1e-9),
            errors=self.errors,
            statuses=dict(self.statuses),
            concurrency=len(conns),
            reconnects=self.reconnects,
            error_sample=self.error_sample,
        )

    async def _watch(self, timeout: float) -> None:
        # fails the phase when one response takes longer than `timeout`
        while not self.done.done():
            await asyncio.sleep(min(timeout, 1.0))
            now = time.perf_counter()
            for conn in self.conns:
                if conn.sent_at and now - conn.sent_at > timeout and not self.done.done():
                    self.done.set_exception(
                        TimeoutError(f"http_load: no response within {timeout:.0f}s")
                    )

    def may_send(self) -> bool:
        if self.budget is not None:
            if self.budget <= 0:
                return False
            self.budget -= 1
            return True
        return self.deadline is not None and time.perf_counter() < self.deadline

    def payload(self) -> bytes:
        p = self.payloads[self.next_payload]
        self.next_payload = (self.next_payload + 1) % len(self.payloads)
        return p

    def finished(self, conn: _Conn, status: int, took: float, head: bytes) -> None:
        """A whole response arrived on `conn`: tally it and send the next request, or stop."""
        self.last_done = time.perf_counter()
        self.statuses[status] += 1
        if 200 <= status < 300:
            self.latencies.append(took)
        else:
            self.errors += 1
            if not self.error_sample:
                self.error_sample = head[:500]
        if conn.closing:
            return  # the server said `Connection: close`; lost() reconnects
        self._next(conn)

    def _next(self, conn: _Conn) -> None:
        if self.may_send():
            conn.send()
        else:
            self.active -= 1
            if self.active == 0 and not self.done.done():
                self.done.set_result(None)

    def lost(self, conn: _Conn, in_flight: bool) -> None:
        """The server closed `conn`: count a request it dropped, reopen, carry on."""
        if conn in self.conns:
            self.conns.remove(conn)
        if self.done.done() or conn.closed_by_us or not (in_flight or conn.closing):
            return  # an idle connection (its loop already ended) needs no replacement
        if in_flight:
            self.errors += 1
        self.reconnects += 1
        self.loop.create_task(self._reopen())

    async def _reopen(self) -> None:
        try:
            conn = await self.connect()
        except ConnectionError as exc:
            if not self.done.done():
                self.done.set_exception(exc)
            return
        self._next(conn)

    def close(self) -> None:
        for conn in list(self.conns):
            conn.close()


class _Conn(asyncio.Protocol):
    """One keep-alive connection: one request in flight, the response parsed as it arrives."""

    def __init__(self, driver: _Driver):
        self.driver = driver
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.sent_at = 0.0
        self.closing = False
        self.closed_by_us = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no asyncio.Transport

    def send(self) -> None:
        assert self.transport is not None
        payload = self.driver.payload()
        self.sent_at = time.perf_counter()
        self.transport.write(payload)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.sent_at:
            return
        end = _response_end(self.buf)
        if end is None:
            return
        took = time.perf_counter() - self.sent_at
        self.sent_at = 0.0
        head_end = self.buf.find(b"\r\n\r\n")
        head = bytes(self.buf[:head_end])
        del self.buf[:end]
        status = int(head[9:12])
        low = head.lower()
        self.closing = b"\r\nconnection: close" in low or (
            low.startswith(b"http/1.0") and b"\r\nconnection: keep-alive" not in low
        )
        self.driver.finished(self, status, took, head)

    def connection_lost(self, exc: Exception | None) -> None:
        self.driver.lost(self, in_flight=bool(self.sent_at))

    def close(self) -> None:
        self.closed_by_us = True
        if self.transport is not None:
            self.transport.close()


def _response_end(buf: bytearray) -> int | None:
    """Where the first complete HTTP/1.1 response in `buf` ends, or None if it is incomplete."""
    head_end = buf.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    head = bytes(buf[:head_end]).lower()
    body = head_end + 4
    i = head.find(b"\r\ncontent-length:")
    if i >= 0:
        j = head.find(b"\r\n", i + 2)
        length = int(head[i + 17 : j if j >= 0 else len(head)])
        return body + length if len(buf) >= body + length else None
    if b"\r\ntransfer-encoding: chunked" in head:
        pos = body
        while True:
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                return None
            size = int(bytes(buf[pos:eol]).split(b";")[0], 16)
            pos = eol + 2 + size + 2
            if len(buf) < pos:
                return None
            if size == 0:
                return pos  # no trailers (none of the servers measured sends them)
    return body  # no body (e.g. 204/304)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("--body", help="request body (JSON text); without it, GET")
    parser.add_argument("-c", "--concurrency", type=int, default=1)
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--requests", type=int)
    parser.add_argument("--warmup-seconds", type=float, default=0.0)
    parser.add_argument("-H", "--header", action="append", default=[], help="'Name: value'")
    args = parser.parse_args()
    seconds = args.seconds if args.seconds or args.requests else 5.0
    headers = dict(h.split(":", 1) for h in args.header)
    result = run_load(
        args.url,
        args.body.encode() if args.body is not None else None,
        args.concurrency,
        seconds,
        args.requests,
        warmup_seconds=args.warmup_seconds,
        headers={k.strip(): v.strip() for k, v in headers.items()},
    )
    print(json.dumps({**result.to_dict(), "statuses": result.statuses}))
    return 0 if result.errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
