"""The fast-moving side of the synthetic warehouse: store visits, what shoppers ask for, what
the store has, what they buy instead, and the resulting transactions and line items.

A visit asks for items (category by segment, time of day and payday mood; product by Zipf
popularity; complements such as coffee + pandesal). Every asked-for item is a request; the
store's assortment and stock decide whether it is sold as asked, substituted or walked away
from. Visits that bought anything become transactions. All vectorized with numpy; money is
computed in integer centavos so that totals are exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import catalog as cat
from .population import Columns, Population

ANONYMOUS = len(cat.SEGMENTS)  # segment index of shoppers the store does not know


@dataclass
class Activity:
    transactions: Columns
    line_items: Columns
    customer_requests: Columns
    substitutions: Columns


def make_activity(rng: np.random.Generator, pop: Population) -> Activity:
    visits = _visits(rng, pop)
    items = _asked_items(rng, pop, visits)
    asked = _resolve(rng, pop, visits, items)
    lines, txn_of_visit = _line_items(rng, pop, visits, items, asked)
    transactions = _transactions(rng, pop, visits, lines, txn_of_visit)
    requests, substitutions = _request_tables(pop, visits, items, asked, txn_of_visit)
    return Activity(
        transactions=transactions, line_items=lines["columns"], customer_requests=requests, substitutions=substitutions
    )


def _visits(rng: np.random.Generator, pop: Population) -> dict[str, np.ndarray]:
    n_stores, n_days = len(pop.store_traffic), len(pop.day_weight)
    rate = pop.store_traffic[:, None] * pop.day_weight[None, :] * rng.gamma(8.0, 1 / 8.0, (n_stores, n_days))
    is_open = rng.random((n_stores, n_days)) >= 0.03  # fiestas, errands, sick days
    counts = rng.poisson(rate) * is_open
    cell = np.repeat(np.arange(n_stores * n_days), counts.ravel())
    store, day = cell // n_days, cell % n_days
    n = len(cell)
    hours = np.array(sorted(cat.HOUR_WEIGHT))
    hour_p = np.array([cat.HOUR_WEIGHT[h] for h in hours], dtype=float)
    hour = hours[rng.choice(len(hours), size=n, p=hour_p / hour_p.sum())]
    second_of_hour = rng.integers(0, 3600, n)
    order = np.lexsort((store, second_of_hour, hour, day))
    store, day, hour, second_of_hour = store[order], day[order], hour[order], second_of_hour[order]
    customer = _visit_customers(rng, pop, store)
    known = customer >= 0
    segment_codes = pop.customers["lifestyle_segment"]
    seg_index = {s: i for i, s in enumerate(cat.SEGMENTS)}
    segment = np.full(n, ANONYMOUS)
    segment[known] = np.array([seg_index[s] for s in segment_codes])[customer[known]]
    since = pop.calendar["days_since_payday"][day]
    return {
        "store": store,
        "day": day,
        "hour": hour,
        "customer": customer,
        "timestamp": _timestamps(pop, day, hour, second_of_hour),
        "segment": segment,
        "since_payday": since,
        "daypart": np.searchsorted(np.array(cat.DAYPART_START), hour, side="right") - 1,
        "party": (pop.calendar["is_weekend"][day] == 1) | (since <= 1),
    }


def _visit_customers(rng: np.random.Generator, pop: Population, store: np.ndarray) -> np.ndarray:
    """Known shoppers come from the store's own neighbourhood pool, weighted by habit."""
    urban = pop.stores["urbanicity"][store] == "urban"
    known = rng.random(len(store)) < np.where(urban, 0.58, 0.72)
    home = pop.customers["home_store_id"] - 1
    cum = np.cumsum(pop.customer_weight)
    first = np.searchsorted(home, np.arange(len(pop.store_traffic)), side="left")
    last = np.searchsorted(home, np.arange(len(pop.store_traffic)), side="right") - 1
    base = np.where(first > 0, cum[np.maximum(first - 1, 0)], 0.0)
    total = cum[last] - base
    target = base[store] + rng.random(len(store)) * total[store]
    chosen = np.clip(np.searchsorted(cum, target, side="right"), first[store], last[store])
    return np.where(known, chosen, -1)


def _category_probabilities() -> np.ndarray:
    """P(category | segment, daypart, party) as a (segments+1, 4, 2, categories) array."""
    names = [c.name for c in cat.CATEGORIES]
    base = np.array([c.share for c in cat.CATEGORIES])
    probs = np.empty((ANONYMOUS + 1, len(cat.DAYPARTS), 2, len(names)))
    for s in range(ANONYMOUS + 1):
        taste = cat.SEGMENT_TASTE[cat.SEGMENTS[s]] if s < ANONYMOUS else {}
        for d, daypart_taste in enumerate(cat.DAYPART_TASTE):
            for party in (0, 1):
                w = base * np.array(
                    [
                        taste.get(n, 1.0) * daypart_taste.get(n, 1.0) * (cat.PARTY_TASTE.get(n, 1.0) if party else 1.0)
                        for n in names
                    ]
                )
                probs[s, d, party] = w / w.sum()
    return probs


def _sample_products(rng: np.random.Generator, pop: Population, category: np.ndarray) -> np.ndarray:
    """0-based product index for each 0-based category, by popularity within the category."""
    product_cat = pop.products["category_id"] - 1
    u = rng.random(len(category))
    out = np.empty(len(category), dtype=np.int64)
    for c in np.unique(category):
        members = np.flatnonzero(product_cat == c)
        cum = np.cumsum(pop.product_weight[members])
        rows = np.flatnonzero(category == c)
        out[rows] = members[np.minimum(np.searchsorted(cum, u[rows] * cum[-1], side="right"), len(members) - 1)]
    return out


def _asked_items(rng: np.random.Generator, pop: Population, v: dict) -> dict[str, np.ndarray]:
    is_minimart = pop.stores["store_type"][v["store"]] == "mini-mart"
    bonus = np.append(np.array(cat.SEGMENT_BASKET_BONUS), 0.0)[v["segment"]]
    mean_extra = 0.5 + bonus + 0.4 * (v["since_payday"] <= 1) + 0.6 * is_minimart
    size = 1 + rng.negative_binomial(1.3, 1.3 / (1.3 + mean_extra))
    visit = np.repeat(np.arange(len(size)), size)
    group = (v["segment"] * len(cat.DAYPARTS) + v["daypart"]) * 2 + v["party"].astype(int)
    cum = np.cumsum(_category_probabilities().reshape(-1, len(cat.CATEGORIES)), axis=1)
    u = rng.random(len(visit))
    category = np.empty(len(visit), dtype=np.int64)
    item_group = group[visit]
    for g in np.unique(item_group):
        rows = np.flatnonzero(item_group == g)
        category[rows] = np.minimum(np.searchsorted(cum[g], u[rows], side="right"), len(cat.CATEGORIES) - 1)
    extra_visit, extra_cat = [], []
    for source, target, p in cat.COMPLEMENTS:
        hit = (category == cat.CATEGORY_INDEX[source]) & (rng.random(len(visit)) < p)
        extra_visit.append(visit[hit])
        extra_cat.append(np.full(int(hit.sum()), cat.CATEGORY_INDEX[target]))
    visit = np.concatenate([visit, *extra_visit])
    category = np.concatenate([category, *extra_cat])
    order = np.argsort(visit, kind="stable")
    visit, category = visit[order], category[order]
    product = _sample_products(rng, pop, category)
    qty_mean = np.array([c.qty_mean for c in cat.CATEGORIES])
    qty = 1 + rng.poisson(qty_mean[category] - 1)
    return {"visit": visit, "category": category, "product": product, "qty": qty}


def _resolve(rng: np.random.Generator, pop: Population, v: dict, items: dict) -> dict[str, np.ndarray]:
    """How each item was asked for, and what the store could do about it."""
    n = len(items["visit"])
    store = v["store"][items["visit"]]
    segment = v["segment"][items["visit"]]
    desired = items["product"].copy()
    # Regulars mostly ask for what their store carries; the rest ask for what they saw on TV.
    aware = ~pop.carried[store, desired] & (rng.random(n) < 0.75)
    known_alternative = _substitutes(rng, pop, store[aware], desired[aware])
    desired[np.flatnonzero(aware)[known_alternative >= 0]] = known_alternative[known_alternative >= 0]
    items["product"] = desired
    generic = rng.random(n) < np.array([c.generic for c in cat.CATEGORIES])[items["category"]]
    pointing = ~generic & (rng.random(n) < np.where(np.isin(segment, (0, 4)), 0.35, 0.22))
    named = ~generic & ~pointing
    carried = pop.carried[store, desired]
    available = carried & (rng.random(n) >= pop.store_oos[store])
    accepts = rng.random(n) < 0.72
    switches = named & available & (rng.random(n) < 0.03)
    owner_reason = rng.random(n) < 0.6
    owner_u = rng.random(n)
    wanted = (~available & (generic | pointing | accepts)) | switches
    alternative = np.full(n, -1)
    alternative[wanted] = _substitutes(rng, pop, store[wanted], desired[wanted])
    has_alt = alternative >= 0
    switched = switches & has_alt
    replaced = ~available & wanted & has_alt
    walked = ~available & ~replaced
    fulfilled = np.where(switched | replaced, alternative, np.where(walked, -1, desired))
    substituted = named & (switched | replaced)
    reason = _labels(
        ("owner_suggestion", "price", "out_of_stock", "not_carried"),
        np.where(switched, np.where(owner_reason, 0, 1), np.where(carried, 2, 3)),
    )
    owner = np.where(substituted, np.where(switched, owner_reason, owner_u < 0.65), named & walked & (owner_u < 0.3))
    request_type = _labels(
        ("generic_category", "pointing", "brand_named"), np.where(generic, 0, np.where(pointing, 1, 2))
    )
    outcome = _labels(("walked_away", "substituted", "as_requested"), np.where(walked, 0, np.where(substituted, 1, 2)))
    return {
        "store": store,
        "desired": desired,
        "fulfilled": fulfilled,
        "generic": generic,
        "pointing": pointing,
        "available": available,
        "substituted": substituted,
        "reason": reason,
        "owner": owner,
        "request_type": request_type,
        "outcome": outcome,
    }


def _substitutes(rng: np.random.Generator, pop: Population, store: np.ndarray, source: np.ndarray) -> np.ndarray:
    """Another product of the same category that the store carries, favouring popular products
    at a similar price; -1 when the store carries nothing else in the category."""
    product_cat = pop.products["category_id"] - 1
    price = pop.products["srp"].astype(float)
    u = rng.random(len(source))
    out = np.full(len(source), -1)
    for c in np.unique(product_cat[source]):
        rows = np.flatnonzero(product_cat[source] == c)
        members = np.flatnonzero(product_cat == c)
        w = pop.carried[store[rows]][:, members] * pop.product_weight[members][None, :] ** 0.8
        w = w * np.exp(-2.0 * np.abs(np.log(price[members][None, :] / price[source[rows]][:, None])))
        w[members[None, :] == source[rows][:, None]] = 0.0
        cum = np.cumsum(w, axis=1)
        total = cum[:, -1]
        pick = (cum <= (u[rows] * total)[:, None]).sum(axis=1)
        ok = total > 0
        out[rows[ok]] = members[np.minimum(pick[ok], len(members) - 1)]
    return out


def _price_cents(pop: Population, store: np.ndarray, product: np.ndarray) -> np.ndarray:
    """Shelf price: SRP times the store's regional markup, rounded up to 25 centavos."""
    raw = pop.products["srp"].astype(float)[product] * pop.store_price[store]
    return (np.ceil(raw * 4 - 1e-9) * 25).astype(np.int64)


def _line_items(rng: np.random.Generator, pop: Population, v: dict, items: dict, asked: dict):
    bought = asked["fulfilled"] >= 0
    n_products = len(pop.product_weight)
    key = items["visit"][bought] * n_products + asked["fulfilled"][bought]
    keys, inverse = np.unique(key, return_inverse=True)
    qty = np.bincount(inverse, weights=items["qty"][bought]).astype(np.int64)
    visit, product = keys // n_products, keys % n_products
    has_txn = np.bincount(visit, minlength=len(v["store"])) > 0
    txn_of_visit = np.where(has_txn, np.cumsum(has_txn), 0)
    first = np.searchsorted(visit, visit, side="left")
    store, customer = v["store"][visit], v["customer"][visit]
    price = _price_cents(pop, store, product)
    gross = qty * price
    suki = (customer >= 0) & (pop.customer_weight[np.maximum(customer, 0)] > 1.5)
    cap = (gross // 10) // 25 * 25  # at most ~10% off, in 25-centavo steps
    tawad = np.minimum(np.array([25, 50, 100])[rng.integers(0, 3, len(qty))], cap)
    discount = np.where(suki & (rng.random(len(qty)) < 0.08), tawad, 0)
    columns: Columns = {
        "transaction_id": txn_of_visit[visit],
        "line_no": np.arange(len(visit)) - first + 1,
        "product_id": product + 1,
        "quantity": qty,
        "unit_price": price / 100.0,
        "discount": discount / 100.0,
        "line_total": (gross - discount) / 100.0,
    }
    return {"columns": columns, "visit": visit, "net": gross - discount, "qty": qty}, txn_of_visit


_CLOCK = np.array([f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86400)], dtype=object)


def _timestamps(pop: Population, day: np.ndarray, hour: np.ndarray, second: np.ndarray) -> np.ndarray:
    """``YYYY-MM-DD HH:MM:SS`` strings (SQLite's timestamp text form)."""
    dates, clock = pop.calendar["date_key"][day].tolist(), _CLOCK[hour * 3600 + second].tolist()
    return np.array([d + " " + c for d, c in zip(dates, clock, strict=True)], dtype=object)


def _transactions(rng: np.random.Generator, pop: Population, v: dict, lines: dict, txn_of_visit: np.ndarray) -> Columns:
    visits = np.flatnonzero(txn_of_visit > 0)
    index = txn_of_visit[lines["visit"]] - 1
    total = np.bincount(index, weights=lines["net"], minlength=len(visits)).round().astype(np.int64)
    discount = np.bincount(index, weights=lines["columns"]["discount"] * 100, minlength=len(visits)).round()
    units = np.bincount(index, weights=lines["qty"], minlength=len(visits)).astype(np.int64)
    store, customer = v["store"][visits], v["customer"][visits]
    payment = _payments(rng, pop, store, customer, v["since_payday"][visits])
    return {
        "transaction_id": np.arange(1, len(visits) + 1),
        "store_id": store + 1,
        "customer_id": _nullable(customer + 1, customer >= 0),
        "txn_ts": v["timestamp"][visits],
        "date_key": pop.calendar["date_key"][v["day"][visits]],
        "hour_of_day": v["hour"][visits],
        "payment_method": payment,
        "item_count": units,
        "line_count": np.bincount(index, minlength=len(visits)),
        "total_amount": total / 100.0,
        "discount_total": discount / 100.0,
    }


def _payments(
    rng: np.random.Generator, pop: Population, store: np.ndarray, customer: np.ndarray, since_payday: np.ndarray
) -> np.ndarray:
    """Cash by default; utang (store credit) for known account holders, more as payday nears;
    GCash where the store takes it, more for young, urban, better-off shoppers."""
    known = customer >= 0
    c = np.maximum(customer, 0)
    gcash_ok = pop.stores["accepts_gcash"][store] == 1
    urban = pop.stores["urbanicity"][store] == "urban"
    young = np.isin(pop.customers["age_band"][c], ("18-24", "25-34")) & known
    better_off = np.isin(pop.customers["income_class"][c], ("A", "B", "C")) & known
    p_utang = np.where(known & (pop.customers["has_utang_account"][c] == 1), 0.25 + 0.40 * since_payday / 15, 0.0)
    p_gcash = gcash_ok * (0.05 + 0.12 * young + 0.06 * urban + 0.08 * better_off)
    u = rng.random(len(store))
    return _labels(("utang", "gcash", "cash"), np.where(u < p_utang, 0, np.where(u < p_utang + p_gcash, 1, 2)))


def _labels(names: tuple[str, ...], codes: np.ndarray) -> np.ndarray:
    """A text column from integer codes (every row shares the few label objects)."""
    return np.array(names, dtype=object)[codes]


def _nullable(values: np.ndarray, present: np.ndarray) -> np.ma.MaskedArray:
    """A column with NULLs where ``present`` is false (written as None)."""
    return np.ma.masked_array(values, mask=~present)


def _request_tables(pop: Population, v: dict, items: dict, asked: dict, txn_of_visit: np.ndarray):
    visit = items["visit"]
    n = len(visit)
    customer, txn = v["customer"][visit], txn_of_visit[visit]
    named = ~asked["generic"] & ~asked["pointing"]
    requested = np.where(asked["pointing"] & (asked["fulfilled"] >= 0), asked["fulfilled"], asked["desired"])
    timestamps = v["timestamp"][visit]
    available = np.where(asked["pointing"], asked["fulfilled"] >= 0, asked["available"])
    requests: Columns = {
        "request_id": np.arange(1, n + 1),
        "transaction_id": _nullable(txn, txn > 0),
        "store_id": asked["store"] + 1,
        "customer_id": _nullable(customer + 1, customer >= 0),
        "requested_at": timestamps,
        "date_key": pop.calendar["date_key"][v["day"][visit]],
        "hour_of_day": v["hour"][visit],
        "request_type": asked["request_type"],
        "category_id": items["category"] + 1,
        "requested_product_id": _nullable(requested + 1, ~asked["generic"]),
        "brand_available": _nullable(available.astype(np.int64), ~asked["generic"]),
        "outcome": asked["outcome"],
        "owner_suggested": asked["owner"].astype(np.int64),
        "fulfilled_product_id": _nullable(asked["fulfilled"] + 1, asked["fulfilled"] >= 0),
    }
    sub = np.flatnonzero(asked["substituted"] & named)
    store, source, target = asked["store"][sub], asked["desired"][sub], asked["fulfilled"][sub]
    delta = _price_cents(pop, store, target) - _price_cents(pop, store, source)
    substitutions: Columns = {
        "substitution_id": np.arange(1, len(sub) + 1),
        "request_id": sub + 1,
        "transaction_id": txn[sub],
        "store_id": store + 1,
        "date_key": requests["date_key"][sub],
        "from_product_id": source + 1,
        "to_product_id": target + 1,
        "reason": asked["reason"][sub],
        "price_delta": delta / 100.0,
    }
    return requests, substitutions
