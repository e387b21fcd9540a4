"""``file://`` storage: the embedded default.

Every key is resolved inside the bucket root (no ``..``, no absolute paths, no symlink or
sibling-prefix escapes). Writes go to a temp file in the target folder, are fsynced and renamed,
so readers see the old object or the whole new one. ``sign`` issues HMAC-SHA256 URLs for the
Jupyter server's ``/scout/files/`` route; :func:`verify_signature` checks them in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from ..clock import SYSTEM_CLOCK, Clock
from ..errors import AccessDenied, ChecksumMismatch, ConfigError, InvalidKey, ObjectExists, ObjectNotFound
from .base import CHUNK_SIZE, ObjectInfo, Payload, SignedURL, Storage, iter_payload, normalize_key, normalize_prefix

log = logging.getLogger(__name__)

TMP_MARKER = ".scout-tmp-"
FILES_ROUTE = "/scout/files/"
KEY_FILE_NAME = "scout_signing.key"


def signature_for(secret: bytes, method: str, key: str, expires: int) -> str:
    """Hex HMAC-SHA256 over the method, the object key and the expiry."""
    message = f"{method.upper()}\n{key}\n{int(expires)}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def verify_signature(secret: bytes, method: str, key: str, expires: str | int, signature: str, now: float) -> bool:
    """True when ``signature`` signs (method, key, expires) and ``now`` is not past ``expires``.
    The comparison is constant-time; malformed input is simply invalid."""
    text = str(expires)
    if not (text.isascii() and text.isdigit() and 0 < len(text) <= 12) or not isinstance(signature, str):
        return False
    expires_int = int(text)
    expected = signature_for(secret, method, key, expires_int)
    valid = hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))
    return valid and now <= expires_int


def load_or_create_key(path: str | os.PathLike) -> bytes:
    """The server's signing secret, kept in a 0600 file (created on first use)."""
    path = Path(path)
    try:
        data = path.read_bytes().strip()
        if len(data) >= 32:
            return data
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(32).encode()
    tmp = path.with_name(path.name + TMP_MARKER + secrets.token_hex(4))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(secret)
        fh.flush()
        os.fsync(fh.fileno())
    try:
        os.link(tmp, path)  # create-only: a concurrent creator wins, we read theirs
    except FileExistsError:
        secret = path.read_bytes().strip()
    finally:
        os.unlink(tmp)
    return secret


def default_key_path() -> Path:
    from jupyter_core.paths import jupyter_data_dir

    return Path(os.environ.get("SCOUT_SIGNING_KEY_FILE") or Path(jupyter_data_dir()) / KEY_FILE_NAME)


def path_from_file_url(url: str) -> Path:
    parts = urlsplit(url)
    if parts.scheme != "file":
        raise ConfigError(f"Not a file:// URL: {url!r}")
    if parts.netloc not in ("", "localhost"):
        raise ConfigError(f"file:// URLs name a local folder, not host {parts.netloc!r}")
    return Path(unquote(parts.path))


class LocalStorage(Storage):
    scheme = "file"
    signs_absolute_urls = False  # /scout/files/... URLs: the Jupyter server extension serves them

    def __init__(
        self,
        url: str,
        *,
        signing_key: bytes | None = None,
        clock: Clock | None = None,
        public_base_url: str | None = None,
        create: bool = True,
    ):
        super().__init__(url)
        self.root = path_from_file_url(url)
        if create:
            self.root.mkdir(parents=True, exist_ok=True)
        self._root_resolved = self.root.resolve()
        self._signing_key = signing_key
        self.clock = clock or SYSTEM_CLOCK
        #: prefix of signed URLs; the server sets it to its absolute ``.../scout/files/``
        self.public_base_url = public_base_url or FILES_ROUTE

    # --- paths --------------------------------------------------------------------------
    def path_for(self, key: str) -> Path:
        """The file behind ``key``, guaranteed inside the bucket (symlinks resolved)."""
        key = normalize_key(key)
        candidate = self.root / key
        resolved = candidate.resolve()
        if resolved != self._root_resolved and not resolved.is_relative_to(self._root_resolved):
            raise InvalidKey(f"Object key escapes the bucket: {key[:80]!r}")
        if TMP_MARKER in resolved.name:
            raise InvalidKey("Temporary files are not objects")
        return resolved

    def _existing_file(self, key: str) -> Path:
        path = self.path_for(key)
        if not path.is_file():
            raise ObjectNotFound(f"Object not found: {key}")
        return path

    # --- contract -----------------------------------------------------------------------
    def iter_bytes(
        self, key: str, *, start: int = 0, end: int | None = None, chunk_size: int = CHUNK_SIZE
    ) -> Iterator[bytes]:
        path = self._existing_file(key)
        return self._iter_file(path, start, end, chunk_size)

    @staticmethod
    def _iter_file(path: Path, start: int, end: int | None, chunk_size: int) -> Iterator[bytes]:
        with open(path, "rb") as fh:
            fh.seek(start)
            remaining = None if end is None else max(0, end - start)
            while remaining is None or remaining > 0:
                size = chunk_size if remaining is None else min(chunk_size, remaining)
                chunk = fh.read(size)
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    def write(
        self,
        key: str,
        data: Payload,
        *,
        overwrite: bool = True,
        content_type: str | None = None,
        sha256: str | None = None,
    ) -> ObjectInfo:
        path = self.path_for(key)
        if not overwrite and path.exists():
            raise ObjectExists(f"Object already exists: {key}")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + TMP_MARKER + secrets.token_hex(6))
        digest = hashlib.sha256()
        size = 0
        try:
            with open(tmp, "xb") as fh:
                for chunk in iter_payload(data):
                    fh.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            actual = digest.hexdigest()
            if sha256 is not None and sha256.lower() != actual:
                raise ChecksumMismatch(f"Checksum validation failed for {key}: expected {sha256}, wrote {actual}")
            if overwrite:
                os.replace(tmp, path)
            else:
                try:
                    os.link(tmp, path)  # atomic create-only
                except FileExistsError:
                    raise ObjectExists(f"Object already exists: {key}") from None
        finally:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
        self._fsync_dir(path.parent)
        return ObjectInfo(
            key=key, size=size, sha256=actual, content_type=content_type, last_modified=datetime.now(timezone.utc)
        )

    @staticmethod
    def _fsync_dir(folder: Path) -> None:
        try:
            fd = os.open(folder, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)

    def info(self, key: str) -> ObjectInfo:
        path = self._existing_file(key)
        st = path.stat()
        return ObjectInfo(
            key=normalize_key(key),
            size=st.st_size,
            last_modified=datetime.fromtimestamp(st.st_mtime, timezone.utc),
            content_type=_guess_type(path.name),
        )

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        prefix = normalize_prefix(prefix)
        folder_part = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = self.root / folder_part if folder_part else self.root
        if not start.is_dir():
            return iter(())
        found = []
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames.sort()
            for name in filenames:
                if TMP_MARKER in name:
                    continue
                full = Path(dirpath) / name
                key = full.relative_to(self.root).as_posix()
                if not key.startswith(prefix):
                    continue
                try:
                    resolved = full.resolve()
                except OSError:
                    continue
                if not resolved.is_relative_to(self._root_resolved) or not resolved.is_file():
                    continue  # a symlink out of the bucket is not an object
                st = resolved.stat()
                found.append(
                    ObjectInfo(
                        key=key,
                        size=st.st_size,
                        last_modified=datetime.fromtimestamp(st.st_mtime, timezone.utc),
                        content_type=_guess_type(name),
                    )
                )
        found.sort(key=lambda info: info.key)
        return iter(found)

    def delete(self, key: str) -> None:
        path = self.path_for(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        except IsADirectoryError:
            raise InvalidKey(f"Object key names a folder: {key}") from None

    # --- signing ------------------------------------------------------------------------
    @property
    def signing_key(self) -> bytes:
        if self._signing_key is None:
            self._signing_key = load_or_create_key(default_key_path())
        return self._signing_key

    def sign(self, key: str, ttl: int) -> SignedURL:
        self._existing_file(key)
        key = normalize_key(key)
        expires = int(self.clock.time()) + int(ttl)
        sig = signature_for(self.signing_key, "GET", key, expires)
        url = f"{self.public_base_url}{quote(key, safe='/')}?expires={expires}&scout_auth={sig}"
        return SignedURL(url=url, expires_at=datetime.fromtimestamp(expires, timezone.utc), key=key)

    def open_signed(self, key: str, expires: str, signature: str, method: str = "GET") -> Path:
        """The file a signed request may read, or AccessDenied / ObjectNotFound.

        HEAD is allowed with a GET signature; any other method is denied."""
        method = method.upper()
        if method not in ("GET", "HEAD"):
            raise AccessDenied("Signed URLs allow only GET and HEAD")
        try:
            key = normalize_key(key)
        except InvalidKey:
            raise ObjectNotFound("Object not found") from None
        if not verify_signature(self.signing_key, "GET", key, expires, signature, self.clock.time()):
            raise AccessDenied("Invalid or expired signature")
        try:
            return self._existing_file(key)
        except InvalidKey:
            raise ObjectNotFound("Object not found") from None


_TYPES = {".csv": "text/csv", ".json": "application/json", ".parquet": "application/vnd.apache.parquet"}


def _guess_type(name: str) -> str:
    return _TYPES.get(os.path.splitext(name)[1].lower(), "application/octet-stream")
