"""The cache's parsed copy of a dataset: an uncompressed Arrow IPC file, and the way back to pandas.

A warm load is mostly fixed cost, so this path avoids the slow generic steps:

- files stay memory-mapped between loads (:class:`OpenCopies`), their footer parsed and their
  record batches read once: mapping a file, faulting its pages in and unmapping it again
  cost more than the rest of a small read;
- only the record batches holding the first ``limit`` rows are read, and only the selected
  columns are sliced and converted;
- a frame written from scout's own dtypes (``"plain"`` in the file's metadata) is rebuilt column
  by column into pandas blocks, skipping pyarrow's pandas-metadata reconstruction; numeric data
  is copied (frames stay writable), strings stay zero-copy Arrow-backed, as ``to_pandas`` does.
  Any other frame goes through ``pyarrow.Table.to_pandas`` with its pandas metadata.
"""

from __future__ import annotations

import contextlib
import json
import mmap
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.ipc as ipc

from .errors import SchemaError

try:  # pandas >= 3: the documented way to assemble a frame from ready blocks (pyarrow uses it)
    # pandas-stubs has no pandas.api.internals module (new in pandas 3)
    from pandas.api.internals import create_dataframe_from_blocks  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - pandas 2: every frame goes through to_pandas
    create_dataframe_from_blocks = None

BATCH_ROWS = 65_536
META_KEY = b"scout"

_STRING, _LARGE_STRING, _INT64, _BOOL, _FLOAT64 = pa.string(), pa.large_string(), pa.int64(), pa.bool_(), pa.float64()
_TIMESTAMP_ID = pa.timestamp("us").id
#: Arrow type → pandas dtype of a plain frame's column, as ``to_pandas(types_mapper=...)`` uses it
#: (values typed Any: pandas-stubs do not declare these dtypes' ``__from_arrow__``)
_ARROW_TO_PANDAS: dict[pa.DataType, Any] = {
    _STRING: pd.StringDtype("pyarrow"),
    _LARGE_STRING: pd.StringDtype("pyarrow"),
    _INT64: pd.Int64Dtype(),
    _BOOL: pd.BooleanDtype(),
}
_COLUMN_INDEXES: dict[tuple[str, ...], pd.Index] = {}
_ROW_INDEXES: dict[int, pd.Index] = {}
_TZ_DTYPES: dict[pa.DataType, pd.DatetimeTZDtype] = {}
_MAX_MEMO = 256
_KEPT_SELECTIONS = 16  # per mapped file

Column: TypeAlias = pa.Array | pa.ChunkedArray


@dataclass(slots=True)
class Selection:
    """What one read selected: columns (all Arrays or all ChunkedArrays) and their names."""

    names: list[str]
    columns: list[Column]
    num_rows: int
    plain: bool
    schema: pa.Schema  # the file's, with its pandas metadata (for frames that are not plain)


def build_table(frame: pd.DataFrame, sha256: str, source_size: int) -> pa.Table:
    """The table to store for ``frame``, recording the source it was parsed from."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    plain = all(_plain_dtype(dtype) for dtype in frame.dtypes)
    meta[META_KEY] = json.dumps({"sha256": sha256, "size_bytes": source_size, "plain": plain}).encode()
    return table.replace_schema_metadata(meta)


def write(sink: object, table: pa.Table) -> None:
    with ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=BATCH_ROWS)


class OpenCopies:
    """The parsed copies this process read last, kept memory-mapped (at most ``keep``).

    Each use stats the path and reuses a mapping only if the path still names the very file
    mapped (same device and inode: files are renamed into place, never rewritten, and an inode
    cannot be reused while it is mapped). A removed file's mapping is dropped on its next use,
    by :meth:`forget`, or when pushed out by newer ones.
    """

    def __init__(self, keep: int = 8):
        self.keep = keep
        self._open: OrderedDict[str, _Mapped] = OrderedDict()  # least recently used first
        self._lock = threading.Lock()  # for compound changes; single dict operations are atomic

    def read(
        self, path: str, sha256: str, source_size: int | None, columns: Sequence[str] | None, limit: int | None
    ) -> Selection | None:
        """The selected rows and columns of the parsed copy at ``path``; None if it records
        another source. Raises FileNotFoundError, ArrowInvalid/OSError/ValueError for a
        damaged file, SchemaError for unknown columns."""
        try:
            mapped = self._get(path)
            if (
                mapped.source is None
                or mapped.source[0] != sha256
                or (source_size is not None and mapped.source[1] != source_size)
            ):
                return None
            names = mapped.schema.names if columns is None else list(columns)
            _check_columns(mapped.positions, names)
            selected, rows = mapped.select(names, limit)
        except SchemaError:
            raise
        except BaseException:  # gone or damaged: never reuse this mapping
            self.forget(path)
            raise
        return Selection(names, selected, rows, mapped.plain, mapped.schema)

    def forget(self, path: str | Path) -> None:
        with self._lock:
            self._open.pop(str(path), None)

    def _get(self, path: str) -> _Mapped:
        mapped = self._open.get(path)
        if mapped is not None:
            st = os.stat(path)
            if (st.st_dev, st.st_ino) == mapped.identity:
                with contextlib.suppress(KeyError):  # forgotten meanwhile: still this file's content
                    self._open.move_to_end(path)
                return mapped
        mapped = _Mapped(path)
        if self.keep > 0:
            with self._lock:
                self._open[path] = mapped
                self._open.move_to_end(path)
                while len(self._open) > self.keep:
                    self._open.popitem(last=False)
        return mapped


class _Mapped:
    """One mapped parsed copy; its record batches (zero-copy views) are read on first need
    and kept, with their column lists."""

    def __init__(self, path: str):
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        try:
            st = os.fstat(fd)
            region = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)  # empty file: ValueError
        finally:
            os.close(fd)
        self.identity = (st.st_dev, st.st_ino)
        # the buffer, and every array read from it, keeps the mapping alive
        self._reader = ipc.open_file(pa.py_buffer(region))
        self.schema = self._reader.schema
        self.positions = {name: i for i, name in enumerate(self.schema.names)}
        meta = _source_meta(self.schema)
        self.source = (meta.get("sha256"), meta.get("size_bytes")) if meta is not None else None
        self.plain = bool(meta is not None and meta.get("plain"))
        self._batches: list[pa.RecordBatch] = []
        self._rows = 0
        self._first: tuple[list[Column], int] | None = None
        self._whole: tuple[list[Column], int] | None = None
        self._selections: dict[tuple, tuple[list[Column], int]] = {}
        self._lock = threading.Lock()  # the reader is not thread-safe

    def select(self, names: list[str], limit: int | None) -> tuple[list[Column], int]:
        """``names``' columns cut to the first ``limit`` rows (zero-copy slices), and their
        length. The last few selections are kept: repeating a small read only looks them up."""
        key = (limit, *names)
        found = self._selections.get(key)
        if found is None:
            every, available = self.columns(limit)
            rows = available if limit is None else min(limit, available)
            selected = [every[self.positions[name]] for name in names]
            if rows < available:
                selected = [column.slice(0, rows) for column in selected]
            found = (selected, rows)
            if len(self._selections) >= _KEPT_SELECTIONS:
                self._selections.clear()
            self._selections[key] = found
        return found

    def columns(self, limit: int | None) -> tuple[list[Column], int]:
        """Every column (file order) over the batches holding the first ``limit`` rows (all
        batches when None), and their length. The first batch's and the whole file's column
        lists are kept: a small read only slices them."""
        batches = self._batches_for(limit)
        if len(batches) == 1 and limit is not None:
            if self._first is None:
                self._first = (batches[0].columns, batches[0].num_rows)
            return self._first
        if len(batches) == self._reader.num_record_batches:
            if self._whole is None:
                table = pa.Table.from_batches(batches, schema=self.schema)
                self._whole = (table.columns, table.num_rows)
            return self._whole
        table = pa.Table.from_batches(batches, schema=self.schema)
        return table.columns, table.num_rows

    def _batches_for(self, limit: int | None) -> list[pa.RecordBatch]:
        """The batches holding the first ``limit`` rows (every batch when None); at least one
        when the file has any."""
        if limit is None or self._rows < limit or not self._batches:
            with self._lock:
                total = self._reader.num_record_batches
                while len(self._batches) < total and (limit is None or self._rows < limit or not self._batches):
                    batch = self._reader.get_batch(len(self._batches))
                    self._batches.append(batch)
                    self._rows += batch.num_rows
        if limit is None:
            return self._batches
        taken: list[pa.RecordBatch] = []
        rows = 0
        for batch in self._batches:
            if taken and rows >= limit:
                break
            taken.append(batch)
            rows += batch.num_rows
        return taken or list(self._batches)


def to_frame(selection: Selection) -> pd.DataFrame:
    if selection.plain:
        frame = _plain_frame(selection)
        if frame is not None:
            return frame
    fields = [selection.schema.field(name) for name in selection.names]
    schema = pa.schema(fields, metadata=selection.schema.metadata if not selection.plain else None)
    if selection.columns and isinstance(selection.columns[0], pa.Array):
        table = pa.Table.from_batches([pa.RecordBatch.from_arrays(selection.columns, schema=schema)])
    else:
        table = pa.Table.from_arrays(selection.columns, schema=schema)
    if selection.plain:
        return table.to_pandas(types_mapper=_ARROW_TO_PANDAS.get)
    return table.to_pandas()


def _source_meta(schema: pa.Schema) -> dict | None:
    try:
        meta = json.loads((schema.metadata or {})[META_KEY])
    except (KeyError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def _check_columns(names: dict[str, int], columns: Sequence[str]) -> None:
    unknown = [c for c in columns if c not in names]
    if unknown:
        raise SchemaError(f"Unknown column(s): {', '.join(unknown)} (columns: {', '.join(names)})")


def _plain_dtype(dtype: object) -> bool:
    if isinstance(dtype, (pd.Int64Dtype, pd.BooleanDtype)):
        return True
    if isinstance(dtype, pd.StringDtype):
        return dtype.storage == "pyarrow" and dtype.na_value is pd.NA
    if isinstance(dtype, pd.DatetimeTZDtype):
        return str(dtype.tz) == "UTC"
    return str(dtype) in ("float64", "datetime64[ms]", "datetime64[us]", "datetime64[ns]")


# --- plain frames, column by column ----------------------------------------------------------


def _plain_frame(selection: Selection) -> pd.DataFrame | None:
    """The frame ``to_pandas(types_mapper=_ARROW_TO_PANDAS.get)`` gives, built directly; None
    when a column has a type this does not handle."""
    if create_dataframe_from_blocks is None:
        return None
    blocks = []
    for position, column in enumerate(selection.columns):
        values = _column_values(column)
        if values is None:
            return None
        blocks.append((values, np.array([position])))
    return create_dataframe_from_blocks(
        blocks, index=_row_index(selection.num_rows), columns=_column_index(selection.names)
    )


def _column_values(column: Column) -> object | None:
    """A block's values: a 1-D extension array or a writable 2-D (1, n) numpy array."""
    kind = column.type
    type_id = kind.id  # an int: cheaper to compare than DataType objects
    if type_id == _LARGE_STRING.id:  # zero-copy, as StringDtype.__from_arrow__ does it
        # pandas-stubs lag pandas 3, whose ArrowStringArray takes the dtype (storage and na_value)
        return pd.arrays.ArrowStringArray(column, dtype=_ARROW_TO_PANDAS[_LARGE_STRING])  # type: ignore[call-arg]
    if type_id == _INT64.id or type_id == _BOOL.id:
        if column.null_count:
            return _ARROW_TO_PANDAS[kind].__from_arrow__(column)
        values = _writable(column)
        mask = np.zeros(len(values), dtype=bool)
        return pd.arrays.IntegerArray(values, mask) if type_id == _INT64.id else pd.arrays.BooleanArray(values, mask)
    if type_id == _FLOAT64.id or (type_id == _TIMESTAMP_ID and kind.tz is None):
        return _writable(column).reshape(1, -1)  # nulls: NaN / NaT
    if type_id == _TIMESTAMP_ID:
        return pd.array(_writable(column).view("int64"), dtype=_tz_dtype(kind), copy=False)
    if type_id == _STRING.id:
        return _ARROW_TO_PANDAS[kind].__from_arrow__(column)
    return None


def _writable(column: Column) -> np.ndarray:
    if isinstance(column, pa.ChunkedArray):
        column = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    return column.to_numpy(zero_copy_only=False, writable=True)


def _tz_dtype(kind: pa.DataType) -> pd.DatetimeTZDtype:
    """The pandas dtype pyarrow itself gives a zoned timestamp type (same tz object)."""
    dtype = _TZ_DTYPES.get(kind)
    if dtype is None:
        dtype = _TZ_DTYPES[kind] = pa.chunked_array([], kind).to_pandas().dtype
    return dtype


def _column_index(names: list[str]) -> pd.Index:
    """``pd.Index(names)``, memoized (inferring the string dtype costs ~100 µs): each frame
    gets its own view (same values, own name), so renaming one frame's columns cannot reach
    another's."""
    return _memoized_view(_COLUMN_INDEXES, tuple(names), lambda: pd.Index(names))


def _row_index(rows: int) -> pd.Index:
    """``pd.RangeIndex(rows)``, memoized like :func:`_column_index`."""
    return _memoized_view(_ROW_INDEXES, rows, lambda: pd.RangeIndex(rows))


def _memoized_view(memo: dict, key: object, make: Callable[[], pd.Index]) -> pd.Index:
    """A fresh view of the index memoized under ``key`` (the memo is cleared when full)."""
    index = memo.get(key)
    if index is None:
        if len(memo) >= _MAX_MEMO:
            memo.clear()
        index = memo[key] = make()
    return index.view()
