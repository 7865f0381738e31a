"""`skewless init`: scaffold a working feature project (dbt + skewless) in a folder.

The project comes from `templates/project/` (package data): a seed, a feature view, a
training set, a request-time view, `profiles.yml` (DuckDB next to the project) and
`packages.yml`. `__PROJECT__` in any template becomes the project name and `__DBT_PACKAGE__` the
folder of the skewless dbt package (`dbt_package_dir`).

Where the dbt package comes from: the macros and tests must match the runtime that serves the
features, so `packages.yml` points (`local:`) at the dbt package of the *installed* skewless:
in a source checkout (an editable install) that is the repository root, which holds the
package's `dbt_project.yml`, `macros/` and `tests/`; a wheel carries the same files as package
data under `skewless/dbt_package/` (symlinks in the source tree, copied into the wheel at build
time). A released skewless can equally be referenced with a `git:` package at the same tag.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any

import click

from skewless.errors import SkewlessError

__all__ = ["dbt_package_dir", "init", "project_name", "scaffold"]

_TEMPLATES = "templates/project"


class _InitError(SkewlessError):
    """The target folder cannot take the new project (nothing was written)."""


def dbt_package_dir() -> Path:
    """The folder holding the skewless dbt package (`dbt_project.yml` named `skewless`, `macros/`)
    that matches this runtime: the source checkout's root, else the copy shipped in the wheel.

    Raises:
        SkewlessError: this install carries no dbt package (say how to reference it instead).
    """
    here = Path(__file__).resolve().parent.parent  # the `skewless` Python package
    candidates = [here.parent.parent, here / "dbt_package"]
    for root in candidates:
        project = root / "dbt_project.yml"
        if project.is_file() and (root / "macros").is_dir():
            text = project.read_text(encoding="utf-8")
            if re.search(r"^name:\s*['\"]?skewless['\"]?\s*$", text, re.MULTILINE):
                return root.resolve()
    raise SkewlessError(
        "this skewless installation carries no dbt package (looked in "
        f"{', '.join(str(c) for c in candidates)}); reinstall skewless from a wheel or a source "
        "checkout, or reference the package with `git:` in packages.yml"
    )


def project_name(folder: Path) -> str:
    """A dbt project name from a folder name: lowercase letters, digits and `_`, not starting
    with a digit (`My-Features` → `my_features`)."""
    name = re.sub(r"[^0-9a-z_]+", "_", folder.resolve().name.lower()).strip("_")
    if not name:
        name = "features"
    if name[0].isdigit():
        name = f"p_{name}"
    return name


def _templates() -> list[tuple[str, str]]:
    """(relative path, text) of every template file, in a stable order."""
    root = resources.files("skewless.cli").joinpath(_TEMPLATES)
    out: list[tuple[str, str]] = []

    def walk(node: Any, prefix: str) -> None:  # an importlib Traversable
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            rel = f"{prefix}{child.name}"
            if child.is_dir():
                if child.name != "__pycache__":
                    walk(child, rel + "/")
            else:
                out.append((rel, child.read_text(encoding="utf-8")))

    walk(root, "")
    if not out:
        raise SkewlessError(f"the project templates are missing from this install ({root})")
    return out


def scaffold(folder: Path, *, name: str | None = None, force: bool = False) -> list[Path]:
    """Write the feature project into `folder` (created if absent); return the files written.

    Args:
        folder: where the project goes.
        name: the dbt project (and profile) name; default: from the folder name.
        force: allow a non-empty folder; an existing file is still never overwritten.

    Raises:
        SkewlessError: `folder` is a file, is not empty (without `force`), or already holds a
            file of the project; `name` is not a valid dbt project name. Nothing is written.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise _InitError(f"{folder} is a file; give `skewless init` a new or empty folder")
    name = name or project_name(folder)
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise _InitError(
            f"--name {name!r} is not a valid dbt project name; use lowercase letters, digits "
            "and `_`, not starting with a digit (e.g. my_features)"
        )
    files = [
        (folder / rel, text.replace("__PROJECT__", name).replace("__DBT_PACKAGE__", _yaml_path()))
        for rel, text in _templates()
    ]
    existing = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    if existing and not force:
        shown = ", ".join(existing[:5]) + (", …" if len(existing) > 5 else "")
        raise _InitError(
            f"{folder} is not empty ({shown}); nothing was written. Choose a new folder, e.g. "
            f"`skewless init {folder / name}`, or pass --force to add the project next to what "
            "is there (existing files are never overwritten)"
        )
    clashes = [str(p.relative_to(folder)) for p, _ in files if p.exists() or p.is_symlink()]
    if clashes:
        raise _InitError(
            f"{folder} already has {', '.join(clashes)}; nothing was written (init never "
            "overwrites a file). Move them away or choose another folder"
        )
    written = []
    for path, text in files:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as f:  # "x": never replace a file
            f.write(text)
        written.append(path)
    return written


def _yaml_path() -> str:
    """The dbt package folder as a YAML double-quoted string."""
    text = str(dbt_package_dir())
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@click.command()
@click.argument(
    "directory",
    required=False,
    default=".",
    type=click.Path(path_type=Path),
)
@click.option("--name", help="The dbt project name (default: from the folder name).")
@click.option(
    "--force",
    is_flag=True,
    help="Scaffold into a non-empty folder; files that already exist are never overwritten.",
)
@click.option(
    "--print-package-path",
    is_flag=True,
    help="Only print the skewless dbt package folder (for packages.yml `local:`) and exit.",
)
def init(directory: Path, name: str | None, force: bool, print_package_path: bool) -> None:
    """Scaffold a feature project in DIRECTORY (default: the current folder; created if absent).

    It holds one feature view, a training set (skewless.point_in_time_join), a request-time
    view, seed data, a DuckDB profile and packages.yml pointing at this skewless's dbt package.
    DIRECTORY must be new or empty (see --force); nothing is ever overwritten.

    \b
    Example:
      skewless init my_features && cd my_features
      dbt deps && dbt build
      skewless materialize
      skewless get --entity customer_id=1 --features customer_stats.order_count,order_risk.amount_to_avg --request amount=120.00
    """
    if print_package_path:
        click.echo(str(dbt_package_dir()))
        return
    written = scaffold(directory, name=name, force=force)
    shown = directory if directory.is_absolute() else Path(".") / directory
    click.echo(f"created {len(written)} files in {shown}; next:", err=True)
    click.echo(
        f"  cd {directory}\n"
        "  dbt deps && dbt build\n"
        "  skewless materialize\n"
        "  skewless get --entity customer_id=1 --features customer_stats.order_count,"
        "order_risk.amount_to_avg --request amount=120.00",
        err=True,
    )
