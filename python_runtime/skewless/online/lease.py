"""One loader per feature view: a lease in Redis, fencing every flip and delete.

A loader takes `skw:lease:{<view>}` with `SET NX PX <ttl>` before it starts a generation. The
value is a JSON record — a random `token`, the `host`, `pid` and `started_at` of the loader — so a
second loader can say who holds the view. The holder renews it from a timer thread every third
of the ttl (and with every write buffer, see `generations.py`), and releases it (compare and
delete) when it is done. A loader that dies stops renewing: its lease expires by itself after at
most `ttl`, and the next loader deletes what it left.

Every step that could hurt another loader is *fenced* by the lease value: the generation is
registered, each write buffer recorded, the pointer flipped and every old generation deleted by
a Lua script that first checks that the lease still holds this loader's value (all on the view's
bookkeeping keys, one Redis Cluster slot), so a loader that lost its lease — paused past the ttl,
then taken over — can neither flip its pointer nor delete anything; it stops with
`LeaseLostError` and removes its own unfinished generation.

A second loader either fails at once with `LeaseHeldError` naming the holder and what to do, or,
with `wait` seconds (`skewless materialize --wait`), polls until the lease is free or the wait is
over.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
import time
from datetime import datetime, timezone
from types import TracebackType
from typing import Any

from skewless.errors import LeaseHeldError, SkewlessError
from skewless.online import keys

__all__ = [
    "DEFAULT_LEASE_TTL",
    "LEASE_TTL_ENV",
    "Lease",
    "lease_holder",
    "resolve_lease_ttl",
    "resolve_seconds",
]

#: Seconds a lease lives without renewal (how long a dead loader blocks the next one).
DEFAULT_LEASE_TTL = 30.0
#: The environment variable `resolve_lease_ttl` reads.
LEASE_TTL_ENV = "SKEWLESS_LEASE_TTL"

_RENEW = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0"
)
_RELEASE = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
)


def resolve_seconds(
    value: float | str | None,
    *,
    what: str,
    env: str,
    default: float,
    minimum: float,
    meaning: str,
    example: str,
) -> float:
    """A duration in seconds: `value`, else `$<env>`, else `default`.

    Raises:
        SkewlessError: not a finite number >= `minimum`, naming where it came from.
    """
    source = what
    if value is None:
        value = os.environ.get(env) or None
        source = env
        if value is None:
            return default
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = 0.0
    if isinstance(value, bool) or not seconds >= minimum or seconds == float("inf"):
        raise SkewlessError(
            f"{source} = {value!r}: {meaning} must be a number of seconds >= {minimum:g} "
            f"(default {default:g}); e.g. {env}={example}"
        )
    return seconds


def resolve_lease_ttl(value: float | str | None = None) -> float:
    """The lease ttl in seconds: `value`, else `$SKEWLESS_LEASE_TTL`, else 30.

    Raises:
        SkewlessError: not a number >= 0.1.
    """
    return resolve_seconds(
        value,
        what="lease_ttl",
        env=LEASE_TTL_ENV,
        default=DEFAULT_LEASE_TTL,
        minimum=0.1,
        meaning="the loader lease ttl",
        example="30",
    )


def lease_holder(client: Any, view: str) -> dict[str, Any] | None:
    """The record of the loader holding `view`'s lease (with `expires_in_ms`), None when free."""
    pipe = client.pipeline(transaction=False)
    pipe.get(keys.lease_key(view))
    pipe.pttl(keys.lease_key(view))
    raw, pttl = pipe.execute()
    if raw is None:
        return None
    try:
        record = json.loads(raw)
        if not isinstance(record, dict):
            raise ValueError
    except ValueError:
        record = {"value": raw.decode(errors="replace")[:200]}
    record["expires_in_ms"] = pttl
    return record


def _describe(holder: dict[str, Any]) -> str:
    expires = holder.get("expires_in_ms")
    left = f"{expires / 1000:.1f}s" if isinstance(expires, int) and expires >= 0 else "?"
    return (
        f"host {holder.get('host', '?')}, pid {holder.get('pid', '?')}, started "
        f"{holder.get('started_at', '?')}; its lease expires in {left} unless renewed"
    )


class Lease:
    """A held lease of one view. Use as a context manager: renewed while inside, released on
    exit.

    Attributes:
        view: the feature view.
        value: the exact value stored (JSON, with the random token): what the fenced scripts
            compare.
        ttl_ms: the lease ttl.
        lost: set when a renewal found the lease gone or held by another loader.
    """

    def __init__(self, client: Any, view: str, value: bytes, ttl_ms: int, redis_url: str = ""):
        self.client = client
        self.view = view
        self.key = keys.lease_key(view)
        self.value = value
        self.ttl_ms = ttl_ms
        self.redis_url = redis_url
        self.lost = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def acquire(
        cls,
        client: Any,
        view: str,
        *,
        ttl: float = DEFAULT_LEASE_TTL,
        wait: float = 0.0,
        redis_url: str = "",
    ) -> Lease:
        """Take `view`'s lease, waiting up to `wait` seconds for the current holder to release it
        (or to die and its lease to expire).

        Raises:
            LeaseHeldError: another loader holds it (after `wait` seconds, when given).
        """
        ttl_ms = max(100, int(ttl * 1000))
        value = json.dumps(
            {
                "token": secrets.token_hex(16),
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            },
            separators=(",", ":"),
        ).encode()
        started = time.monotonic()
        pause = 0.05
        while True:
            if client.set(keys.lease_key(view), value, nx=True, px=ttl_ms):
                return cls(client, view, value, ttl_ms, redis_url)
            waited = time.monotonic() - started
            if waited >= wait:
                holder = lease_holder(client, view)
                if holder is None:
                    continue  # released between the SET and the GET: try again
                where = f" into Redis at {redis_url}" if redis_url else ""
                if wait > 0:
                    head = f"waited {waited:.1f}s for feature view `{view}`: another loader still "
                    head += f"holds it ({_describe(holder)})"
                    fix = "wait longer (`--wait-timeout`)"
                else:
                    head = (
                        f"feature view `{view}` is being loaded{where} by another loader "
                        f"({_describe(holder)})"
                    )
                    fix = "wait for it (`skewless materialize --wait`; API: `wait=` seconds)"
                raise LeaseHeldError(
                    f"{head}; one loader per view at a time: {fix}, or, if that loader died, "
                    "rerun once its lease has expired (a dead loader stops renewing it); the "
                    "next load deletes what it left",
                    holder=holder,
                    operation="materialize",
                    view=view,
                    url=redis_url,
                )
            time.sleep(min(pause, max(0.0, wait - waited)))
            pause = min(pause * 2, 1.0)

    def renew(self) -> bool:
        """Extend the lease by its ttl; False (and `lost` set) when it is no longer ours."""
        ok = bool(self.client.eval(_RENEW, 1, self.key, self.value, self.ttl_ms))
        if not ok:
            self.lost = True
        return ok

    def release(self) -> None:
        """Delete the lease if it is still ours (never another loader's)."""
        self._halt()
        try:
            self.client.eval(_RELEASE, 1, self.key, self.value)
        except Exception:
            pass

    def _renew_loop(self) -> None:
        interval = self.ttl_ms / 3000
        while not self._stop.wait(interval):
            try:
                if not self.renew():
                    return
            except Exception:
                continue

    def _halt(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        self._thread = None

    def __enter__(self) -> Lease:
        self._thread = threading.Thread(
            target=self._renew_loop, name=f"skewless-lease-{self.view}", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
