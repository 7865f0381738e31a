"""`skewless materialize`: load the latest row per entity of feature views into Redis."""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from skewless.cli import (
    CliContext,
    common_options,
    pass_context,
    print_table,
    reader_option,
    select_option,
    to_json,
)


def parse_now(value: str | None) -> datetime | None:
    """`--now` as a tz-aware datetime (naive ISO text means UTC)."""
    if value is None:
        return None
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO timestamp (e.g. 2026-01-31T12:00:00)"
        ) from None
    return ts.replace(tzinfo=timezone.utc) if ts.tzinfo is None else ts


def split_list(values: tuple[str, ...]) -> list[str]:
    """Repeated and/or comma-separated option values, flattened."""
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


@click.command()
@select_option("load")
@click.option(
    "--incremental",
    is_flag=True,
    help="Write only rows at or after each view's stored watermark into the served generation.",
)
@click.option(
    "--lookback",
    metavar="DURATION",
    help="With --incremental, also rewrite rows this far before the watermark (late corrections), e.g. 6h.",
)
@click.option(
    "--duckdb-path",
    envvar="SKEWLESS_DUCKDB_PATH",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The DuckDB file dbt built [env SKEWLESS_DUCKDB_PATH; default: the dbt profile's path].",
)
@click.option(
    "--profiles-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where profiles.yml is (default: as dbt looks).",
)
@click.option(
    "--dbt-target",
    envvar="DBT_TARGET",
    help="The dbt profile target to read what dbt built from: any dbt adapter's output "
    "(duckdb, postgres and spark natively) [env DBT_TARGET; default: the profile's].",
)
@reader_option
@click.option(
    "--spark-write",
    type=click.Choice(["auto", "driver", "executors"]),
    envvar="SKEWLESS_SPARK_WRITE",
    default="auto",
    show_default=True,
    help="On a spark target, where the Redis writes run: `executors` (each Spark task writes "
    "its partition, the driver flips the pointer) or `driver` (the rows stream here); `auto` "
    "= executors when the session's spark.master is a cluster [env SKEWLESS_SPARK_WRITE].",
)
@click.option(
    "--now",
    "now_text",
    metavar="TIMESTAMP",
    help="Measure ttl and available_after from this time instead of now (ISO; naive = UTC). "
    "Keys still expire at their real instant (row timestamp + ttl): a past --now loads rows "
    "that Redis may drop at once.",
)
@click.option(
    "--chunk-rows",
    type=click.IntRange(min=1),
    default=5000,
    show_default=True,
    help="Rows per Redis write buffer.",
)
@click.option(
    "--keep-versions",
    type=click.IntRange(min=1),
    envvar="SKEWLESS_KEEP_VERSIONS",
    help="Definition versions per view kept live for rolling deploys (older ones are retired "
    "and their keys deleted) [env SKEWLESS_KEEP_VERSIONS; default: 3].",
)
@click.option(
    "--wait",
    is_flag=True,
    help="When another loader is loading a view (one loader per view), wait for it instead of "
    "failing at once.",
)
@click.option(
    "--wait-timeout",
    type=click.FloatRange(min=0),
    default=600,
    show_default=True,
    metavar="SECONDS",
    help="With --wait, the longest wait per view before failing.",
)
@click.option(
    "--lease-ttl",
    type=click.FloatRange(min=0.1),
    envvar="SKEWLESS_LEASE_TTL",
    metavar="SECONDS",
    help="How long a view's loader lease lives without renewal: how long a loader that died "
    "blocks the next one (a live loader renews it) [env SKEWLESS_LEASE_TTL; default: 30].",
)
@click.option(
    "--unfinished-ttl",
    type=click.FloatRange(min=1),
    envvar="SKEWLESS_UNFINISHED_TTL",
    metavar="SECONDS",
    help="How long the keys of a load that never flipped (its loader died) outlive it, even if "
    "the view is never loaded again; a load must flip within it, else it fails and the "
    "previous load stays served [env SKEWLESS_UNFINISHED_TTL; default: 86400].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@common_options
@pass_context
def materialize(
    obj: CliContext,
    select: tuple[str, ...],
    incremental: bool,
    lookback: str | None,
    duckdb_path: Path | None,
    profiles_dir: Path | None,
    dbt_target: str | None,
    spark_write: str,
    now_text: str | None,
    chunk_rows: int,
    keep_versions: int | None,
    wait: bool,
    wait_timeout: float,
    lease_ttl: float | None,
    unfinished_ttl: float | None,
    as_json: bool,
) -> None:
    """Load the latest row per entity (within ttl) of feature views into Redis.

    Window views (docs/windows.md) are loaded too: per entity the events and partial aggregates
    that keep their values exact until the view's `horizon` (always a whole load, even with
    `--incremental`; their rows are entities).

    Each view is written under a new generation and made visible by flipping its pointer at the
    end, so readers see the old state or the new one, never a mix.

    One loader per view: a second `materialize` of a view being loaded fails at once naming the
    loader (host, pid, since when), or with `--wait` waits for it (at most `--wait-timeout`).
    A loader that died holds the view until its lease expires (`--lease-ttl`); the next load
    then deletes what it left; if none comes, what it left expires after `--unfinished-ttl`.
    See docs/operations.md.

    A view disabled by a problem in its definition (`skewless check`) is not loaded: the healthy
    views asked for (all of them by default) are loaded first, then each disabled view asked for
    is reported and the command exits 1. `--select` of only disabled views fails at once. With
    `--strict` any problem in the project fails before anything is loaded. Disabled request-time
    views are only warned about (materialize loads no request-time view).

    \b
    Example:
      skewless --project-dir examples/payments materialize --select user_txn_stats
      SKEWLESS_REDIS_URL=redis://localhost:6379/0 skewless materialize --incremental
      skewless materialize --select user_txn_stats --wait --wait-timeout 900
      skewless materialize --dbt-target postgres
      skewless materialize --dbt-target spark --spark-write executors
      skewless materialize --dbt-target snowflake_prod --reader dbt
    """
    from skewless.definitions.durations import parse_duration
    from skewless.offline import reader_from_profile
    from skewless.online.materialize import materialize as run

    registry = obj.registry()
    problems = registry.problems
    asked = split_list(select)
    names: list[str] | None = None
    if asked:
        broken = [n for n in asked if n in problems]
        names = [n for n in asked if n not in problems]
        if not names:
            raise _disabled(registry, broken)
        others = [n for n in problems if n not in asked]
        if others:
            click.echo(
                f"warning: {len(others)} other view(s) disabled: {', '.join(others)} "
                "(`skewless check` says why)",
                err=True,
            )
    else:
        broken = sorted(n for n, p in problems.items() if p.kind == "feature_view")
        for n, p in problems.items():
            if p.kind != "feature_view":
                click.echo(f"warning: request-time view `{n}` is disabled: {p.message}", err=True)
    try:
        lookback_td = parse_duration(lookback) if lookback else None
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--lookback") from None
    # --duckdb-path names the file; otherwise the profile target says which engine to read
    from skewless.cli.consistency import duckdb_file

    duckdb_path = duckdb_file(obj, duckdb_path, profiles_dir, dbt_target)
    offline: Any = duckdb_path or reader_from_profile(
        obj.project_dir, profiles_dir, dbt_target, registry.views.values(), obj.reader
    )
    if getattr(offline, "engine", "") == "spark":
        import functools

        from skewless.online.spark import materialize as on_spark

        run = functools.partial(on_spark, url=obj.url, write=spark_write)
    try:
        _run(obj, run, offline, names, incremental, lookback_td, now_text, chunk_rows,
             keep_versions, wait, wait_timeout, lease_ttl, unfinished_ttl, as_json)  # fmt: skip
    finally:
        if not isinstance(offline, Path):
            offline.close()
    if broken:
        raise _disabled(registry, broken)


def _run(
    obj: CliContext,
    run: Any,
    offline: Any,
    names: list[str] | None,
    incremental: bool,
    lookback_td: Any,
    now_text: str | None,
    chunk_rows: int,
    keep_versions: int | None,
    wait: bool,
    wait_timeout: float,
    lease_ttl: float | None,
    unfinished_ttl: float | None,
    as_json: bool,
) -> None:
    client = obj.redis()
    from skewless.online.connection import redact

    bars: dict[str, Any] = {}

    def progress(view: Any, done: int, total: int) -> None:
        bar = bars.get(view.name)
        if bar is None:
            bar = bars[view.name] = click.progressbar(
                length=max(total, 1), label=f"{view.name:<24}", file=sys.stderr, show_pos=True
            )
            bar.__enter__()
        bar.update(done - bar.pos)
        if done >= total:
            bar.__exit__(None, None, None)

    try:
        results = run(
            obj.registry(),
            client,
            offline,
            select=names,
            now=parse_now(now_text),
            incremental=incremental,
            lookback=lookback_td,
            chunk_rows=chunk_rows,
            keep_versions=keep_versions,
            wait=wait_timeout if wait else 0.0,
            lease_ttl=lease_ttl,
            unfinished_ttl=unfinished_ttl,
            progress=progress,
            redis_url=redact(obj.url),
        )
    finally:
        # also when a load fails: the bar's line ends, so an error prints on a line of its own
        for bar in bars.values():
            if not bar.finished:
                bar.__exit__(None, None, None)
    total_rows = sum(r.rows for r in results)
    seconds = sum(r.seconds for r in results)
    rate = total_rows / seconds if seconds else 0.0
    click.echo(
        f"{total_rows:,} rows into {redact(obj.url)} in {seconds:.2f}s ({rate:,.0f} rows/s)",
        err=True,
    )
    if as_json:
        click.echo(to_json([r.to_dict() for r in results]))
    else:
        _print_results(results)


def _disabled(registry: Any, names: list[str]) -> Exception:
    """One error for the disabled views asked for, each with its problem."""
    from skewless.errors import BrokenViewError

    if len(names) == 1:
        return registry.disabled_error(names[0])  # type: ignore[no-any-return]
    lines = "; ".join(f"`{n}`: {registry.problems[n].message}" for n in names)
    return BrokenViewError(
        f"{len(names)} view(s) not materialized, disabled by a problem in their definition — "
        f"{lines}",
        view=names[0],
        problem=registry.problems[names[0]].message,
    )


def _print_results(results: list[Any]) -> None:
    print_table(
        [
            "view",
            "mode",
            "version",
            "gen",
            "rows",
            "query s",
            "write s",
            "cleanup s",
            "rows/s (write)",
            "rows/s (total)",
        ],
        [
            [
                r.view,
                r.mode,
                r.version,
                r.generation,
                r.rows,
                f"{r.query_seconds:.3f}",
                f"{r.write_seconds:.3f}",
                f"{r.cleanup_seconds:.3f}",
                f"{r.write_rows_per_second:,.0f}",
                f"{r.rows_per_second:,.0f}",
            ]
            for r in results
        ],
    )
