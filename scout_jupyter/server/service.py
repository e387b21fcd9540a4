"""What the server extension does, without tornado: the handlers are thin calls into
:class:`ScoutService`.

It answers from the cached manifest (:mod:`.manifests`), signs dataset URLs (validating the
id, the TTL and its cap, rate-limiting per user before anything is signed), runs publish jobs
(:mod:`.jobs`) and reads the access analytics (:mod:`.accesslog`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date as Date
from datetime import datetime, timedelta
from typing import Any

from ..clock import Clock, isoformat_z
from ..errors import DatasetNotFound, InvalidRequest, StorageError
from ..manifest import DATE_RE, DatasetEntry, validate_dataset_id
from ..preview import parse_columns, parse_limit, read_preview
from ..schema import TableSchema
from ..storage.base import SignedURL, Storage
from ..storage.local import LocalStorage
from ..ttl import DEFAULT_TTL, HARD_MAX_TTL, check_ttl
from .access_stats import access_breakdown
from .accesslog import AccessLog
from .jobs import Job, JobRunner
from .manifests import CachedManifest, ManifestCache, run_blocking
from .ratelimit import RateLimiter

FORMATS = ("csv", "parquet")
WHOLE_RE = re.compile(r"[0-9]{1,9}")
MAX_ANALYTICS_DAYS = 366
SIGNED_MEMO_SIZE = 1024


# --- request parameters -----------------------------------------------------------------------
def parse_ttl(text: str | None, max_ttl: int) -> int:
    """A TTL in seconds: an integer literal in ``1..max_ttl`` (default: 3600 capped at max_ttl).
    ``1.5``, ``1e21``, ``-1``, ``0``, ``abc`` and anything above the cap are refused."""
    if text is None or text == "":
        return min(DEFAULT_TTL, max_ttl)
    return check_ttl(text, max_ttl)


def parse_format(text: str | None) -> str:
    if text in (None, ""):
        return "csv"
    if text not in FORMATS:
        raise InvalidRequest(f"Invalid format {text[:24]!r}: expected csv or parquet")
    return text


def parse_date(text: str | None) -> str | None:
    if text in (None, ""):
        return None
    try:
        if not DATE_RE.fullmatch(text):
            raise ValueError
        Date.fromisoformat(text)
    except ValueError:
        raise InvalidRequest(f"Invalid date {text[:24]!r}: expected YYYY-MM-DD") from None
    return text


def parse_days(text: str | None) -> int:
    if text in (None, ""):
        return 7
    if not WHOLE_RE.fullmatch(text) or not 1 <= int(text) <= MAX_ANALYTICS_DAYS:
        raise InvalidRequest(f"Invalid days {text[:24]!r}: expected a whole number from 1 to {MAX_ANALYTICS_DAYS}")
    return int(text)


def parse_publish_body(body: bytes) -> list[str] | None:
    """``{"datasets": [ids] | null}`` (an empty body means every dataset) → validated ids or None."""
    try:
        obj = json.loads(body.decode("utf-8")) if body.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidRequest('The publish body must be JSON: {"datasets": [ids] or null}') from None
    if not isinstance(obj, dict) or set(obj) - {"datasets"}:
        raise InvalidRequest('The publish body must be {"datasets": [ids] or null}')
    datasets = obj.get("datasets")
    if datasets is None:
        return None
    if not isinstance(datasets, list) or not datasets:
        raise InvalidRequest('"datasets" must be a non-empty list of dataset ids, or null for all')
    return [validate_dataset_id(d) for d in datasets]


# --- answers ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SignedDataset:
    """A signing grant: the edge function's answer, plus the checksum to verify against."""

    dataset_id: str
    signed_url: str  # relative (``/scout/files/…``) for the local backend until made absolute
    expires_at: datetime
    ttl: int
    row_count: int
    size_bytes: int
    last_updated: str
    sha256: str

    def to_json(self, url_root: str = "") -> dict[str, Any]:
        """``url_root`` (``http://host:port/base/``) makes a server-relative URL absolute."""
        url = self.signed_url
        if url.startswith("/") and url_root:
            url = url_root.rstrip("/") + url
        return {
            "signed_url": url,
            "expires_at": isoformat_z(self.expires_at),
            "dataset_info": {
                "row_count": self.row_count,
                "size_bytes": self.size_bytes,
                "last_updated": self.last_updated,
                "sha256": self.sha256,
            },
        }


def dataset_summary(entry: DatasetEntry, now: datetime) -> dict[str, Any]:
    return {
        "id": entry.id,
        "layer": entry.layer,
        "name": entry.name,
        "description": entry.description,
        "date": entry.date,
        "row_count": entry.row_count,
        "size_bytes": entry.size_bytes,
        "last_modified": entry.last_modified,
        "update_frequency": entry.update_frequency,
        "freshness": entry.freshness(now),
        "schema_version": entry.schema_version,
    }


def dataset_detail(entry: DatasetEntry, now: datetime) -> dict[str, Any]:
    return {
        "id": entry.id,
        "layer": entry.layer,
        "name": entry.name,
        **entry.to_json(),
        "freshness": entry.freshness(now),
    }


# --- the service ------------------------------------------------------------------------------
class ScoutService:
    def __init__(
        self,
        storage: Storage,
        *,
        access_log: AccessLog,
        rate_limiter: RateLimiter,
        jobs: JobRunner,
        clock: Clock,
        max_ttl: int = DEFAULT_TTL,
        manifest_cache_ttl: float = 900,
        namespace: str = "scout/v1",
        preview_limiter: RateLimiter | None = None,
    ):
        if not 1 <= int(max_ttl) <= HARD_MAX_TTL:
            raise ValueError(f"max_ttl must be within 1..{HARD_MAX_TTL}")
        self.storage = storage
        self.access_log = access_log
        self.rate_limiter = rate_limiter
        # previews read data on the server: limited apart from signing, so browsing the sidebar
        # never uses up a user's signing budget (and the other way round)
        self.preview_limiter = preview_limiter or RateLimiter("60/minute", clock)
        self.jobs = jobs
        self.clock = clock
        self.max_ttl = int(max_ttl)
        self.manifests = ManifestCache(storage, ttl=manifest_cache_ttl, clock=clock, namespace=namespace)
        # the local backend signs with one stat and an HMAC, cheaper than a hop to a thread;
        # the others may call their service
        self._signs_locally = isinstance(storage, LocalStorage)
        self._signed: dict[tuple[str, int], tuple[int, SignedURL]] = {}

    # --- reading ------------------------------------------------------------------------
    async def manifest(self) -> CachedManifest:
        return await self.manifests.current(strict=True)

    async def list_datasets(self) -> dict[str, Any]:
        manifest = (await self.manifests.current()).manifest
        now = self.clock.now()
        return {"datasets": [dataset_summary(entry, now) for entry in manifest]}

    async def dataset_info(self, dataset_id: str) -> dict[str, Any]:
        validate_dataset_id(dataset_id)
        entry = (await self.manifests.current()).manifest.get(dataset_id)
        return dataset_detail(entry, self.clock.now())

    async def preview(
        self, user: str, dataset_id: str | None, limit: str | None = None, columns: str | None = None
    ) -> dict[str, Any]:
        """The first ``limit`` rows (1..1000, default 50) of a dataset, typed by its schema."""
        dataset_id = validate_dataset_id(dataset_id)
        rows = parse_limit(limit)
        entry = (await self.manifests.current()).manifest.get(dataset_id)
        wanted = parse_columns(columns, TableSchema.from_json(entry.schema)) if entry.schema else None
        if columns and not entry.schema:
            raise InvalidRequest(f"{dataset_id} has no schema in the manifest: columns cannot be chosen")
        self.preview_limiter.hit(user)
        preview = await run_blocking(read_preview, self.storage, entry, rows, wanted)
        return preview.to_json()

    # --- signing ------------------------------------------------------------------------
    async def sign_dataset_url(
        self,
        user: str,
        dataset_id: str | None,
        ttl: str | None = None,
        *,
        fmt: str | None = None,
        date: str | None = None,
    ) -> SignedDataset:
        """Validate, rate-limit ``user``, find the entry (``date``: an older version), sign.
        Nothing is signed for an id that is malformed or not in the manifest."""
        dataset_id = validate_dataset_id(dataset_id)
        seconds = parse_ttl(ttl, self.max_ttl)
        fmt, date = parse_format(fmt), parse_date(date)
        self.rate_limiter.hit(user)
        if date is None:
            entry = (await self.manifests.current()).manifest.get(dataset_id)
        else:
            entry = await self.manifests.entry_for_date(dataset_id, date)
        key, sha256, size = _file_of(entry, fmt)
        signed = await self._sign(key, seconds)
        if signed.expires_at.timestamp() > self.clock.time() + seconds + 1:
            raise StorageError(f"The store signed {key} beyond the requested TTL; refused")
        return SignedDataset(
            dataset_id=dataset_id,
            signed_url=signed.url,
            expires_at=signed.expires_at,
            ttl=seconds,
            row_count=entry.row_count,
            size_bytes=size,
            last_updated=entry.last_modified,
            sha256=sha256,
        )

    async def _sign(self, key: str, ttl: int) -> SignedURL:
        """The store's signed URL. Requests for the same object and TTL within one clock second
        get the same URL (the expiry has one-second resolution, so it would be the same URL):
        a burst of loads of one dataset costs the store one signature per second."""
        second = int(self.clock.time())
        cached = self._signed.get((key, ttl))
        if cached is not None and cached[0] == second:
            return cached[1]
        if self._signs_locally:
            signed = self.storage.sign(key, ttl)
        else:
            signed = await run_blocking(self.storage.sign, key, ttl)
        if len(self._signed) >= SIGNED_MEMO_SIZE:
            self._signed.clear()
        self._signed[(key, ttl)] = (second, signed)
        return signed

    # --- publishing and analytics -------------------------------------------------------
    def start_publish(self, datasets: list[str] | None, user: str | None) -> Job:
        return self.jobs.submit(datasets, user=user)

    def job(self, job_id: str) -> Job:
        return self.jobs.get(job_id)

    async def analytics(self, days: str | None) -> dict[str, Any]:
        count = parse_days(days)
        since = self.clock.now().date() - timedelta(days=count - 1)
        rows = await run_blocking(self.access_log.analytics, since)
        breakdown = await run_blocking(access_breakdown, self.access_log, since)
        return {"days": count, "since": since.isoformat(), "rows": rows, **breakdown}

    def publish_finished(self) -> None:
        """A publish changed the store: serve its manifest from the next request on."""
        self.manifests.invalidate()


def _file_of(entry: DatasetEntry, fmt: str) -> tuple[str, str, int]:
    if fmt == "parquet":
        if not entry.parquet_key or not entry.parquet_sha256:
            raise DatasetNotFound(entry.id, message=f"{entry.id} has no Parquet copy; use format=csv")
        return entry.parquet_key, entry.parquet_sha256, int(entry.parquet_size_bytes or 0)
    return entry.csv_key, entry.sha256, entry.size_bytes
