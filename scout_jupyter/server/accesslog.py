"""The access log: one row per request to the dataset routes and per signed download.

SQLAlchemy Core over SQLite (WAL; the default, in the Jupyter data dir) or any other database
URL (PostgreSQL, where the table and view live in the schema ``scout``). One background thread
writes rows in batches (group commit): a batch is committed when ``batch_size`` rows are queued,
after ``flush_interval`` seconds, or at once when a caller waits for durability.
``await log.write_durable(row)`` resolves only after the transaction holding its row committed,
and raises :class:`AccessLogUnavailable` when it did not — the signing route fails closed on it.

Rows never hold a URL, signature, token or key: the columns are the whole record, and every
free-text value is escaped (control and invisible characters as ``\\u200f``-style escapes)
and truncated.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import StaticPool

from ..errors import AccessLogUnavailable

log = logging.getLogger(__name__)

ACTIONS = ("manifest", "list", "info", "sign", "download", "publish", "deny", "preview")
TABLE_NAME = "dataset_access_log"
VIEW_NAME = "dataset_access_analytics"
#: The original document's name for the log, as its troubleshooting query reads it: every column
#: of the table plus ``user_id`` and a boolean ``success`` (a view, so no row is copied or lost).
LOGS_VIEW_NAME = "dataset_access_logs"
ACTION_CHECK = "ck_dataset_access_log_action"
POSTGRES_SCHEMA = "scout"
TEXT_LIMIT = 256
_STOP = object()

Notify = Callable[[str | None], None]


@dataclass(frozen=True)
class _Waiter:
    """A coroutine waiting in ``write_durable`` for its row's commit."""

    loop: asyncio.AbstractEventLoop
    future: asyncio.Future


def escape_text(value: object, limit: int = TEXT_LIMIT) -> str | None:
    """Untrusted text made safe for one log column: backslashes, control and other
    non-printable characters (CR, LF, NUL, RTL marks, …) escaped, then truncated."""
    if value is None:
        return None
    text = str(value)[:limit]
    out = "".join(c if c.isprintable() and c != "\\" else c.encode("unicode_escape").decode("ascii") for c in text)
    return out[:limit]


@dataclass(frozen=True)
class AccessRow:
    """One access-log record. Escaping happens when the row is stored (off the event loop)."""

    action: str
    status: int
    accessed_at: datetime
    user: str | None = None
    dataset_id: str | None = None
    error_code: str | None = None
    bytes: int | None = None
    duration_ms: float | None = None
    client_addr: str | None = None
    user_agent: str | None = None
    ttl: int | None = None

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"Unknown access-log action {self.action!r}")

    def to_db(self) -> dict[str, Any]:
        when = self.accessed_at.astimezone(timezone.utc).replace(tzinfo=None)
        return {
            "accessed_at": when,
            "user": escape_text(self.user),
            "dataset_id": escape_text(self.dataset_id),
            "action": self.action,
            "status": int(self.status),
            "error_code": escape_text(self.error_code, 64),
            "bytes": self.bytes,
            "duration_ms": None if self.duration_ms is None else round(float(self.duration_ms), 3),
            "client_addr": escape_text(self.client_addr, 64),
            "user_agent": escape_text(self.user_agent),
            "ttl": self.ttl,
        }


def build_table(metadata: sa.MetaData) -> sa.Table:
    actions = ", ".join(f"'{a}'" for a in ACTIONS)
    return sa.Table(
        TABLE_NAME,
        metadata,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("accessed_at", sa.DateTime, nullable=False),  # UTC
        sa.Column("user", sa.String(TEXT_LIMIT)),
        sa.Column("dataset_id", sa.String(TEXT_LIMIT)),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("status", sa.SmallInteger, nullable=False),
        sa.Column("error_code", sa.String(64)),
        sa.Column("bytes", sa.BigInteger),
        sa.Column("duration_ms", sa.Float),
        sa.Column("client_addr", sa.String(64)),
        sa.Column("user_agent", sa.String(TEXT_LIMIT)),
        sa.Column("ttl", sa.Integer),
        sa.CheckConstraint(f"action IN ({actions})", name=ACTION_CHECK),
        sa.Index("ix_dataset_access_log_accessed_at", "accessed_at"),
        sa.Index("ix_dataset_access_log_dataset", "dataset_id", "accessed_at"),
    )


def view_sql(dialect: str, schema: str | None) -> str:
    """The ``dataset_access_analytics`` view: per UTC day and dataset."""
    qualify = (lambda name: f"{schema}.{name}") if schema else (lambda name: name)
    day = "date(accessed_at)" if dialect == "sqlite" else "CAST(accessed_at AS DATE)"
    return (
        f"CREATE VIEW {qualify(VIEW_NAME)} AS\n"
        f"SELECT {day} AS access_date, dataset_id,\n"
        "       COUNT(*) AS total_requests,\n"
        '       COUNT(DISTINCT "user") AS unique_users,\n'
        "       ROUND(100.0 * SUM(CASE WHEN status < 400 THEN 1 ELSE 0 END) / COUNT(*), 2)"
        " AS success_rate_percent,\n"
        "       SUM(CASE WHEN action = 'download' AND status < 400 THEN COALESCE(bytes, 0) ELSE 0 END)"
        " AS bytes_served\n"
        f"FROM {qualify(TABLE_NAME)}\n"
        "WHERE dataset_id IS NOT NULL\n"
        f"GROUP BY {day}, dataset_id"
    )


def logs_view_sql(schema: str | None) -> str:
    """``dataset_access_logs``: the log under the original document's name, with ``success``."""
    qualify = (lambda name: f"{schema}.{name}") if schema else (lambda name: name)
    return (
        f"CREATE VIEW {qualify(LOGS_VIEW_NAME)} AS\n"
        'SELECT id, accessed_at, "user", "user" AS user_id, dataset_id, action, status,\n'
        "       (status < 400) AS success, error_code, bytes, duration_ms, client_addr, user_agent, ttl\n"
        f"FROM {qualify(TABLE_NAME)}"
    )


def sqlite_file(url: str) -> Path | None:
    """The database file of a file-SQLite URL; None for other databases and in-memory SQLite."""
    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    if parsed.query.get("uri"):  # sqlite:///file:/path/log.sqlite?mode=ro&uri=true
        database = urlsplit(database).path
    return Path(database).expanduser()


def make_engine(url: str, *, busy_timeout: float = 5.0) -> Engine:
    """An engine for the log: pooled connections; SQLite in WAL mode with full fsync on commit."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(parsed, pool_pre_ping=True, pool_size=2, max_overflow=2)
    path = sqlite_file(url)
    if path is None:
        engine = sa.create_engine(parsed, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        if not parsed.query.get("uri"):
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(parsed, pool_size=1, max_overflow=4)

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):  # noqa: ANN001 - DBAPI objects
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = FULL")
        finally:
            cursor.close()

    return engine


def _file_identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _describe(exc: BaseException) -> str:
    """The first line of a database error (never the URL: SQLAlchemy does not put it there)."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return f"{type(orig).__name__}: {text[0] if text else ''}"[:300]


class AccessLog:
    """The access log of one server. ``start()`` prepares the schema and the writer thread."""

    def __init__(self, url: str, *, batch_size: int = 500, flush_interval: float = 0.05, busy_timeout: float = 5.0):
        self.engine = make_engine(url, busy_timeout=busy_timeout)
        self._file = sqlite_file(url)
        self._file_id: tuple[int, int] | None = None
        self.dialect = self.engine.dialect.name
        self.schema = POSTGRES_SCHEMA if self.dialect == "postgresql" else None
        self.metadata = sa.MetaData(schema=self.schema)
        self.table = build_table(self.metadata)
        self.batch_size = max(1, int(batch_size))
        self.flush_interval = max(0.0, float(flush_interval))
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._schema_ready = False
        self._closed = False

    @property
    def description(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    # --- lifecycle ----------------------------------------------------------------------
    def start(self) -> AccessLog:
        try:
            self.ensure_schema()
        except AccessLogUnavailable as exc:
            log.error(
                "Access log %s is unavailable at start (%s); signing will answer 503 until it recovers",
                self.description,
                exc.message,
            )
        self._thread = threading.Thread(target=self._run, name="scout-access-log", daemon=True)
        self._thread.start()
        return self

    def ensure_schema(self) -> None:
        """Create the table, its indexes and the analytics view where missing."""
        if self._schema_ready:
            return
        try:
            with self.engine.begin() as conn:
                if self.schema:
                    conn.execute(sa.schema.CreateSchema(self.schema, if_not_exists=True))
                self.metadata.create_all(conn, checkfirst=True)
                self._upgrade_action_check(conn)
                views = sa.inspect(conn).get_view_names(schema=self.schema)
                if VIEW_NAME not in views:
                    conn.exec_driver_sql(view_sql(self.dialect, self.schema))
                if LOGS_VIEW_NAME not in views:
                    conn.exec_driver_sql(logs_view_sql(self.schema))
        except (SQLAlchemyError, OSError) as exc:
            raise AccessLogUnavailable(f"Access log unavailable ({_describe(exc)})") from None
        self._schema_ready = True
        if self._file is not None:
            self._file_id = _file_identity(self._file)

    def _upgrade_action_check(self, conn: sa.Connection) -> None:
        """A log made by an earlier version allows fewer actions (no ``preview``): widen its check,
        keeping every row. PostgreSQL swaps the constraint; SQLite, which cannot alter one, copies
        the rows into a new table in the same transaction."""
        checks = sa.inspect(conn).get_check_constraints(TABLE_NAME, schema=self.schema)
        current = next((c for c in checks if c.get("name") == ACTION_CHECK), None)
        if current is None or all(f"'{action}'" in current["sqltext"] for action in ACTIONS):
            return
        log.warning(
            "Access log %s: allowing the actions %s (upgrade from an earlier version)",
            self.description,
            ", ".join(ACTIONS),
        )
        qualify = (lambda name: f"{self.schema}.{name}") if self.schema else (lambda name: name)
        for view in (VIEW_NAME, LOGS_VIEW_NAME):
            conn.exec_driver_sql(f"DROP VIEW IF EXISTS {qualify(view)}")
        if self.dialect != "sqlite":
            conn.exec_driver_sql(f"ALTER TABLE {qualify(TABLE_NAME)} DROP CONSTRAINT {ACTION_CHECK}")
            conn.execute(sa.schema.AddConstraint(next(c for c in self.table.constraints if c.name == ACTION_CHECK)))
            return
        old = f"{TABLE_NAME}_before_upgrade"
        for index in self.table.indexes:
            conn.exec_driver_sql(f"DROP INDEX IF EXISTS {index.name}")
        conn.exec_driver_sql(f"ALTER TABLE {TABLE_NAME} RENAME TO {old}")
        self.table.create(conn)
        columns = ", ".join(f'"{column.name}"' for column in self.table.columns)
        conn.exec_driver_sql(f"INSERT INTO {TABLE_NAME} ({columns}) SELECT {columns} FROM {old}")
        conn.exec_driver_sql(f"DROP TABLE {old}")

    def _check_file(self) -> None:
        """A pooled SQLite connection keeps writing to a database file deleted under it, and
        those rows would be lost: refuse while the file is gone; reopen one that was replaced."""
        if self._file is None or self._file_id is None:
            return
        now = _file_identity(self._file)
        if now is None:
            raise AccessLogUnavailable(f"Access log unavailable (database file {self._file.name} is gone)")
        if now != self._file_id:
            log.warning("Access log database file %s was replaced; reopening it", self._file)
            self.engine.dispose()
            self._schema_ready = False
            self.ensure_schema()

    def close(self, timeout: float = 30.0) -> None:
        """Write what is queued, stop the writer and release connections."""
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout)
        self.engine.dispose()

    # --- writing ------------------------------------------------------------------------
    def write(self, row: AccessRow) -> None:
        """Queue a row; it is committed with the next batch (failures go to the server log)."""
        if self._closed:
            log.warning("Access log closed; dropped a %s row", row.action)
            return
        self._queue.put((row, None))

    async def write_durable(self, row: AccessRow) -> None:
        """Queue a row and return once it is committed; AccessLogUnavailable otherwise."""
        if self._closed or self._thread is None or not self._thread.is_alive():
            raise AccessLogUnavailable("Access log is not running; request refused")
        loop = asyncio.get_running_loop()
        future: asyncio.Future = loop.create_future()
        self._queue.put((row, _Waiter(loop, future)))
        await future

    def flush(self, timeout: float = 30.0) -> bool:
        """Block until every row queued before this call has been handled (tests, shutdown)."""
        if self._thread is None or not self._thread.is_alive():
            return False
        done = threading.Event()
        self._queue.put((None, lambda _error: done.set()))
        return done.wait(timeout)

    # --- the writer thread --------------------------------------------------------------
    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is _STOP:
                break
            batch, stop = self._collect(first)
            self._commit(batch)

    def _collect(self, first: tuple) -> tuple[list[tuple], bool]:
        """``first`` plus whatever else is queued, up to batch_size; wait up to flush_interval
        for more only while nobody in the batch is waiting for durability."""
        batch = [first]
        deadline = None
        while len(batch) < self.batch_size:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                if any(notify is not None for _row, notify in batch):
                    break
                if deadline is None:
                    deadline = time.monotonic() + self.flush_interval
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    item = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
            if item is _STOP:
                return batch, True
            batch.append(item)
        return batch, False

    def _commit(self, batch: list[tuple]) -> None:
        count = sum(1 for row, _notify in batch if row is not None)
        error = None
        try:
            rows = [row.to_db() for row, _notify in batch if row is not None]
            if rows:
                self.ensure_schema()
                self._check_file()
                with self.engine.begin() as conn:
                    conn.execute(self.table.insert(), rows)
        except AccessLogUnavailable as exc:
            error = exc.message
        except Exception as exc:  # noqa: BLE001 - every failure must reach the waiters; the thread lives on
            error = f"Access log unavailable ({_describe(exc)})"
        if error:
            log.error("Access log: %d row(s) not written: %s", count, error)
        waiting: dict[asyncio.AbstractEventLoop, list[asyncio.Future]] = {}
        for _row, notify in batch:
            if isinstance(notify, _Waiter):
                waiting.setdefault(notify.loop, []).append(notify.future)
            elif notify is not None:
                notify(error)
        for loop, futures in waiting.items():  # one wake-up per loop and batch, not per row
            try:
                loop.call_soon_threadsafe(_settle, futures, error)
            except RuntimeError:  # the loop is gone; nobody is waiting any more
                pass

    # --- reading ------------------------------------------------------------------------
    def analytics(self, since: date) -> list[dict[str, Any]]:
        """Rows of the analytics view from ``since`` (a UTC day) on, newest day first."""
        view = sa.table(
            VIEW_NAME,
            sa.column("access_date", sa.Date),
            sa.column("dataset_id", sa.String),
            sa.column("total_requests", sa.Integer),
            sa.column("unique_users", sa.Integer),
            sa.column("success_rate_percent", sa.Float),
            sa.column("bytes_served", sa.BigInteger),
            schema=self.schema,
        )
        stmt = sa.select(view).where(view.c.access_date >= since).order_by(view.c.access_date.desc(), view.c.dataset_id)
        try:
            self.ensure_schema()
            with self.engine.connect() as conn:
                found = conn.execute(stmt).mappings().all()
        except AccessLogUnavailable:
            raise
        except (SQLAlchemyError, OSError) as exc:
            raise AccessLogUnavailable(f"Access log unavailable ({_describe(exc)})") from None
        return [_analytics_row(r) for r in found]


def _analytics_row(r: Any) -> dict[str, Any]:
    day = r["access_date"]
    return {
        "access_date": day.isoformat() if isinstance(day, date) else str(day),
        "dataset_id": r["dataset_id"],
        "total_requests": int(r["total_requests"]),
        "unique_users": int(r["unique_users"]),
        "success_rate_percent": float(r["success_rate_percent"]),
        "bytes_served": int(r["bytes_served"] or 0),
    }


def _settle(futures: list[asyncio.Future], error: str | None) -> None:
    for future in futures:
        if future.done():
            continue
        if error:
            future.set_exception(AccessLogUnavailable(f"{error}; request refused"))
        else:
            future.set_result(None)
