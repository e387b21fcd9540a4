"""Verified downloads into the cache.

A file streams into a temp file in the cache while its sha256 is computed; it is renamed into
``objects/`` only when size and hash match the manifest, so a failed, cut or corrupted download
leaves nothing cached. Transient faults retry the whole download; a signed URL refused with
403 (it expired during a retry) is signed again once.
"""

from __future__ import annotations

import contextlib
from contextvars import ContextVar
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, Iterator

from ..cache import Cache, PendingObject
from ..clock import Clock
from ..errors import ChecksumMismatch, ObjectNotFound, StorageError
from ..storage.retry import RetryPolicy
from .http import HttpTransient, with_retry
from .transport import BodyInterrupted, Grant, SignatureRejected

PROGRESS_MIN_BYTES = 4 * 1024 * 1024
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
    def __init__(self, cache: Cache, transport: Any, *, retry: RetryPolicy, clock: Clock,
                 progress: bool | None = None):
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
            with self.cache.pending(grant.sha256, grant.fmt, label, grant.size_bytes) as pending, \
                    self._bar(grant, label) as bar:
                with_retry(self.retry, lambda: self._attempt(state, pending, bar, label),
                           describe=f"download of {label}")
                return pending.commit()

    def _attempt(self, state: "_GrantState", pending: PendingObject, bar: Any, label: str) -> None:
        pending.reset()
        bar.reset(total=state.grant.size_bytes)
        try:
            stream, _ = state.open(self.transport)
            for chunk in stream:
                pending.write(chunk)
                bar.update(len(chunk))
        except ObjectNotFound:
            raise StorageError(f"{label} is listed in the manifest but missing from the store") from None
        except BodyInterrupted as exc:
            raise self._cut_short(pending, label) from exc
        if pending.size < state.grant.size_bytes:
            raise self._cut_short(pending, label)
        pending.check()

    @staticmethod
    def _cut_short(pending: PendingObject, label: str) -> _CutShort:
        error = ChecksumMismatch(
            f"Checksum validation failed for {label}: expected {pending.sha256} "
            f"({pending.expected_size} bytes), got {pending.size} bytes (download cut short)")
        return _CutShort(error.message, error)

    def _bar(self, grant: Grant, label: str) -> contextlib.AbstractContextManager:
        listener = _listener.get()
        if listener is not None:
            return contextlib.nullcontext(_CallbackBar(listener))
        show = self.progress if self.progress is not None else grant.size_bytes >= PROGRESS_MIN_BYTES
        if not show:
            return contextlib.nullcontext(_NoBar())
        from tqdm.auto import tqdm

        return tqdm(total=grant.size_bytes, unit="B", unit_scale=True, unit_divisor=1024, desc=label,
                    leave=False)


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
