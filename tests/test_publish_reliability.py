"""RELIABILITY.md rows 20–24 for the publisher, against the local store and an S3 server."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import signal
import threading

import pytest

from scout_jupyter.errors import PublishInProgress, StorageUnavailable
from scout_jupyter.manifest import Manifest, latest_manifest_key
from scout_jupyter.publish import load_config, publish
from scout_jupyter.publish.lock import LockInfo, lock_key
from scout_jupyter.storage.retry import RetryPolicy

from .test_publish_support import (
    BlockingStorage,
    CorruptingStorage,
    CrashBeforeManifest,
    FailingWrites,
    FlakyStorage,
    build_small_warehouse,
    make_backend,
    publish_worker,
    write_small_config,
)

IDS = ["gold/sales", "gold/notes", "platinum/scores"]


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def backend(request, tmp_path, fake_clock):
    backend = make_backend(request.param, request, tmp_path, fake_clock)
    yield backend
    backend.storage.close()


@pytest.fixture
def config(tmp_path):
    build_small_warehouse(tmp_path)
    return load_config(write_small_config(tmp_path))


def latest(storage) -> bytes:
    return storage.read_bytes(latest_manifest_key())


def assert_valid_and_complete(storage) -> Manifest:
    """The manifest validates and every file it names is there with its sha256."""
    manifest = Manifest.from_bytes(latest(storage))
    for entry in manifest:
        for key, sha in ((entry.csv_key, entry.sha256), (entry.parquet_key, entry.parquet_sha256)):
            assert hashlib.sha256(storage.read_bytes(key)).hexdigest() == sha, key
    return manifest


def change_sales(config) -> None:
    import sqlite3

    with sqlite3.connect(config.source_url.removeprefix("sqlite:///")) as db:
        db.execute("UPDATE sales SET amount = amount + 5")


def spawn():
    return multiprocessing.get_context("spawn")


# --- row 20: the publisher dies after its data uploads, before the manifest ----------------------
def test_crash_before_manifest_keeps_the_old_manifest_and_a_rerun_completes(backend, config, fake_clock):
    publish(config, backend.storage, clock=fake_clock)
    old = latest(backend.storage)
    change_sales(config)
    fake_clock.advance(3600)
    crashing = CrashBeforeManifest(backend.storage)
    with pytest.raises(CrashBeforeManifest.Crash):
        publish(config, crashing, clock=fake_clock)
    assert any(k.endswith(".csv") for k in crashing.writes())  # the new data did go up
    assert latest(backend.storage) == old  # but the manifest readers see is the old one, intact
    assert_valid_and_complete(backend.storage)
    rerun = publish(config, backend.storage, clock=fake_clock)
    assert rerun.ok and rerun.dataset("gold/sales").state == "published"
    assert rerun.dataset("gold/sales").bytes_uploaded == 0  # its files were already there
    manifest = assert_valid_and_complete(backend.storage)
    assert manifest.get("gold/sales").schema_version == "1.0.1"


def test_kill_9_mid_publish_then_stale_lock_recovery(backend, config, fake_clock, tmp_path):
    publish(config, backend.storage, clock=fake_clock)
    old = latest(backend.storage)
    change_sales(config)
    ctx = spawn()
    events = ctx.Queue()
    child = ctx.Process(
        target=publish_worker, args=(str(config.path), backend.url, backend.env, "hang", None, None, events)
    )
    child.start()
    try:
        what, key = events.get(timeout=120)
        assert what == "at_manifest", key
        os.kill(child.pid, signal.SIGKILL)  # a real kill -9, after the data uploads
    finally:
        child.join(30)
    assert child.exitcode == -signal.SIGKILL
    held = LockInfo.from_bytes(backend.storage.read_bytes(lock_key()))
    assert held.pid == child.pid  # the dead publisher's lock is still there...
    assert latest(backend.storage) == old
    assert_valid_and_complete(backend.storage)
    rerun = publish(config, backend.storage, clock=fake_clock)  # ...and is recognised as stale
    assert rerun.ok and rerun.dataset("gold/sales").state == "published"
    assert assert_valid_and_complete(backend.storage).get("gold/sales").sha256 == rerun.dataset("gold/sales").sha256
    assert not backend.storage.exists(lock_key())


# --- row 21: two publishers at once --------------------------------------------------------------
def test_two_publisher_threads_one_gets_publish_in_progress(backend, config, fake_clock):
    go, reached = threading.Event(), threading.Event()
    outcome = {}

    def first():
        outcome["first"] = publish(config, BlockingStorage(backend.storage, go, reached), clock=fake_clock)

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert reached.wait(60)  # the first one holds the lock and is mid-upload
        with pytest.raises(PublishInProgress, match="already running on scout/v1") as info:
            publish(config, backend.storage, clock=fake_clock)
        assert info.value.code == "publish_in_progress" and info.value.status == 409
    finally:
        go.set()
        thread.join(60)
    assert outcome["first"].ok
    assert sorted(assert_valid_and_complete(backend.storage).datasets) == sorted(IDS)


def test_two_publisher_processes_race(backend, config):
    ctx = spawn()
    barrier, go, results = ctx.Barrier(2), ctx.Event(), ctx.Queue()
    children = [
        ctx.Process(
            target=publish_worker, args=(str(config.path), backend.url, backend.env, "race", barrier, go, results)
        )
        for _ in range(2)
    ]
    for child in children:
        child.start()
    try:
        first = results.get(timeout=120)  # the loser answers at once; the winner is blocked
        go.set()
        second = results.get(timeout=120)
    finally:
        go.set()
        for child in children:
            child.join(60)
    assert sorted([first[0], second[0]]) == ["in_progress", "ok"], (first, second)
    assert first[0] == "in_progress" and "already running" in first[1]
    assert sorted(assert_valid_and_complete(backend.storage).datasets) == sorted(IDS)
    assert not backend.storage.exists(lock_key())


# --- row 22: re-publish unchanged data -------------------------------------------------------------
def test_republish_uploads_zero_bytes_and_keeps_datasets(backend, config, fake_clock):
    publish(config, backend.storage, clock=fake_clock)
    before = Manifest.from_bytes(latest(backend.storage)).to_json()["datasets"]
    fake_clock.advance(7200)
    again = publish(config, backend.storage, clock=fake_clock)
    assert [d.bytes_uploaded for d in again.datasets] == [0, 0, 0]
    assert Manifest.from_bytes(latest(backend.storage)).to_json()["datasets"] == before


# --- row 23: the store keeps other bytes than it was sent ----------------------------------------
def test_corrupt_upload_fails_that_dataset_only(backend, config, fake_clock):
    corrupting = CorruptingStorage(backend.storage, target="/notes/")
    result = publish(config, corrupting, clock=fake_clock)
    notes = result.dataset("gold/notes")
    assert notes.state == "failed" and notes.error.startswith("Checksum validation failed for scout/v1/gold/notes/")
    assert [result.dataset(i).state for i in ("gold/sales", "platinum/scores")] == ["published", "published"]
    manifest = assert_valid_and_complete(backend.storage)
    assert "gold/notes" not in manifest
    assert not backend.storage.exists("scout/v1/gold/notes/notes_2024-08-10.csv")  # the bad object is gone
    # a later healthy publish puts the right bytes there
    assert publish(config, backend.storage, clock=fake_clock).dataset("gold/notes").state == "published"
    assert "gold/notes" in assert_valid_and_complete(backend.storage)


def test_corrupt_upload_keeps_the_previous_entry(backend, config, fake_clock):
    publish(config, backend.storage, clock=fake_clock)
    before = Manifest.from_bytes(latest(backend.storage)).get("gold/sales")
    change_sales(config)
    fake_clock.advance(86400)
    result = publish(config, CorruptingStorage(backend.storage, target="/sales/"), clock=fake_clock)
    assert result.dataset("gold/sales").state == "failed"
    assert assert_valid_and_complete(backend.storage).get("gold/sales") == before


# --- row 24: flaky storage ----------------------------------------------------------------------
def test_flaky_storage_is_retried_with_growing_backoff(backend, config, fake_clock):
    flaky = FlakyStorage(backend.storage, failures=3, ops=("write",))
    retry = RetryPolicy(attempts=5, base_delay=0.5, max_delay=30, sleep=fake_clock.sleep)
    result = publish(config, flaky, clock=fake_clock, retry=retry)
    assert result.ok and flaky.failed == 3
    sleeps = fake_clock.sleeps[-3:]
    assert 0.25 <= sleeps[0] <= 0.5 and 0.5 <= sleeps[1] <= 1.0 and 1.0 <= sleeps[2] <= 2.0  # doubling
    assert_valid_and_complete(backend.storage)


def test_flaky_storage_gives_up_after_the_limit_with_a_clear_error(backend, config, fake_clock):
    failing = FailingWrites(backend.storage, lambda key: "/sales/" in key)
    retry = RetryPolicy(attempts=4, base_delay=0.5, sleep=fake_clock.sleep)
    result = publish(config, failing, clock=fake_clock, retry=retry)
    sales = result.dataset("gold/sales")
    assert sales.state == "failed"
    assert sales.error.startswith("upload of scout/v1/gold/sales/sales_2024-08-10.csv failed after 4 tries: 503")
    assert result.dataset("gold/notes").state == "published"
    assert "gold/sales" not in assert_valid_and_complete(backend.storage)


def test_store_down_entirely_raises_storage_unavailable(backend, config, fake_clock):
    down = FailingWrites(backend.storage, lambda key: True)
    with pytest.raises(StorageUnavailable, match="failed after 3 tries"):
        publish(config, down, clock=fake_clock, retry=RetryPolicy(attempts=3, sleep=fake_clock.sleep))
    assert len(fake_clock.sleeps) == 2


@pytest.mark.s3
def test_s3_server_503s_are_retried(request, tmp_path, fake_clock, config):
    """The same through the real protocol: the S3 server answers 503 SlowDown a few times."""
    backend = make_backend("s3", request, tmp_path, fake_clock)
    from tests.fixtures.s3server import Fault

    backend.server.guard.inject(Fault("error", status=503, code="SlowDown", method="PUT"), times=3)
    result = publish(config, backend.storage, clock=fake_clock)
    assert result.ok and len(fake_clock.sleeps) >= 3
    assert_valid_and_complete(backend.storage)
