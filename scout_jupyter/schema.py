"""Table Schema for published datasets: the model, type inference, versions, dtype mapping.

Field types are the Table Schema subset ``string, integer, number, boolean, date, datetime``.
The manifest stores a schema as ``{"fields": [{"name": ..., "type": ...}, ...]}``.

Inference (:class:`SchemaInferrer`) runs over every chunk of a query result, and each column
ends at the least type that holds all its values. Types form three chains
``integer < number``, ``date < datetime`` and ``boolean``; any two values from different
chains make the column ``string``, and a column with no values at all is ``string``. Rules:

* nulls (None, NaN, NaT, pd.NA) and empty strings are missing values, not evidence;
* identifiers with leading zeros (``"00123"``; ``"0"`` alone is a number) stay strings;
* integers beyond int64 are strings; big integers are never taken through float;
* ``YYYY-MM-DD`` strings are dates, ISO 8601 date-times (``T`` or space, offset or ``Z`` or
  none) are datetimes; a naive datetime is taken as UTC;
* Python/NumPy booleans and the strings ``true``/``false`` (any case) are booleans; 0 and 1
  stay integers;
* a float64 column holding only whole numbers *and* at least one NaN is ``integer``: that is
  how pandas delivers a nullable SQL INTEGER column (``read_sql`` without ``dtype_backend``);
* ``Decimal`` with no fractional digits is ``integer`` (when it fits int64), else ``number``.

What a load returns (:func:`pandas_dtypes`): string → ``pd.StringDtype("pyarrow")`` (``<NA>``
for missing), integer → ``Int64``, number → ``float64`` (NaN for missing; NaN and NULL are the
same thing in a published file), boolean → ``boolean``, date → ``datetime64[ms]`` (midnight),
datetime → ``datetime64[us, UTC]``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .arrowconv import (
    ARROW_FAILURES,
    ARROW_TYPES,
    DATETIME_UNIT,
    blank_to_null,
    check_column_names,
    parse_datetimes,
    source_array,
)
from .errors import SchemaError

log = logging.getLogger(__name__)

FIELD_TYPES = ("string", "integer", "number", "boolean", "date", "datetime")

#: Pass to ``pandas.read_sql(..., chunksize=N, **READ_SQL_OPTIONS)`` so inference sees exact
#: values: nullable BIGINT arrives as ``Int64`` (not float64) and NUMERIC as exact text, not float.
READ_SQL_OPTIONS = {"coerce_float": False, "dtype_backend": "numpy_nullable"}
ChangeKind = Literal["patch", "minor", "major"]


@dataclass(frozen=True)
class Field:
    """One column: a non-empty name and one of :data:`FIELD_TYPES`."""

    name: str
    type: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise SchemaError(f"Schema field name must be a non-empty string, got {self.name!r}")
        if self.type not in FIELD_TYPES:
            raise SchemaError(
                f"Unknown type {self.type!r} for field {self.name!r} (expected one of {', '.join(FIELD_TYPES)})"
            )

    @classmethod
    def from_json(cls, data: Mapping) -> Field:
        if not isinstance(data, Mapping) or "name" not in data or "type" not in data:
            raise SchemaError(f"Schema field must be an object with 'name' and 'type', got {data!r}")
        return cls(name=data["name"], type=data["type"])

    def to_json(self) -> dict:
        return {"name": self.name, "type": self.type}


@dataclass(frozen=True)
class TableSchema:
    """An ordered tuple of fields with unique names (at least one)."""

    fields: tuple[Field, ...]

    def __post_init__(self) -> None:
        fields = tuple(self.fields)
        object.__setattr__(self, "fields", fields)
        if not fields:
            raise SchemaError("Schema has no fields")
        seen: set[str] = set()
        for field in fields:
            if not isinstance(field, Field):
                raise SchemaError(f"Schema fields must be Field objects, got {field!r}")
            if field.name in seen:
                raise SchemaError(f"Duplicate field name in schema: {field.name!r}")
            seen.add(field.name)

    @classmethod
    def from_json(cls, data: Mapping) -> TableSchema:
        fields = data.get("fields") if isinstance(data, Mapping) else None
        if not isinstance(fields, list):
            raise SchemaError("Schema must be an object with a 'fields' list")
        return cls(tuple(Field.from_json(f) for f in fields))

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, str]] | Mapping[str, str]) -> TableSchema:
        """Build from ``{"name": "type"}`` or ``[("name", "type"), ...]``."""
        items = pairs.items() if isinstance(pairs, Mapping) else pairs
        return cls(tuple(Field(name, ftype) for name, ftype in items))

    def to_json(self) -> dict:
        return {"fields": [f.to_json() for f in self.fields]}

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def types(self) -> dict[str, str]:
        return {f.name: f.type for f in self.fields}

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise SchemaError(f"Unknown column {name!r} (columns: {', '.join(self.names)})")

    def select(self, columns: Iterable[str] | None) -> TableSchema:
        """The schema of ``columns`` in the order given; unknown or repeated names raise."""
        if columns is None:
            return self
        if isinstance(columns, str):
            columns = [columns]
        columns = list(columns)
        unknown = [c for c in columns if c not in self.types]
        if unknown:
            raise SchemaError(f"Unknown column(s): {', '.join(map(str, unknown))} (columns: {', '.join(self.names)})")
        if len(set(columns)) != len(columns):
            raise SchemaError(f"Column listed twice in {columns!r}")
        return TableSchema(tuple(self.field(c) for c in columns))


# -- versions ---------------------------------------------------------------------------------


def compare_schemas(old: TableSchema, new: TableSchema) -> ChangeKind:
    """``patch``: same fields in the same order; ``minor``: columns only added (or the same
    fields reordered); ``major``: a column removed, renamed or changed type."""
    if old.fields == new.fields:
        return "patch"
    new_types = new.types
    if all(new_types.get(f.name) == f.type for f in old.fields):
        return "minor"
    return "major"


_SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)")


def bump_version(version: str, kind: ChangeKind) -> str:
    """``bump_version("1.2.3", "minor") == "1.3.0"``."""
    match = _SEMVER.fullmatch(version) if isinstance(version, str) else None
    if match is None:
        raise SchemaError(f"Not a MAJOR.MINOR.PATCH version: {version!r}")
    major, minor, patch = (int(g) for g in match.groups())
    if kind == "major":
        return f"{major + 1}.0.0"
    if kind == "minor":
        return f"{major}.{minor + 1}.0"
    if kind == "patch":
        return f"{major}.{minor}.{patch + 1}"
    raise SchemaError(f"Unknown version change {kind!r} (expected patch, minor or major)")


# -- arrow / pandas mapping -------------------------------------------------------------------


def arrow_type(field_type: str) -> pa.DataType:
    return ARROW_TYPES[Field("x", field_type).type]


def arrow_schema(schema: TableSchema) -> pa.Schema:
    return pa.schema([pa.field(f.name, ARROW_TYPES[f.type]) for f in schema.fields])


def pandas_dtype(field_type: str):
    return {
        "string": pd.StringDtype("pyarrow"),
        "integer": pd.Int64Dtype(),
        "number": np.dtype("float64"),
        "boolean": pd.BooleanDtype(),
        "date": np.dtype("datetime64[ms]"),
        "datetime": pd.DatetimeTZDtype(unit=DATETIME_UNIT, tz="UTC"),
    }[Field("x", field_type).type]


def pandas_dtypes(schema: TableSchema) -> dict:
    """The dtype of each column of a loaded frame (see the module docstring)."""
    return {f.name: pandas_dtype(f.type) for f in schema.fields}


# -- inference --------------------------------------------------------------------------------

INT_PATTERN = r"^(0|-?[1-9][0-9]*)$"
NUMBER_PATTERN = r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$"
BOOL_PATTERN = r"^(?i:true|false)$"
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
DATETIME_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?"
    r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)?)?$"
)

_CHAINS = (("integer", "number"), ("date", "datetime"), ("boolean",))


def join_types(a: str | None, b: str | None) -> str | None:
    """The least type that holds values of both (None = no values seen yet)."""
    if a is None or a == b:
        return b
    if b is None:
        return a
    for chain in _CHAINS:
        if a in chain and b in chain:
            return max(a, b, key=chain.index)
    return "string"


def _all_match(arr: pa.Array, pattern: str) -> bool:
    return bool(pc.all(pc.match_substring_regex(arr, pattern)).as_py())


def _parses(arr: pa.Array, field_type: str) -> bool:
    try:
        if field_type == "datetime":
            parse_datetimes(arr)
        else:
            arr.cast(ARROW_TYPES[field_type])
        return True
    except ARROW_FAILURES:
        return False


_STRING_RULES = (
    ("integer", INT_PATTERN),
    ("number", NUMBER_PATTERN),
    ("boolean", BOOL_PATTERN),
    ("date", DATE_PATTERN),
    ("datetime", DATETIME_PATTERN),
)


def classify_strings(arr: pa.Array, parsed: dict[str, pa.Array] | None = None) -> str | None:
    """The type of a string column: the first rule every value matches, if it also parses.

    With ``parsed`` given, a column found to hold datetimes leaves its parsed values there
    (``parsed["datetime"]``, row for row with ``arr``, blanks as nulls) for a caller that would
    parse them again to write them."""
    full = blank_to_null(arr)
    arr = pc.drop_null(full)
    if len(arr) == 0:
        return None
    first = arr[0].as_py()
    for field_type, pattern in _STRING_RULES:
        if re.search(pattern, first) and _all_match(arr, pattern):
            if field_type == "boolean":
                return "boolean"
            if field_type == "datetime" and parsed is not None:
                try:
                    parsed["datetime"] = parse_datetimes(full)
                except ARROW_FAILURES:
                    return "string"
                return "datetime"
            return field_type if _parses(arr, field_type) else "string"
    return "string"


def _int_type(arr: pa.Array) -> str | None:
    if arr.null_count == len(arr):
        return None
    try:
        arr.cast(pa.int64())
        return "integer"
    except ARROW_FAILURES:
        return "string"


def infer_array_type(arr: pa.Array) -> str | None:
    """The field type of an arrow array (None when it holds no values)."""
    t = arr.type
    if arr.null_count == len(arr) or pa.types.is_null(t):
        return None
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_integer(t):
        return _int_type(arr)
    if pa.types.is_floating(t):
        return "number" if pc.any(pc.invert(pc.is_nan(arr))).as_py() else None
    if pa.types.is_decimal(t):
        return _int_type(arr) if t.scale <= 0 else "number"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_timestamp(t):
        return "datetime"
    if pa.types.is_string(t):
        return classify_strings(arr)
    return "string"


def _float_column_type(values: np.ndarray) -> str | None:
    missing = np.isnan(values)
    present = values[~missing]
    if present.size == 0:
        return None
    whole = np.isfinite(present).all() and (np.floor(present) == present).all()
    if missing.any() and whole and np.abs(present).max() <= 2**53:
        return "integer"
    return "number"


def infer_series_type(values: pd.Series | pa.Array | pa.ChunkedArray) -> str | None:
    """The field type of one column chunk, or None when it holds only missing values."""
    if isinstance(values, pd.Series) and values.dtype.kind == "f" and isinstance(values.dtype, np.dtype):
        return _float_column_type(values.to_numpy())
    return infer_array_type(source_array(values))


class SchemaInferrer:
    """Infers a schema over every chunk of a result: ``update(chunk)`` each, then ``schema()``."""

    def __init__(self) -> None:
        self._types: dict[str, str | None] | None = None
        self.row_count = 0

    def update(self, chunk: pd.DataFrame) -> None:
        names = check_column_names(chunk.columns)
        if self._types is None:
            self._types = dict.fromkeys(names)
        elif names != list(self._types):
            raise SchemaError(f"Chunk columns {names} differ from the first chunk's {list(self._types)}")
        for position, name in enumerate(names):
            seen = infer_series_type(chunk.iloc[:, position])
            self._types[name] = join_types(self._types[name], seen)
        self.row_count += len(chunk)

    def schema(self) -> TableSchema:
        if self._types is None:
            raise SchemaError("No data to infer a schema from (no chunk was given)")
        schema = TableSchema(tuple(Field(n, t or "string") for n, t in self._types.items()))
        log.debug("inferred over %d rows: %s", self.row_count, schema.types)
        return schema


def infer_schema(data: pd.DataFrame | Iterable[pd.DataFrame]) -> TableSchema:
    """Infer the schema of one frame or of an iterable of chunks."""
    inferrer = SchemaInferrer()
    for chunk in [data] if isinstance(data, pd.DataFrame) else data:
        inferrer.update(chunk)
    return inferrer.schema()
