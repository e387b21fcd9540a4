"""The ``s3://bucket[/prefix]`` backend: AWS S3 and S3-protocol servers (MinIO, Supabase's S3 endpoint).

Endpoint, region and keys come from the constructor, else the URL's query
(``?endpoint_url=http://127.0.0.1:9000&region=us-east-1``), else the usual AWS variables
(``AWS_ENDPOINT_URL_S3``/``AWS_ENDPOINT_URL``, ``AWS_REGION``/``AWS_DEFAULT_REGION``,
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` through boto3's credential chain). A custom
endpoint means path-style addressing. Keys are never accepted in the URL and never kept on the
object, so no repr, log line or error message can show them.

Every remote call goes through the shared :class:`RetryPolicy` (botocore's own retries are off,
so backoff is ours and testable). Create-only writes send ``If-None-Match: *`` after a HEAD:
where the server honours the header (AWS, MinIO, moto) the write is race-free; where it ignores
it (Supabase's S3 endpoint) a writer that lands between our HEAD and our PUT is overwritten.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import threading
from contextvars import ContextVar
from datetime import datetime, timedelta, timezone
from typing import Iterator
from urllib.parse import parse_qs, urlsplit

import boto3
import botocore.auth
from botocore.config import Config
from botocore.exceptions import (BotoCoreError, ClientError, ConnectionError as BotoConnectionError,
                                 HTTPClientError, IncompleteReadError, NoCredentialsError,
                                 PartialCredentialsError, SSLError)

from ..clock import SYSTEM_CLOCK, Clock
from ..errors import (AccessDenied, ChecksumMismatch, ConfigError, InvalidKey, InvalidTTL, ObjectExists,
                      ObjectNotFound, ScoutError, StorageError, StorageUnavailable)
from .base import CHUNK_SIZE, ObjectInfo, Payload, SignedURL, Storage, iter_payload, normalize_key, normalize_prefix
from .retry import RetryPolicy, TransientError

log = logging.getLogger(__name__)

MAX_PRESIGN_TTL = 7 * 24 * 3600    # S3's limit for SigV4 presigned URLs
MAX_PARTS = 10_000                 # S3's limit per multipart upload
_QUERY_OPTIONS = ("endpoint_url", "region")
_TRANSIENT_STATUS = {429, 500, 502, 503, 504}
_TRANSIENT_CODES = {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "InternalError",
                    "ServiceUnavailable", "RequestLimitExceeded", "ConditionalRequestConflict"}
_NOT_FOUND_CODES = {"NoSuchKey", "404", "NotFound"}
_DENIED_CODES = {"AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled",
                 "InvalidToken", "ExpiredToken", "AccountProblem"}
_CHECKSUM_CODES = {"BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch", "XAmzContentChecksumMismatch"}
_KEY_CODES = {"InvalidKey", "KeyTooLongError", "InvalidObjectName"}
_TYPES = {".csv": "text/csv", ".json": "application/json", ".parquet": "application/vnd.apache.parquet"}

# --- presigning "as of" the injected clock ------------------------------------------------------
# botocore stamps every SigV4 signature with botocore.auth.get_current_datetime(). We wrap that
# function once: inside ``_SIGNING_TIME.set(...)`` (only around our presign call, per thread and
# per task) it answers the storage clock's time; everywhere else it is botocore's own.
_SIGNING_TIME: ContextVar[datetime | None] = ContextVar("scout_s3_signing_time", default=None)


def _install_signing_clock() -> None:
    original = botocore.auth.get_current_datetime
    if getattr(original, "scout_clocked", False):
        return

    def clocked(remove_tzinfo: bool = True) -> datetime:
        when = _SIGNING_TIME.get()
        if when is None:
            return original(remove_tzinfo)
        when = when.astimezone(timezone.utc)
        return when.replace(tzinfo=None) if remove_tzinfo else when

    clocked.scout_clocked = True  # type: ignore[attr-defined]
    botocore.auth.get_current_datetime = clocked


_install_signing_clock()


class S3Storage(Storage):
    """``s3://bucket[/prefix]``: objects live under ``prefix/`` in ``bucket``."""

    scheme = "s3"
    part_size = 8 * 1024 * 1024    # multipart part size (S3's minimum is 5 MiB); one part is buffered

    def __init__(self, url: str, *, clock: Clock | None = None, retry: RetryPolicy | None = None,
                 endpoint_url: str | None = None, region: str | None = None,
                 access_key: str | None = None, secret_key: str | None = None):
        bucket, prefix, query = _parse_url(url)
        super().__init__(url)
        self.bucket, self.prefix = bucket, prefix
        self.endpoint_url = _check_endpoint(endpoint_url or query.get("endpoint_url")
                                            or os.environ.get("AWS_ENDPOINT_URL_S3")
                                            or os.environ.get("AWS_ENDPOINT_URL"))
        self.region = (region or query.get("region") or os.environ.get("AWS_REGION")
                       or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")
        self._clock = clock or SYSTEM_CLOCK
        self._retry = retry or RetryPolicy(sleep=self._clock.sleep)
        self._client = _make_client(self.endpoint_url, self.region, access_key, secret_key)

    def __repr__(self) -> str:
        where = f", endpoint_url={self.endpoint_url!r}" if self.endpoint_url else ""
        return f"S3Storage({self.url!r}{where}, region={self.region!r})"

    def close(self) -> None:
        self._client.close()

    # --- keys ----------------------------------------------------------------------------
    def _full_key(self, key: str) -> str:
        key = normalize_key(key)
        full = f"{self.prefix}/{key}" if self.prefix else key
        if len(full.encode("utf-8")) > 1024:
            raise InvalidKey(f"Object key is too long for S3 (1024 bytes of UTF-8): {key[:80]!r}")
        return full

    def _where(self, full_key: str = "") -> str:
        return f"s3://{self.bucket}/{full_key}"

    # --- remote calls through the retry policy -------------------------------------------
    def _call(self, operation: str, full_key: str, **params):
        method = getattr(self._client, _snake(operation))

        def attempt():
            try:
                return method(Bucket=self.bucket, **params)
            except (ClientError, BotoCoreError) as exc:
                raise self._translate(exc, operation, full_key) from exc

        return self._retry.call(attempt, describe=f"S3 {operation} {self._where(full_key)}")

    def _translate(self, exc: Exception, operation: str, full_key: str) -> Exception:
        """A TransientError (to retry) or the ScoutError that says what went wrong."""
        where = self._where(full_key)
        if not isinstance(exc, ClientError):
            if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
                return ConfigError("No S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
            if isinstance(exc, (HTTPClientError, IncompleteReadError, BotoConnectionError)) \
                    and not isinstance(exc, SSLError):
                return TransientError(str(exc))
            return StorageError(f"S3 {operation} {where} failed: {exc}")
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        meta = exc.response.get("ResponseMetadata", {})
        status = meta.get("HTTPStatusCode")
        text = f"{error.get('Message') or code} ({code}, HTTP {status})"
        if code in _TRANSIENT_CODES or status in _TRANSIENT_STATUS:
            return TransientError(text, status=status, retry_after=_retry_after(meta))
        if code in _NOT_FOUND_CODES:
            return ObjectNotFound(f"Object not found: {where}")
        if code in ("PreconditionFailed", "412"):
            if operation in ("PutObject", "CompleteMultipartUpload"):
                return ObjectExists(f"Object already exists: {where}")
            return StorageError(f"Object changed while it was being read: {where}")
        if code == "InvalidRange":
            return _RangeNotSatisfiable(f"Range starts past the end of {where}")
        if code == "NoSuchBucket":
            return StorageError(f"S3 bucket {self.bucket!r} does not exist: {text}")
        if code in _DENIED_CODES or status == 403:
            return AccessDenied(f"S3 refused {operation} on {where}: {text}; check the storage credentials")
        if code in _CHECKSUM_CODES:
            return ChecksumMismatch(f"Checksum validation failed for {where}: {text}")
        if code in _KEY_CODES:
            return InvalidKey(f"S3 refused the object key {full_key[:80]!r}: {text}")
        return StorageError(f"S3 {operation} {where} failed: {text}")

    def _head(self, full_key: str) -> dict | None:
        try:
            return self._call("HeadObject", full_key, Key=full_key, ChecksumMode="ENABLED")
        except ObjectNotFound:
            return None

    # --- reading -------------------------------------------------------------------------
    def iter_bytes(self, key: str, *, start: int = 0, end: int | None = None,
                   chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        full = self._full_key(key)
        if start < 0 or (end is not None and end < start):
            raise ValueError(f"Bad byte range {start}..{end}")
        opened = self._open(full, start, end)
        if opened is None or end == start:
            return iter(())
        return self._stream(full, opened, start, end, chunk_size)

    def _open(self, full: str, start: int, end: int | None, etag: str | None = None):
        """GetObject for bytes ``start``..``end``; None when the range starts past the end."""
        params = {"Key": full}
        if start or end is not None:
            params["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        if etag:
            params["IfMatch"] = etag   # a resumed read must see the same object
        try:
            return self._call("GetObject", full, **params)
        except _RangeNotSatisfiable:
            return None

    def _stream(self, full: str, response: dict, position: int, end: int | None,
                chunk_size: int) -> Iterator[bytes]:
        """Yield the body; when the connection drops mid-stream, resume from where it stopped."""
        etag, failures = response.get("ETag"), 0
        while response is not None:
            body = response["Body"]
            try:
                for chunk in body.iter_chunks(chunk_size):
                    position += len(chunk)
                    yield chunk
                return
            except (HTTPClientError, IncompleteReadError) as exc:
                failures += 1
                if failures >= self._retry.attempts:
                    raise StorageUnavailable(f"S3 GetObject {self._where(full)} failed after "
                                             f"{failures} tries: {exc}") from exc
                log.warning("S3 read of %s broke at byte %d (%s); resuming", self._where(full), position, exc)
                self._retry.sleep(self._retry.delay(failures))
            finally:
                body.close()
            response = None if end == position else self._open(full, position, end, etag)

    def info(self, key: str) -> ObjectInfo:
        full = self._full_key(key)
        head = self._head(full)
        if head is None:
            raise ObjectNotFound(f"Object not found: {self._where(full)}")
        return ObjectInfo(key=key, size=head["ContentLength"], sha256=_full_object_sha256(head),
                          last_modified=head.get("LastModified"), etag=_unquote(head.get("ETag")),
                          content_type=head.get("ContentType"))

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        prefix = normalize_prefix(prefix)
        root = f"{self.prefix}/" if self.prefix else ""
        found, token = [], None
        while True:
            params = {"Prefix": root + prefix, **({"ContinuationToken": token} if token else {})}
            page = self._call("ListObjectsV2", root + prefix, **params)
            for item in page.get("Contents", []):
                info = _listed(item, root)
                if info is not None:
                    found.append(info)
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                break
        found.sort(key=lambda info: info.key)   # some S3-protocol servers do not sort by byte order
        return iter(found)

    def delete(self, key: str) -> None:
        full = self._full_key(key)
        try:
            self._call("DeleteObject", full, Key=full)
        except ObjectNotFound:
            pass

    # --- writing -------------------------------------------------------------------------
    def write(self, key: str, data: Payload, *, overwrite: bool = True,
              content_type: str | None = None, sha256: str | None = None) -> ObjectInfo:
        full = self._full_key(key)
        expected = _check_sha256(sha256)
        content_type = content_type or _TYPES.get(os.path.splitext(key)[1].lower(), "application/octet-stream")
        if not overwrite and self._head(full) is not None:
            raise ObjectExists(f"Object already exists: {self._where(full)}")
        source = _PartSource(data, self.part_size)
        first = source.next_part() or b""
        if source.at_end():
            response = self._put(full, first, source, content_type, expected, overwrite)
        else:
            response = self._multipart(full, first, source, content_type, expected, overwrite)
        return ObjectInfo(key=key, size=source.size, sha256=source.digest.hexdigest(),
                          last_modified=self._clock.now(), etag=_unquote(response.get("ETag")),
                          content_type=content_type)

    def _put(self, full: str, body: bytes, source: _PartSource, content_type: str,
             expected: str | None, overwrite: bool) -> dict:
        _verify(self._where(full), expected, source.digest.hexdigest())
        checksum = base64.b64encode(source.digest.digest()).decode()
        params = {"Key": full, "Body": body, "ContentType": content_type,
                  "ChecksumAlgorithm": "SHA256", "ChecksumSHA256": checksum}
        if not overwrite:
            params["IfNoneMatch"] = "*"
        response = self._call("PutObject", full, **params)
        echoed = response.get("ChecksumSHA256")
        if echoed and echoed != checksum:
            raise ChecksumMismatch(f"Checksum validation failed for {self._where(full)}: the store "
                                   f"recorded {echoed}, we sent {checksum}")
        return response

    def _multipart(self, full: str, first: bytes, source: _PartSource, content_type: str,
                   expected: str | None, overwrite: bool) -> dict:
        upload = self._call("CreateMultipartUpload", full, Key=full, ContentType=content_type,
                            ChecksumAlgorithm="SHA256")
        upload_id = upload["UploadId"]
        try:
            parts, part = [], first
            while part is not None:
                if len(parts) == MAX_PARTS:
                    raise StorageError(f"Object too large for {MAX_PARTS} parts of {self.part_size} bytes")
                parts.append(self._upload_part(full, upload_id, len(parts) + 1, part))
                part = source.next_part()
            _verify(self._where(full), expected, source.digest.hexdigest())
            extra = {} if overwrite else {"IfNoneMatch": "*"}
            return self._call("CompleteMultipartUpload", full, Key=full, UploadId=upload_id,
                              MultipartUpload={"Parts": parts}, **extra)
        except BaseException:
            self._abort(full, upload_id)
            raise

    def _upload_part(self, full: str, upload_id: str, number: int, body: bytes) -> dict:
        checksum = base64.b64encode(hashlib.sha256(body).digest()).decode()
        response = self._call("UploadPart", full, Key=full, UploadId=upload_id, PartNumber=number,
                              Body=body, ChecksumAlgorithm="SHA256", ChecksumSHA256=checksum)
        return {"PartNumber": number, "ETag": response["ETag"], "ChecksumSHA256": checksum}

    def _abort(self, full: str, upload_id: str) -> None:
        try:
            self._call("AbortMultipartUpload", full, Key=full, UploadId=upload_id)
        except (ScoutError, TransientError) as exc:  # the upload stays invisible; lifecycle rules reap it
            log.warning("Could not abort the multipart upload of %s: %s", self._where(full), exc)

    # --- signed URLs ---------------------------------------------------------------------
    def sign(self, key: str, ttl: int) -> SignedURL:
        full = self._full_key(key)
        ttl = _check_ttl(ttl)
        if self._head(full) is None:
            raise ObjectNotFound(f"Object not found: {self._where(full)}")
        signed_at = self._clock.now().astimezone(timezone.utc).replace(microsecond=0)
        token = _SIGNING_TIME.set(signed_at)
        try:
            url = self._client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": full}, ExpiresIn=ttl)
        except BotoCoreError as exc:
            raise self._translate(exc, "presign", full) from exc
        finally:
            _SIGNING_TIME.reset(token)
        return SignedURL(url=url, expires_at=signed_at + timedelta(seconds=ttl), key=key)


class _RangeNotSatisfiable(StorageError):
    """A read that starts at or past the end of the object: an empty result, not an error."""


class _PartSource:
    """Cuts a payload into parts of ``part_size`` bytes, hashing every byte that passes.
    At most one part plus one source chunk is held in memory."""

    def __init__(self, data: Payload, part_size: int):
        self._chunks = iter_payload(data, min(part_size, CHUNK_SIZE))
        self._pending = bytearray()
        self._done = False
        self.part_size = part_size
        self.digest = hashlib.sha256()
        self.size = 0

    def _fill(self, want: int) -> None:
        while not self._done and len(self._pending) < want:
            chunk = next(self._chunks, None)
            if chunk is None:
                self._done = True
            else:
                self._pending += chunk

    def next_part(self) -> bytes | None:
        """The next part, or None when the payload is used up."""
        self._fill(self.part_size)
        if not self._pending:
            return None
        with memoryview(self._pending) as view:
            part = bytes(view[: self.part_size])
        del self._pending[: self.part_size]
        self.digest.update(part)
        self.size += len(part)
        return part

    def at_end(self) -> bool:
        self._fill(1)
        return self._done and not self._pending


# --- helpers -------------------------------------------------------------------------------
def _parse_url(url: str) -> tuple[str, str, dict[str, str]]:
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ConfigError(f"Not an s3:// storage URL (scheme {parts.scheme!r}, bucket {parts.hostname!r})")
    if "@" in parts.netloc:
        raise ConfigError("Credentials in an s3:// URL are refused: use AWS_ACCESS_KEY_ID and "
                          "AWS_SECRET_ACCESS_KEY")
    query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
    unknown = sorted(set(query) - set(_QUERY_OPTIONS))
    if unknown:
        raise ConfigError(f"Unknown s3:// URL option(s) {', '.join(unknown)} (known: {', '.join(_QUERY_OPTIONS)})")
    prefix = parts.path.strip("/")
    if prefix:
        try:
            normalize_key(prefix)
        except InvalidKey as exc:
            raise ConfigError(f"Bad prefix in s3:// URL: {exc.message}") from None
    return parts.netloc, prefix, query


def _check_endpoint(endpoint: str | None) -> str | None:
    if not endpoint:
        return None
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"S3 endpoint must be an http(s) URL, got {endpoint.split('@')[-1]!r}")
    if parts.username or parts.password:
        raise ConfigError("Credentials in the S3 endpoint URL are refused: use AWS_ACCESS_KEY_ID and "
                          "AWS_SECRET_ACCESS_KEY")
    return endpoint.rstrip("/")


_SESSION_LOCK = threading.Lock()
_SESSION: list = []   # one boto3 session for every storage: loading the S3 model costs ~0.1 s per session


def _make_client(endpoint: str | None, region: str, access_key: str | None, secret_key: str | None):
    if (access_key is None) != (secret_key is None):
        raise ConfigError("Give both access_key and secret_key, or neither (then AWS_ACCESS_KEY_ID "
                          "and AWS_SECRET_ACCESS_KEY apply)")
    keys = {"aws_access_key_id": access_key, "aws_secret_access_key": secret_key}
    if access_key is None and os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_SECRET_ACCESS_KEY"):
        # read per storage, not cached in the shared session, so a changed environment applies
        keys = {"aws_access_key_id": os.environ["AWS_ACCESS_KEY_ID"],
                "aws_secret_access_key": os.environ["AWS_SECRET_ACCESS_KEY"],
                "aws_session_token": os.environ.get("AWS_SESSION_TOKEN") or None}
    config = Config(
        signature_version="s3v4",
        retries={"total_max_attempts": 1, "mode": "standard"},   # backoff is the RetryPolicy's
        s3={"addressing_style": "path" if endpoint else "auto"},
        connect_timeout=10, read_timeout=60,
        # we send SHA256 ourselves; botocore's automatic CRC32 trailers confuse some S3 servers
        request_checksum_calculation="when_required", response_checksum_validation="when_required",
    )
    with _SESSION_LOCK:  # botocore sessions are not thread-safe; the clients they make are
        if not _SESSION:
            _SESSION.append(boto3.session.Session())
        return _SESSION[0].client("s3", endpoint_url=endpoint, region_name=region, config=config, **keys)


def _snake(operation: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")


def _retry_after(meta: dict) -> float | None:
    value = meta.get("HTTPHeaders", {}).get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _check_sha256(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.lower()
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise ValueError(f"sha256 must be 64 hex digits, got {value[:80]!r}")
    return value


def _verify(where: str, expected: str | None, actual: str) -> None:
    if expected is not None and expected != actual:
        raise ChecksumMismatch(f"Checksum validation failed for {where}: expected {expected}, got {actual}")


def _check_ttl(ttl) -> int:
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 1 <= ttl <= MAX_PRESIGN_TTL:
        raise InvalidTTL(f"TTL must be an integer number of seconds in 1..{MAX_PRESIGN_TTL} "
                         f"(S3 presigned URLs live at most 7 days), got {ttl!r}")
    return ttl


def _full_object_sha256(head: dict) -> str | None:
    """Hex sha256 of the whole object, when the store keeps one (not a checksum of part checksums)."""
    value = head.get("ChecksumSHA256")
    kind = head.get("ChecksumType")
    if not value or kind == "COMPOSITE" or "-" in value:
        return None
    if kind is None and "-" in (head.get("ETag") or ""):
        return None  # a multipart object from a server that does not say: the checksum is composite
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError:
        return None
    return raw.hex() if len(raw) == 32 else None


def _listed(item: dict, root: str) -> ObjectInfo | None:
    key = item["Key"][len(root):]
    try:
        normalize_key(key)
    except InvalidKey:
        log.debug("Skipping S3 object %r: not a valid scout key (folder marker?)", item["Key"])
        return None
    return ObjectInfo(key=key, size=item.get("Size", 0), last_modified=item.get("LastModified"),
                      etag=_unquote(item.get("ETag")))


def _unquote(etag: str | None) -> str | None:
    return etag.strip('"') if etag else etag
