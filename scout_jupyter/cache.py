"""The local cache of downloaded datasets: content-addressed, LRU-bounded, safe across kernels.

Layout under the cache root (``SCOUT_CACHE_DIR``, else the platform's user cache dir)::

    objects/ab/<sha256>.csv|.parquet    downloaded files, named by the sha256 of their bytes
    parsed/ab/<sha256>-<schema>.arrow   the parsed frame of that CSV (Arrow IPC, uncompressed)
    manifests/<source>.json             the last manifest of each server or store (offline use)
    manifests/<source>/<name>.json      immutable snapshot manifests (``date=`` loads)
    tmp/                                downloads in progress
    locks/                              flock files: one per sha256 prefix, one for eviction

Files are never changed in place: every write goes to ``tmp/`` and is renamed into place, and a
download is renamed only after its sha256 matched, so a reader sees a whole, verified file or
none, and the file name is the hash of record. Data files are immutable, so they have no TTL;
the LRU bound evicts by last access: a hit sets the file's mtime from the injected clock, at
most once per ``touch_interval`` (60 s) per file and process, so the order is exact to within
that interval and a warm load in a loop costs no metadata write. Parsed copies are read
memory-mapped, and the last few stay mapped between loads (:mod:`scout_jupyter.parsedcopy`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypeVar

import pandas as pd
import pyarrow as pa

from . import parsedcopy, settings
from .clock import SYSTEM_CLOCK, Clock
from .errors import ChecksumMismatch, ConfigError
from .keeper import ParsedKeeper

try:  # POSIX advisory locks; elsewhere, atomic renames alone keep files whole
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

DEFAULT_CACHE_SIZE = 5 * 1000**3
TOUCH_INTERVAL = 60.0
TMP_MAX_AGE = 24 * 3600.0
_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "t": 1000**4,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$")
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")


def parse_size(text: str | int) -> int:
    """``"5GB"``, ``"500 MiB"``, ``"1048576"`` → bytes (KB/MB/GB decimal, KiB/MiB/GiB binary)."""
    if isinstance(text, int) and not isinstance(text, bool):
        return max(0, text)
    match = _SIZE_RE.match(str(text).lower())
    if not match or match.group(2) not in _UNITS:
        raise ConfigError(f"Invalid cache size {text!r} (expected e.g. 5GB, 500MB or a number of bytes)")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def default_cache_dir() -> Path:
    configured = settings.env(settings.CACHE_DIR)
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("scout-jupyter"))


def source_id(origin: str) -> str:
    """A short stable name for a server or store (its manifests are kept apart)."""
    return hashlib.sha256(origin.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class StoredManifest:
    data: bytes
    etag: str | None
    fetched_at: float


_Temp = TypeVar("_Temp", bound="VerifiedTempFile")


class VerifiedTempFile:
    """Bytes streamed into a temp file in ``folder`` while their sha256 and size are counted;
    a subclass's ``commit`` moves it into place only after :meth:`check`. As a context manager
    the temp file is removed on the way out (after a commit it is gone already), so nothing
    half-written is ever left."""

    #: said after a mismatch: what became of the target
    after_mismatch = ""

    def __init__(self, folder: Path, prefix: str, sha256: str, size: int | None, label: str):
        self.sha256, self.expected_size, self.label = sha256, size, label
        fd, name = tempfile.mkstemp(dir=folder, prefix=prefix, suffix=".part")
        self.tmp = Path(name)
        self._fh = os.fdopen(fd, "wb")
        self.hasher = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self._fh.write(chunk)
        self.hasher.update(chunk)
        self.size += len(chunk)

    def reset(self) -> None:
        """Start over (a retried download)."""
        self._fh.seek(0)
        self._fh.truncate()
        self.hasher = hashlib.sha256()
        self.size = 0

    def check(self) -> None:
        actual = self.hasher.hexdigest()
        if actual != self.sha256 or (self.expected_size is not None and self.size != self.expected_size):
            expected_size = "" if self.expected_size is None else f" ({self.expected_size} bytes)"
            raise ChecksumMismatch(
                f"Checksum validation failed for {self.label}: expected {self.sha256}"
                f"{expected_size}, got {actual} ({self.size} bytes){self.after_mismatch}"
            )

    def _close_checked(self) -> Path:
        # No fsync: a cached file can be refetched, and one cut short by a crash fails its size or
        # sha256 check on its next use; the rename alone keeps readers from torn files.
        self.check()
        self._fh.close()
        return self.tmp

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self._fh.close()
        with contextlib.suppress(FileNotFoundError):
            self.tmp.unlink()

    def __enter__(self: _Temp) -> _Temp:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.discard()


class PendingObject(VerifiedTempFile):
    """A download in progress into the cache: it becomes ``objects/…`` only when its size and
    sha256 match (:meth:`commit`), so nothing half-written is ever cached."""

    def __init__(self, cache: Cache, sha256: str, ext: str, label: str, size: int | None):
        super().__init__(cache.root / "tmp", f"{sha256[:12]}-", sha256, size, label)
        self.cache, self.ext = cache, ext

    def commit(self) -> Path:
        tmp = self._close_checked()
        target = self.cache.object_path(self.sha256, self.ext)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)
        self.cache.touch(target)
        return target


class Cache:
    """The on-disk cache. Several processes may share one root."""

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        *,
        max_bytes: int | str | None = None,
        clock: Clock | None = None,
        touch_interval: float = TOUCH_INTERVAL,
    ):
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()
        if max_bytes is None:
            max_bytes = settings.env(settings.CACHE_SIZE) or DEFAULT_CACHE_SIZE
        self.max_bytes = parse_size(max_bytes)
        self.clock = clock or SYSTEM_CLOCK
        self.touch_interval = float(touch_interval)
        self._parsed_dir = f"{self.root / 'parsed'}{os.sep}"
        self._used: dict[str, float] = {}  # path -> when this process last marked it used
        # parsed copies kept mapped between loads (not on Windows: a mapped file cannot be deleted)
        self._copies = parsedcopy.OpenCopies(keep=0 if os.name == "nt" else 8)
        #: parsed copies of cold loads are written in the background (:mod:`scout_jupyter.keeper`)
        self.keeper = ParsedKeeper()
        for folder in ("objects", "parsed", "manifests", "tmp", "locks"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"Cache({str(self.root)!r}, max_bytes={self.max_bytes})"

    # --- paths and access times -------------------------------------------------------------
    def object_path(self, sha256: str, ext: str) -> Path:
        _check_sha(sha256)
        return self.root / "objects" / sha256[:2] / f"{sha256}.{ext}"

    def parsed_path(self, sha256: str, fingerprint: str) -> Path:
        return Path(self._parsed_key(sha256, fingerprint))

    def _parsed_key(self, sha256: str, fingerprint: str) -> str:
        _check_sha(sha256)
        return f"{self._parsed_dir}{sha256[:2]}{os.sep}{sha256}-{fingerprint}.arrow"

    def touch(self, path: Path) -> None:
        """Mark ``path`` as just used (the LRU order)."""
        now = self.clock.time()
        with contextlib.suppress(FileNotFoundError):
            os.utime(path, (now, now))

    def note_use(self, path: str | Path) -> None:
        """A cache hit on ``path``: :meth:`touch`, unless this process did so less than
        ``touch_interval`` seconds ago (by the injected clock)."""
        key, now = str(path), self.clock.time()
        last = self._used.get(key)
        if last is not None and 0 <= now - last < self.touch_interval:
            return
        if len(self._used) >= 4096:
            self._used.clear()
        self._used[key] = now
        try:
            os.utime(key, (now, now))
        except FileNotFoundError:
            pass

    # --- raw objects --------------------------------------------------------------------------
    def get_object(self, sha256: str, ext: str, size: int | None = None, *, full: bool = False) -> Path | None:
        """The cached file, if present and its size (and with ``full``, its sha256) matches.
        A file that fails the check is removed."""
        path = self.object_path(sha256, ext)
        try:
            actual_size = path.stat().st_size
        except FileNotFoundError:
            return None
        if (size is not None and actual_size != size) or (full and file_sha256(path) != sha256):
            log.warning("Cached file %s failed verification; removing it", path.name)
            self.remove(sha256)
            return None
        self.note_use(path)
        return path

    def pending(self, sha256: str, ext: str, label: str, size: int | None = None) -> PendingObject:
        _check_sha(sha256)
        return PendingObject(self, sha256, ext, label, size)

    def put_bytes(self, sha256: str, ext: str, data: bytes, label: str) -> Path:
        with self.pending(sha256, ext, label, len(data)) as pending:
            pending.write(data)
            return pending.commit()

    def remove(self, sha256: str) -> None:
        """Forget every file derived from ``sha256`` (raw object and parsed copies)."""
        for folder in (self.root / "objects" / sha256[:2], self.root / "parsed" / sha256[:2]):
            for path in folder.glob(f"{sha256}*"):
                self._copies.forget(path)
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

    # --- parsed frames ------------------------------------------------------------------------
    def read_frame(
        self,
        sha256: str,
        fingerprint: str,
        *,
        source_size: int | None = None,
        columns: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame | None:
        """The parsed frame of ``sha256``, or None on a miss. ``columns``/``limit`` read only
        what they need (memory-mapped; see :mod:`scout_jupyter.parsedcopy`)."""
        path = self._parsed_key(sha256, fingerprint)
        try:
            selection = self._copies.read(path, sha256, source_size, columns, limit)
        except FileNotFoundError:
            return None
        except (pa.ArrowInvalid, OSError, ValueError) as exc:
            log.warning("Unreadable parsed copy %s (%s); removing it", os.path.basename(path), exc)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            return None
        if selection is None:
            return None
        self.note_use(path)
        return parsedcopy.to_frame(selection)

    def write_frame(self, sha256: str, fingerprint: str, frame: pd.DataFrame, *, source_size: int) -> Path:
        """Store the parsed frame of ``sha256`` (atomically; concurrent writers are harmless)."""
        table = parsedcopy.build_table(frame, sha256, source_size)
        target = self.parsed_path(sha256, fingerprint)
        with self._atomic(target) as sink:
            parsedcopy.write(sink, table)
        return target

    # --- manifests ----------------------------------------------------------------------------
    def save_manifest(self, source: str, data: bytes, *, etag: str | None, fetched_at: float) -> None:
        doc = {"fetched_at": fetched_at, "etag": etag, "manifest": data.decode("utf-8")}
        with self._atomic(self.root / "manifests" / f"{source}.json") as sink:
            sink.write(json.dumps(doc).encode("utf-8"))

    def load_manifest(self, source: str) -> StoredManifest | None:
        try:
            doc = json.loads((self.root / "manifests" / f"{source}.json").read_text("utf-8"))
            return StoredManifest(doc["manifest"].encode("utf-8"), doc.get("etag"), float(doc["fetched_at"]))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("Ignoring an unreadable cached manifest: %s", exc)
            return None

    def save_snapshot(self, source: str, name: str, data: bytes) -> None:
        with self._atomic(self.root / "manifests" / source / _safe_name(name)) as sink:
            sink.write(data)

    def load_snapshot(self, source: str, name: str) -> bytes | None:
        try:
            return (self.root / "manifests" / source / _safe_name(name)).read_bytes()
        except FileNotFoundError:
            return None

    # --- locking and eviction -----------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, sha256: str) -> Iterator[None]:
        """Exclusive across processes for one sha256 prefix: one download of a file at a time."""
        with self._flock(f"{sha256[:2]}.lock", blocking=True):
            yield

    def evict(self, keep: Sequence[Path] = ()) -> list[Path]:
        """Delete least-recently-used files until the cache fits ``max_bytes``; returns what went.
        Skipped when another process is evicting."""
        removed: list[Path] = []
        with self._flock("evict.lock", blocking=False) as acquired:
            if not acquired:
                return removed
            self._clean_tmp()
            files = self._data_files()
            total = sum(size for _, size, _ in files)
            protected = {Path(p) for p in keep}
            for path, size, _ in sorted(files, key=lambda item: item[2]):
                if total <= self.max_bytes:
                    break
                if path in protected:
                    continue
                self._copies.forget(path)
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed.append(path)
                total -= size
        if removed:
            log.info("Cache eviction removed %d file(s)", len(removed))
        return removed

    def usage(self) -> dict:
        self.keeper.wait_all()  # a parsed copy being written counts once it is there
        files = self._data_files()
        return {
            "root": str(self.root),
            "files": len(files),
            "bytes": sum(s for _, s, _ in files),
            "max_bytes": self.max_bytes,
        }

    def _data_files(self) -> list[tuple[Path, int, float]]:
        found = []
        for folder in ("objects", "parsed"):
            for dirpath, _, names in os.walk(self.root / folder):
                for name in names:
                    path = Path(dirpath) / name
                    with contextlib.suppress(FileNotFoundError):
                        st = path.stat()
                        found.append((path, st.st_size, st.st_mtime))
        return found

    def _clean_tmp(self) -> None:
        """Remove temp files left by crashed processes (older than a day)."""
        cutoff = self.clock.time() - TMP_MAX_AGE
        for path in (self.root / "tmp").iterdir():
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()

    @contextlib.contextmanager
    def _flock(self, name: str, *, blocking: bool) -> Iterator[bool]:
        if fcntl is None:  # pragma: no cover - Windows
            yield True
            return
        with open(self.root / "locks" / name, "a+b") as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
                acquired = True
            except BlockingIOError:
                acquired = False
            try:
                yield acquired
            finally:
                if acquired:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    @contextlib.contextmanager
    def _atomic(self, target: Path) -> Iterator[BinaryIO]:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self.root / "tmp", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as sink:
                yield sink
            os.replace(name, target)
            self.touch(target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)
            raise


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _check_sha(sha256: str) -> None:
    if not isinstance(sha256, str) or not _SHA_RE.match(sha256):
        raise ValueError(f"Not a sha256 hex digest: {sha256!r}")


def _safe_name(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,200}", name) or name.startswith("."):
        raise ValueError(f"Unsafe cache file name {name!r}")
    return name
