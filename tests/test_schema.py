"""Table Schema model, inference over chunks, version bumps and the pandas/arrow mapping."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import sqlalchemy as sa

from scout_jupyter.errors import SchemaError, ScoutError
from scout_jupyter.schema import (
    FIELD_TYPES,
    READ_SQL_OPTIONS,
    Field,
    SchemaInferrer,
    TableSchema,
    arrow_schema,
    bump_version,
    compare_schemas,
    infer_schema,
    infer_series_type,
    join_types,
    pandas_dtypes,
)


def infer(*chunks: list) -> str:
    """The inferred type of one column given as one list of values per chunk."""
    return infer_schema([pd.DataFrame({"c": pd.Series(values, dtype=object)}) for values in chunks]).types["c"]


# -- model ------------------------------------------------------------------------------------


def test_schema_json_round_trip():
    data = {"fields": [{"name": n, "type": t} for n, t in zip("abcdef", FIELD_TYPES, strict=True)]}
    schema = TableSchema.from_json(data)
    assert schema.to_json() == data
    assert schema.names == list("abcdef")
    assert schema.types["b"] == "integer"
    assert TableSchema.of({"a": "string"}) == TableSchema((Field("a", "string"),))


@pytest.mark.parametrize(
    "data, message",
    [
        ({"fields": [{"name": "a", "type": "varchar"}]}, "Unknown type 'varchar'"),
        ({"fields": [{"name": "a", "type": "string"}, {"name": "a", "type": "integer"}]}, "Duplicate field name"),
        ({"fields": [{"name": "", "type": "string"}]}, "non-empty string"),
        ({"fields": [{"name": "a"}]}, "'name' and 'type'"),
        ({"fields": []}, "no fields"),
        ({"columns": []}, "'fields' list"),
        ([], "'fields' list"),
    ],
)
def test_invalid_schemas_raise_one_line_schema_error(data, message):
    with pytest.raises(SchemaError, match=message) as info:
        TableSchema.from_json(data)
    assert isinstance(info.value, ScoutError)
    assert "\n" not in str(info.value)


def test_fields_are_frozen():
    field = Field("a", "string")
    with pytest.raises(AttributeError):
        field.type = "integer"  # type: ignore[misc]


def test_select_keeps_requested_order_and_rejects_unknown_columns():
    schema = TableSchema.of({"a": "string", "b": "integer", "c": "date"})
    assert schema.select(["c", "a"]).names == ["c", "a"]
    assert schema.select(None) is schema
    with pytest.raises(SchemaError, match="Unknown column.*zz"):
        schema.select(["a", "zz"])
    with pytest.raises(SchemaError, match="twice"):
        schema.select(["a", "a"])


# -- inference rules --------------------------------------------------------------------------


def test_inference_spans_all_chunks():
    assert infer([1, 2], [3], ["abc"]) == "string"
    assert infer([1, 2], [2.5]) == "number"
    assert infer([None], [None, None]) == "string"
    assert infer([None], [4]) == "integer"
    assert infer(["2024-01-01"], ["2024-01-02 10:00:00"]) == "datetime"


def test_string_evidence():
    assert infer(["00123", "42"]) == "string"
    assert infer(["0", "42", "-7"]) == "integer"
    assert infer(["0.5", "12", "1e-300"]) == "number"
    assert infer(["01.5"]) == "string"
    assert infer(["9223372036854775807", "-9223372036854775808"]) == "integer"
    assert infer(["9223372036854775808"]) == "string"
    assert infer(["true", "FALSE", "True"]) == "boolean"
    assert infer(["yes", "no"]) == "string"
    assert infer(["2024-02-29", "1999-12-31"]) == "date"
    assert infer(["2023-02-29"]) == "string"
    assert (
        infer(["2024-01-01T10:00:00Z", "2024-01-01T10:00:00+02:00", "2024-01-01 10:00", "2024-01-01T10:00:00.123456"])
        == "datetime"
    )
    assert infer(["2024-01-01T25:00:00Z"]) == "string"
    assert infer(["", "5", None]) == "integer"
    assert infer(["", ""]) == "string"


def test_typed_values():
    assert infer([2**63 - 1, -(2**63)]) == "integer"
    assert infer([2**53 + 1]) == "integer"
    assert infer([2**63]) == "string"
    assert infer([1, 2**70]) == "string"
    assert infer([True, False, None]) == "boolean"
    assert infer([0, 1, 1]) == "integer"
    assert infer([True, 1]) == "string"
    assert infer([5, "7"]) == "integer"
    assert infer([5, "x"]) == "string"
    assert infer([Decimal("12"), Decimal("-3")]) == "integer"
    assert infer([Decimal("1.50"), Decimal("2")]) == "number"
    assert infer([Decimal("NaN"), Decimal("2")]) == "integer"
    assert infer([dt.date(2024, 1, 1), None]) == "date"
    assert infer([dt.date(2024, 1, 1), dt.datetime(2024, 1, 1, 10)]) == "datetime"
    assert infer([dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc), dt.datetime(2024, 1, 1)]) == "datetime"
    assert infer([b"bytes"]) == "string"
    assert infer([dt.time(10, 0)]) == "string"


@pytest.mark.parametrize(
    "series, expected",
    [
        (pd.Series([1, 2], dtype="int64"), "integer"),
        (pd.Series([1, None], dtype="Int64"), "integer"),
        (pd.Series([2**64 - 1], dtype="uint64"), "string"),
        (pd.Series([1.5, np.nan]), "number"),
        (pd.Series([1.0, 2.0]), "number"),
        (pd.Series([1.0, np.nan]), "integer"),
        (pd.Series([2.0**60, np.nan]), "number"),
        (pd.Series([np.inf, np.nan]), "number"),
        (pd.Series([np.nan, np.nan]), None),
        (pd.Series([1.0, None], dtype="Float64"), "number"),
        (pd.Series([True, False]), "boolean"),
        (pd.Series([True, None], dtype="boolean"), "boolean"),
        (pd.Series(pd.to_datetime(["2024-01-01", None])), "datetime"),
        (pd.Series(pd.to_datetime(["2024-01-01"]).tz_localize("Asia/Manila")), "datetime"),
        (pd.Series(["a", "b"], dtype="category"), "string"),
        (pd.Series(["1", "2"], dtype="category"), "integer"),
        (pd.Series(["x", None], dtype="string"), "string"),
        (pd.Series([1, None], dtype="int64[pyarrow]"), "integer"),
        (pd.Series([dt.date(2024, 1, 1)], dtype=pd.ArrowDtype(pa.date32())), "date"),
        (pd.Series([pd.Timedelta("1h")]), "string"),
    ],
)
def test_typed_columns(series, expected):
    assert infer_series_type(series) == expected


def test_join_types_is_a_lattice():
    types = [None, *FIELD_TYPES]
    for a in types:
        assert join_types(a, None) == a
        for b in types:
            assert join_types(a, b) == join_types(b, a)
            for c in types:
                assert join_types(join_types(a, b), c) == join_types(a, join_types(b, c))
    assert join_types("integer", "number") == "number"
    assert join_types("boolean", "integer") == "string"


@pytest.mark.parametrize("options", [{}, READ_SQL_OPTIONS], ids=["default", "exact"])
def test_sqlite_chunks_as_read_sql_delivers_them(options):
    engine = sa.create_engine("sqlite://")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id TEXT, n INTEGER, r REAL, d TEXT, ts TEXT, flag INTEGER, m)")
        conn.exec_driver_sql(
            "INSERT INTO t VALUES ('00123', 1, 1.5, '2024-01-01', '2024-01-01 10:00:00', 1, 5),"
            " ('00456', NULL, 2.0, NULL, NULL, 0, '7'),"
            " ('00789', 3, NULL, '2024-01-03', '2024-01-03 11:00:00', NULL, 'x')"
        )
    inferrer = SchemaInferrer()
    with engine.connect() as conn:
        for chunk in pd.read_sql("SELECT * FROM t", conn, chunksize=2, **options):
            inferrer.update(chunk)
    assert inferrer.row_count == 3
    assert inferrer.schema().types == {
        "id": "string",
        "n": "integer",
        "r": "number",
        "d": "date",
        "ts": "datetime",
        "flag": "integer",
        "m": "string",
    }


def test_inferrer_rejects_inconsistent_or_bad_columns():
    inferrer = SchemaInferrer()
    with pytest.raises(SchemaError, match="No data"):
        inferrer.schema()
    inferrer.update(pd.DataFrame({"a": [1], "b": [2]}))
    with pytest.raises(SchemaError, match="differ from the first chunk"):
        inferrer.update(pd.DataFrame({"a": [1]}))
    with pytest.raises(SchemaError, match="Duplicate column name.*id"):
        infer_schema(pd.DataFrame([[1, 2]], columns=["id", "id"]))
    with pytest.raises(SchemaError, match="non-empty strings"):
        infer_schema(pd.DataFrame({0: [1]}))


def test_inference_of_a_large_string_column_is_vectorized():
    values = pd.Series([f"{i:06d}" for i in range(200_000)])
    assert infer_series_type(values) == "string"
    assert infer_series_type(values.str.lstrip("0").replace("", "0")) == "integer"


# -- versions ---------------------------------------------------------------------------------

OLD = TableSchema.of({"a": "string", "b": "integer"})


@pytest.mark.parametrize(
    "new, kind",
    [
        ({"a": "string", "b": "integer"}, "patch"),
        ({"a": "string", "b": "integer", "c": "date"}, "minor"),
        ({"c": "date", "a": "string", "b": "integer"}, "minor"),
        ({"b": "integer", "a": "string"}, "minor"),
        ({"a": "string"}, "major"),
        ({"a": "string", "b2": "integer"}, "major"),
        ({"a": "string", "b": "number"}, "major"),
    ],
)
def test_compare_schemas(new, kind):
    assert compare_schemas(OLD, TableSchema.of(new)) == kind


def test_bump_version():
    assert bump_version("1.2.3", "patch") == "1.2.4"
    assert bump_version("1.2.3", "minor") == "1.3.0"
    assert bump_version("1.2.3", "major") == "2.0.0"
    assert bump_version("0.9.19", "patch") == "0.9.20"
    for bad in ["1.2", "01.2.3", "v1.2.3", "1.2.3-rc1", "", None]:
        with pytest.raises(SchemaError, match="MAJOR.MINOR.PATCH"):
            bump_version(bad, "patch")  # type: ignore[arg-type]
    with pytest.raises(SchemaError, match="Unknown version change"):
        bump_version("1.0.0", "huge")  # type: ignore[arg-type]


# -- mapping ----------------------------------------------------------------------------------


def test_arrow_and_pandas_mapping():
    schema = TableSchema.of(dict(zip("abcdef", FIELD_TYPES, strict=True)))
    assert arrow_schema(schema) == pa.schema(
        [
            ("a", pa.string()),
            ("b", pa.int64()),
            ("c", pa.float64()),
            ("d", pa.bool_()),
            ("e", pa.date32()),
            ("f", pa.timestamp("us", tz="UTC")),
        ]
    )
    dtypes = pandas_dtypes(schema)
    assert dtypes["a"] == pd.StringDtype("pyarrow")
    assert dtypes["b"] == pd.Int64Dtype()
    assert dtypes["c"] == np.dtype("float64")
    assert dtypes["d"] == pd.BooleanDtype()
    assert dtypes["e"] == np.dtype("datetime64[ms]")
    assert str(dtypes["f"]) == "datetime64[us, UTC]"
