"""Deterministic synthetic card-payment data for the skewless example.

Writes four Parquet files under `--out` (default: `examples/payments/data/`), the raw tables the
dbt project reads as sources:

- `users.parquet`: a change log (CDC) of the users table: one row at sign-up, one more each time a
  user's KYC check passes or their home country changes. `updated_at` is tz-aware UTC
  (DuckDB: TIMESTAMPTZ_NS), `signup_ts` naive UTC (TIMESTAMP_NS).
- `merchants.parquet`: merchant_id, name, category, country, created_at (onboarding time).
- `transactions.parquet`: txn_id, user_id, merchant_id, amount (merchant currency), currency,
  amount_usd, country (the merchant's), txn_ts — naive UTC with nanosecond precision, written by
  pandas so DuckDB types it TIMESTAMP_NS.
- `chargebacks.parquet`: chargeback_id, txn_id, chargeback_ts, reason_code. Chargebacks arrive days
  to weeks after the transaction; those that would arrive after the end of the data are not there
  yet (exactly like production).

The world: users live in a home country; some travel (trips abroad) or buy cross-border online.
Fraud is rare (about 1.5% of transactions), comes in bursts on compromised cards, and correlates
with foreign merchants, large amounts, newly onboarded merchants and a few risky merchants.

The same arguments and seed give byte-identical files. Sizes come from flags or `SKEWLESS_PAYMENTS_*`
environment variables (flags win):

    python examples/payments/generate.py --users 2000 --merchants 300 --days 120 --transactions 60000
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "data"
#: A fixed default end, so `generate.py` with no arguments is reproducible on any day.
DEFAULT_END = "2026-06-01T00:00:00"

# country: (currency, units per USD, share of users, share of merchants)
COUNTRIES: dict[str, tuple[str, float, float, float]] = {
    "US": ("USD", 1.0, 0.34, 0.30),
    "GB": ("GBP", 0.79, 0.12, 0.11),
    "DE": ("EUR", 0.92, 0.11, 0.10),
    "FR": ("EUR", 0.92, 0.09, 0.09),
    "ES": ("EUR", 0.92, 0.06, 0.07),
    "IT": ("EUR", 0.92, 0.05, 0.06),
    "NL": ("EUR", 0.92, 0.04, 0.04),
    "CA": ("CAD", 1.36, 0.06, 0.05),
    "BR": ("BRL", 5.05, 0.05, 0.06),
    "IN": ("INR", 83.2, 0.04, 0.05),
    "JP": ("JPY", 151.0, 0.03, 0.04),
    "NG": ("NGN", 1450.0, 0.01, 0.03),
}
# category: (median amount in USD, share of merchants)
CATEGORIES: dict[str, tuple[float, float]] = {
    "grocery": (38.0, 0.22),
    "restaurants": (27.0, 0.22),
    "fuel": (45.0, 0.10),
    "fashion": (70.0, 0.14),
    "electronics": (240.0, 0.08),
    "travel": (380.0, 0.07),
    "digital_goods": (15.0, 0.12),
    "gambling": (90.0, 0.05),
}
FRAUD_SHARE = 0.015  # of all transactions
FRIENDLY_FRAUD = 0.002  # chargebacks on genuine transactions
CHARGEBACK_RATE = 0.9  # of fraudulent transactions that are eventually charged back
NS_PER_DAY = 86_400 * 10**9


@dataclass(frozen=True)
class Config:
    """Sizes and seed of one generated dataset."""

    users: int = 2_000
    merchants: int = 300
    days: int = 120
    transactions: int = 60_000
    seed: int = 42
    end: pd.Timestamp = field(default_factory=lambda: pd.Timestamp(DEFAULT_END))


def _choice(
    rng: np.random.Generator, values: list[str], weights: list[float], n: int
) -> np.ndarray:
    p = np.asarray(weights, dtype=float)
    return rng.choice(np.asarray(values, dtype=object), size=n, p=p / p.sum())


def _ns(ts: pd.Timestamp) -> int:
    return int(ts.value)


def generate(cfg: Config) -> dict[str, pd.DataFrame]:
    """Build the four raw tables in memory (deterministic in `cfg`)."""
    if min(cfg.users, cfg.merchants, cfg.days, cfg.transactions) < 1:
        raise ValueError(f"every size must be >= 1, got {cfg}")
    rng = np.random.default_rng(cfg.seed)
    end = _ns(cfg.end)
    start = end - cfg.days * NS_PER_DAY
    countries = list(COUNTRIES)
    categories = list(CATEGORIES)

    # -- merchants -------------------------------------------------------------------------------
    m = cfg.merchants
    m_country = _choice(rng, countries, [c[3] for c in COUNTRIES.values()], m)
    m_category = _choice(rng, categories, [c[1] for c in CATEGORIES.values()], m)
    # 80% onboarded long before the data starts, 20% during it (new merchants).
    old = rng.random(m) < 0.8
    m_created = np.where(
        old,
        start - rng.integers(30 * NS_PER_DAY, 5 * 365 * NS_PER_DAY, m),
        start + rng.integers(0, max(cfg.days - 7, 1) * NS_PER_DAY, m),
    )
    m_popularity = rng.lognormal(0.0, 1.0, m)
    m_risky = rng.random(m) < 0.03
    merchants = pd.DataFrame(
        {
            "merchant_id": np.arange(1, m + 1, dtype=np.int64),
            "merchant_name": [
                f"{cat.replace('_', ' ').title()} #{i}" for i, cat in enumerate(m_category, 1)
            ],
            "category": m_category.astype(str),
            "country": m_country.astype(str),
            "created_at": pd.to_datetime(m_created, unit="ns"),
        }
    )

    # -- users (CDC log) -------------------------------------------------------------------------
    u = cfg.users
    home = _choice(rng, countries, [c[2] for c in COUNTRIES.values()], u)
    # 80% signed up up to three years before the data starts, 20% during it.
    early = rng.random(u) < 0.8
    signup = np.where(
        early,
        start - rng.integers(NS_PER_DAY, 3 * 365 * NS_PER_DAY, u),
        start + rng.integers(0, max(cfg.days - 3, 1) * NS_PER_DAY, u),
    )
    domains = _choice(
        rng,
        ["gmail.com", "outlook.com", "yahoo.com", "proton.me", "icloud.com"],
        [0.5, 0.2, 0.12, 0.08, 0.1],
        u,
    )
    rows = []
    kyc_at = signup + rng.integers(NS_PER_DAY // 24, 20 * NS_PER_DAY, u)
    passes_kyc = rng.random(u) < 0.75
    moves = rng.random(u) < 0.04
    move_at = np.maximum(signup, start) + rng.integers(
        NS_PER_DAY, max(cfg.days - 1, 2) * NS_PER_DAY, u
    )
    new_home = _choice(rng, countries, [c[2] for c in COUNTRIES.values()], u)
    for i in range(u):
        uid = i + 1
        state = {"home_country": str(home[i]), "kyc_verified": False}
        events = [(int(signup[i]), dict(state))]
        changes = []
        if passes_kyc[i] and kyc_at[i] < end:
            changes.append((int(kyc_at[i]), "kyc_verified", True))
        if moves[i] and move_at[i] < end and new_home[i] != home[i]:
            changes.append((int(move_at[i]), "home_country", str(new_home[i])))
        for at, key, value in sorted(changes, key=lambda c: c[0]):
            state[key] = value
            events.append((at, dict(state)))
        for at, st in events:
            rows.append(
                (uid, at, int(signup[i]), st["home_country"], st["kyc_verified"], str(domains[i]))
            )
    users = pd.DataFrame(
        rows,
        columns=[
            "user_id",
            "updated_at",
            "signup_ts",
            "home_country",
            "kyc_verified",
            "email_domain",
        ],
    )
    users["user_id"] = users["user_id"].astype(np.int64)
    users["updated_at"] = pd.to_datetime(users["updated_at"], unit="ns", utc=True)
    users["signup_ts"] = pd.to_datetime(users["signup_ts"], unit="ns")

    # -- genuine transactions ----------------------------------------------------------------------
    n_fraud = max(1, round(cfg.transactions * FRAUD_SHARE)) if cfg.transactions >= 20 else 0
    n_legit = cfg.transactions - n_fraud
    activity = rng.lognormal(0.0, 0.9, u)
    uidx = rng.choice(u, size=n_legit, p=activity / activity.sum())
    lo = np.maximum(signup[uidx], start)
    ts = lo + (rng.random(n_legit) * (end - lo)).astype(np.int64)
    ts = np.minimum(ts, end - 1)

    # Where the user is: at home, or on one of their trips (15% of users travel).
    where = home[uidx].copy()
    travellers = np.flatnonzero(rng.random(u) < 0.15)
    trip_start = start + rng.integers(0, cfg.days * NS_PER_DAY, u)
    trip_len = rng.integers(3, 15, u) * NS_PER_DAY
    trip_country = _choice(rng, countries, [c[2] for c in COUNTRIES.values()], u)
    is_traveller = np.zeros(u, dtype=bool)
    is_traveller[travellers] = True
    away = is_traveller[uidx] & (ts >= trip_start[uidx]) & (ts < trip_start[uidx] + trip_len[uidx])
    where[away] = trip_country[uidx][away]
    # 12% of genuine purchases are cross-border online (any merchant); the rest are local.
    cross_border = rng.random(n_legit) < 0.12
    merchant_idx = np.empty(n_legit, dtype=np.int64)
    alive = m_created  # a merchant can only be paid once onboarded
    for country in countries:
        local = np.flatnonzero(m_country == country)
        sel = np.flatnonzero((where == country) & ~cross_border)
        pool = local if local.size else np.arange(m)
        w = m_popularity[pool] / m_popularity[pool].sum()
        merchant_idx[sel] = pool[rng.choice(pool.size, size=sel.size, p=w)]
    sel = np.flatnonzero(cross_border)
    merchant_idx[sel] = rng.choice(m, size=sel.size, p=m_popularity / m_popularity.sum())
    # Paid before the merchant existed: move the payment after onboarding (same relative spot).
    early_pay = ts < alive[merchant_idx]
    if early_pay.any():
        lo2 = np.maximum(alive[merchant_idx][early_pay], lo[early_pay])
        ts[early_pay] = lo2 + (rng.random(early_pay.sum()) * (end - lo2)).astype(np.int64)
        ts = np.minimum(ts, end - 1)
    med = np.array([CATEGORIES[c][0] for c in m_category])
    amount_usd = rng.lognormal(np.log(med[merchant_idx]), 0.7)

    # -- fraud: bursts on compromised cards --------------------------------------------------------
    f_user = np.empty(0, dtype=np.int64)
    f_ts = np.empty(0, dtype=np.int64)
    if n_fraud:
        n_cards = max(1, n_fraud // 6)
        cards = (
            rng.choice(u, size=n_cards, replace=False) if n_cards <= u else rng.choice(u, n_cards)
        )
        card_of = cards[rng.integers(0, n_cards, n_fraud)]
        compromised = np.maximum(signup[cards], start) + (
            rng.random(n_cards) * (end - np.maximum(signup[cards], start))
        ).astype(np.int64)
        comp_of = dict(zip(cards.tolist(), compromised.tolist(), strict=False))
        base = np.array([comp_of[c] for c in card_of.tolist()], dtype=np.int64)
        f_ts = base + (rng.exponential(1.0, n_fraud) * NS_PER_DAY).astype(np.int64)
        late = f_ts >= end  # a burst running past the end: redraw inside [compromise, end)
        f_ts[late] = base[late] + (rng.random(late.sum()) * (end - base[late])).astype(np.int64)
        f_user = card_of
        kind = rng.random(n_fraud)
        new_merchants = np.flatnonzero(m_created >= start)
        risky = np.flatnonzero(m_risky)
        f_merchant = rng.choice(m, size=n_fraud)
        foreign_pool = np.arange(m)
        if risky.size:
            pick = kind < 0.35
            f_merchant[pick] = rng.choice(risky, size=pick.sum())
        if new_merchants.size:
            pick = (kind >= 0.35) & (kind < 0.65)
            f_merchant[pick] = rng.choice(new_merchants, size=pick.sum())
        # mostly abroad: re-draw the rest among merchants outside the victim's home country
        rest = np.flatnonzero(kind >= 0.65)
        for j in rest:
            pool = foreign_pool[m_country != home[f_user[j]]]
            f_merchant[j] = rng.choice(pool) if pool.size else rng.integers(0, m)
        after = alive[f_merchant] > f_ts  # merchant not onboarded yet: pay right after onboarding
        f_ts[after] = alive[f_merchant][after] + rng.integers(0, NS_PER_DAY, after.sum())
        keep = f_ts < end
        f_user, f_ts, f_merchant = f_user[keep], f_ts[keep], f_merchant[keep]
        f_amount = rng.lognormal(np.log(med[f_merchant]) + 1.0, 0.9)
    else:
        f_merchant = np.empty(0, dtype=np.int64)
        f_amount = np.empty(0)

    all_user = np.concatenate([uidx, f_user]) + 1
    all_merchant = np.concatenate([merchant_idx, f_merchant])
    all_ts = np.concatenate([ts, f_ts])
    all_usd = np.round(np.concatenate([amount_usd, f_amount]), 2)
    is_fraud = np.concatenate([np.zeros(len(ts), bool), np.ones(len(f_ts), bool)])
    order = np.lexsort((all_merchant, all_user, all_ts))
    all_user, all_merchant, all_ts, all_usd, is_fraud = (
        all_user[order],
        all_merchant[order],
        all_ts[order],
        all_usd[order],
        is_fraud[order],
    )
    txn_country = m_country[all_merchant]
    currency = np.array([COUNTRIES[c][0] for c in txn_country])
    fx = np.array([COUNTRIES[c][1] for c in txn_country])
    n = len(all_ts)
    transactions = pd.DataFrame(
        {
            "txn_id": np.arange(1, n + 1, dtype=np.int64),
            "user_id": all_user.astype(np.int64),
            "merchant_id": (all_merchant + 1).astype(np.int64),
            "amount": np.round(all_usd * fx, 2),
            "currency": currency.astype(str),
            "amount_usd": all_usd,
            "country": txn_country.astype(str),
            "txn_ts": pd.to_datetime(all_ts, unit="ns"),
        }
    )

    # -- chargebacks: delayed labels ----------------------------------------------------------------
    charged = (is_fraud & (rng.random(n) < CHARGEBACK_RATE)) | (
        ~is_fraud & (rng.random(n) < FRIENDLY_FRAUD)
    )
    idx = np.flatnonzero(charged)
    delay = ((1.0 + rng.lognormal(np.log(9.0), 0.8, idx.size)) * NS_PER_DAY).astype(np.int64)
    cb_ts = all_ts[idx] + np.minimum(delay, 120 * NS_PER_DAY)
    arrived = cb_ts < end
    idx, cb_ts = idx[arrived], cb_ts[arrived]
    reason = np.where(is_fraud[idx], "fraud_card_not_present", "not_recognised")
    chargebacks = (
        pd.DataFrame(
            {
                "chargeback_id": np.arange(1, idx.size + 1, dtype=np.int64),
                "txn_id": (idx + 1).astype(np.int64),
                "chargeback_ts": pd.to_datetime(cb_ts, unit="ns"),
                "reason_code": reason.astype(str),
            }
        )
        .sort_values(["chargeback_ts", "txn_id"], kind="stable")
        .reset_index(drop=True)
    )
    chargebacks["chargeback_id"] = np.arange(1, len(chargebacks) + 1, dtype=np.int64)

    return {
        "users": users,
        "merchants": merchants,
        "transactions": transactions,
        "chargebacks": chargebacks,
    }


def write(tables: dict[str, pd.DataFrame], out: Path) -> dict[str, Path]:
    """Write each table to `<out>/<name>.parquet` (atomically: temp file, then rename)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, df in tables.items():
        path = out / f"{name}.parquet"
        tmp = out / f".{name}.parquet.tmp"
        df.to_parquet(tmp, index=False, engine="pyarrow", compression="zstd")
        tmp.replace(path)
        paths[name] = path
    paths["event_log"] = write_empty_event_log(out)
    return paths


def write_empty_event_log(out: Path) -> Path:
    """`<out>/event_log/_empty/empty.parquet`: no rows, the columns of pushed payments, so the
    event log glob of models/realtime/txn_events.sql matches before anything was pushed. An
    earlier run's pushed events are removed (they belong to that run's data)."""
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    log = out / "event_log"
    shutil.rmtree(log, ignore_errors=True)
    (log / "_empty").mkdir(parents=True)
    schema = pa.schema(
        [
            ("txn_id", pa.string()),
            ("user_id", pa.int64()),
            ("merchant_id", pa.int64()),
            ("amount_usd", pa.decimal128(18, 2)),
            ("txn_ts", pa.timestamp("us", "UTC")),
        ]
    )
    path = log / "_empty" / "empty.parquet"
    pq.write_table(schema.empty_table(), path)
    return path


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(f"SKEWLESS_PAYMENTS_{name.upper()}")
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"SKEWLESS_PAYMENTS_{name.upper()}={raw!r} is not an integer") from None


def parse_args(argv: list[str] | None = None) -> tuple[Config, Path]:
    """Flags, with `SKEWLESS_PAYMENTS_<FLAG>` environment variables as defaults."""
    d = Config()
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--users", type=int, default=_env_int("users", d.users))
    p.add_argument("--merchants", type=int, default=_env_int("merchants", d.merchants))
    p.add_argument("--days", type=int, default=_env_int("days", d.days))
    p.add_argument("--transactions", type=int, default=_env_int("transactions", d.transactions))
    p.add_argument("--seed", type=int, default=_env_int("seed", d.seed))
    p.add_argument(
        "--end",
        default=os.environ.get("SKEWLESS_PAYMENTS_END", DEFAULT_END),
        help="UTC end of the data (exclusive), ISO 8601, or `now` (rounded down to the "
        f"hour); default {DEFAULT_END}",
    )
    p.add_argument(
        "--out", type=Path, default=Path(os.environ.get("SKEWLESS_PAYMENTS_DATA_DIR", DEFAULT_OUT))
    )
    a = p.parse_args(argv)
    if a.end == "now":
        end = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("h")
    else:
        end = pd.Timestamp(a.end)
        if end.tzinfo is not None:
            end = end.tz_convert("UTC").tz_localize(None)
    cfg = Config(
        users=a.users,
        merchants=a.merchants,
        days=a.days,
        transactions=a.transactions,
        seed=a.seed,
        end=end,
    )
    return cfg, a.out


def main(argv: list[str] | None = None) -> int:
    cfg, out = parse_args(argv)
    try:
        tables = generate(cfg)
    except ValueError as e:
        print(f"generate.py: {e}", file=sys.stderr)
        return 2
    paths = write(tables, out)
    for name, path in paths.items():
        print(f"  {len(tables[name]) if name in tables else 0:>8,} rows  {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
