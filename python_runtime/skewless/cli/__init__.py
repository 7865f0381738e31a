"""The `skewless` command line: one click group, one module per command.

    skewless --project-dir path/to/dbt_project materialize --select user_txn_stats
    skewless get --entity user_id=42 --features user_txn_stats.txn_count_30d --json
    skewless features

Common options are read from `SKEWLESS_*` environment variables (`SKEWLESS_PROJECT_DIR`,
`SKEWLESS_TARGET_PATH`, `SKEWLESS_REDIS_URL`, `SKEWLESS_DUCKDB_PATH`, `SKEWLESS_STRICT`) and may
be given before the command or after it. Results print as a table, or as JSON with `--json`.

A broken definition disables that view only (`skewless check` lists every problem); `--strict`
makes any broken definition fail every command, for CI.

Errors: every `SkewlessError` prints as one line `Error: …` and exits 1, with no traceback. Redis
faults reach this point as `OnlineStoreError` because every module that talks to Redis converts
them where it calls Redis (`online.connection.redis_faults`); nothing here catches other
exceptions, so a bug still shows its traceback. A command's socket waits are bounded
(`CLI_SOCKET_TIMEOUT`), so a paused server fails a command instead of hanging it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import click

from skewless.errors import SkewlessError

__all__ = [
    "CliContext",
    "common_options",
    "main",
    "pass_context",
    "print_table",
    "select_option",
    "to_json",
]

F = TypeVar("F", bound=Callable[..., Any])

#: Seconds a command waits on a Redis socket (connect, or one reply) before failing.
CLI_SOCKET_TIMEOUT = 30.0


@dataclass
class CliContext:
    """What every command needs, resolved from options and `SKEWLESS_*` variables."""

    project_dir: Path = Path(".")
    target_path: str = "target"
    redis_url: str = ""
    strict: bool = False
    #: how what dbt built is read: `auto` (native where there is a reader) or `dbt` (`--reader`)
    reader: str | None = None
    _registry: Any = field(default=None, repr=False)
    _redis: Any = field(default=None, repr=False)

    @property
    def url(self) -> str:
        from skewless.online.connection import DEFAULT_REDIS_URL

        return self.redis_url or DEFAULT_REDIS_URL

    def registry(self) -> Any:
        """The feature views of the project's manifest (read once); broken views are disabled
        (`Registry.problems`), or fail the command with `--strict`."""
        if self._registry is None:
            from skewless.definitions.registry import Registry

            target = Path(self.target_path)
            path = target if target.is_absolute() else self.project_dir / target
            self._registry = Registry.from_manifest(path / "manifest.json", strict=self.strict)
        return self._registry

    def redis(self) -> Any:
        """A connected redis-py client (one per invocation); a socket wait longer than
        `CLI_SOCKET_TIMEOUT` fails the command."""
        if self._redis is None:
            from skewless.online.connection import connect

            self._redis = connect(
                self.url,
                socket_timeout=CLI_SOCKET_TIMEOUT,
                socket_connect_timeout=CLI_SOCKET_TIMEOUT,
            )
        return self._redis

    def store(self) -> Any:
        """A `FeatureStore` over the registry and the client (the URL is redacted inside)."""
        from skewless.online.store import FeatureStore

        return FeatureStore(self.registry(), self.redis(), self.url)


pass_context = click.make_pass_decorator(CliContext, ensure=True)


def _set(attr: str, convert: Callable[[Any], Any] = lambda v: v) -> Callable[..., Any]:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        if value is not None:
            setattr(ctx.ensure_object(CliContext), attr, convert(value))
        return value

    return callback


def _set_strict(ctx: click.Context, _param: click.Parameter, value: bool | None) -> bool | None:
    if value:  # only ever switched on, so `--strict` before the command survives the command's copy
        ctx.ensure_object(CliContext).strict = True
    return value


def common_options(f: F, *, from_env: bool = False) -> F:
    """`--project-dir`, `--target-path`, `--redis-url`, `--strict`, accepted before and after
    the command.

    Only the group's copies read the `SKEWLESS_*` variables, so an option given on the command
    line (anywhere) wins over the environment.
    """

    def env(name: str) -> str | None:
        return name if from_env else None

    options = [
        click.option(
            "--project-dir",
            envvar=env("SKEWLESS_PROJECT_DIR"),
            type=click.Path(file_okay=False, path_type=Path),
            callback=_set("project_dir"),
            expose_value=False,
            is_eager=True,
            help="The dbt project folder [env SKEWLESS_PROJECT_DIR; default: .].",
        ),
        click.option(
            "--target-path",
            envvar=env("SKEWLESS_TARGET_PATH"),
            callback=_set("target_path"),
            expose_value=False,
            is_eager=True,
            help="dbt's target folder holding manifest.json, relative to the project "
            "[env SKEWLESS_TARGET_PATH; default: target].",
        ),
        click.option(
            "--redis-url",
            envvar=env("SKEWLESS_REDIS_URL"),
            callback=_set("redis_url"),
            expose_value=False,
            is_eager=True,
            help="redis://[user:password@]host:port/db, rediss:// for TLS, redis+cluster:// for "
            "a cluster [env SKEWLESS_REDIS_URL; default: redis://localhost:6379/0].",
        ),
        click.option(
            "--strict",
            is_flag=True,
            default=None,
            envvar=env("SKEWLESS_STRICT"),
            callback=_set_strict,
            expose_value=False,
            is_eager=True,
            help="Fail on any broken definition instead of disabling that view and serving the "
            "rest, as CI should [env SKEWLESS_STRICT=1].",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def reader_option(f: F) -> F:
    """`--reader auto|dbt` for commands that read what dbt built (`offline.reader_for`)."""
    return click.option(
        "--reader",
        type=click.Choice(["auto", "dbt"]),
        envvar="SKEWLESS_READER",
        callback=_set("reader"),
        expose_value=False,
        help="How to read what dbt built: `auto` reads DuckDB, PostgreSQL and Spark natively "
        "(Arrow) and any other adapter through its dbt connection; `dbt` reads every adapter "
        "through its dbt connection (slower; see docs/engines.md) [env SKEWLESS_READER; "
        "default: auto].",
    )(f)


def select_option(verb: str) -> Callable[[F], F]:
    """`--select/-s VIEW`, repeatable or comma-separated, for commands that work per view."""
    return click.option(
        "--select",
        "-s",
        multiple=True,
        metavar="VIEW",
        help=f"Feature view(s) to {verb} (repeat or comma-separate); default: all.",
    )


class _Group(click.Group):
    """Turns every `SkewlessError` into a one-line error and exit code 1 (no traceback).

    Only skewless errors: Redis faults are converted where Redis is called, so anything else
    reaching here is a bug and keeps its traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SkewlessError as e:
            raise click.ClickException(str(e)) from None


def _group_options(f: F) -> F:
    return common_options(f, from_env=True)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@_group_options
@click.version_option(package_name="skewless")
def main() -> None:
    """skewless: a feature store that lives inside a dbt project.

    \b
    Example:
      export SKEWLESS_PROJECT_DIR=examples/payments SKEWLESS_REDIS_URL=redis://localhost:6379/0
      dbt build --project-dir $SKEWLESS_PROJECT_DIR
      skewless materialize
      skewless get --entity user_id=42 --features user_txn_stats.txn_count_30d
      skewless features --json
    """


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain aligned table on stdout."""
    cells = [[str(h) for h in headers]] + [["-" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for n, r in enumerate(cells):
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        if n == 0:
            click.echo("  ".join("-" * w for w in widths))


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def to_json(value: Any) -> str:
    """Strict JSON: decimals as strings, timestamps ISO, NaN/±inf as "NaN"/"Infinity" strings."""
    return json.dumps(_jsonable(value), indent=2, ensure_ascii=False, allow_nan=False)


def _register() -> None:
    from skewless.cli import (
        check,
        consistency,
        explain,
        features,
        freshness,
        get,
        materialize,
        push,
        serve,
        training,
    )

    main.add_command(materialize.materialize)
    main.add_command(get.get)
    main.add_command(push.push)
    main.add_command(features.features)
    main.add_command(freshness.freshness)
    main.add_command(consistency.consistency)
    main.add_command(training.training_record)
    main.add_command(check.check)
    main.add_command(explain.explain)
    main.add_command(serve.serve)
    main.add_command(__import__("skewless.cli.init", fromlist=["init"]).init)


_register()

if __name__ == "__main__":
    main()
