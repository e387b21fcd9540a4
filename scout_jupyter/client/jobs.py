"""Publish jobs seen from a client: the status document of ``GET /scout/api/jobs/<id>`` and the
polling loop. In direct mode the publisher runs in-process and reports the same status."""

from __future__ import annotations

import html
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..clock import Clock, isoformat_z
from ..errors import ConfigError, StorageError

JOB_STATES = ("queued", "running", "succeeded", "failed")
ProgressFn = Callable[["JobStatus"], None]


@dataclass(frozen=True)
class JobStatus:
    job_id: str
    state: str
    progress: float = 0.0
    datasets: tuple[Mapping[str, Any], ...] = ()
    started_at: str | None = None
    finished_at: str | None = None
    error: str | None = None

    @classmethod
    def from_json(cls, obj: Any) -> JobStatus:
        if not isinstance(obj, dict) or obj.get("state") not in JOB_STATES or "job_id" not in obj:
            raise StorageError(f"Unexpected job status from the Scout server: {str(obj)[:200]}")
        return cls(
            job_id=str(obj["job_id"]),
            state=obj["state"],
            progress=float(obj.get("progress") or 0.0),
            datasets=tuple(dict(d) for d in obj.get("datasets") or ()),
            started_at=obj.get("started_at"),
            finished_at=obj.get("finished_at"),
            error=obj.get("error"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "state": self.state,
            "progress": self.progress,
            "datasets": [dict(d) for d in self.datasets],
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            **({"error": self.error} if self.error else {}),
        }

    @property
    def done(self) -> bool:
        return self.state in ("succeeded", "failed")

    @property
    def ok(self) -> bool:
        return self.state == "succeeded"

    def failures(self) -> list[str]:
        return [f"{d.get('id')}: {d.get('error')}" for d in self.datasets if d.get("state") == "failed"]

    def outcomes(self) -> dict[str, list[str]]:
        """Dataset ids by outcome: ``uploaded``, ``unchanged``, ``failed``, ``pending`` (not done yet)."""
        found: dict[str, list[str]] = {"uploaded": [], "unchanged": [], "failed": [], "pending": []}
        for row in self.datasets:
            state = row.get("state")
            kind = (
                "failed"
                if state == "failed"
                else "pending"
                if state != "succeeded"
                else "unchanged"
                if row.get("unchanged")
                else "uploaded"
            )
            found[kind].append(str(row.get("id")))
        return found

    def __repr__(self) -> str:
        """Readable in a REPL: the one-line summary, then one line per dataset."""
        lines = [f"<JobStatus {self.summary()}>"]
        width = max([len(str(d.get("id"))) for d in self.datasets] or [0])
        for row in self.datasets:
            step = row.get("step") or "-"
            extra = f"  {row['error']}" if row.get("error") else ("  unchanged" if row.get("unchanged") else "")
            lines.append(
                f"  {str(row.get('id')).ljust(width)}  {str(row.get('state')).ljust(9)}  "
                f"{step.ljust(8)}  {_bytes(row.get('bytes_uploaded'))}{extra}"
            )
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """A small table; ids and error texts are escaped (they are data, not markup)."""

        def esc(value: Any) -> str:
            return html.escape("" if value is None else str(value))

        rows = "".join(
            f"<tr><td><code>{esc(d.get('id'))}</code></td><td>{esc(d.get('step') or '-')}</td>"
            f"<td>{esc(d.get('state'))}{' (unchanged)' if d.get('unchanged') else ''}</td>"
            f'<td style="text-align:right">{esc(_bytes(d.get("bytes_uploaded")))}</td>'
            f"<td>{esc(d.get('error') or '')}</td></tr>"
            for d in self.datasets
        )
        times = " · ".join(
            f"{label} {esc(value)}"
            for label, value in (("started", self.started_at), ("finished", self.finished_at))
            if value
        )
        error = f"<p>{esc(self.error)}</p>" if self.error else ""
        return (
            f"<div><b>Publish job <code>{esc(self.job_id)}</code>: {esc(self.state)} ({self.progress:.0%})</b>"
            f"{' · ' + times if times else ''}{error}<table><thead><tr><th>dataset</th><th>step</th>"
            f"<th>state</th><th>bytes uploaded</th><th>error</th></tr></thead><tbody>{rows}</tbody></table></div>"
        )

    def summary(self) -> str:
        """One line for people: state, progress, and per-dataset counts."""
        counts: dict[str, int] = {}
        for row in self.datasets:
            counts[row.get("state", "?")] = counts.get(row.get("state", "?"), 0) + 1
        parts = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
        text = f"publish {self.job_id}: {self.state} ({self.progress:.0%})" + (f"; {parts}" if parts else "")
        problems = self.failures() or ([self.error] if self.error else [])
        return text + (f"; {problems[0]}" if problems else "")


def _bytes(size: Any) -> str:
    if not isinstance(size, (int, float)):
        return "-"
    value, unit = float(size), "B"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            break
        value /= 1024
    return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"


def wait_for_job(
    fetch: Callable[[], JobStatus],
    *,
    sleep: Callable[[float], None],
    interval: float = 1.0,
    on_progress: ProgressFn | None = None,
    max_polls: int = 86_400,
) -> JobStatus:
    """Poll ``fetch`` until the job is done; ``on_progress`` sees each new status."""
    last: JobStatus | None = None
    for _ in range(max_polls):
        status = fetch()
        if on_progress is not None and status != last:
            on_progress(status)
        last = status
        if status.done:
            return status
        sleep(interval)
    raise StorageError(f"Publish job {last.job_id if last else '?'} did not finish after {max_polls} polls")


def publish_in_process(
    storage: Any,
    config_path: str | None,
    datasets: list[str] | None,
    *,
    clock: Clock,
    on_progress: ProgressFn | None = None,
) -> JobStatus:
    """Direct mode: run the publisher here, reporting the server's job status shape."""
    from ..publish import ProgressTracker, load_config, publish

    if not config_path:
        raise ConfigError(
            "Publishing in direct mode needs a publish config: set SCOUT_PUBLISH_CONFIG "
            "or pass config=… (or publish through the Jupyter server)"
        )
    config = load_config(config_path)
    ids = [d.id for d in config.select(datasets)]
    tracker = ProgressTracker(ids)
    job_id = uuid.uuid4().hex[:12]
    started = isoformat_z(clock.now())

    def snapshot(state: str, finished: str | None = None, error: str | None = None) -> JobStatus:
        return JobStatus(
            job_id, state, 1.0 if finished else tracker.progress, tuple(tracker.datasets()), started, finished, error
        )

    def emit(event: Any) -> None:
        tracker(event)
        if on_progress is not None:
            on_progress(snapshot("running"))

    result = publish(config, storage, datasets=datasets, clock=clock, on_progress=emit)
    final = snapshot(
        "succeeded" if result.ok else "failed", isoformat_z(clock.now()), None if result.ok else result.summary()
    )
    if on_progress is not None:
        on_progress(final)
    return final
