"""`ServerConfig`: what `skewless serve` runs with, from options or `SKEWLESS_*` variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from skewless.errors import RequestError

__all__ = ["DEFAULT_MAX_BODY_BYTES", "TOKEN_ENV", "ServerConfig"]

#: The variable holding the bearer token; unset or empty: no auth.
TOKEN_ENV = "SKEWLESS_SERVER_TOKEN"
#: Largest request body accepted (413 beyond): 10,000 entities of a few keys fit.
DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024


def _env_float(name: str, default: float, zero: bool = False) -> float:
    text = os.environ.get(name, "")
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (value >= 0 if zero else value > 0) or value == float("inf"):
        raise RequestError(f"{name}={text[:40]!r}: give a number {'>=' if zero else '>'} 0")
    return value


@dataclass(frozen=True)
class ServerConfig:
    """Settings of one server process (each `--workers` process reads the same).

    Attributes:
        project_dir: the dbt project folder.
        target_path: dbt's target folder (holding manifest.json), relative to the project.
        redis_url: the Redis URL (kept out of the repr; logs use the redacted form).
        strict: fail on any broken definition (at start and on reload).
        token: the bearer token (`SKEWLESS_SERVER_TOKEN`); None: no auth. Never in the repr.
        max_body_bytes: largest request body (413 beyond).
        reload_interval: seconds between checks of manifest.json (0: never reload).
        deadline_ms: the default per-call deadline (None: the store's default).
        duckdb_path, profiles_dir, dbt_target: where `/explain` reads what dbt built.
    """

    project_dir: Path = Path(".")
    target_path: str = "target"
    redis_url: str = field(default="", repr=False)
    strict: bool = False
    token: str | None = field(default=None, repr=False)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    reload_interval: float = 1.0
    deadline_ms: float | None = None
    duckdb_path: Path | None = None
    profiles_dir: Path | None = None
    dbt_target: str | None = None

    @property
    def manifest_path(self) -> Path:
        target = Path(self.target_path)
        return (target if target.is_absolute() else self.project_dir / target) / "manifest.json"

    @classmethod
    def from_env(cls) -> ServerConfig:
        """The configuration from `SKEWLESS_*` variables (how `--workers` processes get it)."""
        env = os.environ
        duckdb = env.get("SKEWLESS_DUCKDB_PATH")
        profiles = env.get("SKEWLESS_PROFILES_DIR")
        return cls(
            project_dir=Path(env.get("SKEWLESS_PROJECT_DIR") or "."),
            target_path=env.get("SKEWLESS_TARGET_PATH") or "target",
            redis_url=env.get("SKEWLESS_REDIS_URL", ""),
            strict=env.get("SKEWLESS_STRICT", "").lower() in {"1", "true", "yes"},
            token=env.get(TOKEN_ENV) or None,
            max_body_bytes=int(
                _env_float("SKEWLESS_SERVER_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)
            ),
            reload_interval=_env_float("SKEWLESS_SERVER_RELOAD_INTERVAL", 1.0, zero=True),
            duckdb_path=Path(duckdb) if duckdb else None,
            profiles_dir=Path(profiles) if profiles else None,
            dbt_target=env.get("DBT_TARGET") or None,
        )
