"""The manifest (``latest.json``): the original format, its extensions, validation, freshness.

One :class:`Manifest` holds :class:`DatasetEntry` objects keyed by dataset id. ``from_json`` /
``from_bytes`` validate and name the problem; ``to_json`` / ``to_bytes`` write the exact format
of DESIGN.md, so a manifest written here reads back equal. Unknown fields are kept, so a newer
publisher's fields survive a read-modify-write by this one.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from .clock import SYSTEM_CLOCK, Clock, isoformat_z, parse_timestamp
from .errors import DatasetNotFound, InvalidDatasetId, ManifestInvalid
from .layout import (  # noqa: F401 (re-exported)
    DATASET_ID_RE,
    DATE_RE,
    DEFAULT_NAMESPACE,
    LAYERS,
    SNAPSHOT_NAME_RE,
    _printable,
    dataset_key,
    latest_manifest_key,
    snapshot_manifest_key,
    snapshot_order,
    snapshots_newest_first,
    split_dataset_id,
    validate_dataset_id,
)

log = logging.getLogger(__name__)

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
SEMVER_RE = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
INTEGRITY_METHOD = "canonical-datasets-v1"
MANIFEST_FORMAT_VERSION = "1.0.0"

#: Update periods; a month counts as 30 days.
FREQUENCIES: Mapping[str, timedelta] = MappingProxyType(
    {
        "hourly": timedelta(hours=1),
        "daily": timedelta(days=1),
        "weekly": timedelta(days=7),
        "monthly": timedelta(days=30),
    }
)
FRESHNESS_STATES = ("fresh", "stale", "overdue", "unknown")

ENTRY_REQUIRED = (
    "latest_csv",
    "date",
    "row_count",
    "sha256",
    "size_bytes",
    "content_type",
    "schema_version",
    "last_modified",
    "description",
)
ENTRY_OPTIONAL = ("update_frequency", "schema", "latest_parquet", "parquet_sha256", "parquet_size_bytes")
TOP_REQUIRED = ("generated_at", "version", "total_datasets", "datasets")


# --- freshness --------------------------------------------------------------------------------
def freshness(last_modified: str | datetime | None, update_frequency: str | None, now: datetime | None = None) -> str:
    """``fresh`` when age ≤ 1.5 periods, ``stale`` ≤ 3, ``overdue`` beyond; ``unknown`` without
    the fields. The one function the server, widgets, magic and sidebar all use."""
    period = FREQUENCIES.get(update_frequency or "")
    if period is None or not last_modified:
        return "unknown"
    try:
        when = parse_timestamp(last_modified) if isinstance(last_modified, str) else last_modified
    except ValueError:
        return "unknown"
    age = (now or SYSTEM_CLOCK.now()) - when
    if age <= period * 1.5:
        return "fresh"
    if age <= period * 3:
        return "stale"
    return "overdue"


# --- entries ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class DatasetEntry:
    id: str
    latest_csv: str
    date: str
    row_count: int
    sha256: str
    size_bytes: int
    last_modified: str
    content_type: str = "text/csv"
    schema_version: str = "1.0.0"
    description: str = ""
    update_frequency: str | None = None
    schema: Mapping[str, Any] | None = None
    latest_parquet: str | None = None
    parquet_sha256: str | None = None
    parquet_size_bytes: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def layer(self) -> str:
        return self.id.partition("/")[0]

    @property
    def name(self) -> str:
        return self.id.partition("/")[2]

    @property
    def csv_key(self) -> str:
        from .storage.base import key_from_manifest_path

        return key_from_manifest_path(self.latest_csv)

    @property
    def parquet_key(self) -> str | None:
        from .storage.base import key_from_manifest_path

        return key_from_manifest_path(self.latest_parquet) if self.latest_parquet else None

    @property
    def last_modified_at(self) -> datetime:
        return parse_timestamp(self.last_modified)

    def freshness(self, now: datetime | None = None) -> str:
        return freshness(self.last_modified, self.update_frequency, now)

    @classmethod
    def from_json(cls, dataset_id: str, obj: Any) -> DatasetEntry:
        where = f"dataset {_printable(dataset_id)}"
        try:
            validate_dataset_id(dataset_id)
        except InvalidDatasetId as exc:
            raise ManifestInvalid(f"Manifest has an invalid dataset id: {exc.message}") from None
        if not isinstance(obj, dict):
            raise ManifestInvalid(f"Manifest {where} is not an object")
        missing = [name for name in ENTRY_REQUIRED if name not in obj]
        if missing:
            raise ManifestInvalid(f"Manifest {where} is missing field(s): {', '.join(missing)}")
        _check_str(obj, "latest_csv", where)
        _check_manifest_path(obj["latest_csv"], where, "latest_csv")
        _check_str(obj, "date", where)
        if not DATE_RE.fullmatch(obj["date"]):
            raise ManifestInvalid(f"Manifest {where} has a malformed date: {_printable(obj['date'])}")
        _check_count(obj, "row_count", where)
        _check_count(obj, "size_bytes", where)
        _check_sha(obj, "sha256", where)
        for name in ("content_type", "schema_version", "last_modified", "description"):
            _check_str(obj, name, where)
        if not SEMVER_RE.fullmatch(obj["schema_version"]):
            raise ManifestInvalid(
                f"Manifest {where} has a malformed schema_version: {_printable(obj['schema_version'])}"
            )
        try:
            parse_timestamp(obj["last_modified"])
        except ValueError:
            raise ManifestInvalid(
                f"Manifest {where} has a malformed last_modified: {_printable(obj['last_modified'])}"
            ) from None
        freq = obj.get("update_frequency")
        if freq is not None and freq not in FREQUENCIES:
            raise ManifestInvalid(f"Manifest {where} has an unknown update_frequency: {_printable(freq)}")
        schema = obj.get("schema")
        if schema is not None and not (isinstance(schema, dict) and isinstance(schema.get("fields"), list)):
            raise ManifestInvalid(f'Manifest {where} has a malformed schema (expected {{"fields": [...]}})')
        if obj.get("latest_parquet") is not None:
            _check_str(obj, "latest_parquet", where)
            _check_manifest_path(obj["latest_parquet"], where, "latest_parquet")
            _check_sha(obj, "parquet_sha256", where)
            _check_count(obj, "parquet_size_bytes", where)
        known = set(ENTRY_REQUIRED) | set(ENTRY_OPTIONAL)
        fields: dict[str, Any] = {name: obj[name] for name in ENTRY_REQUIRED}  # checked above
        fields.update({name: obj.get(name) for name in ENTRY_OPTIONAL})
        return cls(
            id=dataset_id,
            **fields,
            extra={k: v for k, v in obj.items() if k not in known},
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: getattr(self, name) for name in ENTRY_REQUIRED}
        for name in ENTRY_OPTIONAL:
            value = getattr(self, name)
            if value is not None:
                out[name] = _plain(value)
        out.update(_plain(self.extra))
        return out


def _plain(value: Any) -> Any:
    """MappingProxy/tuple → dict/list, recursively (for JSON)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _check_str(obj: dict, name: str, where: str) -> None:
    if not isinstance(obj.get(name), str):
        raise ManifestInvalid(f"Manifest {where} field {name} must be a string")


def _check_count(obj: dict, name: str, where: str) -> None:
    value = obj.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ManifestInvalid(f"Manifest {where} field {name} must be a non-negative integer")


def _check_sha(obj: dict, name: str, where: str) -> None:
    value = obj.get(name)
    if not isinstance(value, str) or not SHA256_RE.fullmatch(value):
        raise ManifestInvalid(f"Manifest {where} has a malformed {name} (expected 64 lower-case hex digits)")


def _check_manifest_path(path: str, where: str, name: str) -> None:
    from .errors import InvalidKey
    from .storage.base import key_from_manifest_path

    try:
        key_from_manifest_path(path)
    except InvalidKey:
        raise ManifestInvalid(f"Manifest {where} has an unsafe {name}: {_printable(path)}") from None


# --- the manifest -----------------------------------------------------------------------------
def canonical_datasets_bytes(datasets_json: Mapping[str, Any]) -> bytes:
    """The canonical JSON of the ``datasets`` object: keys sorted, no spaces, UTF-8."""
    return json.dumps(datasets_json, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(
        "utf-8"
    )


def compute_integrity(datasets_json: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "manifest_sha256": hashlib.sha256(canonical_datasets_bytes(datasets_json)).hexdigest(),
        "total_size_bytes": sum(int(e["size_bytes"]) for e in datasets_json.values()),
        "method": INTEGRITY_METHOD,
    }


@dataclass(frozen=True)
class Manifest:
    generated_at: str
    datasets: Mapping[str, DatasetEntry]
    version: str = MANIFEST_FORMAT_VERSION
    integrity: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    # construction
    @classmethod
    def build(
        cls,
        entries: list[DatasetEntry] | Mapping[str, DatasetEntry],
        *,
        generated_at: datetime | str | None = None,
        clock: Clock | None = None,
        version: str = MANIFEST_FORMAT_VERSION,
    ) -> Manifest:
        """A new manifest over ``entries`` with its integrity block computed."""
        items = entries.values() if isinstance(entries, Mapping) else entries
        by_id: dict[str, DatasetEntry] = {}
        for entry in items:
            if entry.id in by_id:
                raise ManifestInvalid(f"Duplicate dataset id in manifest: {entry.id}")
            by_id[entry.id] = entry
        ordered = {k: by_id[k] for k in sorted(by_id)}
        if generated_at is None:
            generated_at = (clock or SYSTEM_CLOCK).now()
        if isinstance(generated_at, datetime):
            generated_at = isoformat_z(generated_at)
        datasets_json = {k: v.to_json() for k, v in ordered.items()}
        return cls(
            generated_at=generated_at,
            datasets=MappingProxyType(ordered),
            version=version,
            integrity=MappingProxyType(compute_integrity(datasets_json)),
        )

    def with_entries(self, entries: list[DatasetEntry], *, clock: Clock | None = None) -> Manifest:
        """A new manifest: this one's datasets with ``entries`` added or replaced."""
        merged = dict(self.datasets)
        merged.update({e.id: e for e in entries})
        return Manifest.build(merged, clock=clock, version=self.version)

    # reading
    @classmethod
    def from_bytes(cls, data: bytes, source: str | None = None) -> Manifest:
        """Parse and validate ``latest.json`` (or a snapshot). ``source`` names where the bytes
        came from (a storage URL and key, a server route); a refusal says it."""
        try:
            return cls._from_bytes(data)
        except ManifestInvalid as exc:
            if source is None:
                raise
            raise ManifestInvalid(f"{exc.message} (in {source})") from None

    @classmethod
    def _from_bytes(cls, data: bytes) -> Manifest:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ManifestInvalid("Manifest is not valid UTF-8") from None
        try:
            obj = json.loads(text, object_pairs_hook=_no_duplicate_keys)
        except _DuplicateKey as exc:
            raise ManifestInvalid(f"Manifest has a duplicate key: {_printable(exc.args[0])}") from None
        except json.JSONDecodeError as exc:
            raise ManifestInvalid(
                f"Manifest is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
            ) from None
        return cls.from_json(obj)

    @classmethod
    def from_json(cls, obj: Any) -> Manifest:
        if not isinstance(obj, dict):
            raise ManifestInvalid("Manifest is not a JSON object")
        missing = [name for name in TOP_REQUIRED if name not in obj]
        if missing:
            raise ManifestInvalid(f"Manifest is missing field(s): {', '.join(missing)}")
        if not isinstance(obj["datasets"], dict):
            raise ManifestInvalid("Manifest field datasets must be an object")
        for name in ("generated_at", "version"):
            if not isinstance(obj[name], str):
                raise ManifestInvalid(f"Manifest field {name} must be a string")
        try:
            parse_timestamp(obj["generated_at"])
        except ValueError:
            raise ManifestInvalid(f"Manifest has a malformed generated_at: {_printable(obj['generated_at'])}") from None
        entries = {k: DatasetEntry.from_json(k, v) for k, v in sorted(obj["datasets"].items())}
        total = obj["total_datasets"]
        if isinstance(total, bool) or not isinstance(total, int) or total != len(entries):
            raise ManifestInvalid(
                f"Manifest total_datasets ({_printable(total)}) does not match its {len(entries)} datasets"
            )
        warnings = _check_integrity(obj.get("integrity"), obj["datasets"])
        for message in warnings:
            log.warning("%s", message)
        known = set(TOP_REQUIRED) | {"integrity"}
        return cls(
            generated_at=obj["generated_at"],
            datasets=MappingProxyType(entries),
            version=obj["version"],
            integrity=MappingProxyType(dict(obj.get("integrity") or {})),
            extra=MappingProxyType({k: v for k, v in obj.items() if k not in known}),
            warnings=tuple(warnings),
        )

    # writing
    def to_json(self) -> dict[str, Any]:
        out = {
            "generated_at": self.generated_at,
            "version": self.version,
            "total_datasets": len(self.datasets),
            "datasets": {k: v.to_json() for k, v in self.datasets.items()},
            "integrity": _plain(self.integrity),
        }
        out.update(_plain(self.extra))
        return out

    def to_bytes(self) -> bytes:
        return (json.dumps(self.to_json(), indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")

    # queries
    @property
    def total_datasets(self) -> int:
        return len(self.datasets)

    @property
    def manifest_sha256(self) -> str | None:
        return self.integrity.get("manifest_sha256")

    def __iter__(self) -> Iterator[DatasetEntry]:
        return iter(self.datasets.values())

    def __contains__(self, dataset_id: object) -> bool:
        return dataset_id in self.datasets

    def get(self, dataset_id: str) -> DatasetEntry:
        """The entry for ``dataset_id``; InvalidDatasetId when malformed, DatasetNotFound (with
        close matches as suggestions) when absent."""
        entry = self.datasets.get(dataset_id) if isinstance(dataset_id, str) else None
        if entry is not None:
            return entry
        validate_dataset_id(dataset_id)
        raise DatasetNotFound(dataset_id, self.suggest(dataset_id))

    def suggest(self, dataset_id: str, n: int = 2) -> list[str]:
        ids = list(self.datasets)
        close = difflib.get_close_matches(dataset_id, ids, n=n, cutoff=0.6)
        if not close:
            names = {e.name: e.id for e in self}
            close = [
                names[m] for m in difflib.get_close_matches(dataset_id.rpartition("/")[2], list(names), n=n, cutoff=0.6)
            ]
        return close

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Manifest) and self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash(self.manifest_sha256)

    def replace_entry(self, dataset_id: str, **changes: Any) -> Manifest:
        return self.with_entries([replace(self.get(dataset_id), **changes)])


class _DuplicateKey(ValueError):
    pass


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _check_integrity(integrity: Any, datasets_json: Mapping[str, Any]) -> list[str]:
    """Verify the integrity block; return warnings for what cannot be verified."""
    if integrity is None:
        return ["Manifest has no integrity block; its contents are not verified"]
    if not isinstance(integrity, dict):
        raise ManifestInvalid("Manifest field integrity must be an object")
    declared = integrity.get("manifest_sha256")
    total = integrity.get("total_size_bytes")
    expected_total = sum(int(e["size_bytes"]) for e in datasets_json.values())
    method = integrity.get("method")
    if method is None:
        # The original publisher's format: its manifest_sha256 follows no stated definition (its own
        # example is "def456..."), so it is opaque text. Warn; the datasets' sha256s still verify.
        notes = ["Manifest integrity has no method (original publisher format): manifest_sha256 was not verified"]
        if isinstance(total, int) and not isinstance(total, bool) and total != expected_total:
            notes.append(f"Manifest integrity total_size_bytes is {total}, the datasets add up to {expected_total}")
        return notes
    if method != INTEGRITY_METHOD:
        raise ManifestInvalid(f"Manifest integrity method {_printable(method)} is unknown")
    if not isinstance(declared, str) or not SHA256_RE.fullmatch(declared):
        raise ManifestInvalid("Manifest integrity has a malformed manifest_sha256 (expected 64 lower-case hex digits)")
    if isinstance(total, bool) or not isinstance(total, int):
        raise ManifestInvalid("Manifest integrity total_size_bytes must be an integer")
    if total != expected_total:
        raise ManifestInvalid(
            f"Manifest integrity check failed: total_size_bytes is {total}, the datasets add up to {expected_total}"
        )
    actual = hashlib.sha256(canonical_datasets_bytes(datasets_json)).hexdigest()
    if actual != declared:
        raise ManifestInvalid("Manifest integrity check failed: manifest_sha256 does not match its datasets")
    return []
