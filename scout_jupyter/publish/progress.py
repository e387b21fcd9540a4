"""Publish progress as events, and the consumers of those events.

The publisher calls ``on_progress(ProgressEvent(...))``; the same stream feeds a terminal bar
(:class:`TqdmReporter`), the publish widget and the server's job status (:class:`ProgressTracker`).

Steps, per dataset and in order: ``export`` (query → CSV + Parquet in the work folder; bytes are
CSV bytes written), ``materialize`` (only with ``materialize = "table"``), ``upload`` (bytes
sent), ``verify`` (read back: size and sha256). Then once, with ``dataset=None``: ``manifest``.
States: ``started``, ``progress``, ``done``, ``skipped`` (nothing to do: unchanged data or the
object already there), ``failed`` (``error`` says why).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any, TextIO

STEPS = ("export", "materialize", "upload", "verify", "manifest")
STATES = ("started", "progress", "done", "skipped", "failed")
DATASET_STEPS = ("export", "upload", "verify")  # what every dataset goes through


@dataclass(frozen=True)
class ProgressEvent:
    dataset: str | None
    step: str
    state: str
    bytes_done: int = 0
    bytes_total: int | None = None
    error: str | None = None

    def __post_init__(self) -> None:
        if self.step not in STEPS:
            raise ValueError(f"Unknown publish step {self.step!r}")
        if self.state not in STATES:
            raise ValueError(f"Unknown publish state {self.state!r}")

    @property
    def finished(self) -> bool:
        return self.state in ("done", "skipped", "failed")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> ProgressEvent:
        fields: dict[str, Any] = {
            k: obj.get(k) for k in ("dataset", "step", "state", "bytes_done", "bytes_total", "error")
        }
        return cls(**fields)


ProgressCallback = Callable[[ProgressEvent], None]


def fanout(*callbacks: ProgressCallback | None) -> ProgressCallback:
    """One callback that calls each of ``callbacks`` (None ones are left out)."""
    active = [c for c in callbacks if c is not None]

    def emit(event: ProgressEvent) -> None:
        for callback in active:
            callback(event)

    return emit


class ProgressTracker:
    """Folds events into a job status: per dataset ``{id, step, state, bytes_uploaded, error}``
    with state ``queued|running|succeeded|failed`` (plus ``bytes_total``, the file's size once
    known, and ``unchanged``, true when the store already had the same bytes), and an overall
    ``progress`` in 0..1.
    Thread-safe: the publisher emits from its thread, a server handler reads from another."""

    def __init__(self, dataset_ids: Iterable[str]):
        self._lock = threading.Lock()
        self._rows: dict[str, dict[str, Any]] = {i: _new_row(i) for i in dataset_ids}
        self._units: dict[str, float] = dict.fromkeys(self._rows, 0.0)
        self._manifest_done = False

    def __call__(self, event: ProgressEvent) -> None:
        with self._lock:
            if event.dataset is None:
                self._manifest_done = event.finished or self._manifest_done
                return
            row = self._rows.setdefault(event.dataset, _new_row(event.dataset))
            self._units.setdefault(event.dataset, 0.0)
            row["step"] = event.step
            if event.state == "failed":
                row["state"], row["error"] = "failed", event.error
            elif row["state"] != "failed":
                row["state"] = "running"
            if event.step == "upload" and event.state in ("progress", "done"):
                row["bytes_uploaded"] = max(row["bytes_uploaded"], event.bytes_done)
            if event.step == "upload" and event.bytes_total:
                row["bytes_total"] = event.bytes_total
            if event.step == "upload" and event.state == "skipped":
                row["unchanged"] = True
            self._units[event.dataset] = max(self._units[event.dataset], _units(event))
            if event.step == "verify" and event.state in ("done", "skipped") and row["state"] != "failed":
                row["state"] = "succeeded"

    def datasets(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(row) for row in self._rows.values()]

    @property
    def progress(self) -> float:
        """Finished work over all work: three steps per dataset plus the manifest."""
        with self._lock:
            done = sum(3.0 if self._rows[i]["state"] in ("succeeded", "failed") else u for i, u in self._units.items())
            total = 3 * len(self._units) + 1
            return round(min(1.0, (done + (1 if self._manifest_done else 0)) / total), 4)


def _new_row(dataset_id: str) -> dict[str, Any]:
    return {
        "id": dataset_id,
        "step": None,
        "state": "queued",
        "bytes_uploaded": 0,
        "bytes_total": None,
        "unchanged": False,
        "error": None,
    }


def _units(event: ProgressEvent) -> float:
    """How far along its three steps a dataset is, from one event."""
    index = DATASET_STEPS.index(event.step) if event.step in DATASET_STEPS else 0
    if event.finished:
        return index + 1.0
    if event.step == "upload" and event.bytes_total:
        return index + min(1.0, event.bytes_done / event.bytes_total)
    return float(index)


class TqdmReporter:
    """Terminal progress: one bar over the datasets, a byte bar for the current upload.

    ``disable=None`` shows the bars only when ``file`` is a terminal."""

    def __init__(self, total_datasets: int, *, file: TextIO | None = None, disable: bool | None = None):
        from tqdm import tqdm  # the terminal bar; never tqdm.auto (it would import ipywidgets)

        self._tqdm = tqdm
        self._file = file or sys.stderr
        if disable is None:
            disable = not (hasattr(self._file, "isatty") and self._file.isatty())
        self._disable = disable
        self._overall = tqdm(
            total=total_datasets, desc="publish", unit="dataset", file=self._file, disable=disable, leave=True
        )
        self._bytes: Any = None  # the current upload's tqdm bar (tqdm or tqdm.auto's)
        self._finished: set[str] = set()

    def __call__(self, event: ProgressEvent) -> None:
        if event.dataset is not None:
            self._overall.set_postfix_str(f"{event.dataset} {event.step}", refresh=False)
        if event.step == "upload":
            self._upload(event)
        if (
            event.dataset
            and event.dataset not in self._finished
            and (event.state == "failed" or (event.step == "verify" and event.finished))
        ):
            self._finished.add(event.dataset)
            self._overall.update(1)
        if event.state == "failed" and not self._disable:
            self._overall.write(f"{event.dataset or 'manifest'}: {event.error}", file=self._file)

    def _upload(self, event: ProgressEvent) -> None:
        if event.state == "started":
            self._close_bytes()
            self._bytes = self._tqdm(
                total=event.bytes_total or 0,
                desc=f"  {event.dataset}",
                unit="B",
                unit_scale=True,
                file=self._file,
                disable=self._disable,
                leave=False,
            )
        elif self._bytes is not None:
            self._bytes.update(max(0, event.bytes_done - self._bytes.n))
            if event.finished:
                self._close_bytes()

    def _close_bytes(self) -> None:
        if self._bytes is not None:
            self._bytes.close()
            self._bytes = None

    def close(self) -> None:
        self._close_bytes()
        self._overall.close()

    def __enter__(self) -> TqdmReporter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
