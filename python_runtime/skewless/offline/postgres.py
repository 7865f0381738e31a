"""Reading what dbt built on PostgreSQL: Arrow-native, through the ADBC PostgreSQL driver.

reader = PostgresReader.from_target(profile_target(project, target="postgres"))
reader.check_relation_types(views)     # declared data_type == pg_attribute's format_type
total, batches = reader.latest_rows(view, visible_us=..., since_us=None, chunk_rows=5000)

Install with `pip install 'skewless[postgres]'` (`adbc-driver-postgresql`; never part of the
serving install). Results travel as Arrow record batches (the driver reads PostgreSQL's binary
COPY format into Arrow), never row tuples, and are handed on in slices of `chunk_rows` rows.

- The session runs in UTC (`SET TimeZone`), so a naive `timestamp` column is read as UTC — as the
  DuckDB reader and the point-in-time join do — whatever `PGTZ` or the server's default says.
- The latest row per entity is `SELECT DISTINCT ON (<key>) … ORDER BY <key>, ts DESC, <features>
  DESC NULLS LAST` into a temporary table (its row count drives the loader's progress), then
  streamed. Text features order with `COLLATE "C"` (byte-wise, as DuckDB compares strings), so a
  same-timestamp tie resolves to the same row on both engines whatever the database's collation.
- `numeric(p,s)` arrives from the driver as text and is converted to Arrow `decimal128(p,s)`
  (`decimal256` past 38 digits) exactly. An unconstrained `numeric` (e.g. PostgreSQL's `sum()` of
  integers) has no fixed scale: the type check reports it as `numeric without precision` so the
  model casts it to the declared `numeric(p,s)`.
- Connection settings come from the profile target (`host`, `port`, `user`, `password`/`pass`,
  `dbname`/`database`, `sslmode`, `connect_timeout`, `sslrootcert`, `sslcert`, `sslkey`,
  `application_name`), rendered as dbt renders them. The password never appears in a message or
  a repr.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote as urlquote
from urllib.parse import urlencode

from skewless.definitions import FeatureView
from skewless.errors import ManifestError, SkewlessError
from skewless.offline import LatestWindow, _micros, _quote
from skewless.offline.duckdb import check_relation_types_from
from skewless.offline.profile import ProfileTarget

__all__ = ["PostgresReader"]

_QUERY_PARAMS = (
    "sslmode",
    "connect_timeout",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "application_name",
    "keepalives_idle",
)
_INSTALL = "install the PostgreSQL reader: pip install 'skewless[postgres]'"


def _sql_string(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


class PostgresReader:
    """`offline.OfflineReader` over one PostgreSQL database (an ADBC connection, autocommit)."""

    engine = "postgres"
    quote = staticmethod(_quote)

    def __init__(self, conn: Any, where: str):
        self.conn = conn
        self.where = where

    def __repr__(self) -> str:
        return f"PostgresReader({self.where})"

    @classmethod
    def from_target(cls, target: ProfileTarget) -> PostgresReader:
        """Connect as the profile target says (see the module docstring).

        Raises:
            ManifestError: the driver is not installed, or the database refuses the connection
                (the message names host, port, database and user — never the password).
        """
        host = str(target.get("host", "localhost"))
        port = int(target.get("port", 5432))
        user = str(target.get("user", ""))
        password = str(target.get("password", target.get("pass", "")) or "")
        dbname = str(target.get("dbname", target.get("database", "")))
        params = {k: str(target.get(k)) for k in _QUERY_PARAMS if target.get(k) is not None}
        auth = urlquote(user, safe="") + (":" + urlquote(password, safe="") if password else "")
        uri = f"postgresql://{auth}@{urlquote(host, safe='')}:{port}/{urlquote(dbname, safe='')}"
        if params:
            uri += "?" + urlencode(params)
        where = f"postgresql://{user}@{host}:{port}/{dbname} ({target.where()})"
        return cls(cls._connect(uri, where, password), where)

    @staticmethod
    def _connect(uri: str, where: str, password: str) -> Any:
        try:
            import adbc_driver_postgresql.dbapi as pg
        except ImportError:
            raise ManifestError(
                f"reading {where} needs adbc-driver-postgresql; {_INSTALL}"
            ) from None
        try:
            conn = pg.connect(uri, autocommit=True)
            with conn.cursor() as cur:
                cur.execute("SET TimeZone TO 'UTC'")
        except Exception as e:  # the driver's own errors: message only, password removed
            text = str(e).replace(uri, "<uri>")
            if password:
                text = text.replace(password, "***").replace(urlquote(password, safe=""), "***")
            raise ManifestError(f"cannot connect to PostgreSQL at {where}: {text}") from None
        return conn

    # -- types ------------------------------------------------------------------------------

    def column_types(self, view: FeatureView) -> dict[str, str]:
        """The relation's columns → PostgreSQL's `format_type` (`numeric(18,4)`, `bigint`,
        `timestamp with time zone`, …; an unconstrained numeric is `numeric without precision`).

        Raises:
            ManifestError: the relation does not exist (not built).
        """
        return self.relation_types(view.relation_name or "", view.name)

    def relation_types(self, relation: str, model: str) -> dict[str, str]:
        """Any relation's (table or view) columns → `format_type` (see `column_types`).

        Raises:
            ManifestError: the relation does not exist (not built).
        """
        rel = relation
        sql = (
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), "
            "a.atttypid = 'numeric'::regtype AND a.atttypmod < 0 "
            "FROM pg_attribute a "
            f"WHERE a.attrelid = to_regclass({_sql_string(rel)}) "
            "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"
        )
        rows = self._fetch_rows(sql, f"model `{model}`: reading the columns of {rel}")
        if not rows:
            raise ManifestError(
                f"model `{model}`: {rel} does not exist in PostgreSQL at {self.where} — is "
                f"the model built (`dbt build -s {model} --target <this target>`)?"
            )
        return {
            str(name): "numeric without precision" if bare else str(t) for name, t, bare in rows
        }

    def check_relation_types(self, views: Iterable[FeatureView]) -> None:
        check_relation_types_from(self.column_types, views)

    # -- reads ------------------------------------------------------------------------------

    def latest_rows_sql(self, view: FeatureView, visible_us: int, since_us: int | None) -> str:
        """The latest row per entity (`offline.LatestWindow`) with `DISTINCT ON`."""
        w = LatestWindow(view, visible_us, since_us)
        cols = [*w.partition, f"{w.ts} AS __skw_ts", *(_quote(f.name) for f in view.features)]
        key = ", ".join(w.partition)
        order = ", ".join(w.order(' COLLATE "C"'))
        return (
            f"SELECT DISTINCT ON ({key}) {', '.join(cols)}\nFROM {w.relation()}\n"
            f"WHERE {' AND '.join(w.where)}\n"
            f"ORDER BY {key}, {order}"
        )

    def latest_rows(
        self, view: FeatureView, *, visible_us: int, since_us: int | None, chunk_rows: int
    ) -> tuple[int, Iterator[Any]]:
        sql = self.latest_rows_sql(view, visible_us, since_us)
        what = f"model `{view.name}`: querying {view.relation_name} in PostgreSQL"
        self._execute("DROP TABLE IF EXISTS pg_temp.__skw_latest", what)
        self._execute(f"CREATE TEMP TABLE __skw_latest AS {sql}", what)
        total = self._fetch_rows("SELECT count(*) FROM pg_temp.__skw_latest", what)[0][0]
        return int(total), self._stream("SELECT * FROM pg_temp.__skw_latest", chunk_rows, what)

    def point_in_time(
        self, view: FeatureView, spine: Sequence[tuple[Mapping[str, Any], datetime]]
    ) -> Iterator[Any]:
        """Arrow batches, one row per `(entity, at)` of `spine` in order (`__i`): the view's row
        with the greatest timestamp such that `timestamp + available_after <= at`, ties to the
        greatest features (text byte-wise), its `__skw_ts` NULL when there is none or `at -
        timestamp > ttl` — `guards.consistency.pit_rows`'s rule. The spine is sent as a
        temporary table (ADBC bulk ingest); the join runs in PostgreSQL."""
        import pyarrow as pa

        from skewless.online.keys import canonical_key_kind

        cols: dict[str, Any] = {"__i": pa.array(range(len(spine)), pa.int64())}
        for c, t in zip(view.entity, view.entity_types, strict=True):
            kind = canonical_key_kind(view.name, c, t)
            vals = [_typed_key(kind, e.get(c)) for e, _ in spine]
            arrow = {"int": pa.int64(), "date": pa.date32()}.get(kind, pa.string())
            cols[c] = pa.array(vals, arrow)
        cols["__at"] = pa.array([at for _, at in spine], pa.timestamp("us", tz="UTC"))
        what = f"model `{view.name}`: the point-in-time rows of {view.relation_name}"
        try:
            with self.conn.cursor() as cur:
                cur.adbc_ingest("__skw_spine", pa.table(cols), mode="replace", temporary=True)
        except Exception as e:
            raise self._fail(what, e) from None
        w = LatestWindow(view, 0, None)
        ts = w.ts
        feats = [_quote(f.name) for f in view.features]
        after = _micros(view.available_after or timedelta(0))
        ttl = ""
        if view.ttl is not None:
            ttl = f" AND f.__skw_ts >= s.__at - interval '{_micros(view.ttl)} microseconds'"
        on = " AND ".join(f"s.{k} = f.{k}" for k in w.partition)
        order = ", ".join(
            o.replace(_quote(f.name), f"f.{_quote(f.name)}", 1)
            for o, f in zip(w.order(' COLLATE "C"')[1:], view.features, strict=True)
        )
        sql = (
            "SELECT DISTINCT ON (s.__i) s.__i, "
            f"CASE WHEN f.__skw_ts IS NOT NULL{ttl} THEN f.__skw_ts END AS __skw_ts"
            f"{''.join(', f.' + q for q in feats)}\n"
            "FROM pg_temp.__skw_spine s LEFT JOIN (\n"
            f"SELECT {', '.join(w.partition)}, {ts} AS __skw_ts{''.join(', ' + q for q in feats)} "
            f"FROM {w.relation()} WHERE {_quote(view.timestamp)} IS NOT NULL) f\n"
            f"ON {on} AND f.__skw_ts <= s.__at - interval '{after} microseconds'\n"
            f"ORDER BY s.__i, f.__skw_ts DESC NULLS LAST{', ' + order if order else ''}"
        )
        return self._stream(sql, 10_000, what)

    def query(self, sql: str, chunk_rows: int) -> Iterator[Any]:
        return self._stream(sql, chunk_rows, "PostgreSQL query")

    def close(self) -> None:
        self.conn.close()

    # -- plumbing ---------------------------------------------------------------------------

    def _fail(self, what: str, e: Exception) -> SkewlessError:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return SkewlessError(f"{what} failed ({self.where}): {first}")

    def _execute(self, sql: str, what: str) -> None:
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql)
        except Exception as e:
            raise self._fail(what, e) from None

    def _fetch_rows(self, sql: str, what: str) -> list[tuple[Any, ...]]:
        """A small result (catalog lookups, counts) as tuples."""
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql)
                return [tuple(r) for r in cur.fetchall()]
        except Exception as e:
            raise self._fail(what, e) from None

    def _stream(self, sql: str, chunk_rows: int, what: str) -> Iterator[Any]:
        try:
            cur = self.conn.cursor()
            cur.execute(sql)
            reader = cur.fetch_record_batch()
        except Exception as e:
            raise self._fail(what, e) from None
        try:
            schema = _exact_schema(reader.schema)
            for batch in reader:
                batch = _exact(batch, schema)
                for start in range(0, batch.num_rows, chunk_rows):
                    yield batch.slice(start, chunk_rows)
        finally:
            cur.close()


def _numeric_type(field: Any) -> Any:
    """Arrow decimal type of a `numeric(p,s)` column (from the driver's typmod metadata), None
    for an unconstrained numeric (kept as text) or any other column."""
    import pyarrow as pa

    meta = field.metadata or {}
    if meta.get(b"POSTGRESQL:type") != b"numeric":
        return None
    typmod = int(meta.get(b"POSTGRESQL:typmod", b"-1"))
    if typmod < 4:
        return None
    precision, scale = ((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0xFFFF
    return pa.decimal128(precision, scale) if precision <= 38 else pa.decimal256(precision, scale)


def _exact_schema(schema: Any) -> Any:
    import pyarrow as pa

    fields = []
    for field in schema:
        t = _numeric_type(field)
        if t is not None:
            fields.append(pa.field(field.name, t, field.nullable, field.metadata))
        elif isinstance(field.type, pa.ExtensionType):
            fields.append(pa.field(field.name, field.type.storage_type, True, field.metadata))
        else:
            fields.append(field)
    return pa.schema(fields)


def _exact(batch: Any, schema: Any) -> Any:
    """The batch with `numeric(p,s)` text as exact Arrow decimals, other driver extension types
    as their storage (text)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    cols = []
    changed = False
    for col, field in zip(batch.columns, schema, strict=True):
        if isinstance(col, pa.ExtensionArray):
            col = col.storage
            changed = True
        if col.type != field.type:
            col = pc.cast(col, field.type)
            changed = True
        cols.append(col)
    return pa.RecordBatch.from_arrays(cols, schema=schema) if changed else batch


def _typed_key(kind: str, value: Any) -> Any:
    """A logged entity key value as its column's type (None when it cannot be one: it matches
    no row, as DuckDB's TRY_CAST of the key text)."""
    if value is None:
        return None
    if kind == "int":
        try:
            n = int(str(value))
        except ValueError:
            return None
        return n if -(2**63) <= n < 2**63 else None
    if kind == "date":
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            return None
    return str(value)
