"""The :class:`Client`: manifest (with TTL and offline fallback), verified cached loads, publish.

Only the manifest expires (``manifest_ttl``, 900 s); data files are immutable and cached by
their sha256. A cold load downloads the Parquet copy when the manifest has one (else the CSV),
verifying its sha256 as it streams, and keeps a parsed copy; a warm load reads that parsed copy
(Arrow IPC, memory-mapped) and never touches the network.

Verification of cached files: by default, the content-addressed name (the hash of record, given
only after the streaming sha256 matched the manifest at download time) plus the size recorded
against the manifest's; ``verify="full"`` re-hashes the cached file and parses it again.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from ..cache import Cache, source_id
from ..clock import SYSTEM_CLOCK, Clock
from ..errors import ConfigError, DatasetNotFound, SchemaError, StorageError, StorageUnavailable
from ..manifest import DATE_RE, DatasetEntry, Manifest, validate_dataset_id
from ..schema import TableSchema
from ..storage.retry import RetryPolicy
from ..ttl import check_ttl
from . import frames
from .download import BytesFn, Downloader, download_to, report_bytes
from .jobs import JobStatus, ProgressFn, publish_in_process, wait_for_job
from .manifests import ManifestState, OfflineWarning
from .transport import Grant

log = logging.getLogger(__name__)

DEFAULT_MANIFEST_TTL = 900.0
DEFAULT_SIGN_TTL = 300
VERIFY_MODES = ("size", "full")
DATASET_COLUMNS = [
    "id",
    "layer",
    "name",
    "description",
    "date",
    "row_count",
    "size_bytes",
    "last_modified",
    "update_frequency",
    "freshness",
    "schema_version",
]


class _StaleManifest(Exception):
    """The server signed a newer version than our manifest names."""


@dataclass(frozen=True)
class _Version:
    """What one load reads: a manifest entry, and the ``date`` asked for (None = latest)."""

    entry: DatasetEntry
    date: str | None = None
    grant: Grant | None = None  # already signed while resolving an older date (proxy mode)
    #: the schema is today's, lent to an older version whose own the server does not send
    schema_borrowed: bool = False


class Client:
    """A connection to Scout: through the Jupyter server (proxy) or straight to a store (direct)."""

    def __init__(
        self,
        transport: Any,
        *,
        cache: Cache | None = None,
        clock: Clock | None = None,
        retry: RetryPolicy | None = None,
        manifest_ttl: float = DEFAULT_MANIFEST_TTL,
        sign_ttl: int = DEFAULT_SIGN_TTL,
        progress: bool | None = None,
        offline_recheck: float = 60.0,
        publish_config: str | None = None,
        chosen_because: str = "",
    ):
        self.transport = transport
        self.clock = clock or SYSTEM_CLOCK
        self.cache = cache or Cache(clock=self.clock)
        self.retry = retry or RetryPolicy(sleep=self.clock.sleep)
        self.sign_ttl = int(sign_ttl)
        self.publish_config = publish_config
        self.source = source_id(transport.origin)
        self._downloader = Downloader(self.cache, transport, retry=self.retry, clock=self.clock, progress=progress)
        self._manifests = ManifestState(
            transport, self.cache, self.source, clock=self.clock, ttl=manifest_ttl, offline_recheck=offline_recheck
        )

        #: why this server or store (connect's choice: an argument, an environment variable, ...)
        self.chosen_because = chosen_because

    def describe(self) -> str:
        """One line: ``proxy mode through the Jupyter server at http://… (from SCOUT_API_URL)``."""
        where = (
            f"proxy mode through the Jupyter server at {self.transport.origin}"
            if self.mode == "proxy"
            else f"direct mode on the store {self.transport.origin}"
        )
        return f"{where} (from {self.chosen_because})" if self.chosen_because else where

    def __repr__(self) -> str:
        return f"<scout Client: {self.describe()}>"

    @property
    def mode(self) -> str:
        return self.transport.mode

    # --- manifest ---------------------------------------------------------------------------
    def manifest(self, refresh: bool = False) -> Manifest:
        """The current manifest (see :class:`ManifestState`)."""
        return self._manifests.get(refresh)

    def invalidate(self) -> None:
        """Forget the manifest's age: the next call fetches it again."""
        self._manifests.invalidate()

    @property
    def offline(self) -> bool:
        return self._manifests.offline

    # --- catalogue ----------------------------------------------------------------------------
    def entry(self, dataset_id: str) -> DatasetEntry:
        """The manifest entry; a miss refreshes the manifest once (a new dataset may be out)."""
        validate_dataset_id(dataset_id)
        fetched_before = self._manifests.fetched_at
        manifest = self.manifest()
        if dataset_id not in manifest and self._manifests.fetched_at == fetched_before and not self.offline:
            manifest = self.manifest(refresh=True)
        return manifest.get(dataset_id)

    def datasets(self) -> pd.DataFrame:
        """One row per dataset, with its freshness."""
        now = self.clock.now()
        rows = [
            {
                "id": e.id,
                "layer": e.layer,
                "name": e.name,
                "description": e.description,
                "date": e.date,
                "row_count": e.row_count,
                "size_bytes": e.size_bytes,
                "last_modified": e.last_modified,
                "update_frequency": e.update_frequency,
                "freshness": e.freshness(now),
                "schema_version": e.schema_version,
            }
            for e in self.manifest()
        ]
        return pd.DataFrame(rows, columns=DATASET_COLUMNS)

    def info(self, dataset_id: str) -> dict[str, Any]:
        """The manifest entry as a dict, with ``id``, ``freshness`` and ``cached``."""
        entry = self.entry(dataset_id)
        return {
            "id": entry.id,
            **entry.to_json(),
            "freshness": entry.freshness(self.clock.now()),
            "cached": self.is_cached(entry),
        }

    def is_cached(self, entry: DatasetEntry) -> bool:
        """Whether a load of ``entry`` can be served from the local cache."""
        _, fp = frames.schema_and_fingerprint(entry)
        return (
            self.cache.parsed_path(entry.sha256, fp).exists()
            or self.cache.object_path(entry.sha256, "csv").exists()
            or (
                entry.parquet_sha256 is not None
                and entry.schema is not None
                and self.cache.object_path(entry.parquet_sha256, "parquet").exists()
            )
        )

    def status(self) -> pd.DataFrame:
        """Freshness and local cache state of every dataset."""
        table = self.datasets()
        manifest = self.manifest()
        table["cached"] = [self.is_cached(manifest.get(i)) for i in table["id"]]
        return table[["id", "date", "last_modified", "update_frequency", "freshness", "row_count", "cached"]]

    # --- loading ------------------------------------------------------------------------------
    def load(
        self,
        dataset_id: str,
        columns: Sequence[str] | None = None,
        limit: int | None = None,
        date: str | None = None,
        verify: str = "size",
        on_bytes: BytesFn | None = None,
    ) -> pd.DataFrame:
        """The dataset as a DataFrame with the manifest schema's dtypes and provenance in
        ``df.attrs["scout"]``. ``columns``/``limit`` read only what they need; ``date`` loads
        the version of that day. ``on_bytes(done, total)`` follows a download (a widget's bar)."""
        if verify not in VERIFY_MODES:
            raise ConfigError(f"verify must be one of {', '.join(VERIFY_MODES)}, got {verify!r}")
        frames.check_limit(limit)
        with report_bytes(on_bytes):
            try:
                return self._load_once(dataset_id, columns, limit, date, verify)
            except _StaleManifest:
                self.manifest(refresh=True)
                return self._load_once(dataset_id, columns, limit, date, verify)

    def _load_once(
        self, dataset_id: str, columns: Any, limit: int | None, date: str | None, verify: str
    ) -> pd.DataFrame:
        version = self._resolve(dataset_id, date)
        entry = version.entry
        schema, fp = frames.schema_and_fingerprint(entry)
        wanted = frames.check_columns(schema, columns)
        frame, source, fmt = self._frame(version, schema, fp, wanted, limit, verify)
        frame.attrs["scout"] = {
            "id": entry.id,
            "date": entry.date,
            "sha256": entry.sha256,
            "schema_version": entry.schema_version,
            "source": source,
            "format": fmt,
            "origin": self.transport.origin,
        }
        return frame

    def _frame(
        self,
        version: _Version,
        schema: TableSchema | None,
        fp: str,
        columns: list[str] | None,
        limit: int | None,
        verify: str,
    ) -> tuple[pd.DataFrame, str, str]:
        """``(frame, source, format)``: the parsed copy when cached; else the Parquet copy when
        the manifest has one (a fraction of the bytes, decoded without parsing text); else the CSV."""
        entry = version.entry
        if verify != "full":
            self.cache.keeper.wait(self.cache.parsed_path(entry.sha256, fp))
            hit = self.cache.read_frame(entry.sha256, fp, source_size=entry.size_bytes, columns=columns, limit=limit)
            if hit is not None:
                return hit, "cache", "arrow"
        partial = columns is not None or limit is not None
        if schema is not None and entry.latest_parquet and entry.parquet_sha256:
            path, source = self._object(version, "parquet", verify)
            try:
                if partial:
                    self._evict(source, path)
                    return frames.parse(path, "parquet", schema, columns, limit), source, "parquet"
                whole = self._keep_parsed(entry, fp, frames.parse(path, "parquet", schema), path)
                return frames.select(whole, columns, limit), source, "parquet"
            except SchemaError as exc:  # a Parquet copy that disagrees with the manifest: use the CSV
                log.warning("Parquet copy of %s unusable (%s); reading the CSV", entry.id, exc.message)
        path, source = self._object(version, "csv", verify)
        schema, fp, whole = self._parse_csv(version, schema, fp, columns, path)
        whole = self._keep_parsed(entry, fp, whole, path)
        return frames.select(whole, columns, limit), source, "csv"

    @staticmethod
    def _parse_csv(
        version: _Version, schema: TableSchema | None, fp: str, columns: list[str] | None, path: Path
    ) -> tuple[TableSchema, str, pd.DataFrame]:
        if schema is not None:
            try:
                return schema, fp, frames.parse(path, "csv", schema)
            except SchemaError:
                if not version.schema_borrowed:
                    raise
        # no schema in the manifest, or today's schema lent to an older version whose columns differ
        schema = frames.infer_csv_schema(path)
        frames.check_columns(schema, columns)
        return schema, frames.INFERRED, frames.parse(path, "csv", schema)

    def _keep_parsed(self, entry: DatasetEntry, fp: str, frame: pd.DataFrame, raw: Path) -> pd.DataFrame:
        """Keep ``frame`` as the parsed copy (in the background: :mod:`scout_jupyter.keeper`); returns the
        frame to hand out."""

        def write(whole: pd.DataFrame) -> None:
            try:
                parsed = self.cache.write_frame(entry.sha256, fp, whole, source_size=entry.size_bytes)
                self.cache.evict(keep=[raw, parsed])
            except OSError as exc:  # a full disk must not fail a load that already succeeded
                log.warning("Could not keep the parsed copy of %s: %s", entry.id, exc)

        if self.cache.keeper.background:  # room for the copy now; the write evicts again when done
            self._evict("download", raw)
        return self.cache.keeper.keep(self.cache.parsed_path(entry.sha256, fp), frame, write)

    def _resolve(self, dataset_id: str, date: str | None) -> _Version:
        current = self.entry(dataset_id)
        if date is None or date == current.date:
            return _Version(current)
        if not isinstance(date, str) or not DATE_RE.match(date):
            raise ConfigError(f"Invalid date {date!r}: expected YYYY-MM-DD")
        if self.mode == "direct":
            return _Version(self._snapshot_entry(current, date), date)
        grant = self.transport.grant(current, "csv", ttl=self.sign_ttl, date=date)
        extra = dict(grant.extra or {})
        entry = replace(
            current,
            date=date,
            sha256=grant.sha256,
            size_bytes=grant.size_bytes,
            row_count=grant.row_count if grant.row_count is not None else current.row_count,
            last_modified=grant.last_updated or current.last_modified,
            latest_csv=extra.get("latest_csv") or current.latest_csv.replace(current.date, date),
            schema=extra.get("schema") or current.schema,
            schema_version=extra.get("schema_version") or current.schema_version,
            latest_parquet=None,
            parquet_sha256=None,
            parquet_size_bytes=None,
        )
        return _Version(entry, date, grant, schema_borrowed="schema" not in extra)

    def _snapshot_entry(self, current: DatasetEntry, date: str) -> DatasetEntry:
        """Direct mode: the entry of ``date`` from the snapshot manifests, newest first."""
        for name in self.transport.snapshot_names():
            data = self.cache.load_snapshot(self.source, name)
            if data is None:
                data = self.transport.read_snapshot(name)
                self.cache.save_snapshot(self.source, name, data)
            entry = Manifest.from_bytes(data).datasets.get(current.id)
            if entry is not None and entry.date == date:
                return entry
            if entry is not None and entry.date < date:
                break
        raise DatasetNotFound(
            current.id, message=f"Dataset not found: {current.id} dated {date} (the latest is {current.date})"
        )

    def _object(self, version: _Version, fmt: str, verify: str) -> tuple[Path, str]:
        """The verified local file of ``version`` in ``fmt``, downloading it when not cached."""
        entry = version.entry
        sha, size = (
            (entry.parquet_sha256, entry.parquet_size_bytes) if fmt == "parquet" else (entry.sha256, entry.size_bytes)
        )
        if sha is None:
            raise ConfigError(f"{entry.id} has no Parquet copy")
        hit = self.cache.get_object(sha, fmt, size, full=verify == "full")
        if hit is not None:
            return hit, "cache"
        label = entry.id if fmt == "csv" else f"{entry.id} (parquet)"
        try:
            if self._manifests.offline_now():
                raise StorageUnavailable(self._manifests.offline_reason)
            grant = version.grant if fmt == "csv" and version.grant is not None else self._grant(version, fmt)
            path = self._downloader.fetch(grant, lambda: self._grant(version, fmt), label)
        except StorageUnavailable as exc:
            raise StorageUnavailable(
                f"{entry.id} is not in the local cache and cannot be downloaded: {exc.message}"
            ) from None
        return path, "download"

    def _evict(self, source: str, *keep: Path) -> None:
        """After a download: keep the cache within its bound (sparing what is in use)."""
        if source == "download":
            self.cache.evict(keep=keep)

    def _grant(self, version: _Version, fmt: str) -> Grant:
        entry = version.entry
        grant = self.transport.grant(entry, fmt, ttl=self.sign_ttl, date=version.date)
        expected = entry.parquet_sha256 if fmt == "parquet" else entry.sha256
        if grant.sha256 != expected:
            if version.date is None:
                raise _StaleManifest(entry.id)
            raise StorageError(
                f"The server's {entry.id} dated {version.date} does not match what it announced; load it again"
            )
        return grant

    def load_raw(self, dataset_id: str, date: str | None = None) -> bytes:
        """The CSV's bytes, verified against the manifest, held in memory (the whole file: for
        large datasets use :meth:`path` or :meth:`download`, which stream)."""
        return self.path(dataset_id, date=date).read_bytes()

    def download(self, dataset_id: str, path: str | os.PathLike, *, date: str | None = None, fmt: str = "csv") -> Path:
        """Stream the dataset's file to ``path`` in blocks (memory stays flat), verifying its
        sha256 on the way; ``path`` appears only when the hash matched (else nothing is written,
        and an existing file is left as it was). A cached copy is copied, verified the same way."""
        return download_to(self, dataset_id, path, date=date, fmt=fmt)

    def path(self, dataset_id: str, *, date: str | None = None, fmt: str = "csv") -> Path:
        """The verified cached file (downloaded if needed): for fsspec and other readers."""
        if fmt not in ("csv", "parquet"):
            raise ConfigError(f"format must be csv or parquet, got {fmt!r}")
        try:
            return self._path_once(dataset_id, date, fmt)
        except _StaleManifest:
            self.manifest(refresh=True)
            return self._path_once(dataset_id, date, fmt)

    def _path_once(self, dataset_id: str, date: str | None, fmt: str) -> Path:
        version = self._resolve(dataset_id, date)
        if fmt == "parquet" and not version.entry.parquet_sha256:
            raise ConfigError(f"{dataset_id} has no Parquet copy")
        path, source = self._object(version, fmt, "size")
        self._evict(source, path)
        return path

    def typed_path(self, dataset_id: str, *, date: str | None = None) -> Path:
        """The verified dataset as a typed Arrow IPC file (the parsed copy :meth:`load` reads, with
        pandas metadata): ``pd.read_feather`` of it gives exactly ``load``'s frame and dtypes;
        pyarrow, polars and DuckDB read it too. Loaded (and kept) first if needed."""
        frame = self.load(dataset_id, date=date)
        sha = frame.attrs["scout"]["sha256"]
        entry = self._resolve(dataset_id, date).entry
        _, fp = frames.schema_and_fingerprint(entry)
        for candidate in (self.cache.parsed_path(sha, fp), self.cache.parsed_path(sha, frames.INFERRED)):
            self.cache.keeper.wait(candidate)  # a cold load keeps its copy in the background
            if candidate.exists():
                return candidate
        # no room to keep it (full disk): write it now, or say why not
        return self.cache.write_frame(sha, fp, frame, source_size=entry.size_bytes)

    def signed_url(self, dataset_id: str, ttl: int = 3600, *, date: str | None = None, fmt: str = "csv") -> str:
        """A time-limited URL of the dataset's file (anyone holding it can download until expiry)."""
        # Through the server its max_ttl applies (it refuses with the same wording); direct, the store's cap.
        check_ttl(ttl, self.transport.max_sign_ttl, text=False)
        version = self._resolve(dataset_id, date)
        return self.transport.signed_url(version.entry, fmt, ttl=ttl, date=version.date)

    # --- publishing and analytics -------------------------------------------------------------
    def publish(
        self,
        datasets: Sequence[str] | None = None,
        *,
        wait: bool = True,
        on_progress: ProgressFn | None = None,
        poll_interval: float = 1.0,
        config: str | None = None,
    ) -> JobStatus:
        """Publish (all datasets when None): through the server's job, or in-process in direct
        mode. Waits for the end unless ``wait=False``; ``on_progress`` sees each status."""
        ids = [validate_dataset_id(d) for d in datasets] if datasets is not None else None
        if self.mode == "direct":
            status = publish_in_process(
                self.transport.storage, config or self.publish_config, ids, clock=self.clock, on_progress=on_progress
            )
        else:
            job_id = self.transport.start_publish(ids)

            def fetch() -> JobStatus:
                return JobStatus.from_json(self.transport.job(job_id))

            if not wait:
                return fetch()
            status = wait_for_job(fetch, sleep=self.clock.sleep, interval=poll_interval, on_progress=on_progress)
        self.invalidate()
        return status

    def job(self, job_id: str) -> JobStatus:
        if self.mode == "direct":
            raise ConfigError("Publish jobs live on the Jupyter server; direct-mode publishes run in-process")
        return JobStatus.from_json(self.transport.job(job_id))

    def analytics(self, days: int = 7) -> pd.DataFrame:
        """Per day and dataset: total_requests, unique_users, success_rate_percent, bytes_served."""
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            raise ConfigError(f"days must be a positive whole number, got {days!r}")
        if self.mode == "direct":
            raise ConfigError(
                "Access analytics come from the Jupyter server's access log: connect through the server (SCOUT_API_URL)"
            )
        return pd.DataFrame(self.transport.analytics(days))

    def access_report(self, days: int = 7) -> dict[str, Any]:
        """The whole analytics answer: ``rows`` (per day and dataset) plus ``outcomes`` (per day:
        ok / denied / rate_limited / error), ``top_users`` and ``durations`` (p50/p95 per dataset)."""
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            raise ConfigError(f"days must be a positive whole number, got {days!r}")
        if self.mode == "direct":
            raise ConfigError(
                "Access analytics come from the Jupyter server's access log: connect through the server (SCOUT_API_URL)"
            )
        return self.transport.analytics_report(days)

    def browse(self) -> pd.DataFrame:
        """The catalogue with freshness (the notebook widgets render it richer)."""
        return self.datasets()

    def close(self) -> None:
        self.cache.keeper.close()
        self.transport.close()


__all__ = ["Client", "OfflineWarning"]
