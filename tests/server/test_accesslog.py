"""The access log on its own: schema, escaping, batching, durability, failure, analytics view."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from scout_jupyter.errors import AccessLogUnavailable
from scout_jupyter.server.accesslog import ACTION_CHECK, AccessLog, AccessRow, build_table, escape_text, view_sql

T0 = datetime(2024, 8, 10, 2, 15, tzinfo=timezone.utc)


def row(**changes) -> AccessRow:
    values = dict(
        action="sign",
        status=200,
        accessed_at=T0,
        user="alice",
        dataset_id="gold/txn_daily",
        ttl=60,
        client_addr="127.0.0.1",
        user_agent="pytest",
        duration_ms=1.25,
    )
    values.update(changes)
    return AccessRow(**values)


def all_rows(log: AccessLog) -> list[dict]:
    assert log.flush()
    with log.engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(log.table).order_by(log.table.c.id)).mappings()]


@pytest.fixture
def sqlite_log(tmp_path):
    log = AccessLog(f"sqlite:///{tmp_path / 'sub' / 'log.sqlite'}", flush_interval=0.01).start()
    yield log
    log.close()


def test_escape_text_removes_control_and_invisible_characters():
    assert escape_text("a\r\nb") == "a\\r\\nb"
    assert escape_text("gold/x\u200f") == "gold/x\\u200f"
    assert escape_text("x\x00y\\z") == "x\\x00y\\\\z"
    assert escape_text("café") == "café"  # printable text is kept as is
    assert len(escape_text("é" * 10_000)) == 256
    assert escape_text(None) is None


def test_unknown_action_is_refused():
    with pytest.raises(ValueError):
        row(action="delete")


def test_sqlite_default_is_wal_and_creates_its_folder(sqlite_log, tmp_path):
    assert (tmp_path / "sub" / "log.sqlite").exists()
    with sqlite_log.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    names = sa.inspect(sqlite_log.engine)
    assert "dataset_access_log" in names.get_table_names()
    assert "dataset_access_analytics" in names.get_view_names()


def test_rows_are_written_escaped_and_complete(sqlite_log):
    sqlite_log.write(row(user_agent="evil\r\nSet-Cookie: x", dataset_id="gold/x\r\ny" + "z" * 10_000))
    [stored] = all_rows(sqlite_log)
    assert stored["user_agent"] == "evil\\r\\nSet-Cookie: x"
    assert "\r" not in stored["dataset_id"] and "\n" not in stored["dataset_id"]
    assert len(stored["dataset_id"]) == 256
    assert stored["accessed_at"] == T0.replace(tzinfo=None)
    assert (stored["user"], stored["action"], stored["status"], stored["ttl"]) == ("alice", "sign", 200, 60)
    assert set(stored) == {
        "id",
        "accessed_at",
        "user",
        "dataset_id",
        "action",
        "status",
        "error_code",
        "bytes",
        "duration_ms",
        "client_addr",
        "user_agent",
        "ttl",
    }


def test_write_durable_resolves_after_commit(sqlite_log):
    async def main():
        await asyncio.gather(*(sqlite_log.write_durable(row(user=f"u{i}")) for i in range(50)))
        # committed: visible to a fresh connection without any flush
        with sqlite_log.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(sqlite_log.table)).scalar()

    assert asyncio.run(main()) == 50


def test_batches_hold_many_rows(tmp_path, monkeypatch):
    log = AccessLog(f"sqlite:///{tmp_path / 'log.sqlite'}", batch_size=100, flush_interval=0.5).start()
    commits: list[int] = []
    original = log._commit
    monkeypatch.setattr(log, "_commit", lambda batch: (commits.append(len(batch)), original(batch)))
    for i in range(250):
        log.write(row(user=f"u{i}"))
    assert log.flush()
    log.close()
    assert sum(commits) == 251  # the rows and the flush barrier
    assert max(commits) == 100 and len(commits) <= 5


def test_durable_write_fails_closed_when_the_database_is_gone(tmp_path):
    folder = tmp_path / "db"
    log = AccessLog(f"sqlite:///{folder / 'log.sqlite'}").start()
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()

    async def main():
        await log.write_durable(row())

    with pytest.raises(AccessLogUnavailable):
        asyncio.run(main())
    log.close()


def test_read_only_database_refuses_durable_writes(tmp_path):
    path = tmp_path / "log.sqlite"
    AccessLog(f"sqlite:///{path}").start().close()
    log = AccessLog(f"sqlite:///file:{path}?mode=ro&uri=true").start()

    async def main():
        await log.write_durable(row())

    with pytest.raises(AccessLogUnavailable, match="readonly|read-only"):
        asyncio.run(main())
    log.close()


def test_write_durable_after_close_is_refused(tmp_path):
    log = AccessLog(f"sqlite:///{tmp_path / 'log.sqlite'}").start()
    log.close()
    with pytest.raises(AccessLogUnavailable):
        asyncio.run(log.write_durable(row()))


def _analytics_fixture(log: AccessLog) -> None:
    day1, day2 = T0, T0 + timedelta(days=1)
    rows = [
        row(accessed_at=day1, user="a"),
        row(accessed_at=day1, user="b"),
        row(accessed_at=day1, user="a", status=429, action="deny", error_code="rate_limited"),
        row(accessed_at=day1, user=None, action="download", bytes=100, ttl=None),
        row(accessed_at=day1, user=None, action="download", bytes=50, status=206, ttl=None),
        row(accessed_at=day1, user=None, action="deny", status=403, bytes=None, ttl=None),
        row(accessed_at=day2, user="c", dataset_id="platinum/store_perf"),
        row(accessed_at=day2, action="list", dataset_id=None),
    ]
    for r in rows:
        log.write(r)
    assert log.flush()


def _check_analytics(log: AccessLog) -> None:
    found = log.analytics(date(2024, 8, 10))
    assert found == [
        {
            "access_date": "2024-08-11",
            "dataset_id": "platinum/store_perf",
            "total_requests": 1,
            "unique_users": 1,
            "success_rate_percent": 100.0,
            "bytes_served": 0,
        },
        {
            "access_date": "2024-08-10",
            "dataset_id": "gold/txn_daily",
            "total_requests": 6,
            "unique_users": 2,
            "success_rate_percent": 66.67,
            "bytes_served": 150,
        },
    ]
    assert [r["access_date"] for r in log.analytics(date(2024, 8, 11))] == ["2024-08-11"]


def test_analytics_view_on_sqlite(sqlite_log):
    _analytics_fixture(sqlite_log)
    _check_analytics(sqlite_log)


@pytest.mark.postgres
def test_postgres_schema_view_and_durable_writes(postgres_url):
    log = AccessLog(postgres_url).start()
    try:
        assert log.schema == "scout"
        inspector = sa.inspect(log.engine)
        assert "dataset_access_log" in inspector.get_table_names(schema="scout")
        assert "dataset_access_analytics" in inspector.get_view_names(schema="scout")
        _analytics_fixture(log)
        _check_analytics(log)
        # the seed's own query runs unchanged
        with log.engine.connect() as conn:
            total = conn.exec_driver_sql(
                "SELECT dataset_id, SUM(total_requests) FROM scout.dataset_access_analytics "
                "GROUP BY dataset_id ORDER BY dataset_id"
            ).all()
        assert total == [("gold/txn_daily", 6), ("platinum/store_perf", 1)]
        asyncio.run(log.write_durable(row(user="durable")))
        assert [r["user"] for r in all_rows(log)][-1] == "durable"
    finally:
        log.close()
    # starting again on an existing schema is fine
    AccessLog(postgres_url).start().close()


def test_a_row_that_cannot_be_stored_fails_its_batch_not_the_writer(sqlite_log):
    bad = row(bytes=2**70)  # beyond BIGINT: the database refuses the batch

    async def main():
        with pytest.raises(AccessLogUnavailable):
            await sqlite_log.write_durable(bad)
        await sqlite_log.write_durable(row(user="after"))  # the writer thread is still there

    asyncio.run(main())
    assert [r["user"] for r in all_rows(sqlite_log)] == ["after"]


# --- the original document's SQL, and upgrading a log made by an earlier version ---------------
#: verbatim from the original document's troubleshooting section (run there with psql)
ORIGINAL_TROUBLESHOOTING = """SELECT dataset_id, COUNT(*), AVG(CASE WHEN success THEN 1 ELSE 0 END)
FROM scout.dataset_access_logs
WHERE accessed_at > NOW() - INTERVAL '1 hour'
GROUP BY dataset_id;"""
ORIGINAL_VIEW_QUERIES = [
    """SELECT * FROM scout.dataset_access_analytics
ORDER BY access_date DESC;""",
    """SELECT
  dataset_id,
  SUM(total_requests) as total_requests,
  AVG(success_rate_percent) as avg_success_rate
FROM scout.dataset_access_analytics
WHERE access_date >= CURRENT_DATE - INTERVAL '7 days'
GROUP BY dataset_id
ORDER BY total_requests DESC;""",
]
#: SQLite has neither NOW() nor INTERVAL: the same question in its date functions
SQLITE_TROUBLESHOOTING = ORIGINAL_TROUBLESHOOTING.replace("NOW() - INTERVAL '1 hour'", "datetime('now', '-1 hour')")


def _recent_rows(log: AccessLog) -> None:
    now = datetime.now(timezone.utc)
    for status in (200, 200, 200, 429):
        log.write(row(accessed_at=now - timedelta(minutes=5), status=status))
    log.write(row(accessed_at=now - timedelta(hours=3), status=500))  # outside the hour
    log.write(row(accessed_at=now, action="preview", dataset_id="gold/product_mix"))
    assert log.flush()


def test_original_troubleshooting_query_on_sqlite(tmp_path):
    path = tmp_path / "log.sqlite"
    log = AccessLog(f"sqlite:///{path}", flush_interval=0.01).start()
    try:
        _recent_rows(log)
        with log.engine.connect() as conn:
            conn.exec_driver_sql(f"ATTACH DATABASE '{path}' AS scout")  # the document's schema name
            result = sorted(conn.exec_driver_sql(SQLITE_TROUBLESHOOTING).all())
            columns = [c["name"] for c in sa.inspect(conn).get_columns("dataset_access_logs")]
        assert result == [("gold/product_mix", 1, 1.0), ("gold/txn_daily", 4, 0.75)]
        assert {"user_id", "success", "accessed_at", "status", "action"} <= set(columns)
    finally:
        log.close()


@pytest.mark.postgres
def test_original_sql_runs_verbatim_on_postgres(postgres_url):
    log = AccessLog(postgres_url).start()
    try:
        _recent_rows(log)
        with log.engine.connect() as conn:
            conn.exec_driver_sql("SET TIME ZONE 'UTC'")
            result = sorted(conn.exec_driver_sql(ORIGINAL_TROUBLESHOOTING).all())
            for query in ORIGINAL_VIEW_QUERIES:
                assert conn.exec_driver_sql(query).all()
        assert [(d, n, float(rate)) for d, n, rate in result] == [
            ("gold/product_mix", 1, 1.0),
            ("gold/txn_daily", 4, 0.75),
        ]
    finally:
        log.close()


OLD_ACTIONS = ("manifest", "list", "info", "sign", "download", "publish", "deny")


def _old_log(url: str, schema: str | None) -> None:
    """A log as the previous version made it: no preview action, no dataset_access_logs view."""
    engine = sa.create_engine(url)
    metadata = sa.MetaData(schema=schema)
    table = build_table(metadata)
    table.constraints = {c for c in table.constraints if getattr(c, "name", None) != ACTION_CHECK}
    table.append_constraint(
        sa.CheckConstraint("action IN ({})".format(", ".join(f"'{a}'" for a in OLD_ACTIONS)), name=ACTION_CHECK)
    )
    with engine.begin() as conn:
        if schema:
            conn.execute(sa.schema.CreateSchema(schema, if_not_exists=True))
        metadata.create_all(conn)
        conn.exec_driver_sql(view_sql(engine.dialect.name, schema))
        conn.execute(table.insert(), [row(user=f"u{i}").to_db() for i in range(25)])
        with pytest.raises(sa.exc.IntegrityError):  # the old check refuses the new action
            with conn.begin_nested():
                conn.execute(table.insert(), [row(action="preview").to_db()])
    engine.dispose()


@pytest.mark.parametrize(
    "access_log_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_upgrading_an_earlier_log_keeps_every_row(access_log_url):
    schema = "scout" if access_log_url.startswith("postgresql") else None
    _old_log(access_log_url, schema)
    log = AccessLog(access_log_url, flush_interval=0.01).start()
    try:
        before = all_rows(log)
        assert [r["user"] for r in before] == [f"u{i}" for i in range(25)]
        log.write(row(action="preview", user="after"))
        rows = all_rows(log)
        # (PostgreSQL spent an id on the refused insert)
        assert rows[:25] == before and rows[-1]["action"] == "preview" and rows[-1]["id"] > 25
        names = sa.inspect(log.engine).get_view_names(schema=schema)
        assert {"dataset_access_analytics", "dataset_access_logs"} <= set(names)
        assert sum(r["total_requests"] for r in log.analytics(date(2024, 1, 1))) == 26
    finally:
        log.close()
    AccessLog(access_log_url).start().close()  # the upgraded log opens again without change
