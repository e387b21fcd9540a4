"""The storage contract every backend implements.

Keys are ``/``-separated paths relative to the bucket root (``scout/v1/gold/x/x_2024-08-10.csv``).
:func:`normalize_key` is the single gate every key passes before a backend touches it.
"""

from __future__ import annotations

import abc
import hashlib
import io
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, ClassVar, Protocol, runtime_checkable

from ..errors import InvalidKey
from ..ttl import HARD_MAX_TTL

CHUNK_SIZE = 1 << 20
MAX_KEY_LENGTH = 1024


@runtime_checkable
class Readable(Protocol):
    """A binary source read with ``read`` (a file, or a wrapper counting what is read)."""

    def read(self, size: int = -1, /) -> bytes: ...


#: What ``write`` accepts: bytes, a readable binary file, or an iterable of byte chunks.
Payload = bytes | bytearray | memoryview | BinaryIO | Readable | Iterable[bytes]


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    sha256: str | None = None  # hex, where the store knows it without reading the object
    last_modified: datetime | None = None
    etag: str | None = None
    content_type: str | None = None


@dataclass(frozen=True)
class SignedURL:
    """A time-limited URL for a GET of one object. ``url`` may be relative (local backend:
    ``/scout/files/...``) until the server that serves it makes it absolute."""

    url: str
    expires_at: datetime
    key: str


def normalize_key(key: str) -> str:
    """Return ``key`` if it is a safe relative object key, else raise :class:`InvalidKey`.

    Refused: empty keys, absolute paths, ``.``/``..`` segments, backslashes, NUL and other
    control characters, empty segments, non-NFC Unicode and keys over 1024 characters.
    """
    if not isinstance(key, str) or not key:
        raise InvalidKey("Empty object key")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidKey("Object key is too long")
    if key.startswith("/"):
        raise InvalidKey(f"Absolute object key refused: {key[:80]!r}")
    if "\\" in key:
        raise InvalidKey(f"Backslash in object key refused: {key[:80]!r}")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in key):
        raise InvalidKey("Control character in object key refused")
    if unicodedata.normalize("NFC", key) != key:
        raise InvalidKey("Object key is not NFC-normalized")
    parts = key.split("/")
    trailing_dir = parts[-1] == ""
    if trailing_dir:
        parts = parts[:-1]
    for part in parts:
        if part in ("", ".", ".."):
            raise InvalidKey(f"Object key segment {part!r} refused: {key[:80]!r}")
    if trailing_dir:
        raise InvalidKey(f"Object key names a folder: {key[:80]!r}")
    return key


def normalize_prefix(prefix: str) -> str:
    """A listing prefix: ``""`` (everything) or a safe key fragment."""
    if prefix in ("", None):
        return ""
    stripped = prefix.rstrip("/")
    normalize_key(stripped)
    return prefix


def key_from_manifest_path(path: str) -> str:
    """``/scout/v1/gold/x/x.csv`` (manifest form, from the bucket root) → object key."""
    if path.startswith("/"):
        path = path[1:]
    return normalize_key(path)


def iter_payload(data: Payload, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Yield the payload as byte chunks without reading a file into memory."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        view = memoryview(data)
        for start in range(0, len(view), chunk_size):
            yield bytes(view[start : start + chunk_size])
        if len(view) == 0:
            return
        return
    if isinstance(data, Readable):
        while True:
            chunk = data.read(chunk_size)
            if not chunk:
                return
            yield chunk
        return
    for chunk in data:
        if chunk:
            yield bytes(chunk)


class Storage(abc.ABC):
    """A bucket: immutable-ish objects under string keys.

    Subclasses implement the abstract methods; the rest is built on them.
    """

    scheme: ClassVar[str] = ""
    #: The longest lifetime ``sign`` grants (the store's own cap; see :mod:`scout_jupyter.ttl`).
    max_sign_ttl: ClassVar[int] = HARD_MAX_TTL
    #: Whether ``sign`` gives a URL anyone can open, or one a Jupyter server must serve (local).
    signs_absolute_urls: ClassVar[bool] = True

    def __init__(self, url: str):
        self.url = url

    def location(self, key: str) -> str:
        """Where ``key`` is, for messages: the store's URL and the key."""
        return f"{self.url.rstrip('/')}/{key}"

    # --- the contract ------------------------------------------------------------------
    @abc.abstractmethod
    def iter_bytes(
        self, key: str, *, start: int = 0, end: int | None = None, chunk_size: int = CHUNK_SIZE
    ) -> Iterator[bytes]:
        """Stream the object (optionally bytes ``start``..``end`` exclusive).
        Raises ObjectNotFound."""

    @abc.abstractmethod
    def write(
        self,
        key: str,
        data: Payload,
        *,
        overwrite: bool = True,
        content_type: str | None = None,
        sha256: str | None = None,
    ) -> ObjectInfo:
        """Store the object atomically: readers see the old object or the whole new one.
        ``overwrite=False`` raises ObjectExists if the key exists. ``sha256`` (hex), when
        given, is checked by the store where it can and the write fails on mismatch."""

    @abc.abstractmethod
    def info(self, key: str) -> ObjectInfo:
        """Size (and sha256 where cheaply known) of an object. Raises ObjectNotFound."""

    @abc.abstractmethod
    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix`` (recursive), sorted by key."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove an object; missing objects are not an error."""

    @abc.abstractmethod
    def sign(self, key: str, ttl: int) -> SignedURL:
        """A URL that GETs this object for ``ttl`` seconds. Raises ObjectNotFound."""

    # --- built on the contract ----------------------------------------------------------
    def exists(self, key: str) -> bool:
        from ..errors import ObjectNotFound

        try:
            self.info(key)
        except ObjectNotFound:
            return False
        return True

    def read_bytes(self, key: str) -> bytes:
        buf = io.BytesIO()
        for chunk in self.iter_bytes(key):
            buf.write(chunk)
        return buf.getvalue()

    def sha256(self, key: str) -> str:
        """Hex sha256 of the stored bytes: the store's own checksum where it keeps one,
        else computed by streaming the object."""
        known = self.info(key).sha256
        if known:
            return known
        digest = hashlib.sha256()
        for chunk in self.iter_bytes(key):
            digest.update(chunk)
        return digest.hexdigest()

    def close(self) -> None:  # noqa: B027 (an optional hook: most storages hold no connections)
        """Release connections."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"
