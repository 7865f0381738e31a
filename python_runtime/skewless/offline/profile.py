"""The dbt profile target a project builds with, read as dbt renders it (without importing dbt).

target = profile_target("path/to/dbt_project", target="postgres")
target.type          # "postgres"
target.get("port")   # 5432 — rendered on read

`profiles.yml` is looked for where dbt looks: `profiles_dir`, `$DBT_PROFILES_DIR`, the project
folder, then `~/.dbt`. The target is `target`, else `$DBT_TARGET`, else the profile's `target:`.
String values are rendered the way dbt renders profiles for the expressions profiles use:
`{{ env_var('NAME') }}`, `{{ env_var('NAME', 'default') }}`, each optionally piped through
`as_number`, `as_text`, `as_bool`, `int` or `string` (a value that is only such an expression
and ends in `as_number`/`int`/`as_bool` becomes a number/boolean, as dbt's native rendering
does). Any other Jinja is refused with a message naming the key — never the value, which may be
a secret.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skewless.errors import ManifestError

__all__ = ["ProfileTarget", "profile_target", "render_env"]

_EXPR = re.compile(
    r"\{\{\s*env_var\(\s*(['\"])(.+?)\1\s*(?:,\s*(['\"])(.*?)\3\s*)?\)"
    r"((?:\s*\|\s*(?:as_number|as_text|as_bool|int|string)(?:\(\s*\))?)*)\s*\}\}"
)


def _filters(text: str) -> list[str]:
    return [f.strip().removesuffix("()").strip() for f in text.split("|") if f.strip()]


def render_env(text: str, where: str) -> Any:
    """`text` with every `{{ env_var(…) }}` replaced (see the module docstring).

    Raises:
        ManifestError: an env var is unset without default, or other Jinja is left (`where`
            names the file and key; the value is never shown).
    """

    def value(m: re.Match[str]) -> str:
        name, default = m.group(2), m.group(4)
        got = os.environ.get(name, default)
        if got is None:
            raise ManifestError(f"{where}: env_var('{name}') is not set and has no default")
        return got

    whole = _EXPR.fullmatch(text.strip())
    if whole:
        got = value(whole)
        filters = _filters(whole.group(5) or "")
        last = filters[-1] if filters else ""
        if last in ("as_number", "int"):
            try:
                return int(got) if last == "int" or re.fullmatch(r"[+-]?\d+", got) else float(got)
            except ValueError:
                raise ManifestError(
                    f"{where}: env_var('{whole.group(2)}') is not a number"
                ) from None
        if last == "as_bool":
            return got.strip().lower() == "true"
        return got
    out = _EXPR.sub(value, text)
    if "{{" in out or "{%" in out:
        raise ManifestError(
            f"{where}: only {{{{ env_var('NAME', 'default') }}}} (with as_number/as_text/"
            "as_bool) is rendered outside dbt; write the value or use env_var"
        )
    return out


@dataclass(frozen=True)
class ProfileTarget:
    """One rendered output of a dbt profile.

    Attributes:
        profiles_file: the `profiles.yml` it came from.
        profile: the profile name (the project's `profile:`).
        name: the target name.
        type: the adapter (`duckdb`, `postgres`, …).
        raw: the output as written (may hold secrets: never print it); read keys with `get`.
        project_dir: the dbt project folder (relative paths are relative to it).
    """

    profiles_file: Path
    profile: str
    name: str
    type: str
    raw: dict[str, Any] = field(repr=False)
    project_dir: Path

    def get(self, key: str, default: Any = None) -> Any:
        """The output's `key`, rendered (see the module docstring); `default` when absent."""
        if key not in self.raw or self.raw[key] is None:
            return default
        return _render_tree(
            self.raw[key], f"{self.profiles_file}: {self.profile}.outputs.{self.name}.{key}"
        )

    def where(self) -> str:
        """`<file>: profile `p`, target `t``, for messages."""
        return f"{self.profiles_file}: profile `{self.profile}`, target `{self.name}`"


def _render_tree(value: Any, where: str) -> Any:
    if isinstance(value, str):
        return render_env(value, where)
    if isinstance(value, dict):
        return {k: _render_tree(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_render_tree(v, where) for v in value]
    return value


def profile_target(
    project_dir: str | Path,
    profiles_dir: str | Path | None = None,
    target: str | None = None,
    hint: str = "pass --profiles-dir and --dbt-target",
) -> ProfileTarget:
    """The rendered profile target of a dbt project (see the module docstring).

    Raises:
        ManifestError: saying which file, profile, target or key is missing, ending in `hint`.
    """
    import yaml  # type: ignore[import-untyped]

    project = Path(project_dir)
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
    target_name = str(render_env(str(target_name), str(profiles_file)))
    output = (profile.get("outputs") or {}).get(target_name)
    if not isinstance(output, dict):
        raise ManifestError(
            f"{profiles_file}: profile `{profile_name}` has no target `{target_name}`; {hint}"
        )
    where = f"{profiles_file}: {profile_name}.outputs.{target_name}.type"
    return ProfileTarget(
        profiles_file=profiles_file,
        profile=str(profile_name),
        name=target_name,
        type=str(_render_tree(output.get("type") or "", where)),
        raw=output,
        project_dir=project,
    )
