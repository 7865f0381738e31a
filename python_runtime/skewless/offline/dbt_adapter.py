"""Reading what dbt built on any adapter, through the dbt adapter's own connection.

reader = DbtAdapterReader.open("path/to/dbt_project", profiles_dir=None, target="prod")
reader.check_relation_types(views)      # declared data_type == the adapter's get_columns_in_relation
total, batches = reader.latest_rows(view, visible_us=..., since_us=None, chunk_rows=5000)

The generic path: dbt itself renders the profile (every Jinja dbt allows in `profiles.yml`),
opens the connection with the project's own adapter (dbt-snowflake, dbt-bigquery, …) and reads
the built columns with the adapter's `get_columns_in_relation`. Queries run through the
connection's DB-API cursor and come back in `fetchmany(chunk_rows)` slices, which become Arrow
record batches typed exactly by the declared `data_type`s: a value that does not fit its
declared type (3.4 in a `bigint`, 5 decimal places in a `numeric(18,4)`) is an error naming the
model and column, never a rounded value. Only the result of the in-engine "latest row per
entity" query travels. It is row-at-a-time Python on the client side, so slower than the
Arrow-native readers (DuckDB, PostgreSQL's ADBC, Spark): `reader_from_profile` picks it for
adapters that have no native reader, or when asked (`reader="dbt"`, `SKEWLESS_READER=dbt`).

Each adapter needs three facts skewless cannot guess — the type an instant is compared as, how
the session is put in UTC (so a naive timestamp reads as UTC, as the point-in-time join reads
it) and how text compares byte-wise — kept in `DIALECTS`. An adapter missing from it is refused
with that message rather than read with guessed semantics. Tested here against real databases:
`postgres` and `duckdb` (see docs/engines.md); the others follow their documentation and are
marked untested.

Secrets: dbt holds the credentials; no message or repr of this module shows them (the
credentials' own repr does: it is never formatted).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from skewless.definitions import FeatureView
from skewless.errors import ColumnTypeError, ManifestError, SkewlessError
from skewless.offline import LatestWindow, _micros
from skewless.offline.duckdb import canonical_type, check_relation_types_from

__all__ = ["DIALECTS", "DbtAdapterReader", "Dialect", "arrow_type"]

UTC = timezone.utc


@dataclass(frozen=True)
class Dialect:
    """What the generic reader must know of an adapter's SQL (see the module docstring)."""

    #: the type an instant is compared as (every timestamp is cast to it)
    ts_type: str
    #: statements run once per session: make it UTC
    session: tuple[str, ...]
    #: appended to text features in ORDER BY where the default order is not byte-wise
    text_collation: str = ""
    #: whether string literals treat a backslash as an escape (it is then doubled)
    backslash_escapes: bool = False
    #: run against a real database in this project's tests
    tested: bool = False


DIALECTS: dict[str, Dialect] = {
    "postgres": Dialect(
        "TIMESTAMP WITH TIME ZONE", ("SET TIME ZONE 'UTC'",), ' COLLATE "C"', tested=True
    ),
    "duckdb": Dialect("TIMESTAMP WITH TIME ZONE", ("SET TimeZone = 'UTC'",), tested=True),
    "redshift": Dialect("TIMESTAMPTZ", ("SET timezone TO 'UTC'",)),
    "snowflake": Dialect("TIMESTAMP_TZ", ("ALTER SESSION SET TIMEZONE = 'UTC'",)),
    "bigquery": Dialect("TIMESTAMP", (), backslash_escapes=True),
    "trino": Dialect("TIMESTAMP(6) WITH TIME ZONE", ("SET TIME ZONE 'UTC'",)),
    "databricks": Dialect("TIMESTAMP", ("SET TIME ZONE 'UTC'",), backslash_escapes=True),
}

# dbt's adapter registry is one per process (keyed by adapter type): one generic reader at a time
_OPEN = threading.Lock()


def arrow_type(view: str, column: str, declared: str | None) -> Any:
    """The Arrow type a declared `data_type` is read as (None: inferred from the values).

    Raises:
        DefinitionError: the type cannot be served (naming model, column and type).
    """
    import pyarrow as pa

    from skewless.online import codec

    if not declared:
        return None
    kind = codec.column_kind(view, column, declared)
    canon = canonical_type(declared)
    if kind == "decimal":
        m = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", canon)
        p, s = (int(m.group(1)), int(m.group(2))) if m else (18, 3)
        return pa.decimal128(p, s) if p <= 38 else pa.decimal256(p, s)
    if kind == "timestamp":
        aware = "TIME ZONE" in canon or canon.endswith(("TZ", "LTZ"))
        return pa.timestamp("us", tz="UTC") if aware else pa.timestamp("us")
    return {
        "int": pa.int64(),
        "bigint": pa.decimal128(38, 0),
        "float": pa.float64(),
        "str": pa.string(),
        "bool": pa.bool_(),
        "date": pa.date32(),
        "time": pa.time64("us"),
        "blob": pa.binary(),
    }[kind]


def split_relation(relation: str) -> list[str]:
    """`"db"."schema"."table"` (or backticks, or bare) → its parts, unquoted."""
    parts: list[str] = []
    i, n = 0, len(relation)
    while i < n:
        q = relation[i]
        if q in '"`':
            j, buf = i + 1, []
            while j < n:
                if relation[j] == q and j + 1 < n and relation[j + 1] == q:
                    buf.append(q)
                    j += 2
                elif relation[j] == q:
                    break
                else:
                    buf.append(relation[j])
                    j += 1
            parts.append("".join(buf))
            i = j + 1
        else:
            j = relation.find(".", i)
            j = n if j < 0 else j
            parts.append(relation[i:j].strip())
            i = j
        if i < n and relation[i] == ".":
            i += 1
    return parts


class DbtAdapterReader:
    """`offline.OfflineReader` over a dbt adapter's connection (see the module docstring)."""

    def __init__(self, adapter: Any, config: Any, dialect: Dialect, where: str):
        self.adapter = adapter
        self.config = config
        self.dialect = dialect
        self.engine = str(adapter.type())
        self.where = where
        self._quote_char = adapter.quote("x")[0]
        self._cm: Any = None
        self._closed = False

    def __repr__(self) -> str:
        return f"DbtAdapterReader({self.where})"

    @classmethod
    def open(
        cls,
        project_dir: str | Path,
        profiles_dir: str | Path | None = None,
        target: str | None = None,
        *,
        adapter_type: str | None = None,
    ) -> DbtAdapterReader:
        """Open the project's profile target with dbt (rendered by dbt: env vars and all).

        Raises:
            ManifestError: dbt or the adapter is not installed, the adapter has no entry in
                `DIALECTS`, the profile does not render, or the connection fails (the message
                names the project and target, never a secret).
        """
        if adapter_type is not None and adapter_type not in DIALECTS:
            raise _unsupported(adapter_type, f"{project_dir}, target `{target}`")
        if not _OPEN.acquire(blocking=False):
            raise SkewlessError(
                "another dbt-adapter reader is open in this process (dbt keeps one adapter per "
                "type per process); close it first"
            )
        try:
            return cls._open(Path(project_dir), profiles_dir, target)
        except BaseException:
            _OPEN.release()
            raise

    @classmethod
    def _open(
        cls, project: Path, profiles_dir: str | Path | None, target: str | None
    ) -> DbtAdapterReader:
        import os
        from argparse import Namespace

        try:
            from dbt.adapters.factory import get_adapter, register_adapter, reset_adapters
            from dbt.config.runtime import RuntimeConfig
            from dbt.context.providers import generate_runtime_macro_context
            from dbt.flags import set_from_args
            from dbt.mp_context import get_mp_context
            from dbt.parser.manifest import ManifestLoader
            from dbt_common.context import set_invocation_context
            from dbt_common.events.event_manager_client import cleanup_event_logger
        except ImportError as e:
            raise ManifestError(
                f"reading through the dbt adapter needs dbt-core and the project's adapter "
                f"installed ({e}); pip install 'skewless[dbt]' and your dbt adapter"
            ) from None
        where = f"dbt project {project}, target `{target or 'default'}`"
        profiles = str(profiles_dir) if profiles_dir else os.environ.get("DBT_PROFILES_DIR")
        args = Namespace(
            project_dir=str(project),
            profiles_dir=profiles or str(project),
            target=target,
            threads=1,
            vars={},
            profile=None,
        )
        cleanup_event_logger()  # dbt would print "Registered adapter …" on stdout
        try:
            set_invocation_context(dict(os.environ))
            set_from_args(args, None)
            config = RuntimeConfig.from_args(args)
        except Exception as e:  # dbt's own messages name files and keys, not values
            raise ManifestError(f"{where}: dbt cannot load the project: {_first(e)}") from None
        kind = str(config.credentials.type)
        dialect = DIALECTS.get(kind)
        if dialect is None:
            raise _unsupported(kind, where)
        where = f"{kind} via dbt ({where.removeprefix('dbt ')})".replace(
            f"target `{target or 'default'}`", f"target `{config.target_name}`"
        )
        try:
            reset_adapters()
            register_adapter(config, get_mp_context())
            adapter = get_adapter(config)
            macros = ManifestLoader.load_macros(
                config, adapter.connections.set_query_header, base_macros_only=True
            )
            adapter.set_macro_resolver(macros)
            adapter.set_macro_context_generator(generate_runtime_macro_context)
        except Exception as e:
            raise ManifestError(f"{where}: dbt cannot load the adapter: {_first(e)}") from None
        reader = cls(adapter, config, dialect, where)
        try:
            reader._cm = adapter.connection_named("skewless")
            reader._cm.__enter__()
            for statement in dialect.session:
                reader._run(statement, "setting the session up")
        except BaseException:
            reader._release(unlock=False)  # `open` unlocks
            raise
        return reader

    # -- types ------------------------------------------------------------------------------

    def quote(self, name: str) -> str:
        q = self._quote_char
        return q + name.replace(q, q + q) + q

    def column_types(self, view: FeatureView) -> dict[str, str]:
        return self.relation_types(view.relation_name or "", view.name)

    def relation_types(self, relation: str, model: str) -> dict[str, str]:
        """Any relation's columns → the adapter's type names (`get_columns_in_relation`).

        Raises:
            ManifestError: the relation does not exist (not built).
        """
        parts = split_relation(relation)
        names = dict(zip(("identifier", "schema", "database"), reversed(parts), strict=False))
        try:
            rel = self.adapter.Relation.create(**names)
            cols = self.adapter.get_columns_in_relation(rel)
        except Exception as e:
            raise self._fail(f"model `{model}`: reading the columns of {relation}", e) from None
        if not cols:
            raise ManifestError(
                f"model `{model}`: {relation} does not exist in {self.where} — is the model "
                f"built (`dbt build -s {model}`)?"
            )
        return {str(c.name): _type_name(c) for c in cols}

    def check_relation_types(self, views: Iterable[FeatureView]) -> None:
        check_relation_types_from(self.column_types, views)

    # -- reads ------------------------------------------------------------------------------

    def _window(self, view: FeatureView, visible_us: int, since_us: int | None) -> LatestWindow:
        d = self.dialect
        reader = self

        class Window(LatestWindow):
            ts_type = d.ts_type

            @staticmethod
            def quote(name: str) -> str:
                return reader.quote(name)

            @staticmethod
            def literal(micros: int) -> str:
                return reader.instant(micros)

        return Window(view, visible_us, since_us)

    def instant(self, micros: int) -> str:
        """An instant (epoch micros) as a literal of the dialect's `ts_type`."""
        ts = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)
        return f"CAST('{ts.strftime('%Y-%m-%d %H:%M:%S.%f')}+00:00' AS {self.dialect.ts_type})"

    def latest_rows_sql(self, view: FeatureView, visible_us: int, since_us: int | None) -> str:
        """The latest row per entity (`offline.LatestWindow`) with ROW_NUMBER (no QUALIFY)."""
        return self._window(view, visible_us, since_us).row_number_sql(self.dialect.text_collation)

    def latest_rows(
        self, view: FeatureView, *, visible_us: int, since_us: int | None, chunk_rows: int
    ) -> tuple[int, Iterator[Any]]:
        """(row count, Arrow batches typed by the declared types). The count is a second query
        over the same selection (the loader's progress needs it before the first row)."""
        sql = self.latest_rows_sql(view, visible_us, since_us)
        what = f"model `{view.name}`: querying {view.relation_name}"
        (total,) = self._rows(f"SELECT COUNT(*) FROM ({sql}) __skw_latest", what)[0]
        types = self._types(view, with_index=False)
        return int(total), self._stream(sql, chunk_rows, what, view.name, types)

    def point_in_time(
        self, view: FeatureView, spine: Sequence[tuple[Mapping[str, Any], datetime]]
    ) -> Iterator[Any]:
        """Arrow batches, one row per `(entity, at)` of `spine` in order (`__i`), with the rule of
        `guards.consistency.pit_rows` (see `offline.postgres.PostgresReader.point_in_time`). The
        spine travels inside the SQL (UNION ALL of literals, 200 rows a query); the join runs in
        the engine."""
        from skewless.offline.postgres import _typed_key
        from skewless.online.keys import canonical_key_kind

        types = self._types(view, with_index=True)
        w = self._window(view, 0, None)
        q = self.quote
        after = view.available_after or timedelta(0)
        keys = list(zip(view.entity, view.entity_types, strict=True))
        kinds = [canonical_key_kind(view.name, c, t) for c, t in keys]
        what = f"model `{view.name}`: the point-in-time rows of {view.relation_name}"
        for start in range(0, len(spine), 200):
            rows = []
            for i, (entity, at) in enumerate(spine[start : start + 200], start):
                at_us = _micros(at.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC))
                cells = [f"{i} AS __i"]
                for (c, t), kind in zip(keys, kinds, strict=True):
                    lit = self._literal(kind, _typed_key(kind, entity.get(c)))
                    cells.append(f"CAST({lit} AS {t})" if t else lit)
                    cells[-1] += f" AS {q(c)}"
                cells.append(f"{self.instant(at_us - _micros(after))} AS __skw_hi")
                if view.ttl is not None:
                    cells.append(f"{self.instant(at_us - _micros(view.ttl))} AS __skw_lo")
                rows.append("SELECT " + ", ".join(cells))
            feats = [q(f.name) for f in view.features]
            on = " AND ".join(f"s.{q(c)} = f.{q(c)}" for c, _ in keys)
            order = ", ".join(
                o.replace(q(f.name), f"f.{q(f.name)}", 1)
                for o, f in zip(
                    w.order(self.dialect.text_collation)[1:], view.features, strict=True
                )
            )
            lo = " AND f.__skw_ts >= s.__skw_lo" if view.ttl is not None else ""
            sql = (
                "SELECT __i, __skw_ts" + "".join(", " + f for f in feats) + " FROM (\n"
                f"SELECT s.__i, CASE WHEN f.__skw_ts IS NOT NULL{lo} THEN f.__skw_ts END "
                "AS __skw_ts" + "".join(", f." + f for f in feats) + ", ROW_NUMBER() OVER "
                f"(PARTITION BY s.__i ORDER BY f.__skw_ts DESC NULLS LAST"
                f"{', ' + order if order else ''}) AS __skw_rn\n"
                f"FROM ({' UNION ALL '.join(rows)}) s LEFT JOIN (\n"
                f"SELECT {', '.join(w.partition)}, {w.ts} AS __skw_ts"
                + "".join(", " + f for f in feats)
                + f" FROM {w.relation()} WHERE {q(view.timestamp)} IS NOT NULL) f\n"
                f"ON {on} AND f.__skw_ts <= s.__skw_hi\n) __skw_pit WHERE __skw_rn = 1 "
                "ORDER BY __i"
            )
            yield from self._stream(sql, 10_000, what, view.name, types)

    def query(self, sql: str, chunk_rows: int) -> Iterator[Any]:
        """Arrow batches of any query in the adapter's dialect (types inferred per batch)."""
        return self._stream(sql, chunk_rows, f"query through {self.engine}", "", None)

    def close(self) -> None:
        if self._closed:
            return
        try:
            handle = self._handle()
            if hasattr(handle, "rollback"):
                handle.rollback()
        except Exception:
            pass  # closing anyway
        self._release()

    def __enter__(self) -> DbtAdapterReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------------------------

    def _release(self, unlock: bool = True) -> None:
        self._closed = True
        try:
            if self._cm is not None:
                self._cm.__exit__(None, None, None)
            self.adapter.cleanup_connections()
            # dbt-duckdb keeps its database open in a class-level environment past the last
            # connection: close it, or this process cannot attach the file again
            manager = type(self.adapter.connections)
            env = getattr(manager, "_ENV", None)
            if env is not None and hasattr(env, "close"):
                env.close()
                manager._ENV = None
        except Exception:
            pass
        finally:
            if unlock:
                _OPEN.release()

    def _handle(self) -> Any:
        return self.adapter.connections.get_thread_connection().handle

    def _literal(self, kind: str, value: Any) -> str:
        if value is None:
            return "NULL"
        if kind == "int":
            return str(int(value))
        if kind == "date":
            return f"CAST('{value.isoformat()}' AS DATE)"
        text = str(value).replace("'", "''")
        if self.dialect.backslash_escapes:
            text = text.replace("\\", "\\\\")
        return f"'{text}'"

    def _types(self, view: FeatureView, *, with_index: bool) -> list[Any]:
        import pyarrow as pa

        ts = pa.timestamp("us", tz="UTC")
        feats = [arrow_type(view.name, f.name, f.data_type) for f in view.features]
        if with_index:
            return [pa.int64(), ts, *feats]
        keys = [
            arrow_type(view.name, c, t) for c, t in zip(view.entity, view.entity_types, strict=True)
        ]
        return [*keys, ts, *feats]

    def _fail(self, what: str, e: BaseException) -> SkewlessError:
        return SkewlessError(f"{what} failed ({self.where}): {_first(e)}")

    def _run(self, sql: str, what: str) -> None:
        try:
            self._handle().cursor().execute(sql)  # not closed: some adapters share one cursor
        except Exception as e:
            raise self._fail(what, e) from None

    def _rows(self, sql: str, what: str) -> list[tuple[Any, ...]]:
        try:
            cur = self._handle().cursor()
            cur.execute(sql)
            return [tuple(r) for r in cur.fetchall()]
        except Exception as e:
            raise self._fail(what, e) from None

    def _cursor(self) -> Any:
        """A cursor that streams: a server-side (named) cursor where the driver has them
        (psycopg2 fetches a whole result into client memory otherwise)."""
        handle = self._handle()
        if type(handle).__module__.startswith("psycopg2"):
            import uuid

            return handle.cursor(name=f"skw_{uuid.uuid4().hex[:12]}")
        return handle.cursor()

    def _stream(
        self, sql: str, chunk_rows: int, what: str, model: str, types: list[Any] | None
    ) -> Iterator[Any]:
        import pyarrow as pa

        try:
            cur = self._cursor()
            cur.execute(sql)
            rows = cur.fetchmany(chunk_rows)
            names = [str(d[0]) for d in cur.description]
        except Exception as e:
            raise self._fail(what, e) from None
        try:
            while rows:
                cols = list(zip(*rows, strict=True))
                arrays = []
                for j, name in enumerate(names):
                    t = types[j] if types is not None else None
                    arrays.append(_array(cols[j], t, model, name))
                yield pa.RecordBatch.from_arrays(arrays, names=names)
                try:
                    rows = cur.fetchmany(chunk_rows)
                except Exception as e:
                    raise self._fail(what, e) from None
        finally:
            if getattr(cur, "name", None):  # a server-side cursor; others may be shared
                try:
                    cur.close()
                except Exception:
                    pass


def _array(values: Sequence[Any], t: Any, model: str, column: str) -> Any:
    """Values as an Arrow array of exactly type `t` (inferred when None)."""
    import pyarrow as pa

    if t is not None and pa.types.is_timestamp(t):
        values = [
            v.astimezone(UTC).replace(tzinfo=None) if isinstance(v, datetime) and v.tzinfo else v
            for v in values
        ]
        try:
            return pa.array(values, pa.timestamp("us")).cast(t)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as e:
            raise _misfit(model, column, t, values, e) from None
    if t is not None and pa.types.is_date(t):
        values = [v.date() if isinstance(v, datetime) else v for v in values]
    if t is not None and (pa.types.is_integer(t) or pa.types.is_floating(t)):
        # pyarrow truncates 0.5 into an int64 and rounds 2**53 + 1 into a double: refuse both
        whole = pa.types.is_integer(t)
        for v in values:
            if v is None or (type(v) is float and not whole):
                continue
            if type(v) is int and (whole or abs(v) <= 2**53):
                continue
            if whole and isinstance(v, Decimal) and v == v.to_integral_value():
                continue  # NUMBER(38,0) arrives as a Decimal from some drivers
            raise _misfit(model, column, t, [v], ValueError(f"{v!r} is not exactly {t}"))
        if whole:
            values = [int(v) if isinstance(v, Decimal) else v for v in values]
    try:
        return pa.array(values, t)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError) as e:
        raise _misfit(model, column, t, values, e) from None


def _misfit(model: str, column: str, t: Any, values: Sequence[Any], e: Exception) -> Exception:
    bad = next((v for v in values if v is not None), None)
    where = f"model `{model}`, column `{column}`" if model else f"column `{column}`"
    return ColumnTypeError(
        f"{where}: the engine returned {type(bad).__name__} values that are not exactly Arrow "
        f"{t} ({_first(e)}) — cast the column in the model to its declared data_type"
    )


def _type_name(col: Any) -> str:
    """A dbt Column's type with its size, as the engine spells it."""
    try:
        return str(col.data_type)
    except Exception:
        return str(col.dtype)


def _first(e: BaseException) -> str:
    text = str(e).strip()
    return " ".join(text.splitlines()[:2]) if text else type(e).__name__


def _unsupported(kind: str, where: str) -> ManifestError:
    tested = ", ".join(k for k, d in DIALECTS.items() if d.tested)
    untested = ", ".join(k for k, d in DIALECTS.items() if not d.tested)
    return ManifestError(
        f"{where}: skewless has no SQL dialect entry for the `{kind}` adapter (its timestamp "
        f"type, UTC session and byte-wise text order); it reads {tested} (tested), {untested} "
        "(untested) and, natively, spark — see docs/engines.md"
    )
