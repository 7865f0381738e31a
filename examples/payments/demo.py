"""The skewless demo (`make demo`): card-payment fraud features, offline and online.

1. generate synthetic payments ending at the current hour (generate.py);
2. `dbt deps` + `dbt build` the example feature repo on DuckDB;
3. print a sample of the point-in-time-correct training set;
4. load the feature views into Redis (`skewless materialize`) and serve a few feature vectors,
   checking each served value against the offline view as of the same instant;
5. push live payments into the real-time windows (`skewless push`) and serve them, exact;
6. serve request-time features (txn_risk) for payment requests;
7. check for skew: `skewless consistency` (Redis vs offline; replay of the served-feature log,
   with drift against the training set and an HTML report) and `skewless freshness`.

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
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

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


@contextlib.contextmanager
def redis_url() -> Iterator[str]:
    """REDIS_URL when set, else a throwaway redis-server on a free port, stopped on exit."""
    if os.environ.get("REDIS_URL"):
        from skewless.online.connection import redact

        print(f"Using REDIS_URL={redact(os.environ['REDIS_URL'])}")
        yield os.environ["REDIS_URL"]
        return
    from skewless.errors import OnlineStoreError
    from skewless.online.local_redis import LocalRedis

    try:
        server = LocalRedis()
    except OnlineStoreError as e:
        raise DemoError(f"{e}; or set REDIS_URL") from None
    try:
        print(
            f"Started {server.binary} on 127.0.0.1:{server.port} (stopped at the end of the demo)"
        )
        yield server.url
    finally:
        server.stop()


# -- steps ---------------------------------------------------------------------------------------


def generate(env: dict[str, str]) -> None:
    run(
        [
            sys.executable,
            str(HERE / "generate.py"),
            "--end",
            "now",
            "--out",
            env["SKEWLESS_PAYMENTS_DATA_DIR"],
        ],
        cwd=REPO,
        env=env,
        what="generate.py",
    )


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
    cols = [
        "txn_id",
        "user_id",
        "txn_ts",
        "amount_usd",
        "txn_country",
        "home_country",
        "txn_count_7d",
        "amount_avg_30d",
        "amount_max_30d",
        "merchant_chargeback_rate_90d",
        "merchant_age_days",
        "kyc_verified",
        "account_age_days",
        "is_fraud",
    ]
    with pd.option_context(
        "display.width", 250, "display.max_columns", None, "display.float_format", "{:.3f}".format
    ):
        print(sample[[c for c in cols if c in sample.columns]].to_string(index=False))
    print(
        f"\ntraining_set: {n:,} rows (one per labelled transaction), {frauds:,} fraud "
        f"({frauds / max(n, 1):.2%}), txn_ts from {first} to {last}"
    )
    print(f"all {len(sample.columns)} columns: {', '.join(sample.columns)}")


#: What the demo asks for: a few features of each view, as a fraud model at authorisation would.
FEATURES = [
    "user_txn_stats.txn_count_7d",
    "user_txn_stats.txn_count_30d",
    "user_txn_stats.amount_avg_30d",
    "user_txn_stats.amount_max_30d",
    "merchant_risk.chargeback_rate_90d",
    "merchant_risk.age_days",
    "user_profile.home_country",
    "user_profile.kyc_verified",
]

#: Request-time features (models/request_time/txn_risk.sql), computed per request in Python with
#: DuckDB's semantics from the payload and the features above.
REQUEST_FEATURES = [
    "txn_risk.amount_to_avg_30d",
    "txn_risk.is_foreign",
    "txn_risk.seconds_since_last_txn",
    "txn_risk.account_age_days",
    "txn_risk.amount_bucket",
    "txn_risk.expected_loss_usd",
]


def pick_entities(duckdb_path: str) -> list[tuple[str, dict[str, int]]]:
    """A busy user, a recent chargeback victim, a dormant user, and nobody we know."""
    import duckdb

    picks: list[tuple[str, dict[str, int]]] = []
    queries = [
        (
            "busiest user this week, at their usual merchant",
            "select user_id, mode(merchant_id) from stg_transactions "
            "where txn_ts >= (select watermark from data_watermark) - interval 7 day "
            "group by user_id order by count(*) desc, user_id limit 1",
        ),
        (
            "the last chargeback's cardholder, at that merchant",
            "select user_id, merchant_id from stg_chargebacks order by chargeback_ts desc, txn_id limit 1",
        ),
        (
            "a user with no payment in 30 days",
            "select user_id, (select min(merchant_id) from stg_merchants) from user_txn_stats "
            "where as_of = (select max(as_of) from user_txn_stats) and txn_count_30d = 0 "
            "order by user_id limit 1",
        ),
    ]
    with duckdb.connect(duckdb_path, read_only=True) as con:
        for label, sql in queries:
            rows = con.execute(sql).fetchall()
            if rows:
                picks.append((label, {"user_id": int(rows[0][0]), "merchant_id": int(rows[0][1])}))
    picks.append(
        ("an unknown user at an unknown merchant", {"user_id": 10**9, "merchant_id": 10**9})
    )
    return picks


def offline_as_of(
    duckdb_path: str, store: Any, entity: dict[str, int], now: datetime
) -> dict[str, Any]:
    """The same features straight from the DuckDB views, by the contract: the latest row with
    timestamp + available_after <= now, within ttl. What a training row at `now` would hold."""
    import duckdb

    out: dict[str, Any] = {}
    with duckdb.connect(duckdb_path, read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        for ref in FEATURES:
            view_name, col = ref.split(".")
            view = store.registry.view(view_name)
            key = view.entity[0]
            aa = int(view.available_after.total_seconds() * 1_000_000)
            ttl = (
                ""
                if view.ttl is None
                else (
                    f"and ?::timestamptz - {view.timestamp} <= to_microseconds({int(view.ttl.total_seconds() * 1_000_000)})"
                )
            )
            params = [entity[key], now] + ([now] if view.ttl is not None else [])
            rows = con.execute(
                f"select {col} from {view.relation_name} where {key} = ? "
                f"and {view.timestamp} + to_microseconds({aa}) <= ?::timestamptz {ttl} "
                f"order by {view.timestamp} desc limit 1",
                params,
            ).fetchall()
            out[ref] = rows[0][0] if rows else None
    return out


def serve(env: dict[str, str]) -> None:
    import pandas as pd

    from skewless.guards.feature_log import FeatureLogConfig
    from skewless.online.store import FeatureStore

    skewless_cli = (
        str(BIN / "skewless") if (BIN / "skewless").exists() else shutil.which("skewless")
    )
    if not skewless_cli:
        raise DemoError(
            "no `skewless` command next to this Python; run `make venv` (pip install -e .)"
        )
    with redis_url() as url:
        # The URL goes through the environment, not argv: it may hold a password.
        cli_env = {**env, "SKEWLESS_REDIS_URL": url}
        common = ["--project-dir", str(HERE)]
        run(
            [skewless_cli, *common, "materialize"],
            cwd=REPO,
            env=cli_env,
            what="skewless materialize",
        )
        print()
        run([skewless_cli, *common, "features"], cwd=REPO, env=cli_env, what="skewless features")

        # every lookup below is logged (served-feature log), for the replay in the last step
        log_dir = Path(env["SKEWLESS_PAYMENTS_DATA_DIR"]) / "feature_log"
        shutil.rmtree(log_dir, ignore_errors=True)
        store = FeatureStore.from_dbt(
            HERE, redis_url=url, feature_log=FeatureLogConfig(path=str(log_dir))
        )
        now = datetime.now(timezone.utc)
        picks = pick_entities(env["SKEWLESS_DUCKDB_PATH"])
        resp = store.get_online_features(FEATURES, entities=[e for _, e in picks], now=now)
        compared = equal = 0
        for (label, entity), values, statuses, ages in zip(
            picks, resp.to_dicts(), resp.statuses, resp.ages, strict=True
        ):
            offline = offline_as_of(env["SKEWLESS_DUCKDB_PATH"], store, entity, now)
            rows = []
            for ref in FEATURES:
                age = ages[ref]
                served = statuses[ref] in ("present", "stale")
                same = ""
                if served:
                    compared += 1
                    ok = _same(values[ref], offline[ref])
                    equal += ok
                    same = "yes" if ok else f"NO (offline {offline[ref]!r})"
                rows.append(
                    {
                        "feature": ref,
                        "value": values[ref],
                        "status": statuses[ref],
                        "age": "" if age is None else str(pd.Timedelta(age).floor("s")),
                        "= offline as of now": same,
                    }
                )
            print(f"\n{label}: {entity}")
            print(pd.DataFrame(rows).to_string(index=False))
        print(f"\nOnline values equal to what the offline views give as of now: {equal}/{compared}")
        if equal != compared:
            raise DemoError(
                "online and offline values differ (training-serving skew); see NO above"
            )

        heading(5, "Real-time windows: live payments pushed, counted at once, exact offline too")
        push_live(store, skewless_cli, common, cli_env, env, picks[0][1])

        heading(6, "Request-time features: the SQL of txn_risk, evaluated in Python per request")
        payments = [
            (Decimal("12.40"), "DE"),
            (Decimal("640.00"), "US"),
            (Decimal("89.99"), "FR"),
            (Decimal("2500.00"), "BR"),
        ]
        requests = [
            {"amount_usd": amount, "txn_country": country, "txn_ts": now.replace(tzinfo=None)}
            for (amount, country), _ in zip(payments * len(picks), picks, strict=False)
        ]
        resp = store.get_online_features(
            REQUEST_FEATURES, entities=[e for _, e in picks], request=requests, now=now
        )
        for (label, entity), req, values in zip(picks, requests, resp.to_dicts(), strict=True):
            print(
                f"\n{label}: {entity}, request {{amount_usd: {req['amount_usd']}, txn_country: {req['txn_country']}}}"
            )
            print(
                pd.DataFrame(
                    [{"feature": ref, "value": values[ref]} for ref in REQUEST_FEATURES]
                ).to_string(index=False)
            )
        # a stream of realistic traffic: the 500 latest payments replayed as requests, so the
        # served-feature log below has enough rows for drift against the training set
        import duckdb

        with duckdb.connect(env["SKEWLESS_DUCKDB_PATH"], read_only=True) as con:
            recent = con.execute(
                "select user_id, merchant_id, amount_usd, txn_country from txn_requests "
                "order by txn_ts desc limit 500"
            ).fetchall()
        traffic = [{"user_id": u, "merchant_id": m} for u, m, _, _ in recent]
        payloads = [
            {"amount_usd": a, "txn_country": c, "txn_ts": now.replace(tzinfo=None)}
            for _, _, a, c in recent
        ]
        store.get_online_features(FEATURES + REQUEST_FEATURES, traffic, request=payloads, now=now)
        print(f"\n(served {len(traffic)} more requests in one call, as live traffic, for the log)")
        store.close()  # flushes the served-feature log

        heading(7, "Skew guards: consistency (online vs offline, log replay) and freshness")
        report = Path(env["SKEWLESS_PAYMENTS_DATA_DIR"]) / "consistency.html"
        run(
            [skewless_cli, *common, "consistency", "--sample", "300"],
            cwd=REPO,
            env=cli_env,
            what="skewless consistency (online vs offline)",
        )
        print()
        run(
            [skewless_cli, *common, "consistency", "--log", str(log_dir),
             "--training-relation", "training_set", "--html", str(report)],
            cwd=REPO,
            env=cli_env,
            what="skewless consistency --log (replay of what was served)",
        )  # fmt: skip
        print(f"HTML report: {report}")
        print()
        run([skewless_cli, *common, "freshness"], cwd=REPO, env=cli_env, what="skewless freshness")


#: Real-time window features (models/realtime): exact at the request instant, fed by pushes.
WINDOW_FEATURES = [
    "user_txn_windows.events_count_1h",
    "user_txn_windows.events_count_24h",
    "user_txn_windows.amount_usd_sum_24h",
    "user_txn_windows.amount_usd_max_7d",
    "user_txn_windows.merchant_id_count_distinct_7d",
    "merchant_txn_windows.events_count_1h",
    "merchant_txn_windows.amount_usd_sum_24h",
]


def push_live(
    store: Any,
    skewless_cli: str,
    common: list[str],
    cli_env: dict[str, str],
    env: dict[str, str],
    entity: dict[str, int],
) -> None:
    """Three live payments of `entity` pushed (`skewless push`, twice: the replay changes
    nothing), then its window features served and checked against the offline computation at
    the same instant (the pushed payments reach it through the event log)."""
    import json

    import duckdb
    import pandas as pd

    from skewless.guards.window_replay import window_rows

    # payments that happen just after this read (an earlier event time would be a late event:
    # the replay would rightly flag this read, which could not have counted it)
    now = datetime.now(timezone.utc)
    before = store.get_online_features(WINDOW_FEATURES, [entity], now=now).to_dicts()[0]
    live = [
        {
            "txn_id": 10**12 + int(now.timestamp()) * 10 + i,
            "user_id": entity["user_id"],
            "merchant_id": entity["merchant_id"],
            "amount_usd": str(Decimal("19.99") * (i + 1)),
            "txn_ts": (now + pd.Timedelta(milliseconds=1 + i)).isoformat(),
        }
        for i in range(3)
    ]
    events = Path(env["SKEWLESS_PAYMENTS_DATA_DIR"]) / "live_payments.jsonl"
    events.write_text("".join(json.dumps(e) + "\n" for e in live))
    log_dir = str(Path(env["SKEWLESS_PAYMENTS_DATA_DIR"]) / "event_log")
    for attempt in ("", " (again: a replay adds nothing)"):
        for view in ("user_txn_windows", "merchant_txn_windows"):
            print(f"\npush to {view}{attempt}:")
            run(
                [skewless_cli, *common, "push", view, str(events), "--log-dir", log_dir],
                cwd=REPO,
                env=cli_env,
                what="skewless push",
            )
    now = datetime.now(timezone.utc)
    resp = store.get_online_features(WINDOW_FEATURES, [entity], now=now)
    after, statuses = resp.to_dicts()[0], resp.statuses[0]
    offline: dict[str, Any] = {}
    with duckdb.connect(env["SKEWLESS_DUCKDB_PATH"], read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        for name in ("user_txn_windows", "merchant_txn_windows"):
            row = window_rows(con, store.registry.windows[name], [(entity, now)])[0]
            offline.update({f"{name}.{k}": v for k, v in row.items()})
    rows = [
        {
            "feature": ref,
            "before push": before[ref],
            "after push": after[ref],
            "status": statuses[ref],
            "= offline as of now": "yes"
            if _same(after[ref], offline[ref])
            else f"NO ({offline[ref]!r})",
        }
        for ref in WINDOW_FEATURES
    ]
    print(f"\nuser {entity['user_id']} at merchant {entity['merchant_id']}, 3 payments pushed:")
    print(pd.DataFrame(rows).to_string(index=False))
    gained = after["user_txn_windows.events_count_1h"] - before["user_txn_windows.events_count_1h"]
    if gained != 3 or any(r["= offline as of now"] != "yes" for r in rows):
        raise DemoError(
            f"the pushed payments did not show exactly (+{gained} in the last hour, expected +3) "
            "or online and offline windows differ; see the table above"
        )


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        fa, fb = float(a), float(b)
        return (fa != fa and fb != fb) or fa == fb
    return bool(a == b)


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
        (
            "Training set: features as of each transaction (point-in-time join)",
            lambda: show_training_set(env["SKEWLESS_DUCKDB_PATH"]),
        ),
        ("Online: materialize into Redis, serve feature vectors", lambda: serve(env)),
    ]
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
    print(f"\nDemo finished in {time.monotonic() - started:.1f}s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
