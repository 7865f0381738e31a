"""The sqlglot front end: DuckDB SQL text to a sqlglot tree, as DuckDB itself reads it.

sqlglot's DuckDB dialect is built to transpile, and normalises a few constructs in ways that lose
what DuckDB would compute; `_DuckDB` parses like it but keeps them:

- a typed literal followed by `::T` (`TIMESTAMP '2008-01-01 00:00:01.5'::VARCHAR`) is the cast of
  the typed literal, not a typed literal of a cast string;
- interval text is kept whole (`INTERVAL '157 days ago'`, `'P1D'`) when it holds more than one
  number and unit, so the temporal family reads it with DuckDB's grammar instead of sqlglot
  splitting off the first unit and dropping the rest;
- the part of `date_trunc`/`date_diff` written as an expression (a column) stays an expression
  instead of becoming a part named like the column.

It also enforces the size and depth limits, so no input reaches a recursion or memory limit.
"""

from __future__ import annotations

import itertools
from typing import Any, ClassVar

import sqlglot
from sqlglot import expressions as exp
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.tokens import TokenType

from skewless.errors import UnsupportedExpression

#: Limits on what is compiled (documented in docs/functions.md): the SQL text of one SELECT, and
#: the nesting depth of one expression. Deeper trees would exceed Python's own parser limits
#: (200 nested parentheses) in the generated code; real features are far shallower.
MAX_SQL_CHARS = 200_000
MAX_DEPTH = 64


def _part_kept(builder: Any) -> Any:
    """Wrap a date-part builder so a non-literal part stays an expression (as `(part)`)."""

    def build(args: list[Any]) -> Any:
        if args and not isinstance(args[0], exp.Literal) and not isinstance(args[0], exp.Paren):
            args = [exp.Paren(this=args[0]), *args[1:]]
        return builder(args)

    return build


class _Parser(DuckDB.Parser):  # type: ignore[misc,name-defined,valid-type]
    FUNCTIONS: ClassVar[dict[str, Any]] = {
        **DuckDB.Parser.FUNCTIONS,
        **{
            name: _part_kept(DuckDB.Parser.FUNCTIONS[name])
            for name in ("DATE_TRUNC", "DATEDIFF", "DATE_DIFF")
        },
        # DuckDB has no date_bin (sqlglot reads it as time_bucket): keep it unknown
        "DATE_BIN": lambda args: exp.Anonymous(this="date_bin", expressions=args),
    }
    _typed_literal = False

    def _parse_type(self, parse_interval: bool = True, fallback_to_identifier: bool = False) -> Any:
        nxt = self._next
        if (
            self._curr is not None
            and self._curr.token_type in self.TYPE_TOKENS
            and self._curr.token_type != TokenType.INTERVAL
            and nxt is not None
            and nxt.token_type == TokenType.STRING
        ):
            # `TYPE 'text'` binds tighter than what follows it (`::T`, `[i]`, `.x`).
            self._typed_literal = True
            try:
                this = super()._parse_type(parse_interval, fallback_to_identifier)
            finally:
                self._typed_literal = False
            return self._parse_column_ops(this)
        return super()._parse_type(parse_interval, fallback_to_identifier)

    def _parse_column_ops(self, this: Any) -> Any:
        if self._typed_literal:
            return this
        return super()._parse_column_ops(this)

    def _parse_interval(
        self, require_interval: bool = True, parse_function_unit: bool = True
    ) -> Any:
        start = self._index
        text = None
        if self._curr is not None and self._curr.token_type == TokenType.INTERVAL:
            nxt = self._next
            if nxt is not None and nxt.token_type == TokenType.STRING:
                text = nxt.text
        interval = super()._parse_interval(require_interval, parse_function_unit)
        if (
            text is not None
            and isinstance(interval, exp.Interval)
            and self._index == start + 2  # the unit, if any, came out of the text itself
            and interval.args.get("unit") is not None
            and len(text.split()) != 2  # `'<n> <unit>'` is all sqlglot keeps; anything more
        ):
            return self.expression(exp.Interval(this=exp.Literal.string(text)))
        return interval


class _DuckDB(DuckDB):  # type: ignore[misc]
    """DuckDB's dialect as DuckDB reads it (see the module docstring)."""

    Parser = _Parser


def _depth(node: exp.Expression) -> int:
    """Nesting depth of a sqlglot tree (iterative: a deep tree must not overflow the stack)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(node, 1)]
    while stack:
        n, d = stack.pop()
        deepest = max(deepest, d)
        for v in n.args.values():
            for child in v if isinstance(v, list) else [v]:
                if isinstance(child, exp.Expression):
                    stack.append((child, d if isinstance(child, exp.Paren) else d + 1))
    return deepest


def _check_depth(node: exp.Expression, where: str) -> None:
    if _depth(node) > MAX_DEPTH:
        raise UnsupportedExpression(
            f"{where}: the expression nests deeper than {MAX_DEPTH} levels; "
            "split it into several columns of the on-demand view"
        )


def _parse_duckdb(sql: str, where: str) -> Any:
    """sqlglot's parse, refusing what sqlglot accepts but DuckDB's parser rejects."""
    if len(sql) > MAX_SQL_CHARS:
        raise UnsupportedExpression(
            f"{where}: the SQL is {len(sql):,} characters; request-time SQL is limited to "
            f"{MAX_SQL_CHARS:,}"
        )
    try:
        tokens = sqlglot.tokenize(sql, read=_DuckDB)
        tree = sqlglot.parse_one(sql, dialect=_DuckDB)
    except sqlglot.errors.SqlglotError as e:
        raise UnsupportedExpression(f"{where}: cannot parse {sql[:200]!r}: {e}") from None
    except RecursionError:
        raise UnsupportedExpression(
            f"{where}: the expression nests too deeply to parse; split it into several columns"
        ) from None
    for tok, nxt in itertools.pairwise(tokens):
        if tok.token_type == TokenType.INTERVAL and nxt.token_type == TokenType.DASH:
            raise UnsupportedExpression(
                f"{where}: DuckDB rejects `INTERVAL -n unit`; write `INTERVAL '-n' unit` "
                "or `- INTERVAL n unit`"
            )
    return tree


def _parse(sql: str, where: str) -> exp.Expression:
    tree = _parse_duckdb(f"SELECT {sql}", where)
    extra = [k for k, v in tree.args.items() if v and k != "expressions"]
    if not isinstance(tree, exp.Select) or len(tree.expressions) != 1 or extra:
        raise UnsupportedExpression(f"{where}: {sql!r} is not one SQL expression")
    node = tree.expressions[0]
    if isinstance(node, exp.Alias):
        node = node.this
    _check_depth(node, where)
    return node
