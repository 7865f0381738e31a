"""`skewless training-record`: write a training set's record, or check one against what is served."""

from __future__ import annotations

from pathlib import Path

import click

from skewless.cli import CliContext, common_options, pass_context, print_table, to_json
from skewless.cli.consistency import _duckdb_option, open_offline


@click.command("training-record")
@click.option("--model", "-m", metavar="MODEL", help="The training set's dbt model (to record).")
@click.option(
    "--out",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the record (default: stdout).",
)
@click.option(
    "--timestamp",
    metavar="COLUMN",
    help="The spine's timestamp column (default: the first timestamp column).",
)
@click.option(
    "--check",
    "check_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Check this record instead: list features whose served version differs; exit 1 if any.",
)
@click.option(
    "--no-redis",
    is_flag=True,
    help="With --check: compare with the manifest only (skip the materialized check).",
)
@click.option("--json", "as_json", is_flag=True, help="With --check: print JSON.")
@_duckdb_option
@common_options
@pass_context
def training_record(
    obj: CliContext,
    model: str | None,
    out: Path | None,
    timestamp: str | None,
    check_path: Path | None,
    no_redis: bool,
    as_json: bool,
    duckdb_path: Path | None,
    profiles_dir: Path | None,
    dbt_target: str | None,
) -> None:
    """Pin the feature versions of a training set, or check a pinned record against serving.

    The record holds the feature views and their versions, the manifest's sha256, the git commit
    of the dbt project, the relation, its row count and spine time range.

    \b
    Example:
      skewless training-record --model training_set --out records/2026-01-31.json
      skewless training-record --check records/2026-01-31.json
    """
    from skewless.guards.training import (
        check_training_record,
        training_record,
        write_training_record,
    )

    if check_path is not None:
        from skewless.online.connection import redis_faults

        with redis_faults("training-record check", obj.url):
            diffs = check_training_record(
                check_path, obj.registry(), None if no_redis else obj.redis()
            )
        if as_json:
            click.echo(to_json({"ok": not diffs, "differences": [d.to_dict() for d in diffs]}))
        elif diffs:
            print_table(
                ["feature", "recorded", "current", "materialized", "reason"],
                [
                    (d.feature, d.recorded_version, d.current_version, d.materialized, d.reason)
                    for d in diffs
                ],
            )
        else:
            click.echo(f"{check_path}: every recorded feature is served at its recorded version")
        if diffs:
            raise SystemExit(1)
        return
    if not model:
        raise click.UsageError(
            "give --model MODEL to write a record, or --check RECORD to check one"
        )
    duck = open_offline(obj, duckdb_path, profiles_dir, dbt_target)
    try:
        record = training_record(
            obj.registry(), model, duck, timestamp=timestamp, project_dir=obj.project_dir
        )
    finally:
        duck.close()
    if out is None:
        click.echo(to_json(record))
    else:
        write_training_record(record, out)
        click.echo(
            f"wrote {out}: {record['row_count']} rows, {len(record['features'])} features "
            f"from {', '.join(record['feature_views']) or 'no feature view'}"
        )
