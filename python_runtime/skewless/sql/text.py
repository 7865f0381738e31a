"""String functions, concatenation, LIKE and regular expressions."""

from __future__ import annotations

import re

from sqlglot import expressions as exp

from skewless.errors import ExpressionError
from skewless.sql import runtime as F
from skewless.sql.arithmetic import (
    ArithmeticCompiler,
)
from skewless.sql.codegen import (
    _NOCONST,
    _Code,
    _construct,
)
from skewless.sql.types import (
    BIGINT,
    BOOLEAN,
    INTERVAL,
    VARCHAR,
    _is_int,
)

_RE2_SAFE = re.compile(r"(?:\\[dwsDWS.\\^$|?*+()\[\]{}/-]|[^\\(]|\((?!\?))*")


def _re2_compatible(pattern: str, ignore_case: bool) -> re.Pattern[str] | None:
    """Compile a pattern with Python's re only when RE2 reads it the same way."""
    if "[:" in pattern or "(?" in pattern or not _RE2_SAFE.fullmatch(pattern):
        return None
    if not pattern.isascii():
        return None
    # RE2's `$` matches only at the very end; Python's also before a final newline: use \Z.
    out, i, in_class = [], 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = ch != "]" or bool(out and out[-1] in ("[", "[^"))
            out.append(ch)
        elif ch == "[":
            in_class = True
            if pattern[i + 1 : i + 2] == "^":
                out.append("[^")
                i += 2
                continue
            out.append(ch)
        elif ch == "$":
            out.append("\\Z")
        else:
            out.append(ch)
        i += 1
    try:
        return re.compile("".join(out), re.ASCII | (re.IGNORECASE if ignore_case else 0))
    except re.error:
        return None


class TextCompiler(ArithmeticCompiler):
    """String functions, concatenation, LIKE and regular expressions."""

    def _str(self, node: exp.Expression | None, what: str) -> _Code:
        if node is None:
            raise self.ctx.unsupported(f"{what} without an argument")
        a = self._typed(self.c(node), what)
        if a.t.name != "VARCHAR":
            raise self.ctx.unsupported(f"{what} on {a.t}", "CAST it to VARCHAR first")
        return a

    def _c_Lower(self, node: exp.Lower) -> _Code:
        a = self._str(node.this, "lower")
        body = lambda x: f"({x}.lower() if {x}.isascii() else _F.lower({x}))"  # noqa: E731
        return self.code(self.strict([a], body), VARCHAR, [a])

    def _c_Upper(self, node: exp.Upper) -> _Code:
        a = self._str(node.this, "upper")
        body = lambda x: f"({x}.upper() if {x}.isascii() else _F.upper({x}))"  # noqa: E731
        return self.code(self.strict([a], body), VARCHAR, [a])

    def _c_Trim(self, node: exp.Trim) -> _Code:
        a = self._str(node.this, "trim")
        if node.args.get("collation"):
            raise self.ctx.unsupported(_construct(node))
        pos = (node.args.get("position") or "BOTH").upper()
        meth = {"BOTH": "strip", "LEADING": "lstrip", "TRAILING": "rstrip"}[pos]
        if node.expression is not None:
            chars = self._str(node.expression, "trim")
            return self.code(
                self.strict([a, chars], lambda x, y: f"{x}.{meth}({y})"), VARCHAR, [a, chars]
            )
        k = self.ctx.const(F.TRIM_CHARS)
        return self.code(self.strict([a], lambda x: f"{x}.{meth}({k})"), VARCHAR, [a])

    def _c_Length(self, node: exp.Length) -> _Code:
        a = self._str(node.this, "length")
        return self.code(self.strict([a], lambda x: f"len({x})"), BIGINT, [a])

    def _c_Substring(self, node: exp.Substring) -> _Code:
        a = self._str(node.this, "substr")
        start = self._int_arg(node.args.get("start"), "substr start")
        length = node.args.get("length")
        if length is None:
            return self.code(
                self.strict([a, start], lambda x, y: f"_F.substr({x}, {y}, None)"),
                VARCHAR,
                [a, start],
            )
        ln = self._int_arg(length, "substr length")
        return self.code(
            self.strict([a, start, ln], lambda x, y, z: f"_F.substr({x}, {y}, {z})"),
            VARCHAR,
            [a, start, ln],
        )

    def _int_arg(self, node: exp.Expression | None, what: str) -> _Code:
        if node is None:
            raise self.ctx.unsupported(f"{what} missing")
        a = self._typed(self.c(node), what)
        if not _is_int(a.t):
            raise self.ctx.unsupported(f"{what} of type {a.t}", "use an integer")
        return a

    def _varchar(self, code: _Code) -> _Code:
        if code.t.name in ("VARCHAR", "NULL"):
            return code
        if code.t == INTERVAL:
            raise self.ctx.unsupported("INTERVAL to VARCHAR")
        return self.wrap(code, VARCHAR, self.cast_src("{}", code.t, VARCHAR), raises=False)

    def _c_DPipe(self, node: exp.DPipe) -> _Code:
        a = self._varchar(self._typed(self.c(node.this), "`||`"))
        b = self._varchar(self._typed(self.c(node.expression), "`||`"))
        return self.code(self.strict([a, b], lambda x, y: f"({x} + {y})"), VARCHAR, [a, b])

    def _c_Concat(self, node: exp.Concat) -> _Code:
        args = [self._varchar(self.c(e)) for e in node.expressions]
        parts = []
        for a in args:
            if a.t.name == "NULL":
                continue
            if a.nullable:
                b, r = self.bind(a)
                parts.append(f"({r} if {b} is not None else '')")
            else:
                parts.append(a.src)
        src = "(" + " + ".join(parts) + ")" if parts else "''"
        return self.code(src, VARCHAR, args, nullable=False)

    def _c_Replace(self, node: exp.Replace) -> _Code:
        a = self._str(node.this, "replace")
        b = self._str(node.expression, "replace")
        c = self._str(node.args.get("replacement"), "replace")
        return self.code(
            self.strict([a, b, c], lambda x, y, z: f"_F.replace({x}, {y}, {z})"), VARCHAR, [a, b, c]
        )

    def _c_StartsWith(self, node: exp.StartsWith) -> _Code:
        a, b = self._str(node.this, "starts_with"), self._str(node.expression, "starts_with")
        return self.code(self.strict([a, b], lambda x, y: f"{x}.startswith({y})"), BOOLEAN, [a, b])

    def _c_Contains(self, node: exp.Contains) -> _Code:
        a, b = self._str(node.this, "contains"), self._str(node.expression, "contains")
        return self.code(self.strict([a, b], lambda x, y: f"({y} in {x})"), BOOLEAN, [a, b])

    def _c_Like(self, node: exp.Like) -> _Code:
        return self._like(node, None, "like")

    def _c_ILike(self, node: exp.ILike) -> _Code:
        return self._like(node, None, "ilike")

    def _c_Escape(self, node: exp.Escape) -> _Code:
        inner = node.this
        esc = node.expression
        if not isinstance(inner, (exp.Like, exp.ILike)) or not (
            isinstance(esc, exp.Literal) and esc.is_string and len(str(esc.this)) == 1
        ):
            raise self.ctx.unsupported(_construct(node))
        return self._like(inner, str(esc.this), "ilike" if isinstance(inner, exp.ILike) else "like")

    def _like(self, node: exp.Expression, escape: str | None, kind: str) -> _Code:
        if node.args.get("negate"):
            inner = node.copy()
            inner.set("negate", None)
            code = self._like(inner, escape, kind)
            return self.code(self.strict([code], lambda x: f"(not {x})"), BOOLEAN, [code])
        a, p = self._str(node.this, kind.upper()), self._str(node.expression, kind.upper())
        if p.const is not _NOCONST and p.const is not None:
            pattern = p.const if kind == "like" else F.lower(p.const)
            try:
                rx = F.like_regex(pattern, escape, False)
            except ExpressionError as e:
                raise self.ctx.unsupported(
                    f"the {kind.upper()} pattern {p.const!r}", str(e)
                ) from None
            k = self.ctx.const(rx.fullmatch)
            if kind == "like":
                return self.code(
                    self.strict([a], lambda x: f"({k}({x}) is not None)"), BOOLEAN, [a]
                )
            return self.code(
                self.strict([a], lambda x: f"({k}(_F.lower({x})) is not None)"), BOOLEAN, [a]
            )
        ke = self.ctx.const(escape)
        fn = f"_F.{kind}"
        return self.code(
            self.strict([a, p], lambda x, y: f"{fn}({x}, {y}, {ke})"), BOOLEAN, [a, p], raises=True
        )

    def _c_RegexpLike(self, node: exp.RegexpLike) -> _Code:
        a = self._str(node.this, "regexp_matches")
        p = self.c(node.expression)
        flag = node.args.get("flag")
        if p.const is _NOCONST or not isinstance(p.const, str):
            raise self.ctx.unsupported(
                "regexp_matches with a non-constant pattern", "use a string literal pattern"
            )
        opts = ""
        if flag is not None:
            f = self.c(flag)
            if not isinstance(f.const, str) or not set(f.const) <= {"i", "c"}:
                raise self.ctx.unsupported("regexp_matches options other than 'i' and 'c'")
            opts = f.const
        rx = _re2_compatible(
            p.const, "i" in opts.replace("c", "") and opts.rfind("i") > opts.rfind("c")
        )
        if rx is None:
            raise self.ctx.unsupported(
                f"the regular expression {p.const!r}",
                "use literals, ., [] classes without [: :], \\d \\w \\s, anchors, | and quantifiers",
            )
        k = self.ctx.const(rx.search)
        return self.code(self.strict([a], lambda x: f"({k}({x}) is not None)"), BOOLEAN, [a])

    def _c_EndsWith(self, node: exp.EndsWith) -> _Code:
        a, b = self._str(node.this, "ends_with"), self._str(node.expression, "ends_with")
        return self.code(self.strict([a, b], lambda x, y: f"{x}.endswith({y})"), BOOLEAN, [a, b])

    def _f_strlen(self, args: list[exp.Expression]) -> _Code:
        if len(args) != 1:
            raise self.ctx.unsupported("strlen with other than 1 argument")
        a = self._str(args[0], "strlen")
        body = lambda x: f"len({x}.encode())"  # noqa: E731 - UTF-8 bytes
        return self.code(self.strict([a], body), BIGINT, [a])
