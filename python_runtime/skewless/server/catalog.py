"""`GET /features`: the served definitions and what Redis holds for each feature view."""

from __future__ import annotations

import time
from typing import Any

__all__ = ["catalog"]


def _seconds(value: Any) -> float | None:
    return None if value is None else value.total_seconds()


def catalog(
    store: Any, meta: dict[str, dict[str, str]], pointers: dict[str, bool], sha256: str
) -> dict[str, Any]:
    """The catalog document (schema: `Catalog` in `/openapi.json`).

    Args:
        store: the `AsyncFeatureStore` serving.
        meta: per feature view its bookkeeping hash in Redis (`skw:meta:{<view>}`).
        pointers: per feature view whether its current version has a generation in Redis.
        sha256: the manifest's hash.
    """
    from skewless.definitions.durations import format_duration

    registry = store.registry
    now = time.time()
    views = []
    for name in sorted(registry.views):
        v = registry.views[name]
        m = meta.get(name, {})
        at = m.get("materialized_at")
        views.append(
            {
                "name": name,
                "entity": list(v.entity),
                "entity_types": list(v.entity_types),
                "timestamp": v.timestamp,
                "version": v.version,
                "ttl": None if v.ttl is None else format_duration(v.ttl),
                "ttl_seconds": _seconds(v.ttl),
                "available_after_seconds": _seconds(v.available_after),
                "freshness": None if v.freshness is None else format_duration(v.freshness),
                "freshness_seconds": _seconds(v.freshness),
                "on_stale": v.on_stale,
                "features": [
                    {
                        "name": f.name,
                        "ref": f.ref,
                        "data_type": f.data_type,
                        "has_default": f.has_default,
                        "description": f.description,
                    }
                    for f in v.features
                ],
                "online": {
                    "materialized": pointers.get(name, False),
                    "stored_version": m.get("version"),
                    "generation": m.get("generation"),
                    "rows": int(m["rows"]) if m.get("rows", "").isdigit() else None,
                    "materialized_age_seconds": (
                        round(max(0.0, now - int(at) / 1e6), 3) if at and at.isdigit() else None
                    ),
                },
            }
        )
    request_time = [
        {
            "name": odv.name,
            "version": odv.version,
            "features": [
                {"name": f.name, "ref": f.ref, "data_type": f.data_type} for f in odv.features
            ],
            "request_fields": dict(odv.request_schema),
            "inputs": sorted({i.view for i in odv.inputs}),
        }
        for odv in sorted(registry.on_demand.values(), key=lambda o: o.name)
    ]
    return {
        "manifest_sha256": sha256,
        "views": views,
        "request_time_views": request_time,
        "disabled": store.problems,
    }
