"""Reading what dbt built, per engine.

One interface, `OfflineReader`, chosen from the project's dbt profile target
(`reader_from_profile`); one module per native engine (`duckdb.py`, `postgres.py`, `spark.py`)
and one generic reader for every other dbt adapter (`dbt_adapter.py`, through the adapter's own
connection):

reader = reader_from_profile("path/to/dbt_project", target="postgres", views=views)
reader.check_relation_types(views)          # declared data_type == what dbt built
total, batches = reader.latest_rows(view, visible_us=..., since_us=None, chunk_rows=5000)
for batch in reader.query("select …", chunk_rows=5000): ...   # Arrow record batches
reader.close()

Every read yields Arrow record batches of at most `chunk_rows` rows, streamed from the engine
(never a whole result in Python lists). The "latest row per entity" query is generated per engine
(`LatestWindow` holds the parts every dialect shares) and runs in the engine: only the result
travels. Tested here: DuckDB, PostgreSQL and Spark natively, and the generic reader on DuckDB and
PostgreSQL (see docs/engines.md for which adapters are tested).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from skewless.definitions import FeatureView
from skewless.errors import ManifestError

__all__ = [
    "ENGINES",
    "READERS",
    "LatestWindow",
    "OfflineReader",
    "reader_for",
    "reader_from_profile",
]

#: the dbt adapter types read natively (Arrow); any other goes through its dbt connection
ENGINES = ("duckdb", "postgres", "spark")
#: `reader=` / `--reader` / `SKEWLESS_READER`: native where there is one, or always through dbt
READERS = ("auto", "dbt")


class OfflineReader(Protocol):
    """What every engine's reader offers (see the module docstring)."""

    #: the dbt adapter type (`duckdb`, `postgres`, `spark`, or any adapter read through dbt)
    engine: str

    def quote(self, name: str) -> str:
        """An identifier quoted in the engine's dialect."""
        ...

    def column_types(self, view: FeatureView) -> dict[str, str]:
        """The built relation's columns → the engine's type name."""
        ...

    def relation_types(self, relation: str, model: str) -> dict[str, str]:
        """Any relation's columns → the engine's type name (`model` names it in errors)."""
        ...

    def check_relation_types(self, views: Iterable[FeatureView]) -> None:
        """`ColumnTypeError` listing every declared `data_type` that differs from the built one."""
        ...

    def latest_rows(
        self, view: FeatureView, *, visible_us: int, since_us: int | None, chunk_rows: int
    ) -> tuple[int, Iterator[Any]]:
        """(row count, Arrow batches) of the latest row per entity (`LatestWindow`): the entity
        columns, `__skw_ts` (TIMESTAMP WITH TIME ZONE, UTC) and each feature, typed exactly."""
        ...

    def query(self, sql: str, chunk_rows: int) -> Iterator[Any]:
        """Arrow record batches (at most `chunk_rows` rows each) of an SQL query in the engine's
        dialect."""
        ...

    def close(self) -> None: ...


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _micros(value: timedelta) -> int:
    return value.days * 86_400_000_000 + value.seconds * 1_000_000 + value.microseconds


def _ts_literal(micros: int) -> str:
    from skewless.online import codec

    ts = codec.decode_timestamp(micros)
    return f"TIMESTAMPTZ '{ts.strftime('%Y-%m-%d %H:%M:%S.%f')}+00'"


@dataclass(frozen=True)
class LatestWindow:
    """The parts of "the latest row per entity" every dialect shares.

    A row is selected when no key column is null, its timestamp (as TIMESTAMP WITH TIME ZONE,
    naive = UTC: the session runs in UTC) is at most `visible_us` — `now - available_after`, the
    bound the point-in-time join applies — and at least `since_us` (ttl or watermark). Per
    entity the row with the greatest timestamp wins; at the same timestamp the one with the
    greatest feature values (declared order, NULL lowest, text compared byte-wise) — the tie
    rule of the point-in-time join macro.
    """

    view: FeatureView
    visible_us: int
    since_us: int | None

    #: the type the timestamp is compared as (an instant)
    ts_type = "TIMESTAMPTZ"
    #: the type text is cast to
    text_type = "VARCHAR"

    @staticmethod
    def quote(name: str) -> str:
        """An identifier in the engine's dialect (double quotes; Spark: backticks)."""
        return _quote(name)

    @staticmethod
    def literal(micros: int) -> str:
        """An instant (epoch micros) as a literal of `ts_type`."""
        return _ts_literal(micros)

    @property
    def ts(self) -> str:
        return f"CAST({self.quote(self.view.timestamp)} AS {self.ts_type})"

    @property
    def where(self) -> list[str]:
        out = [f"{self.quote(c)} IS NOT NULL" for c in self.view.entity]
        out.append(f"{self.ts} <= {self.literal(self.visible_us)}")
        if self.since_us is not None:
            out.append(f"{self.ts} >= {self.literal(self.since_us)}")
        return out

    @property
    def partition(self) -> list[str]:
        return [self.quote(c) for c in self.view.entity]

    def order(self, text_collation: str = "") -> list[str]:
        """`ts DESC, f1 DESC NULLS LAST, …`; `text_collation` (e.g. ` COLLATE "C"`) is appended
        to text features where the engine's default order is not byte-wise."""
        from skewless.online import codec

        parts = [f"{self.ts} DESC"]
        for f in self.view.features:
            coll = ""
            if text_collation and codec.column_kind(self.view.name, f.name, f.data_type) == "str":
                coll = text_collation
            parts.append(f"{self.quote(f.name)}{coll} DESC NULLS LAST")
        return parts

    def row_number_sql(self, text_collation: str = "", hint: str = "") -> str:
        """The latest row per entity with `ROW_NUMBER()` (for engines without QUALIFY or
        DISTINCT ON): the key columns, `__skw_ts` and each feature. `hint` goes right after the
        inner SELECT (e.g. a Spark repartition hint)."""
        feats = [self.quote(f.name) for f in self.view.features]
        cols = [*self.partition, f"{self.ts} AS __skw_ts", *feats]
        ranked = (
            f"SELECT {hint}{', '.join(cols)}, ROW_NUMBER() OVER (PARTITION BY "
            f"{', '.join(self.partition)} ORDER BY {', '.join(self.order(text_collation))}) "
            f"AS __skw_rn\nFROM {self.relation()}\nWHERE {' AND '.join(self.where)}"
        )
        out = [*self.partition, "__skw_ts", *feats]
        return f"SELECT {', '.join(out)} FROM (\n{ranked}\n) AS __skw_ranked WHERE __skw_rn = 1"

    def relation(self) -> str:
        from skewless.errors import DefinitionError

        if not self.view.relation_name:
            raise DefinitionError(
                f"model `{self.view.name}` has no relation_name in the manifest (ephemeral?); "
                "materialize it as a table or view"
            )
        return self.view.relation_name


def visible_bound(view: FeatureView, now_us: int) -> int:
    """`now - available_after` in epoch micros: the latest timestamp a load may serve."""
    return now_us - _micros(view.available_after or timedelta(0))


def reader_for(
    target: Any, views: Iterable[FeatureView], reader: str | None = None
) -> OfflineReader:
    """The reader of a rendered profile target (`offline.profile.ProfileTarget`).

    `reader` (default `$SKEWLESS_READER`, else `auto`): `auto` reads DuckDB, PostgreSQL and Spark
    natively (Arrow) and any other adapter through its dbt connection
    (`offline.dbt_adapter.DbtAdapterReader`); `dbt` uses the dbt connection for every adapter.

    Raises:
        ManifestError: an unknown `reader`, or an adapter skewless has no dialect for (naming
            the ones it reads).
    """
    import os

    views = list(views)
    how = (reader or os.environ.get("SKEWLESS_READER") or "auto").strip().lower()
    if how not in READERS:
        raise ManifestError(
            f"unknown offline reader {how!r} (from --reader or SKEWLESS_READER); "
            f"choose one of: {', '.join(READERS)}"
        )
    if how == "auto" and target.type == "duckdb":
        from skewless.offline.duckdb import DuckDBReader, duckdb_path_of

        return DuckDBReader.open(duckdb_path_of(target), views)
    if how == "auto" and target.type == "postgres":
        from skewless.offline.postgres import PostgresReader

        return PostgresReader.from_target(target)
    if how == "auto" and target.type == "spark":
        from skewless.offline.spark import SparkReader

        return SparkReader.from_target(target)
    from skewless.offline.dbt_adapter import DbtAdapterReader

    return DbtAdapterReader.open(
        target.project_dir, target.profiles_file.parent, target.name, adapter_type=target.type
    )


def reader_from_profile(
    project_dir: str | Path,
    profiles_dir: str | Path | None = None,
    target: str | None = None,
    views: Iterable[FeatureView] = (),
    reader: str | None = None,
) -> OfflineReader:
    """The reader of a dbt project's profile target, as dbt would pick it (see
    `offline.profile.profile_target`): its DuckDB file, its PostgreSQL database, its Spark
    session (dbt-spark's `session` method), or any other adapter's dbt connection (`reader`:
    see `reader_for`).

    Raises:
        ManifestError: no profile/target, an unset env var, an adapter skewless does not read,
            or the database cannot be opened (the password is never in the message).
    """
    from skewless.offline.profile import profile_target

    t = profile_target(project_dir, profiles_dir, target)
    return reader_for(t, views, reader)
