"""Redis URLs: opening a client from `redis://` / `rediss://` URLs, and redacting their secrets.

- `redis://[[username]:password@]host[:port][/db]`, `rediss://…` for TLS (redis-py query options
  such as `?ssl_cert_reqs=none` pass through), `unix:///path/to/socket`.
- `redis+cluster://…` / `rediss+cluster://…`, or `?cluster=true`, open a `RedisCluster` client.

Secrets never leave this module: every message that names a URL uses `redact()`, and connection
errors raised by redis-py are re-raised as `OnlineStoreError` built from the redacted URL only.

Faults are errors of one kind: every Redis failure — a refused or reset connection, a timeout, an
error reply (OOM, NOPERM, READONLY, LOADING), a cluster that is down — reaches callers as an
`OnlineStoreError` naming the operation, the view and the redacted URL (`store_error`, or the
`redis_faults` context manager around a block of Redis calls). `FAULTS` is the tuple of exception
types that count as a Redis fault; nothing else is caught, so a bug is never reported as an
outage.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis.exceptions as _rx

from skewless.errors import DeadlineExceeded, OnlineStoreError

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_REDIS_URL",
    "FAULTS",
    "client_url",
    "connect",
    "is_cluster_url",
    "redact",
    "redis_faults",
    "store_error",
]

DEFAULT_REDIS_URL = "redis://localhost:6379/0"
#: Seconds `connect` waits for a TCP connection when `socket_connect_timeout` is not given.
DEFAULT_CONNECT_TIMEOUT = 5.0
_SECRET_PARAMS = {"password", "ssl_password", "token"}
_MAX_DETAIL = 300

#: What a Redis call can raise when the server, the network or the cluster fails: redis-py's
#: errors (a refused connection, a timeout, an error reply), its cluster errors (which do not
#: derive from `RedisError`), and the socket errors raw reads and writes see.
FAULTS: tuple[type[BaseException], ...] = (
    _rx.RedisError,
    _rx.RedisClusterException,
    ConnectionError,  # the builtin: reset, refused, aborted, broken pipe
    TimeoutError,  # the builtin (socket.timeout)
    ssl.SSLError,
)


def redact(url: str) -> str:
    """The URL with its password (and any password-like query parameter) replaced by `***`."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return re.sub(r"//[^@/]*@", "//***@", url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, colon, _pw = userinfo.partition(":")
        # A lone userinfo (`redis://secret@host`) may be a password: hide it too.
        netloc = f"{user}:***@{hostport}" if colon else f"***@{hostport}"
    query = parts.query
    if query:
        pairs = [(k, "***" if k.lower() in _SECRET_PARAMS else v) for k, v in parse_qsl(query)]
        query = urlencode(pairs, safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def is_cluster_url(url: str) -> bool:
    scheme = url.split("://", 1)[0].lower()
    return scheme.endswith("+cluster") or bool(re.search(r"[?&]cluster=(true|1|yes)\b", url, re.I))


def _plain_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower().replace("+cluster", "")
    rest = re.sub(r"([?&])cluster=[^&]*&?", r"\1", rest).rstrip("?&")
    return f"{scheme}{sep}{rest}"


def connect(url: str, **options: Any) -> Any:
    """A redis-py client (`Redis`, or `RedisCluster` for a cluster URL) for `url`, checked with PING.

    `socket_connect_timeout` defaults to `DEFAULT_CONNECT_TIMEOUT` (5 s), so an unreachable host
    fails instead of hanging; every other option passes to redis-py's `from_url`.

    Raises:
        OnlineStoreError: naming the redacted URL when the server cannot be reached or refuses
            the credentials.
    """
    import redis

    options.setdefault("socket_connect_timeout", DEFAULT_CONNECT_TIMEOUT)
    plain = _plain_url(url)
    shown = redact(url)

    def error(message: str) -> OnlineStoreError:
        return OnlineStoreError(message, operation="connect", url=shown)

    try:
        if is_cluster_url(url):
            from redis.cluster import RedisCluster

            client: Any = RedisCluster.from_url(plain, **options)
        else:
            client = redis.Redis.from_url(plain, **options)
        client.ping()
    except redis.AuthenticationError:
        raise error(
            f"Redis at {shown} refused the credentials; check the username and password "
            "in the URL (SKEWLESS_REDIS_URL / --redis-url)"
        ) from None
    except redis.ResponseError as e:
        msg = str(e)
        if "NOAUTH" in msg or "WRONGPASS" in msg or "NOPERM" in msg:
            raise error(
                f"Redis at {shown} refused access ({msg.split(' ', 1)[0]}); check the "
                "username, password and ACL permissions"
            ) from None
        raise error(f"Redis at {shown} answered an error: {_detail(e, _password(url))}") from None
    except (redis.ConnectionError, redis.TimeoutError, OSError) as e:
        raise error(
            f"cannot reach Redis at {shown} ({_detail(e, _password(url))}); is the server "
            "running? Set SKEWLESS_REDIS_URL or --redis-url"
        ) from None
    except ValueError as e:
        raise error(f"{shown} is not a usable Redis URL: {_detail(e, _password(url))}") from None
    except FAULTS as e:  # the cluster's own errors (no node reachable, slots not covered)
        raise store_error(e, "connect", url) from None
    return client


def _password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def _hint(e: BaseException) -> str:
    """What to do about a Redis fault, by its kind."""
    text = str(e)
    if isinstance(e, _rx.AuthenticationError) or "WRONGPASS" in text or "NOAUTH" in text:
        return "check the username and password in the URL (SKEWLESS_REDIS_URL / --redis-url)"
    if isinstance(e, _rx.NoPermissionError) or "NOPERM" in text:
        return (
            "the Redis user lacks an ACL permission for this command or key; grant it "
            "(ACL SETUSER) or use a user that has it"
        )
    if isinstance(e, _rx.OutOfMemoryError) or text.startswith("OOM"):
        return "Redis is out of memory (maxmemory); free memory or raise maxmemory, then rerun"
    if isinstance(e, _rx.BusyLoadingError):
        return "Redis is still loading its dataset; retry once it has started"
    if isinstance(e, _rx.ReadOnlyError):
        return "the server is a read-only replica; point the URL at the primary"
    if isinstance(e, (_rx.ClusterError, _rx.RedisClusterException)):
        return "the cluster is down or a slot has no node; check `CLUSTER INFO` on its nodes"
    if isinstance(e, (_rx.TimeoutError, TimeoutError)):
        return "Redis did not answer in time; is it overloaded or paused?"
    if isinstance(e, (_rx.ConnectionError, ConnectionError, OSError)):
        return "is the server running and reachable? Set SKEWLESS_REDIS_URL or --redis-url"
    return "check the server (its log, `INFO`) and rerun"


def _detail(e: BaseException, secret: str | None) -> str:
    """The error's own text on one bounded line, without the password."""
    text = " ".join(str(e).split()) or type(e).__name__
    if secret:
        text = text.replace(secret, "***")
    if len(text) > _MAX_DETAIL:
        text = text[: _MAX_DETAIL - 1] + "…"
    return text


def store_error(
    e: BaseException,
    operation: str,
    url: str,
    view: str | None = None,
    *,
    secret: str | None = None,
) -> OnlineStoreError:
    """The `OnlineStoreError` for a Redis fault `e` met during `operation` (on `view`).

    Args:
        e: the redis-py or socket exception (one of `FAULTS`).
        operation: what was being done, e.g. `serve`, `materialize`, `freshness`.
        url: the Redis URL; redacted here (a URL already redacted stays as it is).
        view: the feature view(s) involved, if any.
        secret: a password to scrub from the driver's text (the URL's is scrubbed anyway).
    """
    if isinstance(e, OnlineStoreError):
        return e
    shown = redact(url) if url else "(unknown URL)"
    password = secret or _password(url)
    where = f" of `{view}`" if view else ""
    message = (
        f"Redis at {shown} failed during {operation}{where}: {type(e).__name__}: "
        f"{_detail(e, password)}; {_hint(e)}"
    )
    return OnlineStoreError(message, operation=operation, view=view or "", url=shown)


def deadline_error(operation: str, url: str, view: str, deadline_ms: float) -> DeadlineExceeded:
    """The `DeadlineExceeded` for a call that reached its `deadline_ms` before Redis answered."""
    shown = redact(url) if url else "(unknown URL)"
    return DeadlineExceeded(
        f"Redis at {shown} did not answer {operation} of `{view}` within the {deadline_ms:g} ms "
        "deadline (nothing was re-sent); is it overloaded or paused? Raise `deadline_ms` "
        "(SKEWLESS_DEADLINE_MS) if the server is merely slow",
        operation=operation,
        view=view,
        url=shown,
    )


def client_url(client: Any) -> str:
    """A redacted URL naming the server a redis-py client talks to (never its password)."""
    try:
        if type(client).__name__ == "RedisCluster":
            node = client.get_default_node()
            return f"redis+cluster://{node.host}:{node.port}"
        pool = client.connection_pool
        kw = pool.connection_kwargs
        user = kw.get("username")
        auth = (
            f"{user}:***@"
            if user and kw.get("password")
            else ("***@" if kw.get("password") else "")
        )
        if kw.get("path"):
            return f"unix://{auth}{kw['path']}?db={kw.get('db', 0)}"
        scheme = "rediss" if "SSL" in pool.connection_class.__name__ else "redis"
        return f"{scheme}://{auth}{kw.get('host', 'localhost')}:{kw.get('port', 6379)}/{kw.get('db', 0)}"
    except Exception:  # a client of another shape: still say something useful
        return f"({type(client).__name__})"


def _client_secret(client: Any) -> str | None:
    kw = getattr(getattr(client, "connection_pool", None), "connection_kwargs", None) or {}
    password = kw.get("password")
    return password if isinstance(password, str) and password else None


@contextmanager
def redis_faults(operation: str, where: Any, view: str | None = None) -> Iterator[None]:
    """Re-raise any Redis fault (`FAULTS`) of the block as an `OnlineStoreError`.

    Args:
        operation: what the block does, e.g. `freshness`.
        where: the Redis URL (redacted or not), or the redis-py client (its URL is derived).
        view: the feature view the block works on, if any.
    """
    try:
        yield
    except FAULTS as e:
        if isinstance(where, str):
            raise store_error(e, operation, where, view) from None
        raise store_error(
            e, operation, client_url(where), view, secret=_client_secret(where)
        ) from None
