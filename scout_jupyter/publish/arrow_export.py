"""The Arrow-native export: ADBC chunks → schema inference → CSV + Parquet + sha256, pipelined.

A reader thread pulls record batches from the driver (its C code runs without the GIL) and
normalizes them (:mod:`.arrow_source`) while this thread infers each chunk's types and writes
the previous chunk; the Parquet row group is encoded on the writer's own thread while the CSV is
rendered, and the CSV is hashed as it is written. At most ``PREFETCH`` chunks wait between the
two, so memory is bounded by the chunk size, never by the table's.

The CSV's formatting depends on the *final* column types, known only after the last chunk. The
export writes as it reads, with the types seen so far; the types of a typed Arrow column rarely
move (a text column whose later values stop looking like numbers, a column NULL in its first
chunk), and when one does, writing stops, inference runs to the end, and the query is read a
second time in the same transaction (the same rows) with the final schema. So the bytes are
those of the two-pass export of :mod:`.export`, whichever way they were made.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa

from ..csvio import CsvParquetWriter, WriteResult
from ..schema import Field, TableSchema, join_types
from .arrow_source import AdbcSource, chunk_types, open_result
from .progress import ProgressEvent

log = logging.getLogger(__name__)

PREFETCH = 2
_DONE = object()


class _Prefetch:
    """Iterates ``chunks`` on a thread of its own, up to ``depth`` chunks ahead; re-raises the
    reader's exception in the consumer. Closing it stops the reader at its next chunk."""

    def __init__(self, chunks: Iterator[pa.Table], depth: int = PREFETCH):
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(chunks,), name="scout-adbc-read", daemon=True)
        self._thread.start()

    def _run(self, chunks: Iterator[pa.Table]) -> None:
        try:
            for chunk in chunks:
                if self._stop.is_set():
                    break
                self._put(chunk)
            self._put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            self._put(exc)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    def _put(self, item) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def __iter__(self) -> Iterator[pa.Table]:
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def __enter__(self) -> _Prefetch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _schema(names: list[str], types: list[str | None]) -> TableSchema:
    return TableSchema(tuple(Field(n, t or "string") for n, t in zip(names, types, strict=True)))


def export_arrow(
    source: AdbcSource,
    query: str,
    csv_path: Path,
    parquet_path: Path,
    *,
    chunk_size: int,
    guard_csv_formulas: bool,
    progress: Callable[[int], None],
) -> tuple[TableSchema, WriteResult]:
    """Read ``query`` through ADBC and write its files; raises ``NotEquivalent`` (files left for
    the caller to remove) when the SQLAlchemy path must publish it instead."""

    def open_writer(schema: TableSchema) -> CsvParquetWriter:
        return CsvParquetWriter(csv_path, schema, parquet_target=parquet_path, guard_csv_formulas=guard_csv_formulas)

    with open_result(source, query, chunk_size) as result:
        names: list[str] = []
        types: list[str | None] = []
        writer: CsvParquetWriter | None = None
        stale = False
        try:
            with _Prefetch(result.chunks()) as chunks:
                for chunk in chunks:
                    if writer is None and not stale:
                        names, types = chunk.column_names, [None] * chunk.num_columns
                    parsed: dict[int, pa.Array] = {}
                    types = [join_types(a, b) for a, b in zip(types, chunk_types(chunk, types, parsed), strict=True)]
                    if stale:
                        continue
                    schema = _schema(names, types)
                    if writer is None:
                        writer = open_writer(schema)
                    elif schema != writer.schema:
                        log.info("%s: a column's type changed after its first chunk; writing again", csv_path.name)
                        writer.abort()
                        stale = True
                        continue
                    writer.write(_with_parsed(chunk, schema, parsed))
                    progress(writer.size_bytes)
            final = _schema(names, types)
            if stale:
                writer = open_writer(final)
                with _Prefetch(result.chunks()) as chunks:
                    for chunk in chunks:
                        writer.write(chunk)
                        progress(writer.size_bytes)
            assert writer is not None  # _rechunk yields at least one (possibly empty) chunk
            return final, writer.close()
        except BaseException:
            if writer is not None:
                writer.abort()
            raise


def _with_parsed(chunk: pa.Table, schema: TableSchema, parsed: dict[int, pa.Array]) -> pa.Table:
    """The chunk with the datetimes inference already parsed in place of their text (the
    writer would parse the same text the same way), for the columns written as datetimes."""
    for position, values in parsed.items():
        if schema.fields[position].type == "datetime":
            chunk = chunk.set_column(position, chunk.field(position).with_type(values.type), values)
    return chunk


def progress_emitter(dataset_id: str, emit) -> Callable[[int], None]:
    return lambda done: emit(ProgressEvent(dataset_id, "export", "progress", bytes_done=done))
