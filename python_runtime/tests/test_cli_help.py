"""Every `skewless` command's `--help` renders cleanly: no stray backslash or run-on line (a
docstring line continuation joins two example lines into one), and an example block that click
keeps line by line (a `\\b` paragraph) with runnable `skewless` commands."""

from __future__ import annotations

import re

import click
import pytest
from click.testing import CliRunner

from skewless.cli import main

COMMANDS = sorted(main.commands)  # type: ignore[attr-defined]


def _help(*args: str) -> str:
    result = CliRunner().invoke(main, [*args, "--help"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def _description(text: str) -> list[str]:
    """The lines between `Usage:` and the options/commands table."""
    lines = text.splitlines()
    end = next(i for i, line in enumerate(lines) if line in ("Options:", "Commands:"))
    return lines[1:end]


def test_every_command_is_covered() -> None:
    # a new command is picked up by the parametrisation below; these must be among them
    assert {"get", "materialize", "features", "check", "consistency", "freshness", "init"} <= set(
        COMMANDS
    )


@pytest.mark.parametrize("command", [[], *([c] for c in COMMANDS)], ids=["skewless", *COMMANDS])
def test_help_renders_cleanly_and_shows_an_example(command: list[str]) -> None:
    text = _help(*command)
    description = _description(text)
    assert "\\" not in text, f"stray backslash in `skewless {' '.join(command)} --help`:\n{text}"
    for line in description:
        # a docstring `\` continuation (or a rewrapped example) leaves a run of spaces in a line
        assert not re.search(r"\S {3,}\S", line), f"broken continuation: {line!r}\n{text}"
    assert any(line.strip() == "Example:" for line in description), text
    start = next(i for i, line in enumerate(description) if line.strip() == "Example:")
    block = []
    for line in description[start + 1 :]:
        if not line.strip():
            break
        block.append(line)
    # click kept the example block as written (a `\b` paragraph): each command on its own
    # indented line, at least one running `skewless` itself (or the named command)
    assert block, text
    indent = len(description[start]) - len(description[start].lstrip())
    assert all(line.startswith(" " * (indent + 2)) for line in block), block
    commands = [line.strip() for line in block]
    expected = "skewless" if not command else f" {command[0]}"
    assert any(c.startswith("skewless") and expected in f" {c}" for c in commands), block


def test_the_get_example_is_one_command_per_line() -> None:
    """The request-time example of `get` used to end in a docstring `\\` that joined it with
    its `-r …` line; each example line now parses as a complete `skewless get` invocation."""
    block = _description(_help("get"))
    examples = [line.strip() for line in block if line.strip().startswith("skewless get")]
    assert len(examples) == 3, block
    for example in examples:
        args = example.split()[2:]
        ctx = main.commands["get"].make_context("get", args, resilient_parsing=True)  # type: ignore[attr-defined]
        assert ctx.params["entity_texts"] and ctx.params["feature_texts"], example
    assert any("-r amount_usd=120.00" in e for e in examples)


def test_a_docstring_continuation_is_caught() -> None:
    """The check above fails on the help text the old `get` docstring rendered."""

    @click.command()
    def broken() -> None:
        """Look up.

        \b
        Example:
          skewless get -e user_id=42,merchant_id=7 -f txn_risk.amount_to_avg_30d \
              -r amount_usd=120.00
        """

    text = CliRunner().invoke(broken, ["--help"]).stdout
    lines = _description(text)
    assert any(re.search(r"\S {3,}\S", line) for line in lines), text
