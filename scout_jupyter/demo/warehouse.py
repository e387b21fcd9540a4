"""Build the synthetic Scout retail warehouse (SQLite) that the demo datasets are queried from.

``build_warehouse(path, seed=42, scale=1.0)`` writes nine tables: calendar, stores, products,
customers, transactions, line_items, customer_requests, substitutions (+ nothing else). The same
seed and scale give identical table contents (one ``numpy.random.Generator``, no global state).
The file is written under a temporary name and renamed when complete, so a crash never leaves a
half-built warehouse behind. :func:`export_warehouse` copies a built warehouse into any
SQLAlchemy database (e.g. PostgreSQL) with proper DATE/TIMESTAMP/BOOLEAN/NUMERIC types.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.schema import CreateIndex, CreateTable

from ..errors import ConfigError
from .activity import make_activity
from .population import make_population

log = logging.getLogger(__name__)

DEFAULT_START = date(2024, 7, 1)  # a Monday: ten whole ISO weeks by default
DEFAULT_DAYS = 70
MIN_DAYS = 14
_WRITE_ROWS = 100_000

metadata = sa.MetaData()
_MONEY = sa.Numeric(12, 2).with_variant(sa.Float(), "sqlite")  # exact in PostgreSQL, REAL in SQLite
_C = sa.Column

CALENDAR = sa.Table(
    "calendar",
    metadata,
    _C("date_key", sa.Date, primary_key=True),
    _C("day_number", sa.Integer, nullable=False, unique=True),
    _C("day_of_week", sa.Integer, nullable=False),
    _C("day_name", sa.String(10), nullable=False),
    _C("week_start", sa.Date, nullable=False),
    _C("iso_week", sa.Integer, nullable=False),
    _C("month", sa.Integer, nullable=False),
    _C("is_weekend", sa.Boolean, nullable=False),
    _C("is_payday", sa.Boolean, nullable=False),
    _C("days_since_payday", sa.Integer, nullable=False),
    _C("is_holiday", sa.Boolean, nullable=False),
    _C("holiday_name", sa.String(64)),
)
STORES = sa.Table(
    "stores",
    metadata,
    _C("store_id", sa.Integer, primary_key=True),
    _C("store_code", sa.String(8), nullable=False, unique=True),
    _C("store_name", sa.String(80), nullable=False),
    _C("store_type", sa.String(24), nullable=False),
    _C("size_class", sa.String(8), nullable=False),
    _C("region_code", sa.String(4), nullable=False),
    _C("region", sa.String(32), nullable=False),
    _C("island_group", sa.String(10), nullable=False),
    _C("city", sa.String(40), nullable=False),
    _C("urbanicity", sa.String(5), nullable=False),
    _C("latitude", sa.Float, nullable=False),
    _C("longitude", sa.Float, nullable=False),
    _C("opened_on", sa.Date, nullable=False),
    _C("accepts_gcash", sa.Boolean, nullable=False),
)
PRODUCTS = sa.Table(
    "products",
    metadata,
    _C("product_id", sa.Integer, primary_key=True),
    _C("sku", sa.String(6), nullable=False, unique=True),
    _C("product_name", sa.String(96), nullable=False),
    _C("brand", sa.String(40), nullable=False),
    _C("variant", sa.String(48), nullable=False),
    _C("category_id", sa.Integer, nullable=False),
    _C("category", sa.String(40), nullable=False),
    _C("department", sa.String(32), nullable=False),
    _C("srp", _MONEY, nullable=False),
    _C("is_tingi", sa.Boolean, nullable=False),
)
CUSTOMERS = sa.Table(
    "customers",
    metadata,
    _C("customer_id", sa.Integer, primary_key=True),
    _C("customer_code", sa.String(8), nullable=False, unique=True),
    _C("home_store_id", sa.Integer, sa.ForeignKey("stores.store_id"), nullable=False),
    _C("age_band", sa.String(5), nullable=False),
    _C("gender", sa.String(1), nullable=False),
    _C("income_class", sa.String(1), nullable=False),
    _C("urbanicity", sa.String(5), nullable=False),
    _C("lifestyle_segment", sa.String(24), nullable=False),
    _C("registered_on", sa.Date, nullable=False),
    _C("has_utang_account", sa.Boolean, nullable=False),
)
TRANSACTIONS = sa.Table(
    "transactions",
    metadata,
    _C("transaction_id", sa.Integer, primary_key=True),
    _C("store_id", sa.Integer, sa.ForeignKey("stores.store_id"), nullable=False),
    _C("customer_id", sa.Integer, sa.ForeignKey("customers.customer_id")),  # NULL: anonymous shopper
    _C("txn_ts", sa.DateTime, nullable=False),
    _C("date_key", sa.Date, sa.ForeignKey("calendar.date_key"), nullable=False),
    _C("hour_of_day", sa.Integer, nullable=False),
    _C("payment_method", sa.String(8), nullable=False),
    _C("item_count", sa.Integer, nullable=False),
    _C("line_count", sa.Integer, nullable=False),
    _C("total_amount", _MONEY, nullable=False),
    _C("discount_total", _MONEY, nullable=False),
)
LINE_ITEMS = sa.Table(  # clustered by basket in SQLite (WITHOUT ROWID): basket scans are range scans
    "line_items",
    metadata,
    _C("transaction_id", sa.Integer, sa.ForeignKey("transactions.transaction_id"), primary_key=True),
    _C("product_id", sa.Integer, sa.ForeignKey("products.product_id"), primary_key=True),
    _C("line_no", sa.Integer, nullable=False),
    _C("quantity", sa.Integer, nullable=False),
    _C("unit_price", _MONEY, nullable=False),
    _C("discount", _MONEY, nullable=False),
    _C("line_total", _MONEY, nullable=False),
    sqlite_with_rowid=False,
)
CUSTOMER_REQUESTS = sa.Table(
    "customer_requests",
    metadata,
    _C("request_id", sa.Integer, primary_key=True),
    _C("transaction_id", sa.Integer, sa.ForeignKey("transactions.transaction_id")),  # NULL: left empty-handed
    _C("store_id", sa.Integer, sa.ForeignKey("stores.store_id"), nullable=False),
    _C("customer_id", sa.Integer, sa.ForeignKey("customers.customer_id")),
    _C("requested_at", sa.DateTime, nullable=False),
    _C("date_key", sa.Date, sa.ForeignKey("calendar.date_key"), nullable=False),
    _C("hour_of_day", sa.Integer, nullable=False),
    _C("request_type", sa.String(20), nullable=False),
    _C("category_id", sa.Integer, nullable=False),
    _C("requested_product_id", sa.Integer, sa.ForeignKey("products.product_id")),  # NULL: generic request
    _C("brand_available", sa.Boolean),
    _C("outcome", sa.String(16), nullable=False),
    _C("owner_suggested", sa.Boolean, nullable=False),
    _C("fulfilled_product_id", sa.Integer, sa.ForeignKey("products.product_id")),
)
SUBSTITUTIONS = sa.Table(
    "substitutions",
    metadata,
    _C("substitution_id", sa.Integer, primary_key=True),
    _C("request_id", sa.Integer, sa.ForeignKey("customer_requests.request_id"), nullable=False, unique=True),
    _C("transaction_id", sa.Integer, sa.ForeignKey("transactions.transaction_id"), nullable=False),
    _C("store_id", sa.Integer, sa.ForeignKey("stores.store_id"), nullable=False),
    _C("date_key", sa.Date, sa.ForeignKey("calendar.date_key"), nullable=False),
    _C("from_product_id", sa.Integer, sa.ForeignKey("products.product_id"), nullable=False),
    _C("to_product_id", sa.Integer, sa.ForeignKey("products.product_id"), nullable=False),
    _C("reason", sa.String(20), nullable=False),
    _C("price_delta", _MONEY, nullable=False),
)

# Fact tables are stored in time order and the dataset queries aggregate whole tables, which
# SQLite does fastest by scanning them and looking dimensions up by primary key; secondary
# indexes are kept to those a query uses (an index-driven plan over a whole table turns the scan
# into random row lookups, several times slower at scale 10; e.g. one on line_items.product_id
# slows product_mix and basket_patterns). Both indexes are covering: index-only scans.
# * customer order, for the per-customer aggregates (segments, demographics);
# * store x day order, for the store-day aggregates (txn_daily, features_sales_7d, store_perf):
#   their GROUP BY needs no sort (those three: -21% at scale 1, -26% at scale 10). The
#   transaction_id comes third so that each store-day's rows are still summed in transaction
#   order, as a table scan feeds them: the same floating-point sums, the same published bytes.
INDEXES = (
    sa.Index(
        "ix_transactions_customer",
        TRANSACTIONS.c.customer_id,
        TRANSACTIONS.c.date_key,
        TRANSACTIONS.c.total_amount,
        TRANSACTIONS.c.payment_method,
    ),
    sa.Index(
        "ix_transactions_store_day",
        TRANSACTIONS.c.store_id,
        TRANSACTIONS.c.date_key,
        TRANSACTIONS.c.transaction_id,
        TRANSACTIONS.c.customer_id,
        TRANSACTIONS.c.item_count,
        TRANSACTIONS.c.total_amount,
        TRANSACTIONS.c.discount_total,
        TRANSACTIONS.c.payment_method,
        TRANSACTIONS.c.txn_ts,
    ),
)
TABLES = tuple(t.name for t in metadata.sorted_tables)


@dataclass(frozen=True)
class WarehouseStats:
    """What :func:`build_warehouse` wrote."""

    path: Path
    seed: int
    scale: float
    start_date: date
    end_date: date
    days: int
    row_counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(path=str(self.path), start_date=self.start_date.isoformat(), end_date=self.end_date.isoformat())
        return data


def build_warehouse(
    path: str | os.PathLike,
    *,
    seed: int = 42,
    scale: float = 1.0,
    start_date: date = DEFAULT_START,
    days: int = DEFAULT_DAYS,
) -> WarehouseStats:
    """Generate the warehouse into the SQLite file ``path`` (replacing it when complete)."""
    _check_arguments(seed, scale, start_date, days)
    started = time.perf_counter()
    path = Path(path).expanduser().absolute()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"Cannot create the folder for the warehouse {path}: {exc.strerror}") from None
    rng = np.random.default_rng(seed)
    population = make_population(rng, scale=scale, start=start_date, days=days)
    activity = make_activity(rng, population)
    tables = {
        "calendar": population.calendar,
        "stores": population.stores,
        "products": population.products,
        "customers": population.customers,
        "transactions": activity.transactions,
        "line_items": activity.line_items,
        "customer_requests": activity.customer_requests,
        "substitutions": activity.substitutions,
    }
    counts = _write_atomically(path, tables)
    seconds = time.perf_counter() - started
    stats = WarehouseStats(
        path=path,
        seed=seed,
        scale=scale,
        start_date=start_date,
        end_date=date.fromordinal(start_date.toordinal() + days - 1),
        days=days,
        row_counts=counts,
        seconds=round(seconds, 3),
    )
    log.info(
        "Built the demo warehouse %s (seed %s, scale %s): %s rows in %.1f s",
        path,
        seed,
        scale,
        sum(counts.values()),
        seconds,
    )
    return stats


def _check_arguments(seed: Any, scale: Any, start_date: Any, days: Any) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"The warehouse seed must be a non-negative integer, got {seed!r}")
    if (
        isinstance(scale, bool)
        or not isinstance(scale, (int, float))
        or not math.isfinite(scale)
        or not 0 < scale <= 1000
    ):
        raise ConfigError(f"The warehouse scale must be a number in (0, 1000], got {scale!r}")
    if not isinstance(start_date, date) or isinstance(start_date, datetime):
        raise ConfigError(f"The warehouse start_date must be a date, got {start_date!r}")
    if isinstance(days, bool) or not isinstance(days, int) or not MIN_DAYS <= days <= 3660:
        raise ConfigError(f"The warehouse must span {MIN_DAYS}..3660 days, got {days!r}")


def _write_atomically(path: Path, tables: dict[str, dict[str, np.ndarray]]) -> dict[str, int]:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")  # created with the usual permissions
    try:
        conn = sqlite3.connect(tmp)
        try:
            conn.execute("PRAGMA journal_mode=OFF")  # a fresh temp file: nothing to roll back to
            conn.execute("PRAGMA synchronous=OFF")
            counts = _write_tables(conn, tables)
            conn.execute("PRAGMA analysis_limit=1000")
            conn.execute("ANALYZE")  # statistics for the query planner of the dataset queries
            conn.commit()
        finally:
            conn.close()
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return counts


def _write_tables(conn: sqlite3.Connection, tables: dict[str, dict[str, np.ndarray]]) -> dict[str, int]:
    dialect = sqlite_dialect.dialect()
    counts = {}
    for table in metadata.sorted_tables:
        conn.execute(str(CreateTable(table).compile(dialect=dialect)))
        columns = tables[table.name]
        names = [c.name for c in table.columns]
        if sorted(names) != sorted(columns):
            raise RuntimeError(f"generator and schema disagree on {table.name}: {sorted(columns)} vs {sorted(names)}")
        insert = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        total = len(columns[names[0]])
        for start in range(0, total, _WRITE_ROWS):  # Python objects for one slice at a time
            stop = start + _WRITE_ROWS
            conn.executemany(insert, zip(*(_values(columns[n][start:stop]) for n in names), strict=True))
        counts[table.name] = total
    for index in INDEXES:
        conn.execute(str(CreateIndex(index).compile(dialect=dialect)))
    return counts


def _values(column: np.ndarray) -> list:
    """Python values of a column; masked entries of a MaskedArray become None (NULL)."""
    if isinstance(column, np.ma.MaskedArray):
        values = column.data.tolist()
        for i in np.flatnonzero(np.ma.getmaskarray(column)).tolist():
            values[i] = None
        return values
    return column.tolist()


def table_digests(path: str | os.PathLike) -> dict[str, str]:
    """sha256 of each table's rows in primary-key order: equal digests mean equal contents."""
    digests = {}
    conn = sqlite3.connect(f"file:{Path(path).absolute()}?mode=ro", uri=True)
    try:
        for table in metadata.sorted_tables:
            keys = ", ".join(c.name for c in table.primary_key.columns)
            digest = hashlib.sha256()
            for row in conn.execute(f"SELECT * FROM {table.name} ORDER BY {keys}"):
                digest.update(repr(row).encode("utf-8"))
            digests[table.name] = digest.hexdigest()
    finally:
        conn.close()
    return digests


def _converter(column: sa.Column) -> Callable[[Any], Any] | None:
    kind = column.type
    if isinstance(kind, sa.DateTime):
        return datetime.fromisoformat
    if isinstance(kind, sa.Date):
        return date.fromisoformat
    if isinstance(kind, sa.Boolean):
        return bool
    return None


def export_warehouse(source: str | os.PathLike, url: str, *, batch_rows: int = 20_000) -> dict[str, int]:
    """Copy a built warehouse into the (empty) database at SQLAlchemy ``url``, creating the
    tables with native types (DATE, TIMESTAMP, BOOLEAN, NUMERIC money) and the same indexes, in
    one transaction (COPY on PostgreSQL with psycopg). Returns the row count of each table."""
    source = Path(source)
    if not source.is_file():
        raise ConfigError(f"No warehouse at {source}: build it first (build_warehouse)")
    engine = sa.create_engine(url)
    counts: dict[str, int] = {}
    try:
        existing = set(sa.inspect(engine).get_table_names()) & set(TABLES)
        if existing:
            raise ConfigError(f"The target database already has warehouse tables: {', '.join(sorted(existing))}")
        src = sqlite3.connect(f"file:{source.absolute()}?mode=ro", uri=True)
        try:
            with engine.begin() as conn:
                metadata.create_all(conn)
                for table in metadata.sorted_tables:
                    counts[table.name] = _copy_table(src, conn, table, batch_rows)
        finally:
            src.close()
    finally:
        engine.dispose()
    return counts


def _copy_table(src: sqlite3.Connection, conn: sa.Connection, table: sa.Table, batch_rows: int) -> int:
    names = [c.name for c in table.columns]
    convert = [_converter(c) for c in table.columns]
    keys = ", ".join(c.name for c in table.primary_key.columns)
    cursor = src.execute(f"SELECT {', '.join(names)} FROM {table.name} ORDER BY {keys}")
    # COPY is an order of magnitude faster than row-at-a-time inserts
    use_copy = conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg"
    psycopg_conn = conn.connection.driver_connection if use_copy else None
    copied = 0
    while rows := cursor.fetchmany(batch_rows):
        batch = [
            [f(v) if f is not None and v is not None else v for f, v in zip(convert, row, strict=True)] for row in rows
        ]
        if psycopg_conn is not None:
            with psycopg_conn.cursor() as pg_cursor:
                with pg_cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
                    for values in batch:
                        copy.write_row(values)
        else:
            conn.execute(table.insert(), [dict(zip(names, values, strict=True)) for values in batch])
        copied += len(batch)
    return copied
