"""Proxy mode against a scripted stand-in of the server: retries, rate limits, cut and corrupted
downloads (RELIABILITY row 26), expired signatures, offline work (row 29), publish jobs."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from scout_jupyter.client import OfflineWarning, connect
from scout_jupyter.client import download as download_module
from scout_jupyter.errors import (
    AccessDenied,
    ChecksumMismatch,
    DatasetNotFound,
    ManifestInvalid,
    PublishInProgress,
    RateLimited,
    StorageUnavailable,
)

from .fakeserver import TOKEN
from .helpers import republish

TXN = "gold/txn_daily"
V2 = "date_key,store_code,region,revenue,transactions\n2024-08-11,0042,NCR,1700,35\n"


def cached_files(client) -> list[str]:
    return sorted(p.name for p in (client.cache.root / "objects").rglob("*") if p.is_file())


def test_proxy_and_direct_give_the_same_frame(proxy_client, direct_client, fake_server):
    via_server = proxy_client.load(TXN)
    pd.testing.assert_frame_equal(via_server, direct_client.load(TXN))
    assert via_server.attrs["scout"]["source"] == "download"
    assert fake_server.calls["dataset-proxy"] == 1 and fake_server.calls["download"] == 1
    pd.testing.assert_frame_equal(proxy_client.datasets(), direct_client.datasets())
    assert proxy_client.load_raw(TXN) == direct_client.load_raw(TXN)


def test_warm_load_makes_no_request(proxy_client, fake_server):
    proxy_client.load(TXN)
    before = sum(fake_server.calls.values())
    assert proxy_client.load(TXN).attrs["scout"]["source"] == "cache"
    assert sum(fake_server.calls.values()) == before


def test_manifest_is_revalidated_with_its_etag(proxy_client, fake_server, fake_clock):
    proxy_client.datasets()
    fake_clock.advance(901)
    proxy_client.datasets()
    assert fake_server.calls["manifest"] == 2  # the second answer was a 304: same manifest kept
    assert len(proxy_client.datasets()) == 3


def test_short_retry_after_is_honoured(proxy_client, fake_server, fake_clock):
    fake_server.faults.script(
        "dataset-proxy", 429, {"error": "rate_limited", "message": "slow down"}, {"Retry-After": "2"}
    )
    assert len(proxy_client.load(TXN)) == 3
    assert 2.0 in fake_clock.sleeps


def test_long_retry_after_raises_at_once(proxy_client, fake_server, fake_clock):
    fake_server.faults.script(
        "dataset-proxy", 429, {"error": "rate_limited", "message": "slow down"}, {"Retry-After": "42"}
    )
    with pytest.raises(RateLimited) as info:
        proxy_client.load(TXN)
    assert str(info.value) == "Rate limit exceeded: retry in 42 s" and info.value.retry_after == 42
    assert fake_clock.sleeps == []


def test_server_errors_are_retried_then_reported_with_the_server_text(proxy_client, fake_server, fake_clock):
    fake_server.faults.script("manifest", 503, {"error": "storage_unavailable", "message": "S3 is sulking"}, times=2)
    assert len(proxy_client.datasets()) == 3
    assert len(fake_clock.sleeps) == 2
    fake_server.faults.script(
        "dataset-proxy", 503, {"error": "storage_unavailable", "message": "S3 is sulking"}, times=10
    )
    with pytest.raises(StorageUnavailable, match="S3 is sulking"):
        proxy_client.load(TXN)


def test_server_error_codes_map_to_exceptions(proxy_client, fake_server):
    fake_server.faults.script("dataset-proxy", 403, {"error": "access_denied", "message": "Access denied: scout:read"})
    with pytest.raises(AccessDenied, match="^Access denied: scout:read$"):
        proxy_client.load(TXN)
    fake_server.faults.script("manifest", 503, {"error": "manifest_invalid", "message": "Manifest is not valid JSON"})
    with pytest.raises(ManifestInvalid, match="not valid JSON"):
        proxy_client.manifest(refresh=True)
    assert fake_server.calls["manifest"] == 2  # manifest_invalid is not retried


def test_wrong_token_is_access_denied(fake_server, cache_dir, fake_clock, retry):
    client = connect(
        api_url=fake_server.url, token="wrong", cache_dir=cache_dir, clock=fake_clock, retry=retry, set_default=False
    )
    with pytest.raises(AccessDenied) as info:
        client.datasets()
    assert str(info.value) == (
        f"Access denied: The Jupyter server at {fake_server.url} refused the token (from "
        "SCOUT_API_TOKEN, the URL's ?token=, or connect(token=...)); use the token of the URL "
        "`jupyter lab` printed, or `jupyter server list`"
    )
    anonymous = connect(
        api_url=fake_server.url, token=None, cache_dir=cache_dir, clock=fake_clock, retry=retry, set_default=False
    )
    with pytest.raises(AccessDenied, match=r"needs a token: set SCOUT_API_TOKEN, or use the whole URL `jupyter lab` "):
        anonymous.datasets()


def test_cut_stream_is_retried(proxy_client, fake_server):
    fake_server.faults.cut_downloads = 1
    assert proxy_client.load(TXN)["store_code"].tolist() == ["0042", "0107", "0042"]
    assert fake_server.calls["download"] == 2


def test_persistently_cut_stream_is_a_checksum_failure_and_caches_nothing(proxy_client, fake_server):
    fake_server.faults.cut_downloads = 100
    with pytest.raises(ChecksumMismatch, match=rf"^Checksum validation failed for {TXN}: .*download cut short"):
        proxy_client.load(TXN)
    assert cached_files(proxy_client) == []
    assert list((proxy_client.cache.root / "tmp").iterdir()) == []


def test_flipped_byte_is_a_checksum_failure_and_caches_nothing(proxy_client, fake_server):
    fake_server.faults.corrupt_downloads = 1
    with pytest.raises(ChecksumMismatch, match=rf"^Checksum validation failed for {TXN}: expected [0-9a-f]{{64}}"):
        proxy_client.load(TXN)
    assert cached_files(proxy_client) == [] and list((proxy_client.cache.root / "parsed").rglob("*.arrow")) == []
    assert len(proxy_client.load(TXN)) == 3  # the next, clean download works


def test_refused_signature_is_signed_again_once(proxy_client, fake_server):
    fake_server.faults.reject_signatures = 1
    assert len(proxy_client.load(TXN)) == 3
    assert fake_server.calls["dataset-proxy"] == 2
    fake_server.faults.reject_signatures = 2
    with pytest.raises(AccessDenied, match="signed URL .* was refused"):
        proxy_client.load("gold/product_mix")


def test_url_that_expired_during_backoff_is_renewed_before_use(proxy_client, fake_server, fake_clock):
    proxy_client.sign_ttl = 10
    fake_server.faults.cut_downloads = 1
    real_sleep = proxy_client.retry.sleep
    proxy_client.retry.sleep = lambda s: (real_sleep(s), fake_clock.advance(60))
    assert len(proxy_client.load(TXN)) == 3
    assert fake_server.calls["dataset-proxy"] == 2


def test_stale_manifest_is_refreshed_when_the_server_signs_a_newer_version(
    proxy_client, fake_server, small_store, fake_clock
):
    proxy_client.datasets()
    republish(small_store.storage, TXN, V2, "2024-08-11", fake_clock)
    fake_clock.set(fake_clock.time() - 3500)  # our manifest is still within its TTL
    latest = proxy_client.load(TXN)
    assert latest.attrs["scout"]["date"] == "2024-08-11" and latest["transactions"].tolist() == [35]


def test_older_version_through_the_server(proxy_client, small_store, fake_clock):
    first = proxy_client.load(TXN)
    republish(small_store.storage, TXN, V2, "2024-08-11", fake_clock)
    older = proxy_client.load(TXN, date="2024-08-10")
    pd.testing.assert_frame_equal(older, first)
    with pytest.raises(DatasetNotFound, match="dated 2024-01-01"):
        proxy_client.load(TXN, date="2024-01-01")


def test_older_version_with_other_columns_through_the_server(proxy_client, small_store, fake_clock):
    from dataclasses import replace

    from .helpers import current_manifest, write_manifest

    first = proxy_client.load(TXN)
    manifest = republish(
        small_store.storage,
        TXN,
        V2.replace("transactions\n", "transactions,promo\n").replace(",35\n", ",35,true\n"),
        "2024-08-11",
        fake_clock,
    )
    entry = manifest.get(TXN)
    schema = {"fields": [*entry.schema["fields"], {"name": "promo", "type": "boolean"}]}
    write_manifest(
        small_store.storage,
        current_manifest(small_store.storage).with_entries([replace(entry, schema=schema, schema_version="1.1.0")]),
        fake_clock,
    )
    proxy_client.manifest(refresh=True)
    assert proxy_client.load(TXN)["promo"].tolist() == [True]
    older = proxy_client.load(TXN, date="2024-08-10")  # the server does not send the old schema
    pd.testing.assert_frame_equal(older, first)


def test_offline_cached_datasets_still_load_with_a_warning(proxy_client, fake_server, fake_clock, cache_dir, retry):
    proxy_client.load(TXN)
    fake_server.__exit__(None, None, None)  # the server goes away
    fake_clock.advance(901)  # and the manifest's TTL has run out
    with pytest.warns(OfflineWarning, match="Scout is offline"):
        df = proxy_client.load(TXN)
    assert df["store_code"].tolist() == ["0042", "0107", "0042"]
    with pytest.raises(StorageUnavailable) as info:
        proxy_client.load("gold/product_mix")
    assert "\n" not in str(info.value)
    assert str(info.value).startswith(
        "gold/product_mix is not in the local cache and cannot be downloaded: Scout server unreachable"
    )
    # a new kernel (fresh client, same cache) works offline from the stored manifest too
    again = connect(
        api_url=fake_server.url, token=TOKEN, cache_dir=cache_dir, clock=fake_clock, retry=retry, set_default=False
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert len(again.load(TXN)) == 3
    assert any(issubclass(w.category, OfflineWarning) for w in caught)


def test_server_down_without_any_cache(fake_server, cache_dir, fake_clock, retry):
    client = connect(
        api_url=fake_server.url, token=TOKEN, cache_dir=cache_dir, clock=fake_clock, retry=retry, set_default=False
    )
    fake_server.faults.down = True
    with pytest.raises(StorageUnavailable, match="Storage unreachable: test .and no cached manifest"):
        client.load(TXN)


def test_progress_bar_for_big_downloads(proxy_client, monkeypatch, capsys):
    monkeypatch.setattr(download_module, "PROGRESS_MIN_BYTES", 10)
    proxy_client.load(TXN)
    assert TXN in capsys.readouterr().err


def test_publish_polls_the_job_until_it_ends(proxy_client, fake_server, fake_clock):
    seen = []
    status = proxy_client.publish([TXN], on_progress=seen.append, poll_interval=0.5)
    assert status.ok and status.state == "succeeded" and status.progress == 1.0
    assert [s.state for s in seen] == ["queued", "running", "succeeded"]
    assert fake_clock.sleeps == [0.5, 0.5]
    assert fake_server.published == [[TXN]]
    assert status.summary() == "publish job1: succeeded (100%); 1 succeeded"


def test_publish_in_progress(proxy_client, fake_server):
    first = proxy_client.publish(wait=False)
    assert first.state == "queued"
    with pytest.raises(PublishInProgress, match="already running"):
        proxy_client.publish()


def test_analytics(proxy_client):
    table = proxy_client.analytics(days=3)
    assert table.loc[0, "total_requests"] == 4 and table.loc[0, "days"] == 3


def test_unknown_job_and_missing_extension(proxy_client, fake_server, cache_dir, fake_clock, retry):
    from scout_jupyter.errors import ConfigError, ObjectNotFound

    with pytest.raises(ObjectNotFound, match="No job nope"):
        proxy_client.job("nope")
    bare = connect(
        api_url=fake_server.url + "elsewhere/",
        token=TOKEN,
        cache_dir=cache_dir,
        clock=fake_clock,
        retry=retry,
        set_default=False,
    )
    with pytest.raises(ConfigError, match="is the scout_jupyter server extension enabled"):
        bare.datasets()
