"""`skewless features`: the feature views of the project and what Redis holds for each."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import click

from skewless.cli import CliContext, common_options, pass_context, print_table, to_json
from skewless.errors import OnlineStoreError


def _online_state(client: Any, names: list[str]) -> dict[str, dict[str, str]]:
    from skewless.online.keys import meta_key

    pipe = client.pipeline(transaction=False)
    for n in names:
        pipe.hgetall(meta_key(n))
    return {
        n: {k.decode(): v.decode() for k, v in raw.items()}
        for n, raw in zip(names, pipe.execute(), strict=True)
    }


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@common_options
@pass_context
def features(obj: CliContext, as_json: bool) -> None:
    """List feature views: features, entity, version, ttl, freshness, and the version Redis
    serves with its age.

    The `online` column reads `current` when Redis holds the view's current definition version,
    `OLD <version>` when it holds another one (run `skewless materialize --select VIEW`), `-`
    when never materialized.

    \b
    Example:
      skewless --project-dir examples/payments features
      skewless features --json | jq '.[] | select(.online_status != "current")'
    """
    from skewless.definitions.durations import format_duration

    registry = obj.registry()
    names = sorted(registry.views)
    try:
        state = _online_state(obj.redis(), names)
        warning = None
    except OnlineStoreError as e:
        state, warning = {}, str(e)
    now_us = time.time_ns() // 1000
    records = []
    for n in names:
        v = registry.views[n]
        meta = state.get(n, {})
        stored = meta.get("version")
        at = meta.get("materialized_at")
        age = timedelta(microseconds=now_us - int(at)) if at else None
        status = "-" if not stored else ("current" if stored == v.version else f"OLD {stored}")
        records.append(
            {
                "view": n,
                "features": list(v.feature_names),
                "entity": list(v.entity),
                "version": v.version,
                "ttl": format_duration(v.ttl),
                "freshness": format_duration(v.freshness),
                "on_stale": v.on_stale,
                "materialized_version": stored,
                "online_status": status if stored else "never",
                "materialized_age_seconds": None if age is None else round(age.total_seconds(), 3),
                "rows": int(meta["rows"]) if meta.get("rows") else None,
                "generation": meta.get("generation"),
                "watermark_us": int(meta["watermark"]) if meta.get("watermark") else None,
            }
        )
    if as_json:
        click.echo(to_json(records))
    else:
        print_table(
            [
                "view",
                "entity",
                "features",
                "version",
                "ttl",
                "freshness",
                "on_stale",
                "online",
                "materialized",
                "rows",
            ],
            [
                [
                    r["view"],
                    ",".join(r["entity"]),
                    ",".join(r["features"]),
                    r["version"],
                    r["ttl"],
                    r["freshness"],
                    r["on_stale"],
                    r["online_status"] if r["online_status"] != "never" else "-",
                    "-"
                    if r["materialized_age_seconds"] is None
                    else format_duration(timedelta(seconds=int(r["materialized_age_seconds"])))
                    + " ago",
                    r["rows"],
                ]
                for r in records
            ],
        )
    if registry.on_demand and not as_json:
        click.echo("\nrequest-time views (computed per request from the payload and their inputs):")
        print_table(
            ["view", "features", "version", "request fields", "inputs"],
            [
                [
                    odv.name,
                    ",".join(odv.feature_names),
                    odv.version,
                    ",".join(f"{k}:{t}" for k, t in odv.request_schema.items()),
                    ",".join(i.view for i in odv.inputs),
                ]
                for odv in sorted(registry.on_demand.values(), key=lambda o: o.name)
            ],
        )
    if warning:
        click.echo(f"warning: online state unknown: {warning}", err=True)
