"""Reading the previous manifest and writing the new one (snapshot, then ``latest.json`` last)."""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial

from ..errors import ManifestInvalid, ObjectExists, ObjectNotFound
from ..manifest import Manifest, latest_manifest_key, snapshot_manifest_key, snapshots_newest_first
from ..storage.base import Storage
from ..storage.retry import RetryPolicy

log = logging.getLogger(__name__)

MAX_SNAPSHOTS_PER_SECOND = 100


def read_previous_manifest(storage: Storage, namespace: str, retry: RetryPolicy) -> Manifest | None:
    """The namespace's current manifest; None for a new store.

    A ``latest.json`` that does not validate is not trusted: the newest valid snapshot is used
    instead (with a warning), so a publish can repair a damaged store. ManifestInvalid only when
    no valid manifest exists at all but something is there."""
    key = latest_manifest_key(namespace)
    try:
        return Manifest.from_bytes(
            retry.call(lambda: storage.read_bytes(key), describe=f"read of {key}"), source=storage.location(key)
        )
    except ObjectNotFound:
        return None
    except ManifestInvalid as exc:
        log.warning("%s does not validate (%s); looking for the newest valid snapshot", key, exc.message)
        damaged = exc
    listing = retry.call(
        lambda: list(storage.list(f"{namespace}/manifests/")), describe=f"listing of {namespace}/manifests/"
    )
    for snapshot in snapshots_newest_first(info.key for info in listing):
        try:
            manifest = Manifest.from_bytes(
                retry.call(partial(storage.read_bytes, snapshot), describe=f"read of {snapshot}")
            )
        except (ManifestInvalid, ObjectNotFound):
            continue
        log.warning("Publishing on top of the snapshot %s", snapshot)
        return manifest
    raise ManifestInvalid(f"{key} is damaged and no valid snapshot exists: {damaged.message}")


def write_manifest(storage: Storage, namespace: str, manifest: Manifest, when: datetime, retry: RetryPolicy) -> str:
    """Write the immutable snapshot, then ``latest.json`` (last), then read ``latest.json`` back.
    Returns the snapshot's key."""
    data = manifest.to_bytes()
    snapshot = _write_snapshot(storage, namespace, data, when, retry)
    latest = latest_manifest_key(namespace)
    retry.call(lambda: storage.write(latest, data, content_type="application/json"), describe=f"write of {latest}")
    back = retry.call(lambda: storage.read_bytes(latest), describe=f"read of {latest}")
    if back != data:
        raise ManifestInvalid(f"{latest} did not read back as written")
    return snapshot


def _write_snapshot(storage: Storage, namespace: str, data: bytes, when: datetime, retry: RetryPolicy) -> str:
    """``manifests/<ts>.json``, or ``<ts>.2.json`` … when a snapshot of that second exists."""
    base = snapshot_manifest_key(when, namespace)
    for n in range(1, MAX_SNAPSHOTS_PER_SECOND + 1):
        key = base if n == 1 else base[: -len(".json")] + f".{n}.json"
        try:
            retry.call(
                partial(storage.write, key, data, overwrite=False, content_type="application/json"),
                describe=f"write of {key}",
            )
            return key
        except ObjectExists:
            if retry.call(partial(storage.read_bytes, key), describe=f"read of {key}") == data:
                return key
    raise ManifestInvalid(f"Too many manifest snapshots in the second of {base}")
