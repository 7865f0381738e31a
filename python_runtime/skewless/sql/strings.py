"""Runtime helpers of the text family (`_S.<name>` in generated code).

Regular expressions run on RE2 (the `re2` module, the engine DuckDB uses) over UTF-8 bytes, with
DuckDB's option letters, its `\\1` rewrite syntax and RE2's own Replace/GlobalReplace loops
re-implemented here (the binding's `sub` treats empty matches differently).
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from fractions import Fraction
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


# Code points DuckDB 2.0.1's grapheme segmentation (utf8proc, Unicode 15.1 or later: it joins
# KA + VIRAMA + KA and treats U+11F02 as Prepend) never joins to a neighbour from this same set:
# measured for every code point c (surrogates aside) as length_grapheme('a'||c||'a') = 3 (c is
# no Prepend, Extend, ZWJ or SpacingMark), length_grapheme(c||c) = 2 (no Regional Indicator nor
# Hangul L/V/T) and c||U+1161, c||U+11A8, U+1100||c of 2 graphemes (no Hangul LV/LVT). The rules
# that join two characters all need one of those classes, so text made only of these code points
# is one grapheme per code point, except CR LF: DuckDB reverses ASCII-only text by code point
# (CR LF too) but keeps CR LF together in other text (measured). Ranges, inclusive:
_GRAPHEME_ALONE = """
0x0-0x2FF 0x370-0x482 0x48A-0x590 0x5BE 0x5C0 0x5C3 0x5C6 0x5C8-0x5FF 0x606-0x60F
0x61B-0x64A 0x660-0x66F 0x671-0x6D5 0x6DE 0x6E5-0x6E6 0x6E9 0x6EE-0x70E 0x710 0x712-0x72F
0x74B-0x7A5 0x7B1-0x7EA 0x7F4-0x7FC 0x7FE-0x815 0x81A 0x824 0x828 0x82E-0x858 0x85C-0x88F
0x892-0x897 0x8A0-0x8C9 0x904-0x939 0x93D 0x950 0x958-0x961 0x964-0x980 0x984-0x9BB 0x9BD
0x9C5-0x9C6 0x9C9-0x9CA 0x9CE-0x9D6 0x9D8-0x9E1 0x9E4-0x9FD 0x9FF-0xA00 0xA04-0xA3B 0xA3D
0xA43-0xA46 0xA49-0xA4A 0xA4E-0xA50 0xA52-0xA6F 0xA72-0xA74 0xA76-0xA80 0xA84-0xABB 0xABD
0xAC6 0xACA 0xACE-0xAE1 0xAE4-0xAF9 0xB00 0xB04-0xB3B 0xB3D 0xB45-0xB46 0xB49-0xB4A
0xB4E-0xB54 0xB58-0xB61 0xB64-0xB81 0xB83-0xBBD 0xBC3-0xBC5 0xBC9 0xBCE-0xBD6 0xBD8-0xBFF
0xC05-0xC3B 0xC3D 0xC45 0xC49 0xC4E-0xC54 0xC57-0xC61 0xC64-0xC80 0xC84-0xCBB 0xCBD 0xCC5
0xCC9 0xCCE-0xCD4 0xCD7-0xCE1 0xCE4-0xCF2 0xCF4-0xCFF 0xD04-0xD3A 0xD3D 0xD45 0xD49
0xD4F-0xD56 0xD58-0xD61 0xD64-0xD80 0xD84-0xDC9 0xDCB-0xDCE 0xDD5 0xDD7 0xDE0-0xDF1
0xDF4-0xE30 0xE32 0xE3B-0xE46 0xE4F-0xEB0 0xEB2 0xEBD-0xEC7 0xECF-0xF17 0xF1A-0xF34 0xF36
0xF38 0xF3A-0xF3D 0xF40-0xF70 0xF85 0xF88-0xF8C 0xF98 0xFBD-0xFC5 0xFC7-0x102C 0x1038
0x103F-0x1055 0x105A-0x105D 0x1061-0x1070 0x1075-0x1081 0x1083 0x1087-0x108C 0x108E-0x109C
0x109E-0x10FF 0x1200-0x135C 0x1360-0x1711 0x1716-0x1731 0x1735-0x1751 0x1754-0x1771
0x1774-0x17B3 0x17D4-0x17DC 0x17DE-0x180A 0x180E 0x1810-0x1884 0x1887-0x18A8 0x18AA-0x191F
0x192C-0x192F 0x193C-0x1A16 0x1A1C-0x1A54 0x1A5F 0x1A61 0x1A63-0x1A64 0x1A7D-0x1A7E
0x1A80-0x1AAF 0x1ACF-0x1AFF 0x1B05-0x1B33 0x1B45-0x1B6A 0x1B74-0x1B7F 0x1B83-0x1BA0
0x1BAE-0x1BE5 0x1BF4-0x1C23 0x1C38-0x1CCF 0x1CD3 0x1CE9-0x1CEC 0x1CEE-0x1CF3 0x1CF5-0x1CF6
0x1CFA-0x1DBF 0x1E00-0x200B 0x200E-0x20CF 0x20F1-0x2CEE 0x2CF2-0x2D7E 0x2D80-0x2DDF
0x2E00-0x3029 0x3030-0x3098 0x309B-0xA66E 0xA673 0xA67E-0xA69D 0xA6A0-0xA6EF 0xA6F2-0xA801
0xA803-0xA805 0xA807-0xA80A 0xA80C-0xA822 0xA828-0xA82B 0xA82D-0xA87F 0xA882-0xA8B3
0xA8C6-0xA8DF 0xA8F2-0xA8FE 0xA900-0xA925 0xA92E-0xA946 0xA954-0xA95F 0xA97D-0xA97F
0xA984-0xA9B2 0xA9C1-0xA9E4 0xA9E6-0xAA28 0xAA37-0xAA42 0xAA44-0xAA4B 0xAA4E-0xAA7B
0xAA7D-0xAAAF 0xAAB1 0xAAB5-0xAAB6 0xAAB9-0xAABD 0xAAC0 0xAAC2-0xAAEA 0xAAF0-0xAAF4
0xAAF7-0xABE2 0xABEB 0xABEE-0xABFF 0xD7A4-0xD7AF 0xD7C7-0xD7CA 0xD7FC-0xD7FF 0xE000-0xFB1D
0xFB1F-0xFDFF 0xFE10-0xFE1F 0xFE30-0xFF9D 0xFFA0-0x101FC 0x101FE-0x102DF 0x102E1-0x10375
0x1037B-0x10A00 0x10A04 0x10A07-0x10A0B 0x10A10-0x10A37 0x10A3B-0x10A3E 0x10A40-0x10AE4
0x10AE7-0x10D23 0x10D28-0x10EAA 0x10EAD-0x10EFC 0x10F00-0x10F45 0x10F51-0x10F81
0x10F86-0x10FFF 0x11003-0x11037 0x11047-0x1106F 0x11071-0x11072 0x11075-0x1107E
0x11083-0x110AF 0x110BB-0x110BC 0x110BE-0x110C1 0x110C3-0x110CC 0x110CE-0x110FF
0x11103-0x11126 0x11135-0x11144 0x11147-0x11172 0x11174-0x1117F 0x11183-0x111B2 0x111C1
0x111C4-0x111C8 0x111CD 0x111D0-0x1122B 0x11238-0x1123D 0x1123F-0x11240 0x11242-0x112DE
0x112EB-0x112FF 0x11304-0x1133A 0x1133D 0x11345-0x11346 0x11349-0x1134A 0x1134E-0x11356
0x11358-0x11361 0x11364-0x11365 0x1136D-0x1136F 0x11375-0x11434 0x11447-0x1145D
0x1145F-0x114AF 0x114C4-0x115AE 0x115B6-0x115B7 0x115C1-0x115DB 0x115DE-0x1162F
0x11641-0x116AA 0x116B8-0x1171C 0x11720-0x11721 0x1172C-0x1182B 0x1183B-0x1192F 0x11936
0x11939-0x1193A 0x11944-0x119D0 0x119D8-0x119D9 0x119E1-0x119E3 0x119E5-0x11A00
0x11A0B-0x11A32 0x11A3F-0x11A46 0x11A48-0x11A50 0x11A5C-0x11A83 0x11A9A-0x11C2E 0x11C37
0x11C40-0x11C91 0x11CA8 0x11CB7-0x11D30 0x11D37-0x11D39 0x11D3B 0x11D3E 0x11D48-0x11D89
0x11D8F 0x11D92 0x11D98-0x11EF2 0x11EF7-0x11EFF 0x11F04-0x11F33 0x11F3B-0x11F3D
0x11F43-0x1343F 0x13441-0x13446 0x13456-0x16AEF 0x16AF5-0x16B2F 0x16B37-0x16F4E 0x16F50
0x16F88-0x16F8E 0x16F93-0x16FE3 0x16FE5-0x16FEF 0x16FF2-0x1BC9C 0x1BC9F-0x1CEFF
0x1CF2E-0x1CF2F 0x1CF47-0x1D164 0x1D16A-0x1D16C 0x1D173-0x1D17A 0x1D183-0x1D184
0x1D18C-0x1D1A9 0x1D1AE-0x1D241 0x1D245-0x1D9FF 0x1DA37-0x1DA3A 0x1DA6D-0x1DA74
0x1DA76-0x1DA83 0x1DA85-0x1DA9A 0x1DAA0 0x1DAB0-0x1DFFF 0x1E007 0x1E019-0x1E01A 0x1E022
0x1E025 0x1E02B-0x1E08E 0x1E090-0x1E12F 0x1E137-0x1E2AD 0x1E2AF-0x1E2EB 0x1E2F0-0x1E4EB
0x1E4F0-0x1E8CF 0x1E8D7-0x1E943 0x1E94B-0x1F1E5 0x1F200-0x1F3FA 0x1F400-0xE001F
0xE0080-0xE00FF 0xE01F0-0x10FFFF
"""


def _alone_pattern() -> re.Pattern[str]:
    parts = []
    for item in _GRAPHEME_ALONE.split():
        lo, _, hi = item.partition("-")
        a, b = chr(int(lo, 16)), chr(int(hi or lo, 16))
        parts.append(re.escape(a) if a == b else f"{re.escape(a)}-{re.escape(b)}")
    return re.compile(f"[{''.join(parts)}]*")


_ALONE = _alone_pattern()


def reverse(s: str) -> str:
    """DuckDB reverse() reverses grapheme clusters; reproduced exactly for text whose every code
    point is a grapheme of its own (ASCII and _GRAPHEME_ALONE), refused otherwise."""
    if s.isascii():
        return s[::-1]
    if _ALONE.fullmatch(s):
        if "\r\n" in s:
            return "\r\n".join(part[::-1] for part in reversed(s.split("\r\n")))
        return s[::-1]
    raise NotReproducible(
        "reverse() of text with combining marks, joiners, Hangul jamo, regional indicators or "
        "other characters that DuckDB groups into grapheme clusters (with its own Unicode "
        "segmentation tables), so it cannot be evaluated identically"
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


# --- jaro / jaro-winkler ---------------------------------------------------------------------
# DuckDB vendors Max Bachmann's jaro_winkler library (bit-parallel). Measured on DuckDB 2.0.1
# against a port of it: it works on code points, not UTF-8 bytes, and its result equals the
# textbook greedy Jaro below (a character of b takes the first unmatched equal character of a
# within max(len)/2 - 1 positions), which is symmetric in its arguments. Its score_cutoff filters
# only ever zero scores below the cutoff (their bounds round monotonically), so they reduce to
# the final `sim >= cutoff` test - except inside jaro-winkler, whose Jaro step runs with a cutoff
# derived from the caller's, reproduced literally.


def _fma_exact(x: float, y: float, z: float) -> float:
    """x * y + z rounded once (the fused multiply-add DuckDB's build uses)."""
    return float(Fraction(x) * Fraction(y) + Fraction(z))


_fma = getattr(math, "fma", _fma_exact)  # math.fma: Python >= 3.13


def jaro(a: str, b: str, cutoff: float = 0.0) -> float:
    """DuckDB jaro_similarity(a, b[, score_cutoff]): 0.0 when either is empty or below cutoff."""
    la, lb = len(a), len(b)
    if not la or not lb:
        return 0.0
    if la == 1 and lb == 1:
        return 1.0 if a == b and 1.0 >= cutoff else 0.0
    bound = max(la, lb) // 2 - 1
    used = bytearray(la)
    matched: list[str] = []  # the matched characters of b, in b's order
    find = a.find
    for j, ch in enumerate(b):
        lo = j - bound if j > bound else 0
        hi = j + bound + 1
        i = find(ch, lo, hi)
        while i >= 0 and used[i]:
            i = find(ch, i + 1, hi)
        if i >= 0:
            used[i] = 1
            matched.append(ch)
    m = len(matched)
    if not m:
        return 0.0
    kept = (a[i] for i in range(la) if used[i])
    half = sum(x != y for x, y in zip(kept, matched, strict=True)) // 2
    # the library's order of operations: ((m/la + m/lb) + (m - t)/m) / 3
    sim = (m / la + m / lb + (m - half) / m) / 3.0
    return sim if sim >= cutoff else 0.0


def jaro_winkler(a: str, b: str, cutoff: float = 0.0) -> float:
    """DuckDB jaro_winkler_similarity: prefix scale 0.1 over at most 4 code points, applied when
    the Jaro score exceeds 0.7 (as one fused multiply-add, as DuckDB 2.0.1's build computes it)."""
    limit = min(len(a), len(b), 4)
    prefix = 0
    while prefix < limit and a[prefix] == b[prefix]:
        prefix += 1
    jaro_cutoff = cutoff
    if jaro_cutoff > 0.7:
        prefix_sim = prefix * 0.1  # < 1.0: prefix <= 4
        x = (prefix_sim - jaro_cutoff) / (prefix_sim - 1.0)
        jaro_cutoff = x if 0.7 < x else 0.7  # std::max(0.7, x)
    sim = jaro(a, b, jaro_cutoff)
    if sim > 0.7:
        sim = _fma(prefix * 0.1, 1.0 - sim, sim)
    return sim if sim >= cutoff else 0.0


# --- code points -----------------------------------------------------------------------------
def ascii_code(s: str) -> int:
    """DuckDB ascii(): the first code point, 0 for ''."""
    return ord(s[0]) if s else 0


def unicode_code(s: str) -> int:
    """DuckDB unicode()/ord(): the first code point, -1 for ''."""
    return ord(s[0]) if s else -1


def chr_(n: int) -> str:
    """DuckDB chr(): a code point (not a surrogate) to its one-character string."""
    if 0 <= n <= 0x10FFFF and not 0xD800 <= n <= 0xDFFF:
        return chr(n)
    raise ExpressionError(f"Invalid Input Error: Invalid UTF8 Codepoint {n}")


@lru_cache(maxsize=256)
def _translation(src: str, dst: str) -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    for k, ch in enumerate(src):
        table.setdefault(ord(ch), dst[k] if k < len(dst) else None)  # the first mapping wins
    return table


def translate(s: str, src: str, dst: str) -> str:
    """DuckDB translate(): each code point of src becomes the one at its position in dst, or is
    deleted when dst is shorter; the first occurrence of a repeated code point in src wins."""
    return s.translate(_translation(src, dst))


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
