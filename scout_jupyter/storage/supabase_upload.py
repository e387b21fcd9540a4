"""Upload bodies for the ``supabase://`` backend.

Supabase keeps only md5 etags, so the sha256 of a payload is computed as it streams out. A
payload is made replayable so that a retried upload sends the same bytes again; each attempt
streams it in chunks (never the whole file in memory) and holds the last chunk back until the
checksum is known, so a payload that does not match its declared sha256 never completes an
upload.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from typing import IO, Any, BinaryIO, TypeGuard

from ..errors import ChecksumMismatch, StorageError
from .base import CHUNK_SIZE, Payload, iter_payload

#: Payloads that cannot be re-read (iterables, pipes) are spooled; in memory up to this size.
SPOOL_IN_MEMORY = 8 << 20


class ReplayableUpload:
    """A payload made replayable for retries: a seekable file from its position, bytes as a
    BytesIO, anything else spooled to a temporary file (hashed on the way in)."""

    def __init__(self, data: Payload):
        self.sha256: str | None = None
        self.md5: str | None = None
        self._spool: IO[bytes] | None = None
        file: IO[bytes]
        if isinstance(data, (bytes, bytearray, memoryview)):
            self.sha256, self.md5 = hashlib.sha256(data).hexdigest(), hashlib.md5(data).hexdigest()
            file = io.BytesIO(data)
        elif self._seekable(data):
            file = data
        else:
            file = self._spool = self._spooled(data)
        self.file, self.start = file, file.tell()
        self.size = file.seek(0, os.SEEK_END) - self.start
        file.seek(self.start)

    @staticmethod
    def _seekable(data: Any) -> TypeGuard[BinaryIO]:
        try:
            return hasattr(data, "read") and data.seekable()
        except (AttributeError, OSError, ValueError):
            return False

    def _spooled(self, data: Payload) -> IO[bytes]:
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
        sha, md5 = hashlib.sha256(), hashlib.md5()
        try:
            for chunk in iter_payload(data):  # an error in the source stops the write here
                spool.write(chunk)
                sha.update(chunk)
                md5.update(chunk)
        except BaseException:
            spool.close()
            raise
        self.sha256, self.md5 = sha.hexdigest(), md5.hexdigest()
        spool.seek(0)
        return spool

    def body(self, expected_sha256: str | None):
        return b"" if self.size == 0 else HashingBody(self, expected_sha256)

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()


class HashingBody:
    """One upload attempt's body: streams the file in chunks, hashing as it goes, and holds the
    last chunk back until the sha256 is known, so a mismatch aborts before the upload completes.
    ``failure`` keeps what stopped it (the HTTP layer may wrap the exception)."""

    def __init__(self, upload: ReplayableUpload, expected_sha256: str | None):
        self.upload, self.expected, self.failure = upload, expected_sha256, None

    def __len__(self) -> int:
        return self.upload.size

    def __iter__(self):
        upload, sha, md5, sent, pending = self.upload, hashlib.sha256(), hashlib.md5(), 0, None
        try:
            upload.file.seek(upload.start)
            while chunk := upload.file.read(min(CHUNK_SIZE, upload.size - sent + 1)):
                sha.update(chunk)
                md5.update(chunk)
                sent += len(chunk)
                if sent > upload.size:
                    raise StorageError("The payload grew while it was being uploaded")
                if pending is not None:
                    yield pending
                pending = chunk
            if sent != upload.size:
                raise StorageError("The payload shrank while it was being uploaded")
            upload.sha256, upload.md5 = sha.hexdigest(), md5.hexdigest()
            if self.expected and upload.sha256 != self.expected:
                raise ChecksumMismatch(
                    f"Checksum validation failed: payload sha256 {upload.sha256}, "
                    f"expected {self.expected}; upload aborted"
                )
        except Exception as exc:
            self.failure = exc
            raise
        if pending is not None:
            yield pending
