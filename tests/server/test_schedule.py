"""Scheduled publishing under a fake clock: fires at its cron time, publishes, never overlaps."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timezone

import pytest
from traitlets import TraitError

from scout_jupyter.clock import FakeClock
from scout_jupyter.errors import ConfigError
from scout_jupyter.server.app import ScoutExtension
from scout_jupyter.server.jobs import JobRunner
from scout_jupyter.server.schedule import PublishSchedule, parse_schedule
from tests.fixtures.store import TXN_ROWS, write_tiny_warehouse

from .helpers import fetch_json
from .test_jobs import GatedPublisher

DAILY_0215 = "15 2 * * *"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(utc(2024, 8, 10, 1, 0))


def test_fires_at_its_time_and_then_the_next_day(clock):
    publisher = GatedPublisher()
    publisher.gate.set()
    runner = JobRunner(publisher, clock=clock)
    schedule = PublishSchedule(DAILY_0215, runner, clock)
    assert schedule.next_run == utc(2024, 8, 10, 2, 15)
    clock.set(utc(2024, 8, 10, 2, 14, 59))
    assert schedule.tick() is None and runner.recent() == []
    clock.set(utc(2024, 8, 10, 2, 15))
    job = schedule.tick()
    assert job is not None and job.user == "schedule"
    assert runner.wait(job.job_id, 10).done.is_set()
    assert job.to_json()["state"] == "succeeded"
    assert schedule.next_run == utc(2024, 8, 11, 2, 15)
    assert schedule.tick() is None  # once per due time
    clock.set(utc(2024, 8, 11, 2, 15, 30))
    assert schedule.tick() is not None and len(runner.recent()) == 2


def test_a_run_due_while_a_publish_runs_is_skipped_and_logged(clock, caplog):
    publisher = GatedPublisher()
    runner = JobRunner(publisher, clock=clock)
    schedule = PublishSchedule(DAILY_0215, runner, clock)
    users_job = runner.submit(None, user="alice")
    assert publisher.started.wait(10)
    clock.set(utc(2024, 8, 10, 2, 15))
    with caplog.at_level(logging.WARNING, logger="scout_jupyter.server.schedule"):
        assert schedule.tick() is None
    assert schedule.skipped == [utc(2024, 8, 10, 2, 15)]
    assert [job.job_id for job in runner.recent()] == [users_job.job_id]  # nothing queued behind it
    assert "Scheduled publish of 2024-08-10T02:15:00.000Z skipped" in caplog.text
    assert users_job.job_id in caplog.text and "next run 2024-08-11T02:15:00.000Z" in caplog.text
    publisher.gate.set()
    runner.wait(users_job.job_id, 10)
    clock.set(utc(2024, 8, 11, 2, 15))
    assert schedule.tick() is not None  # the next day's run is not affected


def test_missed_runs_collapse_into_one(clock):
    publisher = GatedPublisher()
    publisher.gate.set()
    runner = JobRunner(publisher, clock=clock)
    schedule = PublishSchedule("0 * * * *", runner, clock)  # hourly
    clock.set(utc(2024, 8, 13, 7, 30))  # three days asleep
    assert schedule.tick() is not None
    assert schedule.next_run == utc(2024, 8, 13, 8, 0)
    assert schedule.tick() is None and len(runner.recent()) == 1


@pytest.mark.parametrize("text", ["", "15 2 * *", "61 2 * * *", "daily", "15 2 * * * *", "@reboot"])
def test_a_bad_schedule_is_one_clear_line(text):
    with pytest.raises(ConfigError) as caught:
        parse_schedule(text)
    assert "\n" not in caught.value.message and "15 2 * * *" in caught.value.message


def test_the_setting_is_checked_and_off_by_default(monkeypatch):
    monkeypatch.delenv("SCOUT_PUBLISH_SCHEDULE", raising=False)
    assert ScoutExtension().publish_schedule == ""
    with pytest.raises(TraitError, match="Invalid publish schedule"):
        ScoutExtension(publish_schedule="every night")
    monkeypatch.setenv("SCOUT_PUBLISH_SCHEDULE", "15  2 * * *")
    assert ScoutExtension().publish_schedule == DAILY_0215
    monkeypatch.setenv("SCOUT_PUBLISH_SCHEDULE", "at 2")
    with pytest.raises(TraitError, match="Invalid publish schedule 'at 2'"):
        _ = ScoutExtension().publish_schedule


# --- through a running server: the job route shows the scheduled run, the store gets it ---------
@pytest.fixture
def scout_config(scout_config, tmp_path):
    rows = [*TXN_ROWS, ("2024-08-11", "0107", "CALABARZON", 1001.0, 24)]  # one more than the store has
    scout_config.update(
        publish_config=str(write_tiny_warehouse(tmp_path / "warehouse", rows)),
        publish_schedule=DAILY_0215,
        publish_schedule_check_interval=0.02,
    )
    return scout_config


async def poll_async(check, what: str, timeout: float = 60.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_the_server_publishes_on_schedule(jp_fetch, scout_ext, fake_clock):
    assert scout_ext.schedule is not None and scout_ext.schedule.next_run > fake_clock.now()
    before = await fetch_json(jp_fetch, "scout", "api", "datasets", "gold", "txn_daily")
    assert before["row_count"] == 3
    await asyncio.sleep(0.1)  # the schedule looks at the clock several times: nothing is due
    assert (await fetch_json(jp_fetch, "scout", "api", "jobs")) == {"jobs": []}
    fake_clock.set(scout_ext.schedule.next_run)

    async def finished():
        jobs = (await fetch_json(jp_fetch, "scout", "api", "jobs"))["jobs"]
        return jobs if jobs and jobs[0]["state"] in ("succeeded", "failed") else None

    jobs = await poll_async(finished, "the scheduled publish to finish")
    assert [(job["started_by"], job["state"]) for job in jobs] == [("schedule", "succeeded")], jobs
    one = await fetch_json(jp_fetch, "scout", "api", "jobs", jobs[0]["job_id"])
    assert one["datasets"][0]["id"] == "gold/txn_daily" and one["datasets"][0]["state"] == "succeeded"
    after = await fetch_json(jp_fetch, "scout", "api", "datasets", "gold", "txn_daily")
    assert after["row_count"] == 4


async def test_a_notebook_publish_during_a_scheduled_run_is_refused(jp_fetch, scout_ext, fake_clock):
    gated = GatedPublisher()
    scout_ext.service.jobs.publisher = gated
    fake_clock.set(scout_ext.schedule.next_run)
    await poll_async(lambda: asyncio.to_thread(gated.started.wait, 0.05), "the scheduled run to start")
    from .helpers import fetch_error

    code, body, _ = await fetch_error(
        jp_fetch, "scout", "api", "publish", method="POST", body=json.dumps({"datasets": None})
    )
    assert (code, body["error"]) == (409, "publish_in_progress")
    gated.gate.set()
