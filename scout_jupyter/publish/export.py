"""Export one dataset: stream its query in chunks, infer the schema, write CSV + Parquet.

A plain query on a SQLite file or PostgreSQL goes through ADBC and Arrow in one pipelined
pass (:mod:`.arrow_export`, with the same bytes); everything else, and anything ADBC would read
differently, takes the SQLAlchemy path below.

Memory stays bounded by the chunk size, whatever the dataset's size. The CSV's formatting
depends on the final column types (a nullable integer column arrives from the driver as
float64, and must still be written ``5``, not ``5.0``), and the types are final only after the
last chunk. So the export makes two passes over a *spool* instead of over the database:

1. stream the query (SQLAlchemy ``stream_results`` + pandas ``read_sql(chunksize=...)``), feed
   each chunk to :class:`~scout_jupyter.schema.SchemaInferrer` and append it, pickled as is, to
   a spool file in the work folder (the query runs once, so both passes see the same rows);
2. replay the spool through :class:`~scout_jupyter.csvio.CsvParquetWriter` with the final
   schema: CSV and Parquet are written and the CSV hashed as they go.

The spool is a private temp file written and read by this process only. At most one chunk (plus
the writer's buffers) is in memory at a time.

A first chunk short of ``chunk_size`` rows is normally the only one (a driver's ``fetchmany``
comes back short only at the end; a callable's small DataFrame is one chunk): its types are
final once it is read, so it is kept in memory and written without the spool's pickling round
trip. Should a second chunk come after all, both go to the spool as usual. A dataset that is
materialized always keeps its spool: the staging table is loaded from it after the files are
written.
"""

from __future__ import annotations

import logging
import pickle
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..csvio import CsvParquetWriter, WriteResult
from ..errors import SchemaError
from ..schema import SchemaInferrer, TableSchema
from .arrow_export import export_arrow, progress_emitter
from .arrow_source import NotEquivalent, adbc_source, plain_query
from .config import DatasetDefinition
from .progress import ProgressEvent

log = logging.getLogger(__name__)

Emit = Callable[[ProgressEvent], None]


@dataclass(frozen=True)
class ExportedDataset:
    """The files of one exported dataset in the work folder, and what they hold."""

    dataset_id: str
    schema: TableSchema
    folder: Path
    csv_path: Path
    parquet_path: Path
    spool_path: Path  # holds the rows when ``spooled`` (always for a materialized dataset)
    files: WriteResult
    spooled: bool = True

    @property
    def row_count(self) -> int:
        return self.files.row_count

    @property
    def sha256(self) -> str:
        return self.files.sha256

    def chunks(self) -> Iterator[pd.DataFrame]:
        """Replay the exported rows chunk by chunk (for materialization)."""
        if not self.spooled:
            raise SchemaError(f"{self.dataset_id} was exported without a spool: its rows cannot be replayed")
        return replay_spool(self.spool_path)

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def source_chunks(conn: Connection, definition: DatasetDefinition, chunk_size: int) -> Iterator[pd.DataFrame]:
    """The dataset's rows as DataFrame chunks, streamed from the source database."""
    if definition.query is not None:
        yield from query_chunks(conn, definition.query, chunk_size)
        return
    produced = definition.load_callable()(conn)
    if isinstance(produced, pd.DataFrame):
        yield produced
        return
    if produced is None or isinstance(produced, (str, bytes)) or not hasattr(produced, "__iter__"):
        raise SchemaError(
            f"{definition.callable} returned {type(produced).__name__}, "
            "expected a DataFrame or an iterator of DataFrames"
        )
    for chunk in produced:
        if not isinstance(chunk, pd.DataFrame):
            raise SchemaError(f"{definition.callable} yielded {type(chunk).__name__}, expected DataFrames")
        yield chunk


def query_chunks(conn: Connection, query: str, chunk_size: int) -> Iterator[pd.DataFrame]:
    """A query's rows in DataFrames of ``chunk_size`` rows (the last one shorter).

    On SQLite the statement SQLAlchemy compiles goes to pandas with the sqlite3 connection
    itself: pandas builds the same frames from the driver's plain tuples, without a SQLAlchemy
    Row per row (3% of the demo export's CPU). A query with bind parameters, and any other
    database, goes through SQLAlchemy (``stream_results``: a server-side cursor)."""
    statement = sa.text(query)
    driver = conn.connection.driver_connection
    if isinstance(driver, sqlite3.Connection):
        compiled = statement.compile(dialect=conn.dialect)
        if not compiled.params:
            yield from pd.read_sql(str(compiled), driver, chunksize=chunk_size)
            return
    streaming = conn.execution_options(stream_results=True, max_row_buffer=chunk_size)
    yield from pd.read_sql(statement, streaming, chunksize=chunk_size)


def replay_spool(path: Path) -> Iterator[pd.DataFrame]:
    with open(path, "rb") as fh:
        while True:
            try:
                yield pickle.load(fh)
            except EOFError:
                return


class _Spool:
    """Pass 1's output: the chunks pickled to a file, or the only chunk kept in memory."""

    def __init__(self, path: Path, chunk_size: int, *, keep_file: bool):
        self.path, self.chunk_size, self.keep_file = path, chunk_size, keep_file
        self.held: pd.DataFrame | None = None
        self._file: BinaryIO | None = None
        self._chunks = 0

    @property
    def spooled(self) -> bool:
        return self._file is not None

    def add(self, chunk: pd.DataFrame) -> None:
        self._chunks += 1
        if self._chunks == 1 and not self.keep_file and len(chunk) < self.chunk_size:
            self.held = chunk  # short: normally the only chunk
            return
        if self._file is None:
            self._file = open(self.path, "wb")  # noqa: SIM115 - closed by close()
        if self.held is not None:
            self._dump(self._file, self.held)
            self.held = None
        self._dump(self._file, chunk)

    @staticmethod
    def _dump(file: BinaryIO, chunk: pd.DataFrame) -> None:
        pickle.dump(chunk, file, protocol=pickle.HIGHEST_PROTOCOL)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    def replay(self) -> Iterator[pd.DataFrame]:
        """The chunks in order; a held chunk is handed over once (and no longer held)."""
        if self._file is not None:
            return replay_spool(self.path)
        chunks = [self.held] if self.held is not None else []
        self.held = None
        return iter(chunks)


def _read(engine: Engine, definition: DatasetDefinition, chunk_size: int, path: Path) -> tuple[TableSchema, _Spool]:
    """Pass 1: stream the source into the spool while inferring the schema."""
    inferrer = SchemaInferrer()
    spool = _Spool(path, chunk_size, keep_file=definition.materialize is not None)
    try:
        with engine.connect() as conn:
            for chunk in source_chunks(conn, definition, chunk_size):
                inferrer.update(chunk)
                spool.add(chunk)
    finally:
        spool.close()
    return inferrer.schema(), spool


def export_dataset(
    engine: Engine,
    definition: DatasetDefinition,
    workdir: Path,
    *,
    chunk_size: int,
    guard_csv_formulas: bool = False,
    emit: Emit | None = None,
    reader: str = "auto",
) -> ExportedDataset:
    """Run the dataset's query and write its CSV and Parquet files under ``workdir``: through
    ADBC when ``reader`` is ``"auto"`` and the source and query allow it (:mod:`.arrow_export`),
    else through SQLAlchemy with the spool described above."""
    emit = emit or (lambda event: None)
    folder = workdir / definition.id.replace("/", "__")
    if reader == "auto":
        arrow = _export_arrow(
            engine, definition, folder, chunk_size=chunk_size, guard_csv_formulas=guard_csv_formulas, emit=emit
        )
        if arrow is not None:
            return arrow
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    try:
        schema, spool = _read(engine, definition, chunk_size, folder / "chunks.spool")
        csv_path, parquet_path = folder / f"{definition.name}.csv", folder / f"{definition.name}.parquet"
        with CsvParquetWriter(
            csv_path, schema, parquet_target=parquet_path, guard_csv_formulas=guard_csv_formulas
        ) as writer:
            for chunk in spool.replay():
                writer.write(chunk)
                emit(ProgressEvent(definition.id, "export", "progress", bytes_done=writer.size_bytes))
        files = writer.close()
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    log.info("Exported %s: %d rows, %d CSV bytes", definition.id, files.row_count, files.size_bytes)
    return ExportedDataset(
        dataset_id=definition.id,
        schema=schema,
        folder=folder,
        csv_path=csv_path,
        parquet_path=parquet_path,
        spool_path=spool.path,
        files=files,
        spooled=spool.spooled,
    )


def _export_arrow(
    engine: Engine,
    definition: DatasetDefinition,
    folder: Path,
    *,
    chunk_size: int,
    guard_csv_formulas: bool,
    emit: Emit,
) -> ExportedDataset | None:
    """The Arrow-native export (:mod:`.arrow_export`) when the source and the query allow it;
    None when the dataset must go through SQLAlchemy (nothing is left in ``folder`` then)."""
    if definition.query is None or definition.materialize is not None or not plain_query(definition.query, engine):
        return None
    source = adbc_source(engine)
    if source is None:
        return None
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    csv_path, parquet_path = folder / f"{definition.name}.csv", folder / f"{definition.name}.parquet"
    try:
        schema, files = export_arrow(
            source,
            definition.query,
            csv_path,
            parquet_path,
            chunk_size=chunk_size,
            guard_csv_formulas=guard_csv_formulas,
            progress=progress_emitter(definition.id, emit),
        )
    except NotEquivalent as exc:
        log.info("%s: read through SQLAlchemy (%s)", definition.id, exc)
        shutil.rmtree(folder, ignore_errors=True)
        return None
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    log.info("Exported %s through ADBC: %d rows, %d CSV bytes", definition.id, files.row_count, files.size_bytes)
    return ExportedDataset(
        dataset_id=definition.id,
        schema=schema,
        folder=folder,
        csv_path=csv_path,
        parquet_path=parquet_path,
        spool_path=folder / "chunks.spool",
        files=files,
        spooled=False,
    )


def unwrap_error(exc: BaseException) -> BaseException:
    """pandas wraps the driver's error in its own DatabaseError: the cause says more."""
    if isinstance(exc, pd.errors.DatabaseError) and exc.__cause__ is not None:
        return exc.__cause__
    return exc


def describe_error(exc: BaseException) -> str:
    """One line saying what failed, for results, events and the CLI."""
    exc = unwrap_error(exc)
    message: Any = getattr(exc, "message", None)
    if isinstance(exc, sa.exc.DBAPIError) and exc.orig is not None:
        message = f"database error: {exc.orig}"
    elif isinstance(exc, (sa.exc.SQLAlchemyError, sqlite3.Error)):
        message = f"database error: {exc}"
    if not message:
        message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    text = str(message).strip()
    return text.splitlines()[0] if text else type(exc).__name__
