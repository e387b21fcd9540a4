"""The client's manifest: kept in memory for ``ttl`` seconds, revalidated with its ETag, stored
on disk for offline work. The only thing in the client that expires."""

from __future__ import annotations

import logging
import math
import threading
import warnings
from datetime import datetime, timezone
from typing import Any

from ..cache import Cache
from ..clock import Clock, isoformat_z
from ..errors import ManifestInvalid, StorageUnavailable
from ..manifest import Manifest

log = logging.getLogger(__name__)


class OfflineWarning(UserWarning):
    """The server or store is unreachable: working from the cached manifest and files.

    Ignored by default, since the client logs the same news as one warning line; code that wants
    to react catches it (``warnings.catch_warnings``, ``pytest.warns``) or checks ``client.offline``."""


warnings.filterwarnings("ignore", category=OfflineWarning)


class ManifestState:
    def __init__(
        self, transport: Any, cache: Cache, source: str, *, clock: Clock, ttl: float, offline_recheck: float = 60.0
    ):
        self.transport, self.cache, self.source, self.clock = transport, cache, source, clock
        self.ttl = float(ttl)
        self.offline_recheck = offline_recheck
        self._lock = threading.RLock()
        self._manifest: Manifest | None = None
        self._bytes = b""
        self._etag: str | None = None
        self.fetched_at = self._stored_at = -math.inf
        self._offline_until = -math.inf
        self.offline_reason = ""
        self.offline = False
        #: where the manifest comes from, for messages
        self.where = getattr(transport, "manifest_location", None) or f"the manifest of {transport.origin}"

    def get(self, refresh: bool = False) -> Manifest:
        """From memory within the TTL, else fetched (revalidated with the ETag of the copy on
        disk). Server or store unreachable: the last one fetched, by this or an earlier process,
        with an :class:`OfflineWarning`."""
        with self._lock:
            now = self.clock.time()
            if self._manifest is None:
                self._load_stored()
            if (
                self._manifest is not None
                and not refresh
                and (now - self.fetched_at < self.ttl or now < self._offline_until)
            ):
                return self._manifest
            try:
                data, etag = self.transport.fetch_manifest(self._etag if self._manifest is not None else None)
            except StorageUnavailable as exc:
                return self._go_offline(exc, now)
            if data is not None:
                self._manifest, self._bytes, self._etag = Manifest.from_bytes(data, self.where), data, etag
            self.fetched_at = self._stored_at = now
            self._offline_until, self.offline = -math.inf, False
            self._store()
            if self._manifest is None:  # a 304 answers only a request that sent the stored ETag
                raise StorageUnavailable(f"{self.where} answered 'not modified' to a first request")
            return self._manifest

    def invalidate(self) -> None:
        """Forget the manifest's age: the next call fetches it again."""
        with self._lock:
            self.fetched_at = -math.inf

    def offline_now(self) -> bool:
        """Known to be unreachable (and not yet due for another try)."""
        return self.offline and self.clock.time() < self._offline_until

    def _load_stored(self) -> None:
        stored = self.cache.load_manifest(self.source)
        if stored is None:
            return
        try:
            manifest = Manifest.from_bytes(stored.data, f"the cached copy of {self.where}")
        except ManifestInvalid as exc:
            log.warning("Ignoring the cached manifest: %s", exc.message)
            return
        # kept for revalidation (ETag) and offline use; a new process still asks the server first
        self._manifest, self._bytes = manifest, stored.data
        self._etag, self._stored_at = stored.etag, stored.fetched_at

    def _store(self) -> None:
        try:
            self.cache.save_manifest(self.source, self._bytes, etag=self._etag, fetched_at=self.fetched_at)
        except OSError as exc:
            log.warning("Could not store the manifest in the cache: %s", exc)

    def _go_offline(self, exc: StorageUnavailable, now: float) -> Manifest:
        if self._manifest is None:
            raise StorageUnavailable(f"{exc.message} (and no cached manifest to work offline)") from None
        if not self.offline:
            when = isoformat_z(datetime.fromtimestamp(self._stored_at, timezone.utc))
            message = (
                f"Scout is offline ({exc.message}); using the manifest of {self._manifest.generated_at} "
                f"cached at {when}: cached datasets still load"
            )
            log.warning("%s", message)  # the one line a person sees (retries went to debug)
            warnings.warn(message, OfflineWarning, stacklevel=5)  # for code that catches it; ignored by default
        self.offline, self._offline_until, self.offline_reason = True, now + self.offline_recheck, exc.message
        return self._manifest
