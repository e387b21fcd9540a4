"""Scheduled publishing: the publish job on a cron-style schedule, as the original ran it
(daily at 02:15 UTC: ``15 2 * * *``).

Times are UTC and read from the injected clock, so a test moves a :class:`~..clock.FakeClock`
past the next run and calls :meth:`PublishSchedule.tick`. A scheduled run is an ordinary job of
the :class:`~.jobs.JobRunner` (``started_by: "schedule"``), visible through the job routes like
one a notebook started. A run that comes due while a publish is still running is skipped and
logged, never queued behind it; runs missed while the server was down or busy collapse into
one: the next run is always the first cron time after now.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from croniter import croniter

from ..clock import Clock, isoformat_z
from ..errors import ConfigError, PublishInProgress, ScoutError
from .jobs import Job, JobRunner

log = logging.getLogger(__name__)

SCHEDULE_USER = "schedule"


def parse_schedule(expression: str) -> str:
    """A five-field cron expression (minute hour day month weekday, UTC), checked."""
    text = " ".join(expression.split())
    if len(text.split(" ")) != 5 or not croniter.is_valid(text):
        raise ConfigError(
            f"Invalid publish schedule {expression[:60]!r}: expected a cron expression with five "
            "fields (minute hour day month weekday, UTC), e.g. '15 2 * * *' for 02:15 daily"
        )
    return text


class PublishSchedule:
    """Starts a publish of every dataset at each cron time, unless one is running."""

    def __init__(self, expression: str, jobs: JobRunner, clock: Clock, submit: Callable[[], Job] | None = None):
        self.expression = parse_schedule(expression)
        self.jobs = jobs
        self.clock = clock
        self._submit = submit or (lambda: jobs.submit(None, user=SCHEDULE_USER))
        self.next_run: datetime = self._after(clock.now())
        self.started: list[Job] = []
        self.skipped: list[datetime] = []

    def _after(self, when: datetime) -> datetime:
        return croniter(self.expression, when).get_next(datetime)

    def tick(self) -> Job | None:
        """Start the run that is due, if any; returns its job (None: nothing due, or skipped)."""
        now = self.clock.now()
        if now < self.next_run:
            return None
        due, self.next_run = self.next_run, self._after(now)
        try:
            job = self._submit()
        except PublishInProgress as exc:
            self.skipped.append(due)
            log.warning(
                "Scheduled publish of %s skipped: %s; next run %s",
                isoformat_z(due),
                exc.message,
                isoformat_z(self.next_run),
            )
            return None
        except ScoutError as exc:
            self.skipped.append(due)
            log.error(
                "Scheduled publish of %s could not start: %s; next run %s",
                isoformat_z(due),
                exc.message,
                isoformat_z(self.next_run),
            )
            return None
        self.started.append(job)
        log.info(
            "Scheduled publish of %s started: job %s; next run %s",
            isoformat_z(due),
            job.job_id,
            isoformat_z(self.next_run),
        )
        return job

    def seconds_to_next(self) -> float:
        return max(0.0, self.next_run.timestamp() - self.clock.time())

    async def run(self, check_interval: float) -> None:
        """Tick until cancelled, waking at the next run or every ``check_interval`` seconds
        (so a clock that jumps, or a fake one, is noticed)."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                await loop.run_in_executor(None, self.tick)  # submit reads the definitions file
            except Exception:  # noqa: BLE001 - the schedule must outlive one bad tick
                log.exception("Scheduled publish tick failed")
            await asyncio.sleep(min(check_interval, max(0.01, self.seconds_to_next())))
