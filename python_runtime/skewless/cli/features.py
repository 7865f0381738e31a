"""`skewless features`: the feature views of the project and what Redis holds for each."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import click

from skewless.cli import CliContext, common_options, pass_context, print_table, to_json


def _online_state(client: Any, names: list[str]) -> dict[str, dict[str, str]]:
    from skewless.online.keys import meta_key

    pipe = client.pipeline(transaction=False)
    for n in names:
        pipe.hgetall(meta_key(n))
    return {
        n: {k.decode(): v.decode() for k, v in raw.items()}
        for n, raw in zip(names, pipe.execute(), strict=True)
    }


def generation_health(client: Any, view: str, gen: bytes | str) -> tuple[int, int]:
    """(sentinels present, sentinels written) of one generation: one on a plain Redis, one per
    hash slot on a cluster. Fewer present than written: Redis lost part of it (a node restarted
    empty), and readers serve what it lost as `unavailable`."""
    from skewless.online.keys import CLUSTER_SLOTS, sentinel_key

    if type(client).__name__ == "RedisCluster":
        wanted = [sentinel_key(view, gen, s) for s in range(CLUSTER_SLOTS)]
    else:
        wanted = [sentinel_key(view, gen)]
    pipe = client.pipeline(transaction=False)
    for k in wanted:
        pipe.exists(k)
    return sum(pipe.execute()), len(wanted)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@common_options
@pass_context
def features(obj: CliContext, as_json: bool) -> None:
    """List feature views: features, entity, version, ttl, freshness, and the version Redis
    serves with its age.

    The `online` column reads `current` when Redis serves the view's current definition version
    (one of the `live versions` a rolling deploy keeps, newest first; see docs/versions.md),
    `OLD <version>` when it holds another one (run `skewless materialize --select VIEW`), `-`
    when never materialized, `BROKEN` when the view is disabled by a problem in its definition
    (listed below the table with the problem; `--json`: `online_status` "broken" and `problem`).
    Broken views do not change the exit code (`skewless check` is the gate) unless `--strict`.
    `INCOMPLETE` when Redis lost part of the generation served (a node restarted empty: its
    completeness sentinels are gone; readers serve what it lost as `unavailable`, or raise) —
    rematerialize the view (`--json`: `online_status` "incomplete", `sentinels_intact` of
    `sentinels_total`).
    Window views (docs/windows.md) follow in their own table: entity, windows, hop (`-`: exact
    sliding windows), horizon, number of outputs, whether they take pushes (an `event_id`), the
    version Redis holds and its age (`--json`: `kind` "window").
    When Redis cannot be read (down, refused credentials, an ACL without HGETALL/GET on
    `skw:*`), the command prints one `Error:` line and exits 1.

    \b
    Example:
      skewless --project-dir examples/payments features
      skewless features --json | jq '.[] | select(.online_status != "current")'
    """
    from skewless.definitions.durations import format_duration

    registry = obj.registry()
    names = sorted(registry.views)
    problems = registry.problems
    broken = sorted(n for n, p in problems.items() if p.kind == "feature_view")
    from skewless.online.connection import redis_faults
    from skewless.online.versions import describe_live_versions, live_versions

    # the online column is the point of this command: without Redis it fails (one line, exit
    # 1) rather than print every view as never materialized
    client = obj.redis()
    with redis_faults("features", obj.url):
        state = _online_state(client, sorted([*names, *broken]))
        live: dict[str, list[Any]] = {n: live_versions(client, n) for n in names if state.get(n)}
        health: dict[str, tuple[int, int]] = {}
        for n in names:
            gen = next(
                (
                    lv.generation
                    for lv in live.get(n, [])
                    if lv.version == registry.views[n].version
                ),
                state.get(n, {}).get("generation"),
            )
            if gen:
                health[n] = generation_health(client, n, gen)
    now_us = time.time_ns() // 1000
    records = []
    for n in names:
        v = registry.views[n]
        meta = state.get(n, {})
        stored = meta.get("version")
        at = meta.get("materialized_at")
        age = timedelta(microseconds=now_us - int(at)) if at else None
        served = [lv.version for lv in live.get(n, [])]
        # current: Redis serves this definition's version (among the live ones a rolling
        # deploy keeps), whichever was loaded last
        status = (
            "-"
            if not stored
            else ("current" if v.version in served or stored == v.version else f"OLD {stored}")
        )
        intact, total = health.get(n, (0, 0))
        if stored and intact < total:
            status = "INCOMPLETE"
            click.echo(
                f"warning: `{n}`: Redis lost part of the generation served ({total - intact} of "
                f"{total} completeness sentinels gone: a node restarted empty?); its lost values "
                f"serve as `unavailable`; rematerialize: skewless materialize --select {n}",
                err=True,
            )
        records.append(
            {
                "view": n,
                "kind": "feature_view",
                "problem": None,
                "features": list(v.feature_names),
                "entity": list(v.entity),
                "version": v.version,
                "ttl": format_duration(v.ttl),
                "freshness": format_duration(v.freshness),
                "on_stale": v.on_stale,
                "materialized_version": stored,
                "online_status": (status if status != "INCOMPLETE" else "incomplete")
                if stored
                else "never",
                "sentinels_intact": health[n][0] if n in health else None,
                "sentinels_total": health[n][1] if n in health else None,
                "materialized_age_seconds": None if age is None else round(age.total_seconds(), 3),
                "rows": int(meta["rows"]) if meta.get("rows") else None,
                "generation": meta.get("generation"),
                "watermark_us": int(meta["watermark"]) if meta.get("watermark") else None,
                "live_versions": served,
            }
        )
    for n, p in problems.items():
        meta = state.get(n, {})
        records.append(
            {
                "view": n,
                "kind": p.kind,
                "problem": p.message,
                "features": [],
                "entity": [],
                "version": None,
                "ttl": None,
                "freshness": None,
                "on_stale": None,
                "materialized_version": meta.get("version"),
                "online_status": "broken",
                "materialized_age_seconds": None,
                "rows": int(meta["rows"]) if meta.get("rows") else None,
                "generation": meta.get("generation"),
                "watermark_us": int(meta["watermark"]) if meta.get("watermark") else None,
                "live_versions": [],
            }
        )
    if not as_json:
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
                "live versions",
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
                    {"never": "-", "broken": "BROKEN", "incomplete": "INCOMPLETE"}.get(
                        r["online_status"], r["online_status"]
                    ),
                    describe_live_versions([lv for lv in live.get(r["view"], [])], r["version"]),
                    "-"
                    if r["materialized_age_seconds"] is None
                    else format_duration(timedelta(seconds=int(r["materialized_age_seconds"])))
                    + " ago",
                    r["rows"],
                ]
                for r in records
                if r["kind"] == "feature_view"
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
    windows = sorted(registry.windows.values(), key=lambda w: w.name)
    if windows:
        with redis_faults("features", obj.url):
            wstate = _online_state(client, [w.name for w in windows])
        wrecords = []
        for w in windows:
            meta = wstate.get(w.name, {})
            at = meta.get("materialized_at")
            stored = meta.get("version")
            wrecords.append(
                {
                    "view": w.name,
                    "kind": "window",
                    "entity": list(w.entity),
                    "windows": list(w.windows),
                    "horizon": format_duration(w.horizon),
                    "hop": None if w.hop is None else format_duration(w.hop),
                    "features": list(w.feature_names),
                    "version": w.version,
                    "pushable": bool(w.event_id),
                    "online_status": "never"
                    if not stored
                    else ("current" if stored == w.version else f"OLD {stored}"),
                    "materialized_age_seconds": None
                    if not at
                    else round((now_us - int(at)) / 1e6, 3),
                    # entities with a record, plus the load-instant key
                    "rows": int(meta["rows"]) if meta.get("rows") else None,
                }
            )
        if as_json:
            records.extend(wrecords)
        else:
            click.echo("\nwindow views (aggregates exact at the request instant; docs/windows.md):")
            print_table(
                [
                    "view",
                    "entity",
                    "windows",
                    "hop",
                    "horizon",
                    "outputs",
                    "push",
                    "online",
                    "loaded",
                ],
                [
                    [
                        r["view"],
                        ",".join(r["entity"]),
                        ",".join(r["windows"]),
                        r["hop"] or "-",
                        r["horizon"],
                        str(len(r["features"])),
                        "yes" if r["pushable"] else "no (no event_id)",
                        {"never": "-"}.get(r["online_status"], r["online_status"]),
                        "-"
                        if r["materialized_age_seconds"] is None
                        else format_duration(timedelta(seconds=int(r["materialized_age_seconds"])))
                        + " ago",
                    ]
                    for r in wrecords
                ],
            )
    if problems and not as_json:
        click.echo("\ndisabled views (not served; `skewless check` lists the same):")
        print_table(
            ["view", "kind", "problem"], [[p.view, p.kind, p.message] for p in problems.values()]
        )
    if as_json:
        click.echo(to_json(records))
    if problems:
        click.echo(
            f"warning: {len(problems)} view(s) disabled by a problem in their definition: "
            f"{', '.join(problems)}",
            err=True,
        )
