"""Runtime helpers of the text family (`_S.<name>` in generated code).

Regular expressions run on RE2 (the `re2` module, the engine DuckDB uses) over UTF-8 bytes, with
DuckDB's option letters, its `\\1` rewrite syntax and RE2's own Replace/GlobalReplace loops
re-implemented here (the binding's `sub` treats empty matches differently).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import re2

from skewless.errors import ExpressionError, NotReproducible

U32_MAX = 4294967295  # DuckDB's substring bounds: [-2^32, 2^32 - 1]
U32_MIN = -4294967296
# The runtime's cap on a constructed string (repeat, lpad/rpad), in characters: DuckDB builds
# strings up to 4 GiB; beyond this cap the runtime raises rather than allocate gigabytes.
MAX_BUILD = 1 << 24


# --- substring family ------------------------------------------------------------------------
def substr(s: str, offset: int, length: int | None) -> str:
    """DuckDB substring(s, offset[, length]) on code points, with its range checks.

    The window starts at offset-1 (offset >= 0) or len+offset (offset < 0), unclamped, and spans
    `length` (default 2^32-1) code points forward, or backward when negative; only its overlap
    with s is kept. Offsets or lengths outside [-2^32, 2^32-1] are errors, as in DuckDB.
    """
    if offset < U32_MIN:
        raise ExpressionError(
            f"Out of Range Error: Substring offset outside of supported range (< {U32_MIN})"
        )
    if offset > U32_MAX:
        raise ExpressionError(
            f"Out of Range Error: Substring offset outside of supported range (> {U32_MAX})"
        )
    if length is None:
        length = U32_MAX
    elif length < U32_MIN:
        raise ExpressionError(
            f"Out of Range Error: Substring length outside of supported range (< {U32_MIN})"
        )
    elif length > U32_MAX:
        raise ExpressionError(
            f"Out of Range Error: Substring length outside of supported range (> {U32_MAX})"
        )
    size = len(s)
    start = offset - 1 if offset >= 0 else size + offset
    if length >= 0:
        end = start + length
    else:
        start, end = start + length, start
    start = max(start, 0)
    end = min(end, size)
    if start >= end:
        return ""
    return s[start:end]


def left(s: str, n: int) -> str:
    """DuckDB left(): n >= 0 is substring(s, 1, n); n < 0 drops -n code points at the end."""
    if n >= 0:
        return substr(s, 1, n)
    return substr(s, 1, max(0, len(s) + n))


def right(s: str, n: int) -> str:
    """DuckDB right(): the last n code points; n < 0 drops -n code points at the start."""
    size = len(s)
    if n >= 0:
        ln = min(size, n)
    elif n == -(2**63):
        ln = 0
    else:
        ln = size - min(size, -n)
    return substr(s, size - ln + 1, ln)


def _check_build(chars: int) -> None:
    if chars > MAX_BUILD:
        raise NotReproducible(
            f"a string of {chars} characters exceeds the runtime's limit ({MAX_BUILD}), "
            "so it cannot be evaluated identically"
        )


def pad(s: str, n: int, fill: str, is_left: bool) -> str:
    """DuckDB lpad/rpad: truncate s to n code points, pad with fill cyclically to n."""
    if n <= 0:
        return ""
    kept = s[:n]
    need = n - len(kept)
    if need == 0:
        return kept
    if not fill:
        raise ExpressionError(
            f"Invalid Input Error: Insufficient padding in {'LPAD' if is_left else 'RPAD'}."
        )
    _check_build(n)
    q, r = divmod(need, len(fill))
    padding = fill * q + fill[:r]
    return padding + kept if is_left else kept + padding


def repeat(s: str, n: int) -> str:
    """DuckDB repeat(): n <= 0 gives ''; a result over 2^32-1 UTF-8 bytes is an error."""
    if n <= 0 or not s:
        return ""
    size = len(s.encode()) * n
    if size > U32_MAX:
        raise ExpressionError(
            f"Out of Range Error: Cannot create a string of size: '{size}', "
            f"the maximum supported string size is: '{U32_MAX}'"
        )
    _check_build(len(s) * n)
    return s * n


def split_part(s: str, delim: str, index: int) -> str:
    """DuckDB split_part(): string_split(s, delim)[index] (1-based, negative from the end), or ''.

    An empty delimiter splits into code points; an empty string has one (empty) part.
    """
    if delim:
        parts = s.split(delim)
    else:
        parts = list(s) if s else [""]
    if index > 0:
        return parts[index - 1] if index <= len(parts) else ""
    if index < 0:
        return parts[index] if -index <= len(parts) else ""
    return ""


def strpos(s: str, sub: str) -> int:
    """DuckDB strpos/instr/position: 1-based code-point index of the first occurrence, or 0."""
    return s.find(sub) + 1


def concat_ws(sep: str, *parts: str | None) -> str:
    return sep.join(p for p in parts if p is not None)


def reverse(s: str) -> str:
    """DuckDB reverse() reverses grapheme clusters; reproduced exactly for ASCII text only."""
    if s.isascii():
        return s[::-1]
    raise NotReproducible(
        "reverse() of non-ASCII text: DuckDB reverses grapheme clusters with its own Unicode "
        "segmentation tables, so it cannot be evaluated identically"
    )


def levenshtein(a: str, b: str) -> int:
    """Edit distance over code points (insert, delete, substitute, each cost 1)."""
    if a == b:
        return 0
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return len(a)
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def md5(s: str) -> str:
    return hashlib.md5(s.encode(), usedforsecurity=False).hexdigest()


# --- regular expressions ---------------------------------------------------------------------
@dataclass(frozen=True)
class RxOpts:
    """DuckDB's regex option letters, parsed."""

    case_sensitive: bool = True
    dot_nl: bool = False
    literal: bool = False
    global_replace: bool = False


def parse_options(text: str, allow_global: bool) -> RxOpts:
    """DuckDB's ParseRegexOptions: c i l m n p s (g for regexp_replace), blanks ignored."""
    cs, dot_nl, literal, glob = True, False, False, False
    for ch in text:
        if ch == "c":
            cs = True
        elif ch == "i":
            cs = False
        elif ch == "l":
            literal = True
        elif ch in "mnp":
            dot_nl = False
        elif ch == "s":
            dot_nl = True
        elif ch == "g":
            if not allow_global:
                raise ExpressionError(
                    "Invalid Input Error: Option 'g' (global replace) is only valid for "
                    "regexp_replace"
                )
            glob = True
        elif ch in " \t\n":
            continue
        else:
            raise ExpressionError(f"Invalid Input Error: Unrecognized Regex option {ch}")
    return RxOpts(cs, dot_nl, literal, glob)


_HEX = frozenset("0123456789abcdefABCDEF")
_INLINE_I = re.compile(r"\(\?[a-zA-Z-]*i")
_NEW_SYNTAX = "(?<"  # DuckDB's RE2: "invalid perl operator: (?<"


def pattern_problem(pattern: str, opts: RxOpts) -> str | None:
    """Why RE2 in DuckDB may read `pattern` differently from the `re2` module, or None.

    The module ships a newer RE2 (other Unicode tables, `(?<name>…)` groups) than DuckDB's
    vendored copy, so Unicode classes, case folding of non-ASCII characters and named groups in
    the new syntax are refused; `\\C` (any byte) could split a UTF-8 character.
    """
    # ASCII-only patterns fold identically in both RE2 versions; non-ASCII ones may not
    ci = not opts.case_sensitive or _INLINE_I.search(pattern) is not None
    if opts.literal:
        return (
            "a non-ASCII character under case-insensitive matching"
            if (ci and not pattern.isascii())
            else None
        )
    i, n, in_class = 0, len(pattern), False
    while i < n:
        ch = pattern[i]
        if ch == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt == "Q":  # \Q...\E quotes literally
                end = pattern.find("\\E", i + 2)
                quoted = pattern[i + 2 :] if end < 0 else pattern[i + 2 : end]
                if ci and not quoted.isascii():
                    return "a non-ASCII character under case-insensitive matching"
                i = n if end < 0 else end + 2
                continue
            if nxt in "pP":
                return "a Unicode class (\\p, \\P)"
            if nxt == "C":
                return "\\C (any byte)"
            if ci and (nxt == "x" or nxt.isdigit()):
                j = i + 2
                digits = ""
                if nxt == "x" and j < n and pattern[j] == "{":
                    k = pattern.find("}", j)
                    digits = pattern[j + 1 : k] if k > 0 else ""
                elif nxt == "x":
                    digits = "".join(c for c in pattern[j : j + 2] if c in _HEX)
                if nxt.isdigit() or not digits or int(digits, 16) > 0x7F:
                    return "a character escape beyond ASCII under case-insensitive matching"
            i += 2
            continue
        if ci and not ch.isascii():
            return "a non-ASCII character under case-insensitive matching"
        if in_class:
            if ch == "[" and pattern.startswith("[:", i):
                k = pattern.find(":]", i + 2)
                i = k + 2 if k > 0 else i + 1
                continue
            if ch == "]":
                in_class = False
        elif ch == "[":
            in_class = True
            i += 1
            if i < n and pattern[i] == "^":
                i += 1
            if i < n and pattern[i] == "]":
                i += 1
            continue
        elif pattern.startswith("(?<", i) and not pattern.startswith(("(?<=", "(?<!"), i):
            return _NEW_SYNTAX
        i += 1
    return None


class Regex:
    """A compiled pattern with DuckDB's options; matching works on UTF-8 bytes."""

    __slots__ = ("groups", "rx")

    def __init__(self, pattern: str, opts: RxOpts):
        problem = pattern_problem(pattern, opts)
        if problem is _NEW_SYNTAX:
            raise ExpressionError("Invalid Input Error: invalid perl operator: (?<")
        if problem is not None:
            raise NotReproducible(
                f"the regular expression {pattern!r} uses {problem}, which DuckDB's RE2 may "
                "read differently, so it cannot be evaluated identically"
            )
        o = re2.Options()
        o.case_sensitive = opts.case_sensitive
        o.dot_nl = opts.dot_nl
        o.literal = opts.literal
        o.log_errors = False
        try:
            self.rx: Any = re2.compile(pattern.encode(), o)
        except re2.error as e:
            raise ExpressionError(f"Invalid Input Error: {e}") from None
        if self.rx.programsize > 20000:
            raise NotReproducible(
                f"the regular expression {pattern!r} is near RE2's memory budget, which "
                "DuckDB's RE2 may judge differently, so it cannot be evaluated identically"
            )
        self.groups: int = self.rx.groups

    def search(self, s: str) -> bool:
        return self.rx.search(s.encode()) is not None

    def fullmatch(self, s: str) -> bool:
        return self.rx.fullmatch(s.encode()) is not None

    def extract(self, s: str, group: int) -> str:
        """DuckDB regexp_extract: the group of the first match, '' when none."""
        m = self.rx.search(s.encode())
        if m is None or group > self.groups:
            return ""
        g = m.group(group)
        return "" if g is None else bytes(g).decode()

    def replace(self, s: str, rewrite: str, global_replace: bool) -> str:
        """RE2::Replace / RE2::GlobalReplace with DuckDB's rewrite checks."""
        pieces = _rewrite_pieces(rewrite, self.groups)
        text = s.encode()
        if not global_replace:
            m = self.rx.search(text)
            if m is None:
                return s
            a, b = m.span()
            return (text[:a] + _expand(pieces, m) + text[b:]).decode()
        out: list[bytes] = []
        p, ep, lastend, count = 0, len(text), -1, 0
        while p <= ep:
            m = self.rx.search(text, p)
            if m is None:
                break
            a, b = m.span()
            if p < a:
                out.append(text[p:a])
            if a == lastend and a == b:
                # RE2 disallows an empty match at the end of the previous one: skip a character
                if p < ep:
                    k = p + 1
                    while k < ep and (text[k] & 0xC0) == 0x80:
                        k += 1
                    out.append(text[p:k])
                    p = k
                else:
                    p += 1
                continue
            out.append(_expand(pieces, m))
            p = lastend = b
            count += 1
        if count == 0:
            return s
        if p < ep:
            out.append(text[p:])
        return b"".join(out).decode()


@lru_cache(maxsize=512)
def _rewrite_pieces(rewrite: str, groups: int) -> tuple[bytes | int, ...]:
    """DuckDB's CheckRewriteString, then the rewrite as literal bytes and group numbers."""
    raw = rewrite.encode()
    pieces: list[bytes | int] = []
    lit = bytearray()
    most = -1
    i = 0
    while i < len(raw):
        c = raw[i]
        if c != 0x5C:
            lit.append(c)
            i += 1
            continue
        if i + 1 >= len(raw):
            raise ExpressionError(
                "Invalid Input Error: Invalid replacement string for regexp_replace: "
                "Rewrite schema error: '\\' not allowed at end."
            )
        d = raw[i + 1]
        if 0x30 <= d <= 0x39:
            if lit:
                pieces.append(bytes(lit))
                lit = bytearray()
            pieces.append(d - 0x30)
            most = max(most, d - 0x30)
        elif d == 0x5C:
            lit.append(0x5C)
        else:
            raise ExpressionError(
                "Invalid Input Error: Invalid replacement string for regexp_replace: "
                "Rewrite schema error: '\\' must be followed by a digit or '\\'."
            )
        i += 2
    if lit:
        pieces.append(bytes(lit))
    if most > groups:
        raise ExpressionError(
            "Invalid Input Error: Invalid replacement string for regexp_replace: Rewrite schema "
            f"requests {most} matches, but the regexp only has {groups} parenthesized subexpr"
        )
    return tuple(pieces)


def _expand(pieces: tuple[bytes | int, ...], m: Any) -> bytes:
    out = []
    for p in pieces:
        if isinstance(p, bytes):
            out.append(p)
        else:
            g = m.group(p)
            if g:
                out.append(bytes(g))
    return b"".join(out)


@lru_cache(maxsize=256)
def regex(pattern: str, opts: RxOpts) -> Regex:
    """The compiled Regex for a pattern (cached: non-constant patterns compile per distinct text)."""
    return Regex(pattern, opts)


def rx_search(s: str, pattern: str, opts: RxOpts) -> bool:
    return regex(pattern, opts).search(s)


def rx_fullmatch(s: str, pattern: str, opts: RxOpts) -> bool:
    return regex(pattern, opts).fullmatch(s)


def rx_extract(s: str, pattern: str, group: int, opts: RxOpts) -> str:
    return regex(pattern, opts).extract(s, group)


def rx_replace(s: str, pattern: str, rewrite: str, opts: RxOpts) -> str:
    return regex(pattern, opts).replace(s, rewrite, opts.global_replace)
