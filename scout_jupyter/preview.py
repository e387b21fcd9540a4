"""The first rows of a dataset, read where the data is (the server's preview route).

The Parquet copy is read when there is one (in place from a local store, else fetched whole;
only the first batch of the asked columns is decoded); otherwise the CSV is streamed and parsing
stops after ``limit`` rows.
Values come out as JSON-ready Python (dates and datetimes as ISO text, NaN as null) typed by
the manifest's Table Schema, so a preview shows what ``scout.load`` would return.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from .arrowconv import convert_column
from .errors import InvalidRequest
from .manifest import DatasetEntry
from .schema import TableSchema
from .storage.base import Storage
from .storage.local import LocalStorage

MAX_PREVIEW_ROWS = 1000
DEFAULT_PREVIEW_ROWS = 50
LIMIT_RE = re.compile(r"[0-9]{1,7}")


@dataclass(frozen=True)
class Preview:
    """``{"columns": [{name, type}], "rows": [[…]], "row_count", "truncated"}`` of the route."""

    columns: tuple[tuple[str, str], ...]
    rows: list[list[Any]]
    row_count: int
    truncated: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "columns": [{"name": n, "type": t} for n, t in self.columns],
            "rows": self.rows,
            "row_count": self.row_count,
            "truncated": self.truncated,
        }


def parse_limit(text: str | None) -> int:
    """Rows asked for: a whole number in ``1..1000`` (default 50)."""
    if text in (None, ""):
        return DEFAULT_PREVIEW_ROWS
    if not LIMIT_RE.fullmatch(text) or not 1 <= int(text) <= MAX_PREVIEW_ROWS:
        shown = text[:24] if text[:24].isprintable() else repr(text[:24])
        raise InvalidRequest(f"Invalid limit {shown}: expected a whole number of rows from 1 to {MAX_PREVIEW_ROWS}")
    return int(text)


def parse_columns(text: str | None, schema: TableSchema) -> list[str] | None:
    """``a,b`` → the named columns in the dataset's order; None (every column) when absent."""
    if text in (None, ""):
        return None
    wanted = [c.strip() for c in text.split(",") if c.strip()]
    known = [f.name for f in schema.fields]
    unknown = [c for c in wanted if c not in known]
    if unknown or not wanted:
        shown = ", ".join(u[:64] for u in unknown[:5]) or "(none)"
        raise InvalidRequest(f"Unknown column(s) {shown}: the dataset has {', '.join(known)}")
    return [name for name in known if name in wanted]


def read_preview(storage: Storage, entry: DatasetEntry, limit: int, columns: list[str] | None) -> Preview:
    """The first ``limit`` rows of ``entry`` (``columns`` only, when given)."""
    schema = TableSchema.from_json(entry.schema) if entry.schema else None
    if entry.parquet_key:
        table = _parquet_head(storage, entry.parquet_key, limit, columns)
    else:
        table = _csv_head(storage, entry.csv_key, limit, columns)
    types = {f.name: f.type for f in schema.fields} if schema else {}
    names = table.column_names
    arrays = [convert_column(table.column(n), types[n], n) if n in types else table.column(n) for n in names]
    columns_out = tuple((n, types.get(n, "string")) for n in names)
    rows = (
        [[_json_value(v) for v in row] for row in zip(*(a.to_pylist() for a in arrays), strict=True)] if names else []
    )
    return Preview(columns=columns_out, rows=rows, row_count=entry.row_count, truncated=entry.row_count > len(rows))


def _parquet_head(storage: Storage, key: str, limit: int, columns: list[str] | None) -> pa.Table:
    source: Path | io.BytesIO
    if isinstance(storage, LocalStorage):
        storage.info(key)  # ObjectNotFound when missing
        source = storage.path_for(key)  # read in place: only the first row group's pages
    else:
        source = io.BytesIO(storage.read_bytes(key))
    parquet = pq.ParquetFile(source)
    batches = parquet.iter_batches(batch_size=limit, columns=columns)
    first = next(batches, None)
    if first is None:
        return parquet.schema_arrow.empty_table().select(columns or parquet.schema_arrow.names)
    return pa.Table.from_batches([first])


def _csv_head(storage: Storage, key: str, limit: int, columns: list[str] | None) -> pa.Table:
    """Stream the CSV until ``limit`` rows are in hand, parse only that prefix (as text columns),
    and stop reading. A quoted field may hold newlines, so a prefix that parses to fewer rows is
    extended (doubling what it waits for) until it has enough or the file ends."""
    chunks = storage.iter_bytes(key)
    buffer, newlines, done, wanted = bytearray(), 0, False, limit + 1  # the header and the rows
    try:
        while True:
            while newlines < wanted and not done:
                chunk = next(chunks, b"")
                done = not chunk
                buffer += chunk
                newlines += chunk.count(b"\n")
            end = len(buffer) if done else buffer.rfind(b"\n") + 1
            table = _parse_csv(bytes(buffer[:end]), columns)
            if table.num_rows >= limit or done:
                return table.slice(0, limit)
            wanted *= 2
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()  # release the store's stream


def _parse_csv(data: bytes, columns: list[str] | None) -> pa.Table:
    if not data.strip():
        return pa.table({})
    return pacsv.read_csv(
        io.BytesIO(data),
        read_options=pacsv.ReadOptions(use_threads=False),
        convert_options=pacsv.ConvertOptions(
            include_columns=columns, strings_can_be_null=True, column_types=_all_text(data.split(b"\n", 1)[0])
        ),
    )


def _all_text(header: bytes) -> dict[str, pa.DataType]:
    """Every column of the header (parsed by pyarrow, so quoting is honoured) as text."""
    names = pacsv.read_csv(io.BytesIO(header + b"\n")).column_names
    return {name: pa.string() for name in names}


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value.isoformat() + "Z"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "replace")
    return value
