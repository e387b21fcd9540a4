"""Publish jobs: the publisher run in a background thread, one at a time, with its progress.

The runner takes the publish callable by injection (``publisher(datasets, on_progress)``,
optionally with ``plan(datasets) -> ids``), so it is tested with a fake and wired to the real
publisher by :class:`ConfiguredPublisher`. A job's status is the DESIGN.md document:
``{"job_id", "state", "progress", "datasets": [{id, step, state, bytes_uploaded, error}],
"started_at", "finished_at"}`` plus ``error`` when it failed; the job list adds ``started_by`` (the
user, or ``schedule`` for a scheduled run).
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..clock import Clock, isoformat_z
from ..errors import ConfigError, JobNotFound, PublishInProgress, ScoutError
from ..storage.base import Storage

if TYPE_CHECKING:  # the publisher (pandas, pyarrow) is imported on the first publish, not at server start
    from ..publish.progress import ProgressCallback

log = logging.getLogger(__name__)

KEEP_JOBS = 100


class Publisher(Protocol):
    def __call__(self, datasets: list[str] | None, on_progress: ProgressCallback) -> Any: ...


class Job:
    """One publish run; mutated by its thread, read by handlers (under ``_lock``)."""

    def __init__(self, datasets: list[str] | None, planned: list[str], user: str | None):
        from ..publish.progress import ProgressTracker

        self.job_id = uuid.uuid4().hex[:16]
        self.datasets = datasets
        self.user = user
        self.tracker = ProgressTracker(planned)
        self.done = threading.Event()
        self._lock = threading.Lock()
        self.state = "queued"
        self.started_at: str | None = None
        self.finished_at: str | None = None
        self.error: str | None = None

    def _set(self, **changes: Any) -> None:
        with self._lock:
            for name, value in changes.items():
                setattr(self, name, value)

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            state, started, finished, error = self.state, self.started_at, self.finished_at, self.error
        out = {
            "job_id": self.job_id,
            "state": state,
            "progress": 1.0 if finished else self.tracker.progress,
            "datasets": self.tracker.datasets(),
            "started_at": started,
            "finished_at": finished,
        }
        if error:
            out["error"] = error
        return out


class JobRunner:
    def __init__(
        self,
        publisher: Publisher,
        *,
        clock: Clock,
        on_finished: Callable[[Job], None] | None = None,
        keep: int = KEEP_JOBS,
    ):
        self.publisher = publisher
        self.clock = clock
        self.on_finished = on_finished
        self.keep = keep
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._active: Job | None = None
        self._lock = threading.Lock()

    def submit(self, datasets: list[str] | None, *, user: str | None = None) -> Job:
        """Start a publish; PublishInProgress while one runs, ConfigError for a bad selection."""
        with self._lock:
            if self._active is not None and not self._active.done.is_set():
                raise PublishInProgress(f"A publish is already running (job {self._active.job_id})")
            plan = getattr(self.publisher, "plan", None)
            planned = list(plan(datasets)) if plan is not None else list(datasets or [])
            job = Job(datasets, planned, user)
            self._jobs[job.job_id] = job
            while len(self._jobs) > self.keep:
                self._jobs.popitem(last=False)
            self._active = job
        threading.Thread(target=self._run, args=(job,), name=f"scout-publish-{job.job_id}", daemon=True).start()
        return job

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFound(f"No publish job {job_id[:40]!r} on this server")
        return job

    def recent(self) -> list[Job]:
        """The jobs this server remembers, newest first."""
        with self._lock:
            return list(reversed(self._jobs.values()))

    def wait(self, job_id: str, timeout: float = 60.0) -> Job:
        """Block until the job finished (tests and shutdown)."""
        job = self.get(job_id)
        job.done.wait(timeout)
        return job

    def _run(self, job: Job) -> None:
        job._set(state="running", started_at=isoformat_z(self.clock.now()))
        state, error = "succeeded", None
        try:
            result = self.publisher(job.datasets, job.tracker)
            if not getattr(result, "ok", True):
                state, error = "failed", result.summary()
        except ScoutError as exc:
            state, error = "failed", exc.message
        except Exception as exc:  # noqa: BLE001 - a job reports its failure instead of dying silently
            log.exception("Publish job %s failed", job.job_id)
            state, error = "failed", f"Publish failed: {type(exc).__name__}: {exc}"
        job._set(state=state, error=error, finished_at=isoformat_z(self.clock.now()))
        log.info("Publish job %s %s%s", job.job_id, state, f": {error}" if error else "")
        try:
            if self.on_finished is not None:
                self.on_finished(job)
        finally:
            job.done.set()


class ConfiguredPublisher:
    """The real publisher over a definitions file, re-read for every job so edits apply.
    Without one it publishes the demo: from the warehouse named by the record ``scout demo``
    left beside the store (so a server started in any folder finds it), else from the warehouse
    ``scout demo`` built under the server's root (``demo_warehouse``), as ``scout publish`` does."""

    def __init__(
        self,
        config_path: str | os.PathLike | None,
        storage: Storage,
        *,
        clock: Clock,
        demo_warehouse: str | os.PathLike | None = None,
    ):
        self.config_path = config_path
        self.storage = storage
        self.clock = clock
        self.demo_warehouse = Path(demo_warehouse) if demo_warehouse else None

    def _config(self):
        from ..demo.record import record_location, recorded_demo_config
        from ..publish import load_config

        if self.config_path:
            return load_config(self.config_path)
        recorded = recorded_demo_config(self.storage)
        if recorded is not None:
            return recorded
        if self.demo_warehouse is not None and self.demo_warehouse.is_file():
            from ..demo import demo_config_path

            return load_config(demo_config_path(), source_url=f"sqlite:///{self.demo_warehouse}")
        where = f" and no demo warehouse at {self.demo_warehouse}" if self.demo_warehouse else ""
        raise ConfigError(
            f"No publish configuration on this server, no demo record at "
            f"{record_location(self.storage)}{where}: set SCOUT_PUBLISH_CONFIG or "
            "c.ScoutExtension.publish_config to a datasets TOML file (or run `scout demo --store` "
            "with this server's store)"
        )

    def plan(self, datasets: list[str] | None) -> list[str]:
        return [d.id for d in self._config().select(datasets)]

    def __call__(self, datasets: list[str] | None, on_progress: ProgressCallback) -> Any:
        from ..publish import publish

        return publish(self._config(), self.storage, datasets=datasets, clock=self.clock, on_progress=on_progress)
