"""`skewless freshness`: the age of each view's served data against its freshness SLA."""

from __future__ import annotations

import click

from skewless.cli import CliContext, common_options, pass_context, select_option, to_json


@click.command()
@select_option("check")
@click.option(
    "--now",
    "now_text",
    metavar="TIMESTAMP",
    help="Measure ages at this time instead of now (ISO; naive = UTC).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@common_options
@pass_context
def freshness(
    obj: CliContext, select: tuple[str, ...], now_text: str | None, as_json: bool
) -> None:
    """Per view: the age of the newest materialized value and of the last materialization,
    against the view's `freshness` SLA; exit 1 on any breach (or an unmaterialized version).

    \b
    Example:
      skewless freshness
      skewless freshness --select user_txn_stats --json
    """
    from skewless.cli.materialize import parse_now, split_list
    from skewless.guards.freshness import check_freshness

    report = check_freshness(
        obj.registry(), obj.redis(), views=split_list(select) or None, now=parse_now(now_text)
    )
    click.echo(to_json(report.to_dict()) if as_json else report.to_table())
    if not report.ok:
        raise SystemExit(1)
