"""Where a client's bytes come from: the Jupyter server extension (proxy mode) or the store itself
(direct mode). Both give the client the same things, so a load is the same either way:
the manifest bytes, a :class:`Grant` to download one file, and a stream of its bytes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests

from ..clock import parse_timestamp
from ..errors import AccessDenied, ConfigError, ObjectNotFound, StorageError
from ..manifest import DEFAULT_NAMESPACE, SHA256_RE, DatasetEntry, latest_manifest_key, snapshots_newest_first
from ..storage import Storage, open_storage
from ..storage.base import CHUNK_SIZE
from ..ttl import HARD_MAX_TTL
from .http import HttpApi, HttpTransient

log = logging.getLogger(__name__)


class BodyInterrupted(HttpTransient):
    """The connection broke while the body was streaming."""


class SignatureRejected(AccessDenied):
    """A signed URL was refused (expired during a retry, typically): sign again."""


@dataclass(frozen=True)
class Grant:
    """Permission to download one file: a signed URL (proxy) or a storage key (direct),
    with the sha256 and size the bytes must have."""

    dataset_id: str
    fmt: str
    sha256: str
    size_bytes: int
    url: str | None = None
    key: str | None = None
    expires_at: datetime | None = None
    row_count: int | None = None
    last_updated: str | None = None
    extra: Mapping[str, Any] | None = None

    @classmethod
    def from_json(cls, obj: Any, *, dataset_id: str, fmt: str, api: HttpApi) -> Grant:
        """The dataset-proxy answer: ``{signed_url, expires_at, dataset_info: {row_count,
        size_bytes, last_updated, sha256}}``."""
        try:
            info = obj["dataset_info"]
            sha256, size = info["sha256"], info["size_bytes"]
            if not (isinstance(sha256, str) and SHA256_RE.match(sha256)) or not isinstance(size, int):
                raise ValueError("sha256/size_bytes")
            expires = obj.get("expires_at")
            return cls(
                dataset_id=dataset_id,
                fmt=fmt,
                sha256=sha256,
                size_bytes=size,
                url=api.absolute(obj["signed_url"]),
                expires_at=parse_timestamp(expires) if isinstance(expires, str) else None,
                row_count=info.get("row_count"),
                last_updated=info.get("last_updated"),
                extra={k: v for k, v in info.items() if k not in ("sha256", "size_bytes", "row_count", "last_updated")},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StorageError(f"Unexpected dataset-proxy answer for {dataset_id} ({exc})") from None


def direct_grant(entry: DatasetEntry, fmt: str) -> Grant:
    if fmt == "parquet":
        if not entry.latest_parquet or not entry.parquet_sha256:
            raise ObjectNotFound(f"{entry.id} has no Parquet copy")
        return Grant(
            entry.id,
            fmt,
            entry.parquet_sha256,
            int(entry.parquet_size_bytes or 0),
            key=entry.parquet_key,
            row_count=entry.row_count,
            last_updated=entry.last_modified,
        )
    return Grant(
        entry.id,
        fmt,
        entry.sha256,
        entry.size_bytes,
        key=entry.csv_key,
        row_count=entry.row_count,
        last_updated=entry.last_modified,
    )


class ProxyTransport:
    """Through the server extension's REST routes (DESIGN.md)."""

    mode = "proxy"
    #: the server refuses beyond its own max_ttl (at most this), in the same words
    max_sign_ttl = HARD_MAX_TTL

    def __init__(self, api: HttpApi):
        self.api = api
        self.origin = api.base_url
        self.manifest_location = api.url("manifest")

    def fetch_manifest(self, etag: str | None) -> tuple[bytes | None, str | None]:
        """``(bytes, etag)``, or ``(None, etag)`` when unchanged since ``etag``."""
        headers = {"If-None-Match": etag} if etag else {}
        resp = self.api.call("GET", "manifest", headers=headers, ok=(304,), what="manifest")
        if resp.status_code == 304:
            return None, etag
        if resp.headers.get("Content-Type", "").startswith("text/html"):
            raise ConfigError(
                f"{self.api.url('manifest')} answered with a web page, not the Scout manifest: "
                "SCOUT_API_URL should be the Jupyter server's address (e.g. the URL `jupyter lab` "
                "printed), and the server needs the scout_jupyter extension"
            )
        return resp.content, resp.headers.get("ETag")

    def grant(self, entry: DatasetEntry, fmt: str, *, ttl: int, date: str | None = None) -> Grant:
        params = {"dataset": entry.id, "ttl": str(int(ttl)), "format": fmt}
        if date:
            params["date"] = date
        obj = self.api.json("GET", "dataset-proxy", params=params, what=entry.id)
        return Grant.from_json(obj, dataset_id=entry.id, fmt=fmt, api=self.api)

    def signed_url(self, entry: DatasetEntry, fmt: str, *, ttl: int, date: str | None = None) -> str:
        return self.grant(entry, fmt, ttl=ttl, date=date).url or ""

    def open_stream(self, grant: Grant) -> tuple[Iterator[bytes], int | None]:
        """One GET of the signed URL (no retry here: the download retries as a whole).
        Returns the chunk iterator and the announced length."""
        resp = self.api.send("GET", grant.url or "", auth=False, stream=True, what=grant.dataset_id, ok=(403, 401))
        if resp.status_code in (401, 403):
            resp.close()
            raise SignatureRejected(
                f"Access denied: the signed URL for {grant.dataset_id} was refused (HTTP {resp.status_code})"
            )
        length = resp.headers.get("Content-Length")
        return _iter_response(resp), int(length) if length and length.isdigit() else None

    def start_publish(self, datasets: list[str] | None) -> str:
        obj = self.api.json("POST", "publish", json={"datasets": datasets}, what="publish")
        return str(obj["job_id"])

    def job(self, job_id: str) -> dict:
        return self.api.json("GET", f"jobs/{job_id}", what=f"job {job_id}")

    def analytics(self, days: int) -> list[dict]:
        return self.analytics_report(days)["rows"]

    def analytics_report(self, days: int) -> dict[str, Any]:
        """The analytics answer with ``rows`` always present (older servers answer a bare list)."""
        obj = self.api.json("GET", "access/analytics", params={"days": str(int(days))}, what="analytics")
        report = dict(obj) if isinstance(obj, dict) else {"rows": obj}
        report["rows"] = report.get("rows", report.get("analytics", []))
        if not isinstance(report["rows"], list):
            raise StorageError("Unexpected access analytics answer from the Scout server")
        return report

    def close(self) -> None:
        self.api.close()


def _iter_response(resp: requests.Response) -> Iterator[bytes]:
    try:
        for chunk in resp.iter_content(CHUNK_SIZE):
            if chunk:
                yield chunk
    except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError, requests.Timeout) as exc:
        raise BodyInterrupted(
            f"download interrupted: {type(exc).__name__}", StorageError(f"Download interrupted ({type(exc).__name__})")
        ) from exc
    finally:
        resp.close()


class DirectTransport:
    """Straight from a store the caller has credentials for (scripts, admins, the CLI)."""

    mode = "direct"

    def __init__(self, storage: Storage | str, *, namespace: str = DEFAULT_NAMESPACE):
        self.storage = storage if isinstance(storage, Storage) else open_storage(storage)
        self.namespace = namespace
        self.origin = self.storage.url
        self.manifest_location = self.storage.location(latest_manifest_key(namespace))

    def fetch_manifest(self, etag: str | None) -> tuple[bytes | None, str | None]:
        try:
            return self.storage.read_bytes(latest_manifest_key(self.namespace)), None
        except ObjectNotFound:
            raise ConfigError(f"No Scout manifest in {self.storage.url} (nothing published yet?)") from None

    def grant(self, entry: DatasetEntry, fmt: str, *, ttl: int, date: str | None = None) -> Grant:
        return direct_grant(entry, fmt)

    @property
    def max_sign_ttl(self) -> int:
        return self.storage.max_sign_ttl

    def signed_url(self, entry: DatasetEntry, fmt: str, *, ttl: int, date: str | None = None) -> str:
        if not self.storage.signs_absolute_urls:
            raise ConfigError(
                f"A local store's signed URLs are served by a running Jupyter server with the "
                f"scout_jupyter extension: connect through it (SCOUT_API_URL) to sign {entry.id}, "
                "or read it here with scout.load() / scout.load_raw()"
            )
        grant = direct_grant(entry, fmt)
        return self.storage.sign(grant.key or "", int(ttl)).url

    def open_stream(self, grant: Grant) -> tuple[Iterator[bytes], int | None]:
        return self.storage.iter_bytes(grant.key or ""), None

    def snapshot_names(self) -> list[str]:
        """Snapshot manifest file names, newest first."""
        prefix = f"{self.namespace}/manifests/"
        return [
            key[len(prefix) :]
            for key in snapshots_newest_first(info.key for info in self.storage.list(prefix))
            if "/" not in key[len(prefix) :]
        ]

    def read_snapshot(self, name: str) -> bytes:
        return self.storage.read_bytes(f"{self.namespace}/manifests/{name}")

    def close(self) -> None:
        self.storage.close()
