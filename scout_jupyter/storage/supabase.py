"""``supabase://bucket[/prefix]``: Supabase Storage through its REST API.

The API is at ``$SUPABASE_URL/storage/v1`` (hosted) or ``SUPABASE_STORAGE_URL`` (self-hosted, no
prefix). The service-role key (``SUPABASE_SERVICE_ROLE_KEY``) goes only into the ``Authorization:
Bearer`` and ``apikey`` headers, never into a repr, a log line or an error. Supabase answers most
errors with HTTP 400 and the real status in the JSON body, so errors map from the body's
``code``/``statusCode``. It keeps only md5 etags: sha256 is computed as the payload streams out,
and each upload is checked against the stored size and md5. Keys are ASCII only; listing is one
folder level per call, so :meth:`SupabaseStorage.list` walks the folders.
"""

from __future__ import annotations

import contextlib
import logging
import mimetypes
import os
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from urllib.parse import quote, urlsplit

import requests

from ..clock import SYSTEM_CLOCK, Clock, parse_timestamp
from ..errors import (
    AccessDenied,
    ChecksumMismatch,
    ConfigError,
    InvalidKey,
    ObjectExists,
    ObjectNotFound,
    StorageError,
    StorageUnavailable,
)
from ..ttl import check_ttl
from .base import CHUNK_SIZE, ObjectInfo, Payload, SignedURL, Storage, normalize_key, normalize_prefix
from .retry import RetryPolicy, TransientError
from .supabase_upload import ReplayableUpload

log = logging.getLogger(__name__)

#: Supabase Storage's key rule (its ``isValidKey``): ASCII letters, digits and these marks.
KEY_PATTERN = re.compile(r"[A-Za-z0-9_/!.*'() &$=@;:+,?-]+")
#: What the Supabase dashboard leaves in an empty folder; not a Scout object.
FOLDER_PLACEHOLDER = ".emptyFolderPlaceholder"
_NOT_FOUND = {"NoSuchKey", "NoSuchBucket", "not_found"}
_EXISTS = {"KeyAlreadyExists", "ResourceAlreadyExists", "Duplicate"}
_DENIED = {"AccessDenied", "InvalidJWT", "InvalidSignature", "Unauthorized"}
_CUT_OFF = (requests.ConnectionError, requests.exceptions.ChunkedEncodingError)


class _Secret(str):
    """The service key: a string whose repr never shows it."""

    def __repr__(self) -> str:
        return "<secret>"


def error_for(http_status: int, body, what: str, retry_after: float | None = None) -> Exception:
    """The exception for a failed answer, from the JSON body's ``code``/``statusCode`` (Supabase
    answers most errors with HTTP 400), else from the HTTP status. Keeps the storage's own text."""
    code, status, text = "", http_status, ""
    if isinstance(body, dict):
        code = str(body.get("code") or body.get("error") or "")
        try:
            status = int(body.get("statusCode") or http_status)
        except (TypeError, ValueError):
            pass
        text = str(body.get("message") or body.get("error") or "")
    elif body:
        text = " ".join(str(body).split())[:200]
    text = text or f"HTTP {http_status}"
    if status == 429 or status >= 500 or http_status == 429 or http_status >= 500:
        return TransientError(f"{text} (HTTP {http_status}, status {status})", status=status, retry_after=retry_after)
    message = f"Supabase Storage {what}: {text}" + (f" ({code})" if code else "")
    if code in _NOT_FOUND or text in ("Object not found", "Bucket not found"):
        exc: StorageError | AccessDenied = ObjectNotFound(message)
    elif code in _EXISTS:
        exc = ObjectExists(message)
    elif code in _DENIED or status in (401, 403):
        exc = AccessDenied(message)
    elif code == "InvalidKey":
        exc = InvalidKey(message)
    elif http_status == 404:
        exc = StorageError(f"{message} — is SUPABASE_URL / SUPABASE_STORAGE_URL right?")
    else:
        exc = StorageError(message)
    if isinstance(exc, StorageError):
        exc.service_code = code
    return exc


def _failure(response: requests.Response, what: str) -> Exception:
    try:
        body = response.json()
    except ValueError:
        body = response.text
    try:
        retry_after = float(response.headers.get("Retry-After", ""))
    except ValueError:
        retry_after = None
    return error_for(response.status_code, body, what, retry_after)


def _strip_etag(etag) -> str | None:
    return etag.strip().removeprefix("W/").strip('"') if isinstance(etag, str) and etag else None


def _timestamp(*values):
    for value in values:
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            return parse_timestamp(value)
    return None


class SupabaseStorage(Storage):
    """A Supabase Storage bucket (optionally under a key prefix), over one requests.Session.

    Every call goes through the shared RetryPolicy (429, 5xx, dropped connections); a download cut
    off mid-stream resumes with a Range request. ``clock`` dates signed URLs (and, by default,
    is what the retry policy sleeps on)."""

    scheme = "supabase"
    list_page_size = 1000

    def __init__(
        self,
        url: str,
        *,
        clock: Clock | None = None,
        retry: RetryPolicy | None = None,
        project_url: str | None = None,
        storage_url: str | None = None,
        service_key: str | None = None,
        session: requests.Session | None = None,
        timeout: float | tuple[float, float] = (10, 300),
    ):
        super().__init__(url)
        self._bucket, self._prefix = self._parse_url(url)
        self._clock = clock or SYSTEM_CLOCK
        self._retry = retry or RetryPolicy(sleep=self._clock.sleep)
        self.api_url = self._resolve_api(project_url, storage_url)
        key = (service_key or os.environ.get("SUPABASE_SERVICE_ROLE_KEY") or "").strip()
        if not key:
            raise ConfigError("supabase:// needs the service-role key in SUPABASE_SERVICE_ROLE_KEY")
        if not (key.isascii() and key.isprintable() and " " not in key):
            raise ConfigError("SUPABASE_SERVICE_ROLE_KEY is not a valid key (spaces or non-ASCII characters)")
        self._key = _Secret(key)
        self._owns_session = session is None
        self._session = session or requests.Session()
        self.timeout = timeout

    @staticmethod
    def _parse_url(url: str) -> tuple[str, str]:
        parts = urlsplit(url)
        bucket, prefix = parts.netloc, parts.path.strip("/")
        if parts.scheme != "supabase" or not KEY_PATTERN.fullmatch(bucket) or parts.query or parts.fragment:
            raise ConfigError(f"Not a Supabase storage URL: {url!r} (expected supabase://bucket[/prefix])")
        try:
            if prefix and not KEY_PATTERN.fullmatch(normalize_key(prefix)):
                raise InvalidKey("Supabase keys are ASCII only")
        except InvalidKey as exc:
            raise ConfigError(f"Invalid prefix in {url!r}: {exc.message}") from None
        return bucket, prefix

    @staticmethod
    def _resolve_api(project_url: str | None, storage_url: str | None) -> str:
        """Explicit arguments first, then SUPABASE_STORAGE_URL (self-hosted, no prefix), then
        SUPABASE_URL + ``/storage/v1`` (hosted)."""
        if storage_url or (not project_url and os.environ.get("SUPABASE_STORAGE_URL")):
            api = storage_url or os.environ["SUPABASE_STORAGE_URL"]
        elif project_url or os.environ.get("SUPABASE_URL"):
            api = (project_url or os.environ["SUPABASE_URL"]).rstrip("/") + "/storage/v1"
        else:
            raise ConfigError("supabase:// needs SUPABASE_URL (or SUPABASE_STORAGE_URL for a self-hosted server)")
        parts = urlsplit(api)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"Not an http(s) URL for Supabase Storage: {api!r}")
        return api.rstrip("/")

    def __repr__(self) -> str:
        return f"SupabaseStorage({self.url!r}, api_url={self.api_url!r})"

    def close(self) -> None:
        if self._owns_session:
            self._session.close()

    # --- keys and HTTP -----------------------------------------------------------------------
    def _full_key(self, key: str) -> str:
        key = normalize_key(key)
        full = f"{self._prefix}/{key}" if self._prefix else key
        if not KEY_PATTERN.fullmatch(full):
            raise InvalidKey(
                f"Supabase Storage keys are ASCII letters, digits and _/!.*'() &$=@;:+,?- only: {key[:80]!r}"
            )
        return full

    def _relative(self, full: str) -> str:
        return full[len(self._prefix) + 1 :] if self._prefix else full

    def _object_path(self, route: str, full: str) -> str:
        return f"/object/{route}{quote(self._bucket, safe='')}/{quote(full, safe='/')}"

    def _send(self, method: str, path: str, what: str, headers: dict | None = None, **kwargs) -> requests.Response:
        """One request; failures become ScoutErrors, transient ones TransientError."""
        auth = {"Authorization": f"Bearer {self._key}", "apikey": str(self._key)}
        try:
            response = self._session.request(
                method, self.api_url + path, headers={**auth, **(headers or {})}, timeout=self.timeout, **kwargs
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TransientError(f"{type(exc).__name__} talking to {urlsplit(self.api_url).netloc}") from None
        log.debug("%s %s -> %s", method, path, response.status_code)
        if response.status_code < 400 or response.status_code == 304:
            return response
        error = _failure(response, what)
        response.close()
        raise error

    def _call(self, method: str, path: str, what: str, **kwargs) -> requests.Response:
        return self._retry.call(lambda: self._send(method, path, what, **kwargs), describe=f"Supabase Storage {what}")

    def _json(self, method: str, path: str, what: str, **kwargs):
        response = self._call(method, path, what, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise StorageError(f"Supabase Storage {what}: the answer is not JSON") from None

    # --- the contract --------------------------------------------------------------------------
    def info(self, key: str) -> ObjectInfo:
        full = self._full_key(key)
        body = self._json("GET", self._object_path("info/", full), f"info {self._bucket}/{full}")
        if not isinstance(body, dict):
            raise StorageError(f"Supabase Storage info {self._bucket}/{full}: unexpected answer")
        meta = body["metadata"] if isinstance(body.get("metadata"), dict) else {}
        return ObjectInfo(
            key=self._relative(full),
            size=int(body.get("size", meta.get("size")) or 0),
            last_modified=_timestamp(body.get("last_modified"), body.get("updated_at")),
            etag=_strip_etag(body.get("etag") or meta.get("eTag")),
            content_type=body.get("content_type") or meta.get("mimetype"),
        )

    def write(
        self,
        key: str,
        data: Payload,
        *,
        overwrite: bool = True,
        content_type: str | None = None,
        sha256: str | None = None,
    ) -> ObjectInfo:
        full = self._full_key(key)
        expected = sha256.lower() if sha256 else None
        upload = ReplayableUpload(data)
        try:
            if expected and upload.sha256 and upload.sha256 != expected:
                raise ChecksumMismatch(
                    f"Checksum validation failed for {key}: payload sha256 {upload.sha256}, "
                    f"expected {expected}; nothing uploaded"
                )
            self._upload(key, full, upload, overwrite, content_type, expected)
            return self._verify_upload(key, full, upload)
        finally:
            upload.close()

    def _upload(self, key, full, upload: ReplayableUpload, overwrite, content_type, expected) -> None:
        what = f"upload {self._bucket}/{full}"
        headers = {
            "Content-Type": content_type or mimetypes.guess_type(key)[0] or "application/octet-stream",
            "x-upsert": "true" if overwrite else "false",
        }
        tries = 0

        def attempt():
            nonlocal tries
            tries += 1
            body = upload.body(expected)
            try:
                return self._send("POST", self._object_path("", full), what, headers=headers, data=body)
            except Exception:
                if getattr(body, "failure", None) is not None:
                    raise body.failure from None
                raise

        try:
            self._retry.call(attempt, describe=f"Supabase Storage {what}")
        except ObjectExists:
            # A retried create may meet its own first attempt, stored before the answer was lost.
            info = self.info(key) if tries > 1 else None
            if info is None or (info.size, info.etag) != (upload.size, upload.md5):
                raise

    def _verify_upload(self, key: str, full: str, upload: ReplayableUpload) -> ObjectInfo:
        info = self.info(key)
        md5_etag = info.etag if info.etag and re.fullmatch(r"[0-9a-f]{32}", info.etag) else None
        if info.size != upload.size or (md5_etag and md5_etag != upload.md5):
            log.warning("Upload of %s did not verify; removing the stored copy", full)
            self._delete_full(full)
            raise ChecksumMismatch(
                f"Checksum validation failed for {key} after upload: stored {info.size} bytes "
                f"(md5 {info.etag}), sent {upload.size} bytes (md5 {upload.md5})"
            )
        return replace(info, sha256=upload.sha256)

    def iter_bytes(
        self, key: str, *, start: int = 0, end: int | None = None, chunk_size: int = CHUNK_SIZE
    ) -> Iterator[bytes]:
        full = self._full_key(key)
        if start < 0 or (end is not None and end < 0):
            raise ValueError("start and end must be non-negative")
        return self._download(full, start, end, chunk_size)

    def _download(self, full: str, start: int, end: int | None, chunk_size: int) -> Iterator[bytes]:
        """Stream bytes ``start``..``end``; a cut-off stream resumes from where it stopped (Range),
        up to the retry policy's number of tries."""
        if end is not None and end <= start:
            self.info(self._relative(full))
            return
        pos, etag, cuts = start, None, 0
        while True:
            response = self._open_range(full, pos, end)
            if response is None:
                return
            try:
                if etag is not None and response.headers.get("ETag") != etag:
                    raise StorageError(f"{self._bucket}/{full} changed while it was being downloaded")
                etag = response.headers.get("ETag")
                skip = pos if response.status_code == 200 else 0  # a server that ignored the Range
                for chunk in response.iter_content(chunk_size):
                    if skip:
                        chunk, skip = chunk[skip:], max(0, skip - len(chunk))
                    if end is not None:
                        chunk = chunk[: end - pos]
                    if chunk:
                        pos += len(chunk)
                        yield chunk
                    if end is not None and pos >= end:
                        return
                return
            except _CUT_OFF as exc:
                cuts += 1
                if cuts >= self._retry.attempts:
                    raise StorageUnavailable(
                        f"Supabase Storage read {self._bucket}/{full} was cut off {cuts} times: {type(exc).__name__}"
                    ) from None
                log.warning("Download of %s cut off at byte %d (%s); resuming", full, pos, type(exc).__name__)
                self._retry.sleep(self._retry.delay(cuts))
            finally:
                response.close()

    def _open_range(self, full: str, pos: int, end: int | None) -> requests.Response | None:
        headers = {}
        if pos or end is not None:
            headers["Range"] = f"bytes={pos}-{'' if end is None else end - 1}"
        try:
            return self._call(
                "GET", self._object_path("", full), f"read {self._bucket}/{full}", headers=headers, stream=True
            )
        except StorageError as exc:
            if exc.service_code != "InvalidRange" or self.info(self._relative(full)).size > pos:
                raise
            return None  # starting at or past the end: nothing to read

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object under ``prefix``, walking one folder level per call. The server matches
        with ILIKE (case-insensitive, ``_`` a wildcard), so names are filtered exactly here."""
        prefix = normalize_prefix(prefix)
        full = f"{self._prefix}/{prefix}" if self._prefix else prefix
        if full and not KEY_PATTERN.fullmatch(full):
            return iter(())
        folder, _, fragment = full.rpartition("/")
        found, pending = [], [(folder, fragment)]
        while pending:
            folder, search = pending.pop()
            for entry in self._list_level(folder, search):
                path = f"{folder}/{entry.get('name')}" if folder else str(entry.get("name"))
                if not path.startswith(full):
                    continue
                if entry.get("id") is None:
                    pending.append((path, ""))
                elif not path.endswith("/" + FOLDER_PLACEHOLDER) and path != FOLDER_PLACEHOLDER:
                    found.append(self._entry_info(path, entry))
        return iter(sorted(found, key=lambda info: info.key))

    def _list_level(self, folder: str, search: str) -> Iterator[dict]:
        offset, what = 0, f"list {self._bucket}/{folder}"
        while True:
            body = {
                "prefix": folder,
                "limit": self.list_page_size,
                "offset": offset,
                "sortBy": {"column": "name", "order": "asc"},
                "search": search,
            }
            page = self._json("POST", f"/object/list/{quote(self._bucket, safe='')}", what, json=body)
            if not isinstance(page, list):
                raise StorageError(f"Supabase Storage {what}: unexpected answer")
            yield from (entry for entry in page if isinstance(entry, dict))
            if len(page) < self.list_page_size:
                return
            offset += len(page)

    def _entry_info(self, full: str, entry: dict) -> ObjectInfo:
        meta = entry.get("metadata") or {}
        return ObjectInfo(
            key=self._relative(full),
            size=int(meta.get("size", meta.get("contentLength")) or 0),
            last_modified=_timestamp(meta.get("lastModified"), entry.get("updated_at")),
            etag=_strip_etag(meta.get("eTag")),
            content_type=meta.get("mimetype"),
        )

    def delete(self, key: str) -> None:
        self._delete_full(self._full_key(key))

    def _delete_full(self, full: str) -> None:
        try:
            self._call("DELETE", self._object_path("", full), f"delete {self._bucket}/{full}")
        except ObjectNotFound:
            pass

    def sign(self, key: str, ttl: int) -> SignedURL:
        """A signed GET URL from Supabase (a JWT in ``token``). Supabase sets no cap on the
        lifetime, so this caps ``ttl`` at :data:`~scout_jupyter.ttl.HARD_MAX_TTL`."""
        full = self._full_key(key)
        ttl = check_ttl(ttl, self.max_sign_ttl, text=False)
        expires_at = self._clock.now() + timedelta(seconds=ttl)
        what = f"sign {self._bucket}/{full}"
        body = self._json("POST", self._object_path("sign/", full), what, json={"expiresIn": ttl})
        signed = body.get("signedURL") if isinstance(body, dict) else None
        # The answer is relative and its key is not URL-encoded (it may hold '?'): rebuild it.
        token = re.findall(r"[?&]token=([A-Za-z0-9_.\-]+)", signed or "")
        if not token:
            raise StorageError(f"Supabase Storage {what}: the answer has no signed URL")
        url = f"{self.api_url}{self._object_path('sign/', full)}?token={token[-1]}"
        return SignedURL(url=url, expires_at=expires_at, key=self._relative(full))
