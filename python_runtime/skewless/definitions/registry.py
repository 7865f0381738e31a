"""The set of feature views a runtime serves, and resolution of `<view>.<column>` references.

One broken definition disables that view only: the registry records it as a `Problem` of the
view (and of every request-time view reading it), serves the rest, and raises
`BrokenViewError` — naming the view and its problem — when a feature of a disabled view is
asked for. `strict=True` raises the first problem at load instead (fail everything, for CI).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from skewless.definitions import Feature, FeatureView
from skewless.definitions.manifest import (
    Manifest,
    Problem,
    is_on_demand,
    load_manifest,
    read_feature_views,
)
from skewless.definitions.windows import WindowView, read_window_views
from skewless.errors import BrokenViewError, SkewlessError, UnknownFeatureError

if TYPE_CHECKING:
    from skewless.definitions.ondemand import OnDemandView

__all__ = ["Problem", "Registry"]


class Registry:
    """Feature views and request-time (on-demand) views by name, read once from a dbt manifest.

    Attributes:
        views: the healthy feature views (materialized into Redis).
        on_demand: the healthy request-time views, their SQL compiled to Python at load time.
        windows: the healthy window-aggregation views (`meta.skewless.kind: window`; offline
            only for now: `skewless.window_join`, docs/windows.md).
        problems: the disabled views by name, each with why (`Problem`): an invalid definition,
            a model without compiled SQL, or (for a request-time view) a disabled input view.
        manifest: the manifest they were read from.
    """

    def __init__(
        self,
        views: dict[str, FeatureView],
        manifest: Manifest | None = None,
        on_demand: dict[str, OnDemandView] | None = None,
        problems: Mapping[str, Problem] | None = None,
        windows: dict[str, WindowView] | None = None,
    ):
        self.views = views
        self.windows: dict[str, WindowView] = windows or {}
        self.manifest = manifest
        self.on_demand: dict[str, OnDemandView] = on_demand or {}
        self.problems: dict[str, Problem] = dict(problems or {})

    @classmethod
    def from_manifest(cls, path: str | Path, *, strict: bool = False) -> Registry:
        """Read feature views and on-demand views.

        Each view whose definition cannot be served — invalid `meta.skewless`, a column type or
        default, a request-time construct the runtime cannot evaluate exactly
        (`UnsupportedExpression`, naming model, column and construct), no compiled SQL in the
        manifest (a partial `dbt build -s …`) — is disabled and recorded in `problems`, as is
        every request-time view reading a disabled feature view; the rest load.

        Args:
            path: `manifest.json`, or a dbt project folder holding `target/manifest.json`.
            strict: raise the first problem (its own error class and message, followed by how
                many more there are) instead of disabling views — for CI.

        Raises:
            ManifestError: the manifest is missing or unreadable.
            SkewlessError: with `strict`, the first problem.
        """
        manifest = load_manifest(path)
        problems: dict[str, Problem] = {}
        views = read_feature_views(manifest, problems)
        windows = read_window_views(manifest, problems)
        on_demand = None
        if any(is_on_demand(n) for n in manifest.models()):
            from skewless.definitions.ondemand import read_on_demand_views

            on_demand = read_on_demand_views(manifest, views, problems)
        # feature views first (a request-time view may be disabled by one), then by name
        problems = dict(sorted(problems.items(), key=lambda p: (p[1].kind != "feature_view", p[0])))
        if strict and problems:
            raise _strict_error(list(problems.values()))
        return cls(views, manifest, on_demand, problems, windows)

    @classmethod
    def from_dbt(
        cls, project_dir: str | Path, target_path: str = "target", *, strict: bool = False
    ) -> Registry:
        """`from_manifest` of `<project_dir>/<target_path>/manifest.json`."""
        return cls.from_manifest(Path(project_dir) / target_path / "manifest.json", strict=strict)

    def disabled_error(self, name: str) -> BrokenViewError:
        """The error raised when a feature of the disabled view `name` is asked for."""
        problem = self.problems[name]
        return BrokenViewError(
            f"view `{name}` is disabled: {problem.message} (the other views serve; "
            "`skewless check` lists every problem)",
            view=name,
            problem=problem.message,
        )

    def view(self, name: str) -> FeatureView:
        """The healthy feature view `name`.

        Raises:
            BrokenViewError: the view is disabled (naming its problem).
            UnknownFeatureError: no such view.
        """
        try:
            return self.views[name]
        except KeyError:
            pass
        if name in self.problems:
            raise self.disabled_error(name)
        known = sorted([*self.views, *self.on_demand, *self.windows])
        disabled = f"; disabled: {', '.join(sorted(self.problems))}" if self.problems else ""
        raise UnknownFeatureError(
            f"no feature view named `{name}`; known views: {', '.join(known) or '(none)'}"
            f"{disabled} — is the model tagged with meta.skewless and compiled (`dbt compile`)?"
        )

    def feature(self, ref: str) -> Feature:
        """Resolve `<view>.<column>`.

        Raises:
            BrokenViewError: the view is disabled (naming its problem).
            UnknownFeatureError: no such view or feature.
        """
        view_name, dot, column = ref.rpartition(".")
        if not dot or not view_name or not column:
            raise UnknownFeatureError(
                f"`{ref}` is not a feature reference; write `<model>.<column>`"
            )
        view: FeatureView | OnDemandView | WindowView
        if view_name in self.on_demand:
            view = self.on_demand[view_name]
        elif view_name in self.windows:
            view = self.windows[view_name]
        else:
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


def _strict_error(problems: list[Problem]) -> SkewlessError:
    """The first problem's error; when there are more, the same class with the count added."""
    first = problems[0].error
    if len(problems) == 1:
        return first
    others = ", ".join(f"`{p.view}`" for p in problems[1:])
    message = f"{first} (and {len(problems) - 1} more disabled view(s): {others}; `skewless check` lists them)"
    try:
        error = type(first)(message)
    except TypeError:  # an error class with its own constructor
        error = SkewlessError(message)
    return error
