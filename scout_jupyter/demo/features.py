"""Dataset callables that are awkward in SQL (contract of the publishing TOML:
``function(connection: sqlalchemy.Connection) -> pandas.DataFrame``).

``customer_segments``: a deterministic k-means segmentation of the demo warehouse's customers
(recency, frequency, monetary value, basket size, store-credit use), aggregated to home store x
segment so that the published dataset carries no personal identifiers.
"""

from __future__ import annotations

import logging
from datetime import date

import numpy as np
import pandas as pd
import sqlalchemy as sa

log = logging.getLogger(__name__)

K = 5
INACTIVE_ID, INACTIVE_LABEL = 0, "Inactive"
FEATURES = ("recency_days", "log_frequency", "log_monetary", "log_basket_value", "utang_share")
LABELS = ("Lapsed", "Regular", "Stock-up", "Utang-reliant", "Champion suki")  # segment ids 1..5
# Clusters are named from their (standardized) centroids, greedily in this order: the name goes
# to the remaining cluster with the highest score.
_NAMING = (
    ("Champion suki", lambda c: c[:, 1] + c[:, 2]),  # frequent and high spend
    ("Utang-reliant", lambda c: c[:, 4]),  # buys on store credit
    ("Stock-up", lambda c: c[:, 3]),  # big baskets
    ("Lapsed", lambda c: c[:, 0]),  # longest since the last visit
    ("Regular", lambda c: -c[:, 0]),
)

_RFM_SQL = sa.text("""
WITH per_customer AS (
  SELECT customer_id, COUNT(*) AS frequency, SUM(total_amount) AS monetary, MAX(date_key) AS last_date,
         SUM(CASE WHEN payment_method = 'utang' THEN 1 ELSE 0 END) AS utang_txns
  FROM transactions
  WHERE customer_id IS NOT NULL
  GROUP BY customer_id
)
SELECT cu.customer_id, st.store_code, st.region_code,
       COALESCE(pc.frequency, 0) AS frequency, COALESCE(pc.monetary, 0) AS monetary,
       c.day_number AS last_day, COALESCE(pc.utang_txns, 0) AS utang_txns
FROM customers cu
JOIN stores st ON st.store_id = cu.home_store_id
LEFT JOIN per_customer pc ON pc.customer_id = cu.customer_id
LEFT JOIN calendar c ON c.date_key = pc.last_date
ORDER BY cu.customer_id
""")
_READ_ROWS = 20_000
_BOUNDS_SQL = sa.text("SELECT MAX(day_number) AS last_day, MAX(date_key) AS as_of_date FROM calendar")


def kmeans(points: np.ndarray, k: int, *, max_iter: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd's k-means with a deterministic start: the points are ordered by their first
    coordinates' sum and the initial centroids are the means of k equal slices of that order.
    Returns (labels, centroids); the same input always gives the same output."""
    n = len(points)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros((0, points.shape[1]))
    k = min(k, n)
    order = np.argsort(points.sum(axis=1), kind="stable")
    centroids = np.array([points[chunk].mean(axis=0) for chunk in np.array_split(order, k)])
    labels = np.full(n, -1)
    columns = np.ascontiguousarray(points.T)
    for _ in range(max_iter):
        new_labels = _squared_distances(columns, centroids).argmin(axis=1)
        if np.array_equal(new_labels, labels):
            break
        labels = new_labels
        for j in range(k):
            members = points[labels == j]
            if len(members):  # an emptied cluster keeps its old centroid
                centroids[j] = members.mean(axis=0)
    return labels, centroids


def _squared_distances(columns: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Squared distance of every point to every centroid (n x k), from the points' coordinates
    as rows (d x n), the coordinates' terms added left to right. For d < 8 (the demo has 5) that
    is bit for bit ``((points[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2)``, since numpy
    sums such short axes left to right, at a third of the cost: no n x k x d temporaries."""
    total: np.ndarray | None = None
    for coordinate, centres in zip(columns, centroids.T, strict=True):
        term = np.subtract.outer(coordinate, centres)
        np.multiply(term, term, out=term)
        if total is None:
            total = term
        else:
            total += term
    if total is None:
        raise ValueError("points without coordinates")
    return total


def _feature_matrix(frame: pd.DataFrame) -> np.ndarray:
    columns = [frame[name].to_numpy(dtype=float) for name in FEATURES]
    raw = np.column_stack(columns)
    spread = raw.std(axis=0)
    return (raw - raw.mean(axis=0)) / np.where(spread > 0, spread, 1.0)


def name_clusters(centroids: np.ndarray) -> np.ndarray:
    """Segment id (1..5, see LABELS) of each cluster, from its centroid over FEATURES."""
    ids = np.zeros(len(centroids), dtype=np.int64)
    remaining = list(range(len(centroids)))
    for name, score in _NAMING:
        if not remaining:
            break
        values = score(centroids)
        best = max(remaining, key=lambda j: (values[j], -j))
        ids[best] = LABELS.index(name) + 1
        remaining.remove(best)
    return ids


def assign_customer_segments(connection: sa.Connection) -> pd.DataFrame:
    """Per customer: RFM features, ``segment_id`` (0 = Inactive, 1..5 = LABELS) and
    ``segment_label``. Every customer appears exactly once, ordered by customer_id."""
    # In chunks: one fetchall holds every row as Python objects, 7x the frame (70 MB at scale 10).
    frame = pd.concat(pd.read_sql(_RFM_SQL, connection, chunksize=_READ_ROWS), ignore_index=True)
    bounds = connection.execute(_BOUNDS_SQL).one()
    frame["monetary"] = frame["monetary"].astype(float).fillna(0.0)
    frame["frequency"] = frame["frequency"].astype(np.int64)
    active = frame["frequency"].to_numpy() > 0
    frame["recency_days"] = (int(bounds.last_day) - frame["last_day"].astype(float)).where(active)
    frame["basket_value"] = (frame["monetary"] / frame["frequency"].where(active)).round(2)
    frame["utang_share"] = (frame["utang_txns"].astype(float) / frame["frequency"].where(active)).round(4)
    frame["log_frequency"] = np.log1p(frame["frequency"])
    frame["log_monetary"] = np.log1p(frame["monetary"])
    frame["log_basket_value"] = np.log1p(frame["basket_value"])
    segment = np.full(len(frame), INACTIVE_ID)
    if active.any():
        points = _feature_matrix(frame.loc[active])
        labels, centroids = kmeans(points, K)
        segment[active] = name_clusters(centroids)[labels]
    frame["segment_id"] = segment
    names = (INACTIVE_LABEL, *LABELS)
    frame["segment_label"] = [names[s] for s in segment]
    frame["as_of_date"] = date.fromisoformat(str(bounds.as_of_date)[:10])
    return frame[
        [
            "customer_id",
            "store_code",
            "region_code",
            "as_of_date",
            "segment_id",
            "segment_label",
            "recency_days",
            "frequency",
            "monetary",
            "basket_value",
            "utang_share",
        ]
    ]


def customer_segments(connection: sa.Connection) -> pd.DataFrame:
    """The ``platinum/customer_segments`` dataset: home store x segment cohorts."""
    people = assign_customer_segments(connection)
    people["utang_txns"] = people["utang_share"].fillna(0) * people["frequency"]
    keys = ["store_code", "region_code", "segment_id", "segment_label"]
    grouped = people.groupby(keys, sort=True)
    out = grouped.agg(
        as_of_date=("as_of_date", "first"),
        customers=("customer_id", "size"),
        avg_recency_days=("recency_days", "mean"),
        avg_frequency=("frequency", "mean"),
        avg_monetary=("monetary", "mean"),
        revenue=("monetary", "sum"),
        transactions=("frequency", "sum"),
        utang_txns=("utang_txns", "sum"),
    ).reset_index()
    store_customers = out.groupby("store_code")["customers"].transform("sum")
    store_revenue = out.groupby("store_code")["revenue"].transform("sum")
    largest = out.groupby("store_code")["customers"].transform("max")
    out["share_of_store_customers"] = (out["customers"] / store_customers).round(4)
    out["revenue_share_of_store"] = (out["revenue"] / store_revenue.where(store_revenue > 0)).round(4)
    out["avg_basket_value"] = (out["revenue"] / out["transactions"].where(out["transactions"] > 0)).round(2)
    out["utang_share"] = (out["utang_txns"] / out["transactions"].where(out["transactions"] > 0)).round(4)
    first_largest = out.assign(is_max=out["customers"] == largest).groupby("store_code")["is_max"].cumsum()
    out["is_largest_segment"] = (out["customers"] == largest) & (first_largest == 1)
    out["avg_recency_days"] = out["avg_recency_days"].round(2)
    out["avg_frequency"] = out["avg_frequency"].round(3)
    out["avg_monetary"] = out["avg_monetary"].round(2)
    out["revenue"] = out["revenue"].round(2)
    out = out.sort_values(["store_code", "segment_id"], kind="stable").reset_index(drop=True)
    return out[
        [
            "as_of_date",
            "store_code",
            "region_code",
            "segment_id",
            "segment_label",
            "customers",
            "share_of_store_customers",
            "avg_recency_days",
            "avg_frequency",
            "avg_monetary",
            "avg_basket_value",
            "utang_share",
            "transactions",
            "revenue",
            "revenue_share_of_store",
            "is_largest_segment",
        ]
    ]
