"""Query results as Arrow chunks through ADBC, giving exactly what the pandas path would give.

The general read path (:func:`export.query_chunks`) is SQLAlchemy + ``pandas.read_sql``. Where
the source URL allows (a SQLite file, a PostgreSQL server) and the ADBC driver is installed, a
plain query (no bind parameters, no materialization) is read with ADBC instead: the driver
builds Arrow record batches in C, 3–4× faster than ``read_sql`` builds frames, and the batches
go to the CSV/Parquet writer without a pandas detour.

The published bytes must not depend on the path taken (DESIGN.md: a change of bytes is a new
version). :func:`normalize` therefore turns each chunk into what the pandas path would have
produced, and a chunk the drivers would deliver differently raises :class:`NotEquivalent`, so
the caller publishes through SQLAlchemy instead:

* chunks are exactly ``chunk_size`` rows (the pandas path's ``fetchmany``), because the rule
  "whole float64 numbers with a NaN are a nullable integer" is applied per chunk;
* SQLite is dynamically typed. The ADBC driver types each column from its first batch and fails
  on a later value that does not fit (raised as ``NotEquivalent``); a column it types as text
  gets REAL values as C ``%e`` text (``3.333333e-01``: digits lost) and BLOBs as raw bytes,
  where pandas has ``repr(float)`` and UTF-8-decoded text. A text value shaped like the
  driver's REAL text (``^-?d.dddddde±dd$`` or ``inf``) or bytes that are not UTF-8 raise
  ``NotEquivalent`` (a genuine text of that shape only costs the faster path); a column ADBC
  types as BLOB goes through SQLAlchemy too;
* PostgreSQL: ``numeric`` becomes float64 (``read_sql``'s ``coerce_float``), ``real`` float64
  through its shortest text (as psycopg reads it), small integers int64; a column of any other
  type raises ``NotEquivalent`` at the first chunk (intervals, UUIDs, JSON, arrays… arrive as
  other Python objects through psycopg).

The SQL engine is another matter: the ADBC driver bundles its own SQLite (3.53 in driver 1.13)
while ``sqlite3`` uses the system's (3.40 on Debian 12), and their ``round()`` differs on ties
(``round(37.125, 2)``: 37.13 against 37.12). Same query, same file, other bytes: the reading
adds nothing (tests/test_publish_arrow.py shows identical bytes once ``round()`` agrees), but
the engine counts. Both engines' versions are part of every dataset's fingerprint, so a change
of engine exports again and publishes changed bytes as a new version (a patch bump), never
silently; ``[publish] reader = "sqlalchemy"`` keeps the system SQLite.

One difference is a fix: pandas reads an INTEGER chunk that holds a NULL as float64, so the
SQLAlchemy path rounds integers beyond 2**53 there (2**53 + 1 is published as 2**53, or the
column becomes ``number``). ADBC keeps them exact; these bytes differ, as a new version.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..arrowconv import check_column_names, source_array
from ..schema import _float_column_type, classify_strings, infer_array_type

log = logging.getLogger(__name__)

#: how the ADBC SQLite driver writes a REAL value into a column it typed as text (C's ``%e``)
_DRIVER_REAL_TEXT = r"^-?([0-9]\.[0-9]{6}e[+-][0-9]{2,3}|inf)$"
#: PostgreSQL types whose ADBC arrays equal (after normalize) what psycopg + read_sql give
_PG_SAFE = {
    "int2",
    "int4",
    "int8",
    "float4",
    "float8",
    "numeric",
    "text",
    "varchar",
    "bpchar",
    "bool",
    "date",
    "timestamp",
    "timestamptz",
    "name",
}
_PG_TYPE_KEY = b"POSTGRESQL:type"


class NotEquivalent(Exception):
    """This result would not give the pandas path's bytes through ADBC: read it with SQLAlchemy."""


@dataclass(frozen=True)
class AdbcSource:
    """How to open an ADBC connection to the publisher's source database."""

    backend: str  # "sqlite" or "postgresql"
    uri: str

    def connect(self):
        if self.backend == "sqlite":
            import adbc_driver_sqlite.dbapi as driver
        else:
            import adbc_driver_postgresql.dbapi as driver
        return driver.connect(self.uri)


def adbc_source(engine: Engine) -> AdbcSource | None:
    """The ADBC equivalent of ``engine``'s URL, or None (SQLAlchemy is then the only path)."""
    url = engine.url
    backend = url.get_backend_name()
    try:
        if backend == "sqlite":
            import adbc_driver_sqlite.dbapi  # noqa: F401

            database = url.database
            if not database or database == ":memory:" or database.startswith("file:") or url.query:
                return None
            return AdbcSource("sqlite", database)
        if backend == "postgresql":
            import adbc_driver_postgresql.dbapi  # noqa: F401

            plain = url.set(drivername="postgresql")
            return AdbcSource("postgresql", plain.render_as_string(hide_password=False))
    except ImportError:
        return None
    return None


def engine_versions() -> str:
    """The SQLite engines the publisher may run a query on (``sqlite3`` and ADBC's own)."""
    import sqlite3

    try:
        import adbc_driver_sqlite

        adbc = f"adbc-driver-sqlite {adbc_driver_sqlite.__version__}"
    except ImportError:
        adbc = "no adbc-driver-sqlite"
    return f"sqlite3 {sqlite3.sqlite_version}; {adbc}"


def plain_query(query: str, engine: Engine) -> bool:
    """A query without bind parameters (those go through SQLAlchemy, which binds them)."""
    return not sa.text(query).compile(dialect=engine.dialect).params


def _inner(query: str) -> str:
    return query.strip().rstrip(";").strip()


def _rechunk(reader: pa.RecordBatchReader, chunk_size: int) -> Iterator[pa.Table]:
    """The batches regrouped into tables of exactly ``chunk_size`` rows (the last one shorter)."""
    pending: list[pa.RecordBatch] = []
    held, produced = 0, False
    for batch in reader:
        while batch.num_rows:
            take = min(chunk_size - held, batch.num_rows)
            pending.append(batch.slice(0, take))
            held += take
            batch = batch.slice(take)
            if held == chunk_size:
                produced = True
                yield pa.Table.from_batches(pending)
                pending, held = [], 0
    if pending or not produced:
        yield pa.Table.from_batches(pending, schema=reader.schema)


class AdbcResult:
    """A query on one ADBC connection inside one read transaction: :meth:`chunks` can run it
    again and sees the same rows (SQLite: one snapshot; PostgreSQL: REPEATABLE READ)."""

    def __init__(self, conn, source: AdbcSource, query: str, chunk_size: int):
        self.conn, self.source, self.query, self.chunk_size = conn, source, query, chunk_size

    def chunks(self) -> Iterator[pa.Table]:
        """The normalized chunks; raises ``NotEquivalent`` (at the start or at any chunk) when
        the pandas path would see other values."""
        return _chunks(self.conn, self.source, self.query, self.chunk_size)


@contextmanager
def open_result(source: AdbcSource, query: str, chunk_size: int) -> Iterator[AdbcResult]:
    try:
        conn = source.connect()
        if source.backend == "postgresql":
            with conn.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    except Exception as exc:  # noqa: BLE001 - any driver failure: SQLAlchemy reports it its own way
        raise NotEquivalent(f"ADBC connection failed: {exc}") from exc
    try:
        yield AdbcResult(conn, source, query, chunk_size)
    finally:
        try:
            conn.rollback()
        finally:
            conn.close()


def _chunks(conn, source: AdbcSource, query: str, chunk_size: int) -> Iterator[pa.Table]:
    cursor = conn.cursor()
    try:
        try:
            if source.backend == "sqlite":
                cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(chunk_size)})
            cursor.execute(_inner(query))
            reader = cursor.fetch_record_batch()
        except NotEquivalent:
            raise
        except Exception as exc:  # noqa: BLE001 - the SQLAlchemy path gives the user's error message
            raise NotEquivalent(f"ADBC could not run the query: {exc}") from exc
        check_column_names(reader.schema.names)
        if source.backend == "postgresql":
            _check_pg_types(reader.schema)
        chunks = _rechunk(reader, chunk_size)
        while True:
            try:
                chunk = next(chunks)
            except StopIteration:
                return
            except OSError as exc:  # "Type mismatch in column …": a later value of another type
                raise NotEquivalent(str(exc)) from exc
            yield normalize(chunk, source.backend)
    finally:
        cursor.close()


def _check_pg_types(schema: pa.Schema) -> None:
    for field in schema:
        typname = (field.metadata or {}).get(_PG_TYPE_KEY, b"").decode()
        if typname not in _PG_SAFE:
            raise NotEquivalent(f"column {field.name!r} has PostgreSQL type {typname or field.type}")


def normalize(chunk: pa.Table, backend: str) -> pa.Table:
    """The chunk as the arrays the pandas path would give for the same rows (see the module)."""
    arrays = []
    for name, column in zip(chunk.column_names, chunk.columns, strict=True):
        if isinstance(column.type, pa.BaseExtensionType):  # numeric: an opaque type stored as text
            column = pa.chunked_array([c.storage for c in column.chunks], column.type.storage_type)
        arr = source_array(column)
        t = arr.type
        if pa.types.is_binary(t) or pa.types.is_large_binary(t):
            raise NotEquivalent(f"column {name!r} holds BLOBs")
        if backend == "sqlite" and pa.types.is_string(t):
            _check_sqlite_text(name, arr)
        if pa.types.is_floating(t) and t != pa.float64():
            # psycopg reads a real from its shortest text ("0.33333334"), not by widening the bits
            arr = arr.cast(pa.string()).cast(pa.float64())
        elif pa.types.is_integer(t) and t != pa.int64():
            arr = arr.cast(pa.int64())
        elif backend == "postgresql" and pa.types.is_string(t) and _is_numeric(chunk.schema.field(name)):
            arr = arr.cast(pa.float64())
        arrays.append(arr)
    return pa.Table.from_arrays(arrays, names=chunk.column_names)


def _check_sqlite_text(name: str, arr: pa.Array) -> None:
    """A text column must hold only what SQLite stored as text (or integers, whose text is the
    same either way): a REAL arrives as the driver's ``%e`` text, a BLOB as raw bytes."""
    if pc.any(pc.match_substring_regex(arr, _DRIVER_REAL_TEXT)).as_py():
        raise NotEquivalent(f"column {name!r} may mix text with REAL values")
    try:
        arr.validate(full=True)
    except pa.ArrowInvalid as exc:
        raise NotEquivalent(f"column {name!r} holds bytes that are not UTF-8 text") from exc


def _is_numeric(field: pa.Field) -> bool:
    return (field.metadata or {}).get(_PG_TYPE_KEY) == b"numeric"


def chunk_types(
    chunk: pa.Table, known: list[str | None] | None = None, parsed: dict[int, pa.Array] | None = None
) -> list[str | None]:
    """The field type each column of a normalized chunk shows (as :func:`schema.infer_series_type`
    would for the pandas path's frame: whole float64 numbers with a null are integers). A column
    ``known`` to be ``string`` already stays one whatever it holds, and is not looked at. Text
    columns found to hold datetimes leave their parsed values in ``parsed`` (by position)."""
    types: list[str | None] = []
    for position, arr in enumerate(chunk.columns):
        if known is not None and known[position] == "string":
            types.append("string")
            continue
        arr = source_array(arr)
        if pa.types.is_floating(arr.type):
            types.append(_float_column_type(np.asarray(arr.to_numpy(zero_copy_only=False), dtype=np.float64)))
        elif pa.types.is_string(arr.type) and parsed is not None:
            found: dict[str, pa.Array] = {}
            types.append(classify_strings(arr, found))
            if "datetime" in found:
                parsed[position] = found["datetime"]
        else:
            types.append(infer_array_type(arr))
    return types
