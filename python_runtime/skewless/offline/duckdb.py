"""Reading what dbt built on DuckDB: the database file named by the dbt profile, opened read-only.

path = duckdb_path_from_profile("path/to/dbt_project")
con = open_duckdb(path, registry.views.values())
check_relation_types(con, registry.views.values())   # declared data_type == what dbt built

**Declared vs built types.** A declared `data_type` is compatible with the built column's type
(DuckDB's own metadata, `DESCRIBE` of the relation) only when both name the same DuckDB type once
aliases are resolved by the request-time compiler's `parse_type` as DuckDB resolves them
(PostgreSQL's spellings included): `int8` = `bigint`, `numeric(10,2)` = `decimal(10,2)`, `decimal`
= `decimal(18,3)` (DuckDB's default width), `text` = `character varying` = `varchar`, `double
precision` = `float8` = `double`, `timestamp with time zone` = `timestamptz`; a bare `float` is
DuckDB's FLOAT (4 bytes), not PostgreSQL's double precision. Widths count: `decimal(10,2)` is not
`decimal(18,2)`, `bigint` is not `hugeint` (`sum()` of integers), `integer` is not `bigint`, and
no numeric type is compatible with another (a DOUBLE served for a declared bigint would be `3.4`).
A modifier DuckDB ignores (`varchar(20)`) is dropped. Types the compiler does not know (`time`,
`blob`, `uuid`, `uhugeint`, `timestamp_ns`…) must be spelled as DuckDB reports them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from skewless.definitions import FeatureView
from skewless.errors import ColumnTypeError, ManifestError, SkewlessError, UnsupportedExpression
from skewless.offline.profile import ProfileTarget, profile_target

__all__ = [
    "DuckDBReader",
    "canonical_type",
    "check_relation_types",
    "check_relation_types_from",
    "duckdb_path_from_profile",
    "duckdb_path_of",
    "open_duckdb",
    "relation_column_types",
    "type_mismatches",
]


def duckdb_path_from_profile(
    project_dir: str | Path, profiles_dir: str | Path | None = None, target: str | None = None
) -> Path:
    """The DuckDB database file of a dbt project's profile (`path:` of its duckdb output).

    Looks for `profiles.yml` in `profiles_dir`, `$DBT_PROFILES_DIR`, the project folder, then
    `~/.dbt` (`offline.profile.profile_target`). `{{ env_var('NAME', 'default') }}` is rendered;
    a relative path is taken relative to the project folder (where dbt runs).

    Raises:
        ManifestError: saying which file or key is missing and how to pass `--duckdb-path`.
    """
    hint = "pass --duckdb-path (or set SKEWLESS_DUCKDB_PATH)"
    t = profile_target(project_dir, profiles_dir, target, hint=hint)
    if t.type != "duckdb":
        raise ManifestError(
            f"{t.profiles_file}: profile `{t.profile}`, target `{t.name}` is not a duckdb "
            f"output; materialize reads DuckDB — {hint}"
        )
    return duckdb_path_of(t, hint)


def duckdb_path_of(t: ProfileTarget, hint: str = "pass --duckdb-path") -> Path:
    """The on-disk database file of a duckdb profile target (relative → the project folder)."""
    raw = str(t.raw.get("path") or "")
    path = str(t.get("path", ""))
    if not path or path == ":memory:" or path.startswith("md:"):
        raise ManifestError(
            f"{t.profiles_file}: profile `{t.profile}` has no on-disk DuckDB path ({raw!r}); {hint}"
        )
    p = Path(path).expanduser()
    return p if p.is_absolute() else t.project_dir / p


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def open_duckdb(path: str | Path, views: Iterable[FeatureView]) -> Any:
    """An in-memory DuckDB session (UTC) with the database file attached read-only under the
    catalog name(s) the manifest's relation names use."""
    import duckdb

    p = Path(path)
    if not p.is_file():
        raise ManifestError(
            f"no DuckDB database at {p}; run `dbt build` first, or pass --duckdb-path"
        )
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    catalogs = sorted({v.database for v in views if v.database}) or [p.stem]
    try:
        for i, name in enumerate(catalogs):
            if i == 0:
                con.execute(f"ATTACH {_sql_string(str(p))} AS {_quote(name)} (READ_ONLY)")
                con.execute(f"USE {_quote(name)}")
            else:
                raise ManifestError(
                    f"feature views live in several databases ({catalogs}); materialize reads one "
                    "DuckDB file — use --select to load one database's views at a time"
                )
    except duckdb.Error as e:
        raise ManifestError(f"cannot open DuckDB database {p} read-only: {e}") from None
    return con


def _sql_string(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


# ---------------------------------------------------------------------------------------------
# Declared vs built column types


def canonical_type(text: str) -> str:
    """A DuckDB type name in one spelling (see the module docstring): `int8` → `BIGINT`,
    `numeric(10,2)` → `DECIMAL(10,2)`, `timestamptz` → `TIMESTAMP WITH TIME ZONE`."""
    from skewless.sql.types import parse_type

    t = " ".join(str(text).strip().upper().split())
    try:
        return str(parse_type(t))
    except UnsupportedExpression:
        pass
    m = _TIMESTAMP_PRECISION.fullmatch(t)
    if m:  # TIMESTAMP(3) is TIMESTAMP_MS to DuckDB (TIMESTAMP(4-6), plain TIMESTAMP: parse_type)
        digits = int(m.group(1))
        return "TIMESTAMP_S" if digits == 0 else "TIMESTAMP_MS" if digits <= 3 else "TIMESTAMP_NS"
    base, paren, _ = t.partition("(")
    base = base.strip()
    if paren and base not in ("DECIMAL", "NUMERIC", "DEC"):
        try:  # a modifier on a type that takes none: read as the type
            return str(parse_type(base))
        except UnsupportedExpression:
            pass
    return t


_TIMESTAMP_PRECISION = re.compile(r"TIMESTAMP\s*\(\s*(\d+)\s*\)(?: WITHOUT TIME ZONE)?")


def relation_column_types(con: Any, view: FeatureView) -> dict[str, str]:
    """The built relation's columns → DuckDB's type name (`DESCRIBE`), e.g. `HUGEINT`,
    `DECIMAL(38,0)`, `TIMESTAMP WITH TIME ZONE`.

    Raises:
        ManifestError: the relation cannot be described (not built).
    """
    import duckdb

    try:
        rows = con.execute(f"DESCRIBE {view.relation_name}").fetchall()
    except duckdb.Error as e:
        raise ManifestError(
            f"model `{view.name}`: cannot read the columns of {view.relation_name} in DuckDB "
            f"({str(e).splitlines()[0]}) — is the model built (`dbt build -s {view.name}`)?"
        ) from None
    return {str(r[0]): str(r[1]) for r in rows}


def _sql_type_name(text: str) -> str:
    return " ".join(text.strip().split()).lower()


def type_mismatches(view: FeatureView, actual: dict[str, str]) -> list[str]:
    """One message per declared column whose type differs from the built one (or that the
    relation lacks), naming model, column, declared and actual type and the fix."""
    by_lower = {c.lower(): (c, t) for c, t in actual.items()}
    out = []
    for col, declared in view.declared_types().items():
        found = by_lower.get(col.lower())
        if found is None:
            out.append(
                f"model `{view.name}`, column `{col}`: declared (data_type {declared}) but "
                f"{view.relation_name} has no such column (its columns: {', '.join(actual)}) — "
                f"rebuild the model (`dbt build -s {view.name}`) or fix its YAML"
            )
            continue
        built = found[1]
        if canonical_type(declared) != canonical_type(built):
            out.append(
                f"model `{view.name}`, column `{col}`: declared data_type {declared} but dbt "
                f"built {built} — cast in the model: `cast({col} as {_sql_type_name(declared)})`, "
                f"or declare `data_type: {_sql_type_name(built)}`"
            )
    return out


def check_relation_types(con: Any, views: Iterable[FeatureView]) -> None:
    """Compare every declared `data_type` of `views` with the built relations' column types.

    Raises:
        ColumnTypeError: one line listing every mismatch (model, column, declared, actual, fix).
        ManifestError: a relation cannot be described.
    """
    check_relation_types_from(lambda view: relation_column_types(con, view), views)


def check_relation_types_from(
    column_types: Callable[[FeatureView], dict[str, str]], views: Iterable[FeatureView]
) -> None:
    """`check_relation_types` with the built types read by `column_types` (any engine's names;
    compared through `canonical_type`)."""
    problems: list[str] = []
    for view in views:
        if not view.relation_name:
            continue  # ephemeral: the loader refuses it with its own message
        problems += type_mismatches(view, column_types(view))
    if problems:
        raise ColumnTypeError("; ".join(problems))


# ---------------------------------------------------------------------------------------------
# The reader (offline.OfflineReader)


class DuckDBReader:
    """`offline.OfflineReader` over a DuckDB file opened read-only (`open_duckdb`). `con` is the
    session: the loader's fast path runs its fused query there (key, framing and codec in the
    same statement as the latest-row selection)."""

    engine = "duckdb"
    quote = staticmethod(_quote)

    def __init__(self, con: Any, path: Path | None = None):
        self.con = con
        self.path = path

    @classmethod
    def open(cls, path: str | Path, views: Iterable[FeatureView]) -> DuckDBReader:
        return cls(open_duckdb(path, views), Path(path))

    def __repr__(self) -> str:
        return f"DuckDBReader({str(self.path)!r})"

    def column_types(self, view: FeatureView) -> dict[str, str]:
        return relation_column_types(self.con, view)

    def relation_types(self, relation: str, model: str) -> dict[str, str]:
        """Any relation's columns → DuckDB's type names (`DESCRIBE`)."""
        import duckdb

        try:
            rows = self.con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
        except duckdb.Error as e:
            raise SkewlessError(
                f"model `{model}`: cannot read {relation} in DuckDB ({e}); run `dbt build` first"
            ) from None
        return {str(r[0]): str(r[1]) for r in rows}

    def check_relation_types(self, views: Iterable[FeatureView]) -> None:
        check_relation_types(self.con, views)

    def latest_rows_sql(self, view: FeatureView, visible_us: int, since_us: int | None) -> str:
        """The latest row per entity (`offline.LatestWindow`), with QUALIFY."""
        from skewless.offline import LatestWindow

        w = LatestWindow(view, visible_us, since_us)
        cols = [*w.partition, f"{w.ts} AS __skw_ts", *(_quote(f.name) for f in view.features)]
        return (
            f"SELECT {', '.join(cols)}\nFROM {w.relation()}\nWHERE {' AND '.join(w.where)}\n"
            f"QUALIFY row_number() OVER (PARTITION BY {', '.join(w.partition)} "
            f"ORDER BY {', '.join(w.order())}) = 1"
        )

    def latest_rows(
        self, view: FeatureView, *, visible_us: int, since_us: int | None, chunk_rows: int
    ) -> tuple[int, Iterator[Any]]:
        import duckdb

        sql = self.latest_rows_sql(view, visible_us, since_us)
        try:
            self.con.execute("DROP TABLE IF EXISTS temp.__skw_latest")
            self.con.execute(f"CREATE TEMP TABLE __skw_latest AS {sql}")
            total = self.con.execute("SELECT count(*) FROM temp.__skw_latest").fetchall()[0][0]
        except duckdb.Error as e:
            raise SkewlessError(
                f"model `{view.name}`: querying {view.relation_name} in DuckDB failed: {e} — "
                "is the model built (`dbt build`)?"
            ) from None
        return int(total), self.query("SELECT * FROM temp.__skw_latest", chunk_rows)

    def query(self, sql: str, chunk_rows: int) -> Iterator[Any]:
        import duckdb

        try:
            reader = self.con.sql(sql).to_arrow_reader(chunk_rows)
        except duckdb.Error as e:
            raise SkewlessError(f"DuckDB query failed: {e}") from None
        yield from reader

    def close(self) -> None:
        self.con.close()
