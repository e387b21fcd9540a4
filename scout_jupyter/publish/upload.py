"""Put one dataset's files into one namespace of the store: idempotent, verified, immutable.

Key naming: the day's first publication of a dataset is ``<name>_<date>.csv`` (+ ``.parquet``),
exactly DESIGN.md's layout. Data files are immutable, so a second publication *the same day
with different bytes* goes to the next free revision, ``<name>_<date>.r2.csv``, ``.r3.csv``, …
(its Parquet copy takes the same revision). A key that already holds the same sha256 is reused
and nothing is uploaded; the manifest's ``latest_csv`` always names the file that holds the
published bytes.

Every upload declares its sha256 (the store checks it where it can), is create-only (a retry
whose first try did land finds the same bytes there and counts as done), and is read back
afterwards: size from ``info`` and sha256 from ``storage.sha256`` (the store's own checksum, or
the bytes streamed back). An object that does not read back right is deleted (nothing points at
it yet) and the dataset fails with ChecksumMismatch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from ..errors import ChecksumMismatch, ObjectExists, ObjectNotFound, ScoutError, StorageError
from ..manifest import dataset_key
from ..storage.base import Storage
from ..storage.retry import RetryPolicy, TransientError
from .progress import ProgressEvent

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_REVISIONS = 1000
PROGRESS_EVERY = 1 << 20
CONTENT_TYPES = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}


@dataclass(frozen=True)
class LocalFile:
    path: Path
    sha256: str
    size: int
    ext: str  # "csv" or "parquet"


@dataclass(frozen=True)
class Placed:
    """Where a file lives in the store now, and what it cost to put it there."""

    key: str
    bytes_uploaded: int

    @property
    def uploaded(self) -> bool:
        return self.bytes_uploaded > 0


class _ProgressReader:
    """A read-only file that reports how many bytes were read (= sent)."""

    def __init__(self, path: Path, report: Callable[[int], None]):
        self._fh = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._report = report
        self.done = 0
        self._reported = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._fh.read(size)
        self.done += len(chunk)
        if not chunk or self.done - self._reported >= PROGRESS_EVERY:
            self._reported = self.done
            self._report(self.done)
        return chunk

    def close(self) -> None:
        self._fh.close()


class Uploader:
    def __init__(self, storage: Storage, retry: RetryPolicy, emit: Callable[[ProgressEvent], None]):
        self.storage, self.retry, self.emit = storage, retry, emit

    def call(self, describe: str, fn: Callable[[], T]) -> T:
        return self.retry.call(fn, describe=describe)

    # --- reading what is there -----------------------------------------------------------
    def stored_sha256(self, key: str) -> str | None:
        """The sha256 of the object at ``key``, or None when there is none."""
        try:
            return self.call(f"checksum of {key}", lambda: self.storage.sha256(key))
        except ObjectNotFound:
            return None

    def stored_size(self, key: str) -> int | None:
        try:
            return self.call(f"info of {key}", lambda: self.storage.info(key)).size
        except ObjectNotFound:
            return None

    def choose_keys(
        self, dataset_id: str, date: str, namespace: str, files: list[LocalFile]
    ) -> tuple[list[str], list[bool]]:
        """The first revision whose keys are free or already hold these exact files.
        Returns the keys and, per file, whether the same bytes are already there."""
        for revision in range(1, MAX_REVISIONS + 1):
            keys = [
                dataset_key(dataset_id, date, f.ext if revision == 1 else f"r{revision}.{f.ext}", namespace)
                for f in files
            ]
            present = [self.stored_sha256(key) for key in keys]
            if all(sha in (None, f.sha256) for sha, f in zip(present, files, strict=True)):
                return keys, [sha == f.sha256 for sha, f in zip(present, files, strict=True)]
        raise StorageError(f"{dataset_id} was published more than {MAX_REVISIONS} times on {date}")

    # --- writing -------------------------------------------------------------------------
    def put(self, dataset_id: str, key: str, file: LocalFile) -> int:
        """Upload ``file`` create-only to ``key``; returns the bytes sent."""
        self.emit(ProgressEvent(dataset_id, "upload", "started", 0, file.size))

        def report(done: int) -> None:
            self.emit(ProgressEvent(dataset_id, "upload", "progress", done, file.size))

        def attempt() -> int:
            reader = _ProgressReader(file.path, report)
            try:
                self.storage.write(
                    key, reader, overwrite=False, content_type=CONTENT_TYPES[file.ext], sha256=file.sha256
                )
            except ObjectExists:
                # an earlier try landed (its answer was lost) or someone wrote these bytes: check
                if self.stored_sha256(key) != file.sha256:
                    raise StorageError(f"Another object appeared at {key} during the upload") from None
            finally:
                reader.close()
            return file.size

        sent = self.call(f"upload of {key}", attempt)
        self.emit(ProgressEvent(dataset_id, "upload", "done", sent, file.size))
        return sent

    def verify(self, dataset_id: str, key: str, file: LocalFile) -> None:
        """Read back size and sha256; delete the object and raise ChecksumMismatch if wrong."""
        size = self.stored_size(key)
        sha = self.stored_sha256(key) if size == file.size else None
        if size == file.size and sha == file.sha256:
            return
        what = (
            "missing"
            if size is None
            else (
                f"{size} bytes, expected {file.size}" if size != file.size else f"sha256 {sha}, expected {file.sha256}"
            )
        )
        try:
            self.call(f"delete of {key}", lambda: self.storage.delete(key))
        except (ScoutError, TransientError) as exc:
            log.warning("Could not delete the bad upload %s: %s", key, exc)
        raise ChecksumMismatch(f"Checksum validation failed for {key} after upload: the store has {what}")

    def place(self, dataset_id: str, date: str, namespace: str, files: list[LocalFile]) -> list[Placed]:
        """Upload (or reuse) and verify every file of one dataset in one namespace."""
        keys, present = self.choose_keys(dataset_id, date, namespace, files)
        placed, new = [], []
        for key, file, there in zip(keys, files, present, strict=True):
            if there:
                self.emit(ProgressEvent(dataset_id, "upload", "skipped", 0, file.size))
                placed.append(Placed(key, 0))
            else:
                placed.append(Placed(key, self.put(dataset_id, key, file)))
                new.append((key, file))
        self.emit(ProgressEvent(dataset_id, "verify", "started"))
        for key, file in new:
            self.verify(dataset_id, key, file)
        self.emit(ProgressEvent(dataset_id, "verify", "done" if new else "skipped"))
        return placed
