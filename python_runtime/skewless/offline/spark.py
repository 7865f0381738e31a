"""Reading what dbt built on Spark: a SparkSession as dbt-spark's `session` method opens it.

reader = SparkReader.from_target(profile_target(project, target="spark"))
reader.check_relation_types(views)     # declared data_type == the relation's Spark type
total, batches = reader.latest_rows(view, visible_us=..., since_us=None, chunk_rows=5000)

Install with `pip install 'skewless[offline,spark]'` (pyspark; Java >= 17). Never part of the
serving install.

- **The session** is built as dbt-spark builds it for `method: session`: Hive support, every
  `server_side_parameters` entry as a Spark config, `spark.sql.ansi.enabled=false`. A Spark
  already running in this process (dbt's own, in-process) is joined, not restarted. The reader
  works in its own `newSession()` (shared catalog and context, its own SQL settings) whose time
  zone is UTC, so a `timestamp_ntz` column is read as UTC — as DuckDB, PostgreSQL and the
  point-in-time join read naive timestamps. `spark.master` in `server_side_parameters` may name
  a cluster (`spark://host:7077`, `yarn`, `k8s://…`); `online/spark.py` then writes Redis from
  the executors. Python workers run `$PYSPARK_PYTHON`, default this interpreter.
- **Other methods** (`thrift`, `http`, `odbc`) reach a remote Thrift server that returns rows,
  not Arrow, and cannot run skewless's code in the executors: refused with a message naming the
  target (see docs/engines.md).
- **The latest row per entity** is `row_number() OVER (PARTITION BY <key> ORDER BY ts DESC,
  f1 DESC NULLS LAST, …)` in a subquery (Spark has no QUALIFY), the rules of `LatestWindow`;
  strings compare byte-wise (Spark's default UTF8_BINARY collation), NaN is the greatest
  double, as on DuckDB and PostgreSQL.
- **Arrow in bounded memory**: each partition's Arrow batches (`mapInArrow`, at most
  `spark.sql.execution.arrow.maxRecordsPerBatch` rows) are serialized to Arrow IPC in the
  executor and fetched one partition at a time (`toLocalIterator`), so the driver holds one
  partition, never the whole result. `latest_rows` caches its result (memory and disk) to count
  it, then streams it.
- **Types**: `column_types` returns Spark's names (`bigint`, `timestamp_ntz`, `decimal(18,4)`,
  `string`…). A declared `data_type` matches when it names the same type once both are read as
  the runtime's canonical names (`offline.duckdb.canonical_type`), with Spark's own spellings
  accepted: `timestamp` (an instant: Spark's TIMESTAMP is TIMESTAMP WITH LOCAL TIME ZONE) matches
  a declared `timestamp`, `timestamptz` or `timestamp_ltz`; `timestamp_ntz` a declared
  `timestamp_ntz` or `timestamp`; `binary` a declared `binary` or `blob`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from skewless.definitions import FeatureView
from skewless.errors import ColumnTypeError, ManifestError, SkewlessError
from skewless.offline import LatestWindow, _micros
from skewless.offline.duckdb import canonical_type, type_mismatches
from skewless.offline.profile import ProfileTarget

__all__ = ["SparkReader", "quote", "spark_type_matches"]

_INSTALL = "install the Spark reader: pip install 'skewless[offline,spark]' (and Java >= 17)"
#: Masters whose executors run in this process (no separate executor processes).
_LOCAL_MASTERS = ("local",)

#: Spark type → canonical names (besides its own) a declared `data_type` may use for it.
_ALSO: dict[str, frozenset[str]] = {
    "TIMESTAMP": frozenset({"TIMESTAMP WITH TIME ZONE", "TIMESTAMP_LTZ"}),
    "TIMESTAMP_NTZ": frozenset({"TIMESTAMP"}),
    "BINARY": frozenset({"BLOB"}),
}


def quote(name: str) -> str:
    """A Spark SQL identifier: backticks, a backtick doubled."""
    return "`" + name.replace("`", "``") + "`"


def spark_type_matches(declared: str, built: str) -> bool:
    """Whether a declared `data_type` names the Spark type `built` (see the module docstring)."""
    want = canonical_type(declared)
    got = canonical_type(built)
    return want == got or want in _ALSO.get(got, frozenset())


def _ts_literal(micros: int) -> str:
    return f"timestamp_micros({int(micros)})"


class SparkWindow(LatestWindow):
    """`LatestWindow` in Spark SQL: backtick quoting, `timestamp_micros` bounds, and the
    timestamp as Spark's TIMESTAMP (an instant; a `timestamp_ntz` is read in the session's
    UTC). Text orders byte-wise by Spark's default UTF8_BINARY collation."""

    ts_type = "TIMESTAMP"
    text_type = "STRING"
    quote = staticmethod(quote)
    literal = staticmethod(_ts_literal)


def latest_rows_sql(
    view: FeatureView, visible_us: int, since_us: int | None, partitions: int | None = None
) -> str:
    """The latest row per entity (`LatestWindow`'s rules) in Spark SQL: the key columns,
    `__skw_ts` (TIMESTAMP) and each feature. `partitions` repartitions the source by the key
    into that many partitions first (the window's shuffle then keeps them): the number of tasks
    that write to Redis in `online/spark.py`."""
    w = SparkWindow(view, visible_us, since_us)
    hint = f"/*+ REPARTITION({int(partitions)}, {', '.join(w.partition)}) */ " if partitions else ""
    return w.row_number_sql(hint=hint)


def _ipc_batches(batches: Iterator[Any]) -> Iterator[Any]:
    """mapInArrow function (runs in the executors): each Arrow batch as one row holding its
    Arrow IPC stream, so the driver fetches Arrow, not pickled rows."""
    import pyarrow as pa

    for batch in batches:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, batch.schema) as writer:
            writer.write_batch(batch)
        yield pa.RecordBatch.from_arrays(
            [pa.array([sink.getvalue().to_pybytes()], pa.binary())], names=["ipc"]
        )


def _first_line(e: BaseException) -> str:
    """The useful line of a Spark error (its Python or SQL message, not the JVM stack)."""
    text = str(e).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    # a Python exception raised in an executor: its last "Error: message" line
    for ln in reversed(lines):
        if ("Error: " in ln or "Exception: " in ln) and not ln.startswith("at "):
            if "org.apache.spark" not in ln and "py4j" not in ln:
                return ln[:500]
    return (lines[0] if lines else type(e).__name__)[:500]


class SparkReader:
    """`offline.OfflineReader` over a SparkSession (dbt-spark's `session` method).

    Attributes:
        spark: the reader's own session (`newSession()`: UTC, ANSI off).
        where: the target, for messages.
        owned: whether this reader started Spark (then `close` stops it).
    """

    engine = "spark"
    quote = staticmethod(quote)
    #: the dialect of the loads' queries (window views' `online.windows.events_sql` too)
    latest_window = SparkWindow

    def __init__(self, spark: Any, where: str, owned: bool = False):
        self.spark = spark
        self.where = where
        self.owned = owned

    def __repr__(self) -> str:
        return f"SparkReader({self.where})"

    @classmethod
    def from_target(cls, target: ProfileTarget) -> SparkReader:
        """The session of a dbt-spark profile target (see the module docstring).

        Raises:
            ManifestError: the method is not `session`, pyspark is not installed, or Spark
                does not start (naming the target).
        """
        method = str(target.get("method", "") or "")
        if method != "session":
            raise ManifestError(
                f"{target.where()}: skewless reads Spark through dbt-spark's `session` method "
                f"(Spark in this process, or a cluster named by server_side_parameters "
                f"spark.master), not `method: {method or '(none)'}` — a Thrift/ODBC server "
                "returns rows, not Arrow, and cannot run the loader in its executors. Add a "
                "`method: session` target reading the same metastore and pass it with "
                "--dbt-target (see docs/engines.md)"
            )
        params = target.get("server_side_parameters") or {}
        if not isinstance(params, Mapping):
            raise ManifestError(f"{target.where()}: server_side_parameters must be a mapping")
        conf = {str(k): str(v) for k, v in params.items()}
        conf["spark.sql.ansi.enabled"] = "false"  # as dbt-spark sets it
        try:
            from pyspark import SparkContext
            from pyspark.sql import SparkSession
        except ImportError:
            raise ManifestError(f"reading {target.where()} needs pyspark; {_INSTALL}") from None
        python_env = os.environ.get("PYSPARK_PYTHON")
        if not python_env:  # executors run this interpreter (with skewless and pyarrow)
            os.environ["PYSPARK_PYTHON"] = sys.executable
        owned = SparkContext._active_spark_context is None
        try:
            builder = SparkSession.builder.enableHiveSupport()
            for k, v in conf.items():
                builder = builder.config(k, v)
            base = builder.getOrCreate()
            spark = base.newSession()
            for k, v in conf.items():
                if k.startswith("spark.sql.") and not k.startswith("spark.sql.warehouse"):
                    try:
                        spark.conf.set(k, v)
                    except Exception:  # a static setting: already applied at startup
                        pass
            spark.conf.set("spark.sql.session.timeZone", "UTC")
        except Exception as e:
            raise ManifestError(
                f"cannot start Spark for {target.where()}: {_first_line(e)} — is Java >= 17 "
                "installed (JAVA_HOME)?"
            ) from None
        sc = spark.sparkContext
        if not python_env and sc.pythonExec == "python3":
            sc.pythonExec = sys.executable
        return cls(spark, f"Spark {sc.master} ({target.where()})", owned)

    @property
    def master(self) -> str:
        return str(self.spark.sparkContext.master)

    @property
    def is_cluster(self) -> bool:
        """Whether executors are separate processes (any master but `local[…]`)."""
        return not self.master.startswith(_LOCAL_MASTERS)

    # -- types ------------------------------------------------------------------------------

    def column_types(self, view: FeatureView) -> dict[str, str]:
        """The relation's columns → Spark's type names (`bigint`, `timestamp_ntz`, …).

        Raises:
            ManifestError: the relation does not exist (not built).
        """
        if not view.relation_name:
            raise ManifestError(f"model `{view.name}` has no relation_name (ephemeral?)")
        return self.relation_types(view.relation_name, view.name)

    def relation_types(self, relation: str, model: str) -> dict[str, str]:
        """Any relation's columns → Spark's type names (`DataType.simpleString`).

        Raises:
            ManifestError: the relation does not exist (not built).
        """
        self.refresh(relation)
        try:
            schema = self.spark.sql(f"SELECT * FROM {relation}").schema
        except Exception as e:
            raise ManifestError(
                f"model `{model}`: cannot read {relation} in {self.where} ({_first_line(e)}) — "
                f"is the model built (`dbt build -s {model} --target <this target>`)?"
            ) from None
        return {f.name: f.dataType.simpleString() for f in schema.fields}

    def check_relation_types(self, views: Iterable[FeatureView]) -> None:
        """`ColumnTypeError` listing every declared `data_type` that is not the built Spark type
        (`spark_type_matches`), in `offline.duckdb.type_mismatches`' words."""
        problems: list[str] = []
        for view in views:
            if not view.relation_name:
                continue
            built = self.column_types(view)
            declared = {c.lower(): t for c, t in view.declared_types().items()}
            # a built type the declaration accepts is shown to the comparison as the declared
            # spelling; any other keeps Spark's name (the message shows what Spark built)
            shown = {
                c: declared[c.lower()]
                if c.lower() in declared and spark_type_matches(declared[c.lower()], t)
                else t
                for c, t in built.items()
            }
            problems += type_mismatches(view, shown)
        if problems:
            raise ColumnTypeError("; ".join(problems))

    # -- reads ------------------------------------------------------------------------------

    def latest_rows_sql(self, view: FeatureView, visible_us: int, since_us: int | None) -> str:
        return latest_rows_sql(view, visible_us, since_us)

    def latest_frame(
        self, view: FeatureView, visible_us: int, since_us: int | None, partitions: int | None
    ) -> Any:
        """The latest rows as a Spark DataFrame (planned, not run).

        Raises:
            SkewlessError: the query does not plan (the relation or a column is missing).
        """
        sql = latest_rows_sql(view, visible_us, since_us, partitions)
        try:
            self.refresh(view.relation_name or "")
            return self.spark.sql(sql)
        except Exception as e:
            raise SkewlessError(
                f"model `{view.name}`: querying {view.relation_name} in {self.where} failed: "
                f"{_first_line(e)} — is the model built (`dbt build`)?"
            ) from None

    def latest_rows(
        self, view: FeatureView, *, visible_us: int, since_us: int | None, chunk_rows: int
    ) -> tuple[int, Iterator[Any]]:
        from pyspark import StorageLevel

        df = self.latest_frame(view, visible_us, since_us, None)
        what = f"model `{view.name}`: the latest rows of {view.relation_name}"
        try:
            df = df.persist(StorageLevel.MEMORY_AND_DISK)
            total = int(df.count())
        except Exception as e:
            df.unpersist()
            raise self._fail(what, e) from None
        return total, self._stream(df, chunk_rows, what, cached=True)

    def point_in_time(
        self, view: FeatureView, spine: Sequence[tuple[Mapping[str, Any], datetime]]
    ) -> Iterator[Any]:
        """Arrow batches, one row per `(entity, at)` of `spine` in order (`__i`): the view's row
        with the greatest timestamp such that `timestamp + available_after <= at`, ties to the
        greatest features, its `__skw_ts` NULL when there is none or `at - timestamp > ttl` —
        `guards.consistency.pit_rows`'s rule. The spine becomes a Spark DataFrame (from
        Arrow); the join runs in Spark."""
        import pyarrow as pa

        from skewless.offline.postgres import _typed_key
        from skewless.online.keys import canonical_key_kind

        cols: dict[str, Any] = {"__i": pa.array(range(len(spine)), pa.int64())}
        for c, t in zip(view.entity, view.entity_types, strict=True):
            kind = canonical_key_kind(view.name, c, t)
            arrow = {"int": pa.int64(), "date": pa.date32()}.get(kind, pa.string())
            cols[c] = pa.array([_typed_key(kind, e.get(c)) for e, _ in spine], arrow)
        cols["__at"] = pa.array([at for _, at in spine], pa.timestamp("us", tz="UTC"))
        what = f"model `{view.name}`: the point-in-time rows of {view.relation_name}"
        name = f"__skw_spine_{os.getpid()}_{id(spine)}"
        w = SparkWindow(view, 0, None)
        self.refresh(w.relation())
        try:
            self.spark.createDataFrame(pa.table(cols)).createOrReplaceTempView(name)
        except Exception as e:
            raise self._fail(what, e) from None
        feats = [quote(f.name) for f in view.features]
        after = _micros(view.available_after or timedelta(0))
        ttl = ""
        if view.ttl is not None:
            ttl = f" AND unix_micros(s.__at) - unix_micros(f.__skw_ts) <= {_micros(view.ttl)}"
        on = " AND ".join(f"s.{k} = f.{k}" for k in w.partition)
        order = ", ".join(f"f.{q} DESC NULLS LAST" for q in feats)
        ranked = (
            "SELECT s.__i, "
            f"CASE WHEN f.__skw_ts IS NOT NULL{ttl} THEN f.__skw_ts END AS __skw_ts"
            f"{''.join(', f.' + q for q in feats)}, row_number() OVER (PARTITION BY s.__i "
            f"ORDER BY f.__skw_ts DESC NULLS LAST{', ' + order if order else ''}) AS __skw_rn\n"
            f"FROM {name} s LEFT JOIN (SELECT {', '.join(w.partition)}, {w.ts} AS __skw_ts"
            f"{''.join(', ' + q for q in feats)} FROM {w.relation()} "
            f"WHERE {quote(view.timestamp)} IS NOT NULL) f\n"
            f"ON {on} AND unix_micros(f.__skw_ts) + {after} <= unix_micros(s.__at)"
        )
        sql = (
            f"SELECT __i, __skw_ts{''.join(', ' + q for q in feats)} FROM ({ranked}) AS r "
            "WHERE __skw_rn = 1 ORDER BY __i"
        )

        def rows() -> Iterator[Any]:
            try:
                yield from self.query(sql, 10_000)
            finally:
                self.spark.catalog.dropTempView(name)

        return rows()

    def refresh(self, relation: str) -> None:
        """Drop what this session cached about `relation` (its file listing): a table rebuilt
        since (by dbt in this process, or another job) is read as it is now."""
        try:
            self.spark.catalog.refreshTable(relation)
        except Exception:  # not a table (a view, a temporary view): nothing cached to drop
            pass

    def query(self, sql: str, chunk_rows: int) -> Iterator[Any]:
        """Arrow batches of a Spark SQL query, streamed a partition at a time."""
        what = "Spark query"
        try:
            df = self.spark.sql(sql)
        except Exception as e:
            raise self._fail(what, e) from None
        return self._stream(df, chunk_rows, what)

    def close(self) -> None:
        """Stop Spark if this reader started it (a session dbt started in-process stays)."""
        if self.owned:
            self.spark.sparkContext.stop()

    # -- plumbing ---------------------------------------------------------------------------

    def _fail(self, what: str, e: BaseException) -> SkewlessError:
        return SkewlessError(f"{what} failed ({self.where}): {_first_line(e)}")

    def _stream(self, df: Any, chunk_rows: int, what: str, cached: bool = False) -> Iterator[Any]:
        import pyarrow as pa

        try:
            try:
                rows = df.mapInArrow(_ipc_batches, "ipc binary").toLocalIterator()
                for row in rows:
                    for batch in pa.ipc.open_stream(row[0]):
                        for start in range(0, batch.num_rows, chunk_rows):
                            yield batch.slice(start, chunk_rows)
            except (GeneratorExit, SkewlessError):
                raise
            except Exception as e:
                raise self._fail(what, e) from None
        finally:
            if cached:
                df.unpersist()
