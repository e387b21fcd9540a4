"""scout_jupyter.preview on its own: first rows of the CSV (streamed, stopping early) or the
Parquet copy, typed by the manifest schema, through any store (here one that streams in tiny
chunks and is not the local backend)."""

from __future__ import annotations

import hashlib
import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scout_jupyter.errors import InvalidRequest
from scout_jupyter.preview import parse_columns, parse_limit, read_preview
from scout_jupyter.schema import TableSchema
from scout_jupyter.storage.base import Storage
from tests.fixtures.store import store_factory


class TinyChunks(Storage):
    """A store that is not LocalStorage and streams 7 bytes at a time (a slow network)."""

    def __init__(self, inner):
        super().__init__("tiny://")
        self.inner = inner
        self.chunks_read = 0

    def iter_bytes(self, key, *, start=0, end=None, chunk_size=7):
        for chunk in self.inner.iter_bytes(key, start=start, end=end, chunk_size=7):
            self.chunks_read += 1
            yield chunk

    def write(self, key, data, **kwargs):
        return self.inner.write(key, data, **kwargs)

    def info(self, key):
        return self.inner.info(key)

    def list(self, prefix=""):
        return self.inner.list(prefix)

    def delete(self, key):
        self.inner.delete(key)

    def sign(self, key, ttl):
        return self.inner.sign(key, ttl)


@pytest.fixture
def store(tmp_path):
    return store_factory(tmp_path / "bucket")


def test_csv_through_a_streaming_store_is_typed_by_the_schema(store):
    tiny = TinyChunks(store.storage)
    entry = store.manifest.get("gold/txn_daily")
    preview = read_preview(tiny, entry, 2, None)
    assert preview.to_json() == {
        "columns": [
            {"name": "date_key", "type": "date"},
            {"name": "store_code", "type": "string"},
            {"name": "region", "type": "string"},
            {"name": "revenue", "type": "number"},
            {"name": "transactions", "type": "integer"},
        ],
        "rows": [["2024-08-09", "0042", "NCR", 1520.5, 31], ["2024-08-09", "0107", "CALABARZON", 980.25, 22]],
        "row_count": 3,
        "truncated": True,
    }


def test_csv_reading_stops_after_the_rows_asked_for(tmp_path):
    """A CSV much larger than one read block: the preview does not read it to the end."""
    from scout_jupyter.manifest import DatasetEntry

    store = store_factory(tmp_path / "bucket")
    body = "id,label\n" + "".join(f"{i},row {i}\n" for i in range(400_000))
    data = body.encode()
    key = "scout/v1/gold/big/big_2024-08-10.csv"
    store.storage.write(key, data)
    entry = DatasetEntry(
        id="gold/big",
        latest_csv="/" + key,
        date="2024-08-10",
        row_count=400_000,
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        last_modified="2024-08-10T02:15:00Z",
        description="big",
        update_frequency="daily",
        schema={"fields": [{"name": "id", "type": "integer"}, {"name": "label", "type": "string"}]},
    )

    class Counting(TinyChunks):
        def iter_bytes(self, key, *, start=0, end=None, chunk_size=64 * 1024):
            for chunk in self.inner.iter_bytes(key, start=start, end=end, chunk_size=64 * 1024):
                self.chunks_read += 1
                yield chunk

    counting = Counting(store.storage)
    preview = read_preview(counting, entry, 5, ["label"])
    assert preview.rows == [["row 0"], ["row 1"], ["row 2"], ["row 3"], ["row 4"]] and preview.truncated
    assert counting.chunks_read == 1  # stopped after the first chunk of 64 kB


def test_parquet_copy_is_preferred_and_columns_are_chosen(store):
    table = pa.table({"store_code": ["0042"], "revenue_rank": pa.array([7], pa.int64()), "is_top_decile": [True]})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    key = "scout/v1/platinum/store_perf/store_perf_2024-08-10.parquet"
    store.storage.write(key, sink.getvalue())
    entry = store.manifest.replace_entry(
        "platinum/store_perf",
        latest_parquet="/" + key,
        parquet_sha256=hashlib.sha256(sink.getvalue()).hexdigest(),
        parquet_size_bytes=len(sink.getvalue()),
    ).get("platinum/store_perf")
    for storage in (store.storage, TinyChunks(store.storage)):  # in place, and fetched
        preview = read_preview(storage, entry, 10, ["revenue_rank"])
        assert preview.to_json()["columns"] == [{"name": "revenue_rank", "type": "integer"}]
        assert preview.rows == [[7]]


def test_parameters():
    schema = TableSchema.from_json({"fields": [{"name": "a", "type": "string"}, {"name": "b", "type": "date"}]})
    assert parse_limit(None) == 50 and parse_limit("1000") == 1000
    assert parse_columns("b, a", schema) == ["a", "b"] and parse_columns(None, schema) is None
    for bad in ("0", "1001", "-1", "1e3", " 5"):
        with pytest.raises(InvalidRequest, match="Invalid limit"):
            parse_limit(bad)
    with pytest.raises(InvalidRequest, match=r"Unknown column\(s\) c: the dataset has a, b"):
        parse_columns("a,c", schema)


def test_quoted_newlines_do_not_cut_rows_short(tmp_path):
    from scout_jupyter.manifest import DatasetEntry

    store = store_factory(tmp_path / "bucket")
    data = b'id,note\n1,"first\nsecond\nthird"\n2,plain\n3,"x\ny"\n4,last\n'
    key = "scout/v1/gold/notes/notes_2024-08-10.csv"
    store.storage.write(key, data)
    entry = DatasetEntry(
        id="gold/notes",
        latest_csv="/" + key,
        date="2024-08-10",
        row_count=4,
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        last_modified="2024-08-10T02:15:00Z",
        description="notes",
        update_frequency="daily",
        schema={"fields": [{"name": "id", "type": "integer"}, {"name": "note", "type": "string"}]},
    )
    preview = read_preview(TinyChunks(store.storage), entry, 3, None)
    assert preview.rows == [[1, "first\nsecond\nthird"], [2, "plain"], [3, "x\ny"]] and preview.truncated
