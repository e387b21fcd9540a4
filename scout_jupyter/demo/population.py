"""The slowly changing side of the synthetic warehouse: calendar, stores, products, customers.

Everything is drawn from one ``numpy.random.Generator`` in a fixed order, so a seed and a
scale give the same population. Besides the table columns, :class:`Population` keeps the hidden
parameters the activity generator needs (store traffic, assortment, popularity, prices).
"""

from __future__ import annotations

import calendar as _calendar
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np

from . import catalog as cat

Columns = dict[str, np.ndarray]
BASE_STORES = 200  # stores at scale 1


@dataclass
class Population:
    calendar: Columns
    stores: Columns
    products: Columns
    customers: Columns
    day_weight: np.ndarray  # (days,) demand multiplier of each day
    store_traffic: np.ndarray  # (stores,) mean visits per open day
    store_price: np.ndarray  # (stores,) price multiplier over the SRP
    store_oos: np.ndarray  # (stores,) probability that a carried product is out of stock
    carried: np.ndarray  # (stores, products) assortment
    product_weight: np.ndarray  # (products,) popularity within its category (sums to 1 per category)
    customer_weight: np.ndarray  # (customers,) visit propensity


def last_payday(day: date) -> date:
    """Filipino paydays are the 15th and the 30th (the month's last day when shorter)."""
    month_end = _calendar.monthrange(day.year, day.month)[1]
    if day.day >= min(30, month_end):
        return day.replace(day=min(30, month_end))
    if day.day >= 15:
        return day.replace(day=15)
    previous = day.replace(day=1) - timedelta(days=1)
    return previous.replace(day=min(30, previous.day))


def _holiday(day: date) -> str | None:
    if day.month == 8 and day.weekday() == 0 and (day + timedelta(days=7)).month == 9:
        return "National Heroes Day"  # last Monday of August
    return cat.HOLIDAYS.get((day.month, day.day))


def make_calendar(rng: np.random.Generator, start: date, days: int) -> tuple[Columns, np.ndarray]:
    dates = [start + timedelta(days=i) for i in range(days)]
    since = np.array([(d - last_payday(d)).days for d in dates])
    holidays = [_holiday(d) for d in dates]
    dow = np.array([d.weekday() for d in dates])
    columns: Columns = {
        "date_key": np.array([d.isoformat() for d in dates], dtype=object),
        "day_number": np.arange(days),
        "day_of_week": dow + 1,  # ISO: 1 = Monday
        "day_name": np.array([d.strftime("%A") for d in dates], dtype=object),
        "week_start": np.array([(d - timedelta(days=d.weekday())).isoformat() for d in dates], dtype=object),
        "iso_week": np.array([d.isocalendar()[1] for d in dates]),
        "month": np.array([d.month for d in dates]),
        "is_weekend": (dow >= 5).astype(np.int64),
        "is_payday": (since == 0).astype(np.int64),
        "days_since_payday": since,
        "is_holiday": np.array([h is not None for h in holidays], dtype=np.int64),
        "holiday_name": np.array(holidays, dtype=object),
    }
    weight = np.array(cat.DOW_WEIGHT)[dow]
    weight = weight * np.where(since == 0, 1.25, np.where(since == 1, 1.12, 1.0))
    weight = weight * np.where(columns["is_holiday"] == 1, 1.10, 1.0) * (1 + 0.001 * np.arange(days))
    weight = weight * rng.lognormal(0.0, 0.04, days)  # weather and everything else
    return columns, weight


def make_stores(rng: np.random.Generator, n: int, start: date) -> tuple[Columns, dict[str, np.ndarray]]:
    regions = cat.REGIONS
    reg_w = np.array([r.weight for r in regions])
    region = rng.choice(len(regions), size=n, p=reg_w / reg_w.sum())
    n_cities = np.array([len(r.cities) for r in regions])
    city = np.floor(rng.random(n) * n_cities[region]).astype(int)
    urban = rng.random(n) < np.array([r.urban_share for r in regions])[region]
    type_share = np.array([t[1] for t in cat.STORE_TYPES])
    stype = rng.choice(len(cat.STORE_TYPES), size=n, p=type_share / type_share.sum())
    traffic = 4.2 * rng.lognormal(0.0, 0.5, n) * np.array([t[2] for t in cat.STORE_TYPES])[stype]
    traffic *= np.where(urban, 1.15, 0.9)
    log_t = np.log(traffic)
    breadth = np.clip(np.array([t[3] for t in cat.STORE_TYPES])[stype] + 0.12 * (log_t - log_t.mean()), 0.3, 0.95)
    price = (
        np.array([t[4] for t in cat.STORE_TYPES])[stype]
        * np.array([r.price_index for r in regions])[region]
        * rng.uniform(0.98, 1.04, n)
    )
    gcash = rng.random(n) < np.where(stype == 1, 0.95, np.where(urban, 0.75, 0.35))
    lat = np.array([regions[r].cities[c][1] for r, c in zip(region, city, strict=True)]) + rng.normal(0, 0.02, n)
    lon = np.array([regions[r].cities[c][2] for r, c in zip(region, city, strict=True)]) + rng.normal(0, 0.02, n)
    opened = [start - timedelta(days=int(k)) for k in rng.integers(120, 20 * 365, n)]
    cut = np.quantile(traffic, [1 / 3, 2 / 3])
    width = max(4, len(str(n)))
    columns: Columns = {
        "store_id": np.arange(1, n + 1),
        "store_code": np.array([f"{i:0{width}d}" for i in range(1, n + 1)], dtype=object),
        "store_name": _store_names(rng, stype),
        "store_type": np.array([cat.STORE_TYPES[t][0] for t in stype], dtype=object),
        "size_class": np.array(["small", "medium", "large"], dtype=object)[np.searchsorted(cut, traffic)],
        "region_code": np.array([regions[r].code for r in region], dtype=object),
        "region": np.array([regions[r].name for r in region], dtype=object),
        "island_group": np.array([regions[r].island_group for r in region], dtype=object),
        "city": np.array([regions[r].cities[c][0] for r, c in zip(region, city, strict=True)], dtype=object),
        "urbanicity": np.where(urban, "urban", "rural").astype(object),
        "latitude": np.round(lat, 5),
        "longitude": np.round(lon, 5),
        "opened_on": np.array([d.isoformat() for d in opened], dtype=object),
        "accepts_gcash": gcash.astype(np.int64),
    }
    hidden = {"traffic": traffic, "breadth": breadth, "price": price, "urban": urban, "stype": stype}
    return columns, hidden


def _store_names(rng: np.random.Generator, stype: np.ndarray) -> np.ndarray:
    female = rng.random(len(stype)) < 0.7
    first_f = rng.integers(0, len(cat.OWNER_FEMALE), len(stype))
    first_m = rng.integers(0, len(cat.OWNER_MALE), len(stype))
    pick = rng.random(len(stype))
    names = []
    for i, t in enumerate(stype):
        owner = f"Aling {cat.OWNER_FEMALE[first_f[i]]}" if female[i] else f"Mang {cat.OWNER_MALE[first_m[i]]}"
        suffixes = cat.STORE_SUFFIX[cat.STORE_TYPES[t][0]]
        names.append(f"{owner} {suffixes[int(pick[i] * len(suffixes))]}")
    return np.array(names, dtype=object)


def make_products() -> tuple[Columns, np.ndarray]:
    """The fixed catalog (independent of seed and scale) and each product's popularity within
    its category: Zipf over the brand's market-share rank times the pack's weight."""
    rows: list[tuple[Any, ...]] = []
    weights: list[float] = []
    for ci, category in enumerate(cat.CATEGORIES):
        first = len(weights)
        for bi, (brand, factor) in enumerate(category.brands):
            for vi, (variant, base, vweight) in enumerate(category.variants):
                srp = np.ceil(base * factor * 4) / 4  # prices move in 25-centavo steps
                tingi = category.tingi and any(w in variant for w in ("per ", "sachet", "stick", "piece"))
                rows.append(
                    (
                        f"{ci + 1:02d}{bi + 1:02d}{vi + 1:02d}",
                        f"{brand} {variant}",
                        brand,
                        variant,
                        ci + 1,
                        category.name,
                        category.department,
                        float(srp),
                        int(tingi),
                    )
                )
                weights.append(vweight / (bi + 1) ** 1.1)
        block = np.array(weights[first:])
        weights[first:] = list(block / block.sum())
    names = ("sku", "product_name", "brand", "variant", "category_id", "category", "department", "srp", "is_tingi")
    columns: Columns = {"product_id": np.arange(1, len(rows) + 1)}
    for i, name in enumerate(names):
        values = [r[i] for r in rows]
        columns[name] = np.array(values, dtype=object if isinstance(values[0], str) else None)
    return columns, np.array(weights)


def make_customers(rng: np.random.Generator, stores: Columns, hidden: dict, start: date) -> tuple[Columns, np.ndarray]:
    counts = rng.poisson(35 + 9.0 * hidden["traffic"])
    counts = np.maximum(counts, 8)
    home = np.repeat(np.arange(len(counts)), counts)
    n = len(home)
    urban = hidden["urban"][home]
    age = rng.choice(len(cat.AGE_BANDS), size=n, p=np.array(cat.AGE_WEIGHT) / sum(cat.AGE_WEIGHT))
    seg_cum = np.cumsum(np.array(cat.SEGMENT_BY_AGE), axis=1)
    seg_cum /= seg_cum[:, -1:]
    segment = (rng.random(n)[:, None] > seg_cum[age]).sum(axis=1)
    p_female = np.select([segment == 2, segment == 3], [0.92, 0.15], 0.55)
    female = rng.random(n) < p_female
    income = np.where(urban, _draw(rng, cat.INCOME_WEIGHT_URBAN, n), _draw(rng, cat.INCOME_WEIGHT_RURAL, n))
    income = np.where((segment == 5) & (income > 1), income - 1, income)  # remittances lift OFW families
    p_utang = np.array([0.02, 0.10, 0.35, 0.55, 0.65])[income] + np.where(np.isin(segment, (2, 4)), 0.1, 0.0)
    registered = [start - timedelta(days=int(k)) for k in rng.integers(1, 1500, n)]
    columns: Columns = {
        "customer_id": np.arange(1, n + 1),
        "customer_code": np.array([f"C{i:07d}" for i in range(1, n + 1)], dtype=object),
        "home_store_id": home + 1,
        "age_band": np.array(cat.AGE_BANDS, dtype=object)[age],
        "gender": np.where(female, "F", "M").astype(object),
        "income_class": np.array(cat.INCOME_CLASSES, dtype=object)[income],
        "urbanicity": np.where(urban, "urban", "rural").astype(object),
        "lifestyle_segment": np.array(cat.SEGMENTS, dtype=object)[segment],
        "registered_on": np.array([d.isoformat() for d in registered], dtype=object),
        "has_utang_account": (rng.random(n) < p_utang).astype(np.int64),
    }
    weight = rng.gamma(0.7, 1.0, n)  # a few daily suki, many occasional shoppers
    return columns, weight


def _draw(rng: np.random.Generator, weights: tuple[float, ...], n: int) -> np.ndarray:
    p = np.array(weights) / sum(weights)
    return rng.choice(len(p), size=n, p=p)


def make_assortment(rng: np.random.Generator, breadth: np.ndarray, products: Columns, weight: np.ndarray) -> np.ndarray:
    """Which products each store carries: the category leader always, the long tail by breadth."""
    category = products["category_id"]
    top = np.zeros(len(weight))
    for c in np.unique(category):
        top[category == c] = weight[category == c].max()
    relative = np.sqrt(weight / top)
    p = breadth[:, None] + (1 - breadth[:, None]) * relative[None, :]
    return rng.random((len(breadth), len(weight))) < p


def make_population(rng: np.random.Generator, *, scale: float, start: date, days: int) -> Population:
    calendar_cols, day_weight = make_calendar(rng, start, days)
    n_stores = max(2, int(round(BASE_STORES * scale)))
    stores, hidden = make_stores(rng, n_stores, start)
    products, product_weight = make_products()
    customers, customer_weight = make_customers(rng, stores, hidden, start)
    carried = make_assortment(rng, hidden["breadth"], products, product_weight)
    oos = 0.03 + 0.06 * (1 - hidden["breadth"])
    return Population(
        calendar=calendar_cols,
        stores=stores,
        products=products,
        customers=customers,
        day_weight=day_weight,
        store_traffic=hidden["traffic"],
        store_price=hidden["price"],
        store_oos=oos,
        carried=carried,
        product_weight=product_weight,
        customer_weight=customer_weight,
    )
