"""The ``s3://bucket[/prefix]`` backend: AWS S3 and S3-protocol servers (MinIO, Supabase's S3 endpoint).

Settings come from the constructor, else the URL query (``?endpoint_url=...&region=...``), else
the AWS variables (``AWS_ENDPOINT_URL_S3``/``AWS_ENDPOINT_URL``, ``AWS_REGION``/``AWS_DEFAULT_REGION``,
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, then boto3's credential chain). A custom endpoint
means path-style addressing. Keys are never taken from the URL nor kept on the object, so no repr,
log line or error message shows them. Every call goes through the shared RetryPolicy (botocore's
retries are off). Create-only writes HEAD, then PUT with ``If-None-Match: *``: race-free where the
server honours it (AWS, MinIO, moto); where it is ignored (Supabase's S3 endpoint), a writer landing
between our HEAD and PUT is overwritten.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import logging
import os
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import botocore.auth
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
    PartialCredentialsError,
    SSLError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from ..clock import SYSTEM_CLOCK, Clock
from ..errors import (
    AccessDenied,
    ChecksumMismatch,
    ConfigError,
    InvalidKey,
    ObjectExists,
    ObjectNotFound,
    ScoutError,
    StorageError,
    StorageUnavailable,
)
from ..ttl import check_ttl
from .base import CHUNK_SIZE, ObjectInfo, Payload, SignedURL, Storage, iter_payload, normalize_key, normalize_prefix
from .retry import RetryPolicy, TransientError

log = logging.getLogger(__name__)

MAX_PARTS = 10_000  # S3's limit per multipart upload
_QUERY_OPTIONS = ("endpoint_url", "region")
_TRANSIENT_STATUS = {429, 500, 502, 503, 504}
_TRANSIENT_CODES = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestTimeout",
    "InternalError",
    "ServiceUnavailable",
    "RequestLimitExceeded",
    "ConditionalRequestConflict",
}
_DENIED = (AccessDenied, "S3 refused {operation} on {where}: {text}; check the storage credentials")
#: S3 error code -> (ScoutError class, message); ``where`` names the object, ``text`` is S3's message
_PERMANENT = {
    **dict.fromkeys(["NoSuchKey", "404", "NotFound"], (ObjectNotFound, "Object not found: {where}")),
    "NoSuchBucket": (StorageError, "S3 bucket {bucket!r} does not exist: {text}"),
    **dict.fromkeys(
        [
            "AccessDenied",
            "403",
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "AllAccessDisabled",
            "InvalidToken",
            "ExpiredToken",
            "AccountProblem",
        ],
        _DENIED,
    ),
    **dict.fromkeys(
        ["BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch", "XAmzContentChecksumMismatch"],
        (ChecksumMismatch, "Checksum validation failed for {where}: {text}"),
    ),
    **dict.fromkeys(
        ["InvalidKey", "KeyTooLongError", "InvalidObjectName"],
        (InvalidKey, "S3 refused the object key of {where}: {text}"),
    ),
}
_TYPES = {".csv": "text/csv", ".json": "application/json", ".parquet": "application/vnd.apache.parquet"}

# --- presigning "as of" the injected clock ------------------------------------------------------
# botocore stamps every SigV4 signature with botocore.auth.get_current_datetime(). We wrap that
# function once: inside ``_SIGNING_TIME.set(...)`` (only around our presign call, per thread and
# per task) it answers the storage clock's time; everywhere else it is botocore's own.
_SIGNING_TIME: ContextVar[datetime | None] = ContextVar("scout_s3_signing_time", default=None)


def _clocked(remove_tzinfo: bool = True, *, _botocore_now=botocore.auth.get_current_datetime) -> datetime:
    when = _SIGNING_TIME.get()
    if when is None:
        return _botocore_now(remove_tzinfo)
    when = when.astimezone(timezone.utc)
    return when.replace(tzinfo=None) if remove_tzinfo else when


if not getattr(botocore.auth.get_current_datetime, "scout_clocked", False):  # install once
    _clocked.scout_clocked = True  # type: ignore[attr-defined]
    botocore.auth.get_current_datetime = _clocked


class S3Storage(Storage):
    """``s3://bucket[/prefix]``: objects live under ``prefix/`` in ``bucket``."""

    scheme = "s3"
    max_sign_ttl = 7 * 24 * 3600  # S3's limit for SigV4 presigned URLs
    part_size = 8 * 1024 * 1024  # multipart part size (S3's minimum is 5 MiB); one part is buffered

    def __init__(
        self,
        url: str,
        *,
        clock: Clock | None = None,
        retry: RetryPolicy | None = None,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
    ):
        super().__init__(url)
        self.bucket, self.prefix, self.endpoint_url, self.region = _settings(url, endpoint_url, region)
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
        method = getattr(self._client, operation)

        def attempt():
            try:
                return method(Bucket=self.bucket, **params)
            except (ClientError, BotoCoreError) as exc:
                raise self._translate(exc, operation, full_key) from exc

        return self._retry.call(attempt, describe=f"S3 {operation} {self._where(full_key)}")

    def _translate(self, exc: Exception, operation: str, full_key: str) -> Exception:
        """A TransientError (to retry) or the ScoutError that says what went wrong."""
        where = self._where(full_key)
        if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
            return ConfigError("No S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
        if isinstance(exc, (HTTPClientError, IncompleteReadError, BotoConnectionError)) and not isinstance(
            exc, SSLError
        ):
            return TransientError(str(exc))
        if not isinstance(exc, ClientError):
            return StorageError(f"S3 {operation} {where} failed: {exc}")
        error, meta = exc.response.get("Error", {}), exc.response.get("ResponseMetadata", {})
        code, status = str(error.get("Code", "")), meta.get("HTTPStatusCode")
        text = f"{error.get('Message') or code} ({code}, HTTP {status})"
        if code in _TRANSIENT_CODES or status in _TRANSIENT_STATUS:
            hint = meta.get("HTTPHeaders", {}).get("retry-after", "")
            return TransientError(text, status=status, retry_after=float(hint) if hint.isdigit() else None)
        if code in ("PreconditionFailed", "412"):
            if operation in ("put_object", "complete_multipart_upload"):
                return ObjectExists(f"Object already exists: {where}")
            return StorageError(f"Object changed while it was being read: {where}")
        if code == "InvalidRange":
            return _RangeNotSatisfiable(f"Range starts past the end of {where}")
        cls, template = _PERMANENT.get(code) or (
            _DENIED if status == 403 else (StorageError, "S3 {operation} {where} failed: {text}")
        )
        return cls(template.format(operation=operation, where=where, text=text, bucket=self.bucket))

    def _head(self, full_key: str) -> dict | None:
        try:
            return self._call("head_object", full_key, Key=full_key, ChecksumMode="ENABLED")
        except ObjectNotFound:
            return None

    # --- reading -------------------------------------------------------------------------
    def iter_bytes(
        self, key: str, *, start: int = 0, end: int | None = None, chunk_size: int = CHUNK_SIZE
    ) -> Iterator[bytes]:
        full = self._full_key(key)
        if start < 0 or (end is not None and end < start):
            raise ValueError(f"Bad byte range {start}..{end}")
        if end == start:
            self.info(key)  # nothing to read, but a missing object is still an error
            return iter(())
        opened = self._open(full, start, end)
        if opened is None:
            return iter(())
        return self._stream(full, opened, start, end, chunk_size)

    def _open(self, full: str, start: int, end: int | None, etag: str | None = None):
        """GetObject for bytes ``start``..``end``; None when the range starts past the end."""
        params = {"Key": full}
        if start or end is not None:
            params["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        if etag:
            params["IfMatch"] = etag  # a resumed read must see the same object
        try:
            return self._call("get_object", full, **params)
        except _RangeNotSatisfiable:
            return None

    def _stream(self, full: str, first: dict, position: int, end: int | None, chunk_size: int) -> Iterator[bytes]:
        """Yield the body; when the connection drops mid-stream, resume from where it stopped."""
        etag, failures = first.get("ETag"), 0
        response: dict | None = first
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
                    raise StorageUnavailable(
                        f"S3 get_object {self._where(full)} failed after {failures} tries: {exc}"
                    ) from exc
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
        return ObjectInfo(
            key=key,
            size=head["ContentLength"],
            sha256=_full_object_sha256(head),
            last_modified=head.get("LastModified"),
            etag=_unquote(head.get("ETag")),
            content_type=head.get("ContentType"),
        )

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        prefix = normalize_prefix(prefix)
        root = f"{self.prefix}/" if self.prefix else ""
        found: list[ObjectInfo] = []
        token = None
        while True:
            params = {"Prefix": root + prefix, **({"ContinuationToken": token} if token else {})}
            page = self._call("list_objects_v2", root + prefix, **params)
            found.extend(filter(None, (_listed(item, root) for item in page.get("Contents", []))))
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                break
        found.sort(key=lambda info: info.key)  # some S3-protocol servers do not sort by byte order
        return iter(found)

    def delete(self, key: str) -> None:
        full = self._full_key(key)
        try:
            self._call("delete_object", full, Key=full)
        except ObjectNotFound:
            pass

    # --- writing -------------------------------------------------------------------------
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
        content_type = content_type or _TYPES.get(os.path.splitext(key)[1].lower(), "application/octet-stream")
        if not overwrite and self._head(full) is not None:
            raise ObjectExists(f"Object already exists: {self._where(full)}")
        digest = hashlib.sha256()
        parts = _parts(data, self.part_size, digest)
        first, last = next(parts)
        if last:
            response, size = self._put(full, first, digest, content_type, expected, overwrite), len(first)
        else:
            response, size = self._multipart(full, first, parts, digest, content_type, expected, overwrite)
        return ObjectInfo(
            key=key,
            size=size,
            sha256=digest.hexdigest(),
            last_modified=self._clock.now(),
            etag=_unquote(response.get("ETag")),
            content_type=content_type,
        )

    def _put(self, full: str, body: bytes, digest, content_type: str, expected: str | None, overwrite: bool) -> dict:
        _verify(self._where(full), expected, digest.hexdigest())
        checksum = base64.b64encode(digest.digest()).decode()
        extra = {} if overwrite else {"IfNoneMatch": "*"}
        # a server that checks x-amz-checksum-sha256 refuses corrupted bytes (BadDigest): nothing stored
        return self._call(
            "put_object",
            full,
            Key=full,
            Body=body,
            ContentType=content_type,
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=checksum,
            **extra,
        )

    def _multipart(
        self,
        full: str,
        first: bytes,
        rest: Iterator[tuple[bytes, bool]],
        digest,
        content_type: str,
        expected: str | None,
        overwrite: bool,
    ) -> tuple[dict, int]:
        upload_id = self._call(
            "create_multipart_upload", full, Key=full, ContentType=content_type, ChecksumAlgorithm="SHA256"
        )["UploadId"]
        try:
            done: list[dict[str, Any]] = []
            size = 0
            for part, _ in itertools.chain([(first, False)], rest):
                if len(done) == MAX_PARTS:
                    raise StorageError(f"Object too large for {MAX_PARTS} parts of {self.part_size} bytes")
                done.append(self._upload_part(full, upload_id, len(done) + 1, part))
                size += len(part)
            _verify(self._where(full), expected, digest.hexdigest())
            extra = {} if overwrite else {"IfNoneMatch": "*"}
            response = self._call(
                "complete_multipart_upload",
                full,
                Key=full,
                UploadId=upload_id,
                MultipartUpload={"Parts": done},
                **extra,
            )
            return response, size
        except BaseException:
            self._abort(full, upload_id)
            raise

    def _upload_part(self, full: str, upload_id: str, number: int, body: bytes) -> dict:
        checksum = base64.b64encode(hashlib.sha256(body).digest()).decode()
        response = self._call(
            "upload_part",
            full,
            Key=full,
            UploadId=upload_id,
            PartNumber=number,
            Body=body,
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=checksum,
        )
        return {"PartNumber": number, "ETag": response["ETag"], "ChecksumSHA256": checksum}

    def _abort(self, full: str, upload_id: str) -> None:
        try:
            self._call("abort_multipart_upload", full, Key=full, UploadId=upload_id)
        except ScoutError as exc:  # the upload stays invisible; lifecycle rules reap it
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
                "get_object", Params={"Bucket": self.bucket, "Key": full}, ExpiresIn=ttl
            )
        except BotoCoreError as exc:
            raise self._translate(exc, "presign", full) from exc
        finally:
            _SIGNING_TIME.reset(token)
        return SignedURL(url=url, expires_at=signed_at + timedelta(seconds=ttl), key=key)


class _RangeNotSatisfiable(StorageError):
    """A read that starts at or past the end of the object: an empty result, not an error."""


def _parts(data: Payload, part_size: int, digest) -> Iterator[tuple[bytes, bool]]:
    """Yield ``(part, is_last)``: the payload in ``part_size`` pieces, each hashed into ``digest``.
    At most one part plus one source chunk is held in memory."""
    pending = bytearray()
    for chunk in iter_payload(data, min(part_size, CHUNK_SIZE)):
        pending += chunk
        while len(pending) > part_size:  # a full part with more bytes behind it
            yield _cut(pending, part_size, digest), False
    yield _cut(pending, len(pending), digest), True


def _cut(pending: bytearray, size: int, digest) -> bytes:
    with memoryview(pending) as view:
        part = bytes(view[:size])
    del pending[:size]
    digest.update(part)
    return part


# --- helpers -------------------------------------------------------------------------------
_NO_KEYS_IN_URLS = "Credentials in {} are refused: use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"


def _settings(url: str, endpoint: str | None, region: str | None) -> tuple[str, str, str | None, str]:
    """(bucket, prefix, endpoint, region) from the arguments, the URL query and the environment."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ConfigError(f"Not an s3:// storage URL (scheme {parts.scheme!r}, bucket {parts.hostname!r})")
    if "@" in parts.netloc:
        raise ConfigError(_NO_KEYS_IN_URLS.format("an s3:// URL"))
    query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
    unknown = sorted(set(query) - set(_QUERY_OPTIONS))
    if unknown:
        raise ConfigError(f"Unknown s3:// URL option(s) {', '.join(unknown)} (known: {', '.join(_QUERY_OPTIONS)})")
    prefix = parts.path.strip("/")
    try:
        if prefix:
            normalize_key(prefix)
    except InvalidKey as exc:
        raise ConfigError(f"Bad prefix in s3:// URL: {exc.message}") from None
    env = os.environ.get
    endpoint = endpoint or query.get("endpoint_url") or env("AWS_ENDPOINT_URL_S3") or env("AWS_ENDPOINT_URL")
    if endpoint:
        where = urlsplit(endpoint)
        if where.scheme not in ("http", "https") or not where.hostname:
            raise ConfigError(f"S3 endpoint must be an http(s) URL, got {endpoint.split('@')[-1]!r}")
        if where.username or where.password:
            raise ConfigError(_NO_KEYS_IN_URLS.format("the S3 endpoint URL"))
    region = region or query.get("region") or env("AWS_REGION") or env("AWS_DEFAULT_REGION") or "us-east-1"
    return parts.netloc, prefix, endpoint.rstrip("/") if endpoint else None, region


_SESSION_LOCK = threading.Lock()
_SESSION: list = []  # one boto3 session for every storage: loading the S3 model costs ~0.1 s per session


def _make_client(endpoint: str | None, region: str, access_key: str | None, secret_key: str | None):
    if (access_key is None) != (secret_key is None):
        raise ConfigError(
            "Give both access_key and secret_key, or neither (then AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY apply)"
        )
    keys = {"aws_access_key_id": access_key, "aws_secret_access_key": secret_key}
    if access_key is None and os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_SECRET_ACCESS_KEY"):
        # read per storage, not cached in the shared session, so a changed environment applies
        keys = {
            "aws_access_key_id": os.environ["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": os.environ["AWS_SECRET_ACCESS_KEY"],
            "aws_session_token": os.environ.get("AWS_SESSION_TOKEN") or None,
        }
    config = Config(
        signature_version="s3v4",
        retries={"total_max_attempts": 1, "mode": "standard"},  # backoff is the RetryPolicy's
        s3={"addressing_style": "path" if endpoint else "auto"},
        connect_timeout=10,
        read_timeout=60,
        # we send SHA256 ourselves; botocore's automatic CRC32 trailers confuse some S3 servers
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    with _SESSION_LOCK:  # botocore sessions are not thread-safe; the clients they make are
        if not _SESSION:
            _SESSION.append(boto3.session.Session())
        return _SESSION[0].client("s3", endpoint_url=endpoint, region_name=region, config=config, **keys)


def _verify(where: str, expected: str | None, actual: str) -> None:
    if expected is not None and expected != actual:
        raise ChecksumMismatch(f"Checksum validation failed for {where}: expected {expected[:80]}, got {actual}")


def _check_ttl(ttl) -> int:
    return check_ttl(ttl, S3Storage.max_sign_ttl, text=False)


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
    key = item["Key"][len(root) :]
    try:
        normalize_key(key)
    except InvalidKey:
        log.debug("Skipping S3 object %r: not a valid scout key (folder marker?)", item["Key"])
        return None
    return ObjectInfo(
        key=key, size=item.get("Size", 0), last_modified=item.get("LastModified"), etag=_unquote(item.get("ETag"))
    )


def _unquote(etag: str | None) -> str | None:
    return etag.strip('"') if etag else etag
