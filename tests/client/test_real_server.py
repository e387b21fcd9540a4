"""The client, the magic and a kernel against the real server extension in a ``jupyter server``.

One server for the module (it takes seconds to start); the tests run in file order and the last
one stops it to check offline work.
"""

from __future__ import annotations

import re
import sqlite3
import warnings

import pandas as pd
import pytest

from scout_jupyter.client import OfflineWarning, connect
from scout_jupyter.errors import AccessDenied, ChecksumMismatch, DatasetNotFound, RateLimited, StorageUnavailable
from scout_jupyter.storage.retry import RetryPolicy
from tests.fixtures.store import store_factory

from .helpers import flip_byte
from .realserver import TOKEN, JupyterServerProcess
from .test_roundtrip import TRICKY, expected_frame

pytestmark = pytest.mark.slow
TXN = "gold/txn_daily"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("real-server")
    store = store_factory(root / "bucket")
    sqlite3.connect(root / "src.sqlite").close()
    config = root / "publish.toml"
    config.write_text(
        f'[source]\nurl = "sqlite:///{root / "src.sqlite"}"\n\n[[datasets]]\nid = "{TRICKY}"\n'
        'description = "Round-trip torture table"\nupdate_frequency = "daily"\n'
        'callable = "tests.client.test_roundtrip:tricky_frame"\n'
    )
    server = JupyterServerProcess(
        root, store.url, env={"SCOUT_RATE_LIMIT": "40/minute", "SCOUT_PUBLISH_CONFIG": str(config)}
    )
    server.start()
    yield server, store, root
    server.stop()


def quick_client(server, cache_dir):
    # quick retries: a test that stops the server must not wait out real backoff
    return connect(
        api_url=server.url,
        token=TOKEN,
        cache_dir=cache_dir,
        set_default=False,
        retry=RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.02),
    )


@pytest.fixture
def client(world, tmp_path):
    return quick_client(world[0], tmp_path / "cache")


@pytest.fixture(scope="module")
def first_client(world):
    """A client whose cache outlives single tests (the offline test at the end reuses it)."""
    return quick_client(world[0], world[2] / "first-client-cache")


def test_same_frame_as_direct_mode(world, first_client, tmp_path):
    client = first_client
    _, store, _ = world
    direct = connect(storage_url=store.url, cache_dir=tmp_path / "direct", set_default=False)
    via_server = client.load(TXN)
    pd.testing.assert_frame_equal(via_server, direct.load(TXN))
    assert via_server["store_code"].tolist() == ["0042", "0107", "0042"]
    assert client.load(TXN).attrs["scout"]["source"] == "cache"
    pd.testing.assert_frame_equal(client.datasets(), direct.datasets())
    assert client.load_raw("platinum/store_perf") == store.csv["platinum/store_perf"]


def test_real_kernel_started_by_the_server(world):
    server, _, root = world
    kernel = server.start_kernel()
    try:
        out = kernel.run("import os\nprint(os.environ['SCOUT_API_URL'])")
        assert out["stdout"].strip() == server.url  # exported by the extension, inherited by the kernel
        out = kernel.run(
            "%load_ext scout_jupyter\ndf = %scout load gold/txn_daily\n"
            "print(type(txn_daily).__name__, txn_daily is df, df['store_code'].tolist(), "
            "str(df['date_key'].dtype), df.attrs['scout']['source'])"
        )
        assert out["error"] == ""
        assert "DataFrame True ['0042', '0107', '0042'] datetime64[ms] download" in out["stdout"]
        out = kernel.run("%scout load gold/txn_dialy")
        assert out["stderr"].strip() == "Dataset not found: gold/txn_dialy (did you mean gold/txn_daily?)"
        assert out["error"] == "" and "Traceback" not in out["stderr"]
        out = kernel.run("%scout ls")
        assert "freshness" in out["result"] and "platinum/store_perf" in out["result"]
        assert any((root / "kernel-cache" / "objects").rglob("*.csv"))
        run_every_subcommand(kernel, server)
        run_user_errors(kernel, world)
    finally:
        kernel.shutdown()


def run_every_subcommand(kernel, server) -> None:
    for line, expected in [
        ("info gold/txn_daily", "store_code (string)"),
        ("browse", "freshness"),
        ("status", "cached"),
        ("analytics --days 1", "total_requests"),
    ]:
        out = kernel.run(f"%scout {line}")
        assert expected in out["stdout"] + out["result"] and out["error"] == "" and out["stderr"] == "", line
    out = kernel.run("%scout url gold/txn_daily --ttl 60")
    assert out["result"].startswith(f"'{server.url}scout/files/scout/v1/gold/txn_daily/")
    out = kernel.run("%scout --help")
    assert out["stdout"].startswith("usage: %scout")


def run_user_errors(kernel, world) -> None:
    _, store, _ = world
    key = store.manifest.get("gold/product_mix").csv_key
    flip_byte(store.storage, key)
    try:
        out = kernel.run("%scout load gold/product_mix")
        assert out["stderr"].startswith("Checksum validation failed for gold/product_mix: expected ")
        assert out["error"] == "" and len(out["stderr"].strip().splitlines()) == 1
    finally:
        flip_byte(store.storage, key)
    out = kernel.run("import scout_jupyter as scout\nscout.connect(token='wrong')\n%scout ls")
    assert out["stderr"].strip().startswith("Access denied") and out["error"] == ""
    out = kernel.run("%scout load gold/txn_daily --limit x")
    assert out["stderr"].strip().startswith("UsageError: %scout load: argument --limit: expected a whole number")
    assert "Traceback" not in out["stderr"] + out["error"]


def test_older_version_and_not_found(client):
    with pytest.raises(DatasetNotFound, match="dated 2024-01-01"):
        client.load(TXN, date="2024-01-01")
    with pytest.raises(DatasetNotFound, match=r"did you mean gold/product_mix\?"):
        client.load("gold/product_mixx")


def test_wrong_token_is_access_denied(world, tmp_path):
    server, _, _ = world
    other = connect(api_url=server.url, token="not-the-token", cache_dir=tmp_path / "c", set_default=False)
    with pytest.raises(AccessDenied, match="^Access denied"):
        other.datasets()


def test_corrupted_file_is_a_checksum_failure_and_nothing_is_cached(world, client):
    _, store, _ = world
    key = store.manifest.get("gold/product_mix").csv_key
    flip_byte(store.storage, key)
    try:
        with pytest.raises(ChecksumMismatch, match=r"^Checksum validation failed for gold/product_mix: expected "):
            client.load("gold/product_mix")
        assert not any((client.cache.root / "objects").rglob("*.csv"))
    finally:
        flip_byte(store.storage, key)
    assert len(client.load("gold/product_mix")) == 2


def test_publish_through_the_server_then_load_the_tricky_table(client, capsys):
    seen = []
    status = client.publish([TRICKY], on_progress=seen.append, poll_interval=0.1)
    assert status.ok, status.summary()
    assert seen[-1].state == "succeeded" and seen[-1].progress == 1.0
    pd.testing.assert_frame_equal(client.load(TRICKY), expected_frame())


def test_analytics_reports_the_accesses(client):
    client.load(TXN)
    table = client.analytics(days=1)
    assert {"total_requests", "unique_users", "success_rate_percent", "bytes_served"} <= set(table.columns)
    assert table["total_requests"].sum() > 0


def test_rate_limited_in_a_kernel(world):
    server, _, _ = world
    kernel = server.start_kernel()
    try:
        out = kernel.run(
            "%load_ext scout_jupyter\nfor _ in range(60):\n"
            "    url = %scout url gold/txn_daily --ttl 60\n"
            "    if url is None: break"
        )
        assert out["error"] == ""
        assert re.fullmatch(
            r"Rate limit exceeded: retry in \d+ s \(this server allows 40 signed URLs per minute "
            r"per user: its rate_limit setting, SCOUT_RATE_LIMIT\)",
            out["stderr"].strip(),
        )
    finally:
        kernel.shutdown()


def test_rate_limit(client):
    with pytest.raises(RateLimited) as info:
        for _ in range(45):
            client.signed_url(TXN, ttl=60)
    assert str(info.value) == (
        f"Rate limit exceeded: retry in {info.value.retry_after} s (this server allows 40 "
        "signed URLs per minute per user: its rate_limit setting, SCOUT_RATE_LIMIT)"
    )
    assert 1 <= info.value.retry_after <= 60


def test_server_down_cached_loads_still_work(world, first_client):
    server, _, _ = world
    client = first_client
    client.invalidate()
    server.stop()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert client.load(TXN)["store_code"].tolist() == ["0042", "0107", "0042"]
    assert any(issubclass(w.category, OfflineWarning) for w in caught)
    with pytest.raises(StorageUnavailable, match="^gold/product_mix is not in the local cache"):
        client.load("gold/product_mix")
