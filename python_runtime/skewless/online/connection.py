"""Redis URLs: opening a client from `redis://` / `rediss://` URLs, and redacting their secrets.

- `redis://[[username]:password@]host[:port][/db]`, `rediss://…` for TLS (redis-py query options
  such as `?ssl_cert_reqs=none` pass through), `unix:///path/to/socket`.
- `redis+cluster://…` / `rediss+cluster://…`, or `?cluster=true`, open a `RedisCluster` client.

Secrets never leave this module: every message that names a URL uses `redact()`, and connection
errors raised by redis-py are re-raised as `OnlineStoreError` built from the redacted URL only.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from skewless.errors import OnlineStoreError

__all__ = ["DEFAULT_REDIS_URL", "connect", "is_cluster_url", "redact"]

DEFAULT_REDIS_URL = "redis://localhost:6379/0"
_SECRET_PARAMS = {"password", "ssl_password", "token"}


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


def _scrub(message: str, url: str) -> str:
    """`message` without the URL's password, in case a driver echoed it."""
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    return message.replace(password, "***") if password else message


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

    Raises:
        OnlineStoreError: naming the redacted URL when the server cannot be reached or refuses
            the credentials.
    """
    import redis

    plain = _plain_url(url)
    try:
        if is_cluster_url(url):
            from redis.cluster import RedisCluster

            client: Any = RedisCluster.from_url(plain, **options)
        else:
            client = redis.Redis.from_url(plain, **options)
        client.ping()
    except redis.AuthenticationError:
        raise OnlineStoreError(
            f"Redis at {redact(url)} refused the credentials; check the username and password "
            "in the URL (SKEWLESS_REDIS_URL / --redis-url)"
        ) from None
    except redis.ResponseError as e:
        msg = str(e)
        if "NOAUTH" in msg or "WRONGPASS" in msg or "NOPERM" in msg:
            raise OnlineStoreError(
                f"Redis at {redact(url)} refused access ({msg.split(' ', 1)[0]}); check the "
                "username, password and ACL permissions"
            ) from None
        raise OnlineStoreError(
            f"Redis at {redact(url)} answered an error: {_scrub(msg, url)}"
        ) from None
    except (redis.ConnectionError, redis.TimeoutError, OSError) as e:
        raise OnlineStoreError(
            f"cannot reach Redis at {redact(url)} ({_scrub(str(e), url)}); is the server running? "
            "Set SKEWLESS_REDIS_URL or --redis-url"
        ) from None
    except ValueError as e:
        raise OnlineStoreError(
            f"{redact(url)} is not a usable Redis URL: {_scrub(str(e), url)}"
        ) from None
    return client
