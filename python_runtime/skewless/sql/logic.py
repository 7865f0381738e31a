"""Comparisons, IN, BETWEEN, AND/OR/NOT and the conditionals (CASE, IF, COALESCE, NULLIF, LEAST/GREATEST)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from sqlglot import expressions as exp

from skewless.sql.casts import (
    CastCompiler,
)
from skewless.sql.codegen import (
    _NOCONST,
    _Code,
    _construct,
)
from skewless.sql.types import (
    BOOLEAN,
    INTERVAL,
    NULLT,
    SqlType,
)


class LogicCompiler(CastCompiler):
    """Comparisons, IN, BETWEEN, AND/OR/NOT and the conditionals (CASE, IF, COALESCE, NULLIF, LEAST/GREATEST)."""

    def _cmp_body(self, op: str, t: SqlType) -> Callable[[str, str], str]:
        if t.name in ("DOUBLE", "FLOAT"):
            return {
                "==": lambda x, y: f"({x} == {y} or {x} != {x} and {y} != {y})",
                "!=": lambda x, y: f"not ({x} == {y} or {x} != {x} and {y} != {y})",
                "<": lambda x, y: f"_dlt({x}, {y})",
                "<=": lambda x, y: f"_dle({x}, {y})",
                ">": lambda x, y: f"_dlt({y}, {x})",
                ">=": lambda x, y: f"_dle({y}, {x})",
            }[op]
        if t == INTERVAL:
            return lambda x, y: f"(_ivkey({x}) {op} _ivkey({y}))"
        return lambda x, y: f"({x} {op} {y})"

    def compare(self, op: str, a: _Code, b: _Code, what: str) -> _Code:
        t = self.common([a, b], what, compare=True)
        a, b = self.conv(a, t), self.conv(b, t)
        body = self._cmp_body(op, t)
        if t.name in ("DOUBLE", "FLOAT"):
            body = self._const_cmp(op, a, b) or body
        return self.code(self.strict([a, b], body), BOOLEAN, [a, b])

    def _const_cmp(self, op: str, a: _Code, b: _Code) -> Callable[[str, str], str] | None:
        """A DOUBLE comparison against a non-NaN constant needs no NaN helper call."""
        if isinstance(b.const, float) and b.const == b.const:
            var_first = True
        elif isinstance(a.const, float) and a.const == a.const:
            var_first = False
            op = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(op, op)
        else:
            return None
        # NaN (x != x) sorts above every number and equals nothing but NaN.
        nan_true = op in (">", ">=", "!=")
        tail = " or {v} != {v}" if nan_true and op != "!=" else ""

        def body(x: str, y: str) -> str:
            v, k = (x, y) if var_first else (y, x)
            return f"({v} {op} {k}{tail.format(v=v)})"

        return body

    def _c_EQ(self, node: exp.EQ) -> _Code:
        return self.compare("==", self.c(node.this), self.c(node.expression), "`=`")

    def _c_NEQ(self, node: exp.NEQ) -> _Code:
        return self.compare("!=", self.c(node.this), self.c(node.expression), "`<>`")

    def _c_LT(self, node: exp.LT) -> _Code:
        return self.compare("<", self.c(node.this), self.c(node.expression), "`<`")

    def _c_LTE(self, node: exp.LTE) -> _Code:
        return self.compare("<=", self.c(node.this), self.c(node.expression), "`<=`")

    def _c_GT(self, node: exp.GT) -> _Code:
        return self.compare(">", self.c(node.this), self.c(node.expression), "`>`")

    def _c_GTE(self, node: exp.GTE) -> _Code:
        return self.compare(">=", self.c(node.this), self.c(node.expression), "`>=`")

    def _c_NullSafeEQ(self, node: exp.NullSafeEQ) -> _Code:
        return self._distinct(node, negate=False)

    def _c_NullSafeNEQ(self, node: exp.NullSafeNEQ) -> _Code:
        return self._distinct(node, negate=True)

    def _distinct(self, node: exp.Binary, negate: bool) -> _Code:
        """IS [NOT] DISTINCT FROM: NULL equals NULL, never NULL itself."""
        a, b = self.c(node.this), self.c(node.expression)
        t = self.common([a, b], "IS DISTINCT FROM", compare=True)
        a, b = self.conv(a, t), self.conv(b, t)
        ba, ra = self.bind(a)
        bb, rb = self.bind(b)
        eq = self._cmp_body("==", t)(ra, rb)
        same = f"(({ra} is None and {rb} is None) if ({ba} is None) | ({bb} is None) else {eq})"
        src = f"(not {same})" if negate else same
        return self.code(src, BOOLEAN, [a, b], nullable=False)

    def _c_Is(self, node: exp.Is) -> _Code:
        if not isinstance(node.expression, exp.Null):
            raise self.ctx.unsupported(_construct(node))
        a = self.c(node.this)
        if not a.nullable and not a.raises and not a.cols:
            return self._const(False, BOOLEAN)
        return self.code(f"({a.src} is None)", BOOLEAN, [a], nullable=False)

    def _c_In(self, node: exp.In) -> _Code:
        if node.args.get("query") or node.args.get("unnest") or node.args.get("field"):
            raise self.ctx.unsupported(_construct(node))
        x = self.c(node.this)
        items = [self.c(e) for e in node.expressions]
        t = self.common([x, *items], "IN", compare=True)
        if x.bound_null or x.t.name == "NULL" or (x.const is None and not x.cols):
            # DuckDB folds `NULL IN (…)` to NULL, whichever way it knows the NULL (measured)
            return self._const(None, BOOLEAN)
        x = self.conv(x, t)
        items = [self.conv(i, t) for i in items]
        consts = [i.const for i in items]
        if (
            x.const is not _NOCONST
            and x.const is not None
            and any(c is not _NOCONST and c is not None and c == x.const for c in consts)
        ):  # measured: DuckDB folds a constant found in the list to TRUE, running nothing else
            return self._const(True, BOOLEAN)
        if (
            all(c is not _NOCONST and c is not None for c in consts)
            and t.name not in ("DOUBLE", "FLOAT")
            and t != INTERVAL
        ):
            k = self.ctx.const(frozenset(consts))
            return self.code(self.strict([x], lambda v: f"({v} in {k})"), BOOLEAN, [x, *items])
        eq = "_deq" if t.name in ("DOUBLE", "FLOAT") else "None"
        if t == INTERVAL:
            eq = "(lambda p, q: _ivkey(p) == _ivkey(q))"
        srcs = ", ".join(i.src for i in items)
        src = f"_in_list({x.src}, ({srcs},), {eq})"
        return self.code(src, BOOLEAN, [x, *items])

    def _c_Between(self, node: exp.Between) -> _Code:
        if node.args.get("symmetric"):
            raise self.ctx.unsupported(_construct(node))
        x, lo, hi = self.c(node.this), self.c(node.args["low"]), self.c(node.args["high"])
        if not x.cols and x.const is not None:
            # (a NULL x decides nothing: DuckDB still evaluates both bounds, measured)
            # A constant x: DuckDB folds a constant half (`300 <= 1e-45`) and so decides the
            # AND without evaluating the other half; compiling the two comparisons does too.
            halves = exp.And(
                this=exp.GTE(this=node.this.copy(), expression=node.args["low"].copy()),
                expression=exp.LTE(this=node.this.copy(), expression=node.args["high"].copy()),
            )
            return self.c(halves)
        t = self.common([x, lo, hi], "BETWEEN", compare=True)
        x, lo, hi = self.conv(x, t), self.conv(lo, t), self.conv(hi, t)
        if x.const is None and not x.cols:  # NULL, but DuckDB still runs both bounds
            raising = [c for c in (lo, hi) if c.raises]
            src = (
                f"({', '.join(self.bind(c)[0] for c in raising)}, None)[-1]" if raising else "None"
            )
            return _Code(src, BOOLEAN, True, bool(raising), lo.cols | hi.cols)
        ge, le = self._cmp_body(">=", t), self._cmp_body("<=", t)
        if not lo.nullable and not hi.nullable and not (lo.raises or hi.raises):
            src = self.strict([x], lambda v: f"({ge(v, lo.src)} and {le(v, hi.src)})")
            return self.code(src, BOOLEAN, [x, lo, hi])
        # x is evaluated (and bound) first, unconditionally: both halves read the bound name.
        bx, rx = self.bind(x)
        xr = _Code(rx, t, x.nullable, False, x.cols)
        first = self.strict([xr, lo], ge)
        second = self.strict([xr, hi], le)
        src = f"_and3({first}, {second})"
        if bx != rx:
            src = f"({bx}, {src})[1]"
        return self.code(src, BOOLEAN, [x, lo, hi])

    def _bool(self, code: _Code, what: str) -> _Code:
        if code.t.name not in ("BOOLEAN", "NULL"):
            raise self.ctx.unsupported(f"{what} on {code.t}", "compare it explicitly (x <> 0)")
        return code

    def _c_And(self, node: exp.And) -> _Code:
        return self._logic(node, "and")

    def _c_Or(self, node: exp.Or) -> _Code:
        return self._logic(node, "or")

    def _logic(self, node: exp.Binary, kind: str) -> _Code:
        a = self._bool(self.c(node.this), kind.upper())
        b = self._bool(self.c(node.expression), kind.upper())
        decisive = kind == "or"  # FALSE decides AND, TRUE decides OR
        if a.const is decisive or b.const is decisive:
            # DuckDB's optimizer folds `x AND FALSE` / `x OR TRUE` before x is ever evaluated,
            # so an error x would raise never happens (measured).
            return self._const(decisive, BOOLEAN)
        if not a.nullable and not b.nullable:
            op = "&" if kind == "and" else "|"
            return self.code(f"({a.src} {op} {b.src})", BOOLEAN, [a, b], nullable=False)
        if b.raises:
            return self.code(f"_{kind}3({a.src}, {b.src})", BOOLEAN, [a, b])
        ba, ra = self.bind(a)
        bb, rb = self.bind(b)
        dom = "False" if kind == "and" else "True"
        other = "True" if kind == "and" else "False"
        src = (
            f"({dom} if {ba} is {dom} or {bb} is {dom} else "
            f"None if {ra} is None or {rb} is None else {other})"
        )
        return self.code(src, BOOLEAN, [a, b])

    def _c_Not(self, node: exp.Not) -> _Code:
        a = self._bool(self.c(node.this), "NOT")
        return self.code(self.strict([a], lambda x: f"(not {x})"), BOOLEAN, [a])

    def _constant_null(self, node: exp.Expression) -> bool:
        code = self.c(node)
        return code.const is None and not code.cols

    def _c_Case(self, node: exp.Case) -> _Code:
        subject = node.this
        ifs = node.args.get("ifs") or []
        default = node.args.get("default")
        results = [self.c(i.args["true"]) for i in ifs]
        other = self.c(default) if default is not None else self._const(None, NULLT)
        t = self.common([other, *results], "CASE")  # measured: DuckDB starts from the ELSE
        results = [self.conv(r, t) for r in results]
        other = self.conv(other, t)
        branches: list[tuple[str, _Code, list[_Code]]] = []  # (truth, result, condition codes)
        prefix = ""
        subject_codes: list[_Code] = []
        if subject is not None and self._constant_null(subject):
            # a constant NULL operand: every WHEN compares to NULL and drops, and DuckDB's
            # folding never evaluates their values (measured); they are compiled for types
            for i in ifs:
                self.c(i.this)
        elif subject is not None:
            s = self.c(subject)
            b, r = self.bind(s)
            for i, res in zip(ifs, results, strict=True):
                # a constant operand is compared as a constant (a NULL one drops every WHEN
                # without evaluating its value, as DuckDB's folding does - measured)
                ref = s if not s.cols else _Code(r, s.t, s.nullable, False, s.cols)
                cond = self.compare("==", ref, self.c(i.this), "CASE")
                if cond.src == "None":
                    truth = "False"
                elif cond.const is not _NOCONST:
                    truth = repr(bool(cond.const))
                else:
                    truth = self.truth(cond)
                branches.append((truth, res, [cond]))
            if b != r:
                prefix, subject_codes = b, [s]
        else:
            for n, (i, res) in enumerate(zip(ifs, results, strict=True)):
                whole = self.c(i.this)
                if whole.doomed:
                    # measured: DuckDB's optimizer evaluates a constant condition up front, and
                    # an error there fails the whole query, whatever the rows
                    raise self.ctx.unsupported(
                        f"the CASE condition {_construct(i.this)}, a constant that raises",
                        "DuckDB fails every query on it; fix or remove the condition",
                    )
                truth, codes = self.condition(i.this)
                branches.append((truth, res, codes))
                if truth == "True":
                    # what follows never runs, but DuckDB binds it: a type error there fails
                    # the query, so it is compiled (and a raising constant refused) all the same
                    for rest in ifs[n + 1 :]:
                        if self.c(rest.this).doomed:
                            raise self.ctx.unsupported(
                                f"the CASE condition {_construct(rest.this)}, a constant that "
                                "raises",
                                "DuckDB fails every query on it; fix or remove the condition",
                            )
                    break
        # DuckDB's optimizer drops branches whose condition is a constant FALSE or NULL and
        # stops at a constant TRUE, so what they would raise never runs (measured)
        kept: list[tuple[str, _Code, list[_Code]]] = []
        for truth, res, codes in branches:
            if truth in ("False", "None"):
                continue
            if truth == "True":
                other = res
                break
            kept.append((truth, res, codes))
        if not kept and not prefix:
            if other.const is not None or node.find(exp.Column) is None:
                # a CASE of constants folds: its NULL spares the other operands of a function
                # as a bound one does (`(j + 1) + CASE WHEN false THEN 1 END` is NULL; measured)
                return dataclasses.replace(other, bound_null=False)
            # one that names a column in a dropped branch is not a constant to DuckDB: its
            # NULL does not spare (`date_diff('day', x, CASE WHEN false THEN ts END)` runs x)
            named = [self.c(col) for col in node.find_all(exp.Column)]
            return _Code("None", t, True, False, frozenset().union(*(c.cols for c in named)))

        src = other.src
        for truth, res, _ in reversed(kept):
            src = f"({res.src} if {truth} else {src})"
        if prefix:
            src = f"({prefix}, {src})[1]"
        outs = [*(res for _, res, _ in kept), other]
        allc = [*subject_codes, *(c for _, _, codes in kept for c in codes), *outs]
        return self.code(src, t, allc, nullable=any(c.nullable for c in outs))

    def condition(self, node: exp.Expression) -> tuple[str, list[_Code]]:
        """Python text truthy exactly when a CASE WHEN / IF condition is TRUE, and its codes.

        DuckDB evaluates a condition as a filter: the operands of AND/OR (nested, in the order
        written) run only on the rows still undecided, so `n <> '' AND CAST(n AS INT) > 0`
        never casts an empty n. Python's `and`/`or` on the operands' truth reproduce that row
        by row: the right operand of AND runs only when the left is TRUE, of OR only when the
        left is not TRUE (FALSE or NULL). Anything else (NOT, IS NULL, COALESCE of a
        conjunction) is evaluated whole, as DuckDB does. A constant FALSE (AND) / TRUE (OR)
        operand decides the condition without evaluating the other, as DuckDB's optimizer does.
        """
        inner = node
        while isinstance(inner, exp.Paren):
            inner = inner.this
        if isinstance(inner, (exp.And, exp.Or)):
            kind = "and" if isinstance(inner, exp.And) else "or"
            left, lcodes = self.condition(inner.this)
            right, rcodes = self.condition(inner.expression)
            decisive = "False" if kind == "and" else "True"
            if decisive in (left, right):
                return decisive, [*lcodes, *rcodes]
            consts = {"True", "False", "None"}
            if left in consts and right in consts:  # two constants: DuckDB folds them
                value = {"True": True, "False": False, "None": None}
                a, b = value[left], value[right]
                # Kleene logic; a decisive operand was handled above
                folded = None if a is None or b is None else (a and b if kind == "and" else a or b)
                return repr(folded), [*lcodes, *rcodes]
            return f"({left} {kind} {right})", [*lcodes, *rcodes]
        code = self._bool(self.c(inner), "CASE WHEN")
        if code.const is True or code.const is False:
            return repr(code.const), [code]
        if code.src == "None":  # a constant NULL: never TRUE, but decides nothing (not FALSE)
            return "None", [code]
        return self.truth(code), [code]

    def _c_If(self, node: exp.If) -> _Code:
        case = exp.Case(ifs=[exp.If(this=node.this, true=node.args["true"])])
        if node.args.get("false") is not None:
            case.set("default", node.args["false"])
        return self._c_Case(case)

    def _c_Coalesce(self, node: exp.Coalesce) -> _Code:
        args = [self.c(node.this), *(self.c(e) for e in node.expressions)]
        t = self.common(args, "COALESCE")
        args = [self.conv(a, t) for a in args]
        # Arguments after one that is never NULL are never evaluated (DuckDB simplifies them
        # away too, so an error they would raise never happens).
        first_set = next((i for i, a in enumerate(args) if not a.nullable), None)
        if first_set is not None:
            args = args[: first_set + 1]
        if args[0].const is not _NOCONST and args[0].const is not None:
            return args[0]
        src = "None"
        for a in reversed(args):
            if not a.nullable:
                src = a.src
                continue
            b, r = self.bind(a)
            src = f"({r} if {b} is not None else {src})"
        return self.code(src, t, args, nullable=all(a.nullable for a in args))

    def _c_Nullif(self, node: exp.Nullif) -> _Code:
        a, b = self.c(node.this), self.c(node.expression)
        t = self.common([a, b], "NULLIF", compare=True)
        if a.t.name == "NULL":
            return self._const(None, NULLT)
        if a.bound_null:  # a NULL known at bind time: DuckDB folds NULLIF to NULL
            if not b.cols:
                return self._const(None, a.t)
            # (to DuckDB a CASE naming b's columns, not a constant: measured with typeof)
            return _Code("None", a.t, True, False, b.cols)
        ca, cb = self.conv(a, t), self.conv(b, t)
        ba, ra = self.bind(ca)
        bb, rb = self.bind(cb)
        eq = self._cmp_body("==", t)
        keep = ra
        if ca.src != a.src:  # compare in the common type, return the original value
            ba2, ra2 = self.bind(a)
            ca = _Code(ba2, a.t, a.nullable, a.raises, a.cols)
            ba, ra = self.bind(self.conv(_Code(ra2, a.t, a.nullable, False, a.cols), t))
            keep = ra2
            ba = f"({ba2}, {ba})[1]"
        if cb.nullable:
            src = f"(None if {ba} is None else {keep} if {bb} is None else None if {eq(ra, rb)} else {keep})"
        else:
            src = f"(None if {ba} is None or {eq(ra, cb.src)} else {keep})"
        if cb.raises:
            src = f"({bb}, {src})[1]"
        return self.code(src, a.t, [a, b], nullable=True)

    def _c_Least(self, node: exp.Least) -> _Code:
        return self._minmax(node, "least")

    def _c_Greatest(self, node: exp.Greatest) -> _Code:
        return self._minmax(node, "greatest")

    def _minmax(self, node: exp.Func, kind: str) -> _Code:
        args = [self.c(node.this), *(self.c(e) for e in node.expressions)]
        t = self.common(args, kind.upper())
        if t == INTERVAL:
            raise self.ctx.unsupported(
                f"{kind}() of INTERVALs",
                "DuckDB orders them by their stored months, days and microseconds, which a "
                "request's timedelta does not carry; compare a number such as epoch(x) instead",
            )
        args = [self.conv(a, t) for a in args]
        fl = t.name in ("DOUBLE", "FLOAT")
        if len(args) == 2 and t != INTERVAL:
            fn = f"_{'d' if fl else ''}{kind}2"
            src = f"{fn}({args[0].src}, {args[1].src})"
        else:
            key = "_nankey" if fl else "_ivkey" if t == INTERVAL else "None"
            src = f"_{kind}({key}, {', '.join(a.src for a in args)})"
        if t.name == "FLOAT" and not (len(args) == 2 and args[0].src == args[1].src):
            # measured: DuckDB's FLOAT least/greatest returns 0.0 for -0.0 (DOUBLE keeps the
            # sign); with two identical arguments the call is simplified away and keeps it.
            src = f"_F.no_neg_zero({src})"
        return self.code(src, t, args, nullable=all(a.nullable for a in args))
