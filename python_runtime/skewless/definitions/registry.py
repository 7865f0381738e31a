"""The set of feature views a runtime serves, and resolution of `<view>.<column>` references."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from skewless.definitions import Feature, FeatureView
from skewless.definitions.manifest import Manifest, is_on_demand, load_manifest, read_feature_views
from skewless.errors import UnknownFeatureError

if TYPE_CHECKING:
    from skewless.definitions.ondemand import OnDemandView

__all__ = ["Registry"]


class Registry:
    """Feature views and request-time (on-demand) views by name, read once from a dbt manifest.

    Attributes:
        views: feature views (materialized into Redis).
        on_demand: request-time views, their SQL compiled to Python at load time.
        manifest: the manifest they were read from.
    """

    def __init__(
        self,
        views: dict[str, FeatureView],
        manifest: Manifest | None = None,
        on_demand: dict[str, OnDemandView] | None = None,
    ):
        self.views = views
        self.manifest = manifest
        self.on_demand: dict[str, OnDemandView] = on_demand or {}

    @classmethod
    def from_manifest(cls, path: str | Path) -> Registry:
        """Read feature views and on-demand views; an unsupported request-time construct fails
        here (`UnsupportedExpression`, naming model, column and construct), never at serving."""
        manifest = load_manifest(path)
        views = read_feature_views(manifest)
        on_demand = None
        if any(is_on_demand(n) for n in manifest.models()):
            from skewless.definitions.ondemand import read_on_demand_views

            on_demand = read_on_demand_views(manifest, views)
        return cls(views, manifest, on_demand)

    @classmethod
    def from_dbt(cls, project_dir: str | Path, target_path: str = "target") -> Registry:
        return cls.from_manifest(Path(project_dir) / target_path / "manifest.json")

    def view(self, name: str) -> FeatureView:
        try:
            return self.views[name]
        except KeyError:
            known = sorted([*self.views, *self.on_demand])
            raise UnknownFeatureError(
                f"no feature view named `{name}`; known views: {', '.join(known) or '(none)'}"
                " — is the model tagged with meta.skewless and compiled (`dbt compile`)?"
            ) from None

    def feature(self, ref: str) -> Feature:
        """Resolve `<view>.<column>`."""
        view_name, dot, column = ref.rpartition(".")
        if not dot or not view_name or not column:
            raise UnknownFeatureError(
                f"`{ref}` is not a feature reference; write `<model>.<column>`"
            )
        view: FeatureView | OnDemandView = (
            self.on_demand[view_name] if view_name in self.on_demand else self.view(view_name)
        )
        try:
            return view.feature(column)
        except KeyError:
            raise UnknownFeatureError(
                f"feature view `{view_name}` has no feature `{column}`; its features: "
                f"{', '.join(view.feature_names)}"
            ) from None

    def resolve(self, refs: Iterable[str]) -> list[Feature]:
        return [self.feature(r) for r in refs]
