"""Load the raw Parquet files generate.py wrote into PostgreSQL, for `dbt build --target postgres`.

Each file `<data-dir>/<name>.parquet` becomes the table `<schema>.<name>` (replaced if it exists),
through ADBC bulk ingest (PostgreSQL's binary COPY), in one transaction: all four tables or none.
Types are kept (bigint, double precision, text, boolean), except that PostgreSQL timestamps have
microseconds: the nanosecond columns are truncated to microseconds exactly as the DuckDB side of
the project's `to_microseconds` macro truncates them (`epoch_ns(x) // 1000`, toward zero), never
rounded, and a tz-aware column stays tz-aware (`timestamp with time zone`).

The connection comes from the same variables as the `postgres` target in profiles.yml:
SKEWLESS_PG_HOST (127.0.0.1), SKEWLESS_PG_PORT (5432), SKEWLESS_PG_USER (postgres),
SKEWLESS_PG_PASSWORD (empty), SKEWLESS_PG_DATABASE (test); the schema from
SKEWLESS_PAYMENTS_PG_RAW_SCHEMA (payments_raw), which the dbt sources read on that target.

    python examples/payments/generate.py
    python examples/payments/load_postgres.py            # --data-dir DIR --schema NAME
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

HERE = Path(__file__).resolve().parent
TABLES = ("transactions", "merchants", "users", "chargebacks")
DEFAULT_SCHEMA = "payments_raw"


def to_microseconds(column: Any) -> Any:
    """A pyarrow timestamp column as microseconds, truncated toward zero (nulls kept, time zone
    kept). Columns of other types, and timestamps already at microseconds or coarser, unchanged."""
    import pyarrow as pa
    import pyarrow.compute as pc

    t = column.type
    if not pa.types.is_timestamp(t) or t.unit != "ns":
        return column
    micros = pc.divide(column.cast(pa.int64()), 1000)  # integer division: truncates toward zero
    return micros.cast(pa.timestamp("us", tz=t.tz))


def read_table(path: Path) -> Any:
    """One Parquet file as a pyarrow table ready for PostgreSQL (timestamps in microseconds)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path).replace_schema_metadata(None)  # drop the pandas metadata
    return pa.table(
        {name: to_microseconds(table[name]) for name in table.column_names},
    )


def postgres_uri() -> str:
    """libpq URI from the SKEWLESS_PG_* variables (the postgres target's)."""
    env = os.environ.get
    user = env("SKEWLESS_PG_USER", "postgres")
    password = env("SKEWLESS_PG_PASSWORD", "")
    auth = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
    host = env("SKEWLESS_PG_HOST", "127.0.0.1")
    port = env("SKEWLESS_PG_PORT", "5432")
    dbname = quote(env("SKEWLESS_PG_DATABASE", "test"), safe="")
    return f"postgresql://{auth}@{host}:{port}/{dbname}"


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def load(data_dir: Path, schema: str, uri: str) -> dict[str, int]:
    """Replace `<schema>.<table>` with `<data_dir>/<table>.parquet` for every raw table, in one
    transaction. Returns the rows loaded per table."""
    import adbc_driver_postgresql.dbapi as pg

    missing = [t for t in TABLES if not (data_dir / f"{t}.parquet").is_file()]
    if missing:
        raise FileNotFoundError(
            f"no {', '.join(f'{t}.parquet' for t in missing)} in {data_dir}: run generate.py first"
        )
    tables = {name: read_table(data_dir / f"{name}.parquet") for name in TABLES}
    with pg.connect(uri) as conn:
        with conn.cursor() as cur:
            cur.execute(f"create schema if not exists {_quote_ident(schema)}")
            for name, table in tables.items():
                cur.adbc_ingest(name, table, mode="replace", db_schema_name=schema)
        conn.commit()
    return {name: table.num_rows for name, table in tables.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("SKEWLESS_PAYMENTS_DATA_DIR", HERE / "data")),
        help="where generate.py wrote the Parquet files [env SKEWLESS_PAYMENTS_DATA_DIR]",
    )
    p.add_argument(
        "--schema",
        default=os.environ.get("SKEWLESS_PAYMENTS_PG_RAW_SCHEMA", DEFAULT_SCHEMA),
        help=f"target schema [env SKEWLESS_PAYMENTS_PG_RAW_SCHEMA; default {DEFAULT_SCHEMA}]",
    )
    a = p.parse_args(argv)
    uri = postgres_uri()
    try:
        counts = load(a.data_dir, a.schema, uri)
    except FileNotFoundError as e:
        print(f"load_postgres.py: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # the driver's errors, without the password
        text = str(e)
        password = os.environ.get("SKEWLESS_PG_PASSWORD", "")
        if password:
            text = text.replace(uri, "<uri>").replace(password, "***")
        print(f"load_postgres.py: loading into PostgreSQL failed: {text}", file=sys.stderr)
        return 1
    for name, n in counts.items():
        print(f"  {n:>8,} rows  {a.schema}.{name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
