"""Training records: pin what a training set was built from, and check it against what is served.

`training_record` writes, for a training-set model (a dbt model built over feature views):

- the feature views it depends on (directly or through other models, from the manifest's
  `depends_on`), each with its definition version and the features the training relation holds;
- the sha256 of `manifest.json`, dbt's version, the project name;
- the git commit of the dbt project (and whether its folder had uncommitted changes), if any;
- the relation, its row count, and the time range of its spine timestamp column.

`check_training_record` lists every recorded feature whose currently served version differs:
its view's definition version in the current manifest is not the recorded one, the view or the
feature is gone, or (given a Redis client) the current version is not materialized.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from skewless.errors import ManifestError, SkewlessError, UnknownFeatureError

__all__ = [
    "RECORD_FORMAT",
    "TrainingDifference",
    "check_training_record",
    "git_commit",
    "training_record",
    "write_training_record",
]

RECORD_FORMAT = 1
UTC = timezone.utc


def git_commit(folder: str | Path) -> tuple[str | None, bool | None]:
    """`(commit, dirty)` of the git checkout holding `folder`; `(None, None)` outside git."""
    try:
        top = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if top.returncode != 0:
            return None, None
        status = subprocess.run(
            ["git", "-C", str(folder), "status", "--porcelain", "--", "."],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        return top.stdout.strip(), bool(status.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        return None, None


def _upstream_views(manifest: Any, unique_id: str, views_by_id: Mapping[str, Any]) -> list[str]:
    seen: set[str] = set()
    found: list[str] = []
    stack = [unique_id]
    while stack:
        node = manifest.nodes.get(stack.pop()) or {}
        for dep in (node.get("depends_on") or {}).get("nodes") or []:
            if dep in seen:
                continue
            seen.add(dep)
            if dep in views_by_id:
                found.append(views_by_id[dep].name)
            stack.append(dep)
    return sorted(set(found))


def _iso(v: Any) -> Any:
    if isinstance(v, datetime):
        return (v if v.tzinfo else v.replace(tzinfo=UTC)).isoformat()
    if isinstance(v, date):
        return v.isoformat()
    return v


def training_record(
    registry: Any,
    model: str,
    duck: Any,
    *,
    timestamp: str | None = None,
    project_dir: str | Path | None = None,
) -> dict[str, Any]:
    """The record of the training set built by dbt model `model`.

    Args:
        registry: the feature views and the manifest (`Registry.from_dbt`).
        model: the training-set model's name.
        duck: the offline reader (`offline.reader_from_profile`: any engine), or a
            DuckDB connection where the model's relation resolves.
        timestamp: the spine's timestamp column (default: the first TIMESTAMP/DATE column of the
            relation that is not a feature).
        project_dir: the dbt project folder, for its git commit (default: the manifest's parent).

    Raises:
        UnknownFeatureError: no model named `model` in the manifest.
        SkewlessError: the relation cannot be read, or has no timestamp column.
    """
    manifest = registry.manifest
    if manifest is None:
        raise ManifestError("the registry was built without a manifest; use Registry.from_dbt")
    nodes = [n for n in manifest.models() if n.get("name") == model]
    if not nodes:
        raise UnknownFeatureError(
            f"no dbt model named `{model}` in {manifest.path}; pass the training set's model name "
            "(and run `dbt compile` after adding it)"
        )
    node = nodes[0]
    relation = node.get("relation_name")
    if not relation:
        raise SkewlessError(
            f"model `{model}` has no relation (ephemeral?); materialize it as a table"
        )
    views_by_id = {v.unique_id: v for v in registry.views.values()}
    view_names = _upstream_views(manifest, str(node.get("unique_id")), views_by_id)
    # an offline reader (`offline.OfflineReader`: any engine) or a DuckDB session
    con = getattr(duck, "con", None) if hasattr(duck, "latest_rows") else duck
    if con is not None:
        try:
            desc = con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
        except Exception as e:
            raise SkewlessError(
                f"model `{model}`: cannot read {relation} in DuckDB ({e}); run `dbt build` first"
            ) from None
        columns = {str(r[0]): str(r[1]).upper() for r in desc}
    else:
        columns = {c: t.upper() for c, t in duck.relation_types(str(relation), model).items()}
    feature_columns: set[str] = set()
    fviews: dict[str, Any] = {}
    for name in view_names:
        view = registry.view(name)
        used = [
            f.name
            for f in view.features
            if f.name in columns or f"{view.name}__{f.name}" in columns
        ]
        feature_columns.update(used)
        fviews[name] = {
            "version": view.version,
            "features": used or list(view.feature_names),
            "relation": view.relation_name,
        }
    if timestamp is None:
        for col, typ in columns.items():
            if col not in feature_columns and (typ.startswith("TIMESTAMP") or typ == "DATE"):
                timestamp = col
                break
    if timestamp is not None and timestamp not in columns:
        raise SkewlessError(
            f"model `{model}`: no column `{timestamp}` in {relation}; its columns: {', '.join(columns)}"
        )
    quote = getattr(duck, "quote", None) if hasattr(duck, "latest_rows") else None
    q = quote(timestamp) if quote and timestamp else '"' + str(timestamp).replace('"', '""') + '"'
    ts_sql = f"min({q}), max({q})" if timestamp else "NULL, NULL"
    stats_sql = f"SELECT count(*), {ts_sql} FROM {relation}"
    if con is not None:
        count, lo, hi = con.execute(stats_sql).fetchone()
    else:
        (row,) = [r for b in duck.query(stats_sql, 1) for r in b.to_pylist()]
        count, lo, hi = row.values()
    folder = (
        Path(project_dir)
        if project_dir
        else (manifest.path.parent.parent if manifest.path else Path("."))
    )
    commit, dirty = git_commit(folder)
    return {
        "skewless_training_record": RECORD_FORMAT,
        "created_at": datetime.now(UTC).isoformat(),
        "model": model,
        "unique_id": node.get("unique_id"),
        "relation": relation,
        "row_count": int(count),
        "spine_timestamp": timestamp,
        "time_range": [_iso(lo), _iso(hi)],
        "manifest_sha256": manifest.sha256,
        "dbt_version": manifest.dbt_version,
        "project_name": manifest.project_name,
        "git_commit": commit,
        "git_dirty": dirty,
        "feature_views": fviews,
        "features": {
            f"{name}.{feat}": info["version"]
            for name, info in fviews.items()
            for feat in info["features"]
        },
    }


def write_training_record(record: Mapping[str, Any], path: str | Path) -> Path:
    """Write a record as indented JSON; returns the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(record, indent=2, sort_keys=False) + "\n")
    return p


@dataclass(frozen=True)
class TrainingDifference:
    """A recorded feature whose currently served version differs from the record's.

    Attributes:
        feature: `<view>.<column>`.
        recorded_version: the view's version when the training set was recorded.
        current_version: the view's version in the current manifest (None: view removed).
        materialized: whether the current version is loaded in Redis (None: not checked).
        reason: what differs, in words.
    """

    feature: str
    recorded_version: str
    current_version: str | None
    materialized: bool | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "recorded_version": self.recorded_version,
            "current_version": self.current_version,
            "materialized": self.materialized,
            "reason": self.reason,
        }


def check_training_record(
    path: str | Path | Mapping[str, Any], registry: Any, client: Any = None
) -> list[TrainingDifference]:
    """Every recorded feature whose currently served version differs from the record's.

    Args:
        path: the record file (or the record itself).
        registry: the current feature views (`Registry.from_dbt`).
        client: a redis-py client; when given, a current version that is not materialized is
            a difference too (Redis would refuse to serve it).

    Raises:
        SkewlessError: the file is not a training record.
    """
    from skewless.online import keys

    if isinstance(path, Mapping):
        record = path
    else:
        try:
            record = json.loads(Path(path).read_text())
        except (OSError, ValueError) as e:
            raise SkewlessError(f"cannot read training record {path}: {e}") from None
    if not isinstance(record, Mapping) or "features" not in record:
        raise SkewlessError(
            f"{path} is not a skewless training record (no `features`); write one with "
            "`skewless training-record --model <model> --out record.json`"
        )
    diffs: list[TrainingDifference] = []
    materialized_cache: dict[str, bool] = {}
    for ref, recorded in record["features"].items():
        view_name, _, col = ref.rpartition(".")
        view = registry.views.get(view_name)
        if view is None:
            diffs.append(
                TrainingDifference(
                    ref, recorded, None, None, f"feature view `{view_name}` no longer exists"
                )
            )
            continue
        if col not in view.feature_names:
            diffs.append(
                TrainingDifference(
                    ref,
                    recorded,
                    view.version,
                    None,
                    f"view `{view_name}` no longer has feature `{col}`",
                )
            )
            continue
        mat: bool | None = None
        if client is not None:
            if view_name not in materialized_cache:
                materialized_cache[view_name] = (
                    client.get(keys.pointer_key(view_name, view.version)) is not None
                )
            mat = materialized_cache[view_name]
        if view.version != recorded:
            diffs.append(
                TrainingDifference(
                    ref,
                    recorded,
                    view.version,
                    mat,
                    f"view `{view_name}` is at version {view.version}, the training set used "
                    f"{recorded}: its definition changed since; rebuild the training set",
                )
            )
        elif mat is False:
            diffs.append(
                TrainingDifference(
                    ref,
                    recorded,
                    view.version,
                    mat,
                    f"version {recorded} is not materialized, so it is not served; run "
                    f"`skewless materialize --select {view_name}`",
                )
            )
    return diffs
