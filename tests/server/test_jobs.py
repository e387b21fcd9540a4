"""Publish jobs: background thread, one at a time, progress, failures, the real publisher."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from scout_jupyter.errors import ConfigError, JobNotFound, PublishInProgress
from scout_jupyter.manifest import Manifest, latest_manifest_key
from scout_jupyter.publish import ProgressEvent
from scout_jupyter.server.jobs import ConfiguredPublisher, JobRunner
from scout_jupyter.storage.local import LocalStorage


class GatedPublisher:
    """Emits a few events, then waits until the test opens the gate."""

    def __init__(self, fail: Exception | None = None):
        self.gate = threading.Event()
        self.started = threading.Event()
        self.thread: str | None = None
        self.fail = fail

    def plan(self, datasets):
        return list(datasets or ["gold/a", "gold/b"])

    def __call__(self, datasets, on_progress):
        self.thread = threading.current_thread().name
        on_progress(ProgressEvent("gold/a", "export", "done", 10, 10))
        on_progress(ProgressEvent("gold/a", "upload", "progress", 5, 10))
        self.started.set()
        assert self.gate.wait(10)
        if self.fail:
            raise self.fail
        for step in ("upload", "verify"):
            on_progress(ProgressEvent("gold/a", step, "done", 10, 10))
        on_progress(ProgressEvent("gold/b", "export", "failed", error="query failed"))
        return None


def test_job_runs_in_a_thread_with_progress_and_one_at_a_time(fake_clock):
    publisher = GatedPublisher()
    finished = []
    runner = JobRunner(publisher, clock=fake_clock, on_finished=finished.append)
    job = runner.submit(None, user="alice")
    assert publisher.started.wait(10)
    status = runner.get(job.job_id).to_json()
    assert status["state"] == "running" and status["started_at"] == "2024-08-10T02:15:00.000Z"
    assert 0 < status["progress"] < 1
    assert [d["id"] for d in status["datasets"]] == ["gold/a", "gold/b"]
    with pytest.raises(PublishInProgress):
        runner.submit(["gold/a"])
    fake_clock.advance(30)
    publisher.gate.set()
    done = runner.wait(job.job_id).to_json()
    assert publisher.thread.startswith("scout-publish-") and publisher.thread != threading.current_thread().name
    assert done["state"] == "succeeded" and done["progress"] == 1.0
    assert done["finished_at"] == "2024-08-10T02:15:30.000Z"
    rows = {d["id"]: d for d in done["datasets"]}
    assert rows["gold/a"] == {
        "id": "gold/a",
        "step": "verify",
        "state": "succeeded",
        "bytes_uploaded": 10,
        "bytes_total": 10,
        "unchanged": False,
        "error": None,
    }
    assert rows["gold/b"]["state"] == "failed" and rows["gold/b"]["error"] == "query failed"
    assert finished == [job]
    second = runner.submit(["gold/a"])  # the first is done: a new one may start
    publisher.gate.set()
    assert runner.wait(second.job_id).state == "succeeded"


def test_failing_publisher_fails_the_job_with_its_message(fake_clock):
    publisher = GatedPublisher(fail=PublishInProgress("Another publisher holds the lock"))
    publisher.gate.set()
    runner = JobRunner(publisher, clock=fake_clock)
    job = runner.wait(runner.submit(None).job_id)
    assert job.to_json()["state"] == "failed"
    assert job.to_json()["error"] == "Another publisher holds the lock"


def test_unexpected_exception_is_reported_not_raised(fake_clock):
    publisher = GatedPublisher(fail=RuntimeError("boom"))
    publisher.gate.set()
    runner = JobRunner(publisher, clock=fake_clock)
    status = runner.wait(runner.submit(None).job_id).to_json()
    assert status["state"] == "failed" and "RuntimeError: boom" in status["error"]


def test_unknown_job(fake_clock):
    with pytest.raises(JobNotFound):
        JobRunner(GatedPublisher(), clock=fake_clock).get("nope")


def test_old_jobs_are_forgotten(fake_clock):
    runner = JobRunner(lambda datasets, on_progress: None, clock=fake_clock, keep=2)
    ids = []
    for _ in range(3):
        ids.append(runner.submit(None).job_id)
        runner.wait(ids[-1])
    with pytest.raises(JobNotFound):
        runner.get(ids[0])
    assert runner.get(ids[2]).state == "succeeded"


def write_source(folder) -> str:
    db = sqlite3.connect(folder / "warehouse.sqlite")
    db.execute("CREATE TABLE sales (day TEXT, store TEXT, revenue REAL)")
    db.executemany("INSERT INTO sales VALUES (?, ?, ?)", [("2024-08-10", "0042", 10.5), ("2024-08-10", "0107", 3.0)])
    db.commit()
    db.close()
    config = folder / "datasets.toml"
    config.write_text(
        '[source]\nurl = "sqlite:///warehouse.sqlite"\n\n'
        '[[datasets]]\nid = "gold/sales"\ndescription = "Sales"\nupdate_frequency = "daily"\n'
        'query = "SELECT day, store, revenue FROM sales ORDER BY store"\n'
    )
    return str(config)


def test_configured_publisher_runs_the_real_publisher(tmp_path, fake_clock):
    storage = LocalStorage((tmp_path / "bucket").as_uri(), clock=fake_clock, signing_key=b"k" * 64)
    publisher = ConfiguredPublisher(write_source(tmp_path), storage, clock=fake_clock)
    assert publisher.plan(None) == ["gold/sales"]
    with pytest.raises(ConfigError):
        publisher.plan(["gold/unknown"])
    runner = JobRunner(publisher, clock=fake_clock)
    status = runner.wait(runner.submit(None).job_id).to_json()
    assert status["state"] == "succeeded", status
    assert status["datasets"][0]["state"] == "succeeded" and status["datasets"][0]["bytes_uploaded"] > 0
    manifest = Manifest.from_bytes(storage.read_bytes(latest_manifest_key()))
    assert manifest.get("gold/sales").row_count == 2


def test_publisher_without_config_is_a_config_error(tmp_path, fake_clock):
    publisher = ConfiguredPublisher(None, LocalStorage((tmp_path / "b").as_uri()), clock=fake_clock)
    with pytest.raises(ConfigError, match="SCOUT_PUBLISH_CONFIG"):
        JobRunner(publisher, clock=fake_clock).submit(None)


def test_without_a_config_the_demo_warehouse_is_published(tmp_path, fake_clock):
    from scout_jupyter.demo import prepare_demo

    warehouse = prepare_demo(tmp_path / "demo", scale=0.05).folder / "warehouse.sqlite"
    storage = LocalStorage((tmp_path / "bucket").as_uri(), clock=fake_clock, signing_key=b"k" * 64)
    publisher = ConfiguredPublisher(None, storage, clock=fake_clock, demo_warehouse=warehouse)
    assert len(publisher.plan(None)) == 9 and publisher.plan(["gold/txn_daily"]) == ["gold/txn_daily"]
    missing = ConfiguredPublisher(None, storage, clock=fake_clock, demo_warehouse=tmp_path / "none.sqlite")
    with pytest.raises(ConfigError, match="no demo warehouse at .*none.sqlite.*scout demo"):
        missing.plan(None)


def test_tracker_marks_unchanged_datasets_and_their_size():
    from scout_jupyter.publish import ProgressTracker

    tracker = ProgressTracker(["gold/a"])
    tracker(ProgressEvent("gold/a", "upload", "skipped", 0, 42))
    tracker(ProgressEvent("gold/a", "verify", "skipped"))
    (row,) = tracker.datasets()
    assert (row["state"], row["unchanged"], row["bytes_total"], row["bytes_uploaded"]) == ("succeeded", True, 42, 0)
