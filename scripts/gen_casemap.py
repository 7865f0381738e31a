"""Regenerate python_runtime/skewless/data/duckdb_casemap.json from the pinned DuckDB.

DuckDB's lower()/upper() map one code point to one code point (utf8proc simple case mapping)
and trim() strips a fixed set of space characters; Python's str methods differ for a few
hundred code points. The runtime uses this table so that request-time expressions match
DuckDB exactly. Run with the project venv: `.venv/bin/python scripts/gen_casemap.py`.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

OUT = Path(__file__).resolve().parents[1] / "python_runtime/skewless/data/duckdb_casemap.json"


def main() -> None:
    con = duckdb.connect()
    rows = con.execute(
        """
        SELECT cp, lower(chr(cp::INTEGER)), upper(chr(cp::INTEGER)),
               length(trim(chr(cp::INTEGER) || 'a' || chr(cp::INTEGER)))
        FROM range(1, 1114112) t(cp)
        WHERE cp NOT BETWEEN 55296 AND 57343
        """
    ).fetchall()
    lower: dict[int, int] = {}
    upper: dict[int, int] = {}
    trim: list[int] = []
    for cp, lo, up, trimmed_len in rows:
        if lo != chr(cp):
            assert len(lo) == 1, (cp, lo)
            lower[cp] = ord(lo)
        if up != chr(cp):
            assert len(up) == 1, (cp, up)
            upper[cp] = ord(up)
        if trimmed_len == 1:
            trim.append(cp)
    data = {"duckdb_version": duckdb.__version__, "lower": lower, "upper": upper, "trim": trim}
    OUT.write_text(json.dumps(data, separators=(",", ":"), sort_keys=True) + "\n")
    print(f"wrote {OUT}: {len(lower)} lower, {len(upper)} upper, {len(trim)} trim code points")


if __name__ == "__main__":
    main()
