"""`import skewless` (and the serving path) must not pull in dbt, DuckDB or pandas."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
import skewless
after_import = sorted(sys.modules)
from skewless import FeatureStore, OnlineResponse
import skewless.online.store, skewless.online.keys, skewless.online.codec, skewless.online.connection, skewless.cli
print(json.dumps({"import": after_import, "serving": sorted(sys.modules)}))
"""


def test_import_pulls_no_dbt_duckdb_or_pandas() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    mods = json.loads(out.stdout)
    assert "skewless" in mods["import"]
    for phase in ("import", "serving"):
        heavy = [
            m
            for m in mods[phase]
            if m.split(".")[0] in {"dbt", "duckdb", "pandas", "pyarrow", "agate"}
        ]
        assert heavy == [], f"{phase}: {heavy[:10]}"
    assert "skewless.online.store" in mods["serving"] and "msgpack" in mods["serving"]
