"""The demo warehouse and the nine dataset definitions (DESIGN.md, "The nine datasets").

One scale-1 warehouse is built per module and every definition runs once against it; the
determinism and failure tests use small builds of their own.
"""

from __future__ import annotations

import importlib
import re
import sqlite3
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
import tomllib

from scout_jupyter.demo import (
    CONFIG_NAME,
    TABLES,
    WAREHOUSE_NAME,
    build_warehouse,
    demo_config_path,
    export_warehouse,
    prepare_demo,
    table_digests,
)
from scout_jupyter.demo import warehouse as warehouse_module
from scout_jupyter.demo.catalog import DAYPARTS
from scout_jupyter.demo.features import LABELS, _squared_distances, assign_customer_segments, kmeans
from scout_jupyter.errors import ConfigError

# DESIGN.md's table: id -> (description, rows at scale 1, update frequency)
DESIGN = {
    "gold/txn_daily": ("Daily transaction aggregates by store and region", 15_000, "daily"),
    "gold/product_mix": ("Product performance and mix analysis", 50_000, "daily"),
    "gold/basket_patterns": ("Market basket analysis and associations", 5_000, "weekly"),
    "gold/substitution_flows": ("Product substitution patterns", 2_000, "weekly"),
    "gold/request_behavior": ("Customer request and interaction patterns", 20_000, "daily"),
    "gold/demographics": ("Anonymized customer demographic segments", 500, "weekly"),
    "platinum/features_sales_7d": ("7-day rolling sales features for ML", 10_000, "daily"),
    "platinum/store_perf": ("Store performance features and rankings", 200, "daily"),
    "platinum/customer_segments": ("ML-derived customer segmentation", 1_000, "weekly"),
}
# The columns each dataset is ordered by (its ORDER BY, in output columns): unique and sorted.
ORDER_KEYS = {
    "gold/txn_daily": ["date_key", "store_code"],
    "gold/product_mix": ["week_start", "store_code", "category_id"],
    "gold/request_behavior": ["week_start", "store_code", "request_type", "daypart"],
    "gold/demographics": ["region_code", "lifestyle_segment", "income_class"],
    "platinum/features_sales_7d": ["date_key", "store_code"],
    "platinum/store_perf": ["store_code"],
    "platinum/customer_segments": ["store_code", "segment_id"],
}
SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")


def run_definition(definition: dict, connection: sa.Connection) -> pd.DataFrame:
    if "query" in definition:
        return pd.read_sql(sa.text(definition["query"]), connection)
    module_name, _, function = definition["callable"].partition(":")
    return getattr(importlib.import_module(module_name), function)(connection)


@pytest.fixture(scope="module")
def config() -> dict:
    return tomllib.loads(demo_config_path().read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("demo") / WAREHOUSE_NAME
    build_warehouse(path, seed=42, scale=1.0)
    return path


@pytest.fixture(scope="module")
def engine(warehouse):
    engine = sa.create_engine(f"sqlite:///{warehouse}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def frames(config, engine) -> dict[str, pd.DataFrame]:
    with engine.connect() as conn:
        return {d["id"]: run_definition(d, conn) for d in config["datasets"]}


def sql(engine, query: str) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql(sa.text(query), conn)


# --- the warehouse ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> dict:
    """Three builds at scale 0.1: a and b with seed 7, c with seed 8."""
    folder = tmp_path_factory.mktemp("small")
    stats = {
        n: build_warehouse(folder / f"{n}.sqlite", seed=seed, scale=0.1)
        for n, seed in zip("abc", (7, 7, 8), strict=True)
    }
    return {n: (s, table_digests(s.path)) for n, s in stats.items()}


def test_same_seed_same_tables_other_seed_differs(small):
    (first, a), (_, b), (_, c) = small["a"], small["b"], small["c"]
    assert set(a) == set(TABLES) and a == b
    assert first.row_counts["stores"] == 20 and first.days == 70 and first.end_date == date(2024, 9, 8)
    for table in ("stores", "customers", "transactions", "line_items", "customer_requests", "substitutions"):
        assert a[table] != c[table], table
    assert a["products"] == c["products"]  # the catalog is fixed


def test_scale_grows_stores_customers_and_transactions(warehouse, small):
    tenth = small["a"][0].row_counts
    with sqlite3.connect(warehouse) as conn:
        full = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}
    assert tenth["stores"] == 20 and full["stores"] == 200
    for table in ("customers", "transactions", "line_items", "customer_requests"):
        assert 6.5 < full[table] / tenth[table] < 14, table


def test_failed_build_keeps_the_previous_warehouse_and_leaves_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "w.sqlite"
    build_warehouse(path, seed=1, scale=0.05)
    before = table_digests(path)

    def explode(conn, tables):
        conn.execute("CREATE TABLE half (x INTEGER)")
        raise OSError("disk full")

    monkeypatch.setattr(warehouse_module, "_write_tables", explode)
    with pytest.raises(OSError, match="disk full"):
        build_warehouse(path, seed=2, scale=0.05)
    assert table_digests(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.sqlite"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"scale": 0},
        {"scale": float("nan")},
        {"seed": -1},
        {"seed": 1.5},
        {"days": 3},
        {"start_date": datetime(2024, 7, 1)},
    ],
)
def test_bad_arguments_are_config_errors(tmp_path, kwargs):
    with pytest.raises(ConfigError):
        build_warehouse(tmp_path / "w.sqlite", **kwargs)
    assert not (tmp_path / "w.sqlite").exists()


def test_warehouse_is_internally_consistent(engine):
    checks = {
        "line totals add up to transaction totals (exact centavos)": """
            SELECT COUNT(*) FROM (SELECT t.transaction_id FROM transactions t
              JOIN line_items li ON li.transaction_id = t.transaction_id
              GROUP BY t.transaction_id, t.total_amount
              HAVING ABS(SUM(li.line_total) - t.total_amount) > 0.001) x""",
        "every transaction has a line": """
            SELECT COUNT(*) FROM transactions t WHERE NOT EXISTS
              (SELECT 1 FROM line_items li WHERE li.transaction_id = t.transaction_id)""",
        "utang only for known account holders": """
            SELECT COUNT(*) FROM transactions t LEFT JOIN customers c ON c.customer_id = t.customer_id
            WHERE t.payment_method = 'utang' AND (c.customer_id IS NULL OR NOT c.has_utang_account)""",
        "substitutions are substituted brand-named requests": """
            SELECT COUNT(*) FROM substitutions s JOIN customer_requests r ON r.request_id = s.request_id
            WHERE r.outcome <> 'substituted' OR r.request_type <> 'brand_named'
               OR r.fulfilled_product_id <> s.to_product_id OR r.requested_product_id <> s.from_product_id""",
        "substitutes come from the same category": """
            SELECT COUNT(*) FROM substitutions s JOIN products a ON a.product_id = s.from_product_id
            JOIN products b ON b.product_id = s.to_product_id
            WHERE a.category_id <> b.category_id OR a.product_id = b.product_id""",
        "walk-aways bought nothing for that request": """
            SELECT COUNT(*) FROM customer_requests
            WHERE outcome = 'walked_away' AND fulfilled_product_id IS NOT NULL""",
        "shoppers buy at their own neighbourhood store": """
            SELECT COUNT(*) FROM transactions t JOIN customers c ON c.customer_id = t.customer_id
            WHERE c.home_store_id <> t.store_id""",
    }
    with engine.connect() as conn:
        for what, query in checks.items():
            assert conn.execute(sa.text(query)).scalar() == 0, what
        codes = [r[0] for r in conn.execute(sa.text("SELECT store_code FROM stores ORDER BY store_id"))]
    assert codes[:3] == ["0001", "0002", "0003"] and len(set(codes)) == len(codes)


def test_distributions_are_retail_like_not_uniform(engine):
    per_day = sql(
        engine,
        """SELECT c.day_of_week, c.is_payday, COUNT(*) * 1.0 / COUNT(DISTINCT t.store_id) AS n
                             FROM transactions t JOIN calendar c ON c.date_key = t.date_key
                             GROUP BY t.date_key, c.day_of_week, c.is_payday""",
    )
    assert per_day[per_day.day_of_week == 6].n.mean() > 1.15 * per_day[per_day.day_of_week == 2].n.mean()
    assert per_day[per_day.is_payday == 1].n.mean() > 1.1 * per_day[per_day.is_payday == 0].n.mean()
    hours = (
        sql(engine, "SELECT hour_of_day, COUNT(*) AS n FROM transactions GROUP BY hour_of_day")
        .set_index("hour_of_day")
        .n
    )
    assert hours[7] > 1.5 * hours[14] and hours[18] > 2 * hours[21] and hours.index.min() >= 5
    units = sql(engine, "SELECT product_id, SUM(quantity) AS u FROM line_items GROUP BY product_id").u
    top = units.sort_values(ascending=False)
    assert top.iloc[: len(top) // 10].sum() > 0.3 * top.sum()  # Zipf-like: the top 10% sell a third
    revenue = sql(engine, "SELECT store_id, SUM(total_amount) AS r FROM transactions GROUP BY store_id").r
    assert revenue.std() / revenue.mean() > 0.4  # store sizes differ
    baskets = sql(engine, "SELECT line_count AS n FROM transactions").n
    assert 1.5 < baskets.mean() < 3.5 and baskets.var() > baskets.mean() - 1  # over-dispersed
    payments = sql(engine, "SELECT payment_method, COUNT(*) AS n FROM transactions GROUP BY payment_method")
    share = payments.set_index("payment_method").n / payments.n.sum()
    assert share["cash"] > 0.5 and 0.03 < share["gcash"] < 0.3 and 0.05 < share["utang"] < 0.35
    prices = (
        sql(
            engine,
            """SELECT s.region, AVG(li.unit_price / p.srp) AS markup FROM line_items li
                           JOIN transactions t ON t.transaction_id = li.transaction_id
                           JOIN stores s ON s.store_id = t.store_id JOIN products p ON p.product_id = li.product_id
                           GROUP BY s.region""",
        )
        .set_index("region")
        .markup
    )
    assert prices["NCR"] > prices["Western Visayas"]


# --- the definitions ---------------------------------------------------------------------------


def test_config_follows_the_design(config):
    assert config["source"] == {"url": "sqlite:///warehouse.sqlite"}
    assert [d["id"] for d in config["datasets"]] == list(DESIGN)
    for definition in config["datasets"]:
        description, _, frequency = DESIGN[definition["id"]]
        assert definition["description"] == description and definition["update_frequency"] == frequency
        assert ("query" in definition) != ("callable" in definition)
        assert set(definition) <= {"id", "description", "update_frequency", "query", "callable"}


@pytest.mark.parametrize("dataset_id", list(DESIGN))
def test_each_dataset_runs_with_the_designed_size(frames, dataset_id):
    frame = frames[dataset_id]
    expected = DESIGN[dataset_id][1]
    assert 0.5 * expected <= len(frame) <= 1.5 * expected, len(frame)
    assert all(SNAKE.match(c) for c in frame.columns), list(frame.columns)
    assert len(set(frame.columns)) == len(frame.columns)
    keys = ORDER_KEYS.get(dataset_id)
    if "daypart" in frame:  # ordered by time of day, not alphabetically
        frame = frame.assign(daypart=pd.Categorical(frame.daypart, DAYPARTS, ordered=True))
    if keys:
        assert not frame.duplicated(keys).any()
        assert frame[keys].equals(frame[keys].sort_values(keys).reset_index(drop=True))


def test_daily_grains_have_date_keys_and_types_are_exercised(frames):
    daily = frames["gold/txn_daily"]
    assert daily.date_key.str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert daily.first_txn_at.str.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}").all()
    assert set(daily.is_weekend) == {"true", "false"} and daily.store_code.str.fullmatch(r"\d{4}").all()
    assert daily.revenue.dtype == float and daily.transactions.dtype == np.int64
    assert "date_key" in frames["platinum/features_sales_7d"]
    segments = frames["platinum/customer_segments"]
    assert segments.is_largest_segment.dtype == bool and isinstance(segments.as_of_date[0], date)


def test_txn_daily_adds_up_to_the_transactions(frames, engine):
    daily = frames["gold/txn_daily"]
    totals = sql(engine, "SELECT COUNT(*) AS n, SUM(total_amount) AS r FROM transactions").iloc[0]
    assert daily.transactions.sum() == totals.n
    assert daily.revenue.sum() == pytest.approx(totals.r, abs=0.01 * len(daily))
    assert (daily.cash_transactions + daily.gcash_transactions + daily.utang_transactions == daily.transactions).all()
    assert (daily.unique_customers <= daily.transactions - daily.anonymous_transactions).all()


def test_product_mix_shares(frames):
    mix = frames["gold/product_mix"]
    shares = mix.groupby(["week_start", "store_code"]).revenue_share.sum()
    assert np.allclose(shares, 1.0, atol=0.002 * 32)
    assert ((mix.top_brand_unit_share > 0) & (mix.top_brand_unit_share <= 1)).all()
    assert (mix.groupby(["week_start", "store_code"]).category_rank.min() == 1).all()


def test_basket_rules_are_real_association_rules(frames, engine):
    rules = frames["gold/basket_patterns"]
    n = rules.baskets.iloc[0]
    assert n == sql(engine, "SELECT COUNT(*) AS n FROM transactions").n[0]
    assert ((rules.support > 0) & (rules.support <= 1)).all()
    assert rules.support.min() >= 0.0002 - 1e-9
    support_a, support_b = rules.antecedent_count / n, rules.consequent_count / n
    assert np.allclose(rules.support, rules.pair_count / n, atol=1e-8)
    assert np.allclose(rules.confidence, rules.support / support_a, rtol=1e-3, atol=1e-6)
    assert np.allclose(rules.lift, rules.confidence / support_b, rtol=1e-3, atol=1e-4)
    reverse = rules.set_index(["consequent_sku", "antecedent_sku"]).pair_count
    assert (
        rules.set_index(["antecedent_sku", "consequent_sku"])
        .pair_count.sort_index()
        .equals(reverse.rename_axis(["antecedent_sku", "consequent_sku"]).sort_index())
    )
    # complements planted by the generator show up as strong rules
    strong = rules[rules.lift > 1.5]
    assert {("Coffee", "Bread & Pastries"), ("Beer", "Chips & Snacks")} <= set(
        zip(strong.antecedent_category, strong.consequent_category, strict=True)
    )
    # recount one pair independently
    top = rules.iloc[0]
    count = sql(
        engine,
        f"""SELECT COUNT(*) AS n FROM line_items a
        JOIN line_items b ON a.transaction_id = b.transaction_id
        JOIN products pa ON pa.product_id = a.product_id JOIN products pb ON pb.product_id = b.product_id
        WHERE pa.sku = '{top.antecedent_sku}' AND pb.sku = '{top.consequent_sku}'""",
    ).n[0]
    assert count == top.pair_count


def test_substitution_flows_cover_every_substitution(frames, engine):
    flows = frames["gold/substitution_flows"]
    assert flows.substitutions.sum() == sql(engine, "SELECT COUNT(*) AS n FROM substitutions").n[0]
    assert np.allclose(flows.groupby("from_sku").share_of_from.sum(), 1.0, atol=0.01)
    assert ((flows.substitution_rate > 0) & (flows.substitution_rate <= 1)).all()
    assert not (flows.from_sku == flows.to_sku).any() and set(flows.same_brand) <= {"true", "false"}


def test_request_behavior_covers_every_request(frames, engine):
    behavior = frames["gold/request_behavior"]
    assert behavior.requests.sum() == sql(engine, "SELECT COUNT(*) AS n FROM customer_requests").n[0]
    assert set(behavior.request_type) == {"brand_named", "pointing", "generic_category"}
    assert behavior[behavior.request_type == "generic_category"].availability_rate.isna().all()
    named = behavior[behavior.request_type == "brand_named"]
    assert 0.7 < named.availability_rate.mean() < 1.0


def test_demographics_are_k_anonymous(frames, engine):
    demo = frames["gold/demographics"]
    assert (demo.customers >= 5).all() and (demo.active_customers >= 5).all()
    assert not {"customer_id", "customer_code"} & set(demo.columns)
    assert demo.customers.sum() <= sql(engine, "SELECT COUNT(*) AS n FROM customers").n[0]
    for column in ("female_share", "urban_share", "utang_txn_share"):
        assert demo[column].between(0, 1).all()


def test_rolling_features_match_a_pandas_recomputation(frames, engine):
    features = frames["platinum/features_sales_7d"]
    store = features.store_code.iloc[len(features) // 2]
    daily = sql(
        engine,
        f"""SELECT c.date_key, COALESCE(SUM(t.total_amount), 0) AS revenue,
                               COUNT(t.transaction_id) AS transactions
                            FROM calendar c LEFT JOIN transactions t ON t.date_key = c.date_key
                             AND t.store_id = (SELECT store_id FROM stores WHERE store_code = '{store}')
                            GROUP BY c.date_key ORDER BY c.date_key""",
    )
    roll = daily.revenue.rolling(7)
    daily = (
        daily.assign(
            s=roll.sum(),
            m=roll.mean(),
            sd=roll.std(ddof=1),
            mn=roll.min(),
            mx=roll.max(),
            tx=daily.transactions.rolling(7).sum(),
            lag1=daily.revenue.shift(1),
            lag7=daily.revenue.shift(7),
            nxt=daily.revenue.shift(-1),
        )
        .iloc[6:]
        .reset_index(drop=True)
    )
    mine = features[features.store_code == store].reset_index(drop=True)
    assert list(mine.date_key) == list(daily.date_key)
    for ours, theirs in [
        ("revenue_7d_sum", "s"),
        ("revenue_7d_mean", "m"),
        ("revenue_7d_std", "sd"),
        ("revenue_7d_min", "mn"),
        ("revenue_7d_max", "mx"),
        ("revenue_lag_1d", "lag1"),
        ("revenue_lag_7d", "lag7"),
        ("revenue_next_1d", "nxt"),
        ("transactions_7d", "tx"),
    ]:
        assert np.allclose(mine[ours].astype(float), daily[theirs], atol=0.011, equal_nan=True), ours
    assert mine.revenue_next_1d.isna().sum() == 1 and mine.revenue_lag_7d.isna().sum() == 1


def test_store_perf_rankings(frames):
    perf = frames["platinum/store_perf"]
    assert perf.loc[perf.revenue_rank == 1, "revenue"].iloc[0] == perf.revenue.max()
    assert sorted(perf.revenue_rank) == list(range(1, len(perf) + 1))  # no ties in revenue
    assert (perf.groupby("region_code").region_revenue_rank.min() == 1).all()
    assert (perf.is_top_decile == "true").sum() == len(perf) // 10
    assert set(perf.revenue_quartile) == {1, 2, 3, 4}


def test_segmentation_covers_every_customer_exactly_once(frames, engine):
    with engine.connect() as conn:
        people = assign_customer_segments(conn)
        again = assign_customer_segments(conn)
    customers = sql(engine, "SELECT customer_id FROM customers ORDER BY customer_id").customer_id
    assert people.customer_id.is_unique and list(people.customer_id) == list(customers)
    assert people.equals(again)
    assert ((people.segment_id == 0) == (people.frequency == 0)).all()
    assert set(people.segment_id) == set(range(len(LABELS) + 1))
    profile = (
        people[people.segment_id > 0]
        .groupby("segment_label")[["frequency", "monetary", "utang_share", "basket_value", "recency_days"]]
        .mean()
    )
    assert profile.frequency.idxmax() == profile.monetary.idxmax() == "Champion suki"
    assert profile.utang_share.idxmax() == "Utang-reliant"
    assert profile.basket_value.drop(["Champion suki", "Utang-reliant"]).idxmax() == "Stock-up"
    assert profile.recency_days["Lapsed"] > profile.recency_days["Regular"]
    segments = frames["platinum/customer_segments"]
    assert segments.customers.sum() == len(customers)
    assert np.allclose(segments.groupby("store_code").share_of_store_customers.sum(), 1.0, atol=0.01)
    assert (segments.groupby("store_code").is_largest_segment.sum() == 1).all()


def test_kmeans_is_deterministic_and_finds_separated_clusters():
    rng = np.random.default_rng(0)
    centers = np.array([[0, 0], [10, 0], [0, 10]])
    points = np.vstack([c + rng.normal(0, 0.5, (50, 2)) for c in centers])
    labels, found = kmeans(points, 3)
    again, _ = kmeans(points, 3)
    assert np.array_equal(labels, again)
    assert all(len(set(labels[i * 50 : (i + 1) * 50])) == 1 for i in range(3)) and len(set(labels)) == 3
    assert np.allclose(np.sort(found, axis=0), np.sort(centers, axis=0), atol=0.5)


def test_store_day_aggregates_scan_their_covering_index_and_product_mix_does_not(config, warehouse):
    queries = {d["id"]: d["query"] for d in config["datasets"] if "query" in d}
    with sqlite3.connect(warehouse) as db:

        def plan(dataset_id):
            return " | ".join(row[3] for row in db.execute("EXPLAIN QUERY PLAN " + queries[dataset_id]))

        for dataset_id in ("gold/txn_daily", "platinum/features_sales_7d", "platinum/store_perf"):
            assert "SCAN transactions USING COVERING INDEX ix_transactions_store_day" in plan(dataset_id), dataset_id
        assert "SCAN li" in plan("gold/product_mix") and "ix_transactions_store_day" not in plan("gold/product_mix")


@pytest.mark.parametrize("dims", [1, 2, 5, 7])
def test_kmeans_distances_are_bit_for_bit_the_broadcast_formula(dims):
    rng = np.random.default_rng(dims)
    points = rng.normal(size=(5_000, dims)) * rng.exponential(100, size=dims)
    centroids = rng.normal(size=(5, dims))
    expected = ((points[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2)
    assert np.array_equal(_squared_distances(np.ascontiguousarray(points.T), centroids), expected)


def test_output_is_stable_across_runs(config, small):
    engine = sa.create_engine(f"sqlite:///{small['a'][0].path}")
    try:
        with engine.connect() as conn:
            first = [run_definition(d, conn) for d in config["datasets"]]
            second = [run_definition(d, conn) for d in config["datasets"]]
    finally:
        engine.dispose()
    assert all(a.equals(b) and len(a) > 0 for a, b in zip(first, second, strict=True))


def test_prepare_demo_puts_the_config_beside_its_warehouse(tmp_path):
    setup = prepare_demo(tmp_path / "demo", scale=0.05)
    assert setup.config_path == tmp_path / "demo" / CONFIG_NAME
    assert setup.config_path.read_bytes() == demo_config_path().read_bytes()
    assert setup.warehouse.path == tmp_path / "demo" / WAREHOUSE_NAME and setup.warehouse.path.is_file()
    assert demo_config_path().name == CONFIG_NAME and demo_config_path().is_file()
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == [CONFIG_NAME, WAREHOUSE_NAME]


@pytest.mark.postgres
def test_queries_give_the_same_answers_on_postgresql(config, small, postgres_url):
    stats = small["a"][0]
    path = stats.path
    assert export_warehouse(path, postgres_url) == stats.row_counts
    with pytest.raises(ConfigError, match="already has warehouse tables"):
        export_warehouse(path, postgres_url)
    lite, pg = sa.create_engine(f"sqlite:///{path}"), sa.create_engine(postgres_url)
    try:
        with lite.connect() as a, pg.connect() as b:
            for definition in config["datasets"]:
                assert_same_frame(run_definition(definition, a), run_definition(definition, b), definition["id"])
    finally:
        lite.dispose()
        pg.dispose()


def assert_same_frame(lite: pd.DataFrame, pg: pd.DataFrame, name: str) -> None:
    assert list(lite.columns) == list(pg.columns), name
    assert len(lite) == len(pg) > 0, name
    for column in lite.columns:
        x, y = lite[column], pg[column]
        if pd.api.types.is_numeric_dtype(x) and not pd.api.types.is_bool_dtype(x):
            assert x.dtype.kind == y.dtype.kind, (name, column, x.dtype, y.dtype)
            assert np.allclose(
                x.astype(float), pd.to_numeric(y).astype(float), atol=0.011, rtol=1e-6, equal_nan=True
            ), (name, column)
        else:  # dates/timestamps arrive as objects from PostgreSQL and as ISO text from SQLite
            assert list(x.map(_text)) == list(y.map(_text)), (name, column)


def _text(value) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
