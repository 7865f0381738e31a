"""Reading what dbt built on DuckDB: the database file named by the dbt profile, opened read-only.

path = duckdb_path_from_profile("path/to/dbt_project")
con = open_duckdb(path, registry.views.values())
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from skewless.definitions import FeatureView
from skewless.errors import ManifestError

__all__ = ["duckdb_path_from_profile", "open_duckdb"]

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
