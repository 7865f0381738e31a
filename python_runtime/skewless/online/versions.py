"""Which definition versions of a feature view Redis serves, and how many it keeps.

A view's version derives from its definition, so every deploy that changes a definition
materializes a new version. During a rolling deploy services at the old and the new definition
read at the same time, and a service that is a few deploys behind still reads its own version:
a full load therefore keeps the served generation of the `keep_versions` most recently
materialized versions of the view (default 3, the one just loaded included) and retires the
rest exactly as an old generation is deleted (`materialize._delete_generation`).

- **Live** versions are those whose pointer `skw:ptr:<view>:<version>` exists. They are found
  from the view's bookkeeping — every generation's version in `skw:genver:<view>`, then one GET
  per distinct version — never by scanning the keyspace. Recency is the generation id the pointer
  names (ids come from one counter per view, so a later load has a greater id; a rollback that
  rematerializes an old version makes it the newest again).
- **Retired** versions are recorded in `skw:retired:<view>` (version → epoch ms) *before* their
  pointer is removed, so a reader asking for one is told it was retired and which versions are
  live, while a version that was never loaded keeps the "never materialized" error.

`keep_versions` is a property of the deploy (how far behind a service may lag), not of the
definition: it is a `materialize` argument (`SKEWLESS_KEEP_VERSIONS` when not given), not a
`meta.skewless` key — a meta key would change the view's version whenever retention changed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from skewless.errors import RetiredVersionError, SkewlessError
from skewless.online import keys

__all__ = [
    "DEFAULT_KEEP_VERSIONS",
    "KEEP_VERSIONS_ENV",
    "LiveVersion",
    "RetiredVersionError",
    "describe_live_versions",
    "live_versions",
    "record_retired",
    "resolve_keep_versions",
    "retired_error",
]

#: Versions of a view kept live in Redis when neither the argument nor the variable says.
DEFAULT_KEEP_VERSIONS = 3
#: The environment variable `resolve_keep_versions` reads.
KEEP_VERSIONS_ENV = "SKEWLESS_KEEP_VERSIONS"
#: Retired versions remembered per view (oldest forgotten first); a version retired longer ago
#: than this many retirements reads as "never materialized" again.
RETIRED_HISTORY = 1000


@dataclass(frozen=True)
class LiveVersion:
    """A definition version of a view that Redis serves.

    Attributes:
        version: the definition version.
        generation: the generation its pointer names (greater is more recently loaded).
    """

    version: str
    generation: str

    def to_dict(self) -> dict[str, str]:
        return {"version": self.version, "generation": self.generation}


def resolve_keep_versions(value: int | str | None = None) -> int:
    """How many versions per view a full load keeps: `value`, else `$SKEWLESS_KEEP_VERSIONS`,
    else 3.

    Raises:
        SkewlessError: the value is not an integer >= 1 (naming where it came from).
    """
    source = "keep_versions"
    if value is None:
        value = os.environ.get(KEEP_VERSIONS_ENV) or None
        source = KEEP_VERSIONS_ENV
        if value is None:
            return DEFAULT_KEEP_VERSIONS
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = 0
    if isinstance(value, bool) or n < 1 or str(n) != str(value).strip():
        raise SkewlessError(
            f"{source} = {value!r}: the number of definition versions kept live per feature view "
            f"must be an integer >= 1 (default {DEFAULT_KEEP_VERSIONS}); e.g. "
            f"{KEEP_VERSIONS_ENV}=3"
        )
    return n


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def live_versions(client: Any, view: str) -> list[LiveVersion]:
    """The versions of `view` Redis serves, most recently materialized first.

    Two round trips (the generation → version hash, then the pointers), no keyspace scan.

    Args:
        client: a redis-py client (plain or cluster).
        view: the feature view name.
    """
    versions = sorted({_text(v) for v in client.hvals(keys.genver_key(view))})
    if not versions:
        return []
    pipe = client.pipeline(transaction=False)
    for v in versions:
        pipe.get(keys.pointer_key(view, v))
    live = [
        LiveVersion(version=v, generation=_text(gen))
        for v, gen in zip(versions, pipe.execute(), strict=True)
        if gen is not None
    ]
    live.sort(key=lambda lv: int(lv.generation), reverse=True)
    return live


def describe_live_versions(live: Sequence[LiveVersion], current: str | None = None) -> str:
    """`v3 (current), v2, v1`: the live versions newest first, `current` (the version the
    reader's definitions have) marked; `-` when there is none."""
    if not live:
        return "-"
    return ", ".join(
        f"{lv.version} (current)" if lv.version == current else lv.version for lv in live
    )


def record_retired(client: Any, view: str, versions: Sequence[str]) -> None:
    """Remember `versions` of `view` as retired (now), before their pointers are removed."""
    if not versions:
        return
    key = keys.retired_key(view)
    now_ms = time.time_ns() // 1_000_000
    client.zadd(key, dict.fromkeys(versions, now_ms))
    client.zremrangebyrank(key, 0, -RETIRED_HISTORY - 1)


def retired_error(
    client: Any, view: str, version: str, redis_url: str
) -> RetiredVersionError | None:
    """The error for a request of a retired `version` of `view`; None when it was never retired
    (it is live, or was never materialized)."""
    retired_ms = client.zscore(keys.retired_key(view), version)
    if retired_ms is None:
        return None
    live = live_versions(client, view)
    kept = client.hget(keys.meta_key(view), "keep_versions")
    when = datetime.fromtimestamp(retired_ms / 1000, tz=timezone.utc).isoformat(timespec="seconds")
    slots = f"the {_text(kept)} kept" if kept else "its kept"
    return RetiredVersionError(
        f"feature view `{view}` at definition version {version} was materialized into Redis at "
        f"{redis_url} but retired at {when}, when newer versions filled {slots} version slots; "
        f"live versions, newest first: {describe_live_versions(live)}. Deploy definitions "
        f"matching a live version, or rematerialize this one (`skewless materialize --select "
        f"{view}` from a checkout of this definition), or keep more versions per view "
        f"({KEEP_VERSIONS_ENV})"
    )
