"""Verified downloads, into the cache or to a file of the caller's.

A file streams into a temp file while its sha256 is computed, in blocks: memory stays flat
whatever the file's size. The temp file is renamed onto its destination (``objects/`` in the
cache, or the caller's path for :func:`download_to`) only when size and hash match the
manifest, so a failed, cut or corrupted download leaves nothing behind. Transient faults retry
the whole download; a signed URL refused with 403 (it expired during a retry) is signed again
once.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import threading
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from datetime import timedelta
from pathlib import Path
from typing import Any

from ..cache import Cache, PendingObject, VerifiedTempFile
from ..clock import Clock
from ..errors import ChecksumMismatch, ConfigError, ObjectNotFound, StorageError, StorageUnavailable
from ..storage.retry import RetryPolicy
from .http import HttpTransient, with_retry
from .transport import BodyInterrupted, Grant, SignatureRejected

PROGRESS_MIN_BYTES = 4 * 1024 * 1024
#: from this size on, blocks are hashed and written on a second thread while the next arrives
PIPELINE_MIN_BYTES = 8 * 1024 * 1024
PIPELINE_DEPTH = 4  # blocks waiting between the two threads (memory: this many × ~1 MB)
#: sign again this long before a URL's expiry rather than use it
EXPIRY_MARGIN = timedelta(seconds=5)
#: ``(bytes_done, bytes_total)`` after each chunk of a download
BytesFn = Callable[[int, int], None]
_listener: ContextVar[BytesFn | None] = ContextVar("scout_download_listener", default=None)


@contextlib.contextmanager
def report_bytes(on_bytes: BytesFn | None) -> Iterator[None]:
    """Within the block, downloads in this thread report their progress to ``on_bytes``
    (a widget's progress bar) instead of a console bar."""
    token = _listener.set(on_bytes)
    try:
        yield
    finally:
        _listener.reset(token)


class _CutShort(HttpTransient):
    """The body ended before all bytes arrived: worth a retry; a checksum failure if it persists."""


class Downloader:
    def __init__(self, cache: Cache, transport: Any, *, retry: RetryPolicy, clock: Clock, progress: bool | None = None):
        self.cache = cache
        self.transport = transport
        self.retry = retry
        self.clock = clock
        self.progress = progress

    def fetch(self, grant: Grant, renew: Callable[[], Grant], label: str) -> Path:
        """The verified cached file for ``grant`` (downloading it unless cached). ``renew``
        signs again when the URL was refused."""
        with self.cache.lock(grant.sha256):
            hit = self.cache.get_object(grant.sha256, grant.fmt, grant.size_bytes)
            if hit is not None:
                return hit
            state = _GrantState(grant, renew, self.clock)
            with (
                self.cache.pending(grant.sha256, grant.fmt, label, grant.size_bytes) as pending,
                self._bar(grant, label) as bar,
            ):
                with_retry(
                    self.retry, lambda: self._attempt(state, pending, bar, label), describe=f"download of {label}"
                )
                return pending.commit()

    def fetch_to(self, grant: Grant, renew: Callable[[], Grant], label: str, target: Path) -> Path:
        """Stream ``grant``'s file to ``target`` (not through the cache); ``target`` appears,
        whole and verified, only when the sha256 matched."""
        state = _GrantState(grant, renew, self.clock)
        with FileSink(target, grant.sha256, grant.size_bytes, label) as sink, self._bar(grant, label) as bar:
            with_retry(self.retry, lambda: self._attempt(state, sink, bar, label), describe=f"download of {label}")
            return sink.commit()

    def _attempt(self, state: _GrantState, pending: PendingObject | FileSink, bar: Any, label: str) -> None:
        pending.reset()
        bar.reset(total=state.grant.size_bytes)
        pipeline = _Pipeline(pending) if state.grant.size_bytes >= PIPELINE_MIN_BYTES else None
        sink = pipeline if pipeline is not None else pending
        try:
            try:
                stream, _ = state.open(self.transport)
                for chunk in stream:
                    sink.write(chunk)
                    bar.update(len(chunk))
            finally:
                if pipeline is not None:
                    pipeline.finish()
        except ObjectNotFound:
            raise StorageError(f"{label} is listed in the manifest but missing from the store") from None
        except BodyInterrupted as exc:
            raise self._cut_short(pending, label) from exc
        if pending.size < state.grant.size_bytes:
            raise self._cut_short(pending, label)
        pending.check()

    @staticmethod
    def _cut_short(pending: PendingObject | FileSink, label: str) -> _CutShort:
        error = ChecksumMismatch(
            f"Checksum validation failed for {label}: expected {pending.sha256} "
            f"({pending.expected_size} bytes), got {pending.size} bytes (download cut short)"
        )
        return _CutShort(error.message, error)

    def _bar(self, grant: Grant, label: str) -> contextlib.AbstractContextManager:
        listener = _listener.get()
        if listener is not None:
            return contextlib.nullcontext(_CallbackBar(listener))
        show = self.progress if self.progress is not None else grant.size_bytes >= PROGRESS_MIN_BYTES
        if not show:
            return contextlib.nullcontext(_NoBar())
        from tqdm.auto import tqdm

        return tqdm(total=grant.size_bytes, unit="B", unit_scale=True, unit_divisor=1024, desc=label, leave=False)


class _Pipeline:
    """Hands blocks to ``sink.write`` on a thread of its own, at most ``PIPELINE_DEPTH`` ahead:
    the socket is read while the previous block is hashed and written (both release the GIL).
    :meth:`finish` waits for the last block and re-raises the writer's error."""

    _STOP = object()

    def __init__(self, sink: Any):
        self.sink = sink
        self._queue: queue.Queue = queue.Queue(maxsize=PIPELINE_DEPTH)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="scout-download-write", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (block := self._queue.get()) is not self._STOP:
            if self._error is None:
                try:
                    self.sink.write(block)
                except BaseException as exc:  # noqa: BLE001 - re-raised by finish()/write()
                    self._error = exc

    def write(self, block: bytes) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(block)

    def finish(self) -> None:
        self._queue.put(self._STOP)
        self._thread.join()
        if self._error is not None:
            raise self._error


class _GrantState:
    """The grant in use, renewed at most once (on a 403, or when it has already expired)."""

    def __init__(self, grant: Grant, renew: Callable[[], Grant], clock: Clock):
        self.grant, self._renew, self._clock = grant, renew, clock
        self.renewed = False

    def open(self, transport: Any) -> tuple[Iterator[bytes], int | None]:
        expires = self.grant.expires_at
        if expires is not None and self._clock.now() >= expires - EXPIRY_MARGIN and not self.renewed:
            self._renew_once()
        try:
            return transport.open_stream(self.grant)
        except SignatureRejected:
            if self.renewed:
                raise
            self._renew_once()
            return transport.open_stream(self.grant)

    def _renew_once(self) -> None:
        fresh = self._renew()
        self.renewed = True
        if fresh.sha256 != self.grant.sha256:
            raise StorageError(f"{self.grant.dataset_id} was republished during the download; load it again")
        self.grant = fresh


class _CallbackBar:
    """A progress bar that is a function: ``fn(done, total)``."""

    def __init__(self, fn: BytesFn):
        self.fn, self.done, self.total = fn, 0, 0

    def update(self, n: int) -> None:
        self.done += n
        self.fn(self.done, self.total)

    def reset(self, total: int | None = None) -> None:
        self.done, self.total = 0, int(total or 0)
        self.fn(0, self.total)


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def reset(self, total: int | None = None) -> None:
        pass


class FileSink(VerifiedTempFile):
    """A download to the caller's file: a hidden temp file beside ``target`` that replaces it
    (:meth:`commit`) only when its size and sha256 match. No partial file is ever left, and an
    existing ``target`` stays as it was after a failure."""

    after_mismatch = "; nothing was written"

    def __init__(self, target: Path, sha256: str, size: int | None, label: str):
        target.parent.mkdir(parents=True, exist_ok=True)
        super().__init__(target.parent, f".{target.name}.", sha256, size, label)
        self.target = target

    def commit(self) -> Path:
        tmp = self._close_checked()
        os.chmod(tmp, 0o644)
        os.replace(tmp, self.target)
        return self.target


def download_to(
    client: Any, dataset_id: str, path: str | os.PathLike, *, date: str | None = None, fmt: str = "csv"
) -> Path:
    """:meth:`Client.download`: the dataset's file streamed to ``path``, verified (see there)."""
    from .core import _StaleManifest

    if fmt not in ("csv", "parquet"):
        raise ConfigError(f"format must be csv or parquet, got {fmt!r}")
    target = Path(path).expanduser().absolute()
    if target.is_dir():
        raise ConfigError(f"{target} is a folder: give the path of the file to write")
    try:
        return _download_once(client, dataset_id, target, date, fmt)
    except _StaleManifest:
        client.manifest(refresh=True)
        return _download_once(client, dataset_id, target, date, fmt)


def _download_once(client: Any, dataset_id: str, target: Path, date: str | None, fmt: str) -> Path:
    version = client._resolve(dataset_id, date)
    entry = version.entry
    if fmt == "parquet" and not entry.parquet_sha256:
        raise ConfigError(f"{dataset_id} has no Parquet copy")
    sha, size = (
        (entry.parquet_sha256, entry.parquet_size_bytes) if fmt == "parquet" else (entry.sha256, entry.size_bytes)
    )
    label = entry.id if fmt == "csv" else f"{entry.id} (parquet)"
    cached = client.cache.get_object(sha, fmt, size)
    if cached is not None:  # copied through the same check: the copy is verified, not assumed
        with FileSink(target, sha, size, label) as sink, open(cached, "rb") as source:
            for block in iter(lambda: source.read(COPY_BLOCK), b""):
                sink.write(block)
            return sink.commit()
    if client._manifests.offline_now():
        raise StorageUnavailable(
            f"{entry.id} is not in the local cache and cannot be downloaded: {client._manifests.offline_reason}"
        )
    grant = version.grant if fmt == "csv" and version.grant is not None else client._grant(version, fmt)
    return client._downloader.fetch_to(grant, lambda: client._grant(version, fmt), label, target)


def copy_to_stream(path: Path, out: Any) -> None:
    with open(path, "rb") as source:
        shutil.copyfileobj(source, out, COPY_BLOCK)


COPY_BLOCK = 1024 * 1024
