"""Staging-table swap: readers see the old table or the whole new one, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading

import pandas as pd
import pytest
import sqlalchemy as sa

from scout_jupyter.errors import ConfigError
from scout_jupyter.publish import load_config, publish
from scout_jupyter.publish.staging import materialize, staging_name, swap_staging
from scout_jupyter.schema import TableSchema
from scout_jupyter.storage.local import LocalStorage

from .test_publish_support import build_small_warehouse, write_small_config

SCHEMA = TableSchema.of(
    {"id": "integer", "name": "string", "price": "number", "ok": "boolean", "day": "date", "at": "datetime"}
)


def frame(n: int, start: int = 0) -> pd.DataFrame:
    ids = range(start, start + n)
    return pd.DataFrame(
        {
            "id": list(ids),
            "name": [f"item {i:05d}" for i in ids],
            "price": [i / 4 for i in ids],
            "ok": [i % 2 == 0 for i in ids],
            "day": ["2024-08-10"] * n,
            "at": [dt.datetime(2024, 8, 10, 2, 15, tzinfo=dt.timezone.utc)] * n,
        }
    )


def chunks(total: int, size: int = 500):
    for start in range(0, total, size):
        yield frame(min(size, total - start), start)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = sa.create_engine(url)
    yield engine
    engine.dispose()


def count(engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(f'SELECT COUNT(*) FROM "{table}"')).scalar_one()


def test_materialize_creates_a_typed_table_and_leaves_no_staging(engine):
    assert materialize(engine, "gold_items", SCHEMA, chunks(1200)) == 1200
    assert count(engine, "gold_items") == 1200
    inspector = sa.inspect(engine)
    assert "gold_items__staging" not in inspector.get_table_names()
    columns = {c["name"]: c["type"] for c in inspector.get_columns("gold_items")}
    assert list(columns) == SCHEMA.names
    assert isinstance(columns["id"], sa.BigInteger) and isinstance(columns["day"], sa.Date)
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT id, name, price, ok, day FROM gold_items WHERE id = 7")).one()
    assert (row.id, row.name, row.price, bool(row.ok), str(row.day)) == (7, "item 00007", 1.75, False, "2024-08-10")


def test_rematerialize_replaces_the_table(engine):
    materialize(engine, "gold_items", SCHEMA, chunks(1200))
    materialize(engine, "gold_items", SCHEMA, chunks(300))
    assert count(engine, "gold_items") == 300


def test_failed_load_leaves_the_old_table_untouched(engine):
    materialize(engine, "gold_items", SCHEMA, chunks(100))

    def broken():
        yield frame(10)
        raise RuntimeError("source died mid-load")

    with pytest.raises(RuntimeError, match="source died"):
        materialize(engine, "gold_items", SCHEMA, broken())
    assert count(engine, "gold_items") == 100


def test_swap_is_atomic_for_a_concurrent_reader(engine):
    """A reader hammering the table during many swaps always sees a whole table (old or new)."""
    sizes = [100, 700, 250, 900, 50, 600]
    materialize(engine, "gold_items", SCHEMA, chunks(sizes[0]))
    seen: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader():
        reader_engine = sa.create_engine(
            engine.url, connect_args={"timeout": 30} if engine.dialect.name == "sqlite" else {}
        )
        try:
            while not stop.is_set():
                with reader_engine.connect() as conn:
                    seen.append(conn.execute(sa.text('SELECT COUNT(*) FROM "gold_items"')).scalar_one())
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            reader_engine.dispose()

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for size in sizes[1:] * 3:
            materialize(engine, "gold_items", SCHEMA, chunks(size))
    finally:
        stop.set()
        thread.join(60)
    assert not errors, errors
    assert set(seen) <= set(sizes)  # never 0 (missing/empty) nor a partial count
    assert len(set(seen)) >= 2  # the reader really ran across swaps


def test_swap_without_staging_fails_and_keeps_the_table(engine):
    materialize(engine, "gold_items", SCHEMA, chunks(10))
    with pytest.raises(sa.exc.DatabaseError):
        swap_staging(engine, "gold_items")
    assert count(engine, "gold_items") == 10


def test_bad_table_names_are_refused():
    with pytest.raises(ConfigError):
        staging_name('x"; DROP TABLE y; --')
    assert staging_name("gold_txn_daily") == "gold_txn_daily__staging"


def test_publish_materializes_into_the_source(tmp_path, fake_clock):
    build_small_warehouse(tmp_path)
    path = write_small_config(tmp_path)
    path.write_text(
        path.read_text().replace(
            'update_frequency = "weekly"\n', 'update_frequency = "weekly"\nmaterialize = "gold_notes"\n'
        )
    )
    config = load_config(path)
    storage = LocalStorage((tmp_path / "bucket").as_uri(), signing_key=b"k" * 64)
    events = []
    assert publish(config, storage, clock=fake_clock, on_progress=events.append).ok
    engine = sa.create_engine(config.source_url)
    try:
        assert count(engine, "gold_notes") == 4
    finally:
        engine.dispose()
    assert ("gold/notes", "materialize", "done") in [(e.dataset, e.step, e.state) for e in events]


@pytest.mark.parametrize("bad", ["t\n", "t;drop", "1t", "", "t" * 52, "schema.t"])
def test_table_names_must_match_whole(bad):
    from scout_jupyter.errors import ConfigError
    from scout_jupyter.publish.staging import check_table_name

    with pytest.raises(ConfigError, match="Bad table name"):
        check_table_name(bad)
