"""The set of feature views a runtime serves, and resolution of `<view>.<column>` references."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from skewless.definitions import Feature, FeatureView
from skewless.errors import UnknownFeatureError
from skewless.manifest import Manifest, load_manifest, read_feature_views

__all__ = ["Registry"]


class Registry:
    """Feature views by name, read once from a dbt manifest."""

    def __init__(self, views: dict[str, FeatureView], manifest: Manifest | None = None):
        self.views = views
        self.manifest = manifest

    @classmethod
    def from_manifest(cls, path: str | Path) -> Registry:
        manifest = load_manifest(path)
        return cls(read_feature_views(manifest), manifest)

    @classmethod
    def from_dbt(cls, project_dir: str | Path, target_path: str = "target") -> Registry:
        return cls.from_manifest(Path(project_dir) / target_path / "manifest.json")

    def view(self, name: str) -> FeatureView:
        try:
            return self.views[name]
        except KeyError:
            raise UnknownFeatureError(
                f"no feature view named `{name}`; known views: {', '.join(sorted(self.views)) or '(none)'}"
                " — is the model tagged with meta.skewless and compiled (`dbt compile`)?"
            ) from None

    def feature(self, ref: str) -> Feature:
        """Resolve `<view>.<column>`."""
        view_name, dot, column = ref.rpartition(".")
        if not dot or not view_name or not column:
            raise UnknownFeatureError(f"`{ref}` is not a feature reference; write `<model>.<column>`")
        view = self.view(view_name)
        try:
            return view.feature(column)
        except KeyError:
            raise UnknownFeatureError(
                f"feature view `{view_name}` has no feature `{column}`; its features: "
                f"{', '.join(view.feature_names)}"
            ) from None

    def resolve(self, refs: Iterable[str]) -> list[Feature]:
        return [self.feature(r) for r in refs]
