"""`skewless explain`: why one entity is served the value it is served (`guards.explain`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from skewless.cli import CliContext, common_options, pass_context, print_table, to_json
from skewless.cli.consistency import _duckdb_option, open_offline
from skewless.cli.get import parse_entity
from skewless.cli.materialize import parse_now


def _entity(texts: tuple[str, ...]) -> dict[str, str]:
    """Every `-e KEY=VALUE[,KEY=VALUE]` merged into one entity; a key given twice is an error."""
    entity: dict[str, str] = {}
    for text in texts:
        for key, value in parse_entity(text).items():
            if key in entity:
                raise click.BadParameter(
                    f"`{key}` is given twice; give each key once", param_hint="--entity"
                )
            entity[key] = value
    return entity


def _when(value: Any) -> str:
    return "-" if value is None else value.isoformat()


def _print(data: dict[str, Any]) -> None:
    """The explanation as a field/value table, then each input of an on-demand feature."""
    served, gen, src, off = data["served"], data["generation"], data["source"], data["offline"]
    rows: list[list[Any]] = [
        ["feature", data["feature"]],
        ["entity", ", ".join(f"{k}={v}" for k, v in data["entity"].items())],
        ["at", data["at"]],
    ]
    if data["kind"] == "on_demand":
        rows.append(["kind", "on_demand (computed per request)"])
    else:
        age = served["age_seconds"]
        rows += [
            ["served value", repr(served["value"])],
            ["status", served["status"]],
            ["reason", served["reason"]],
            ["age", None if age is None else f"{age:g}s"],
            ["stored value", repr(data["stored"]["value"])],
            ["stored ts", data["stored"]["ts"]],
            ["version", gen["version"]],
            ["generation", gen["generation"]],
            ["materialized_at", gen["materialized_at"]],
            ["as_of", gen["as_of"]],
            ["mode", gen["mode"]],
            ["rows", gen["rows"]],
        ]
    rows += [["model", src["model"]], ["relation", src["relation"]], ["path", src["path"]]]
    for node in src["lineage"]:  # nearest first; the depth counts the hops from the model
        where = node["relation"] or node["unique_id"]
        rows.append(
            [
                f"upstream {node['depth']}",
                f"{node['resource_type'] or 'node'} {node['name']} ({where})",
            ]
        )
    if data["kind"] != "on_demand":
        loaded, pit = off["loaded"], off["point_in_time"]
        if loaded is not None:
            rows.append(["offline at as_of", _offline_cell(loaded)])
        rows.append(["offline at `at`", _offline_cell(pit)])
        rows.append(["offline latest ts", off["latest_ts"]])
        rows.append(["consistent", "yes" if data["consistent"] else "no"])
    rows += [["verdict", data["verdict"]], ["detail", data["detail"]], ["fix", data["fix"] or None]]
    if served["error"]:
        rows.append(["served error", served["error"]])
    rows += [["note", n] for n in data["notes"]]
    print_table(["field", "value"], rows)
    for item in data["inputs"]:
        click.echo()
        click.echo(f"input {item['feature']}:")
        _print(item)


def _offline_cell(row: dict[str, Any]) -> str:
    if row["ts"] is None:
        return "no row"
    return f"{row['value']!r} (row ts {row['ts']})"


@click.command()
@click.argument("feature", metavar="MODEL.COLUMN")
@click.option(
    "--entity",
    "-e",
    "entity_texts",
    multiple=True,
    required=True,
    metavar="KEY=VALUE[,KEY=VALUE]",
    help="The entity's key values (repeat or comma-separate for a composite key).",
)
@click.option(
    "--at",
    "at_text",
    metavar="TIMESTAMP",
    help="Serve and read offline at this instant instead of now (ISO; naive = UTC).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print JSON: served, generation, source (lineage), offline, verdict, fix.",
)
@_duckdb_option
@common_options
@pass_context
def explain(
    obj: CliContext,
    feature: str,
    entity_texts: tuple[str, ...],
    at_text: str | None,
    as_json: bool,
    duckdb_path: Path | None,
    profiles_dir: Path | None,
    dbt_target: str | None,
) -> None:
    """Explain the value one entity is served for a feature, against the offline side.

    Shows the served value (status, reason, age), the generation and definition version it
    came from and when that generation was loaded, the source model and its upstream dbt
    lineage, and the offline value read from the dbt relation with the loader's rules: what
    the loader would load at the generation's as_of, and the point-in-time value at --at (or
    now). Ends with a verdict (equal, offline_newer, value_differs, changed_offline,
    entity_absent, expired, before_load, not_materialized, unavailable) and the fix. Exits 0
    whatever the verdict; errors exit 1. A request-time feature is computed per request:
    each stored input it reads is explained instead.

    \b
    Example:
      skewless explain user_txn_stats.txn_count_30d -e user_id=42
      skewless explain merchant_risk.chargeback_rate_90d -e merchant_id=7 --at 2026-01-03T12:00:00 --json
      skewless explain txn_risk.amount_to_avg_30d -e user_id=42 --dbt-target postgres
    """
    from skewless.guards.explain import explain as explain_one

    entity = _entity(entity_texts)
    at = parse_now(at_text)
    store = obj.store()
    store.registry.feature(feature)  # an unknown feature fails before the offline side opens
    reader = open_offline(obj, duckdb_path, profiles_dir, dbt_target)
    try:
        result = explain_one(store, reader, feature, entity, now=at)
    finally:
        reader.close()
    data = result.to_dict()
    if as_json:
        click.echo(to_json(data))
    else:
        _print(data)
