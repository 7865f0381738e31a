"""Reading window-aggregation views (`meta.skewless.kind: window`) from the manifest."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from skewless.definitions.manifest import Manifest, read_feature_views
from skewless.definitions.windows import is_window_view, read_window_view, read_window_views
from skewless.errors import DefinitionError

META: dict[str, Any] = {
    "kind": "window",
    "entity": "user_id",
    "timestamp": "txn_ts",
    "available_after": "0s",
    "windows": ["1h", "1d", "7d", "30d"],
    "aggregations": [
        {"column": "amount", "functions": ["count", "sum", "avg", "min", "max", "last"]},
        {"column": "merchant_id", "functions": ["count_distinct"]},
        {"column": "*", "functions": ["count"]},
    ],
}
COLUMNS = {
    c: {"name": c, "data_type": "bigint"} for c in ("user_id", "txn_ts", "amount", "merchant_id")
}


def node(meta: Any, name: str = "txn_windows", columns: Any = None) -> dict[str, Any]:
    return {
        "name": name,
        "unique_id": f"model.p.{name}",
        "resource_type": "model",
        "config": {"meta": {"skewless": meta}},
        "columns": COLUMNS if columns is None else columns,
        "compiled_code": "select 1",
    }


def test_reads_the_documented_example() -> None:
    view = read_window_view(node(META), META)
    assert view.entity == ("user_id",) and view.timestamp == "txn_ts"
    assert view.available_after == timedelta(0)
    assert view.windows == ("1h", "1d", "7d", "30d")
    names = view.output_names
    assert names[:4] == (
        "amount_count_1h",
        "amount_count_1d",
        "amount_count_7d",
        "amount_count_30d",
    )
    assert "amount_sum_7d" in names and "merchant_id_count_distinct_30d" in names
    assert names[-4:] == (
        "events_count_1h",
        "events_count_1d",
        "events_count_7d",
        "events_count_30d",
    )
    assert len(names) == (6 + 1 + 1) * 4
    last = next(a for a in view.aggregates if a.name == "amount_last_1d")
    assert (last.column, last.function, last.window, last.length) == (
        "amount",
        "last",
        "1d",
        timedelta(days=1),
    )


def test_composite_entity_and_lag() -> None:
    meta = {**META, "entity": ["user_id", "merchant_id"], "available_after": "5m"}
    meta["aggregations"] = [{"column": "amount", "functions": ["sum"]}]
    view = read_window_view(node(meta), meta)
    assert view.entity == ("user_id", "merchant_id")
    assert view.available_after == timedelta(minutes=5)


def test_hop() -> None:
    """Without `hop` windows slide exactly (None); with it, every window starts on its steps."""
    assert read_window_view(node(META), META).hop is None
    meta = {**META, "hop": "5m"}
    view = read_window_view(node(meta), meta)
    assert view.hop == timedelta(minutes=5)
    assert view.version != read_window_view(node(META), META).version  # part of the definition


def test_undeclared_columns_are_not_checked() -> None:
    """Tolerant: a model without declared columns is read on the meta alone."""
    view = read_window_view(node(META, columns={}), META)
    assert len(view.aggregates) == 32


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ttl": "30d"}, "unknown key(s) ['ttl'] in meta.skewless of a window view"),
        ({"entity": ""}, "meta.skewless.entity must be a column name"),
        ({"entity": ["user_id", "user_id"]}, "list of distinct column names"),
        ({"timestamp": "user_id"}, "meta.skewless.timestamp must name the event time column"),
        ({"available_after": "soon"}, "meta.skewless.available_after: 'soon' is not a duration"),
        ({"windows": "1h"}, "meta.skewless.windows must be a non-empty list of durations"),
        ({"windows": []}, "meta.skewless.windows must be a non-empty list"),
        ({"windows": ["1h", "0s"]}, "meta.skewless.windows[1] is '0s', not a positive duration"),
        ({"windows": ["1d", "24h"]}, "the same window twice (1d and 24h)"),
        (
            {"windows": ["1h"], "available_after": "1h"},
            "window 1h is not longer than available_after",
        ),
        ({"hop": "0s"}, "meta.skewless.hop is 0s, not a positive duration"),
        ({"hop": "2h"}, "window 1h is shorter than hop (2h); use a hop no longer than"),
        ({"aggregations": []}, "meta.skewless.aggregations must be a non-empty list"),
        (
            {"aggregations": [{"column": "amount"}]},
            "aggregations[0]: `functions` must be a non-empty",
        ),
        (
            {"aggregations": [{"column": "amount", "functions": ["median"]}]},
            "unknown function 'median'",
        ),
        (
            {"aggregations": [{"column": "amount", "functions": ["sum"], "x": 1}]},
            "keys column and functions",
        ),
        (
            {"aggregations": [{"column": "*", "functions": ["sum"]}]},
            "column '*' takes only functions [count]",
        ),
        (
            {"aggregations": [{"column": "fee", "functions": ["sum"]}]},
            "column `fee` is not declared",
        ),
        (
            {
                "aggregations": [
                    {"column": "amount", "functions": ["sum"]},
                    {"column": "amount", "functions": ["sum"]},
                ]
            },
            "aggregations[1]: `sum` of `amount` is declared twice",
        ),
    ],
)
def test_invalid_meta_names_model_key_and_fix(change: dict[str, Any], message: str) -> None:
    meta = {**META, **change}
    with pytest.raises(DefinitionError) as e:
        read_window_view(node(meta), meta)
    assert "model `txn_windows`" in str(e.value)
    assert message in str(e.value)


def test_manifest_reading_keeps_window_views_apart() -> None:
    """Window views are read by read_window_views, never as plain feature views, and a broken
    one is a problem of that view only."""
    bad = {**META, "windows": ["soon"]}
    fv = node({"entity": "user_id", "timestamp": "txn_ts"}, name="plain")
    manifest = Manifest(
        {
            "metadata": {"dbt_version": "1.11.0", "adapter_type": "duckdb"},
            "nodes": {
                n["unique_id"]: n for n in (node(META), node(bad, name="broken_windows"), fv)
            },
        }
    )
    problems: dict[str, Any] = {}
    assert set(read_feature_views(manifest, problems)) == {"plain"}
    windows = read_window_views(manifest, problems)
    assert set(windows) == {"txn_windows"}
    assert set(problems) == {"broken_windows"}
    assert problems["broken_windows"].kind == "window"
    assert "windows[0] is 'soon'" in problems["broken_windows"].message
    with pytest.raises(DefinitionError, match="broken_windows"):
        read_window_views(manifest)
    assert is_window_view(META) and not is_window_view({"entity": "x"}) and not is_window_view(None)
