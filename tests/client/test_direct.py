"""The client in direct mode (straight to a local store): loads, cache, versions, errors."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

import scout_jupyter as scout
from scout_jupyter.errors import (
    ChecksumMismatch,
    ConfigError,
    DatasetNotFound,
    InvalidDatasetId,
    InvalidTTL,
    ManifestInvalid,
    SchemaError,
)
from scout_jupyter.manifest import latest_manifest_key

from .helpers import add_parquet_copies, flip_byte, republish

TXN = "gold/txn_daily"
V2 = "date_key,store_code,region,revenue,transactions\n2024-08-11,0042,NCR,1700,35\n"


def cached_files(client) -> list[str]:
    return sorted(p.name for p in (client.cache.root / "objects").rglob("*") if p.is_file())


def test_load_types_values_and_provenance(direct_client, small_store):
    df = direct_client.load(TXN)
    assert list(df.columns) == ["date_key", "store_code", "region", "revenue", "transactions"]
    assert df["store_code"].tolist() == ["0042", "0107", "0042"]  # leading zeros kept
    assert df["date_key"].dtype == np.dtype("datetime64[ms]")
    assert df["date_key"].iloc[0] == pd.Timestamp("2024-08-09")
    assert str(df["store_code"].dtype) == "string" and str(df["transactions"].dtype) == "Int64"
    assert df["revenue"].tolist() == [1520.5, 980.25, 1610.0]
    entry = small_store.manifest.get(TXN)
    assert df.attrs["scout"] == {
        "id": TXN,
        "date": "2024-08-10",
        "sha256": entry.sha256,
        "schema_version": "1.0.0",
        "source": "download",
        "format": "csv",
        "origin": small_store.url,
    }
    booleans = direct_client.load("platinum/store_perf")["is_top_decile"]
    assert str(booleans.dtype) == "boolean" and booleans.tolist() == [True, False]


def test_warm_load_reads_only_the_cache(direct_client, small_store):
    cold = direct_client.load(TXN)
    small_store.storage.delete(small_store.manifest.get(TXN).csv_key)  # the store can no longer serve it
    warm = direct_client.load(TXN)
    pd.testing.assert_frame_equal(warm, cold)
    assert warm.attrs["scout"]["source"] == "cache"
    assert cached_files(direct_client) == [f"{small_store.manifest.get(TXN).sha256}.csv"]


def test_columns_and_limit(direct_client):
    full = direct_client.load(TXN)
    part = direct_client.load(TXN, columns=["revenue", "store_code"], limit=2)
    pd.testing.assert_frame_equal(part, full[["revenue", "store_code"]].iloc[:2])
    assert direct_client.load(TXN, limit=0).shape == (0, 5)


def test_columns_and_limit_read_the_parquet_copy_when_cold(direct_client, small_store, fake_clock):
    add_parquet_copies(small_store.storage, fake_clock)
    part = direct_client.load(TXN, columns=["store_code", "transactions"], limit=2)
    assert part.attrs["scout"]["format"] == "parquet"
    assert part["store_code"].tolist() == ["0042", "0107"]
    assert [p.endswith(".parquet") for p in cached_files(direct_client)] == [True]  # no CSV downloaded
    full = direct_client.load(TXN)
    assert full.attrs["scout"]["format"] == "parquet"  # full loads prefer the Parquet copy too
    assert [p.endswith(".parquet") for p in cached_files(direct_client)] == [True]
    pd.testing.assert_frame_equal(full, direct_client.load(TXN, verify="full"))
    pd.testing.assert_frame_equal(part, full[["store_code", "transactions"]].iloc[:2])
    assert direct_client.load(TXN, columns=["region"]).attrs["scout"]["format"] == "arrow"  # parsed copy cached


def test_unknown_column_lists_the_available_ones(direct_client):
    with pytest.raises(SchemaError, match=r"Unknown column\(s\): revenu \(columns: date_key, store_code, region"):
        direct_client.load(TXN, columns=["revenu"])


@pytest.mark.parametrize("limit", [-1, 1.5, "10", True])
def test_bad_limit(direct_client, limit):
    with pytest.raises(SchemaError, match="limit must be a non-negative integer"):
        direct_client.load(TXN, limit=limit)


def test_not_found_suggests_close_ids(direct_client):
    with pytest.raises(DatasetNotFound) as info:
        direct_client.load("gold/txn_dialy")
    assert str(info.value) == "Dataset not found: gold/txn_dialy (did you mean gold/txn_daily?)"
    with pytest.raises(InvalidDatasetId):
        direct_client.load("../etc/passwd")


def test_load_raw_and_signed_url(direct_client, small_store):
    assert direct_client.load_raw(TXN) == small_store.csv[TXN]
    # A local store cannot hand out a URL anyone can open: a Jupyter server must serve it.
    with pytest.raises(ConfigError, match=r"^A local store's signed URLs are served by a running Jupyter server"):
        direct_client.signed_url(TXN, ttl=60)
    with pytest.raises(InvalidTTL, match=r"^Invalid TTL 0: expected a whole number of seconds from 1 to 86400$"):
        direct_client.signed_url(TXN, ttl=0)


def test_corrupted_store_file_raises_and_caches_nothing(direct_client, small_store):
    flip_byte(small_store.storage, small_store.manifest.get(TXN).csv_key)
    with pytest.raises(ChecksumMismatch, match=rf"^Checksum validation failed for {TXN}: expected "):
        direct_client.load(TXN)
    assert cached_files(direct_client) == []
    assert list((direct_client.cache.root / "tmp").iterdir()) == []


def test_verify_full_rehashes_and_heals_the_cache(direct_client, small_store):
    direct_client.load(TXN)
    entry = small_store.manifest.get(TXN)
    cached = direct_client.cache.object_path(entry.sha256, "csv")
    cached.write_bytes(cached.read_bytes().replace(b"NCR", b"XYZ"))  # same size, other bytes
    healed = direct_client.load(TXN, verify="full")
    assert healed["region"].tolist() == ["NCR", "CALABARZON", "NCR"]
    assert healed.attrs["scout"]["source"] == "download"
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == entry.sha256
    with pytest.raises(ConfigError, match="verify must be one of"):
        direct_client.load(TXN, verify="sometimes")


def test_manifest_ttl_and_date_versions(direct_client, small_store, fake_clock):
    first = direct_client.load(TXN)
    republish(small_store.storage, TXN, V2, "2024-08-11", fake_clock)  # advances the clock one hour
    fake_clock.set(fake_clock.time() - 3600 + 899)
    assert direct_client.load(TXN).attrs["scout"]["date"] == "2024-08-10"  # manifest still within its TTL
    fake_clock.advance(2)
    latest = direct_client.load(TXN)
    assert latest.attrs["scout"]["date"] == "2024-08-11" and latest["transactions"].tolist() == [35]
    # A publish lock and its break marker live beside the snapshots; they are not manifests.
    small_store.storage.write("scout/v1/manifests/.publish.lock", b'{"owner": "x"}')
    small_store.storage.write("scout/v1/manifests/.publish.lock.break-1", b"marker")
    older = direct_client.load(TXN, date="2024-08-10")
    pd.testing.assert_frame_equal(older, first)
    assert older.attrs["scout"]["date"] == "2024-08-10"
    with pytest.raises(DatasetNotFound, match="dated 2024-07-01"):
        direct_client.load(TXN, date="2024-07-01")
    with pytest.raises(ConfigError, match="Invalid date"):
        direct_client.load(TXN, date="yesterday")


def test_a_new_dataset_is_found_without_waiting_for_the_ttl(direct_client, small_store, fake_clock):
    direct_client.datasets()
    manifest = small_store.manifest
    entry = manifest.get(TXN)
    from dataclasses import replace

    from .helpers import write_manifest

    write_manifest(small_store.storage, manifest.with_entries([replace(entry, id="gold/txn_weekly")]), fake_clock)
    assert direct_client.load("gold/txn_weekly")["store_code"].tolist() == ["0042", "0107", "0042"]


def test_malformed_manifest_is_a_clear_error(direct_client, small_store):
    small_store.storage.write(latest_manifest_key(), b'{"generated_at": "2024-08-10T02:15:00Z", "datasets": {')
    with pytest.raises(ManifestInvalid, match="Manifest is not valid JSON"):
        direct_client.datasets()


def test_datasets_and_status(direct_client, fake_clock):
    table = direct_client.datasets()
    assert table["id"].tolist() == ["gold/product_mix", "gold/txn_daily", "platinum/store_perf"]
    assert set(table["freshness"]) == {"fresh"}
    fake_clock.advance(3 * 86400 + 1)
    direct_client.invalidate()
    assert direct_client.datasets().set_index("id").loc[TXN, "freshness"] == "overdue"
    direct_client.load(TXN)
    status = direct_client.status().set_index("id")
    assert status.loc[TXN, "cached"] and not status.loc["gold/product_mix", "cached"]
    assert status.loc["platinum/store_perf", "freshness"] == "fresh"  # weekly: 3 days is fresh


def test_module_functions_use_the_environment(monkeypatch, small_store, tmp_path):
    monkeypatch.setenv("SCOUT_STORAGE_URL", small_store.url)
    monkeypatch.setenv("SCOUT_CACHE_DIR", str(tmp_path / "envcache"))
    assert scout.load(TXN)["store_code"].tolist() == ["0042", "0107", "0042"]
    assert scout.load_raw(TXN) == small_store.csv[TXN]
    assert len(scout.datasets()) == 3 and len(scout.browse().rows) == 3  # browse(): the widget
    assert (tmp_path / "envcache" / "objects").is_dir()


def test_no_configuration_is_a_one_line_error(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="No Scout server or store configured"):
        scout.datasets()


def test_loads_keep_the_cache_within_its_bound(direct_client, fake_clock):
    direct_client.load(TXN)
    one_dataset = direct_client.cache.usage()["bytes"]
    direct_client.cache.max_bytes = one_dataset + 100
    fake_clock.advance(60)
    direct_client.load("gold/product_mix")  # evicts the least recently used: txn_daily's files
    assert direct_client.cache.usage()["bytes"] <= direct_client.cache.max_bytes
    assert direct_client.load("gold/product_mix").attrs["scout"]["source"] == "cache"
    assert direct_client.load(TXN).attrs["scout"]["source"] == "download"


def test_manifest_without_schemas_from_the_original_publisher(direct_client, small_store, fake_clock):
    from dataclasses import replace

    from .helpers import write_manifest

    legacy = small_store.manifest.with_entries([replace(e, schema=None) for e in small_store.manifest])
    write_manifest(small_store.storage, legacy, fake_clock)
    df = direct_client.load(TXN)
    assert df["store_code"].tolist() == ["0042", "0107", "0042"]  # inferred: leading zeros stay text
    assert str(df["transactions"].dtype) == "Int64" and df["date_key"].dtype == np.dtype("datetime64[ms]")
    pd.testing.assert_frame_equal(direct_client.load(TXN), df)
    assert direct_client.load(TXN, columns=["region"], limit=1)["region"].tolist() == ["NCR"]
    with pytest.raises(SchemaError, match=r"Unknown column\(s\): nope \(columns: date_key, store_code"):
        direct_client.load(TXN, columns=["nope"])


def test_a_parquet_copy_that_disagrees_with_the_manifest_falls_back_to_the_csv(
    direct_client, small_store, fake_clock, caplog
):
    import hashlib as _hashlib
    import io
    from dataclasses import replace

    import pyarrow as pa
    import pyarrow.parquet as pq

    from .helpers import write_manifest

    manifest = add_parquet_copies(small_store.storage, fake_clock)
    entry = manifest.get(TXN)
    sink = io.BytesIO()
    pq.write_table(pa.table({"something": ["else"]}), sink)  # verified bytes, wrong columns
    small_store.storage.write(entry.parquet_key, sink.getvalue())
    write_manifest(
        small_store.storage,
        manifest.with_entries(
            [
                replace(
                    entry,
                    parquet_sha256=_hashlib.sha256(sink.getvalue()).hexdigest(),
                    parquet_size_bytes=len(sink.getvalue()),
                )
            ]
        ),
        fake_clock,
    )
    df = direct_client.load(TXN)
    assert df.attrs["scout"]["format"] == "csv" and df["store_code"].tolist() == ["0042", "0107", "0042"]
    assert "Parquet copy of gold/txn_daily unusable" in caplog.text


@pytest.mark.parametrize(
    "columns,message",
    [
        ([], "Schema has no fields"),
        (["region", "region"], "listed twice"),
        (["region", "nope"], r"Unknown column\(s\): nope"),
    ],
)
def test_column_lists_that_select_nothing_repeat_or_miss_are_errors(direct_client, columns, message):
    direct_client.load(TXN)  # warm: the parsed copy would serve anything it was asked for
    with pytest.raises(SchemaError, match=message):
        direct_client.load(TXN, columns=columns)


def test_schema_memo_follows_the_entry_object(direct_client):
    from dataclasses import replace

    from scout_jupyter.client import frames

    entry = direct_client.entry(TXN)
    schema, fingerprint = frames.schema_and_fingerprint(entry)
    assert (schema, fingerprint) == (frames.entry_schema(entry), frames.schema_fingerprint(frames.entry_schema(entry)))
    narrower = replace(entry, schema={"fields": entry.schema["fields"][:2]})
    assert frames.schema_and_fingerprint(narrower)[1] != fingerprint
    assert frames.schema_and_fingerprint(replace(entry, schema=None)) == (None, frames.INFERRED)
    assert frames.schema_and_fingerprint(entry) == (schema, fingerprint)
