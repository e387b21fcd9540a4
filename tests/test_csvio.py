"""CSV + Parquet writing and reading: exact bytes, round trips, chunking, guard, atomicity."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scout_jupyter.csvio import (
    CsvParquetWriter,
    atomic_file,
    read_csv,
    read_parquet,
    table_to_frame,
    to_arrow_table,
    write_dataset_files,
)
from scout_jupyter.errors import SchemaError
from scout_jupyter.schema import READ_SQL_OPTIONS, TableSchema, infer_schema, pandas_dtypes

UTC = dt.timezone.utc


def write(frames, schema, **options) -> tuple[bytes, bytes, object]:
    """Write chunks to memory; returns (csv bytes, parquet bytes, WriteResult)."""
    csv, parquet = io.BytesIO(), io.BytesIO()
    with CsvParquetWriter(csv, schema, parquet_target=parquet, **options) as writer:
        for frame in frames if isinstance(frames, list) else [frames]:
            writer.write(frame)
    return csv.getvalue(), parquet.getvalue(), writer.close()


def both_reads(csv: bytes, parquet: bytes, schema, **kw) -> pd.DataFrame:
    from_csv = read_csv(csv, schema, **kw)
    from_parquet = read_parquet(parquet, schema, **kw)
    pd.testing.assert_frame_equal(from_csv, from_parquet)
    return from_csv


# -- the tricky table -------------------------------------------------------------------------

TRICKY = pd.DataFrame(
    {
        "id": pd.Series(["00123", "0042", "A-1", None, "", "00000"], dtype=object),
        "big": pd.Series([2**63 - 1, 2**53 + 1, -(2**63), None, 0, 9007199254740993], dtype=object),
        "text": pd.Series(["héllo 👋🏽", "שלום עולם", 'say "hi", ok', "l1\r\nl2\rl3\nl4", "", None], dtype=object),
        "amount": [0.1, 1e-300, -2.5, np.inf, np.nan, 1.7976931348623157e308],
        "day": pd.Series(["2024-02-29", None, "0001-01-01", "9999-12-31", "1970-01-01", ""], dtype=object),
        "at": pd.Series(
            [
                "2024-01-01T10:00:00Z",
                "2024-01-01T10:00:00+08:00",
                "2024-06-30 23:59:59.999999",
                None,
                "1969-12-31T23:59:59.5-01:00",
                "2024-01-01T00:00:00Z",
            ],
            dtype=object,
        ),
        "flag": pd.Series([True, None, False, True, None, False], dtype=object),
        "odd": pd.Series([" padded ", "\ttab", "=SUM(A1)", "+1", "-2", "@x"], dtype=object),
    }
)
TRICKY_TYPES = {
    "id": "string",
    "big": "integer",
    "text": "string",
    "amount": "number",
    "day": "date",
    "at": "datetime",
    "flag": "boolean",
    "odd": "string",
}


def tricky_expected() -> pd.DataFrame:
    ts = pd.Timestamp
    frame = pd.DataFrame(
        {
            "id": pd.array(["00123", "0042", "A-1", None, "", "00000"], dtype="string[pyarrow]"),
            "big": pd.array([2**63 - 1, 2**53 + 1, -(2**63), None, 0, 9007199254740993], dtype="Int64"),
            "text": pd.array(
                ["héllo 👋🏽", "שלום עולם", 'say "hi", ok', "l1\r\nl2\rl3\nl4", "", None], dtype="string[pyarrow]"
            ),
            "amount": [0.1, 1e-300, -2.5, np.inf, np.nan, 1.7976931348623157e308],
            "day": pd.Series(
                np.array(["2024-02-29", "NaT", "0001-01-01", "9999-12-31", "1970-01-01", "NaT"], dtype="datetime64[ms]")
            ),
            "at": pd.Series(
                [
                    ts("2024-01-01T10:00:00Z"),
                    ts("2024-01-01T02:00:00Z"),
                    ts("2024-06-30T23:59:59.999999Z"),
                    None,
                    ts("1970-01-01T00:59:59.5Z"),
                    ts("2024-01-01T00:00:00Z"),
                ],
                dtype="datetime64[us, UTC]",
            ),
            "flag": pd.array([True, None, False, True, None, False], dtype="boolean"),
            "odd": pd.array([" padded ", "\ttab", "=SUM(A1)", "+1", "-2", "@x"], dtype="string[pyarrow]"),
        }
    )
    return frame


def test_tricky_table_infers_the_expected_schema():
    assert infer_schema(TRICKY).types == TRICKY_TYPES


def test_tricky_table_round_trips_identically_through_csv_and_parquet():
    schema = TableSchema.of(TRICKY_TYPES)
    csv, parquet, result = write(TRICKY, schema)
    frame = both_reads(csv, parquet, schema)
    pd.testing.assert_frame_equal(frame, tricky_expected())
    assert dict(frame.dtypes) == pandas_dtypes(schema)
    assert frame["big"][0] == 2**63 - 1 and frame["big"][1] == 2**53 + 1
    assert result.row_count == 6


def test_exact_bytes_of_the_dialect():
    schema = TableSchema.of(
        {"s": "string", "i": "integer", "n": "number", "b": "boolean", "d": "date", "t": "datetime"}
    )
    frame = pd.DataFrame(
        {
            "s": ["a,b", "", None, 'q"', "x\ny"],
            "i": pd.array([1, None, -5, 2**62, 0], dtype="Int64"),
            "n": [0.1, np.nan, 1e-300, 1e16, -np.inf],
            "b": pd.array([True, None, False, True, False], dtype="boolean"),
            "d": [dt.date(2024, 1, 1), None, dt.date(1999, 12, 31), dt.date(1, 1, 1), dt.date(2024, 1, 1)],
            "t": [
                dt.datetime(2024, 1, 1, 2, 3, 4, tzinfo=UTC),
                None,
                dt.datetime(2024, 1, 1, 2, 3, 4, 123456, tzinfo=UTC),
                dt.datetime(2024, 1, 1, 10, 3, 4, tzinfo=dt.timezone(dt.timedelta(hours=8))),
                dt.datetime(2024, 1, 1, 0, 0, 0, 500000),
            ],
        }
    )
    csv, _, result = write(frame, schema)
    assert csv.decode("utf-8") == (
        "s,i,n,b,d,t\n"
        '"a,b",1,0.1,true,2024-01-01,2024-01-01T02:03:04Z\n'
        '"",,,,,\n'
        ",-5,1e-300,false,1999-12-31,2024-01-01T02:03:04.123456Z\n"
        '"q""",4611686018427387904,1e+16,true,0001-01-01,2024-01-01T02:03:04Z\n'
        '"x\ny",0,-inf,false,2024-01-01,2024-01-01T00:00:00.500000Z\n'
    )
    assert result.sha256 == hashlib.sha256(csv).hexdigest()
    assert result.size_bytes == len(csv)
    assert result.row_count == 5


def test_header_names_are_quoted_when_needed():
    schema = TableSchema.of({"a,b": "integer", 'q"': "integer"})
    csv, parquet, _ = write(pd.DataFrame({"a,b": [1], 'q"': [2]}), schema)
    assert csv.startswith(b'"a,b","q"""\n')
    assert both_reads(csv, parquet, schema).columns.tolist() == ["a,b", 'q"']


def test_same_input_gives_same_bytes_and_hashes():
    schema = TableSchema.of(TRICKY_TYPES)
    first_csv, first_pq, first = write(TRICKY, schema)
    second_csv, second_pq, second = write(TRICKY.copy(), schema)
    assert first_csv == second_csv and first.sha256 == second.sha256
    assert first_pq == second_pq and first.parquet_sha256 == second.parquet_sha256
    assert first.parquet_sha256 == hashlib.sha256(first_pq).hexdigest()
    assert first.parquet_size_bytes == len(first_pq)


def test_chunked_writing_equals_a_single_write():
    schema = TableSchema.of(TRICKY_TYPES)
    whole_csv, whole_pq, whole = write(TRICKY, schema)
    chunks = [TRICKY.iloc[0:1], TRICKY.iloc[1:1], TRICKY.iloc[1:4], TRICKY.iloc[4:6]]
    csv, parquet, result = write(chunks, schema)
    assert csv == whole_csv and result.sha256 == whole.sha256 and result.row_count == 6
    assert pq.ParquetFile(io.BytesIO(parquet)).metadata.num_row_groups == 3
    pd.testing.assert_frame_equal(read_parquet(parquet, schema), read_parquet(whole_pq, schema))


def test_chunks_larger_than_one_render_slice():
    n = 70_000
    frame = pd.DataFrame({"k": np.arange(n), "s": np.where(np.arange(n) % 3 == 0, "a,b", "c")})
    schema = infer_schema(frame)
    csv, parquet, result = write(frame, schema)
    assert result.row_count == n and csv.count(b"\n") == n + 1
    loaded = both_reads(csv, parquet, schema)
    assert loaded["k"].tolist() == list(range(n))
    assert (loaded["s"] == frame["s"]).all()


# -- values and edge cases --------------------------------------------------------------------


def test_nan_is_null_and_infinities_survive():
    schema = TableSchema.of({"x": "number", "s": "string"})
    frame = pd.DataFrame({"x": [np.nan, np.inf, -np.inf, 0.3], "s": pd.Series([np.nan, "a", None, ""], dtype=object)})
    csv, parquet, _ = write(frame, schema)
    assert csv.split(b"\n")[1] == b","
    loaded = both_reads(csv, parquet, schema)
    assert np.isnan(loaded["x"][0]) and loaded["x"][1] == np.inf and loaded["x"][2] == -np.inf
    assert loaded["s"].isna().tolist() == [True, False, True, False]
    assert loaded["s"][3] == ""


def test_single_column_keeps_null_rows_and_empty_strings():
    schema = TableSchema.of({"only": "string"})
    csv, parquet, _ = write(pd.DataFrame({"only": ["a", None, "", None]}), schema)
    assert csv == b'only\na\n\n""\n\n'
    loaded = both_reads(csv, parquet, schema)
    assert loaded["only"].tolist() == ["a", pd.NA, "", pd.NA]


def test_empty_dataset_reads_back_with_dtypes():
    schema = TableSchema.of(TRICKY_TYPES)
    csv, parquet, result = write([], schema)
    assert csv == b"id,big,text,amount,day,at,flag,odd\n"
    assert result.row_count == 0
    loaded = both_reads(csv, parquet, schema)
    assert len(loaded) == 0 and dict(loaded.dtypes) == pandas_dtypes(schema)


def test_typed_inputs_are_normalized():
    frame = pd.DataFrame(
        {
            "naive": pd.to_datetime(["2024-01-01 10:00:00.123456789"]),
            "manila": pd.to_datetime(["2024-01-01 10:00"]).tz_localize("Asia/Manila"),
            "dec": [Decimal("1.25")],
            "whole": [Decimal("12")],
            "day": [dt.date(2024, 5, 6)],
            "nullable": pd.array([7], dtype="Int64"),
        }
    )
    schema = infer_schema(frame)
    assert schema.types == {
        "naive": "datetime",
        "manila": "datetime",
        "dec": "number",
        "whole": "integer",
        "day": "date",
        "nullable": "integer",
    }
    csv, parquet, _ = write(frame, schema)
    assert csv.split(b"\n")[1] == b"2024-01-01T10:00:00.123456Z,2024-01-01T02:00:00Z,1.25,12,2024-05-06,7"
    both_reads(csv, parquet, schema)


def test_arrow_tables_are_accepted_as_chunks():
    schema = TableSchema.of({"a": "integer", "b": "string"})
    csv, _, _ = write([pa.table({"b": ["x", None], "a": [1, 2]})], schema)
    assert csv == b"a,b\n1,x\n2,\n"


def test_typed_values_are_rendered_as_text_in_string_columns():
    schema = TableSchema.of({"v": "string"})
    values = pd.Series([5, 2.5, True, dt.date(2024, 1, 2), dt.datetime(2024, 1, 2, 3, 4, 5), "x", None], dtype=object)
    csv, _, _ = write(pd.DataFrame({"v": values}), schema)
    assert csv == b"v\n5\n2.5\ntrue\n2024-01-02\n2024-01-02T03:04:05Z\nx\n\n"


# -- the formula guard ------------------------------------------------------------------------


def test_guard_csv_formulas():
    schema = TableSchema.of({"s": "string", "n": "integer", "x": "number"})
    frame = pd.DataFrame(
        {
            "s": ['=HYPERLINK("http://x","y")', "+1", "-2", "@SUM(A1)", "\tcmd", "\rcmd", "safe", "a=b", None],
            "n": [-1, -2, -3, -4, -5, -6, -7, -8, -9],
            "x": [-0.5] * 9,
        }
    )
    plain_csv, _, _ = write(frame, schema)
    assert b'"=HYPERLINK(""http://x"",""y"")"' in plain_csv
    csv, parquet, _ = write(frame, schema, guard_csv_formulas=True)
    loaded = both_reads(csv, parquet, schema)
    assert loaded["s"].tolist() == [
        '\'=HYPERLINK("http://x","y")',
        "'+1",
        "'-2",
        "'@SUM(A1)",
        "'\tcmd",
        "'\rcmd",
        "safe",
        "a=b",
        pd.NA,
    ]
    assert loaded["n"].tolist() == list(range(-1, -10, -1))
    assert (loaded["x"] == -0.5).all()
    assert csv.split(b"\n")[1] == b'"\'=HYPERLINK(""http://x"",""y"")",-1,-0.5'


# -- property: any strings round-trip ---------------------------------------------------------


@settings(max_examples=120, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=12)), max_size=25))
def test_strings_round_trip(values):
    schema = TableSchema.of({"s": "string", "k": "integer", "t": "string"})
    frame = pd.DataFrame(
        {"s": pd.Series(values, dtype=object), "k": range(len(values)), "t": pd.Series(values[::-1], dtype=object)}
    )
    csv, parquet, _ = write(frame, schema)
    loaded = both_reads(csv, parquet, schema)
    assert loaded["s"].tolist() == [pd.NA if v is None else v for v in values]
    assert loaded["t"].tolist() == [pd.NA if v is None else v for v in values[::-1]]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(alphabet=',"\r\n \tab', max_size=6)), min_size=1, max_size=15))
def test_single_string_column_round_trips(values):
    schema = TableSchema.of({"s": "string"})
    csv, parquet, _ = write(pd.DataFrame({"s": pd.Series(values, dtype=object)}), schema)
    assert both_reads(csv, parquet, schema)["s"].tolist() == [pd.NA if v is None else v for v in values]


# -- reading ----------------------------------------------------------------------------------


def test_columns_and_limit_agree_between_csv_and_parquet():
    schema = TableSchema.of(TRICKY_TYPES)
    csv, parquet, _ = write(TRICKY, schema)
    expected = tricky_expected()
    for kw in [{"columns": ["at", "id"]}, {"limit": 2}, {"limit": 0}, {"limit": 100}, {"columns": ["big"], "limit": 3}]:
        loaded = both_reads(csv, parquet, schema, **kw)
        cut = expected[kw.get("columns", expected.columns)].head(kw.get("limit", len(expected)))
        pd.testing.assert_frame_equal(loaded, cut.reset_index(drop=True))


def test_sources_path_bytes_and_file_objects(tmp_path: Path):
    schema = TableSchema.of(TRICKY_TYPES)
    result = write_dataset_files([TRICKY], schema, tmp_path / "d.csv", tmp_path / "d.parquet")
    csv_bytes = (tmp_path / "d.csv").read_bytes()
    assert result.sha256 == hashlib.sha256(csv_bytes).hexdigest()
    expected = tricky_expected()
    with open(tmp_path / "d.csv", "rb") as handle:
        pd.testing.assert_frame_equal(read_csv(handle, schema), expected)
    pd.testing.assert_frame_equal(read_csv(tmp_path / "d.csv", schema), expected)
    pd.testing.assert_frame_equal(read_csv(str(tmp_path / "d.csv"), schema), expected)
    pd.testing.assert_frame_equal(read_csv(memoryview(csv_bytes), schema), expected)
    with open(tmp_path / "d.parquet", "rb") as handle:
        pd.testing.assert_frame_equal(read_parquet(handle, schema), expected)
    pd.testing.assert_frame_equal(read_parquet(tmp_path / "d.parquet", schema, limit=1), expected.head(1))


def test_reading_errors_are_one_line_schema_errors():
    schema = TableSchema.of({"a": "integer", "b": "string"})
    csv, parquet, _ = write(pd.DataFrame({"a": [1], "b": ["x"]}), schema)
    other = TableSchema.of({"a": "integer", "c": "string"})
    for call in (
        lambda: read_csv(csv, other),
        lambda: read_parquet(parquet, other),
        lambda: read_csv(b"a,b\nnot-a-number,x\n", schema),
        lambda: read_csv(csv, schema, columns=["zz"]),
        lambda: read_csv(csv, schema, limit=-1),
        lambda: read_parquet(parquet, schema, limit=True),
        lambda: read_parquet(b"not parquet", schema),
    ):
        with pytest.raises(SchemaError) as info:
            call()
        assert "\n" not in str(info.value)


def test_table_to_frame_orders_and_types_columns():
    schema = TableSchema.of({"b": "integer", "a": "date"})
    table = pa.table({"a": pa.array([dt.date(2024, 1, 1)]), "b": pa.array([1], pa.int32()), "extra": ["x"]})
    frame = table_to_frame(table, schema)
    assert frame.columns.tolist() == ["b", "a"]
    assert dict(frame.dtypes) == pandas_dtypes(schema)


# -- writing errors and atomicity -------------------------------------------------------------


def test_chunks_that_do_not_fit_the_schema_raise():
    schema = TableSchema.of({"a": "integer", "b": "boolean"})
    with pytest.raises(SchemaError, match="missing \\['b'\\]"):
        to_arrow_table(pd.DataFrame({"a": [1]}), schema)
    with pytest.raises(SchemaError, match="Column 'a' does not fit type integer"):
        to_arrow_table(pd.DataFrame({"a": ["x"], "b": [True]}), schema)
    with pytest.raises(SchemaError, match="Column 'a' does not fit type integer"):
        to_arrow_table(pd.DataFrame({"a": [1.5], "b": [True]}), schema)
    with pytest.raises(SchemaError, match="'maybe' is not true or false"):
        to_arrow_table(pd.DataFrame({"a": [1], "b": ["maybe"]}), schema)


def test_atomic_file_replaces_only_on_success(tmp_path: Path):
    target = tmp_path / "sub" / "x.csv"
    with atomic_file(target) as handle:
        handle.write(b"one")
    assert target.read_bytes() == b"one"
    with pytest.raises(RuntimeError), atomic_file(target) as handle:
        handle.write(b"two")
        raise RuntimeError("boom")
    assert target.read_bytes() == b"one"
    assert sorted(p.name for p in target.parent.iterdir()) == ["x.csv"]


def test_failed_dataset_write_leaves_no_files(tmp_path: Path):
    schema = TableSchema.of({"a": "integer"})
    (tmp_path / "old.csv").write_bytes(b"a\n1\n")
    chunks = [pd.DataFrame({"a": [1, 2]}), pd.DataFrame({"a": ["oops"]})]
    with pytest.raises(SchemaError):
        write_dataset_files(chunks, schema, tmp_path / "old.csv", tmp_path / "old.parquet")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.csv"]
    assert (tmp_path / "old.csv").read_bytes() == b"a\n1\n"


def test_writer_refuses_writes_after_close():
    writer = CsvParquetWriter(io.BytesIO(), TableSchema.of({"a": "integer"}))
    first = writer.close()
    assert writer.close() is first
    with pytest.raises(SchemaError, match="closed"):
        writer.write(pd.DataFrame({"a": [1]}))
    aborted = CsvParquetWriter(io.BytesIO(), TableSchema.of({"a": "integer"}))
    aborted.abort()
    with pytest.raises(SchemaError, match="aborted"):
        aborted.close()


# -- typed values from a real PostgreSQL ------------------------------------------------------


@pytest.mark.postgres
def test_postgres_result_chunks_round_trip(postgres_url):
    import sqlalchemy as sa

    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE t (code text, n bigint, price numeric(12,2), huge numeric(20,0), day date,"
                " at timestamptz, local_at timestamp, ok boolean)"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO t VALUES"
                " ('007', 9223372036854775807, 10.50, 9007199254740993, '2024-02-29', '2024-01-01 10:00+08',"
                " '2024-01-01 10:00', true),"
                " ('010', NULL, NULL, NULL, NULL, NULL, NULL, NULL),"
                " ('', -1, 0.10, 1, '0001-01-01', '1999-12-31 23:59:59.5+00', '1999-12-31 23:59:59', false)"
            )
        )
    query = "SELECT *, sum(n) OVER () AS total FROM t ORDER BY code DESC"
    with engine.connect() as conn:
        chunks = list(pd.read_sql(sa.text(query), conn, chunksize=2, **READ_SQL_OPTIONS))
    engine.dispose()
    schema = infer_schema(chunks)
    assert schema.types == {
        "code": "string",
        "n": "integer",
        "price": "number",
        "huge": "integer",
        "day": "date",
        "at": "datetime",
        "local_at": "datetime",
        "ok": "boolean",
        "total": "integer",
    }
    csv, parquet, result = write(chunks, schema)
    loaded = both_reads(csv, parquet, schema)
    assert result.row_count == 3
    assert loaded["code"].tolist() == ["010", "007", ""]
    assert loaded["n"].tolist() == [pd.NA, 2**63 - 1, -1]
    assert loaded["huge"].tolist() == [pd.NA, 9007199254740993, 1]
    assert loaded["price"].tolist()[1:] == [10.5, 0.1]
    assert loaded["at"][1] == pd.Timestamp("2024-01-01T02:00:00Z")
    assert loaded["local_at"][2] == pd.Timestamp("1999-12-31T23:59:59Z")
    assert loaded["day"][2] == pd.Timestamp("0001-01-01")
    assert loaded["ok"].tolist() == [pd.NA, True, False]
