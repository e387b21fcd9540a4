"""The demo record: where ``scout demo`` built the warehouse a local store was published from.

``scout demo --store FOLDER`` writes ``FOLDER/scout-demo.json`` (beside the published namespace
``scout/v1``, never inside it, so no dataset route can serve it) naming the warehouse and the
definitions it published. A Jupyter server (or ``scout publish``) with no definitions of its own
reads it to re-publish the demo, whichever folder it was started from.

Only local (``file://``) stores get a record: it names files on this machine, which mean nothing
to another one, and a record in a shared bucket must not decide what a server runs.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ObjectNotFound
from ..storage.base import Storage

RECORD_KEY = "scout-demo.json"
RECORD_KIND = "scout-demo"


@dataclass(frozen=True)
class DemoRecord:
    """The warehouse and definitions ``scout demo`` published a store from (absolute paths)."""

    warehouse: str
    definitions: str
    seed: int
    scale: float

    def to_json(self) -> dict[str, Any]:
        return {"kind": RECORD_KIND, "version": 1, **asdict(self)}

    @classmethod
    def from_json(cls, data: Any, where: str) -> DemoRecord:
        if not isinstance(data, dict) or data.get("kind") != RECORD_KIND:
            raise ConfigError(f"{where} is not a scout demo record")
        try:
            record = cls(
                warehouse=str(data["warehouse"]),
                definitions=str(data["definitions"]),
                seed=int(data["seed"]),
                scale=float(data["scale"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{where} is not a valid scout demo record ({type(exc).__name__}: {exc})") from None
        if not (os.path.isabs(record.warehouse) and os.path.isabs(record.definitions)):
            raise ConfigError(f"{where} must name the warehouse and definitions by absolute paths")
        return record

    def source_url(self) -> str:
        return f"sqlite:///{self.warehouse}"

    def missing(self) -> str | None:
        """What of the record is gone from this machine, or None when both files are there."""
        for label, path in (("warehouse", self.warehouse), ("definitions", self.definitions)):
            if not Path(path).is_file():
                return f"the demo {label} {path} it names is missing"
        return None


def _is_local(storage: Storage) -> bool:
    return storage.url.startswith("file:")


def record_location(storage: Storage) -> str:
    return f"{storage.url.rstrip('/')}/{RECORD_KEY}"


def write_demo_record(storage: Storage, record: DemoRecord) -> bool:
    """Write ``record`` beside a local store's namespace; False (nothing written) for other stores."""
    if not _is_local(storage):
        return False
    storage.write(RECORD_KEY, (json.dumps(record.to_json(), indent=2) + "\n").encode())
    return True


def read_demo_record(storage: Storage) -> DemoRecord | None:
    """The local store's demo record, or None when it has none (or is not local)."""
    if not _is_local(storage):
        return None
    try:
        raw = storage.read_bytes(RECORD_KEY)
    except ObjectNotFound:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        raise ConfigError(f"{record_location(storage)} is not valid JSON: run `scout demo` again") from None
    return DemoRecord.from_json(data, record_location(storage))


def recorded_demo_config(storage: Storage):
    """The publish config of the store's demo record (its definitions over its warehouse), or
    None when the store has no record. A record whose files are gone is a ConfigError."""
    record = read_demo_record(storage)
    if record is None:
        return None
    problem = record.missing()
    if problem:
        raise ConfigError(f"{record_location(storage)}: {problem}; run `scout demo` again")
    from ..publish import load_config

    return load_config(record.definitions, source_url=record.source_url())
