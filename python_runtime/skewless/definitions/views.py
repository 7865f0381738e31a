"""Frozen definitions of feature views, read from the dbt manifest (see `manifest.py`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

__all__ = ["ON_STALE_POLICIES", "Feature", "FeatureView", "HasFeatures"]

#: What a read does with a value older than the view's `freshness` SLA.
ON_STALE_POLICIES = ("serve", "default", "null", "reject")


@dataclass(frozen=True)
class Feature:
    """One feature column of a view, addressed as `<view>.<name>`."""

    view: str
    name: str
    data_type: str
    default: Any = None
    has_default: bool = False
    description: str = ""

    @property
    def ref(self) -> str:
        return f"{self.view}.{self.name}"


class HasFeatures:
    """Lookup of a definition's features by name (feature views and request-time views)."""

    features: tuple[Feature, ...]

    def feature(self, name: str) -> Feature:
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)


@dataclass(frozen=True)
class FeatureView(HasFeatures):
    """A dbt model carrying `config.meta.skewless` (DESIGN.md §3.1).

    Attributes:
        name: the model name; features are addressed as `<name>.<column>`.
        entity: key column(s), in the declared order.
        entity_types: the declared data type of each key column ("" when undeclared).
        timestamp: the column saying from when a row's values hold.
        timestamp_type: its declared data type ("" when undeclared).
        ttl: max age of a value (None: no limit).
        available_after: delay between `timestamp` and when serving could have seen the row.
        freshness: online staleness SLA (None: no SLA).
        on_stale: one of `ON_STALE_POLICIES`.
        features: the feature columns (every declared column but the keys and the timestamp).
        version: a hash of the definition (normalised compiled SQL, skewless meta, column types).
    """

    name: str
    unique_id: str
    relation_name: str
    entity: tuple[str, ...]
    entity_types: tuple[str, ...]
    timestamp: str
    ttl: timedelta | None
    available_after: timedelta
    freshness: timedelta | None
    on_stale: str
    features: tuple[Feature, ...]
    version: str
    compiled_sql: str = field(default="", repr=False, compare=False)
    database: str = ""
    schema: str = ""
    alias: str = ""
    timestamp_type: str = ""

    def declared_types(self) -> dict[str, str]:
        """Every declared column (keys, timestamp, features) → its declared `data_type`, in the
        YAML's spelling; columns declared without a type are left out."""
        out = dict(zip(self.entity, self.entity_types, strict=True))
        out[self.timestamp] = self.timestamp_type
        out.update((f.name, f.data_type) for f in self.features)
        return {c: t for c, t in out.items() if t}
