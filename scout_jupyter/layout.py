"""Dataset ids and where things live in a store: ``<ns>/<layer>/<name>/<name>_<date>.csv`` and
``<ns>/manifests/`` (``latest.json`` and the immutable snapshots)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime

from .errors import InvalidDatasetId

LAYERS = ("gold", "platinum")
DATASET_ID_RE = re.compile(r"^(gold|platinum)/[a-z0-9_]{1,64}$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DEFAULT_NAMESPACE = "scout/v1"


def _printable(value: object, limit: int = 80) -> str:
    """A safe rendering of untrusted input for messages (no control chars, bounded)."""
    text = value if isinstance(value, str) else repr(value)
    text = text[:limit] + ("…" if len(text) > limit else "")
    return text.encode("unicode_escape").decode("ascii")


def validate_dataset_id(value: object) -> str:
    """Return ``value`` if it is a well-formed dataset id (``gold/txn_daily``), else raise
    :class:`InvalidDatasetId`. Says nothing about whether the dataset exists."""
    if not isinstance(value, str) or not value:
        raise InvalidDatasetId("A dataset id is required, like gold/txn_daily")
    if len(value) > 200:
        raise InvalidDatasetId(f"Dataset id is too long ({len(value)} characters)")
    if unicodedata.normalize("NFC", value) != value or not value.isascii() or not DATASET_ID_RE.fullmatch(value):
        raise InvalidDatasetId(
            f"Invalid dataset id {_printable(value)!s}: expected <gold|platinum>/<name> with "
            "lower-case letters, digits and underscores"
        )
    return value


def split_dataset_id(dataset_id: str) -> tuple[str, str]:
    layer, _, name = validate_dataset_id(dataset_id).partition("/")
    return layer, name


def dataset_key(dataset_id: str, date: str, ext: str = "csv", namespace: str = DEFAULT_NAMESPACE) -> str:
    """``scout/v1/gold/txn_daily/txn_daily_2024-08-10.csv``: the storage key of a data file."""
    layer, name = split_dataset_id(dataset_id)
    if not DATE_RE.fullmatch(date):
        raise ValueError(f"Bad date {date!r}")
    return f"{namespace}/{layer}/{name}/{name}_{date}.{ext}"


def latest_manifest_key(namespace: str = DEFAULT_NAMESPACE) -> str:
    return f"{namespace}/manifests/latest.json"


def snapshot_manifest_key(when: datetime, namespace: str = DEFAULT_NAMESPACE) -> str:
    """``scout/v1/manifests/2024-08-10T021500Z.json``: the immutable snapshot of one publish.
    A second publish within the same second writes ``…T021500Z.2.json`` (then ``.3`` …)."""
    return f"{namespace}/manifests/{when.strftime('%Y-%m-%dT%H%M%SZ')}.json"


SNAPSHOT_NAME_RE = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{6}Z)(?:\.([2-9]|[1-9]\d+))?\.json")


def snapshot_order(key: str) -> tuple[str, int] | None:
    """Sort key of a snapshot's key or file name (time, then the same-second counter);
    None for anything that is not a snapshot (``latest.json``, lock files …)."""
    match = SNAPSHOT_NAME_RE.fullmatch(key.rsplit("/", 1)[-1])
    return (match.group(1), int(match.group(2) or 1)) if match else None


def snapshots_newest_first(keys: Iterable[str]) -> list[str]:
    """The snapshot keys among ``keys``, newest first."""
    found = [(order, key) for key in keys if (order := snapshot_order(key)) is not None]
    return [key for _, key in sorted(found, reverse=True)]
