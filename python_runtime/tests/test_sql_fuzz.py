"""Compositional differential fuzz: random typed SQL expressions, DuckDB 2.0.1 vs the compiler.

`sql_grammar.Grammar` composes every supported construct recursively (depth <= 5) over the
oracle's typed columns and literals of every type; each expression is compiled with
`skewless.compile_expression` and evaluated on a sample of payload rows (the oracle's edge rows
plus random rows full of traps), and DuckDB evaluates it on the same rows (TimeZone='UTC', one
query per expression, single-row queries only where a row raises). Required, per expression and
row: the same value (`expr_oracle.same`: NaN = NaN, -0.0 ≠ 0.0, DECIMAL scale counts), DuckDB's
`typeof` equal to the compiled `output_type`, and an error exactly where DuckDB errors (a
documented refusal - `NotReproducible` and friends - where DuckDB has a value Python cannot hold).
Nothing but a SkewlessError may leave compile or evaluate.

`UnsupportedExpression` at compile time is allowed (it is never a wrong value) but counted per
construct; the run fails when more than MAX_REFUSAL_RATE of the expressions are refused, so the
fuzz cannot degenerate into refusing everything.

Seeds: SKEWLESS_FUZZ_SEED=<int> reproduces a run; with CI=true a fixed seed list is used;
otherwise the seed is random. The seed is always printed. SKEWLESS_FUZZ_PENDING=all|none|a,b
chooses which `sql_grammar.PENDING` rows are drawn (default: those that compile today).
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from expr_oracle import SCHEMA, _table, connect, documented_refusal, edge_rows, same
from sql_grammar import BY_NAME, CONSTRUCTS, KINDS, PENDING, Grammar, Node, payload_rows

from skewless import compile_expression
from skewless.errors import (
    ExpressionError,
    NotReproducible,
    SkewlessError,
    UnsupportedExpression,
)

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CI_SEED = 20240611  # shard k runs seed CI_SEED + k, the same every CI run
SHARDS = 4  # run as 4 tests so pytest-xdist -n 2 spreads them over both cores
EXPRESSIONS_PER_SHARD = 700
ROWS_PER_EXPRESSION = 40
RANDOM_ROWS = 160  # drawn payload rows per shard, on top of the oracle's edge rows
MIN_CASES = 20_000  # over all shards
MAX_REFUSAL_RATE = 0.25
SHRINK_BUDGET_S = 12.0  # per shard, spent shrinking the first mismatches
MAX_REPORTED = 12
# Python raising where DuckDB, on the row alone, gives NULL and no companion row could show
# DuckDB raising in a batch: allowed (never a wrong value), but capped per shard and listed
MAX_UNPROVEN = 5

_STATIC = (duckdb.BinderException, duckdb.ParserException, duckdb.CatalogException)


def _base_seed() -> int:
    """SKEWLESS_FUZZ_SEED, else CI_SEED under CI, else random; shard k runs base + k."""
    env = os.environ.get("SKEWLESS_FUZZ_SEED")
    if env:
        return int(env)
    if IN_CI:
        return CI_SEED
    return random.SystemRandom().randrange(2**32)


# --- evaluation ---------------------------------------------------------------------------
@dataclass
class Raised:
    """An exception, as one side's outcome for a row."""

    error: BaseException

    def __repr__(self) -> str:
        return f"<{type(self.error).__name__}: {str(self.error).splitlines()[0][:160]}>"


@dataclass
class Mismatch:
    kind: str  # value, python-raises, duckdb-raises, crash, output_type, bind, compile-crash
    sql: str
    row: dict[str, Any] | None
    python: Any
    duck: Any
    inputs: frozenset[str] = frozenset()
    node: Node | None = None
    culprit: Mismatch | None = None  # the smallest failing sub-expression's mismatch

    def text(self) -> str:
        row = "" if self.row is None else _row_text(self.row, self.inputs)
        return (
            f"[{self.kind}] {self.sql}\n    row: {row}\n"
            f"    python: {_show(self.python)}\n    duckdb: {_show(self.duck)}"
        )


def _show(v: Any) -> str:
    return repr(v) if isinstance(v, Raised) else f"{v!r} ({type(v).__name__})"


def _row_text(row: dict[str, Any], names: frozenset[str]) -> str:
    return "{" + ", ".join(f"{k}: {row[k]!r}" for k in sorted(names)) + "}"


class Duck:
    """DuckDB over a fixed pool of payload rows, registered once."""

    def __init__(self, pool: Sequence[dict[str, Any]]):
        self.con = connect()
        self.pool = pool
        self.con.register("t_fuzz", _table(pool))
        self._one: dict[int, pa.Table] = {}

    def type_of(self, sql: str) -> str | Raised:
        try:
            got = self.con.execute(f"SELECT typeof({sql}) FROM t_fuzz WHERE __idx = 0").fetchall()
        except duckdb.Error as e:
            return Raised(e)
        return str(got[0][0])

    def rows(self, sql: str, idx: Sequence[int], out: dict[int, Any]) -> None:
        """out[i] = DuckDB's value or Raised, for every pool index i in idx (bisecting)."""
        if not idx:
            return
        ids = ",".join(str(i) for i in idx)
        try:
            got = self.con.execute(
                f"SELECT __idx, ({sql}) FROM t_fuzz WHERE __idx IN ({ids})"
            ).fetchall()
        except (duckdb.Error, OverflowError, ValueError) as e:
            # OverflowError/ValueError: the duckdb client cannot turn DuckDB's value into a
            # Python one (an INTERVAL beyond timedelta); Python must refuse there too
            if len(idx) == 1:
                out[idx[0]] = Raised(e)
                return
            mid = len(idx) // 2
            self.rows(sql, idx[:mid], out)
            self.rows(sql, idx[mid:], out)
            return
        for i, v in got:
            out[i] = v

    def raises_in_batch(self, sql: str, i: int, py: dict[int, Any], fn: Any) -> bool:
        """Does DuckDB raise on row i once another row shares its vector?

        DuckDB skips an operand whose whole input vector is NULL, so a row alone (a vector of
        one) can get NULL where the same row among others raises - training data is never a
        batch of one. skewless raises as DuckDB does over a batch (docs/functions.md); this
        tells such a row from a real mismatch, by pairing it with rows Python answered.
        """
        answered = {j: v for j, v in py.items() if j != i and not isinstance(v, Raised)}
        if fn is not None and sum(v is not None for v in answered.values()) < 2:
            for j, row in enumerate(self.pool):  # look further for rows with an answer
                if j != i and j not in answered:
                    v = _py(fn, row)
                    if v is not None and not isinstance(v, Raised):
                        answered[j] = v
                        if len(answered) >= 8:
                            break
        if fn is not None and not any(v is not None for v in answered.values()):
            if self._raises_beside_mutant(sql, i, fn):
                return True
        # rows with a non-NULL answer first: beside them the operands' vectors are not all NULL
        companions = sorted(answered, key=lambda j: answered[j] is None)[:4]
        for j in companions:
            try:
                self.con.execute(f"SELECT ({sql}) FROM t_fuzz WHERE __idx IN ({i}, {j})").fetchall()
            except (duckdb.Error, OverflowError, ValueError):
                try:  # the companion alone is fine, so row i is what raises
                    self.con.execute(f"SELECT ({sql}) FROM t_fuzz WHERE __idx = {j}").fetchall()
                except (duckdb.Error, OverflowError, ValueError):
                    continue
                return True
        return False

    def _raises_beside_mutant(self, sql: str, i: int, fn: Any) -> bool:
        """Pair row i with copies of itself that differ in one input, taken from other rows,
        for which Python has a non-NULL answer (a row that makes the NULL operands non-NULL)."""
        row = self.pool[i]
        tried = 0
        for name in sorted(fn.inputs):
            for other in {repr(r[name]): r[name] for r in self.pool}.values():
                mutant = {**row, name: other}
                v = _py(fn, mutant)
                if v is None or isinstance(v, Raised):
                    continue
                tried += 1
                self.con.register("t_pair", _table([row, mutant]))
                try:
                    self.con.execute(f"SELECT ({sql}) FROM t_pair").fetchall()
                except (duckdb.Error, OverflowError, ValueError):
                    self.con.register("t_pair", _table([mutant]))
                    try:
                        self.con.execute(f"SELECT ({sql}) FROM t_pair").fetchall()
                    except (duckdb.Error, OverflowError, ValueError):
                        continue
                    return True
                finally:
                    self.con.unregister("t_pair")
                if tried >= 4:
                    return False
        return False


def _py(fn: Callable[[dict[str, Any]], Any], row: dict[str, Any]) -> Any:
    try:
        return fn(row)
    except Exception as e:
        return Raised(e)


def _documented(err: BaseException, duck: Any) -> bool:
    """A documented refusal (docs/functions.md, known limits): DuckDB has a value Python cannot
    hold - outside Python's datetime range, ±infinity, memory-dependent text - even when it
    is only an intermediate value (`CAST(s AS DATE) < dt`)."""
    if documented_refusal(err, duck):
        return True
    return isinstance(err, NotReproducible) or "range Python supports" in str(err)


def _verdict(py: Any, duck: Any) -> str | None:
    """None when the row agrees, "documented" for a documented refusal, else the kind of
    mismatch."""
    if isinstance(py, Raised) and not isinstance(py.error, SkewlessError):
        return "crash"
    if isinstance(py, Raised) and not isinstance(py.error, ExpressionError):
        return "wrong-error-class"  # RequestError / UnsupportedExpression while evaluating
    if isinstance(py, Raised) and isinstance(duck, Raised):
        return None
    if isinstance(py, Raised):
        return "documented" if _documented(py.error, duck) else "python-raises"
    if isinstance(duck, Raised):
        return "duckdb-raises"
    return None if same(py, duck) else "value"


@dataclass
class Result:
    """What checking one expression on some rows found."""

    refused: UnsupportedExpression | None = None
    cases: int = 0
    documented: int = 0  # rows where Python's documented refusal stands for DuckDB's value
    batch: int = 0  # rows DuckDB answers alone but raises on beside other rows (see Duck)
    unproven: list[Mismatch] = field(default_factory=list)  # Python raises, DuckDB alone: NULL
    mismatches: list[Mismatch] = field(default_factory=list)


def check(sql: str, duck: Duck, idx: Sequence[int], node: Node | None = None) -> Result:
    res = Result()
    fn: Any = None
    try:
        fn = compile_expression(sql, SCHEMA)
    except UnsupportedExpression as e:
        res.refused = e
        return res
    except ExpressionError as e:  # a constant that errors: DuckDB must error on every row
        py = {i: Raised(e) for i in idx}
    except Exception as e:
        res.mismatches.append(Mismatch("compile-crash", sql, None, Raised(e), None, node=node))
        return res
    inputs: frozenset[str] = frozenset(SCHEMA) if fn is None else fn.inputs
    duck_t = duck.type_of(sql)
    if fn is not None:
        if isinstance(duck_t, Raised) and isinstance(duck_t.error, _STATIC):
            res.mismatches.append(Mismatch("bind", sql, None, fn.output_type, duck_t, node=node))
            return res
        if isinstance(duck_t, str) and duck_t != fn.output_type:
            res.mismatches.append(
                Mismatch("output_type", sql, None, fn.output_type, duck_t, inputs, node=node)
            )
        py = {i: _py(fn, duck.pool[i]) for i in idx}
    out: dict[int, Any] = {}
    duck.rows(sql, [i for i in idx if not isinstance(py[i], Raised)], out)
    for i in idx:  # each Python error alone: DuckDB must fail on exactly this row
        if isinstance(py[i], Raised):
            duck.rows(sql, [i], out)
            if not isinstance(out.get(i), Raised) and duck.raises_in_batch(sql, i, py, fn):
                res.batch += 1
                out[i] = Raised(ExpressionError("DuckDB raises on this row in a batch"))
            elif (
                out.get(i, 0) is None
                and isinstance(py[i].error, ExpressionError)
                and not _documented(py[i].error, None)
            ):
                # DuckDB alone gives NULL, and no companion row could show what it does in a
                # batch: counted, reported and capped (MAX_UNPROVEN), never a wrong value
                res.unproven.append(Mismatch("unproven", sql, duck.pool[i], py[i], None, node=node))
                out[i] = py[i]
    for i in idx:
        res.cases += 1
        kind = _verdict(py[i], out.get(i))
        if kind == "documented":
            res.documented += 1
        elif kind is not None:
            res.mismatches.append(
                Mismatch(kind, sql, duck.pool[i], py[i], out.get(i), inputs, node=node)
            )
    return res


def shrink(m: Mismatch, duck: Duck, row_index: int | None) -> Mismatch:
    """The mismatch of the smallest sub-expression of m.node that still fails on m's row
    (m itself when no proper sub-expression fails)."""
    if m.node is None:
        return m
    idx = [0] if row_index is None else [row_index]
    subs = sorted((n for n in m.node.walk() if n is not m.node), key=lambda n: (n.size(), n.sql))
    for sub in subs:
        found = check(sub.sql, duck, idx, sub).mismatches
        if found:
            return next((f for f in found if f.kind == m.kind), found[0])
    return m


def failure_class(m: Mismatch) -> str:
    """family/construct/kind of a (shrunk) mismatch: what to fix."""
    node = m.node
    name = node.construct if node is not None and node.construct else None
    label = name or f"literal {node.kind if node else '?'}"
    return f"{_family(name)}/{label}/{m.kind}"


def blame_refusal(node: Node) -> str:
    """The construct of the smallest refused sub-expression (the one to implement)."""
    for sub in sorted(node.walk(), key=lambda n: n.size()):
        try:
            compile_expression(sub.sql, SCHEMA)
        except UnsupportedExpression:
            return sub.construct or f"literal {sub.kind}"
        except Exception:
            continue
    return node.construct or f"literal {node.kind}"


# --- which pending constructs run ---------------------------------------------------------
def enabled_constructs() -> tuple[set[str], list[str]]:
    """The default rows plus the PENDING rows chosen by SKEWLESS_FUZZ_PENDING (default
    'auto': those that compile today), and the names of the pending rows left out."""
    base = {c.name for c in CONSTRUCTS if not c.pending}
    mode = os.environ.get("SKEWLESS_FUZZ_PENDING", "auto").strip().lower()
    if mode == "all":
        return base | PENDING, []
    if mode == "none":
        return base, sorted(PENDING)
    if mode != "auto":
        chosen = {n.strip() for n in mode.split(",") if n.strip()}
        unknown = chosen - PENDING
        assert not unknown, f"SKEWLESS_FUZZ_PENDING names unknown constructs {sorted(unknown)}"
        return base | chosen, sorted(PENDING - chosen)
    g = Grammar(random.Random(0), base | PENDING)
    on: set[str] = set()
    for name in sorted(PENDING):
        c = BY_NAME[name]
        for _ in range(12):
            try:
                compile_expression(g.construct(c, g.r.choice(c.results), 1).sql, SCHEMA)
            except Exception:
                continue
            on.add(name)
            break
    return base | on, sorted(PENDING - on)


# --- the fuzz -----------------------------------------------------------------------------
@dataclass
class Stats:
    cases: int = 0
    expressions: int = 0
    refused: int = 0
    documented: int = 0
    batch: int = 0
    unproven: list[Mismatch] = field(default_factory=list)
    used: Counter[str] = field(default_factory=Counter)
    blamed: Counter[str] = field(default_factory=Counter)
    mismatches: list[Mismatch] = field(default_factory=list)


def run_shard(seed: int, enabled: set[str]) -> Stats:
    r = random.Random(seed)
    pool = edge_rows() + payload_rows(r, RANDOM_ROWS)
    duck = Duck(pool)
    grammar = Grammar(r, enabled)
    stats = Stats()
    for n in range(EXPRESSIONS_PER_SHARD):
        node = grammar.expression(KINDS[n % len(KINDS)])
        idx = sorted(r.sample(range(len(pool)), ROWS_PER_EXPRESSION))
        res = check(node.sql, duck, idx, node)
        stats.expressions += 1
        stats.used.update(node.constructs())
        if res.refused is not None:
            stats.refused += 1
            stats.blamed[blame_refusal(node)] += 1
            continue
        stats.cases += res.cases
        stats.documented += res.documented
        stats.batch += res.batch
        stats.unproven.extend(res.unproven)
        stats.mismatches.extend(res.mismatches)
    # shrink the first mismatch of each (kind, top construct) while the budget lasts
    deadline = time.monotonic() + SHRINK_BUDGET_S
    seen: set[tuple[str, str | None]] = set()
    for m in stats.mismatches:
        key = (m.kind, m.node.construct if m.node else None)
        if key in seen or time.monotonic() > deadline:
            continue
        seen.add(key)
        row_index = next((i for i, p in enumerate(pool) if p is m.row), None)
        m.culprit = shrink(m, duck, row_index)
    return stats


def _family(name: str | None) -> str:
    if name is None or name not in BY_NAME:
        return "literals"
    return BY_NAME[name].family


def report(base: int, shard: int, stats: Stats, seconds: float, left_out: list[str]) -> str:
    lines = [
        f"SKEWLESS_FUZZ_SEED={base} shard {shard}: {stats.expressions} expressions, {stats.cases} cases, "
        f"{len(stats.mismatches)} mismatches, {stats.documented} documented refusals, "
        f"{stats.batch} raised as DuckDB does in a batch (a row alone gives NULL), "
        f"{len(stats.unproven)} raised where DuckDB alone gives NULL (batch not shown), "
        f"{stats.refused} expressions refused "
        f"({stats.refused / max(stats.expressions, 1):.1%}), {seconds:.1f} s",
    ]
    if left_out:
        lines.append(f"pending constructs not drawn (refused today): {', '.join(left_out)}")
    if stats.blamed:
        rates = ", ".join(
            f"{name} {count}/{stats.used.get(name, count)}"
            for name, count in stats.blamed.most_common()
        )
        lines.append(f"refusals by construct (refused/expressions using it): {rates}")
    kinds = Counter(m.kind for m in stats.mismatches)
    if kinds:
        lines.append("mismatch kinds: " + ", ".join(f"{k} {v}" for k, v in kinds.most_common()))
    classes: dict[str, list[Mismatch]] = {}
    for m in stats.mismatches:
        if m.culprit is not None:
            classes.setdefault(failure_class(m.culprit), []).append(m)
    if classes:
        lines.append(f"failure classes (smallest reproduction first, {MAX_REPORTED} shown):")
    for n, (cls, ms) in enumerate(sorted(classes.items())):
        if n >= MAX_REPORTED:
            lines.append(f"  … and {len(classes) - n} more: " + ", ".join(sorted(classes)[n:]))
            break
        c = min((m.culprit for m in ms if m.culprit), key=lambda c: len(c.sql))
        lines.append(f"- {cls}\n  " + c.text().replace("\n", "\n  "))
        if c.sql != ms[0].sql:
            lines.append(f"  found inside: {ms[0].sql}")
    return "\n".join(lines)


@pytest.mark.parametrize("shard", range(SHARDS))
def test_sql_fuzz(shard: int, record_property: Callable[[str, object], None]) -> None:
    base = _base_seed()
    print(f"\nreproduce: SKEWLESS_FUZZ_SEED={base} pytest '{__file__}::test_sql_fuzz[{shard}]'")
    enabled, left_out = enabled_constructs()
    start = time.monotonic()
    stats = run_shard(base + shard, enabled)
    text = report(base, shard, stats, time.monotonic() - start, left_out)
    print(text)
    record_property("summary", text.splitlines()[0])  # printed at the end of the run (conftest)
    assert stats.cases >= MIN_CASES // SHARDS, f"only {stats.cases} cases\n{text}"
    rate = stats.refused / max(stats.expressions, 1)
    assert rate <= MAX_REFUSAL_RATE, f"refusal rate {rate:.1%} > {MAX_REFUSAL_RATE:.0%}\n{text}"
    assert not stats.mismatches, f"{len(stats.mismatches)} mismatches\n{text}"
    unproven = "\n".join(m.text() for m in stats.unproven[:MAX_REPORTED])
    assert len(stats.unproven) <= MAX_UNPROVEN, f"{len(stats.unproven)} unproven\n{unproven}"
