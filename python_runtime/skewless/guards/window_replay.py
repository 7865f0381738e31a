"""The replay of served window-view values (`skewless consistency --replay`, docs/windows.md).

Each logged row's window outputs are recomputed in DuckDB over the view's relation at the logged
serving instant q, by the window contract: the events of the entity with
`q - W < timestamp <= q - available_after` (with a `hop` H, `floor_H(q - W) < timestamp`), NULL
values ignored, `last` the value of the latest
event with a non-null value (the greatest among ties). One SQL statement for all rows of a
view: the logged (row, keys, q) triples are registered as a table, LEFT JOINed to the events
of the widest window, and grouped with one filtered aggregate per output.

Comparison: exact, except DOUBLE sums and averages, equal within the documented bound
`|served - offline| <= 1e-12 × Σ|x|` (Σ over the window's non-null values, computed by the same
statement; summation order is each side's own). A value served with status `stale` (the load
was older than the view's horizon) is compared with NULL, what a correct server serves then;
the status counts show such rows.

On PostgreSQL or Spark the events the replay needs (those from `min(q) - widest window - hop`
on) are read through the engine's reader with the load's own query (`online.windows.events_sql`)
into an in-memory DuckDB, and recomputed there by the same statement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from skewless.definitions.windows import _FLOATS, WindowView, decimal_scale
from skewless.guards.consistency import _key_text, _q
from skewless.offline import _micros as _us

__all__ = ["DOUBLE_BOUND", "engine_events", "window_rows", "within_bound"]

#: |served - offline| <= DOUBLE_BOUND × Σ|x| for DOUBLE sums and averages (docs/windows.md).
DOUBLE_BOUND = 1e-12


def is_double(view: WindowView, column: str) -> bool:
    return view.column_type(column).strip().upper() in _FLOATS


def engine_events(reader: Any, view: WindowView, since: datetime) -> tuple[Any, Any, str, str]:
    """The view's events from `since` on, read by another engine's reader (PostgreSQL, Spark)
    with the load's query into a new in-memory DuckDB session (UTC). → (the session, the Arrow
    table registered in it, its name, its event time column)."""
    import duckdb
    import pyarrow as pa

    from skewless.online import codec
    from skewless.online.windows import events_sql, window_serving

    sql = events_sql(window_serving(view), reader, _us(since - codec.EPOCH))
    batches = list(reader.query(sql, 100_000))
    table = pa.Table.from_batches(batches) if batches else None
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    name = f"__skw_wevents_{view.name}"
    if table is None:  # no event: an empty relation of the view's columns
        cols = ", ".join(
            f"NULL::{view.column_type(c) or 'VARCHAR'} AS {_q(c)}"
            for c in dict.fromkeys([*view.entity, *(a.column for a in view.aggregates)])
            if c != "*"
        )
        con.execute(f"CREATE TABLE {name} AS SELECT {cols}, NULL::TIMESTAMPTZ AS __skw_t LIMIT 0")
    else:
        con.register(name, table)
    return con, table, name, "__skw_t"


def window_rows(
    con: Any,
    view: WindowView,
    spine: Sequence[tuple[Mapping[str, Any], datetime]],
    relation: str | None = None,
    timestamp: str | None = None,
) -> list[dict[str, Any]]:
    """Per `(entity, q)` of `spine`, in order: every output of `view` at q, plus for each
    average and DOUBLE sum `__abs_<output>` (Σ|x|) and `__n_<output>` (the count), for the bound
    (`within_bound`) — computed by DuckDB (`con`, where the view's relation resolves, or
    `relation` with the event time in `timestamp`: `engine_events`)."""
    import pyarrow as pa

    if not spine:
        return []
    after = _us(view.available_after)
    widest = max(_us(d) for d in view.lengths)
    length = {a.window: _us(a.length) for a in view.aggregates}
    hop = _us(view.hop) if view.hop else 0

    def lower(width: int) -> str:  # the lower edge at s.__q, floored to the hop (mod >= 0)
        x = f"(s.__q - {width})"
        return f"({x} - (({x} % {hop}) + {hop}) % {hop})" if hop else x

    keys = list(view.entity)
    table = pa.table(
        {
            "__i": pa.array(range(len(spine)), pa.int64()),
            **{
                c: pa.array(
                    [None if e.get(c) is None else _key_text(e.get(c)) for e, _ in spine],
                    pa.string(),
                )
                for c in keys
            },
            "__at": pa.array([at for _, at in spine], pa.timestamp("us", tz="UTC")),
        }
    )
    cast = ", ".join(
        f"TRY_CAST({_q(c)} AS {view.column_type(c) or 'VARCHAR'}) AS {_q(c)}" for c in keys
    )
    columns = sorted({a.column for a in view.aggregates if a.column != "*"})
    ts = _q(timestamp or view.timestamp)
    events = (
        f"SELECT {', '.join(_q(c) for c in keys)}, "
        f"epoch_us(CAST({ts} AS TIMESTAMPTZ)) AS __t"
        + "".join(f", {_q(c)}" for c in columns)
        + f" FROM {relation or view.relation_name} WHERE {ts} IS NOT NULL"
    )
    on = " AND ".join(f"s.{_q(c)} = e.{_q(c)}" for c in keys)
    selects = []
    for a in view.aggregates:
        inside = f"e.__t > {lower(length[a.window])}"
        col = f"e.{_q(a.column)}"
        fn = a.function
        if a.column == "*":
            expr = f"count(e.__t) FILTER (WHERE {inside})"
        elif fn == "count":
            expr = f"count({col}) FILTER (WHERE {inside})"
        elif fn == "count_distinct":
            expr = f"count(DISTINCT {col}) FILTER (WHERE {inside})"
        elif fn == "last":
            expr = (
                f"(max(struct_pack(t := e.__t, v := {col})) FILTER "
                f"(WHERE {inside} AND {col} IS NOT NULL)).v"
            )
        elif fn == "sum":
            scale = decimal_scale(view.column_type(a.column))
            expr = f"sum({col}) FILTER (WHERE {inside})"
            if scale is not None:  # DuckDB sums DECIMAL(p,s) as DECIMAL(38,s), as window_join
                expr = f"CAST({expr} AS DECIMAL(38,{scale}))"
        else:  # avg min max
            expr = f"{fn}({col}) FILTER (WHERE {inside})"
        selects.append(f"{expr} AS {_q(a.name)}")
        if fn == "avg" or (fn == "sum" and is_double(view, a.column)):
            selects.append(
                f"sum(abs(CAST({col} AS DOUBLE))) FILTER (WHERE {inside}) "
                f"AS {_q('__abs_' + a.name)}"
            )
            selects.append(f"count({col}) FILTER (WHERE {inside}) AS {_q('__n_' + a.name)}")
    name = f"__skw_wspine_{view.name}"
    sql = (
        f"WITH s AS (SELECT __i, epoch_us(__at) AS __q, {cast} FROM {name}), "
        f"e AS ({events}) "
        f"SELECT s.__i, {', '.join(selects)} FROM s LEFT JOIN e ON {on} "
        f"AND e.__t > {lower(widest)} AND e.__t <= s.__q - {after} "
        f"GROUP BY s.__i ORDER BY s.__i"
    )
    con.register(name, table)
    try:
        cur = con.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.unregister(name)


def within_bound(
    served: Any, offline: Any, row: Mapping[str, Any], output: str, average: bool
) -> bool:
    """Whether a served average or DOUBLE sum is within the documented bound of the offline one:
    `|served - offline| <= 1e-12 × Σ|x|` (an average: divided by the count)."""
    total = row.get("__abs_" + output)
    if total is None or served is None or offline is None:
        return False
    try:
        diff = abs(float(served) - float(offline))
    except (TypeError, ValueError):
        return False
    n = row.get("__n_" + output) or 1
    bound = DOUBLE_BOUND * float(total) / (n if average else 1)
    return diff <= bound
