"""Export one dataset: stream its query in chunks, infer the schema, write CSV + Parquet.

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
"""

from __future__ import annotations

import logging
import pickle
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..csvio import CsvParquetWriter, WriteResult
from ..errors import SchemaError
from ..schema import SchemaInferrer, TableSchema
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
    spool_path: Path
    files: WriteResult

    @property
    def row_count(self) -> int:
        return self.files.row_count

    @property
    def sha256(self) -> str:
        return self.files.sha256

    def chunks(self) -> Iterator[pd.DataFrame]:
        """Replay the exported rows chunk by chunk (for materialization)."""
        return replay_spool(self.spool_path)

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def source_chunks(conn: Connection, definition: DatasetDefinition, chunk_size: int) -> Iterator[pd.DataFrame]:
    """The dataset's rows as DataFrame chunks, streamed from the source database."""
    if definition.query is not None:
        streaming = conn.execution_options(stream_results=True, max_row_buffer=chunk_size)
        yield from pd.read_sql(sa.text(definition.query), streaming, chunksize=chunk_size)
        return
    produced = definition.load_callable()(conn)
    if isinstance(produced, pd.DataFrame):
        yield produced
        return
    if produced is None or isinstance(produced, (str, bytes)) or not hasattr(produced, "__iter__"):
        raise SchemaError(f"{definition.callable} returned {type(produced).__name__}, "
                          "expected a DataFrame or an iterator of DataFrames")
    for chunk in produced:
        if not isinstance(chunk, pd.DataFrame):
            raise SchemaError(f"{definition.callable} yielded {type(chunk).__name__}, expected DataFrames")
        yield chunk


def replay_spool(path: Path) -> Iterator[pd.DataFrame]:
    with open(path, "rb") as fh:
        while True:
            try:
                yield pickle.load(fh)
            except EOFError:
                return


def _spool(engine: Engine, definition: DatasetDefinition, chunk_size: int, path: Path) -> TableSchema:
    """Pass 1: stream the source into the spool while inferring the schema."""
    inferrer = SchemaInferrer()
    with engine.connect() as conn, open(path, "wb") as fh:
        for chunk in source_chunks(conn, definition, chunk_size):
            inferrer.update(chunk)
            pickle.dump(chunk, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return inferrer.schema()


def export_dataset(engine: Engine, definition: DatasetDefinition, workdir: Path, *, chunk_size: int,
                   guard_csv_formulas: bool = False, emit: Emit | None = None) -> ExportedDataset:
    """Run the dataset's query and write its CSV and Parquet files under ``workdir``."""
    emit = emit or (lambda event: None)
    folder = workdir / definition.id.replace("/", "__")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    try:
        spool = folder / "chunks.spool"
        schema = _spool(engine, definition, chunk_size, spool)
        csv_path, parquet_path = folder / f"{definition.name}.csv", folder / f"{definition.name}.parquet"
        with CsvParquetWriter(csv_path, schema, parquet_target=parquet_path,
                              guard_csv_formulas=guard_csv_formulas) as writer:
            for chunk in replay_spool(spool):
                writer.write(chunk)
                emit(ProgressEvent(definition.id, "export", "progress", bytes_done=writer.size_bytes))
        files = writer.close()
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    log.info("Exported %s: %d rows, %d CSV bytes", definition.id, files.row_count, files.size_bytes)
    return ExportedDataset(dataset_id=definition.id, schema=schema, folder=folder, csv_path=csv_path,
                           parquet_path=parquet_path, spool_path=spool, files=files)


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
    elif isinstance(exc, sa.exc.SQLAlchemyError):
        message = f"database error: {exc}"
    if not message:
        message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    text = str(message).strip()
    return text.splitlines()[0] if text else type(exc).__name__
