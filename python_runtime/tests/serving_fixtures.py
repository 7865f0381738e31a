"""The serving fixture dbt project (tests/projects/serving), built once per test process.

Imported by test_materialize, test_online and test_cli. dbt runs once per pytest process (each
xdist worker builds its own copy in its own temp folder); tests that change data work on their
own copy of the DuckDB file (`fresh_db`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

PROJECT = Path(__file__).parent / "projects" / "serving"
#: The fixture's rows are stamped 2099-01-01 09:00–11:45; tests read and load "as of" noon.
NOON = datetime(2099, 1, 1, 12, 0, tzinfo=timezone.utc)


@dataclass(frozen=True)
class BuiltProject:
    """A built copy of the serving project: its folder, manifest and DuckDB file."""

    dir: Path
    manifest: Path
    duckdb: Path


_BUILT: dict[str, BuiltProject] = {}


def build_serving_project(base: Path) -> BuiltProject:
    """Copy the fixture project under `base` and `dbt build` it (once per process)."""
    if "serving" in _BUILT:
        return _BUILT["serving"]
    target = base / "serving"
    shutil.copytree(PROJECT, target, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb"))
    db = target / "serving.duckdb"
    # dbt runs in a subprocess: dbt-duckdb keeps the database file attached in its process, and
    # DuckDB refuses a second attach of the same file from one process.
    dbt = Path(sys.executable).with_name("dbt")
    proc = subprocess.run(
        [
            str(dbt), "build",
            "--project-dir", str(target),
            "--profiles-dir", str(target),
            "--target-path", str(target / "target"),
            "--log-path", str(target / "logs"),
        ],
        env={**os.environ, "SKEWLESS_DUCKDB_PATH": str(db), "TZ": "UTC"},
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(
            f"dbt build of the serving fixture failed:\n{proc.stdout}\n{proc.stderr}"
        )
    built = BuiltProject(target, target / "target" / "manifest.json", db)
    _BUILT["serving"] = built
    return built


def copy_db(built: BuiltProject, folder: Path) -> Path:
    """A private copy of the built DuckDB file (same file name, so the same catalog name)."""
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / built.duckdb.name
    shutil.copy(built.duckdb, dest)
    return dest
