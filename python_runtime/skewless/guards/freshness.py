"""`skewless freshness`: per feature view, how old the served data is against its `freshness` SLA.

Two ages per view, both read from the view's bookkeeping hash in Redis (written by
`skewless materialize`):

- the age of the newest materialized value: `now - watermark` (the greatest row timestamp
  loaded);
- the age of the last materialization: `now - materialized_at`.

A view breaches when either age exceeds its `freshness` SLA, or when its current definition
version is not materialized at all (nothing can be served for it). A view without an SLA is
reported but never breaches on age.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from skewless.definitions.durations import format_duration

__all__ = ["FreshnessReport", "ViewFreshness", "check_freshness"]

UTC = timezone.utc


@dataclass(frozen=True)
class ViewFreshness:
    """Freshness of one feature view.

    Attributes:
        view: the model name.
        version: its current definition version.
        materialized_version: the version Redis last loaded (None: never).
        sla: the view's `freshness` (None: no SLA).
        watermark: the newest materialized row timestamp.
        watermark_age: `now - watermark`.
        materialized_at: when the last materialization finished.
        materialization_age: `now - materialized_at`.
        reasons: why it breaches (empty when fresh).
    """

    view: str
    version: str
    materialized_version: str | None
    sla: timedelta | None
    watermark: datetime | None
    watermark_age: timedelta | None
    materialized_at: datetime | None
    materialization_age: timedelta | None
    reasons: tuple[str, ...] = ()

    @property
    def breached(self) -> bool:
        return bool(self.reasons)

    def to_dict(self) -> dict[str, Any]:
        def iso(d: datetime | None) -> str | None:
            return d.isoformat() if d else None

        def secs(t: timedelta | None) -> float | None:
            return t.total_seconds() if t is not None else None

        return {
            "view": self.view,
            "version": self.version,
            "materialized_version": self.materialized_version,
            "sla_seconds": secs(self.sla),
            "sla": format_duration(self.sla) if self.sla else None,
            "watermark": iso(self.watermark),
            "watermark_age_seconds": secs(self.watermark_age),
            "materialized_at": iso(self.materialized_at),
            "materialization_age_seconds": secs(self.materialization_age),
            "breached": self.breached,
            "reasons": list(self.reasons),
        }


@dataclass
class FreshnessReport:
    """Freshness of every checked view, at `now`."""

    now: datetime
    views: list[ViewFreshness] = field(default_factory=list)

    @property
    def breaches(self) -> list[str]:
        return [v.view for v in self.views if v.breached]

    @property
    def ok(self) -> bool:
        return not self.breaches

    def to_dict(self) -> dict[str, Any]:
        return {
            "now": self.now.isoformat(),
            "ok": self.ok,
            "breaches": self.breaches,
            "views": [v.to_dict() for v in self.views],
        }

    def to_table(self) -> str:
        head = ("view", "sla", "newest value age", "last load age", "version", "")
        rows = [head]
        for v in self.views:
            rows.append(
                (
                    v.view,
                    format_duration(v.sla) if v.sla else "-",
                    _age(v.watermark_age),
                    _age(v.materialization_age),
                    v.version
                    + (
                        ""
                        if v.materialized_version in (None, v.version)
                        else f" (Redis: {v.materialized_version})"
                    ),
                    "BREACH: " + "; ".join(v.reasons) if v.breached else "ok",
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(head) - 1)]
        lines = [
            "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1]
            for r in rows
        ]
        lines.append(
            f"freshness at {self.now.isoformat()}: "
            + ("OK" if self.ok else f"BREACH: {', '.join(self.breaches)}")
        )
        return "\n".join(lines)


def _age(t: timedelta | None) -> str:
    if t is None:
        return "-"
    if t < timedelta(0):
        return "-" + format_duration(-t)
    return format_duration(t)


def _from_micros(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(text))


def check_freshness(
    registry: Any,
    client: Any,
    *,
    views: Sequence[str] | None = None,
    now: datetime | None = None,
) -> FreshnessReport:
    """Check every (or the named) feature view's freshness against its SLA.

    Args:
        registry: the feature views (`Registry`).
        client: a redis-py client for the online store.
        views: view names (default: all).
        now: the time ages are measured at (default: now; naive means UTC).

    Raises:
        OnlineStoreError: Redis failed (naming the view and the server).
    """
    from skewless.online import keys
    from skewless.online.connection import redis_faults

    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    report = FreshnessReport(now=now)
    for name in views or sorted(registry.views):
        view = registry.view(name)
        with redis_faults("freshness", client, view.name):
            raw = client.hgetall(keys.meta_key(view.name))
            served = client.get(keys.pointer_key(view.name, view.version)) is not None
        meta = {k.decode(): v.decode() for k, v in raw.items()}
        watermark = _from_micros(meta.get("watermark"))
        loaded = _from_micros(meta.get("materialized_at"))
        wm_age = now - watermark if watermark else None
        load_age = now - loaded if loaded else None
        reasons = []
        if not served:
            held = meta.get("version")
            reasons.append(
                f"current version {view.version} is not materialized"
                + (f" (Redis holds {held})" if held and held != view.version else "")
                + f"; run `skewless materialize --select {view.name}`"
            )
        if view.freshness is not None and served:
            if wm_age is not None and wm_age > view.freshness:
                reasons.append(
                    f"newest value is {_age(wm_age)} old, past the {format_duration(view.freshness)} SLA"
                )
            if load_age is not None and load_age > view.freshness:
                reasons.append(
                    f"last materialization was {_age(load_age)} ago, past the "
                    f"{format_duration(view.freshness)} SLA"
                )
        report.views.append(
            ViewFreshness(
                view=view.name,
                version=view.version,
                materialized_version=meta.get("version"),
                sla=view.freshness,
                watermark=watermark,
                watermark_age=wm_age,
                materialized_at=loaded,
                materialization_age=load_age,
                reasons=tuple(reasons),
            )
        )
    return report
