"""`skewless get`: print the feature vector of entities, with each value's status, reason and age."""

from __future__ import annotations

from typing import Any

import click

from skewless.cli import CliContext, common_options, pass_context, print_table, to_json
from skewless.cli.materialize import parse_now, split_list
from skewless.errors import brief


def parse_entity(text: str, option: str = "--entity") -> dict[str, str]:
    """`user_id=42` or `user_id=42,merchant_id=7` → a dict (values stay strings; keys are typed
    by the view's declared key types when looked up). A name given twice is an error, not the
    last one silently (`user_id=1,user_id=2`).

    Raises:
        click.BadParameter: naming `option` (usage error, exit code 2).
    """
    entity: dict[str, str] = {}
    for part in text.split(","):
        key, eq, value = part.partition("=")
        key = key.strip()
        if not eq or not key:
            example = "user_id=42" if option == "--entity" else "amount=12.50"
            raise click.BadParameter(
                f"{brief(text)}: write KEY=VALUE[,KEY=VALUE…], e.g. {example}", param_hint=option
            )
        if key in entity:
            raise click.BadParameter(
                f"{brief(text)}: `{brief(key)[1:-1]}` is given twice; give each name once",
                param_hint=option,
            )
        entity[key] = value
    return entity


def request_payload(fields: dict[str, str]) -> dict[str, Any]:
    """Command-line request fields → a payload: `null` is NULL, every other value stays text.

    The text is typed by the runtime's own payload converters (`skewless.sql.helpers`), the same
    ones the Python API and any server use: a field accepts what DuckDB's CAST accepts for its
    declared type (`amount=11.30`, `ts=2026-01-02T12:00:00`, `flag=true`)."""
    return {name: None if text.lower() == "null" else text for name, text in fields.items()}


@click.command()
@click.option(
    "--entity",
    "-e",
    "entity_texts",
    multiple=True,
    required=True,
    metavar="KEY=VALUE[,KEY=VALUE]",
    help="One entity per option (repeat for several); composite keys comma-separated.",
)
@click.option(
    "--features",
    "-f",
    "feature_texts",
    multiple=True,
    required=True,
    metavar="VIEW.COL[,VIEW.COL]",
    help="Feature references (repeat or comma-separate).",
)
@click.option(
    "--request",
    "-r",
    "request_texts",
    multiple=True,
    metavar="FIELD=VALUE[,FIELD=VALUE]",
    help="The request payload of request-time features, one option per entity in --entity order: "
    "text read as the request model's column types, as the Python API reads JSON text (`null` is "
    "NULL; timestamps ISO 8601).",
)
@click.option(
    "--now",
    "now_text",
    metavar="TIMESTAMP",
    help="Age values against this time instead of now (ISO; naive = UTC).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print JSON: per entity, per feature {value, status, reason, age_seconds}.",
)
@common_options
@pass_context
def get(
    obj: CliContext,
    entity_texts: tuple[str, ...],
    feature_texts: tuple[str, ...],
    request_texts: tuple[str, ...],
    now_text: str | None,
    as_json: bool,
) -> None:
    """Look up features for entities in Redis, as a service would.

    Each value comes with its status (present, missing, expired, stale, defaulted), its reason
    (why it is not the stored value: missing, expired or stale; "-" when it is) and its age.

    \b
    Example:
      skewless get --entity user_id=42 --features user_txn_stats.txn_count_30d,user_profile.home_country
      skewless get -e user_id=42 -e user_id=43 -f user_txn_stats.txn_count_30d --json
      skewless get -e user_id=42,merchant_id=7 -f txn_risk.amount_to_avg_30d -r amount_usd=120.00,txn_country=DE,txn_ts=2026-01-02T12:00:00
    """
    entities = [parse_entity(t) for t in entity_texts]
    features = split_list(feature_texts)
    if not features:
        raise click.BadParameter(
            "no feature reference given; write VIEW.COL[,VIEW.COL], e.g. user_stats.txn_count_7d",
            param_hint="--features",
        )
    request = None
    if request_texts:
        if len(request_texts) != len(entities):
            raise click.BadParameter(
                f"give one --request per --entity ({len(entities)}), got {len(request_texts)}",
                param_hint="--request",
            )
        request = [request_payload(parse_entity(t, "--request")) for t in request_texts]
    response = obj.store().get_online_features(
        features, entities, request=request, now=parse_now(now_text)
    )
    values = response.values
    statuses = response.statuses
    reasons = response.reasons
    ages = response.ages
    if as_json:
        out: list[dict[str, Any]] = []
        for i, entity in enumerate(entities):
            out.append(
                {
                    "entity": entity,
                    "features": {
                        ref: {
                            "value": values[i][j],
                            "status": statuses[i][ref],
                            "reason": reasons[i][ref],
                            "age_seconds": None
                            if ages[i][ref] is None
                            else ages[i][ref].total_seconds(),
                        }
                        for j, ref in enumerate(response.features)
                    },
                }
            )
        click.echo(to_json(out))
        return
    rows = []
    for i, entity in enumerate(entities):
        label = ",".join(f"{k}={v}" for k, v in entity.items())
        for j, ref in enumerate(response.features):
            age = ages[i][ref]
            rows.append(
                [
                    label,
                    ref,
                    repr(values[i][j]),
                    statuses[i][ref],
                    reasons[i][ref] or "-",
                    "-" if age is None else str(age),
                ]
            )
    print_table(["entity", "feature", "value", "status", "reason", "age"], rows)
