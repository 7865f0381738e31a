"""`skewless push`: push events into a window view's online aggregates (and its event log)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import IO, Any

import click

from skewless.cli import CliContext, common_options, pass_context, print_table, to_json
from skewless.cli.materialize import parse_now
from skewless.errors import RequestError, SkewlessError


def _events(stream: IO[str], name: str) -> Any:
    """(line number, event) of a JSON Lines stream, or of one JSON array."""
    first = ""
    for first in stream:
        if first.strip():
            break
    text = first.lstrip()
    if text.startswith("["):
        try:
            items = json.loads(first + stream.read())
        except json.JSONDecodeError as e:
            raise click.BadParameter(f"{name}: not a JSON array of events: {e}") from None
        yield from ((i + 1, e) for i, e in enumerate(items))
        return
    lines = [first] if text else []
    for n, line in enumerate([*lines, *stream], start=1):
        if not line.strip():
            continue
        try:
            yield n, json.loads(line)
        except json.JSONDecodeError as e:
            raise click.BadParameter(
                f"{name}, line {n}: not a JSON object ({e}); write one event per line, e.g. "
                '{"user_id": 42, "txn_ts": "2026-01-02T12:00:00Z", "txn_id": "t1", "amount": 12.5}'
            ) from None


@click.command()
@click.argument("view")
@click.argument("events_file", metavar="FILE", default="-", type=click.Path(allow_dash=True))
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Events per push (each push is one Redis transaction and one log file).",
)
@click.option(
    "--log-dir",
    type=click.Path(file_okay=False),
    envvar="SKEWLESS_EVENT_LOG",
    help="The offline event log folder the view's dbt model reads (env SKEWLESS_EVENT_LOG); "
    "events are written there (Parquet) before Redis. Without it training will not see them.",
)
@click.option("--now", "now_text", metavar="TIMESTAMP", help="The push's time (ISO; naive = UTC).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@common_options
@pass_context
def push(
    obj: CliContext,
    view: str,
    events_file: str,
    batch_size: int,
    log_dir: str | None,
    now_text: str | None,
    as_json: bool,
) -> None:
    """Push events (JSON Lines, or one JSON array; FILE or - for stdin) into a window view.

    Each event holds the view's entity keys, its event time (ISO 8601; naive = UTC), its event
    id and the aggregated columns. The online aggregates include it from the next read; an
    event id already pushed changes nothing, so a failed run can simply be run again.

    \b
    Example:
      skewless push txn_windows events.jsonl --log-dir data/event_log
      skewless push txn_windows - < events.jsonl
    """
    store = obj.store()
    now = parse_now(now_text)
    name = "stdin" if events_file == "-" else events_file
    stream: IO[str] = sys.stdin if events_file == "-" else Path(events_file).open(encoding="utf-8")
    added = duplicates = too_old = done = 0
    files: list[str] = []
    batch: list[Any] = []
    lines: list[int] = []

    def send() -> None:
        nonlocal added, duplicates, too_old, done
        try:
            result = store.push(view, batch, log_dir=log_dir, now=now)
        except RequestError as e:
            # the event's index in the batch → its line in the file
            message = str(e)
            for i, line in enumerate(lines):
                message = message.replace(f"events[{i}]", f"{name} line {line}", 1)
                if message != str(e):
                    break
            raise SkewlessError(
                f"{message} ({done:,} events before it were pushed; fix the event and run again: "
                "events already pushed are skipped)"
            ) from None
        added += result.added
        duplicates += result.duplicates
        too_old += result.too_old
        files.extend(result.log_files)
        done += len(batch)
        if not as_json and sys.stderr.isatty():
            click.echo(f"\rpushed {done:,} events", nl=False, err=True)
        batch.clear()
        lines.clear()

    try:
        for line, event in _events(stream, name):
            batch.append(event)
            lines.append(line)
            if len(batch) >= batch_size:
                send()
        if batch:
            send()
    finally:
        if stream is not sys.stdin:
            stream.close()
    if not as_json and sys.stderr.isatty() and done:
        click.echo("", err=True)
    out = {"view": view, "events": done, "added": added, "duplicates": duplicates}
    out["too_old"] = too_old
    if as_json:
        click.echo(to_json({**out, "log_files": files}))
        return
    print_table(
        ["view", "events", "added", "duplicates", "too old", "log files"],
        [[view, f"{done:,}", f"{added:,}", f"{duplicates:,}", f"{too_old:,}", str(len(files))]],
    )
