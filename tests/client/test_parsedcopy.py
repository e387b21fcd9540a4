"""The warm path of parsed copies: the direct pandas conversion, kept mappings, throttled touches."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from scout_jupyter import parsedcopy
from scout_jupyter.cache import Cache

DIGEST = "ab" * 32


@pytest.fixture
def cache(tmp_path, fake_clock) -> Cache:
    return Cache(tmp_path / "c", max_bytes="1MB", clock=fake_clock)


def every_dtype(nulls: bool) -> pd.DataFrame:
    """One column of each dtype a loaded frame can have (csvio.pandas_dtypes), with or without nulls."""
    n = 7
    missing = [i % 3 == 1 for i in range(n)] if nulls else [False] * n

    def masked(values, dtype):
        return pd.array([None if m else v for v, m in zip(values, missing, strict=True)], dtype=dtype)

    times = pd.date_range("2024-08-01", periods=n, freq="h")
    return pd.DataFrame(
        {
            "code": masked([f"{i:04d}" for i in range(n)], pd.StringDtype("pyarrow")),
            "n": masked(list(range(n)), "Int64"),
            "flag": masked([i % 2 == 0 for i in range(n)], "boolean"),
            "x": [np.nan if m else i / 4 for i, m in enumerate(missing)],
            "day": pd.Series(
                [pd.NaT if m else t for t, m in zip(times.normalize(), missing, strict=True)], dtype="datetime64[ms]"
            ),
            "at": pd.Series(
                [pd.NaT if m else t for t, m in zip(times, missing, strict=True)], dtype="datetime64[us]"
            ).dt.tz_localize("UTC"),
            "ns": pd.Series([pd.NaT if m else t for t, m in zip(times, missing, strict=True)], dtype="datetime64[ns]"),
        }
    )


def pyarrow_frame(table: pa.Table) -> pd.DataFrame:
    """What the generic conversion gives (the reference for the direct one)."""
    return table.replace_schema_metadata(None).to_pandas(types_mapper=parsedcopy._ARROW_TO_PANDAS.get)


@pytest.mark.parametrize("nulls", [False, True])
def test_direct_conversion_gives_what_pyarrow_gives(cache, nulls):
    frame = every_dtype(nulls)
    cache.write_frame(DIGEST, "fp", frame, source_size=1)
    loaded = cache.read_frame(DIGEST, "fp", source_size=1)
    pd.testing.assert_frame_equal(loaded, frame)
    pd.testing.assert_frame_equal(loaded, pyarrow_frame(parsedcopy.build_table(frame, DIGEST, 1)))
    assert loaded["at"].dtype == pyarrow_frame(parsedcopy.build_table(frame, DIGEST, 1))["at"].dtype
    assert loaded.columns.dtype == pd.Index(list(frame.columns)).dtype
    part = cache.read_frame(DIGEST, "fp", columns=["at", "code", "n"], limit=3)
    pd.testing.assert_frame_equal(part, frame[["at", "code", "n"]].iloc[:3])


def test_loaded_frames_are_writable_and_independent(cache):
    cache.write_frame(DIGEST, "fp", every_dtype(False), source_size=1)
    first = cache.read_frame(DIGEST, "fp")
    first.loc[0, "n"] = 99
    first.loc[0, "x"] = -1.0
    first.loc[0, "flag"] = False
    first.loc[0, "day"] = pd.Timestamp("2000-01-01")
    first.columns.name = "renamed"
    first.index.name = "rows"
    second = cache.read_frame(DIGEST, "fp")
    assert second.loc[0, "n"] == 0 and second.loc[0, "x"] == 0.0 and bool(second.loc[0, "flag"]) is True
    assert second.loc[0, "day"] == pd.Timestamp("2024-08-01")
    assert second.columns.name is None and second.index.name is None


def test_limits_across_several_record_batches(cache, monkeypatch):
    monkeypatch.setattr(parsedcopy, "BATCH_ROWS", 3)
    frame = every_dtype(True)  # 7 rows: batches of 3, 3, 1
    cache.write_frame(DIGEST, "fp", frame, source_size=1)
    for limit in (0, 2, 3, 4, 6, 7, 50):
        part = cache.read_frame(DIGEST, "fp", columns=["n", "code"], limit=limit)
        pd.testing.assert_frame_equal(part, frame[["n", "code"]].iloc[:limit])
    pd.testing.assert_frame_equal(cache.read_frame(DIGEST, "fp"), frame)
    pd.testing.assert_frame_equal(cache.read_frame(DIGEST, "fp", limit=5), frame.iloc[:5])


def test_an_empty_frame(cache):
    frame = every_dtype(False).iloc[:0]
    cache.write_frame(DIGEST, "fp", frame, source_size=1)
    pd.testing.assert_frame_equal(cache.read_frame(DIGEST, "fp"), frame)
    pd.testing.assert_frame_equal(cache.read_frame(DIGEST, "fp", columns=["code"], limit=5), frame[["code"]])


def test_other_frames_keep_their_pandas_metadata(cache):
    frame = pd.DataFrame({"obj": ["a", None, "c"], "i": np.array([1, 2, 3], dtype="int32")})
    cache.write_frame(DIGEST, "fp", frame, source_size=1)
    pd.testing.assert_frame_equal(cache.read_frame(DIGEST, "fp"), frame)
    pd.testing.assert_frame_equal(cache.read_frame(DIGEST, "fp", columns=["i"], limit=2), frame[["i"]].iloc[:2])


def test_a_replaced_or_removed_copy_is_never_read_from_an_old_mapping(cache):
    cache.write_frame(DIGEST, "fp", pd.DataFrame({"a": pd.array([1, 2], dtype="Int64")}), source_size=1)
    assert cache.read_frame(DIGEST, "fp", source_size=1)["a"].tolist() == [1, 2]  # now mapped
    cache.write_frame(DIGEST, "fp", pd.DataFrame({"a": pd.array([3, 4], dtype="Int64")}), source_size=2)
    assert cache.read_frame(DIGEST, "fp", source_size=1) is None  # the new file records another source
    assert cache.read_frame(DIGEST, "fp", source_size=2)["a"].tolist() == [3, 4]
    os.unlink(cache.parsed_path(DIGEST, "fp"))
    assert cache.read_frame(DIGEST, "fp", source_size=2) is None


def test_mappings_are_bounded_and_dropped_with_their_files(cache):
    digests = [f"{i:02x}" * 32 for i in range(10)]
    for digest in digests:
        cache.write_frame(digest, "fp", pd.DataFrame({"a": [1.0]}), source_size=1)
        assert cache.read_frame(digest, "fp") is not None
    assert len(cache._copies._open) == cache._copies.keep == 8
    cache.remove(digests[-1])
    assert str(cache.parsed_path(digests[-1], "fp")) not in cache._copies._open


def test_hits_touch_the_lru_order_at_most_once_per_interval(cache, fake_clock):
    cache.write_frame(DIGEST, "fp", pd.DataFrame({"a": [1.0]}), source_size=1)
    path = cache.parsed_path(DIGEST, "fp")
    start = fake_clock.time()
    fake_clock.advance(5)
    cache.read_frame(DIGEST, "fp")
    assert os.stat(path).st_mtime == pytest.approx(start + 5, abs=1e-3)  # first hit: touched
    fake_clock.advance(cache.touch_interval - 1)
    cache.read_frame(DIGEST, "fp")
    assert os.stat(path).st_mtime == pytest.approx(start + 5, abs=1e-3)  # within the interval: not again
    fake_clock.advance(1)
    cache.read_frame(DIGEST, "fp")
    assert os.stat(path).st_mtime == pytest.approx(start + 5 + cache.touch_interval, abs=1e-3)


def test_touch_interval_zero_touches_every_hit(tmp_path, fake_clock):
    cache = Cache(tmp_path / "c", clock=fake_clock, touch_interval=0)
    data = b"x" * 10
    digest = hashlib.sha256(data).hexdigest()
    path = cache.put_bytes(digest, "csv", data, "x")
    for _ in range(3):
        fake_clock.advance(1)
        assert cache.get_object(digest, "csv", 10) == path
        assert os.stat(path).st_mtime == pytest.approx(fake_clock.time(), abs=1e-3)
