"""pandas columns → typed arrow arrays: the one conversion that inference and writing share.

Query results arrive as pandas columns of any dtype: numpy, nullable, pyarrow-backed, or
``object`` holding ``str``/``int``/``float``/``Decimal``/``date``/``datetime``/``bool``/mixed
values (SQLite is dynamically typed). :func:`source_array` turns a column into an arrow array of
its natural type with every missing value (None, NaN, NaT, pd.NA) as null; mixed object columns
become their canonical text, which the string rules of :mod:`schema` then classify.
:func:`convert_column` then casts to the arrow type of a Table Schema field type, vectorized.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .errors import SchemaError

if TYPE_CHECKING:
    from .schema import TableSchema

DATETIME_UNIT = "us"
ARROW_TYPES = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "datetime": pa.timestamp(DATETIME_UNIT, tz="UTC"),
}
ARROW_FAILURES = (
    pa.ArrowInvalid,
    pa.ArrowTypeError,
    pa.ArrowNotImplementedError,
    OverflowError,
    ValueError,
    TypeError,
)
_FORMULA_START = r"^[=+\-@\t\r]"


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def is_null(value) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return math.isnan(value)
    return isinstance(value, decimal.Decimal) and value.is_nan()


def canonical_text(value) -> str | None:
    """The text form of one value of a mixed-type column (None for a missing value)."""
    if is_null(value):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return repr(float(value))
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, _dt.datetime):
        value = value if value.tzinfo is not None else value.replace(tzinfo=_dt.timezone.utc)
        return value.astimezone(_dt.timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def text_array(values: Iterable) -> pa.Array:
    return pa.array([canonical_text(v) for v in values], type=pa.string())


def _plain(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_large_string(arr.type) or str(arr.type) == "string_view":
        arr = arr.cast(pa.string())
    return arr


def source_array(values: pd.Series | pa.Array | pa.ChunkedArray) -> pa.Array:
    """A column as an arrow array of its natural type, missing values as nulls.

    Object columns holding one kind of value convert directly; mixed ones become canonical
    text (``[5, "7"]`` → ``["5", "7"]``), never a silently truncated type.
    """
    if isinstance(values, pa.Array | pa.ChunkedArray):
        return _plain(values)
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(values.dtype.categories.dtype)
    if values.dtype == object:
        return _object_array(values)
    try:
        return _plain(pa.array(values, from_pandas=True))
    except ARROW_FAILURES:
        return text_array(values.astype(object))


def _object_array(values: pd.Series) -> pa.Array:
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind == "empty":
        return pa.nulls(len(values), pa.null())
    if kind == "datetime":
        try:
            return _plain(pa.array(pd.to_datetime(values, utc=True), from_pandas=True))
        except ARROW_FAILURES:
            return text_array(values)
    # infer_dtype says "date" for dates mixed with datetimes; arrow would truncate those.
    if kind == "date" and any(isinstance(v, _dt.datetime) for v in values):
        return text_array(values)
    if kind in ("string", "integer", "boolean", "decimal", "date", "floating"):
        try:
            return _plain(pa.array(values, from_pandas=True))
        except ARROW_FAILURES:
            pass
    return text_array(values)


def blank_to_null(arr: pa.Array) -> pa.Array:
    """Empty strings are missing values in every non-string column."""
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, arr.type), arr)


def parse_datetimes(arr: pa.Array) -> pa.Array:
    """ISO 8601 strings (``T`` or space, offset or ``Z`` or naive = UTC) → timestamp[us, UTC]."""
    if arr.null_count == len(arr):
        return pa.nulls(len(arr), ARROW_TYPES["datetime"])
    parsed = pd.to_datetime(arr.to_pandas(), utc=True, format="ISO8601")
    return to_utc_micros(_plain(pa.array(parsed, from_pandas=True)))


def to_utc_micros(arr: pa.Array) -> pa.Array:
    """Any timestamp array → timestamp[us, UTC]; naive values are UTC, nanoseconds floored."""
    if arr.type.tz is None:
        arr = arr.cast(pa.timestamp(arr.type.unit, tz="UTC"))
    if arr.type.unit == "ns":
        arr = pc.floor_temporal(arr, unit="microsecond")
    return arr.cast(ARROW_TYPES["datetime"])


# -- casting to a field type ------------------------------------------------------------------


def _as_text(src: pa.Array) -> pa.Array:
    t = src.type
    if pa.types.is_string(t):
        return src
    if pa.types.is_floating(t):
        src = pc.if_else(pc.is_nan(src), pa.scalar(None, t), src)
    if pa.types.is_boolean(t):
        return pc.if_else(src, "true", "false")
    if pa.types.is_timestamp(t):
        return datetime_text(to_utc_micros(src))
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t) or pa.types.is_date(t):
        return src.cast(pa.string())
    return text_array(src.to_pylist())


def _as_bool(src: pa.Array) -> pa.Array:
    if not pa.types.is_string(src.type):
        return src.cast(pa.bool_())
    lowered = pc.utf8_lower(src)
    valid = pc.or_(pc.is_in(lowered, value_set=pa.array(["true", "false"])), pc.is_null(lowered))
    if pc.all(valid).as_py() is False:
        bad = pc.filter(src, pc.invert(valid))[0].as_py()
        raise pa.ArrowInvalid(f"{bad!r} is not true or false")
    return pc.equal(lowered, "true")


def _as_number(src: pa.Array) -> pa.Array:
    # Type "number" is float64: large integers and decimals round, by definition.
    lossy_ok = pa.types.is_decimal(src.type) or pa.types.is_integer(src.type)
    out = src.cast(pa.float64(), safe=not lossy_ok)
    return pc.if_else(pc.is_nan(out), pa.scalar(None, pa.float64()), out)


def _as_datetime(src: pa.Array) -> pa.Array:
    if pa.types.is_string(src.type):
        return parse_datetimes(src)
    if pa.types.is_timestamp(src.type):
        return to_utc_micros(src)
    return src.cast(ARROW_TYPES["datetime"])


def _convert(src: pa.Array, field_type: str) -> pa.Array:
    if pa.types.is_null(src.type):
        return pa.nulls(len(src), ARROW_TYPES[field_type])
    if field_type == "string":
        return _as_text(src)
    if pa.types.is_string(src.type):
        src = blank_to_null(src)
    if field_type == "boolean":
        return _as_bool(src)
    if field_type == "number":
        return _as_number(src)
    if field_type == "datetime":
        return _as_datetime(src)
    if field_type == "date" and pa.types.is_timestamp(src.type):
        src = to_utc_micros(src)
    return src.cast(ARROW_TYPES[field_type])


def convert_column(values: pd.Series | pa.Array | pa.ChunkedArray, field_type: str, name: str = "column") -> pa.Array:
    """One column as the arrow type of ``field_type``; values that do not fit raise SchemaError."""
    try:
        return _convert(source_array(values), field_type)
    except ARROW_FAILURES as exc:
        raise SchemaError(f"Column {name!r} does not fit type {field_type}: {first_line(exc)}") from None


def datetime_text(arr: pa.Array) -> pa.Array:
    """timestamp[us, UTC] → ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z`` (the fraction only when not zero)."""
    # Casting the naive value is ~20x faster than strftime: "YYYY-MM-DD HH:MM:SS.ffffff".
    text = arr.cast(pa.timestamp(arr.type.unit)).cast(pa.string())
    # The only "." is the fraction's, so dropping ".000000" drops exactly a zero fraction.
    text = pc.replace_substring(pc.binary_replace_slice(text, 10, 11, "T"), ".000000", "")
    return pc.binary_join_element_wise(text, "Z", "")


def guard_formulas(arr: pa.Array) -> pa.Array:
    """Prefix ``'`` to strings a spreadsheet would run as a formula (RELIABILITY.md row 27)."""
    risky = pc.match_substring_regex(arr, _FORMULA_START)
    if not pc.any(risky).as_py():
        return arr
    return pc.if_else(risky, pc.binary_join_element_wise("'", arr, ""), arr)


def check_column_names(columns: Iterable) -> list[str]:
    names = list(columns)
    for name in names:
        if not isinstance(name, str) or not name:
            raise SchemaError(f"Column names must be non-empty strings, got {name!r}")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SchemaError(f"Duplicate column name(s) in query result: {', '.join(dupes)}")
    return names


def to_arrow_table(
    chunk: pd.DataFrame | pa.Table, schema: TableSchema, *, guard_csv_formulas: bool = False
) -> pa.Table:
    """A chunk as a table of exactly the schema's columns (in its order) and arrow types."""
    names = check_column_names(chunk.column_names if isinstance(chunk, pa.Table) else chunk.columns)
    missing = [n for n in schema.names if n not in names]
    extra = [n for n in names if n not in schema.types]
    if missing or extra:
        raise SchemaError(f"Chunk columns do not match the schema: missing {missing}, unexpected {extra}")
    arrays = []
    for field in schema.fields:
        arr = convert_column(chunk[field.name], field.type, field.name)
        if guard_csv_formulas and field.type == "string":
            arr = guard_formulas(arr)
        arrays.append(arr)
    arrow_schema = pa.schema([pa.field(f.name, ARROW_TYPES[f.type]) for f in schema.fields])
    return pa.Table.from_arrays(arrays, schema=arrow_schema)
