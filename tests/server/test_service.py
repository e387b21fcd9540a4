"""The service under the handlers, without tornado: parameters, manifest cache, signing."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from scout_jupyter.errors import (
    DatasetNotFound,
    InvalidDatasetId,
    InvalidRequest,
    InvalidTTL,
    ManifestInvalid,
    ObjectNotFound,
    RateLimited,
    StorageUnavailable,
)
from scout_jupyter.manifest import Manifest, latest_manifest_key, snapshot_manifest_key
from scout_jupyter.server.accesslog import AccessLog
from scout_jupyter.server.jobs import JobRunner
from scout_jupyter.server.manifests import CachedManifest, ManifestCache
from scout_jupyter.server.ratelimit import RateLimiter
from scout_jupyter.server.service import (
    ScoutService,
    SignedDataset,
    parse_date,
    parse_days,
    parse_format,
    parse_publish_body,
    parse_ttl,
)
from scout_jupyter.storage.local import verify_signature


# --- parameters -------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["0", "-1", "1e21", "1.5", "abc", "3601", " 60", "60 ", "+60", "٣", "1" * 30, "0x10"])
def test_ttl_must_be_an_integer_literal_within_the_cap(text):
    with pytest.raises(InvalidTTL):
        parse_ttl(text, 3600)


def test_ttl_accepted_values_and_default():
    assert parse_ttl("1", 3600) == 1
    assert parse_ttl("3600", 3600) == 3600
    assert parse_ttl(None, 3600) == 3600
    assert parse_ttl("", 600) == 600


def test_format_date_days_and_publish_body():
    assert parse_format(None) == "csv" and parse_format("parquet") == "parquet"
    with pytest.raises(InvalidRequest):
        parse_format("xlsx")
    assert parse_date("2024-08-10") == "2024-08-10" and parse_date(None) is None
    for bad in ("2024-02-30", "2024-8-1", "yesterday"):
        with pytest.raises(InvalidRequest):
            parse_date(bad)
    assert parse_days(None) == 7 and parse_days("30") == 30
    for bad in ("0", "367", "-1", "x"):
        with pytest.raises(InvalidRequest):
            parse_days(bad)
    assert parse_publish_body(b"") is None
    assert parse_publish_body(b'{"datasets": null}') is None
    assert parse_publish_body(b'{"datasets": ["gold/txn_daily"]}') == ["gold/txn_daily"]
    for bad in (b"{", b"[]", b'{"datasets": []}', b'{"datasets": "gold/x"}', b'{"other": 1}'):
        with pytest.raises(InvalidRequest):
            parse_publish_body(bad)
    with pytest.raises(InvalidDatasetId):
        parse_publish_body(b'{"datasets": ["../etc"]}')


def test_signed_dataset_json_is_the_original_shape():
    grant = SignedDataset(
        "gold/x",
        "/scout/files/k?expires=1&scout_auth=s",
        datetime(2024, 8, 10, 15, 30, tzinfo=timezone.utc),
        60,
        5,
        10,
        "2024-08-10T02:15:00.000Z",
        "ab" * 32,
    )
    assert grant.to_json("http://h:1/base/") == {
        "signed_url": "http://h:1/base/scout/files/k?expires=1&scout_auth=s",
        "expires_at": "2024-08-10T15:30:00.000Z",
        "dataset_info": {
            "row_count": 5,
            "size_bytes": 10,
            "last_updated": "2024-08-10T02:15:00.000Z",
            "sha256": "ab" * 32,
        },
    }
    absolute = replace(grant, signed_url="https://s3.example/x?sig")
    assert absolute.to_json("http://h:1/")["signed_url"] == "https://s3.example/x?sig"


# --- the manifest cache -----------------------------------------------------------------------
async def test_cache_serves_within_ttl_and_rereads_after(small_store, fake_clock):
    cache = ManifestCache(small_store.storage, ttl=900, clock=fake_clock)
    first = await cache.current()
    assert first.manifest == small_store.manifest
    assert first.etag == f'"{hashlib.sha256(first.raw).hexdigest()}"'
    changed = small_store.manifest.replace_entry("gold/txn_daily", description="changed")
    small_store.storage.write(latest_manifest_key(), changed.to_bytes())
    fake_clock.advance(899)
    assert (await cache.current()).manifest == small_store.manifest
    fake_clock.advance(1)
    again = await cache.current()
    assert again.manifest.get("gold/txn_daily").description == "changed"
    assert again.etag != first.etag


def test_etag_matching():
    cached = CachedManifest(Manifest.build([]), b"{}", '"abc"')
    assert cached.matches('"abc"') and cached.matches('W/"abc"') and cached.matches('"x", "abc"')
    assert cached.matches("*")
    assert not cached.matches('"abd"') and not cached.matches(None)


@pytest.mark.parametrize("bad", [b'{"generated_at": ', b"not json"])
async def test_invalid_manifest_keeps_the_last_good_one(small_store, fake_clock, bad):
    cache = ManifestCache(small_store.storage, ttl=60, clock=fake_clock)
    good = await cache.current()
    small_store.storage.write(latest_manifest_key(), bad)
    fake_clock.advance(60)
    with pytest.raises(ManifestInvalid):
        await cache.current(strict=True)
    assert (await cache.current()).manifest == good.manifest  # dataset routes go on
    assert cache.last_good is good
    # fixed in the store: served again once the retry interval passed
    small_store.storage.write(latest_manifest_key(), good.raw)
    fake_clock.advance(10)
    assert (await cache.current(strict=True)).raw == good.raw


async def test_invalid_manifest_without_a_good_one_is_503(small_store, fake_clock):
    small_store.storage.write(latest_manifest_key(), b'{"datasets": {}}')
    cache = ManifestCache(small_store.storage, ttl=60, clock=fake_clock)
    with pytest.raises(ManifestInvalid):
        await cache.current()


async def test_missing_manifest_says_how_to_publish(tmp_path, fake_clock):
    from scout_jupyter.storage.local import LocalStorage

    cache = ManifestCache(LocalStorage((tmp_path / "empty").as_uri(), create=False), ttl=60, clock=fake_clock)
    with pytest.raises(ObjectNotFound, match="scout demo"):
        await cache.current()


async def test_unreachable_store_serves_the_last_good_manifest_everywhere(small_store, fake_clock, monkeypatch):
    cache = ManifestCache(small_store.storage, ttl=60, clock=fake_clock)
    good = await cache.current()
    calls = []

    def down(key):
        calls.append(key)
        raise StorageUnavailable("store down")

    monkeypatch.setattr(small_store.storage, "read_bytes", down)
    fake_clock.advance(60)
    assert (await cache.current(strict=True)) is good
    assert (await cache.current()) is good
    assert len(calls) == 1  # failures are retried after an interval, not on every request


async def test_older_versions_come_from_snapshots(small_store, fake_clock):
    storage = small_store.storage
    old = small_store.manifest
    newer = old.replace_entry("gold/txn_daily", date="2024-08-11", latest_csv="/scout/v1/gold/txn_daily/new.csv")
    fake_clock.advance(86_400)
    storage.write(snapshot_manifest_key(fake_clock.now()), newer.to_bytes())
    storage.write(latest_manifest_key(), newer.to_bytes())
    storage.write("scout/v1/manifests/.publish.lock", b"not a manifest")
    cache = ManifestCache(storage, ttl=60, clock=fake_clock)
    assert (await cache.entry_for_date("gold/txn_daily", "2024-08-11")).latest_csv.endswith("new.csv")
    assert (await cache.entry_for_date("gold/txn_daily", "2024-08-10")) == old.get("gold/txn_daily")
    with pytest.raises(DatasetNotFound, match="dated 2024-07-01"):
        await cache.entry_for_date("gold/txn_daily", "2024-07-01")


# --- the service ------------------------------------------------------------------------------
@pytest.fixture
def service(small_store, fake_clock, tmp_path):
    log = AccessLog(f"sqlite:///{tmp_path / 'log.sqlite'}").start()
    svc = ScoutService(
        small_store.storage,
        access_log=log,
        rate_limiter=RateLimiter("3/minute", fake_clock),
        jobs=JobRunner(lambda datasets, on_progress: None, clock=fake_clock),
        clock=fake_clock,
        max_ttl=600,
    )
    yield svc
    log.close()


async def test_sign_returns_a_verifiable_url_for_the_manifest_file(service, small_store, fake_clock):
    grant = await service.sign_dataset_url("alice", "gold/txn_daily", "60")
    entry = small_store.manifest.get("gold/txn_daily")
    assert (grant.sha256, grant.size_bytes, grant.row_count) == (entry.sha256, entry.size_bytes, entry.row_count)
    assert grant.expires_at.timestamp() == fake_clock.time() + 60
    path, _, query = grant.signed_url.partition("?")
    params = dict(p.split("=") for p in query.split("&"))
    assert path == f"/scout/files/{entry.csv_key}"
    assert verify_signature(b"s" * 64, "GET", entry.csv_key, params["expires"], params["scout_auth"], fake_clock.time())


async def test_sign_refuses_before_signing(service):
    with pytest.raises(InvalidDatasetId):
        await service.sign_dataset_url("alice", "gold/../x", "60")
    with pytest.raises(InvalidTTL):
        await service.sign_dataset_url("alice", "gold/txn_daily", "601")  # above this server's cap
    with pytest.raises(DatasetNotFound, match="did you mean gold/txn_daily"):
        await service.sign_dataset_url("alice", "gold/txn_dialy", "60")
    with pytest.raises(DatasetNotFound, match="no Parquet copy"):
        await service.sign_dataset_url("alice", "gold/txn_daily", "60", fmt="parquet")
    await service.sign_dataset_url("alice", "gold/txn_daily", "60")
    # malformed requests are refused before the limit; the two not-found ones and this one count
    with pytest.raises(RateLimited):
        await service.sign_dataset_url("alice", "gold/txn_daily", "60")


async def test_listing_and_info_carry_freshness(service, fake_clock):
    listed = await service.list_datasets()
    assert [d["id"] for d in listed["datasets"]] == ["gold/product_mix", "gold/txn_daily", "platinum/store_perf"]
    first = listed["datasets"][1]
    assert set(first) == {
        "id",
        "layer",
        "name",
        "description",
        "date",
        "row_count",
        "size_bytes",
        "last_modified",
        "update_frequency",
        "freshness",
        "schema_version",
    }
    assert first["freshness"] == "fresh"
    fake_clock.advance(2 * 86_400)
    info = await service.dataset_info("gold/txn_daily")
    assert info["freshness"] == "stale" and info["schema"]["fields"][0] == {"name": "date_key", "type": "date"}
    assert json.loads(json.dumps(info))["layer"] == "gold"
