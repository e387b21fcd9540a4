"""The publish pipeline: every dataset exported, uploaded and verified; the manifest written last.

For each dataset, in the config's order: ``export`` (stream the query into CSV + Parquet in a
work folder, see :mod:`.export`), optional ``materialize`` (staging-table swap in the source),
then for each namespace ``upload`` + ``verify`` (see :mod:`.upload`). A dataset whose CSV and
Parquet bytes equal the previous manifest entry's (and whose files are still in the store)
keeps that entry exactly: nothing is uploaded, ``last_modified`` and ``schema_version`` stay.
Otherwise the entry is new and ``schema_version`` is bumped from the previous one by
:func:`~scout_jupyter.schema.compare_schemas` (patch: data only; minor: columns added; major:
removed/renamed/retyped); a new dataset starts at 1.0.0.

A failing dataset (query error, upload error, checksum mismatch, …) is reported in its
:class:`DatasetResult` and the others go on; the manifest keeps its previous entry (or has
none). When every dataset is done, each namespace whose entries changed gets its snapshot
``manifests/<ts>.json`` and then ``latest.json``; when nothing changed neither is rewritten.
The whole run holds the publish lock of every namespace (:mod:`.lock`), heartbeating as it goes.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import tempfile
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..clock import SYSTEM_CLOCK, Clock, isoformat_z
from ..errors import ConfigError, PublishInProgress, ScoutError
from ..manifest import DatasetEntry, Manifest, latest_manifest_key
from ..schema import TableSchema, bump_version, compare_schemas
from ..storage.base import Storage
from ..storage.retry import RetryPolicy
from .config import DatasetDefinition, PublishConfig
from .export import ExportedDataset, describe_error, export_dataset, unwrap_error
from .fingerprint import dataset_fingerprint, read_state, source_digest, write_state
from .lock import DEFAULT_STALE_AFTER, PublishLock
from .manifest_io import read_previous_manifest, write_manifest
from .progress import ProgressCallback, ProgressEvent
from .results import DatasetResult, PublishResult
from .staging import materialize
from .upload import LocalFile, Uploader

log = logging.getLogger(__name__)

FIRST_VERSION = "1.0.0"


def publish(
    config: PublishConfig,
    storage: Storage,
    *,
    datasets: Iterable[str] | None = None,
    clock: Clock | None = None,
    on_progress: ProgressCallback | None = None,
    retry: RetryPolicy | None = None,
    workdir: str | os.PathLike | None = None,
    force: bool = False,
    lock_stale_after: float = DEFAULT_STALE_AFTER,
) -> PublishResult:
    """Publish ``datasets`` (ids; all of the config's when None) into ``storage``.

    ``force`` re-runs every query even when the source's fingerprint says nothing changed
    (see :mod:`.fingerprint`); unchanged bytes are still not uploaded again.

    Raises PublishInProgress when another publish holds a namespace's lock, ConfigError for a
    bad selection or source, and StorageUnavailable/ManifestInvalid when the manifest cannot be
    read or written; per-dataset failures are in the result instead."""
    clock = clock or SYSTEM_CLOCK
    retry = retry or RetryPolicy(sleep=clock.sleep)
    definitions = config.select(datasets)
    with ExitStack() as stack:
        locks = []
        for namespace in config.namespaces:
            lock = PublishLock(storage, namespace, clock=clock, retry=retry, stale_after=lock_stale_after)
            stack.enter_context(lock)
            locks.append(lock)
        if workdir is None:
            workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="scout-publish-"))
        engine = open_source(config.source_url)
        stack.callback(engine.dispose)
        run = _PublishRun(config, storage, engine, Path(workdir), clock, retry, locks, on_progress)
        run.source = None if force else source_digest(config.source_url)
        stack.enter_context(_HeartbeatThread(run))
        return run.execute(definitions)


class _HeartbeatThread(threading.Thread):
    """Keeps the locks' heartbeats fresh while a long query runs between progress events; a
    lock found taken over is reported to the run, whose next event then stops the publish."""

    def __init__(self, run: _PublishRun, every: float = 10.0):
        super().__init__(name="scout-publish-heartbeat", daemon=True)
        self.run_, self.every, self.stop = run, every, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.every):
            try:
                self.run_.heartbeat()
            except PublishInProgress as exc:
                self.run_.lost = exc
                return
            except Exception as exc:  # noqa: BLE001 - a failed heartbeat is retried on the next beat
                log.warning("Publish lock heartbeat failed: %s", exc)

    def __enter__(self) -> _HeartbeatThread:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.join()


def open_source(url: str) -> Engine:
    """The source database's engine; a missing SQLite file is a ConfigError, not a new empty file."""
    try:
        parsed = sa.engine.make_url(url)
        database = parsed.database
        if (
            parsed.get_backend_name() == "sqlite"
            and database
            and database != ":memory:"
            and not database.startswith("file:")
            and not os.path.exists(database)
        ):
            raise ConfigError(f"Source database not found: {database}")
        return sa.create_engine(parsed)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
        raise ConfigError(f"Cannot open the source database: {exc}") from None


@dataclass
class _Prepared:
    fingerprint: str | None
    exported: ExportedDataset | None = None
    result: DatasetResult | None = None  # already decided: reused or failed


@dataclass
class _Outcome:
    entries: dict[str, DatasetEntry]  # namespace → the entry the manifest should hold
    bytes_uploaded: int


class _PublishRun:
    def __init__(
        self,
        config: PublishConfig,
        storage: Storage,
        engine: Engine,
        workdir: Path,
        clock: Clock,
        retry: RetryPolicy,
        locks: list[PublishLock],
        on_progress: ProgressCallback | None,
    ):
        self.config, self.storage, self.engine, self.workdir = config, storage, engine, workdir
        self.clock, self.retry, self.locks, self.on_progress = clock, retry, locks, on_progress
        self.started: datetime = clock.now()
        self.date = self.started.strftime("%Y-%m-%d")
        self.uploader = Uploader(storage, retry, self.emit)
        self.previous: dict[str, Manifest | None] = {
            ns: read_previous_manifest(storage, ns, retry) for ns in config.namespaces
        }
        self.entries: dict[str, list[DatasetEntry]] = {ns: [] for ns in config.namespaces}
        self.source: str | None = None  # the source's digest, when it can be fingerprinted
        self.state = {ns: read_state(storage, ns, retry) for ns in config.namespaces}
        self._state_before = {ns: dict(v) for ns, v in self.state.items()}
        self._emit_lock = threading.RLock()
        self.lost: PublishInProgress | None = None  # set when a heartbeat found the lock taken over

    def heartbeat(self, *, force: bool = False) -> None:
        """Refresh every lock (throttled); PublishInProgress if one was broken: stop everything."""
        with self._emit_lock:
            if self.lost is not None:
                raise self.lost
            for lock in self.locks:
                lock.heartbeat(force=force)

    def emit(self, event: ProgressEvent) -> None:
        """Report progress (serialized: exports emit from worker threads) and heartbeat the locks."""
        with self._emit_lock:
            self.heartbeat()
            if self.on_progress is not None:
                try:
                    self.on_progress(event)
                except Exception:  # a broken progress display must not break the publish
                    log.exception("Progress callback failed on %s", event)

    # --- the run -------------------------------------------------------------------------
    def execute(self, definitions: Iterable[DatasetDefinition]) -> PublishResult:
        definitions = list(definitions)
        # Exports run ahead on worker threads (the database and pandas/pyarrow release the GIL);
        # uploads, verification and the manifest stay in order on this thread. Materializing
        # writes to the source, so a config that materializes exports one dataset at a time.
        workers = 1 if any(d.materialize for d in definitions) else min(self.config.workers, len(definitions))
        with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="scout-export") as pool:
            futures = [pool.submit(self.prepare, d) for d in definitions]
            try:
                results = tuple(self.finish(d, f.result()) for d, f in zip(definitions, futures, strict=True))
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
        snapshots, changed, generated_at = self.write_manifests()
        for namespace, state in self.state.items():
            if state != self._state_before[namespace]:
                write_state(self.storage, namespace, state, self.retry)  # after the manifest: it refers to it
        return PublishResult(
            manifest="/" + latest_manifest_key(self.config.namespaces[0]),
            datasets=results,
            manifest_changed=changed,
            snapshots=snapshots,
            generated_at=generated_at,
        )

    def prepare(self, definition: DatasetDefinition) -> _Prepared:
        """Stage 1 (any thread): reuse by fingerprint, or export to the work folder."""
        fingerprint = dataset_fingerprint(
            definition, self.source, guard_csv_formulas=self.config.guard_csv_formulas, reader=self.config.reader
        )
        try:
            reused = self.reuse_by_fingerprint(definition, fingerprint)
            if reused is not None:
                return _Prepared(fingerprint, result=reused)
            self.emit(ProgressEvent(definition.id, "export", "started"))
            exported = export_dataset(
                self.engine,
                definition,
                self.workdir,
                chunk_size=self.config.chunk_size,
                guard_csv_formulas=self.config.guard_csv_formulas,
                emit=self.emit,
                reader=self.config.reader,
            )
            self.emit(
                ProgressEvent(definition.id, "export", "done", exported.files.size_bytes, exported.files.size_bytes)
            )
            return _Prepared(fingerprint, exported=exported)
        except PublishInProgress:
            raise
        except Exception as exc:  # noqa: BLE001 - a dataset's failure (its query, its callable, the store) is reported
            return _Prepared(fingerprint, result=self.failed(definition, "export", exc))

    def finish(self, definition: DatasetDefinition, prepared: _Prepared) -> DatasetResult:
        """Stage 2 (in order, this thread): materialize, upload, verify; the entries to write."""
        if prepared.result is not None:
            return prepared.result
        exported = prepared.exported
        if exported is None:
            raise RuntimeError(f"{definition.id} was prepared with neither a result nor an export")
        step = "upload"
        try:
            if definition.materialize:
                step = "materialize"
                self.materialize(definition, definition.materialize, exported)
                step = "upload"
            outcome = self.place(definition, exported, prepared.fingerprint)
        except PublishInProgress:
            raise
        except Exception as exc:  # noqa: BLE001 - reported per dataset, the others go on
            return self.failed(definition, step, exc)
        finally:
            exported.remove()
        state = "unchanged"
        for namespace, entry in outcome.entries.items():
            if self._previous_entry(namespace, definition.id) != entry:
                self.entries[namespace].append(entry)
                state = "published"
        first = outcome.entries[self.config.namespaces[0]]
        return DatasetResult(
            id=definition.id,
            state=state,
            uploaded=outcome.bytes_uploaded > 0,
            bytes_uploaded=outcome.bytes_uploaded,
            row_count=exported.row_count,
            sha256=exported.sha256,
            schema_version=first.schema_version,
            latest_csv=first.latest_csv,
        )

    def failed(self, definition: DatasetDefinition, step: str, exc: BaseException) -> DatasetResult:
        message = describe_error(exc)
        if isinstance(unwrap_error(exc), (ScoutError, sa.exc.SQLAlchemyError, sqlite3.Error)):
            log.error("Publishing %s failed at %s: %s", definition.id, step, message)
        else:
            log.exception("Publishing %s failed at %s", definition.id, step)
        self.emit(ProgressEvent(definition.id, step, "failed", error=message))
        return DatasetResult(id=definition.id, state="failed", error=message)

    def materialize(self, definition: DatasetDefinition, table: str, exported: ExportedDataset) -> None:
        self.emit(ProgressEvent(definition.id, "materialize", "started"))
        rows = materialize(self.engine, table, exported.schema, exported.chunks())
        log.info("Materialized %s into table %s (%d rows)", definition.id, table, rows)
        self.emit(ProgressEvent(definition.id, "materialize", "done"))

    # --- one dataset into every namespace ---------------------------------------------------
    def reuse_by_fingerprint(self, definition: DatasetDefinition, fingerprint: str | None) -> DatasetResult | None:
        """The result of keeping every namespace's entry when the source is provably unchanged."""
        if fingerprint is None:
            return None
        found = [self._previous_entry(ns, definition.id) for ns in self.config.namespaces]
        previous = [p for p in found if p is not None]
        recorded = [self.state[ns].get(definition.id) for ns in self.config.namespaces]
        if len(previous) < len(found) or any(
            r != {"fingerprint": fingerprint, "sha256": p.sha256}
            or p.description != definition.description
            or p.update_frequency != definition.update_frequency
            for p, r in zip(previous, recorded, strict=True)
        ):
            return None
        if not all(self._still_stored(p) for p in previous):
            return None
        for step in ("export", "upload", "verify"):
            self.emit(ProgressEvent(definition.id, step, "skipped"))
        first = previous[0]
        return DatasetResult(
            id=definition.id,
            state="unchanged",
            row_count=first.row_count,
            sha256=first.sha256,
            schema_version=first.schema_version,
            latest_csv=first.latest_csv,
        )

    def place(self, definition: DatasetDefinition, exported: ExportedDataset, fingerprint: str | None) -> _Outcome:
        written = exported.files
        if written.parquet_sha256 is None or written.parquet_size_bytes is None:
            raise RuntimeError(f"the export of {definition.id} wrote no Parquet file")
        files = [
            LocalFile(exported.csv_path, written.sha256, written.size_bytes, "csv"),
            LocalFile(exported.parquet_path, written.parquet_sha256, written.parquet_size_bytes, "parquet"),
        ]
        entries, sent = {}, 0
        for namespace in self.config.namespaces:
            previous = self._previous_entry(namespace, definition.id)
            kept = self.keep_previous(definition, exported, previous)
            if kept is not None:
                entries[namespace] = kept
                self._record(namespace, definition.id, fingerprint, kept)
                continue
            placed = self.uploader.place(definition.id, self.date, namespace, files)
            sent += sum(p.bytes_uploaded for p in placed)
            entries[namespace] = self.new_entry(definition, exported, previous, placed[0].key, placed[1].key)
            self._record(namespace, definition.id, fingerprint, entries[namespace])
        return _Outcome(entries, sent)

    def _record(self, namespace: str, dataset_id: str, fingerprint: str | None, entry: DatasetEntry) -> None:
        if fingerprint is None:
            self.state[namespace].pop(dataset_id, None)
        else:
            self.state[namespace][dataset_id] = {"fingerprint": fingerprint, "sha256": entry.sha256}

    def keep_previous(
        self, definition: DatasetDefinition, exported: ExportedDataset, previous: DatasetEntry | None
    ) -> DatasetEntry | None:
        """The previous entry (metadata refreshed) when its files hold exactly these bytes."""
        files = exported.files
        if previous is None or previous.sha256 != files.sha256 or previous.parquet_sha256 != files.parquet_sha256:
            return None
        if not self._still_stored(previous):
            log.warning("%s: the files of the previous entry are gone or changed; uploading again", definition.id)
            return None
        self.emit(ProgressEvent(definition.id, "upload", "skipped", 0, files.size_bytes))
        self.emit(ProgressEvent(definition.id, "verify", "skipped"))
        schema = exported.schema.to_json()
        version = previous.schema_version
        if previous.schema is not None and dict(previous.schema) != schema:
            version = bump_version(version, compare_schemas(TableSchema.from_json(previous.schema), exported.schema))
        return replace(
            previous,
            description=definition.description,
            update_frequency=definition.update_frequency,
            schema=schema,
            schema_version=version,
        )

    def _still_stored(self, entry: DatasetEntry) -> bool:
        expected: list[tuple[str, int | None]] = [(entry.csv_key, entry.size_bytes)]
        if entry.parquet_key:
            expected.append((entry.parquet_key, entry.parquet_size_bytes))
        return all(self.uploader.stored_size(key) == size for key, size in expected)

    def new_entry(
        self,
        definition: DatasetDefinition,
        exported: ExportedDataset,
        previous: DatasetEntry | None,
        csv_key: str,
        parquet_key: str,
    ) -> DatasetEntry:
        files = exported.files
        return DatasetEntry(
            id=definition.id,
            latest_csv="/" + csv_key,
            date=self.date,
            row_count=files.row_count,
            sha256=files.sha256,
            size_bytes=files.size_bytes,
            last_modified=isoformat_z(self.started),
            content_type="text/csv",
            schema_version=next_schema_version(previous, exported.schema),
            description=definition.description,
            update_frequency=definition.update_frequency,
            schema=exported.schema.to_json(),
            latest_parquet="/" + parquet_key,
            parquet_sha256=files.parquet_sha256,
            parquet_size_bytes=files.parquet_size_bytes,
        )

    def _previous_entry(self, namespace: str, dataset_id: str) -> DatasetEntry | None:
        manifest = self.previous[namespace]
        return manifest.datasets.get(dataset_id) if manifest is not None else None

    # --- the manifests, last ---------------------------------------------------------------
    def write_manifests(self) -> tuple[tuple[str, ...], bool, str | None]:
        snapshots, generated_at = [], None
        changed = any(self.entries.values())
        if not changed:
            self.emit(ProgressEvent(None, "manifest", "skipped"))
            return (), False, None
        self.emit(ProgressEvent(None, "manifest", "started"))
        self.heartbeat(force=True)  # still ours? a broken lock must not be followed by a manifest
        now = self.clock.now()
        try:
            for namespace, entries in self.entries.items():
                if not entries:
                    continue
                previous = self.previous[namespace]
                manifest = (
                    previous.with_entries(entries, clock=self.clock)
                    if previous is not None
                    else Manifest.build(entries, clock=self.clock)
                )
                snapshots.append("/" + write_manifest(self.storage, namespace, manifest, now, self.retry))
                generated_at = manifest.generated_at
        except Exception as exc:
            self.emit(ProgressEvent(None, "manifest", "failed", error=describe_error(exc)))
            raise
        self.emit(ProgressEvent(None, "manifest", "done"))
        return tuple(snapshots), True, generated_at


def next_schema_version(previous: DatasetEntry | None, schema: TableSchema) -> str:
    """1.0.0 for a new dataset; else the previous version bumped by what changed (patch at least,
    since the data did)."""
    if previous is None:
        return FIRST_VERSION
    if previous.schema is None:
        return bump_version(previous.schema_version, "patch")
    return bump_version(previous.schema_version, compare_schemas(TableSchema.from_json(previous.schema), schema))
