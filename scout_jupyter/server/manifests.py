"""The server's view of the store's manifests: ``latest.json`` cached with a TTL, and the
immutable snapshots that serve older versions (``date=``).

The cache keeps the last good manifest. A refresh that finds ``latest.json`` invalid or missing
does not replace it: dataset routes keep answering from the last good one (its files are
immutable and were verified), while the manifest route reports the problem (503
``manifest_invalid``) so readers and operators see it. A store that cannot be reached is
served from the last good manifest everywhere (stale-if-error). A failed refresh is retried
after ``min(ttl, 10 s)``, not on every request.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..clock import Clock
from ..errors import DatasetNotFound, ManifestInvalid, ObjectNotFound, ScoutError, StorageUnavailable
from ..manifest import DEFAULT_NAMESPACE, DatasetEntry, Manifest, latest_manifest_key, snapshots_newest_first
from ..storage.base import Storage

log = logging.getLogger(__name__)

ERROR_RETRY = 10.0


@dataclass(frozen=True)
class CachedManifest:
    manifest: Manifest
    raw: bytes
    etag: str  # quoted, strong: the sha256 of the bytes served

    @classmethod
    def from_bytes(cls, raw: bytes, source: str | None = None) -> CachedManifest:
        return cls(Manifest.from_bytes(raw, source), raw, f'"{hashlib.sha256(raw).hexdigest()}"')

    def matches(self, if_none_match: str | None) -> bool:
        """True when an ``If-None-Match`` header names this version (weak or strong, or ``*``)."""
        if not if_none_match:
            return False
        tags = [t.strip() for t in if_none_match.split(",")]
        return "*" in tags or any(t.removeprefix("W/") == self.etag for t in tags)


async def run_blocking(fn: Callable[..., Any], *args: Any) -> Any:
    """Storage calls may block on the network: keep them off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


class ManifestCache:
    def __init__(self, storage: Storage, *, ttl: float, clock: Clock, namespace: str = DEFAULT_NAMESPACE):
        self.storage = storage
        self.ttl = float(ttl)
        self.clock = clock
        self.namespace = namespace
        self.key = latest_manifest_key(namespace)
        self._good: CachedManifest | None = None
        self._error: ScoutError | None = None
        self._due = float("-inf")  # clock time of the next refresh
        self._lock = asyncio.Lock()
        self._snapshot_keys: list[str] = []
        self._snapshots_due = float("-inf")
        self._snapshots: dict[str, Manifest | None] = {}

    @property
    def last_good(self) -> CachedManifest | None:
        return self._good

    def invalidate(self) -> None:
        """Re-read the store on the next request (after a publish). Safe from any thread."""
        self._due = float("-inf")
        self._snapshots_due = float("-inf")

    async def current(self, *, strict: bool = False) -> CachedManifest:
        """The manifest to answer with. ``strict`` (the manifest route) raises the refresh error
        unless the store merely could not be reached; otherwise the last good manifest is used."""
        if self.clock.time() >= self._due:
            async with self._lock:
                if self.clock.time() >= self._due:
                    await self._refresh()
        error, good = self._error, self._good
        if error is not None and (good is None or (strict and not isinstance(error, StorageUnavailable))):
            raise error.with_traceback(None)
        assert good is not None
        return good

    async def _refresh(self) -> None:
        try:
            fresh = await run_blocking(self._read_latest)
        except ScoutError as exc:
            self._error = exc
            self._due = self.clock.time() + min(self.ttl, ERROR_RETRY)
            kept = "keeping the last good manifest" if self._good else "no good manifest cached"
            log.error("Manifest refresh failed (%s): %s; %s", exc.code, exc.message, kept)
            return
        self._good, self._error = fresh, None
        self._due = self.clock.time() + self.ttl

    def _read_latest(self) -> CachedManifest:
        try:
            raw = self.storage.read_bytes(self.key)
        except ObjectNotFound:
            raise ObjectNotFound(
                f"No manifest at {self.key}: nothing is published in this store yet "
                "(run `scout demo` or `scout publish`)"
            ) from None
        return CachedManifest.from_bytes(raw, source=self.key)  # the key only: clients see this text

    # --- older versions -------------------------------------------------------------------
    async def entry_for_date(self, dataset_id: str, date: str) -> DatasetEntry:
        """The entry of ``dataset_id`` dated ``date``: from the latest manifest when it has that
        date, else from the newest snapshot that does."""
        latest = (await self.current()).manifest
        entry = latest.get(dataset_id)
        if entry.date == date:
            return entry
        found = await run_blocking(self._search_snapshots, dataset_id, date)
        if found is None:
            raise DatasetNotFound(
                dataset_id, message=f"No version of {dataset_id} dated {date} (the latest is {entry.date})"
            )
        return found

    def _search_snapshots(self, dataset_id: str, date: str) -> DatasetEntry | None:
        for key in self._list_snapshots():
            snapshot = self._snapshot(key)
            entry = snapshot.datasets.get(dataset_id) if snapshot else None
            if entry is not None and entry.date == date:
                return entry
        return None

    def _list_snapshots(self) -> list[str]:
        """Snapshot keys, newest first (their names sort by time); listed at most once per TTL."""
        if self.clock.time() >= self._snapshots_due:
            prefix = f"{self.namespace}/manifests/"
            self._snapshot_keys = snapshots_newest_first(info.key for info in self.storage.list(prefix))
            self._snapshots_due = self.clock.time() + self.ttl
        return self._snapshot_keys

    def _snapshot(self, key: str) -> Manifest | None:
        """A parsed snapshot (immutable, so cached for good); None when unreadable."""
        if key not in self._snapshots:
            try:
                self._snapshots[key] = Manifest.from_bytes(self.storage.read_bytes(key), source=key)
            except (ManifestInvalid, ObjectNotFound) as exc:
                log.warning("Skipping manifest snapshot %s: %s", key, exc.message)
                self._snapshots[key] = None
        return self._snapshots[key]
