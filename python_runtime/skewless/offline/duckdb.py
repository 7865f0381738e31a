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

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from skewless.definitions import FeatureView
from skewless.errors import ColumnTypeError, ManifestError, UnsupportedExpression

__all__ = [
    "canonical_type",
    "check_relation_types",
    "duckdb_path_from_profile",
    "open_duckdb",
    "relation_column_types",
    "type_mismatches",
]

_ENV_VAR = re.compile(r"\{\{\s*env_var\(\s*(['\"])(.+?)\1\s*(?:,\s*(['\"])(.*?)\3\s*)?\)\s*\}\}")


def _render_env(text: str, where: str) -> str:
    def sub(m: re.Match[str]) -> str:
        name, default = m.group(2), m.group(4)
        value = os.environ.get(name, default)
        if value is None:
            raise ManifestError(f"{where}: env_var('{name}') is not set and has no default")
        return value

    return _ENV_VAR.sub(sub, text)


def duckdb_path_from_profile(
    project_dir: str | Path, profiles_dir: str | Path | None = None, target: str | None = None
) -> Path:
    """The DuckDB database file of a dbt project's profile (`path:` of its duckdb output).

    Looks for `profiles.yml` in `profiles_dir`, `$DBT_PROFILES_DIR`, the project folder, then
    `~/.dbt`. `{{ env_var('NAME', 'default') }}` is rendered; a relative path is taken relative
    to the project folder (where dbt runs).

    Raises:
        ManifestError: saying which file or key is missing and how to pass `--duckdb-path`.
    """
    import yaml  # type: ignore[import-untyped]

    project = Path(project_dir)
    hint = "pass --duckdb-path (or set SKEWLESS_DUCKDB_PATH)"
    try:
        project_cfg = yaml.safe_load((project / "dbt_project.yml").read_text()) or {}
    except FileNotFoundError:
        raise ManifestError(f"no dbt_project.yml in {project}; {hint}") from None
    profile_name = project_cfg.get("profile")
    candidates = [profiles_dir, os.environ.get("DBT_PROFILES_DIR"), project, Path.home() / ".dbt"]
    for folder in candidates:
        if folder and (Path(folder) / "profiles.yml").is_file():
            profiles_file = Path(folder) / "profiles.yml"
            break
    else:
        raise ManifestError(f"no profiles.yml found for the dbt project in {project}; {hint}")
    profiles = yaml.safe_load(profiles_file.read_text()) or {}
    profile = profiles.get(profile_name)
    if not isinstance(profile, dict):
        raise ManifestError(f"{profiles_file} has no profile `{profile_name}`; {hint}")
    target_name = target or os.environ.get("DBT_TARGET") or profile.get("target", "dev")
    target_name = _render_env(str(target_name), str(profiles_file))
    output = (profile.get("outputs") or {}).get(target_name)
    if not isinstance(output, dict) or output.get("type") != "duckdb":
        raise ManifestError(
            f"{profiles_file}: profile `{profile_name}`, target `{target_name}` is not a duckdb "
            f"output; materialize reads DuckDB — {hint}"
        )
    raw = str(output.get("path") or "")
    path = _render_env(raw, f"{profiles_file}: {profile_name}.outputs.{target_name}.path")
    if not path or path == ":memory:" or path.startswith("md:"):
        raise ManifestError(
            f"{profiles_file}: profile `{profile_name}` has no on-disk DuckDB path ({raw!r}); {hint}"
        )
    p = Path(path).expanduser()
    return p if p.is_absolute() else project / p


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
    problems: list[str] = []
    for view in views:
        if not view.relation_name:
            continue  # ephemeral: the loader refuses it with its own message
        problems += type_mismatches(view, relation_column_types(con, view))
    if problems:
        raise ColumnTypeError("; ".join(problems))
