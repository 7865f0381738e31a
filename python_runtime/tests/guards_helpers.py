"""The guards fixture dbt project (tests/projects/guards) for the skew-guard tests.

Imported by test_consistency, test_freshness and test_training. Each call of `build_guards`
copies the project into its own folder and runs `dbt build` there in a subprocess (dbt-duckdb
keeps the file attached inside its process), so tests never share a mutable DuckDB file.
`built_once` caches one clean build per test process for the read-only tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

PROJECT = Path(__file__).parent / "projects" / "guards"
REPO = Path(__file__).resolve().parents[2]
#: The seed's rows run from 2026-01-01 01:00 to 2026-01-03 04:00; tests load "as of" noon on the 3rd.
AS_OF = datetime(2026, 1, 3, 12, 0, tzinfo=timezone.utc)
USER_STATS_FEATURES = [
    "user_stats.txn_count",
    "user_stats.amount_sum",
    "user_stats.avg_amount",
    "user_stats.last_country",
]


@dataclass(frozen=True)
class Guards:
    dir: Path
    duckdb: Path

    @property
    def manifest(self) -> Path:
        return self.dir / "target" / "manifest.json"


def dbt(project: Path, *args: str) -> None:
    """Run dbt (a subprocess of this venv's dbt) on a built copy."""
    exe = Path(sys.executable).with_name("dbt")
    paths = [] if args[0] == "deps" else ["--target-path", str(project / "target")]
    proc = subprocess.run(
        [str(exe), *args, "--project-dir", str(project), "--profiles-dir", str(project),
         *paths, "--log-path", str(project / "logs")],
        env={**os.environ, "SKEWLESS_DUCKDB_PATH": str(project / "guards.duckdb"), "TZ": "UTC"},
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"dbt {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")


def build_guards(base: Path) -> Guards:
    """A fresh, built copy of the guards project under `base`."""
    target = base / "guards"
    shutil.copytree(
        PROJECT, target, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb", "dbt_packages")
    )
    (target / "packages.yml").write_text(f"packages:\n  - local: {REPO}\n")
    dbt(target, "deps")
    dbt(target, "build")
    return Guards(target, target / "guards.duckdb")


_ONCE: dict[str, Guards] = {}


def built_once(base: Path) -> Guards:
    """One clean build per test process (do not modify it)."""
    if "g" not in _ONCE:
        _ONCE["g"] = build_guards(base)
    return _ONCE["g"]


def duck(db: Path):  # type: ignore[no-untyped-def]
    """A read-only DuckDB session on a built copy, catalog named like dbt's (UTC)."""
    from skewless.definitions.registry import Registry
    from skewless.online.materialize import open_duckdb

    reg = Registry.from_manifest(db.parent / "target" / "manifest.json")
    return open_duckdb(db, reg.views.values())


def materialize_all(project: Guards, redis_url: str, now: datetime = AS_OF) -> None:
    from skewless.definitions.registry import Registry
    from skewless.online.connection import connect
    from skewless.online.materialize import materialize

    reg = Registry.from_manifest(project.manifest)
    client = connect(redis_url)
    for name in sorted(reg.views):  # one view per call: works around one loader session per view
        materialize(reg, client, project.duckdb, now=now, select=[name])
