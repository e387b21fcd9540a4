"""One dataset's export through SQLAlchemy (``reader="sqlalchemy"``): a result that fits in one
chunk skips the spool, anything longer uses it, and both give the same bytes. The ADBC path is
tested in test_publish_arrow.py."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from scout_jupyter.csvio import read_csv
from scout_jupyter.errors import SchemaError
from scout_jupyter.publish.config import DatasetDefinition
from scout_jupyter.publish.export import describe_error, export_dataset, query_chunks

from .test_publish_support import build_small_warehouse

QUERY = (
    "SELECT day AS date_key, store, SUM(amount) AS revenue, COUNT(*) AS lines FROM sales GROUP BY day, store "
    "ORDER BY day, store"
)  # 63 rows


@pytest.fixture
def engine(tmp_path):
    engine = sa.create_engine(f"sqlite:///{build_small_warehouse(tmp_path)}")
    yield engine
    engine.dispose()


def definition(**kw) -> DatasetDefinition:
    kw.setdefault("query", None if "callable" in kw else QUERY)
    return DatasetDefinition(id="gold/sales", description="", update_frequency="daily", **kw)


def short_then_more(connection):
    """A callable whose first chunk is short and is still followed by another."""
    frame = pd.read_sql(QUERY, connection)
    yield frame.iloc[:5]
    yield frame.iloc[5:]


def test_a_result_of_one_chunk_is_written_without_a_spool(engine, tmp_path):
    one = export_dataset(engine, definition(), tmp_path / "one", chunk_size=1_000, reader="sqlalchemy")
    many = export_dataset(engine, definition(), tmp_path / "many", chunk_size=10, reader="sqlalchemy")
    assert not one.spooled and not one.spool_path.exists()
    assert many.spooled and many.spool_path.exists()
    assert one.row_count == many.row_count == 63
    assert one.csv_path.read_bytes() == many.csv_path.read_bytes()
    assert (one.sha256, one.schema) == (many.sha256, many.schema)
    with pytest.raises(SchemaError, match="without a spool"):
        one.chunks()


def test_a_full_first_chunk_goes_to_the_spool(engine, tmp_path):
    exported = export_dataset(engine, definition(), tmp_path, chunk_size=63, reader="sqlalchemy")  # one full chunk
    assert exported.spooled and sum(len(c) for c in exported.chunks()) == 63


def test_a_short_chunk_followed_by_more_is_spooled_with_it(engine, tmp_path):
    mixed = export_dataset(
        engine, definition(callable="tests.test_publish_export:short_then_more"), tmp_path / "mixed", chunk_size=1_000
    )
    plain = export_dataset(engine, definition(), tmp_path / "plain", chunk_size=1_000, reader="sqlalchemy")
    assert mixed.spooled and [len(c) for c in mixed.chunks()] == [5, 58]
    assert mixed.csv_path.read_bytes() == plain.csv_path.read_bytes()
    frame = read_csv(mixed.csv_path, mixed.schema)
    assert len(frame) == 63 and list(frame.columns) == ["date_key", "store", "revenue", "lines"]


def test_a_materialized_dataset_keeps_its_spool_for_the_staging_table(engine, tmp_path):
    exported = export_dataset(engine, definition(materialize="sales_by_day"), tmp_path, chunk_size=1_000)
    assert exported.spooled
    assert [len(c) for c in exported.chunks()] == [63]


def test_sqlite_results_are_read_without_sqlalchemy_rows_and_give_the_same_frames(engine, monkeypatch):
    query = QUERY.replace("SELECT ", "SELECT '10:30' AS opens, NULL AS empty_text, ")  # a colon that is no parameter
    with engine.connect() as conn:
        expected = list(pd.read_sql(sa.text(query), conn, chunksize=10))
        monkeypatch.setattr(sa.engine.Result, "fetchmany", None)  # the fast path must not need it
        got = list(query_chunks(conn, query, 10))
    assert [len(f) for f in got] == [10] * 6 + [3]
    for a, b in zip(got, expected, strict=True):
        assert list(a.dtypes) == list(b.dtypes)
        pd.testing.assert_frame_equal(a, b)


def test_a_query_with_a_bind_parameter_still_goes_through_sqlalchemy(engine):
    with engine.connect() as conn, pytest.raises(pd.errors.DatabaseError, match="bind parameter .store."):
        list(query_chunks(conn, "SELECT * FROM sales WHERE store = :store", 10))


def test_sqlite_errors_read_as_database_errors(engine, tmp_path):
    with pytest.raises(Exception) as caught:
        export_dataset(engine, definition(query="SELECT * FROM nowhere"), tmp_path, chunk_size=10)
    assert describe_error(caught.value) == "database error: no such table: nowhere"
    assert not (tmp_path / "gold__sales").exists()
