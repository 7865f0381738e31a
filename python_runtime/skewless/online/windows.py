"""Window views served online: sliding-window aggregates exact at the request instant.

A window view (`definitions.windows`, docs/windows.md) is served from one record per entity,
written by a load at instant `t0` and exact for every request instant `q` from `t0 - SLACK` to
at least `t0 + horizon` (the view's `horizon`, default 1d). At q a window W holds the events with
`L(q) < ts <= q - available_after`, `L(q) = q - W` (with a `hop` H: `floor_H(q - W)`).

Between two instants at which an event crosses an edge the window's content does not change:
the lower edge passes an event at `ts + W` (hopped: `ceil_H(ts) + W`), the upper edge reaches
one at `ts + available_after`. So the record holds, per window, its timeline: the instants from
`t0 - SLACK` at which its content changes, and at each the window's partial aggregate (count,
sum, min, max, last, the distinct values when a `count_distinct` asks for them) — computed at
load, once. A request takes the partial in force at q (a bisection) and folds in the pushed
events in `(L(q), q - available_after]` that the record does not hold. min and max are never
subtracted: every partial is aggregated from its events.

Events between the highest lower edge up to `t0 + horizon` and `C = t0 - SLACK -
available_after` are in the window at every such request: they are folded once into a "middle"
that every partial of the timeline starts from, and the timeline stops at `t0 + horizon`; a
request past it cannot be answered exactly: its values are None with status `stale` (load again
within the horizon). A window with no middle (no longer than about the horizon) has the whole
timeline, until its last event leaves: exact at any later instant. Memory per entity: one
partial per change instant within the horizon per window; a hop bounds those to one per hop
(`horizon / H + 1`) however dense the events.

The record is msgpack: `[FORMAT, t0, absorbed push seq, [[until (None: no end), instants and
offsets, partials] per window]]`: the n instants (epoch micros) then the n + 1 offsets of the
partials as one little-endian int64 array, the partials packed one after the other (`_pack_partial`; one is
read per request: the one in force), values in their stored form (`_Column`): integers and DECIMALs as integers (a
DECIMAL scaled by 10^scale, exact), DATE as days, TIMESTAMP as epoch micros; integers outside 64
bits as decimal strings.

Redis Cluster: every key of an entity (its record, its push keys) carries the `{entity}` hash
tag, so one slot; the load instant (`t0_key`) carries the view's, next to its pointer. A load
writes through `materialize`'s cluster writer and reads the push keys from every primary; a
push groups its script calls by slot (`online.push`).

Pushed events, their keys and how a load absorbs them: `online.push`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import sys
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, timedelta
from decimal import Decimal
from io import BytesIO
from typing import Any

import msgpack

from skewless.definitions import Feature, FeatureView
from skewless.definitions.windows import WindowView, decimal_scale
from skewless.errors import DefinitionError
from skewless.offline import _micros
from skewless.online import codec

__all__ = [
    "FORMAT",
    "SLACK",
    "WindowServing",
    "pack_record",
    "unpack_record",
    "window_serving",
]

FORMAT = 2
#: How far before its load instant a record still answers (clocks of loader and server differ).
SLACK = timedelta(minutes=5)
_SLACK_US = _micros(SLACK)
#: The one stored "feature" of a window view's online row: the packed record.
STATE = "__window_state"

_I64_LO, _U64_HI = -(2**63), 2**64
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_unpackb = msgpack.unpackb
_BIG_ENDIAN = sys.byteorder == "big"

# partial aggregate slots per column: count, sum, min, max, last ts, last value, distinct
_COUNT, _SUM, _MIN, _MAX, _LAST_TS, _LAST, _DISTINCT = range(7)
#: what a column's partial may need besides its count (`WindowServing.needs`), in this order
_NEEDS = ("sum", "min", "max", "last", "count_distinct")


def _int64s(values: Sequence[int]) -> bytes:
    """Integers as one little-endian int64 array (a timeline's instants and offsets: one bytes
    object to decode per window, not one per instant)."""
    out = array("q", values)
    if _BIG_ENDIAN:
        out.byteswap()
    return out.tobytes()


def _read_int64s(data: bytes) -> Sequence[int]:
    """The integers of `_int64s` (a view of `data`, no copy, on a little-endian machine)."""
    if _BIG_ENDIAN:
        out = array("q", data)
        out.byteswap()
        return out
    return memoryview(data).cast("q")


def _wide(x: int | None) -> Any:
    """An integer in a msgpack-native form (a decimal string past 64 bits)."""
    if x is None or x.__class__ is str or _I64_LO <= x < _U64_HI:
        return x
    return str(x)


def _narrow(x: Any) -> Any:
    return int(x) if x.__class__ is str else x


def _is_nan(v: Any) -> bool:
    return v.__class__ is float and v != v


def _fsum(values: Sequence[float]) -> float:
    """`math.fsum`, with IEEE results where it raises: inf + -inf is NaN, an overflow inf."""
    try:
        return math.fsum(values)
    except ValueError:
        return math.nan
    except OverflowError:
        return float(sum(values))


def _fkey(v: float) -> tuple[int, float]:
    """DuckDB's float order: NaN above everything."""
    return (1, 0.0) if v != v else (0, v)


_NAN = ("NaN",)  # one distinct value for every NaN, as DuckDB counts them
_NO_DISTINCT: frozenset[Any] = frozenset()  # the distinct slot of a partial that needs none


class _Column:
    """One aggregated column: how its values are stored and read back."""

    __slots__ = ("decode", "encode", "floating", "kind", "name", "scale", "wide")

    def __init__(self, view: str, name: str, data_type: str):
        if not data_type:
            raise DefinitionError(
                f"model `{view}`, column `{name}`: no data_type; declare it in the model's YAML "
                "to serve the window view online (its aggregates are typed)"
            )
        self.name = name
        self.kind = kind = codec.column_kind(view, name, data_type)
        if kind in ("time", "blob"):
            raise DefinitionError(
                f"model `{view}`, column `{name}`: data_type {data_type!r} cannot be aggregated "
                "online by a window view; cast it in the model"
            )
        self.floating = kind == "float"
        self.wide = kind in ("int", "bigint", "decimal")
        self.scale = (decimal_scale(data_type) or 0) if kind == "decimal" else 0
        scale = self.scale
        self.encode: Callable[[Any], Any]
        self.decode: Callable[[Any], Any]
        if kind == "decimal":
            self.encode = lambda v: None if v is None else int(Decimal(v).scaleb(scale))
            self.decode = lambda x: None if x is None else Decimal(f"{x}E-{scale}")
        elif kind == "date":
            self.encode = lambda v: None if v is None else v.toordinal() - _EPOCH_ORDINAL
            self.decode = lambda x: None if x is None else date.fromordinal(_EPOCH_ORDINAL + x)
        elif kind == "timestamp":
            self.encode = lambda v: v  # epoch micros already (the query casts)
            self.decode = lambda x: None if x is None else codec.decode_timestamp(x)
        else:
            self.encode = lambda v: v
            self.decode = lambda x: x


class _Output:
    __slots__ = ("column", "function", "name", "window")

    def __init__(self, name: str, window: int, column: int, function: str):
        self.name, self.window, self.column, self.function = name, window, column, function


class WindowServing:
    """What serving one window view needs, built once from its definition.

    Raises:
        DefinitionError: a key or aggregated column has no declared type, or one that cannot be
            served (naming the model and column).
    """

    def __init__(self, view: WindowView):
        self.view = view
        self.name = view.name
        if not view.version:
            raise DefinitionError(
                f"model `{view.name}`: the manifest has no compiled SQL for this window view; "
                "run `dbt compile` (or `dbt build`) before serving it"
            )
        self.lengths_us = tuple(_micros(d) for d in view.lengths)
        self.after_us = _micros(view.available_after)
        self.horizon_us = _micros(view.horizon)
        self.hop_us = _micros(view.hop) if view.hop else 0
        names = [a.column for a in view.aggregates if a.column != "*"]
        self.columns = tuple(
            _Column(view.name, c, view.column_type(c)) for c in dict.fromkeys(names)
        )
        col_index = {c.name: i for i, c in enumerate(self.columns)}
        win_index = {w: i for i, w in enumerate(view.windows)}
        self.outputs = tuple(
            _Output(a.name, win_index[a.window], col_index.get(a.column, -1), a.function)
            for a in view.aggregates
        )
        self.by_name = {o.name: i for i, o in enumerate(self.outputs)}
        #: per tuple of outputs read together: what reading them needs (`_read_plan`)
        self._read_plans: dict[tuple[int, ...], Any] = {}
        used: list[set[str]] = [set() for _ in self.columns]
        for o in self.outputs:
            if o.column >= 0:
                used[o.column].add("sum" if o.function == "avg" else o.function)
        #: per column: whether sum, min, max, last, distinct values are needed (count always)
        self.needs = tuple(tuple(f in u for f in _NEEDS) for u in used)
        ts_type = view.column_type(view.timestamp)
        if "NS" in ts_type.upper().replace("TIMESTAMPTZ", "").replace("_S", ""):
            raise DefinitionError(
                f"model `{view.name}`, column `{view.timestamp}`: data_type {ts_type!r} has "
                "nanoseconds, and online windows are exact to the microsecond; cast it to "
                "timestamp"
            )
        entity_types = tuple(view.column_type(c) for c in view.entity)
        for c, t in zip(view.entity, entity_types, strict=True):
            if not t:
                raise DefinitionError(
                    f"model `{view.name}`, column `{c}` (an entity key): no data_type; declare "
                    "it in the model's YAML to serve the window view online"
                )
        #: the view as the loader and the key builder see it: one stored column, the record
        self.feature_view = FeatureView(
            name=view.name,
            unique_id=view.unique_id,
            relation_name=view.relation_name,
            entity=view.entity,
            entity_types=entity_types,
            timestamp=view.timestamp,
            ttl=None,
            available_after=view.available_after,
            freshness=None,
            on_stale="null",
            features=(Feature(view.name, STATE, "blob"),),
            version=view.version,
            timestamp_type=ts_type,
        )

    @property
    def checked_view(self) -> FeatureView:
        """The view as the relation type check sees it: keys, time and aggregated columns."""
        features = tuple(
            Feature(self.name, c.name, self.view.column_type(c.name)) for c in self.columns
        )
        return dataclasses.replace(self.feature_view, features=features)

    # -- loading ------------------------------------------------------------------------------

    def lower(self, q: int, w: int) -> int:
        """The (exclusive) lower edge of window `w` at instant `q`: `q - W`, with a hop rounded
        down to a multiple of it since the epoch."""
        x = q - self.lengths_us[w]
        return x - x % self.hop_us if self.hop_us else x

    def _exit(self, ts: int, w: int) -> int:
        """The first instant at which an event at `ts` is no longer in window `w` (its lower
        edge reached it): `ts + W`, with a hop `ceil_H(ts) + W`."""
        if self.hop_us:
            ts += -ts % self.hop_us
        return ts + self.lengths_us[w]

    def spans(self, t0: int) -> list[tuple[int, int, int, bool]]:
        """Per window, for a load at `t0`: (the lowest lower edge of a request from `t0 -
        SLACK` on, the highest up to `t0 + horizon`, `C = t0 - SLACK - available_after`, whether
        the window is bounded: events between those edges and C are in it at every such
        request, so none of them leaves before `t0 + horizon` ends the record's exactness)."""
        p0 = t0 - _SLACK_US
        c = p0 - self.after_us
        out = []
        for w in range(len(self.lengths_us)):
            l_max = self.lower(t0 + self.horizon_us, w)
            out.append((self.lower(p0, w), l_max, c, l_max + 1 < c))
        return out

    def oldest(self, t0: int) -> int:
        """The earliest event time a load at `t0` reads."""
        return min(s[0] for s in self.spans(t0))

    def record(
        self,
        ts: Sequence[int],
        cols: Sequence[Sequence[Any]],
        t0: int,
        absorbed: int = 0,
    ) -> list[Any]:
        """The record of one entity from its events (sorted by time; values in stored form):
        per window its timeline (module docstring)."""
        p0 = t0 - _SLACK_US
        end = t0 + self.horizon_us
        windows: list[Any] = []
        for w, (l_min, l_max, c, bounded) in enumerate(self.spans(t0)):
            first = bisect_right(ts, l_min)  # the events a request from p0 on may hold
            recent = max(bisect_left(ts, c), first)
            if bounded:
                band = bisect_right(ts, l_max)
                middle = self._pack_partial(self._fold([(ts, cols, band, recent)], None))
            else:
                band, middle = recent, None
            points = {p0}
            for i in range(first, band):  # the events the lower edge passes
                points.add(self._exit(ts[i], w))
            for i in range(recent, len(ts)):  # the events the upper edge reaches
                points.add(ts[i] + self.after_us)
                if not bounded:
                    points.add(self._exit(ts[i], w))
            timeline = sorted(p for p in points if not bounded or p <= end)
            states = []
            for p in timeline:
                lo, hi = self.lower(p, w), p - self.after_us
                if bounded:
                    segments = [
                        (ts, cols, bisect_right(ts, lo), band),
                        (ts, cols, recent, bisect_right(ts, hi)),
                    ]
                else:
                    segments = [(ts, cols, bisect_right(ts, lo), bisect_right(ts, hi))]
                states.append(pack_record(self._pack_partial(self._fold(segments, middle))))
            offsets = [0]
            for state in states:
                offsets.append(offsets[-1] + len(state))
            windows.append(
                [end if bounded else None, _int64s(timeline + offsets), b"".join(states)]
            )
        return [FORMAT, t0, absorbed, windows]

    # -- partial aggregates -------------------------------------------------------------------

    def _fold(
        self,
        segments: Iterable[tuple[Sequence[int], Sequence[Sequence[Any]], int, int]],
        middle: list[Any] | None,
        needs: Sequence[tuple[int, tuple[bool, ...]]] | None = None,
    ) -> list[Any]:
        """[events, per column its partial aggregate (`_state`)] of the events in `segments`
        ((ts, columns, from, to) slices) and a `middle` partial (packed, `_pack_partial`).
        `needs`: (column, what it needs) of the columns to aggregate (default: every column,
        with what the view's outputs use, `self.needs`); the others stay None."""
        segs = [seg for seg in segments if seg[3] > seg[2]]
        n = middle[0] if middle is not None else 0
        for seg in segs:
            n += seg[3] - seg[2]
        states: list[Any] = [None] * len(self.columns)
        rows = middle[1] if middle is not None else None
        for ci, need in enumerate(self.needs) if needs is None else needs:
            states[ci] = self._state(ci, need, segs, None if rows is None else rows[ci])
        return [n, states]

    def _state(
        self,
        ci: int,
        needs: tuple[bool, ...],
        segs: Sequence[tuple[Sequence[int], Sequence[Sequence[Any]], int, int]],
        row: list[Any] | None,
    ) -> list[Any]:
        """The partial aggregate `[count, sum, min, max, last ts, last, distinct values]` of
        column `ci` over the non-null values of `segs` (non-empty slices) and a middle's packed
        `row` (or None); only the slots of `needs` (sum, min, max, last, distinct) are computed,
        the others stay as the middle has them. The one aggregation rule of loads and reads:
        DOUBLE sums with `_fsum` over the middle's sum and the values, NaN above everything in
        min/max/last (DuckDB's order), one distinct value for every NaN."""
        col = self.columns[ci]
        want_sum, want_min, want_max, want_last, want_distinct = needs
        if row is None:
            count, total, lo, hi, last_ts, last = 0, None, None, None, None, None
        else:
            count, total, lo, hi, last_ts, last = row[:6]
            if col.wide:
                total, lo, hi, last = _narrow(total), _narrow(lo), _narrow(hi), _narrow(last)
        if len(segs) == 1:
            _ts, cols, i, j = segs[0]
            vals = cols[ci][i:j]
        else:
            vals = []
            for _ts, cols, i, j in segs:
                vals += cols[ci][i:j]
        if None in vals:
            vals = [v for v in vals if v is not None]
        if col.wide and vals and str in set(map(type, vals)):
            vals = [_narrow(v) for v in vals]
        floating = col.floating
        nan = False
        if vals:
            count += len(vals)
            if floating:  # a NaN makes the plain sum NaN (inf - inf too: then just slower)
                s = sum(vals)
                nan = s != s
            if want_sum:
                if floating:
                    total = _fsum(vals if total is None else [total, *vals])
                else:
                    total = sum(vals) + (total or 0)
            if want_min:
                m = min(vals, key=_fkey) if nan else min(vals)
                if lo is not None:
                    m = min(lo, m, key=_fkey) if floating else min(lo, m)
                lo = m
            if want_max:
                m = max(vals, key=_fkey) if nan else max(vals)
                if hi is not None:
                    m = max(hi, m, key=_fkey) if floating else max(hi, m)
                hi = m
            if want_last:
                last_ts, last = self._last(ci, segs, last_ts, last)
        if not want_distinct:
            return [count, total, lo, hi, last_ts, last, _NO_DISTINCT]
        distinct: set[Any] = set()
        if row is not None:
            if col.wide:
                distinct.update(_narrow(d) for d in row[6])
            elif floating:
                distinct.update(_NAN if _is_nan(d) else d for d in row[6])
            else:
                distinct.update(row[6])
        if nan:
            distinct.update(_NAN if v != v else v for v in vals)
        else:
            distinct.update(vals)
        return [count, total, lo, hi, last_ts, last, distinct]

    def _last(
        self,
        ci: int,
        segs: Sequence[tuple[Sequence[int], Sequence[Sequence[Any]], int, int]],
        best_ts: int | None,
        best: Any,
    ) -> tuple[int | None, Any]:
        """(time, value) of `last` over `segs` and a current best: the greatest time of a
        non-null value, then the greatest value at that time (NaN above everything)."""
        col = self.columns[ci]
        key = _fkey if col.floating else None
        for ts, cols, i, j in segs:
            values = cols[ci]
            k = j - 1
            while k >= i and values[k] is None:
                k -= 1
            if k < i:
                continue
            t = ts[k]
            if best_ts is not None and t < best_ts:
                continue
            at_t = [values[k]]
            k -= 1
            while k >= i and ts[k] == t:  # ts is sorted: the other values at that time
                if values[k] is not None:
                    at_t.append(values[k])
                k -= 1
            if col.wide:
                at_t = [_narrow(v) for v in at_t]
            if best_ts == t:
                at_t.append(best)
            best_ts, best = t, (max(at_t, key=key) if key else max(at_t))
        return best_ts, best

    def _pack_partial(self, partial: list[Any]) -> list[Any]:
        n, states = partial
        out = []
        for col, st in zip(self.columns, states, strict=True):
            distinct = [None if d is _NAN else d for d in st[_DISTINCT]]
            if col.floating:
                distinct = [math.nan if d is None else d for d in distinct]
            row = [st[_COUNT], st[_SUM], st[_MIN], st[_MAX], st[_LAST_TS], st[_LAST], distinct]
            if col.wide:
                row = [
                    row[0],
                    _wide(row[1]),
                    _wide(row[2]),
                    _wide(row[3]),
                    row[4],
                    _wide(row[5]),
                    [_wide(d) for d in distinct],
                ]
            out.append(row)
        return [n, out]

    def push_plan(self) -> Any:
        """How events of this view are prepared for a push (built on first use)."""
        from skewless.online.push import _PushPlan

        plan = self.__dict__.get("_push_plan")
        if plan is None:
            plan = self.__dict__["_push_plan"] = _PushPlan(self)
        return plan

    def push_script(self, client: Any) -> Any:
        """`PUSH_SCRIPT` registered with `client` (redis-py loads it on a NOSCRIPT reply)."""
        from skewless.online.push import PUSH_SCRIPT

        cached = self.__dict__.get("_push_script")
        if cached is None or cached[0] is not client:
            cached = self.__dict__["_push_script"] = (client, client.register_script(PUSH_SCRIPT))
        return cached[1]

    def pushed_events(self, blob: bytes, absorbed: int) -> list[tuple[int, list[Any]]] | None:
        """(time, stored values) of the pushed events in a push key's value (`PUSH_SCRIPT`)
        that a record with `absorbed` does not hold. None when some of those are gone: a newer
        load (of another definition version) absorbed and pruned them, so this record cannot be
        completed (its values are refused, never undercounted)."""
        out = []
        for item in msgpack.Unpacker(BytesIO(blob), raw=True):
            seq = item[0]
            if seq == 0:  # the header a prune writes: [0, pruned up to]
                if item[1] > absorbed:
                    return None
            elif seq > absorbed:
                out.append((item[1], msgpack.unpackb(item[2], raw=False)))
        return out

    # -- serving ------------------------------------------------------------------------------

    def evaluate(
        self,
        record: list[Any] | None,
        pushed: Sequence[tuple[int, list[Any]]],
        q: int,
        outputs: tuple[int, ...],
        t0: int,
    ) -> list[Any] | None:
        """The values of `outputs` (indexes into `self.outputs`) at instant `q` (epoch micros),
        from an entity's record (None: the load at `t0` found no events of it) and its pushed
        events not in the record ((ts, values in stored form)). None when they cannot answer
        exactly at `q`: before `t0 - SLACK` (older events were not loaded) or past the
        horizon of a window whose middle is folded."""
        if q < t0 - _SLACK_US:
            return None
        if record is not None and record[0] != FORMAT:
            raise DefinitionError(
                f"window view `{self.name}`: the online record has format {record[0]}, this "
                f"runtime reads {FORMAT}; rematerialize with this version of skewless"
            )
        plan = self._read_plans.get(outputs)
        if plan is None:
            plan = self._read_plans[outputs] = self._read_plan(outputs)
        needed, getters = plan
        if pushed:
            pushed = sorted(pushed, key=lambda p: p[0])
            p_ts = [t for t, _ in pushed]
            p_cols: list[list[Any]] = [
                [v[ci] for _, v in pushed] for ci in range(len(self.columns))
            ]
        else:
            p_ts, p_cols = [], []
        partials = []
        for w, needs in needed:
            partial = self._window(record, p_ts, p_cols, q, w, needs)
            if partial is None:
                return None
            partials.append(partial)
        return [get(partials) for get in getters]

    def _read_plan(
        self, outputs: tuple[int, ...]
    ) -> tuple[list[tuple[int, list[tuple[int, tuple[bool, ...]]]]], list[Callable[[Any], Any]]]:
        """(per window the outputs use: (window, [(column, what it needs)]), per output a
        getter of its value from the windows' partials in that order)."""
        by_window: dict[int, dict[int, set[str]]] = {}
        for oi in outputs:
            o = self.outputs[oi]
            columns = by_window.setdefault(o.window, {})
            if o.column >= 0:
                columns.setdefault(o.column, set()).add(
                    "sum" if o.function == "avg" else o.function
                )
        needed = [
            (w, [(ci, tuple(f in fs for f in _NEEDS)) for ci, fs in columns.items()])
            for w, columns in by_window.items()
        ]
        at = {w: i for i, (w, _) in enumerate(needed)}
        return needed, [
            self._getter(self.outputs[oi], at[self.outputs[oi].window]) for oi in outputs
        ]

    def _getter(self, o: _Output, p: int) -> Callable[[list[Any]], Any]:
        """The value of output `o` from the partials of a read (its window's at `p`)."""
        if o.column < 0:
            return lambda partials: partials[p][0]
        ci, fn, col = o.column, o.function, self.columns[o.column]
        if fn == "count":
            return lambda partials: partials[p][1][ci][_COUNT]
        if fn == "count_distinct":
            return lambda partials: len(partials[p][1][ci][_DISTINCT])
        if fn == "avg":
            scale = 1 if col.floating else 10**col.scale  # int / int: correctly rounded

            def avg(partials: list[Any]) -> Any:
                st = partials[p][1][ci]
                return st[_SUM] / (st[_COUNT] * scale) if st[_COUNT] else None

            def avg_wide(partials: list[Any]) -> Any:  # a sum past 64 bits is packed as text
                st = partials[p][1][ci]
                return _narrow(st[_SUM]) / (st[_COUNT] * scale) if st[_COUNT] else None

            return avg_wide if col.wide else avg
        # (sum, min, max and last are None in a partial without a non-null value: no check)
        slot = {"sum": _SUM, "min": _MIN, "max": _MAX, "last": _LAST}[fn]
        if col.kind in ("decimal", "date", "timestamp"):
            decode = col.decode  # (None stays None; a DECIMAL's decode reads a wide text too)
            return lambda partials: decode(partials[p][1][ci][slot])
        if col.wide:  # a packed partial holds integers past 64 bits as text
            return lambda partials: _narrow(partials[p][1][ci][slot])
        return lambda partials: partials[p][1][ci][slot]

    def _window(
        self,
        record: list[Any] | None,
        p_ts: list[int],
        p_cols: list[list[Any]],
        q: int,
        w: int,
        needs: Sequence[tuple[int, tuple[bool, ...]]],
    ) -> list[Any] | None:
        """Window `w`'s partial at `q`: the record's state in force at `q` (packed form) and the
        pushed events in the window folded in; None past the record's exactness."""
        state = None
        if record is not None:
            until, ints, states = record[3][w]
            if until is not None and q > until:
                return None
            ints = _read_int64s(ints)  # the n instants, then the n + 1 offsets
            n = len(ints) >> 1
            i = bisect_right(ints, q, 0, n) - 1
            state = _unpackb(states[ints[n + i] : ints[n + i + 1]])
            if not p_ts:
                return state  # type: ignore[no-any-return]
        lo = self.lower(q, w)
        segment = (p_ts, p_cols, bisect_right(p_ts, lo), bisect_right(p_ts, q - self.after_us))
        return self._fold([segment], state, needs)


@functools.lru_cache(maxsize=256)
def window_serving(view: WindowView) -> WindowServing:
    """The (cached) `WindowServing` of a window view definition."""
    return WindowServing(view)


def pack_record(record: list[Any]) -> bytes:
    return msgpack.packb(record, use_bin_type=True)  # type: ignore[no-any-return]


def unpack_record(blob: bytes) -> list[Any]:
    return msgpack.unpackb(blob, raw=False, strict_map_key=False)  # type: ignore[no-any-return]


def events_by_entity(
    batches: Iterable[Any], serving: WindowServing
) -> Iterator[tuple[tuple[Any, ...], list[int], list[list[Any]], list[str]]]:
    """(entity key values, event times, per aggregated column its stored values, event ids —
    empty without `event_id`) per entity, from Arrow batches of `events_sql` (ordered by the
    keys, then the time)."""
    nkeys = len(serving.view.entity)
    encoders = [c.encode for c in serving.columns]
    with_ids = bool(serving.view.event_id)
    current: tuple[Any, ...] | None = None
    ts: list[int] = []
    ids: list[str] = []
    cols: list[list[Any]] = [[] for _ in serving.columns]
    for batch in batches:
        data = [c.to_pylist() for c in batch.columns]
        keys = list(zip(*data[:nkeys], strict=True))
        stamps = data[nkeys]
        values = [[enc(v) for v in data[nkeys + 1 + i]] for i, enc in enumerate(encoders)]
        batch_ids = data[-1] if with_ids else None
        for r, key in enumerate(keys):
            if key != current:
                if current is not None:
                    yield current, ts, cols, ids
                current, ts, ids, cols = key, [], [], [[] for _ in serving.columns]
            ts.append(stamps[r])
            if batch_ids is not None:
                ids.append(batch_ids[r])
            for ci, vals in enumerate(values):
                cols[ci].append(vals[r])
    if current is not None:
        yield current, ts, cols, ids


# ---------------------------------------------------------------------------------------------
# Loading (`skewless materialize`)


def events_sql(serving: WindowServing, reader: Any, since_us: int) -> str:
    """The events a load at some t0 reads: keys, `__skw_t` (an instant) and the aggregated
    columns of every event with no null key or time at or after `since_us`, ordered by the keys
    and the time (so one entity's events arrive together)."""
    from skewless.offline import LatestWindow

    view = serving.view
    q = reader.quote
    window = getattr(reader, "latest_window", LatestWindow)
    ts = f"CAST({q(view.timestamp)} AS {window.ts_type})"
    if not view.relation_name:
        raise DefinitionError(
            f"model `{view.name}` has no relation_name in the manifest (ephemeral?); "
            "materialize it as a table or view"
        )
    keys_sql = [q(c) for c in view.entity]
    where = [f"{k} IS NOT NULL" for k in keys_sql]
    where += [f"{q(view.timestamp)} IS NOT NULL", f"{ts} >= {window.literal(since_us)}"]
    cols = [q(c.name) for c in serving.columns]
    if view.event_id:
        cols.append(f"CAST({q(view.event_id)} AS {window.text_type}) AS __skw_id")
    return (
        f"SELECT {', '.join([*keys_sql, f'{ts} AS __skw_t', *cols])}\n"
        f"FROM {view.relation_name}\nWHERE {' AND '.join(where)}\n"
        f"ORDER BY {', '.join([*keys_sql, '__skw_t'])}"
    )


def _micros_columns(batch: Any, positions: Sequence[int]) -> Any:
    """`batch` with its timestamp columns at `positions` as int64 epoch micros."""
    import pyarrow as pa

    columns = list(batch.columns)
    for i in positions:
        col = columns[i]
        if pa.types.is_timestamp(col.type):
            if col.type.unit != "us":
                col = col.cast(pa.timestamp("us", col.type.tz))
            columns[i] = col.cast(pa.int64())
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def t0_key(view: str, generation: bytes) -> bytes:
    """`skw:{<view>}:t0:<generation>` → msgpack `["", t0]`: the instant a window view's
    generation was loaded at (a view name has no `:`, so no entity encoding looks like it)."""
    return b"skw:{%s}:t0:%s" % (view.encode(), generation)


def _merge_pushed(
    serving: WindowServing,
    ts: list[int],
    cols: list[list[Any]],
    ids: list[str],
    pushed: tuple[int, list[Any]],
) -> tuple[list[int], list[list[Any]], int]:
    """An entity's loaded events plus its pushed ones the relation does not hold (by event id).
    → (times, columns, the push seq the record absorbs)."""
    seq, events = pushed
    have = set(ids)
    extra = [
        (e[1], msgpack.unpackb(e[2], raw=False))
        for e in events
        if e[0] <= seq and e[3].decode() not in have
    ]
    if not extra:
        return ts, cols, seq
    rows = sorted([(t, [c[i] for c in cols]) for i, t in enumerate(ts)] + extra, key=lambda r: r[0])
    ncols = len(serving.columns)
    return [t for t, _ in rows], [[v[ci] for _, v in rows] for ci in range(ncols)], seq


def _frames(
    serving: WindowServing,
    entities: Iterable[tuple[tuple[Any, ...], list[int], list[list[Any]], list[str]]],
    pushed: dict[bytes, tuple[int, list[Any]]],
    t0: int,
    tail: bytes,
    guard_ms: int,
    chunk: int,
    cluster: bool = False,
) -> Iterator[Any]:
    """Arrow batches in the loader's form (`materialize._write`): on a plain Redis framed (the
    SET head, the key as a RESP bulk string, the PX tail), on a cluster the key as is
    (`_ClusterWriter`); then the entity's latest event time and its packed record. Pushed
    events (`read_pushes`) are merged in; an entity with only pushed events gets a record too
    (it says which pushes it absorbed). The last row is the load instant (`t0_key`), stored as
    `["", t0]` like a record `[record, latest event time]`."""
    import pyarrow as pa

    from skewless.online.keys import KeyBuilder

    builder = KeyBuilder(serving.feature_view)
    names = serving.view.entity
    px = str(guard_ms).encode()
    px_tail = b"\r\n$2\r\nPX\r\n$%d\r\n%s\r\n" % (len(px), px)
    keys_: list[bytes] = []
    stamps: list[int] = []
    states: list[bytes] = []
    left = dict(pushed)

    def batch() -> Any:
        if cluster:
            columns = [pa.array(keys_, pa.binary())]
            names_ = ["__skw_key"]
        else:
            bulks = [b"$%d\r\n%s\r\n" % (len(k), k) for k in keys_]
            columns = [
                pa.array([b"*5\r\n$3\r\nSET\r\n" + b for b in bulks], pa.binary()),
                pa.array(bulks, pa.binary()),
                pa.array([px_tail] * len(bulks), pa.binary()),
            ]
            names_ = ["__skw_set", "__skw_arg", "__skw_px"]
        columns += [pa.array(stamps, pa.int64()), pa.array(states, pa.binary())]
        out = pa.RecordBatch.from_arrays(columns, names=[*names_, "__skw_ts", STATE])
        for buffer in (keys_, stamps, states):
            buffer.clear()
        return out

    def add(entity: bytes, ts: list[int], cols: list[list[Any]], absorbed: int) -> None:
        keys_.append(b"skw:{" + entity + tail)
        stamps.append(ts[-1] if ts else t0)
        states.append(pack_record(serving.record(ts, cols, t0, absorbed)))

    for key_values, ts, cols, ids in entities:
        entity = builder.entity(dict(zip(names, key_values, strict=True)))
        absorbed = 0
        mine = left.pop(entity, None)
        if mine is not None:
            ts, cols, absorbed = _merge_pushed(serving, ts, cols, ids, mine)
        add(entity, ts, cols, absorbed)
        if len(keys_) >= chunk:
            yield batch()
    for entity, mine in left.items():
        ts, cols, absorbed = _merge_pushed(serving, [], [[] for _ in serving.columns], [], mine)
        add(entity, ts, cols, absorbed)
        if len(keys_) >= chunk:
            yield batch()
    # the load instant, which a read of an entity without a record needs (`t0_key`)
    keys_.append(t0_key(serving.name, tail.rpartition(b":")[2]))
    stamps.append(t0)
    states.append(b"")
    yield batch()


def load(
    serving: WindowServing,
    reader: Any,
    client: Any,
    lease: Any,
    *,
    now_us: int,
    chunk_rows: int,
    progress: Any,
    redis_url: str,
    keep: int,
    unfinished_ttl: float,
) -> Any:
    """One full load of a window view under its lease (`materialize.materialize_window`): a new
    generation holding one record per entity with events since `serving.oldest(now_us)` or
    pushed events, flipped in when complete; then the absorbed pushes are pruned.

    The relation's query starts before the push keys are read, so an event pushed (and logged)
    after that read is in neither the relation nor the record: it stays served from its push
    key. One pushed before it is absorbed, once: the record skips pushed events whose id the
    relation holds."""
    import time

    from skewless.online import generations, keys
    from skewless.online.generations import _is_cluster
    from skewless.online.materialize import _write
    from skewless.online.push import prune_pushes, read_pushes

    t_start = time.perf_counter()
    view = serving.feature_view
    fence = lease.value
    meta = {k.decode(): v.decode() for k, v in client.hgetall(keys.meta_key(view.name)).items()}
    current = client.get(keys.pointer_key(view.name, view.version))
    discarded = generations.discard_unfinished(client, fence, view.name)
    gen = generations.register(client, fence, view.name, view.version)
    guard_ms = int(unfinished_ttl * 1000)
    sql = events_sql(serving, reader, serving.oldest(now_us))
    nkeys = len(serving.view.entity)
    ts_positions = [nkeys] + [
        nkeys + 1 + i for i, c in enumerate(serving.columns) if c.kind == "timestamp"
    ]
    keys_sql = ", ".join(reader.quote(c) for c in serving.view.entity)
    count_sql = (
        f"SELECT count(*) FROM (SELECT DISTINCT {keys_sql} FROM ({sql}) AS __skw_e) AS __skw_n"
    )
    total = 0
    for b in reader.query(count_sql, 10):
        total = int(b.column(0)[0].as_py()) if b.num_rows else 0
    stream = iter(reader.query(sql, chunk_rows))
    first = next(stream, None)  # the query runs: what it reads is fixed before pushes are read
    pushed = read_pushes(serving, client)
    cluster = _is_cluster(client)
    batches = (_micros_columns(b, ts_positions) for b in _chain_first(first, stream))
    rows = _frames(
        serving,
        events_by_entity(batches, serving),
        pushed,
        now_us,
        keys.data_key_tail(view.name, gen),
        guard_ms,
        chunk_rows,
        cluster,
    )
    result = _write(
        view, reader, client, lease, rows, total + len(pushed), gen, current, meta, "full",
        discarded, now_us=now_us, ttl_ms=None, progress=progress, redis_url=redis_url,
        keep=keep, cluster=cluster, t0=t_start, guard_ms=guard_ms,
    )  # fmt: skip
    result.rows -= 1  # the load-instant key: rows are the entities' records
    prune_pushes(serving, client, pushed)
    return result


def _chain_first(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    if first is not None:
        yield first
    yield from rest
