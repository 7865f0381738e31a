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
    "--dbt-target", help="The profile target holding the DuckDB path (default: the profile's)."
)
@click.option(
    "--now",
    "now_text",
    metavar="TIMESTAMP",
    help="Measure ttl from this time instead of now (ISO; naive = UTC).",
)
@click.option(
    "--chunk-rows",
    type=click.IntRange(min=1),
    default=5000,
    show_default=True,
    help="Rows per Redis write buffer.",
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
    now_text: str | None,
    chunk_rows: int,
    as_json: bool,
) -> None:
    """Load the latest row per entity (within ttl) of feature views into Redis.

    Each view is written under a new generation and made visible by flipping its pointer at the
    end, so readers see the old state or the new one, never a mix.

    \b
    Example:
      skewless --project-dir examples/payments materialize --select user_txn_stats
      SKEWLESS_REDIS_URL=redis://localhost:6379/0 skewless materialize --incremental
    """
    from skewless.definitions.durations import parse_duration
    from skewless.online.materialize import duckdb_path_from_profile
    from skewless.online.materialize import materialize as run

    registry = obj.registry()
    names = split_list(select) or None
    try:
        lookback_td = parse_duration(lookback) if lookback else None
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--lookback") from None
    path = duckdb_path or duckdb_path_from_profile(obj.project_dir, profiles_dir, dbt_target)
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

    results = run(
        registry,
        client,
        path,
        select=names,
        now=parse_now(now_text),
        incremental=incremental,
        lookback=lookback_td,
        chunk_rows=chunk_rows,
        progress=progress,
        redis_url=redact(obj.url),
    )
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
        return
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
