"""`skewless consistency`: online vs offline, or replay of the served-feature log; drift."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from skewless.cli import (
    CliContext,
    common_options,
    pass_context,
    reader_option,
    select_option,
    to_json,
)
from skewless.errors import SkewlessError


def _duckdb_option(f: Any) -> Any:
    for option in reversed(
        [
            click.option(
                "--duckdb-path",
                envvar="SKEWLESS_DUCKDB_PATH",
                type=click.Path(dir_okay=False, path_type=Path),
                help="The DuckDB file dbt built [env SKEWLESS_DUCKDB_PATH; default: the dbt "
                "profile's path].",
            ),
            click.option(
                "--profiles-dir",
                type=click.Path(file_okay=False, path_type=Path),
                help="Where profiles.yml is (default: as dbt looks).",
            ),
            click.option(
                "--dbt-target",
                envvar="DBT_TARGET",
                help="The profile target to read what dbt built from: any dbt adapter's output "
                "(duckdb, postgres and spark natively) [env DBT_TARGET; default: the profile's].",
            ),
            reader_option,
        ]
    ):
        f = option(f)
    return f


def duckdb_file(
    obj: CliContext, duckdb_path: Path | None, profiles_dir: Path | None, dbt_target: str | None
) -> Path | None:
    """The DuckDB file to read, or None to read the profile target.

    `--duckdb-path` names a file whatever the profile says. `SKEWLESS_DUCKDB_PATH` from the
    environment (which profiles also use for their DuckDB path) does not override an explicit
    `--dbt-target`/`DBT_TARGET` naming another engine: the target wins, and stderr says so.

    Raises:
        click.UsageError: `--duckdb-path` on the command line with a target of another engine.
    """
    if duckdb_path is None or dbt_target is None:
        return duckdb_path
    from skewless.offline.profile import profile_target

    kind = profile_target(obj.project_dir, profiles_dir, dbt_target).type
    if kind == "duckdb":
        return duckdb_path
    source = click.get_current_context().get_parameter_source("duckdb_path")
    if source is click.core.ParameterSource.ENVIRONMENT:
        click.echo(
            f"note: SKEWLESS_DUCKDB_PATH is set but --dbt-target `{dbt_target}` is a {kind} "
            f"output: reading {kind}, not {duckdb_path}",
            err=True,
        )
        return None
    raise click.UsageError(
        f"--duckdb-path {duckdb_path} and --dbt-target `{dbt_target}` (a {kind} output) name "
        "two different sources; pass one of them"
    )


def open_offline(
    obj: CliContext, duckdb_path: Path | None, profiles_dir: Path | None, dbt_target: str | None
) -> Any:
    """A reader of what dbt built: `--duckdb-path` when given, else the profile target's
    engine (`--reader`; see docs/engines.md and `duckdb_file`)."""
    from skewless.offline import reader_from_profile
    from skewless.offline.duckdb import DuckDBReader

    views = obj.registry().views.values()
    duckdb_path = duckdb_file(obj, duckdb_path, profiles_dir, dbt_target)
    if duckdb_path:
        return DuckDBReader.open(duckdb_path, views)
    return reader_from_profile(obj.project_dir, profiles_dir, dbt_target, views, obj.reader)


def _load_thresholds(path: Path | None) -> dict[str, float]:
    if path is None:
        return {}
    text = path.read_text()
    try:
        data = json.loads(text)
    except ValueError:
        import yaml  # type: ignore[import-untyped]

        data = yaml.safe_load(text)
    if not isinstance(data, dict) or not all(isinstance(v, (int, float)) for v in data.values()):
        raise SkewlessError(
            f"{path}: thresholds must map feature references to rates, e.g. "
            '{"user_txn_stats.txn_count_30d": 0.01}'
        )
    return {str(k): float(v) for k, v in data.items()}


def _relation_of(registry: Any, name: str) -> str:
    """A dbt model's relation when `name` is a model of the manifest, else `name` as given."""
    manifest = getattr(registry, "manifest", None)
    for node in manifest.models() if manifest is not None else []:
        if node.get("name") == name and node.get("relation_name"):
            return str(node["relation_name"])
    return name


@click.command()
@click.option(
    "--log",
    "log_source",
    metavar="PATH|URL",
    help="Replay this served-feature log (a Parquet folder, or a redis:// URL holding "
    "the stream) instead of comparing Redis with the offline tables.",
)
@click.option(
    "--stream",
    default="skewless:feature_log",
    show_default=True,
    help="The stream key, when --log is a Redis URL.",
)
@click.option("--since", metavar="TIMESTAMP", help="Replay rows served at or after this (ISO).")
@click.option("--until", metavar="TIMESTAMP", help="Replay rows served before this (ISO).")
@select_option("check")
@click.option(
    "--sample",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Entities per view (online), or logged rows (replay), to compare.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sample.")
@click.option(
    "--max-mismatch-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Default maximum mismatch rate per feature.",
)
@click.option(
    "--thresholds",
    "thresholds_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON/YAML file of per-feature maximum mismatch rates, e.g. "
    '{"user_stats.avg_amount": 0.01}; overrides column meta skewless.max_mismatch_rate.',
)
@click.option(
    "--float-tolerance",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Relative tolerance for floats (default: exact equality).",
)
@click.option(
    "--training-relation",
    metavar="RELATION",
    help="With --log: report drift (PSI, category shares) between this training set (a dbt "
    "model name or a relation) and the served values.",
)
@click.option(
    "--max-psi",
    type=click.FloatRange(min=0),
    help="With --training-relation: a PSI above this is a breach (default: report only).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a self-contained HTML report (a chart per feature) here.",
)
@_duckdb_option
@common_options
@pass_context
def consistency(
    obj: CliContext,
    log_source: str | None,
    stream: str,
    since: str | None,
    until: str | None,
    select: tuple[str, ...],
    sample: int,
    seed: int,
    max_mismatch_rate: float,
    thresholds_file: Path | None,
    float_tolerance: float,
    training_relation: str | None,
    max_psi: float | None,
    as_json: bool,
    html_path: Path | None,
    duckdb_path: Path | None,
    profiles_dir: Path | None,
    dbt_target: str | None,
) -> None:
    """Compare served features with the offline side; exit 1 when a feature breaches its threshold.

    Without --log: sample entities of each view and compare what Redis holds with the offline
    latest row of the materialized version. With --log: rebuild every logged value offline at
    its serving time (point-in-time) and compare with what was served.

    \b
    Example:
      skewless consistency --sample 500
      skewless consistency --log logs/features --since 2026-01-01 --html report.html
      skewless consistency --log logs/features --training-relation main.training_set --json
    """
    from skewless.cli.materialize import parse_now, split_list
    from skewless.guards.consistency import feature_thresholds, online_vs_offline, replay

    views = split_list(select) or None
    registry = obj.registry()
    for v in views or []:
        registry.view(v)
    thresholds = feature_thresholds(registry, max_mismatch_rate, _load_thresholds(thresholds_file))
    duck = open_offline(obj, duckdb_path, profiles_dir, dbt_target)
    try:
        if log_source is None:
            if training_relation:
                raise click.UsageError(
                    "--training-relation needs --log (drift compares served values)"
                )
            report = online_vs_offline(
                obj.store(),
                duck,
                views=views,
                sample=sample,
                seed=seed,
                thresholds=thresholds,
                float_tolerance=float_tolerance,
            )
        else:
            from skewless.guards.feature_log import read_feature_log

            reader = read_feature_log(
                log_source, stream=stream, since=parse_now(since), until=parse_now(until)
            )
            rows = list(reader)
            wanted = None
            if views:
                wanted = [f.ref for v in views for f in registry.view(v).features]
            report = replay(
                registry,
                duck,
                rows,
                features=wanted,
                thresholds=thresholds,
                float_tolerance=float_tolerance,
                sample=sample,
                seed=seed,
                skipped=reader,
            )
            if training_relation:
                from skewless.guards.drift import training_vs_served

                # read through the target's reader (DuckDB, PostgreSQL, …), as the replay
                training_relation = _relation_of(registry, training_relation)
                report.drift = training_vs_served(
                    registry, duck, training_relation, rows, features=wanted
                )
                report.max_psi = max_psi
    finally:
        duck.close()
    data = report.to_dict()
    if html_path is not None:
        from skewless.guards.report import write_html

        write_html(data, html_path)
    if as_json:
        click.echo(to_json(data))
    else:
        click.echo(report.to_table())
        if html_path is not None:
            click.echo(f"report: {html_path}")
    if not report.ok:
        raise SystemExit(1)
