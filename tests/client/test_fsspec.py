"""``scout://`` through fsspec: pandas reads the verified cached file."""

from __future__ import annotations

import fsspec
import pandas as pd
import pytest

from scout_jupyter.fsspec_scout import ScoutFileSystem

from .fakeserver import TOKEN
from .helpers import add_parquet_copies, republish

TXN = "gold/txn_daily"
V2 = "date_key,store_code,region,revenue,transactions\n2024-08-11,0042,NCR,1700,35\n"


@pytest.fixture
def env_store(monkeypatch, small_store):
    monkeypatch.setenv("SCOUT_STORAGE_URL", small_store.url)
    ScoutFileSystem.clear_instance_cache()
    yield small_store
    ScoutFileSystem.clear_instance_cache()


def test_the_protocol_is_registered():
    assert fsspec.get_filesystem_class("scout") is ScoutFileSystem


def test_pandas_reads_scout_urls(env_store):
    df = pd.read_csv("scout://gold/txn_daily", dtype={"store_code": str})
    assert df["store_code"].tolist() == ["0042", "0107", "0042"]
    with fsspec.open("scout://gold/txn_daily.csv", "rb") as fh:
        assert fh.read() == env_store.csv[TXN]


def test_listing_and_info(env_store):
    fs = fsspec.filesystem("scout")
    assert fs.ls("", detail=False) == ["gold", "platinum"]
    assert fs.ls("scout://gold", detail=False) == ["gold/product_mix", "gold/txn_daily"]
    info = fs.info("scout://gold/txn_daily")
    assert info["type"] == "file" and info["size"] == len(env_store.csv[TXN])
    assert fs.isdir("gold") and fs.exists("gold/txn_daily") and not fs.exists("gold/nope")
    assert fs.cat_file("gold/txn_daily") == env_store.csv[TXN]
    with pytest.raises(FileNotFoundError):
        fs.open("gold/../../etc/passwd")


def test_read_only(env_store):
    with pytest.raises(PermissionError, match="read-only"):
        fsspec.filesystem("scout").open("gold/txn_daily", "wb")


def test_parquet_and_dated_paths(env_store, fake_clock):
    add_parquet_copies(env_store.storage, fake_clock)
    frame = pd.read_parquet("scout://gold/txn_daily.parquet")
    assert frame["store_code"].tolist() == ["0042", "0107", "0042"]
    republish(env_store.storage, TXN, V2, "2024-08-11", fake_clock)
    fs = ScoutFileSystem(storage_url=env_store.url, skip_instance_cache=True)
    assert fs.cat_file("gold/txn_daily") == V2.encode()
    assert fs.cat_file("gold/txn_daily@2024-08-10") == env_store.csv[TXN]


def test_storage_options_choose_the_server(fake_server):
    df = pd.read_csv(
        "scout://platinum/store_perf",
        storage_options={"api_url": fake_server.url, "token": TOKEN},
        dtype={"store_code": str},
    )
    assert df["store_code"].tolist() == ["0042", "0107"]
    assert fake_server.calls["download"] == 1


def test_the_arrow_copy_has_exactly_the_dtypes_of_load(env_store):
    """``pd.read_csv`` guesses types (store codes lose their zeros); the ``.arrow`` copy is what
    ``scout.load`` reads, so ``pd.read_feather`` gives the same frame, dtypes included."""
    import scout_jupyter as scout

    guessed = pd.read_csv("scout://gold/txn_daily")
    assert guessed["store_code"].tolist() == [42, 107, 42]  # why the README points elsewhere
    typed = pd.read_feather("scout://gold/txn_daily.arrow")
    loaded = scout.load(TXN)
    pd.testing.assert_frame_equal(typed, loaded, check_like=False)
    assert dict(typed.dtypes) == dict(loaded.dtypes)
    assert typed["store_code"].tolist() == ["0042", "0107", "0042"]
    assert str(typed["date_key"].dtype).startswith("datetime64")
    info = fsspec.filesystem("scout").info("scout://gold/txn_daily.arrow")
    assert info["type"] == "file" and info["size"] > 0 and info["sha256"] == env_store.manifest.get(TXN).sha256
