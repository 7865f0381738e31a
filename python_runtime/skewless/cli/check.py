"""`skewless check`: validate every feature view and request-time view before deploy."""

from __future__ import annotations

from typing import Any

import click

from skewless.cli import CliContext, common_options, pass_context, print_table, to_json
from skewless.errors import SkewlessError


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@common_options
@pass_context
def check(obj: CliContext, as_json: bool) -> None:
    """Check the project's definitions: meta of every feature view, and every request-time
    expression against what the runtime evaluates with DuckDB's exact semantics. Exits 1 on
    the first invalid definition, naming the model, the column and the construct. Needs only
    the manifest (`dbt compile`), no Redis.

    \b
    Example:
      dbt compile --project-dir examples/payments
      skewless --project-dir examples/payments check
    """
    try:
        registry = obj.registry()
    except SkewlessError as e:
        if as_json:
            click.echo(to_json({"ok": False, "error": str(e), "error_type": type(e).__name__}))
            raise SystemExit(1) from None
        raise
    records: list[dict[str, Any]] = []
    for name, v in sorted(registry.views.items()):
        records.append(
            {
                "model": name,
                "kind": "feature_view",
                "features": len(v.features),
                "version": v.version,
            }
        )
    for name, odv in sorted(registry.on_demand.items()):
        records.append(
            {
                "model": name,
                "kind": "on_demand",
                "features": len(odv.features),
                "version": odv.version,
                "inputs": [i.view for i in odv.inputs],
                "request_fields": dict(odv.request_schema),
                "output_types": {f.name: f.data_type for f in odv.features},
            }
        )
    if as_json:
        click.echo(to_json({"ok": True, "models": records}))
        return
    print_table(
        ["model", "kind", "features", "version", "reads"],
        [
            [
                r["model"],
                r["kind"],
                r["features"],
                r["version"],
                ", ".join([*r.get("request_fields", {}), *r.get("inputs", [])]) or "-",
            ]
            for r in records
        ],
    )
    click.echo(f"OK: {len(records)} model(s) valid")
