"""One publish at a time per store: a lock object in the store itself.

The lock is ``<namespace>/manifests/.publish.lock``, written create-only (``overwrite=False``)
with who holds it (owner id, host, pid) and when (created, last heartbeat). A second publisher
gets :class:`PublishInProgress` naming the holder.

A crashed publisher must not block forever, so a lock is *stale* when its heartbeat is older
than ``stale_after`` (by the injected clock), when it is unreadable, or when it was taken on this
host by a process that no longer runs. Breaking a stale lock is itself guarded: the breaker first
creates ``.publish.lock.break-<hash of the stale lock's bytes>`` create-only, so of several
publishers that saw the same stale lock only one deletes it, and it deletes it only if the
bytes there are still the stale ones (so a fresh lock taken meanwhile survives). Then it takes
the lock like anyone else.

The holder refreshes the heartbeat while it works (:meth:`PublishLock.heartbeat`, throttled);
a heartbeat that finds the lock gone or someone else's raises, so a publisher whose lock was
broken stops before it writes a manifest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from ..clock import SYSTEM_CLOCK, Clock, isoformat_z, parse_timestamp
from ..errors import ObjectExists, ObjectNotFound, PublishInProgress
from ..manifest import DEFAULT_NAMESPACE
from ..storage.base import Storage
from ..storage.retry import RetryPolicy

log = logging.getLogger(__name__)

LOCK_NAME = ".publish.lock"
DEFAULT_STALE_AFTER = 900.0  # seconds without a heartbeat
HEARTBEAT_EVERY = 30.0  # seconds between heartbeat writes
BREAK_TIMEOUT = 60.0  # a break marker older than this was left by a crashed breaker


def lock_key(namespace: str = DEFAULT_NAMESPACE) -> str:
    return f"{namespace}/manifests/{LOCK_NAME}"


@dataclass(frozen=True)
class LockInfo:
    owner: str
    host: str
    pid: int
    created_at: str
    heartbeat_at: str

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode("utf-8")

    @classmethod
    def from_bytes(cls, raw: bytes) -> LockInfo | None:
        """The lock's content, or None when it is not a lock this module wrote."""
        try:
            obj = json.loads(raw.decode("utf-8"))
            info = cls(
                owner=str(obj["owner"]),
                host=str(obj["host"]),
                pid=int(obj["pid"]),
                created_at=str(obj["created_at"]),
                heartbeat_at=str(obj["heartbeat_at"]),
            )
            parse_timestamp(info.heartbeat_at)
            return info
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            return None

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}, started {self.created_at}, last heartbeat {self.heartbeat_at}"


def process_alive(pid: int) -> bool:
    """True if process ``pid`` runs on this host (a zombie is not running)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rsplit(b")", 1)[1].split()[0]
        return state not in (b"Z", b"X")
    except (OSError, IndexError):
        return True


class PublishLock:
    """The publish lock of one namespace. Use ``with PublishLock(storage):`` or acquire/release."""

    def __init__(
        self,
        storage: Storage,
        namespace: str = DEFAULT_NAMESPACE,
        *,
        clock: Clock | None = None,
        retry: RetryPolicy | None = None,
        stale_after: float = DEFAULT_STALE_AFTER,
        heartbeat_every: float = HEARTBEAT_EVERY,
        owner: str | None = None,
    ):
        self.storage = storage
        self.namespace = namespace
        self.key = lock_key(namespace)
        self.clock = clock or SYSTEM_CLOCK
        self.retry = retry or RetryPolicy(sleep=self.clock.sleep)
        self.stale_after = stale_after
        self.heartbeat_every = heartbeat_every
        self.owner = owner or uuid.uuid4().hex
        self.held = False
        self._last_beat = 0.0

    # --- storage calls through the retry policy -------------------------------------------
    def _call(self, what: str, fn):
        return self.retry.call(fn, describe=f"{what} of the publish lock {self.key}")

    def _read(self, key: str | None = None) -> bytes | None:
        key = key or self.key
        try:
            return self._call("read", lambda: self.storage.read_bytes(key))
        except ObjectNotFound:
            return None

    def _create(self, key: str, data: bytes) -> bool:
        try:
            self._call("write", lambda: self.storage.write(key, data, overwrite=False, content_type="application/json"))
            return True
        except ObjectExists:
            return False

    def _info(self) -> LockInfo:
        now = isoformat_z(self.clock.now())
        return LockInfo(owner=self.owner, host=socket.gethostname(), pid=os.getpid(), created_at=now, heartbeat_at=now)

    # --- the protocol ---------------------------------------------------------------------
    def acquire(self) -> LockInfo:
        """Take the lock, breaking a stale one; PublishInProgress when someone holds it."""
        if self.held:
            raise PublishInProgress(f"This publisher already holds the publish lock of {self.namespace}")
        for _ in range(3):
            info = self._info()
            if self._create(self.key, info.to_bytes()):
                self.held, self._last_beat = True, self.clock.time()
                log.info("Took the publish lock %s", self.key)
                return info
            raw = self._read()
            if raw is None:
                continue  # released between our write and our read: try again
            current = LockInfo.from_bytes(raw)
            reason = self.stale_reason(current)
            if reason is None and current is not None:
                raise PublishInProgress(f"A publish is already running on {self.namespace} ({current.describe()})")
            log.warning("Breaking the stale publish lock %s: %s", self.key, reason)
            if not self._break(raw):
                raise PublishInProgress(
                    f"A publish is already running on {self.namespace} (another publisher is taking over a stale lock)"
                )
        raise PublishInProgress(f"Could not take the publish lock of {self.namespace}: it keeps changing")

    def stale_reason(self, info: LockInfo | None) -> str | None:
        """Why the lock ``info`` may be broken, or None while its holder counts as alive."""
        if info is None:
            return "the lock object is unreadable"
        age = self.clock.time() - parse_timestamp(info.heartbeat_at).timestamp()
        if age > self.stale_after:
            return f"no heartbeat for {age:.0f} s ({info.describe()})"
        if info.host == socket.gethostname() and not process_alive(info.pid):
            return f"its process {info.pid} on this host is gone"
        return None

    def _break(self, raw: bytes) -> bool:
        """Delete the stale lock ``raw`` if we win the right to; False if another breaker did."""
        marker = f"{self.key}.break-{hashlib.sha256(raw).hexdigest()[:16]}"
        stamp = json.dumps({"owner": self.owner, "time": self.clock.time()}).encode()
        if not self._create(marker, stamp):
            if not self._marker_abandoned(marker):
                return False
            self._call("delete", lambda: self.storage.delete(marker))
            if not self._create(marker, stamp):
                return False
        try:
            if self._read() == raw:
                self._call("delete", lambda: self.storage.delete(self.key))
        finally:
            self._call("delete", lambda: self.storage.delete(marker))
        return True

    def _marker_abandoned(self, marker: str) -> bool:
        raw = self._read(marker)
        if raw is None:
            return True
        try:
            when = float(json.loads(raw)["time"])
        except (ValueError, KeyError, TypeError):
            return True
        return self.clock.time() - when > BREAK_TIMEOUT

    def heartbeat(self, *, force: bool = False) -> None:
        """Refresh the lock's heartbeat (at most every ``heartbeat_every`` s unless ``force``).
        Raises PublishInProgress if the lock is no longer ours."""
        if not self.held:
            return
        now = self.clock.time()
        if not force and now - self._last_beat < self.heartbeat_every:
            return
        raw = self._read()
        current = LockInfo.from_bytes(raw) if raw is not None else None
        if current is None or current.owner != self.owner:
            self.held = False
            holder = current.describe() if current else "nobody"
            raise PublishInProgress(f"The publish lock of {self.namespace} was taken over (now held by {holder})")
        beat = LockInfo(
            owner=self.owner,
            host=current.host,
            pid=current.pid,
            created_at=current.created_at,
            heartbeat_at=isoformat_z(self.clock.now()),
        )
        self._call("write", lambda: self.storage.write(self.key, beat.to_bytes(), content_type="application/json"))
        self._last_beat = now

    def release(self) -> None:
        """Delete the lock if it is still ours."""
        if not self.held:
            return
        self.held = False
        raw = self._read()
        current = LockInfo.from_bytes(raw) if raw is not None else None
        if current is not None and current.owner == self.owner:
            self._call("delete", lambda: self.storage.delete(self.key))
            log.info("Released the publish lock %s", self.key)
        else:
            log.warning("The publish lock %s was no longer ours at release", self.key)

    def __enter__(self) -> PublishLock:
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()
