"""PublishPanel: start a publish (a checklist and Start, or at once with ids) and follow its job.

Live per-dataset rows come from the job route (``client.job``), polled until the job ends; a
final summary says what was uploaded, unchanged or failed (with its reason). ``PublishPanel(
job_id=...)`` (``scout.job(job_id)``) re-attaches to a running job, so a kernel restart loses
nothing. A refusal (not allowed to publish, one already running) shows as one line.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from ..client.jobs import JobStatus
from . import format as fmt
from .actions import describe_error
from .static import StaticRepr

HERE = Path(__file__).parent
POLL_INTERVAL = 1.0


class PublishPanel(StaticRepr, anywidget.AnyWidget):
    _esm = HERE / "publish.js"
    _css = HERE / "scout.css"

    choices = traitlets.List(traitlets.Dict()).tag(sync=True)
    selected = traitlets.List(traitlets.Unicode()).tag(sync=True)
    job = traitlets.Dict().tag(sync=True)
    error = traitlets.Dict().tag(sync=True)  # {"text", "retry_at"?} when the last action failed

    def __init__(
        self,
        client: Any = None,
        *,
        datasets: Sequence[str] | None = None,
        job_id: str | None = None,
        start: bool = False,
        poll_interval: float = POLL_INTERVAL,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if client is None:
            from ..client import default_client

            client = default_client()
        self.client = client
        self.poll_interval = poll_interval
        self.status: JobStatus | None = None
        self._thread: threading.Thread | None = None
        self._row_counts: dict[str, int] = {}
        self.on_msg(self._on_message)
        if job_id is None:
            self._load_choices(datasets)
        if job_id is not None:
            self.attach(job_id)
        elif start:
            self.start_in_background(datasets)

    # --- actions ----------------------------------------------------------------------------------
    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("action") == "start" and not self.running:
            ids = [str(i) for i in content.get("ids") or []]
            self.selected = ids
            self.start_in_background(ids or None)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, datasets: Sequence[str] | None = None) -> JobStatus | None:
        """Start publishing ``datasets`` (all when None) and follow the job to its end."""
        return self.follow() if self.begin(datasets) else self.status

    def begin(self, datasets: Sequence[str] | None = None) -> bool:
        """Start the job and show its first status. True when it runs on the server (then
        :meth:`follow` it); False when it has already ended (direct mode runs the publisher
        here, reporting as it goes) or was refused (the reason is in ``error``)."""
        self.error = {}
        ids = list(datasets) if datasets else None
        try:
            if self.client.mode == "direct":
                self._finish(self.client.publish(ids, on_progress=self._show))
                return False
            self._show(self.client.publish(ids, wait=False))
            return True
        except Exception as exc:  # noqa: BLE001 - one line in the panel
            self.error = describe_error(exc)
            return False

    def start_in_background(self, datasets: Sequence[str] | None = None) -> None:
        self._thread = threading.Thread(target=self.start, args=(datasets,), name="scout-publish-panel", daemon=True)
        self._thread.start()

    def follow_in_background(self) -> None:
        self._thread = threading.Thread(target=self.follow, name="scout-publish-panel", daemon=True)
        self._thread.start()

    def attach(self, job_id: str, *, follow: bool = True) -> None:
        """Show job ``job_id`` and follow it in the background until it ends."""
        try:
            self._show(self.client.job(job_id))
        except Exception as exc:  # noqa: BLE001
            self.error = describe_error(exc)
            return
        if follow and self.status is not None and not self.status.done:
            self.follow_in_background()
        elif self.status is not None and self.status.done:
            self._finish(self.status)

    def follow(self) -> JobStatus | None:
        """Poll the job route until the job ends (each new status updates the rows)."""
        while self.status is not None and not self.status.done:
            self.client.clock.sleep(self.poll_interval)
            try:
                self._show(self.client.job(self.status.job_id))
            except Exception as exc:  # noqa: BLE001 - a lost server: say so, keep what we showed
                self.error = describe_error(exc)
                return self.status
        return self._finish(self.status) if self.status is not None else None

    def wait(self, timeout: float | None = None) -> JobStatus | None:
        """Wait for a background start or follow to end (tests, scripts)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.status

    # --- showing ----------------------------------------------------------------------------------
    def _load_choices(self, datasets: Sequence[str] | None) -> None:
        try:
            table = self.client.datasets()
        except Exception as exc:  # noqa: BLE001
            self.error = describe_error(exc)
            return
        self.choices = [{"id": r["id"], "description": r["description"] or ""} for r in table.to_dict("records")]
        self._row_counts = {r["id"]: int(r["row_count"]) for r in table.to_dict("records")}
        self.selected = list(datasets) if datasets else [c["id"] for c in self.choices]

    def _finish(self, status: JobStatus) -> JobStatus:
        try:  # the new manifest's row counts for the final rows
            self.client.invalidate()
            manifest = self.client.manifest()
            self._row_counts = {
                d["id"]: manifest.get(d["id"]).row_count for d in status.datasets if d.get("id") in manifest
            }
        except Exception as exc:  # noqa: BLE001 - the job's own result still shows
            self.error = describe_error(exc)
        self._show(status)
        return status

    def _show(self, status: JobStatus) -> None:
        self.status = status
        self.job = job_view(status, self._row_counts if status.done else {})

    def static_html(self) -> str:
        return _panel_html(self)

    def static_text(self) -> str:
        return _panel_text(self)


def job_view(status: JobStatus, row_counts: dict[str, int]) -> dict[str, Any]:
    """What the view draws: the status, with texts for each row and the final summary."""
    rows = []
    for d in status.datasets:
        total = d.get("bytes_total")
        done = d.get("bytes_uploaded") or 0
        rows.append(
            {
                "id": d.get("id"),
                "step": d.get("step") or "—",
                "state": d.get("state"),
                "rows": fmt.human_count(row_counts[d["id"]]) if d.get("id") in row_counts else "—",
                "bytes": (
                    "unchanged"
                    if d.get("unchanged")
                    else f"{fmt.human_bytes(done)} of {fmt.human_bytes(total)}"
                    if total and d.get("state") == "running"
                    else fmt.human_bytes(done)
                ),
                "error": fmt.one_line(d["error"]) if d.get("error") else "",
            }
        )
    outcomes = status.outcomes()
    summary = ""
    if status.done:
        parts = [
            f"{len(outcomes['uploaded'])} uploaded",
            f"{len(outcomes['unchanged'])} unchanged",
            f"{len(outcomes['failed'])} failed",
        ]
        reasons = [f"{d['id']}: {d['error']}" for d in rows if d["error"]]
        if not reasons and status.error:
            reasons = [fmt.one_line(status.error)]
        summary = f"{'Published' if status.ok else 'Publish failed'}: {', '.join(parts)}" + (
            f" — {reasons[0]}" if reasons else ""
        )
    return {
        "job_id": status.job_id,
        "state": status.state,
        "progress": status.progress,
        "rows": rows,
        "started_at": status.started_at or "",
        "finished_at": status.finished_at or "",
        "manifest": ("written" if status.ok else "not written")
        if status.done
        else ("writing" if rows and all(r["state"] in ("succeeded", "failed") for r in rows) else "waiting"),
        "summary": summary,
    }


def _static_rows(job: dict[str, Any]) -> list[list[str]]:
    return [[r["id"], r["step"], r["rows"], r["bytes"], r["state"], r["error"]] for r in job.get("rows", [])]


def _panel_html(panel: PublishPanel) -> str:
    job = panel.job
    error = f'<p class="scout-error">{fmt.text(panel.error.get("text"))}</p>' if panel.error else ""
    if not job:
        return error + fmt.html_table(
            ["dataset", "description"],
            [[c["id"], c["description"]] for c in panel.choices],
            caption="Datasets to publish",
        )
    head = f"<p><b>Publish job {fmt.text(job['job_id'])}: {fmt.text(job['state'])} ({job['progress']:.0%})</b></p>"
    summary = f'<p class="scout-summary">{fmt.text(job["summary"])}</p>' if job.get("summary") else ""
    return (
        head
        + error
        + fmt.html_table(["dataset", "step", "rows", "bytes", "state", "error"], _static_rows(job))
        + summary
    )


def _panel_text(panel: PublishPanel) -> str:
    job = panel.job
    lines = [panel.error["text"]] if panel.error else []
    if not job:
        return "\n".join(lines + ["Datasets to publish: " + ", ".join(c["id"] for c in panel.choices)])
    lines.insert(0, f"publish {job['job_id']}: {job['state']} ({job['progress']:.0%})")
    lines.append(fmt.text_table(["dataset", "step", "rows", "bytes", "state", "error"], _static_rows(job)))
    if job.get("summary"):
        lines.append(job["summary"])
    return "\n".join(lines)
