"""From a verified file to a DataFrame: the manifest's schema, the parsed-copy key, selections."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from .. import csvio
from ..errors import SchemaError
from ..manifest import DatasetEntry
from ..schema import TableSchema, infer_schema

#: the parsed copy of a CSV read with an inferred schema (old manifests without one)
INFERRED = "inferred"
#: id(entry) -> (entry, schema, fingerprint): entries of the in-memory manifest are reused by
#: every load until it is refetched, and parsing + hashing a schema costs ~40 µs per load
_SCHEMAS: dict[int, tuple[DatasetEntry, TableSchema | None, str]] = {}
_MAX_SCHEMAS = 256


def entry_schema(entry: DatasetEntry) -> TableSchema | None:
    return TableSchema.from_json(entry.schema) if entry.schema else None


def schema_and_fingerprint(entry: DatasetEntry) -> tuple[TableSchema | None, str]:
    """``(entry_schema(entry), schema_fingerprint(...))``, memoized per entry object (entries
    are frozen; the memo holds the entry, so its id cannot be reused while it is there)."""
    memo = _SCHEMAS.get(id(entry))
    if memo is not None and memo[0] is entry:
        return memo[1], memo[2]
    schema = entry_schema(entry)
    fingerprint = schema_fingerprint(schema)
    if len(_SCHEMAS) >= _MAX_SCHEMAS:
        _SCHEMAS.clear()
    _SCHEMAS[id(entry)] = (entry, schema, fingerprint)
    return schema, fingerprint


def schema_fingerprint(schema: TableSchema | None) -> str:
    """Part of a parsed copy's name: the same bytes parsed with another schema are another frame."""
    if schema is None:
        return INFERRED
    text = json.dumps(schema.to_json(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def infer_csv_schema(path: Path) -> TableSchema:
    """The schema of a CSV from a publisher that wrote none: every cell read as text, then the
    publisher's own inference rules (leading zeros stay strings)."""
    text = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[])
    return infer_schema(text)


def check_columns(schema: TableSchema | None, columns: Sequence[str] | None) -> list[str] | None:
    """``columns`` as a list, or SchemaError naming the unknown ones and listing the available."""
    if columns is None:
        return None
    if isinstance(columns, str):
        columns = [c.strip() for c in columns.split(",") if c.strip()]
    columns = list(columns)
    if schema is not None and not _known_and_distinct(schema, columns):
        schema.select(columns)  # raises, naming the unknown or repeated columns
    return columns


def _known_and_distinct(schema: TableSchema, columns: list) -> bool:
    """What ``schema.select`` checks, without building the selected schema."""
    try:
        names = {f.name for f in schema.fields}
        return bool(columns) and len(set(columns)) == len(columns) and names.issuperset(columns)
    except TypeError:  # unhashable items
        return False


def check_limit(limit: int | None) -> int | None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise SchemaError(f"limit must be a non-negative integer, got {limit!r}")
    return limit


def select(frame: pd.DataFrame, columns: list[str] | None, limit: int | None) -> pd.DataFrame:
    """What ``csvio.read_csv(columns=…, limit=…)`` would give, from the whole frame."""
    if columns is not None:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise SchemaError(f"Unknown column(s): {', '.join(missing)} (columns: {', '.join(frame.columns)})")
        frame = frame[columns]
    if limit is not None:
        frame = frame.iloc[:limit]
    return frame


def parse(
    path: Path, fmt: str, schema: TableSchema, columns: list[str] | None = None, limit: int | None = None
) -> pd.DataFrame:
    reader = csvio.read_parquet if fmt == "parquet" else csvio.read_csv
    return reader(path, schema, columns=columns, limit=limit)
