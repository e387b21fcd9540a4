"""Staging-table materialization: readers of ``<table>`` never see a partial table.

The chunks are loaded into ``<table>__staging`` (dropped and created first, typed from the
dataset's Table Schema), then swapped into ``<table>`` in one transaction:

* PostgreSQL: ``DROP TABLE IF EXISTS t; ALTER TABLE t__staging RENAME TO t`` inside one
  transaction. Both take an ACCESS EXCLUSIVE lock, so a concurrent reader waits for the commit
  and then resolves the name again: it sees the old table or the whole new one, never none.
* SQLite: the same two statements between ``BEGIN IMMEDIATE`` and ``COMMIT`` (SQLite's DDL is
  transactional; the driver's implicit transactions are switched off so the BEGIN is ours).
  Readers see the old or the new schema; a reader blocked by the write waits (busy timeout).

Other databases get the PostgreSQL statements in one transaction, which is atomic where DDL is
transactional. Objects that depend on the old table (views, foreign keys) make the DROP fail:
the transaction rolls back and the old table stays.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..csvio import to_arrow_table
from ..errors import ConfigError
from ..schema import TableSchema

log = logging.getLogger(__name__)

STAGING_SUFFIX = "__staging"
TABLE_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,50}$")

_SQL_TYPES: dict[str, Callable[[], sa.types.TypeEngine[Any]]] = {
    "string": sa.Text,
    "integer": sa.BigInteger,
    "number": sa.Double,
    "boolean": sa.Boolean,
    "date": sa.Date,
    "datetime": lambda: sa.DateTime(timezone=True),
}


def staging_name(table: str) -> str:
    return f"{check_table_name(table)}{STAGING_SUFFIX}"


def check_table_name(table: str) -> str:
    if not isinstance(table, str) or not TABLE_NAME_RE.fullmatch(table):
        raise ConfigError(f"Bad table name for materialize: {table!r} (letters, digits and _, at most 51)")
    return table


def sql_table(name: str, schema: TableSchema, metadata: sa.MetaData | None = None) -> sa.Table:
    """A SQLAlchemy table with one typed, nullable column per schema field."""
    columns = [sa.Column(f.name, _SQL_TYPES[f.type](), nullable=True) for f in schema.fields]
    return sa.Table(name, metadata or sa.MetaData(), *columns)


def load_staging(engine: Engine, table: str, schema: TableSchema, chunks: Iterable[pd.DataFrame]) -> int:
    """Drop and create ``<table>__staging`` and insert every chunk; returns the row count."""
    staging = sql_table(staging_name(table), schema)
    with engine.begin() as conn:
        staging.drop(conn, checkfirst=True)
        staging.create(conn)
    rows = 0
    with engine.begin() as conn:
        for chunk in chunks:
            records = to_arrow_table(chunk, schema).to_pylist()
            if records:
                conn.execute(staging.insert(), records)
                rows += len(records)
    return rows


def swap_staging(engine: Engine, table: str) -> None:
    """Replace ``<table>`` by ``<table>__staging`` in one transaction."""
    preparer = engine.dialect.identifier_preparer
    target, staging = preparer.quote(check_table_name(table)), preparer.quote(staging_name(table))
    statements = [f"DROP TABLE IF EXISTS {target}", f"ALTER TABLE {staging} RENAME TO {target}"]
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            _sqlite_transaction(conn.execution_options(isolation_level="AUTOCOMMIT"), statements)
    else:
        with engine.begin() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)
    log.info("Swapped %s into %s", staging_name(table), table)


def _sqlite_transaction(conn: Connection, statements: list[str]) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")
    try:
        for statement in statements:
            conn.exec_driver_sql(statement)
    except BaseException:
        conn.exec_driver_sql("ROLLBACK")
        raise
    conn.exec_driver_sql("COMMIT")


def materialize(engine: Engine, table: str, schema: TableSchema, chunks: Iterable[pd.DataFrame]) -> int:
    """Load ``chunks`` into ``<table>__staging`` and swap it into ``<table>``; returns rows."""
    rows = load_staging(engine, table, schema, chunks)
    swap_staging(engine, table)
    return rows
