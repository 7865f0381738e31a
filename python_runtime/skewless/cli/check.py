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
    expression against what the runtime evaluates with DuckDB's exact semantics. Lists every
    valid model, then every problem (the model, column or construct and the fix, or the disabled
    input view a request-time view reads), and exits 1 when there is any. Needs only the
    manifest of a full `dbt compile`, no Redis.

    Without `--strict` the other commands serve around a broken view; `check` is the gate that
    fails on it (with or without `--strict`).

    \b
    Example:
      dbt compile --project-dir examples/payments
      skewless --project-dir examples/payments check
    """
    obj.strict = False  # check lists every problem and fails on any: --strict adds nothing
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
    problems = [
        {
            "model": p.view,
            "kind": p.kind,
            "error_type": type(p.error).__name__,
            "error": p.message,
            "disabled_by": p.disabled_by or None,
        }
        for p in registry.problems.values()
    ]
    if as_json:
        click.echo(to_json({"ok": not problems, "models": records, "problems": problems}))
        if problems:
            raise SystemExit(1)
        return
    if records:
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
    if not problems:
        click.echo(f"OK: {len(records)} model(s) valid")
        return
    for p in problems:
        click.echo(f"error: {p['model']} ({p['kind']}): {p['error']}", err=True)
    click.echo(
        f"FAILED: {len(problems)} model(s) disabled ({', '.join(p['model'] for p in problems)}), "
        f"{len(records)} valid",
        err=True,
    )
    raise SystemExit(1)
