"""The example feature repo (examples/payments) built end to end with dbt on DuckDB.

The project is built once per module in a temporary copy (the package next to it, so its
`local: ../..` dependency resolves), with small sizes, its own DuckDB file, target and log paths:
nothing is written into the repository. The training set is then checked against a brute-force
recomputation from the raw Parquet files that shares no SQL with the models or the macro.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

# One worker builds the project once for the whole module (module-scoped fixture).
pytestmark = pytest.mark.xdist_group("example_project")

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "payments"
SMALL = {"users": 250, "merchants": 50, "days": 70, "transactions": 5000, "seed": 7}
MATURITY = timedelta(days=45)  # var label_maturity_days in examples/payments/dbt_project.yml
H = pd.Timedelta(hours=1)


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("payments_generate", EXAMPLE / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def copy_project(dest: Path) -> Path:
    """The dbt package (root files it needs) and the example, laid out as in the repository."""
    import yaml

    package = yaml.safe_load((REPO / "dbt_project.yml").read_text())
    shutil.copy(REPO / "dbt_project.yml", dest / "dbt_project.yml")
    dirs = set()
    for key in ("macro-paths", "model-paths", "test-paths", "seed-paths", "analysis-paths"):
        dirs.update(package.get(key) or [])
    for d in sorted(dirs):
        if (REPO / d).is_dir():
            shutil.copytree(REPO / d, dest / d)
    project = dest / "examples" / "payments"
    shutil.copytree(
        EXAMPLE,
        project,
        ignore=shutil.ignore_patterns(
            "data", "target", "logs", "dbt_packages", "*.duckdb*", "__pycache__"
        ),
    )
    return project


@dataclass
class Built:
    project: Path
    duckdb_path: Path
    data: Path
    target: Path

    def query(self, sql: str) -> pd.DataFrame:
        import duckdb

        with duckdb.connect(str(self.duckdb_path), read_only=True) as con:
            con.execute("set TimeZone = 'UTC'")
            return con.execute(sql).df()


def edge_day(transactions: pd.DataFrame) -> pd.Timestamp:
    """A day in the labelled period, 10 days after the data starts."""
    return transactions["txn_ts"].min().floor("D") + pd.Timedelta(days=10)


def with_edge_cases(transactions: pd.DataFrame) -> pd.DataFrame:
    """Payments on the boundaries that matter, for the busiest user and merchant:

    - 500 ns before midnight: belongs to its own day (a rounding cast would move it to the next);
    - exactly as_of + 1h: the snapshot as of that midnight is available (inclusive bound);
    - 1 ns earlier: it is not, the previous snapshot is served.
    """
    t = transactions
    day = edge_day(t)
    before = t[t["txn_ts"] < day]  # so the user has signed up and the merchant is onboarded
    user = int(before["user_id"].mode()[0])
    merchant = int(before.loc[before["user_id"] == user, "merchant_id"].mode()[0])
    nxt = day + pd.Timedelta(days=1)
    edge_ts = [
        day + pd.Timedelta(hours=23, minutes=59, seconds=59, nanoseconds=999_999_500),
        nxt + H,
        nxt + H - pd.Timedelta(nanoseconds=1),
    ]
    first = int(t["txn_id"].max()) + 1
    extra = pd.DataFrame(
        {
            "txn_id": np.arange(first, first + len(edge_ts), dtype=np.int64),
            "user_id": np.int64(user),
            "merchant_id": np.int64(merchant),
            "amount": 10.0,
            "currency": t.loc[t["merchant_id"] == merchant, "currency"].iloc[0],
            "amount_usd": 10.0,
            "country": t.loc[t["merchant_id"] == merchant, "country"].iloc[0],
            "txn_ts": pd.to_datetime(edge_ts).astype("datetime64[ns]"),
        }
    )
    return pd.concat([t, extra], ignore_index=True)


def run_dbt(args: list[str], env: dict[str, str], what: str) -> None:
    """The venv's dbt in a subprocess: dbt-duckdb keeps its database open for the life of a
    process, which would lock the file against this test's own read-only connections."""
    dbt = Path(sys.executable).parent / "dbt"
    proc = subprocess.run(
        [str(dbt) if dbt.exists() else "dbt", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, (
        f"{what} failed (exit {proc.returncode}):\n{proc.stdout[-6000:]}\n{proc.stderr[-2000:]}"
    )


def write_small_data(data: Path) -> None:
    """The raw Parquet files at the `SMALL` sizes, edge cases added, into `data`. The data ends
    at the current hour: materialized values carry their real expiry (as_of + ttl), so values
    materialized "now" are within their ttl (a past end would load keys Redis drops at once)."""
    gen = load_generator()
    end = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("h")
    tables = gen.generate(gen.Config(**SMALL, end=end))
    tables["transactions"] = with_edge_cases(tables["transactions"])
    gen.write(tables, data)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("payments")
    project = copy_project(root)
    data = root / "data"
    write_small_data(data)
    out = Built(
        project=project, duckdb_path=root / "payments.duckdb", data=data, target=root / "target"
    )
    env = {
        **os.environ,
        "SKEWLESS_DUCKDB_PATH": str(out.duckdb_path),
        "SKEWLESS_PAYMENTS_DATA_DIR": str(data),
        "TZ": "UTC",
        "DO_NOT_TRACK": "1",
    }
    common = [
        "--project-dir",
        str(project),
        "--profiles-dir",
        str(project),
        "--log-path",
        str(root / "logs"),
    ]
    run_dbt(["deps", *common], env, "dbt deps")
    run_dbt(
        ["build", *common, "--target-path", str(out.target)], env, "dbt build of examples/payments"
    )
    return out


@pytest.fixture(scope="module")
def raw(built: Built) -> dict[str, pd.DataFrame]:
    return {
        n: pd.read_parquet(built.data / f"{n}.parquet")
        for n in ("transactions", "merchants", "users", "chargebacks")
    }


@pytest.fixture(scope="module")
def training(built: Built) -> pd.DataFrame:
    return built.query("select * from training_set order by txn_id")


# -- the generator ------------------------------------------------------------------------------


def test_generator_is_deterministic(tmp_path: Path) -> None:
    gen = load_generator()
    for name in ("a", "b"):
        gen.write(gen.generate(gen.Config(**SMALL)), tmp_path / name)
    gen.write(gen.generate(gen.Config(**{**SMALL, "seed": SMALL["seed"] + 1})), tmp_path / "other")
    files = sorted(p.name for p in (tmp_path / "a").glob("*.parquet"))
    assert files == [
        "chargebacks.parquet",
        "merchants.parquet",
        "transactions.parquet",
        "users.parquet",
    ]
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    assert (tmp_path / "a" / "transactions.parquet").read_bytes() != (
        tmp_path / "other" / "transactions.parquet"
    ).read_bytes()


def test_generator_sizes_and_realism(raw: dict[str, pd.DataFrame]) -> None:
    t, m, u, cb = raw["transactions"], raw["merchants"], raw["users"], raw["chargebacks"]
    assert len(t) == SMALL["transactions"] + 3  # + with_edge_cases
    assert len(m) == SMALL["merchants"]
    assert u["user_id"].nunique() == SMALL["users"]
    assert t["txn_id"].is_unique
    assert str(t["txn_ts"].dtype) == "datetime64[ns]"
    assert (t["txn_ts"].dt.nanosecond != 0).any(), "txn_ts should carry sub-microsecond digits"
    # payments only after the merchant's onboarding and the user's sign-up
    tm = t.merge(m, on="merchant_id", suffixes=("", "_m"))
    assert (tm["txn_ts"] >= tm["created_at"]).all()
    signup = u.groupby("user_id")["signup_ts"].first()
    assert (t["txn_ts"].to_numpy() >= signup.loc[t["user_id"]].to_numpy()).all()
    # chargebacks arrive after their payment, and are rare
    ct = cb.merge(t, on="txn_id")
    assert (ct["chargeback_ts"] > ct["txn_ts"]).all()
    assert 0.002 < len(cb) / len(t) < 0.05
    # fraud correlates with foreign merchants: charged-back payments are abroad far more often
    home = u.groupby("user_id")["home_country"].first()
    t = t.assign(foreign=t["country"].to_numpy() != home.loc[t["user_id"]].to_numpy())
    charged = t["txn_id"].isin(cb["txn_id"])
    assert t.loc[charged, "foreign"].mean() > 2 * t.loc[~charged, "foreign"].mean()


# -- the training set ---------------------------------------------------------------------------


def test_training_set_has_one_row_per_labelled_transaction(
    built: Built, training: pd.DataFrame, raw: dict[str, pd.DataFrame]
) -> None:
    t = raw["transactions"]
    watermark = t["txn_ts"].max().floor("us")  # data_watermark casts TIMESTAMP_NS to TIMESTAMP
    labelled = t.loc[t["txn_ts"] + MATURITY <= watermark, "txn_id"].sort_values().tolist()
    assert len(labelled) > 500
    assert training["txn_id"].tolist() == labelled
    assert built.query("select count(*) as n from training_spine")["n"][0] == len(training)
    types = dict(
        built.query("describe training_set")[["column_name", "column_type"]].itertuples(index=False)
    )
    assert types["txn_ts"] == "TIMESTAMP_NS"


def test_labels_respect_maturity(training: pd.DataFrame, raw: dict[str, pd.DataFrame]) -> None:
    t, cb = raw["transactions"], raw["chargebacks"]
    first_cb = cb.groupby("txn_id")["chargeback_ts"].min()
    ts = t.set_index("txn_id")["txn_ts"]
    expected = training["txn_id"].map(
        lambda i: i in first_cb.index and first_cb[i] < ts[i] + MATURITY
    )
    assert training["is_fraud"].tolist() == expected.tolist()
    assert training["is_fraud"].sum() > 0


class Oracle:
    """Feature values recomputed from the raw Parquet files, row by row, from the contract alone.

    Where a view has no row within ttl for a known entity, a column with a default
    (meta.skewless.default) takes it — what serving returns — and others are None."""

    def __init__(self, raw: dict[str, pd.DataFrame]) -> None:
        t = raw["transactions"].sort_values("txn_ts")
        self.watermark = t["txn_ts"].max().floor("us")
        self.data_start_day = t["txn_ts"].min().floor("D")
        self.by_user = {k: g for k, g in t.groupby("user_id")}
        self.by_merchant = {k: g for k, g in t.groupby("merchant_id")}
        cb = raw["chargebacks"].merge(t[["txn_id", "merchant_id", "txn_ts"]], on="txn_id")
        self.cb_by_merchant = {k: g for k, g in cb.groupby("merchant_id")}
        self.merchants = raw["merchants"].set_index("merchant_id")
        u = raw["users"].copy()
        u["updated_at"] = u["updated_at"].dt.tz_convert("UTC").dt.tz_localize(None)
        self.users = {k: g.sort_values("updated_at") for k, g in u.groupby("user_id")}

    def user_txn_stats(self, user_id: int, ts: pd.Timestamp) -> dict[str, object]:
        as_of = (ts - H).floor("D")  # greatest midnight with as_of + 1h <= ts (ttl 3d always holds)
        g = self.by_user[user_id]
        first_as_of = g["txn_ts"].min().floor("D") + pd.Timedelta(days=1)
        assert ts - as_of <= pd.Timedelta(days=3)
        if as_of < first_as_of or as_of > self.watermark:
            # no row: the column defaults of _features.yml, as serving returns them
            return {
                "txn_count_7d": 0,
                "amount_sum_7d": 0.0,
                "amount_avg_7d": None,
                "amount_max_7d": None,
                "txn_count_30d": 0,
                "amount_sum_30d": 0.0,
                "amount_avg_30d": None,
                "amount_max_30d": None,
            }
        out: dict[str, object] = {}
        for days in (7, 30):
            w = g.loc[
                (g["txn_ts"] >= as_of - pd.Timedelta(days=days)) & (g["txn_ts"] < as_of),
                "amount_usd",
            ]
            out[f"txn_count_{days}d"] = len(w)
            out[f"amount_sum_{days}d"] = float(w.sum())
            out[f"amount_avg_{days}d"] = float(w.mean()) if len(w) else None
            out[f"amount_max_{days}d"] = float(w.max()) if len(w) else None
        return out

    def merchant_risk(self, merchant_id: int, ts: pd.Timestamp) -> dict[str, object]:
        as_of = (ts - 6 * H).floor("D")  # available_after 6h; ttl 7d always holds
        created = self.merchants.loc[merchant_id, "created_at"]
        first_as_of = max(created.floor("D"), self.data_start_day) + pd.Timedelta(days=1)
        keys = [
            "merchant_txn_count_90d",
            "merchant_chargeback_count_90d",
            "merchant_chargeback_rate_90d",
            "merchant_age_days",
        ]
        if as_of < first_as_of or as_of > self.watermark:
            return dict(zip(keys, [0, 0, 0.015, 0], strict=True))  # the column defaults
        lo = as_of - pd.Timedelta(days=90)
        g = self.by_merchant.get(merchant_id)
        n = 0 if g is None else int(((g["txn_ts"] >= lo) & (g["txn_ts"] < as_of)).sum())
        c = self.cb_by_merchant.get(merchant_id)
        k = (
            0
            if c is None
            else int(
                ((c["txn_ts"] >= lo) & (c["txn_ts"] < as_of) & (c["chargeback_ts"] < as_of)).sum()
            )
        )
        return dict(
            zip(
                keys,
                [n, k, (k / n) if n else None, (as_of.normalize() - created.normalize()).days],
                strict=True,
            )
        )

    def user_profile(self, user_id: int, ts: pd.Timestamp) -> dict[str, object]:
        g = self.users[user_id]
        seen = g[g["updated_at"] + pd.Timedelta(minutes=15) <= ts]
        if seen.empty:
            return {
                "home_country": None,
                "kyc_verified": False,  # the column default
                "signup_ts": None,
                "profile_updated_at": None,
                "account_age_days": None,
            }
        row = seen.iloc[-1]
        return {
            "home_country": row["home_country"],
            "kyc_verified": bool(row["kyc_verified"]),
            "signup_ts": row["signup_ts"].floor("us"),
            "profile_updated_at": row["updated_at"].floor("us").tz_localize("UTC"),
            "account_age_days": (ts.normalize() - row["signup_ts"].normalize()).days,
        }


def _same(actual: object, expected: object) -> bool:
    if expected is None:
        return (
            actual is None
            or actual is pd.NA
            or actual is pd.NaT
            or (isinstance(actual, float) and np.isnan(actual))
        )
    if actual is None or actual is pd.NA or actual is pd.NaT:
        return False
    if isinstance(expected, float):
        return abs(float(actual) - expected) <= 1e-6 * max(1.0, abs(expected))  # type: ignore[arg-type]
    if isinstance(expected, pd.Timestamp):
        return pd.Timestamp(actual) == expected  # type: ignore[arg-type]
    return actual == expected


def test_features_equal_a_recomputation_from_raw_data(
    training: pd.DataFrame, raw: dict[str, pd.DataFrame]
) -> None:
    oracle = Oracle(raw)
    edges = training[training["txn_id"] > SMALL["transactions"]]
    assert len(edges) == 3, "the edge-case payments must be in the training set"
    sample = pd.concat([edges, training.sample(n=min(600, len(training)), random_state=3)])
    mismatches = []
    no_user_row = 0
    for row in sample.itertuples(index=False):
        ts = pd.Timestamp(row.txn_ts)
        expected = {
            **oracle.user_txn_stats(row.user_id, ts),
            **oracle.merchant_risk(row.merchant_id, ts),
            **oracle.user_profile(row.user_id, ts),
        }
        no_user_row += expected["amount_avg_30d"] is None and expected["txn_count_30d"] == 0
        for col, want in expected.items():
            got = getattr(row, col)
            if not _same(got, want):
                mismatches.append(
                    f"txn {row.txn_id} (user {row.user_id}, merchant {row.merchant_id}, {ts}): {col} = {got!r}, expected {want!r}"
                )
    assert not mismatches, f"{len(mismatches)} mismatches, e.g.:\n" + "\n".join(mismatches[:15])
    # the sample exercises both outcomes: features found, and none yet (a user's first day)
    assert 0 < no_user_row < len(sample)


def test_no_feature_is_newer_than_its_transaction(
    training: pd.DataFrame, raw: dict[str, pd.DataFrame]
) -> None:
    """Every value is explainable by data that existed before the transaction (and its batch lag)."""
    t = raw["transactions"]
    by_user = dict(tuple(t.groupby("user_id")))
    cb = raw["chargebacks"].merge(t[["txn_id", "merchant_id"]], on="txn_id")
    cb_by_merchant = dict(tuple(cb.groupby("merchant_id")))
    users = raw["users"].assign(
        updated_at=raw["users"]["updated_at"].dt.tz_convert("UTC").dt.tz_localize(None)
    )
    kyc_at = users[users["kyc_verified"]].groupby("user_id")["updated_at"].min()
    violations = []
    for row in training.itertuples(index=False):
        ts = pd.Timestamp(row.txn_ts)
        past = by_user[row.user_id]
        past = past[past["txn_ts"] < ts - H]  # user_txn_stats lands 1h after its as_of
        if not pd.isna(row.txn_count_30d) and row.txn_count_30d > len(past):
            violations.append(
                f"txn {row.txn_id}: txn_count_30d {row.txn_count_30d} > {len(past)} earlier payments"
            )
        if (
            not pd.isna(row.amount_max_30d)
            and not np.isclose(past["amount_usd"], float(row.amount_max_30d)).any()
        ):
            violations.append(
                f"txn {row.txn_id}: amount_max_30d {row.amount_max_30d} is no earlier payment"
            )
        if not pd.isna(row.merchant_chargeback_count_90d) and row.merchant_chargeback_count_90d > 0:
            c = cb_by_merchant.get(row.merchant_id)
            known = 0 if c is None else int((c["chargeback_ts"] < ts - 6 * H).sum())
            if row.merchant_chargeback_count_90d > known:
                violations.append(
                    f"txn {row.txn_id}: {row.merchant_chargeback_count_90d} chargebacks, {known} had arrived"
                )
        if not pd.isna(row.signup_ts) and pd.Timestamp(row.signup_ts) > ts:
            violations.append(f"txn {row.txn_id}: signup_ts {row.signup_ts} after the payment")
        if (
            not pd.isna(row.kyc_verified)
            and bool(row.kyc_verified)
            and not (row.user_id in kyc_at.index and kyc_at[row.user_id] <= ts)
        ):
            violations.append(f"txn {row.txn_id}: kyc_verified before the check passed")
    assert not violations, "\n".join(violations[:20])


def test_feature_views_follow_the_contract(built: Built) -> None:
    """The skewless runtime reads the example's views from the manifest dbt wrote."""
    from skewless.definitions.manifest import load_manifest, read_feature_views

    views = read_feature_views(load_manifest(built.target / "manifest.json"))
    assert {"user_txn_stats", "merchant_risk", "user_profile"} <= set(views)
    stats = views["user_txn_stats"]
    assert stats.entity == ("user_id",) and stats.timestamp == "as_of"
    assert stats.ttl == timedelta(days=3) and stats.available_after == timedelta(hours=1)
    assert (
        stats.feature("txn_count_30d").has_default and stats.feature("txn_count_30d").default == 0
    )
    assert views["merchant_risk"].on_stale == "default"
    assert views["user_profile"].ttl is None
    # one row per entity and as-of time in every view
    for name, view in views.items():
        keys = ", ".join((*view.entity, view.timestamp))
        dup = built.query(
            f"select count(*) as n from (select {keys} from {name} group by all having count(*) > 1)"
        )
        assert dup["n"][0] == 0, f"{name}: duplicate ({keys})"


def test_request_time_features_equal_offline_for_every_training_row(built: Built) -> None:
    """Every row of the on-demand view `txn_risk`: the runtime's compiled projections, evaluated
    in Python on that row's request fields and point-in-time inputs, give exactly the value (and
    Python type) that DuckDB computed for the training data."""
    import math

    import duckdb
    import sqlglot
    from sqlglot import exp

    from skewless.definitions.manifest import load_manifest, read_feature_views
    from skewless.definitions.ondemand import read_on_demand_views

    manifest = load_manifest(built.target / "manifest.json")
    odv = read_on_demand_views(manifest, read_feature_views(manifest))["txn_risk"]
    assert set(odv.feature_names) >= {"amount_to_avg_30d", "is_foreign", "amount_bucket"}
    assert set(odv.request_schema) == {"amount_usd", "txn_country", "txn_ts"}
    # the same compiled SQL dbt ran, with every input column and each projection side by side
    tree = sqlglot.parse_one(odv.compiled_sql, read="duckdb")
    outputs = [
        exp.alias_(p.this if isinstance(p, exp.Alias) else p, f"__out_{p.alias_or_name}")
        for p in tree.expressions
        if p.alias_or_name in odv.feature_names
    ]
    tree.set(
        "expressions", [exp.Column(this=exp.Star(), table=exp.to_identifier("inputs")), *outputs]
    )
    with duckdb.connect(str(built.duckdb_path), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        cur = con.execute(tree.sql(dialect="duckdb"))
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    assert len(rows) == built.query("select count(*) as n from txn_risk")["n"][0] > 500

    def same(a: object, b: object) -> bool:
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            return True
        return type(a) is type(b) and a == b

    mismatches = []
    nonnull = dict.fromkeys(odv.feature_names, 0)
    for row in rows:
        online = odv.evaluate({}, row, row, now=row["txn_ts"])
        for name in odv.feature_names:
            offline = row[f"__out_{name}"]
            nonnull[name] += offline is not None
            if not same(online[name], offline):
                mismatches.append((row["txn_id"], name, online[name], offline))
    assert not mismatches, mismatches[:10]
    # the comparison exercised real values, not only NULLs
    assert all(n > 0 for n in nonnull.values()), nonnull


def test_request_time_features_served_equal_the_dbt_sql_at_the_same_instant(
    built: Built, redis_url: str
) -> None:
    """End to end through Redis: materialize the views, serve `txn_risk` for real requests, and
    compare with DuckDB running the very SQL dbt compiled for `txn_risk` over the same requests
    at the same instant (its request relation swapped for a table holding them)."""
    import math
    from datetime import datetime, timezone
    from decimal import Decimal

    import duckdb

    from skewless.definitions.registry import Registry
    from skewless.online.materialize import materialize
    from skewless.online.store import FeatureStore

    registry = Registry.from_manifest(built.target / "manifest.json")
    store = FeatureStore.from_manifest(built.target / "manifest.json", redis_url=redis_url)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    materialize(registry, store.redis, built.duckdb_path, now=now)
    odv = registry.on_demand["txn_risk"]
    pairs = built.query(
        "select user_id, merchant_id, count(*) as n from txn_requests group by all "
        "order by n desc, user_id, merchant_id limit 40"
    )
    entities = [
        {"user_id": int(u), "merchant_id": int(m)}
        for u, m in zip(pairs["user_id"], pairs["merchant_id"], strict=True)
    ]
    entities.append({"user_id": 10**9, "merchant_id": 10**9})  # unknown: inputs absent
    countries = ["DE", "US", "FR", None]
    amounts = [Decimal("12.50"), Decimal("150.00"), Decimal("999.99"), Decimal("4000.00"), None]
    requests = [
        {
            "amount_usd": amounts[i % len(amounts)],
            "txn_country": countries[i % len(countries)],
            "txn_ts": now.replace(tzinfo=None),  # required: the view does not opt in to `now`
        }
        for i in range(len(entities))
    ]
    features = [f"txn_risk.{n}" for n in odv.feature_names]
    served = store.get_online_features(features, entities, request=requests, now=now).to_dicts()

    request_rel = registry.manifest.nodes[  # type: ignore[union-attr]
        next(k for k, v in registry.manifest.nodes.items() if v.get("name") == "txn_requests")  # type: ignore[union-attr]
    ]["relation_name"]
    sql = odv.compiled_sql.replace(request_rel, "memory.main.requests")
    assert sql != odv.compiled_sql
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        con.execute(f"attach '{built.duckdb_path}' as payments (read_only)")
        con.execute(
            "create table memory.main.requests (txn_id bigint, user_id bigint, merchant_id bigint, "
            "amount_usd decimal(18,2), txn_country varchar, txn_ts timestamp)"
        )
        con.executemany(
            "insert into memory.main.requests values (?, ?, ?, ?, ?, ?)",
            [
                (
                    i,
                    e["user_id"],
                    e["merchant_id"],
                    r["amount_usd"],
                    r["txn_country"],
                    now.replace(tzinfo=None),
                )
                for i, (e, r) in enumerate(zip(entities, requests, strict=True))
            ],
        )
        cur = con.execute(f"select * from ({sql}) order by txn_id")
        names = [d[0] for d in cur.description]
        offline = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()
    assert len(offline) == len(entities)

    def same(a: object, b: object) -> bool:
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            return True
        return type(a) is type(b) and a == b

    mismatches = [
        (i, name, served[i][f"txn_risk.{name}"], offline[i][name])
        for i in range(len(entities))
        for name in odv.feature_names
        if not same(served[i][f"txn_risk.{name}"], offline[i][name])
    ]
    assert not mismatches, mismatches[:10]
    known = served[: len(entities) - 1]
    assert sum(r["txn_risk.amount_to_avg_30d"] is not None for r in known) > 10
    assert sum(r["txn_risk.seconds_since_last_txn"] is not None for r in known) > 10
    assert served[-1]["txn_risk.account_age_days"] is None  # no profile for the unknown user


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    """`make demo`'s script, on a copy, with small sizes and its own throwaway Redis."""
    import socket

    project = copy_project(tmp_path)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"REDIS_URL"} and not k.startswith("SKEWLESS_")
    }
    env.update(
        {
            "SKEWLESS_DUCKDB_PATH": str(tmp_path / "demo.duckdb"),
            "SKEWLESS_PAYMENTS_DATA_DIR": str(tmp_path / "data"),
            "DO_NOT_TRACK": "1",
            **{f"SKEWLESS_PAYMENTS_{k.upper()}": str(v) for k, v in SMALL.items()},
        }
    )
    proc = subprocess.run(
        [sys.executable, str(project / "demo.py")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    out = proc.stdout
    assert proc.returncode == 0, f"demo failed:\n{out[-5000:]}\n{proc.stderr[-3000:]}"
    for heading in (
        "1. Generate",
        "2. Build",
        "3. Training set",
        "4. Online",
        "5. Real-time windows",
        "6. Request-time features",
        "7. Skew guards",
    ):
        assert heading in out, heading
    # the pushed payments: counted at once (+3 in the last hour), each window value equal offline
    pushed = out[out.index("5. Real-time windows") : out.index("6. Request-time features")]
    assert pushed.count(" 3       3      0") == 2 and pushed.count(" 3       0      3") == 2, pushed
    window_rows = [line for line in pushed.splitlines() if "_txn_windows." in line]
    assert len(window_rows) == 7 and all(line.endswith(" yes") for line in window_rows), pushed
    # the demo ends with clean skew checks: Redis vs offline, the log replay, freshness
    assert re.search(r"online: \d+ rows .* OK", out) and re.search(
        r"replay: \d+ rows .* OK", out
    ), out[-3000:]
    assert out.count("— OK") >= 2 and "freshness at " in out
    assert "training_set: " in out
    served = [line for line in out.splitlines() if line.startswith("Online values equal")]
    assert len(served) == 1, out[-3000:]
    equal, compared = served[0].rsplit(" ", 1)[1].split("/")
    assert equal == compared and int(compared) > 10
    assert "defaulted" in out and "present" in out
    # the throwaway redis-server is gone
    started = [line for line in out.splitlines() if line.startswith("Started ")]
    assert started, "the demo should start its own redis-server when REDIS_URL is unset"
    port = int(started[0].split("127.0.0.1:")[1].split()[0])
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
    # and the second run works on the same files (rerunnable)
    again = subprocess.run(
        [sys.executable, str(project / "demo.py")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert again.returncode == 0, (
        f"second demo run failed:\n{again.stdout[-3000:]}\n{again.stderr[-2000:]}"
    )
