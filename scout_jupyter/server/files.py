"""Signed downloads of the local backend (``/scout/files/<key>?expires=…&scout_auth=…``),
without tornado: checking a request against its signature, byte ranges, and naming the dataset
a key belongs to (for the access log).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path

from ..errors import ObjectNotFound
from ..manifest import LAYERS
from ..storage.base import Storage
from ..storage.local import LocalStorage

RANGE_RE = re.compile(r"bytes=(\d*)-(\d*)")


class RangeNotSatisfiable(Exception):
    """The requested byte range lies outside the file (HTTP 416)."""


@dataclass(frozen=True)
class SignedFile:
    path: Path
    size: int
    content_type: str
    etag: str
    last_modified: str  # HTTP date

    @property
    def filename(self) -> str:
        return self.path.name


def open_signed_file(storage: Storage, key: str, expires: str | None, signature: str | None, method: str) -> SignedFile:
    """The file a signed request may read. AccessDenied for a wrong, expired or other-path
    signature or a method other than GET/HEAD; ObjectNotFound for anything outside the bucket.
    Blocking (stat): call it off the event loop."""
    if not isinstance(storage, LocalStorage):
        raise ObjectNotFound("Signed downloads are served by the store itself, not by this server")
    path = storage.open_signed(key, expires or "", signature or "", method)
    st = path.stat()
    return SignedFile(
        path=path,
        size=st.st_size,
        content_type=storage.info(key).content_type or "application/octet-stream",
        etag=f'"{st.st_size:x}-{st.st_mtime_ns:x}"',
        last_modified=format_datetime(datetime.fromtimestamp(int(st.st_mtime), timezone.utc), usegmt=True),
    )


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``Range: bytes=a-b`` → ``(start, end)`` with ``end`` exclusive; None means the whole file
    (no header, several ranges, or a syntax we do not serve partially, which RFC 9110 allows
    us to ignore). Raises RangeNotSatisfiable when the range starts past the end."""
    if not header:
        return None
    match = RANGE_RE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":  # suffix: the last N bytes
        length = int(last)
        if length == 0:
            raise RangeNotSatisfiable(header)
        return max(0, size - length), size
    start = int(first)
    end = size if last == "" else min(size, int(last) + 1)
    if start >= size or end <= start:
        raise RangeNotSatisfiable(header)
    return start, end


def dataset_id_for_key(key: str) -> str | None:
    """``scout/v1/gold/txn_daily/txn_daily_2024-08-10.csv`` → ``gold/txn_daily`` (for the log)."""
    parts = key.split("/")
    if len(parts) >= 3 and parts[-3] in LAYERS:
        return f"{parts[-3]}/{parts[-2]}"
    return None
