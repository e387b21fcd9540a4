"""The files of a dataset: a streaming CSV (+ Parquet copy) writer, and readers that agree.

The CSV dialect is fixed, so the same data always gives the same bytes (and sha256):

* UTF-8 without BOM; a header row; ``,`` between fields; every line ends with ``\\n`` (LF);
* a field is quoted (``"…"``, inner quotes doubled) when it contains ``,`` ``"`` CR or LF,
  and an empty string is written ``""``; a NULL is an empty *unquoted* field;
* integers in full (no float detour); numbers in the shortest text that reads back to the
  same float64 (``0.1``, ``1e-300``, ``1``, ``inf``, ``-inf``; NaN is written as NULL);
  booleans ``true``/``false``; dates ``YYYY-MM-DD``; datetimes in UTC as
  ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z`` (the fraction only when it is not zero).

With ``guard_csv_formulas`` on, string cells that start with ``=``, ``+``, ``-``, ``@``, tab
or CR get a leading ``'`` (in the CSV and in the Parquet copy alike, so every load agrees);
numbers are never touched. The Parquet copy has the types of :func:`schema.arrow_schema` and
one row group per written chunk. Both readers return the frame of :func:`table_to_frame`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv
import pyarrow.parquet as pq

from .arrowconv import datetime_text, first_line, to_arrow_table
from .errors import SchemaError
from .schema import TableSchema, arrow_schema, pandas_dtypes

log = logging.getLogger(__name__)

LINE_END = "\n"
RENDER_ROWS = 65_536
_PARQUET_THREAD = ThreadPoolExecutor(max_workers=2, thread_name_prefix="scout-parquet")
_NEEDS_QUOTES = r'[,"\r\n]'


@dataclass(frozen=True)
class WriteResult:
    """What a finished write produced (the CSV's numbers are computed while writing)."""

    row_count: int
    size_bytes: int
    sha256: str
    parquet_size_bytes: int | None = None
    parquet_sha256: str | None = None


# -- typed arrow table → CSV bytes ------------------------------------------------------------


def _quote(arr: pa.Array) -> pa.Array:
    needs = pc.or_(pc.match_substring_regex(arr, _NEEDS_QUOTES), pc.equal(arr, ""))
    if not pc.any(needs).as_py():
        return arr
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(arr, '"', '""'), '"', "")
    return pc.if_else(needs, quoted, arr)


def _cell_text(arr: pa.Array, field_type: str) -> pa.Array:
    if field_type == "string":
        return _quote(arr)
    if field_type == "boolean":
        return pc.if_else(arr, "true", "false")
    if field_type == "datetime":
        return datetime_text(arr)
    return arr.cast(pa.string())


def _string_bytes(arr: pa.Array) -> memoryview:
    """The concatenated values of a string array without nulls, without copying."""
    _, offsets_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int32, count=len(arr) + 1, offset=arr.offset * 4)
    return memoryview(data_buf)[int(offsets[0]) : int(offsets[-1])]


def render_csv_rows(table: pa.Table, schema: TableSchema) -> Iterator[memoryview]:
    """CSV lines of a typed table (from :func:`to_arrow_table`), in slices of bounded size."""
    for start in range(0, table.num_rows, RENDER_ROWS):
        part = table.slice(start, RENDER_ROWS)
        cells = [_cell_text(part.column(i).combine_chunks(), f.type) for i, f in enumerate(schema.fields)]
        rows = pc.binary_join_element_wise(*cells, ",", null_handling="replace", null_replacement="")
        yield _string_bytes(pc.binary_join_element_wise(rows, LINE_END, ""))


def csv_header(schema: TableSchema) -> bytes:
    names = _quote(pa.array(schema.names, pa.string())).to_pylist()
    return (",".join(names) + LINE_END).encode("utf-8")


# -- the writer -------------------------------------------------------------------------------


class _HashingSink:
    """A write-only file that counts and hashes what passes through it."""

    def __init__(self, raw: BinaryIO, owned: bool):
        self.raw, self.owned = raw, owned
        self.size = 0
        self.hasher = hashlib.sha256()
        self.closed = False

    def write(self, data) -> int:
        view = memoryview(data)
        self.raw.write(view)
        self.hasher.update(view)
        self.size += view.nbytes
        return view.nbytes

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self.raw.flush()

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.raw.flush()
            if self.owned:
                self.raw.close()


def _open_target(target: str | os.PathLike | BinaryIO) -> _HashingSink:
    if isinstance(target, str | os.PathLike):
        return _HashingSink(open(target, "wb"), owned=True)  # closed by the sink
    return _HashingSink(target, owned=False)


class CsvParquetWriter:
    """Streams DataFrame chunks of one schema into a CSV file and, optionally, a Parquet copy.

    Targets are paths (opened and closed here) or binary file objects (left open). The CSV's
    row count, size and sha256 are computed as it is written. Use as a context manager or call
    :meth:`close`; on an exception inside ``with`` the files are closed and no result is made.
    """

    def __init__(
        self,
        csv_target: str | os.PathLike | BinaryIO,
        schema: TableSchema,
        *,
        parquet_target: str | os.PathLike | BinaryIO | None = None,
        guard_csv_formulas: bool = False,
        parquet_compression: str = "snappy",
    ):
        self.schema = schema
        self.guard_csv_formulas = guard_csv_formulas
        self.row_count = 0
        self._result: WriteResult | None = None
        self._aborted = False
        self._csv = _open_target(csv_target)
        self._parquet: _HashingSink | None = None
        self._pq_writer: pq.ParquetWriter | None = None
        try:
            self._csv.write(csv_header(schema))
            if parquet_target is not None:
                self._parquet = _open_target(parquet_target)
                # Dictionaries pay off for text and dates; for numbers they only cost time.
                dictionary = [f.name for f in schema.fields if f.type in ("string", "date")]
                self._pq_writer = pq.ParquetWriter(
                    self._parquet, arrow_schema(schema), compression=parquet_compression, use_dictionary=dictionary
                )
        except BaseException:
            self.abort()
            raise

    @property
    def size_bytes(self) -> int:
        return self._csv.size

    @property
    def sha256(self) -> str:
        return self._csv.hasher.hexdigest()

    def write(self, chunk: pd.DataFrame | pa.Table) -> int:
        """Write one chunk; returns its row count."""
        if self._result is not None or self._aborted:
            raise SchemaError("Writer is already closed")
        table = to_arrow_table(chunk, self.schema, guard_csv_formulas=self.guard_csv_formulas)
        if table.num_rows == 0:
            return 0
        # Arrow releases the GIL: the Parquet row group is encoded while the CSV is rendered.
        pending = None
        if self._pq_writer is not None:
            pending = _PARQUET_THREAD.submit(self._pq_writer.write_table, table, row_group_size=table.num_rows)
        try:
            for block in render_csv_rows(table, self.schema):
                self._csv.write(block)
        finally:
            if pending is not None:
                pending.result()
        self.row_count += table.num_rows
        return table.num_rows

    def close(self) -> WriteResult:
        if self._aborted:
            raise SchemaError("Writer was aborted: its files are incomplete")
        if self._result is None:
            if self._pq_writer is not None:
                self._pq_writer.close()
            self._csv.close()
            log.debug("wrote %d rows, %d CSV bytes", self.row_count, self._csv.size)
            pq_sink = self._parquet
            if pq_sink is not None:
                pq_sink.close()
            self._result = WriteResult(
                row_count=self.row_count,
                size_bytes=self._csv.size,
                sha256=self._csv.hasher.hexdigest(),
                parquet_size_bytes=pq_sink.size if pq_sink else None,
                parquet_sha256=pq_sink.hasher.hexdigest() if pq_sink else None,
            )
        return self._result

    def abort(self) -> None:
        """Close the files without finishing them (callers discard them)."""
        self._aborted = True
        with suppress(Exception):
            if self._pq_writer is not None:
                self._pq_writer.close()
        for sink in (self._csv, self._parquet):
            if sink is not None:
                with suppress(Exception):
                    sink.close()

    def __enter__(self) -> CsvParquetWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


@contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """A temp file beside ``path`` that replaces ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_dataset_files(
    chunks: Iterable[pd.DataFrame | pa.Table],
    schema: TableSchema,
    csv_path: str | os.PathLike,
    parquet_path: str | os.PathLike | None = None,
    *,
    guard_csv_formulas: bool = False,
) -> WriteResult:
    """Write all chunks to ``csv_path`` (and ``parquet_path``); no file appears on failure.

    Both files are written to temp files in their folders; the CSV is renamed last.
    """
    with ExitStack() as stack:
        csv_tmp = stack.enter_context(atomic_file(csv_path))
        pq_tmp = stack.enter_context(atomic_file(parquet_path)) if parquet_path is not None else None
        with CsvParquetWriter(csv_tmp, schema, parquet_target=pq_tmp, guard_csv_formulas=guard_csv_formulas) as writer:
            for chunk in chunks:
                writer.write(chunk)
        return writer.close()


# -- reading ----------------------------------------------------------------------------------


def _input(source) -> object:
    if isinstance(source, bytes | bytearray | memoryview):
        return pa.BufferReader(pa.py_buffer(source))
    if isinstance(source, str | os.PathLike):
        return os.fspath(source)
    return source


def _check_limit(limit: int | None) -> None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise SchemaError(f"limit must be a non-negative integer, got {limit!r}")


def _first_rows(batches: Iterable[pa.RecordBatch], schema: TableSchema, limit: int) -> pa.Table:
    taken, rows = [], 0
    for batch in batches:
        if rows >= limit:
            break
        taken.append(batch)
        rows += batch.num_rows
    if not taken:
        return arrow_schema(schema).empty_table()
    return pa.Table.from_batches(taken).slice(0, limit)


def _csv_options(schema: TableSchema, selected: TableSchema | None):
    convert = pv.ConvertOptions(
        column_types=arrow_schema(schema),
        include_columns=selected.names if selected is not None else None,
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
        true_values=["true"],
        false_values=["false"],
    )
    parse = pv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False)
    return pv.ReadOptions(use_threads=True), parse, convert


def read_csv(source, schema: TableSchema, *, columns=None, limit: int | None = None) -> pd.DataFrame:
    """Read a CSV written by :class:`CsvParquetWriter` (path, bytes or binary file object)."""
    selected = schema.select(columns)
    _check_limit(limit)
    read, parse, convert = _csv_options(schema, selected if columns is not None else None)
    try:
        if limit is None:
            table = pv.read_csv(_input(source), read_options=read, parse_options=parse, convert_options=convert)
        else:
            reader = pv.open_csv(_input(source), read_options=read, parse_options=parse, convert_options=convert)
            table = _first_rows(reader, selected, limit)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise SchemaError(f"CSV does not match its schema: {first_line(exc)}") from None
    if columns is None and table.column_names != schema.names:
        raise SchemaError(f"CSV header {table.column_names} does not match the schema {schema.names}")
    return table_to_frame(table, selected)


def read_parquet(source, schema: TableSchema, *, columns=None, limit: int | None = None) -> pd.DataFrame:
    """Read the Parquet copy; gives the same frame as :func:`read_csv` of the same data."""
    selected = schema.select(columns)
    _check_limit(limit)
    try:
        with pq.ParquetFile(_input(source)) as file:
            if file.schema_arrow.names != schema.names:
                raise SchemaError(f"Parquet columns {file.schema_arrow.names} do not match the schema {schema.names}")
            if limit is None:
                table = file.read(columns=selected.names, use_threads=True)
            else:
                batch_size = max(1, min(limit, RENDER_ROWS))
                table = _first_rows(file.iter_batches(batch_size, columns=selected.names), selected, limit)
    except FileNotFoundError:
        raise
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        raise SchemaError(f"Parquet file unreadable: {first_line(exc)}") from None
    return table_to_frame(table, selected)


_PANDAS_TYPES = {
    pa.string(): pd.StringDtype("pyarrow"),
    pa.int64(): pd.Int64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
}


def table_to_frame(table: pa.Table, schema: TableSchema) -> pd.DataFrame:
    """A frame of ``schema``'s columns (its order) with the dtypes of :func:`pandas_dtypes`."""
    try:
        table = table.select(schema.names).cast(arrow_schema(schema))
    except (KeyError, pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise SchemaError(f"Data does not match the schema: {first_line(exc)}") from None
    frame = table.to_pandas(types_mapper=_PANDAS_TYPES.get, date_as_object=False)
    wanted = pandas_dtypes(schema)
    wrong = {name: dtype for name, dtype in wanted.items() if frame[name].dtype != dtype}
    return frame.astype(wrong) if wrong else frame


__all__ = [
    "LINE_END",
    "CsvParquetWriter",
    "WriteResult",
    "atomic_file",
    "csv_header",
    "read_csv",
    "read_parquet",
    "render_csv_rows",
    "table_to_frame",
    "to_arrow_table",
    "write_dataset_files",
]
