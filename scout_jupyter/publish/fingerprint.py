"""Source fingerprints: skip re-running a dataset's query when nothing it depends on changed.

Re-publishing unchanged data must upload nothing (the sha256 comparison guarantees that), but
finding out that the data is unchanged normally means running the query again. For a source
whose state can be hashed cheaply, a file-based SQLite database, the publisher keeps a digest of
everything the exported bytes depend on:

* the database file's bytes (and its ``-wal`` file, if any),
* the query text, or the callable's name and its module's source file,
* ``guard_csv_formulas``, and the source of the modules that read and format the files (csvio,
  schema, arrowconv, export, arrow_source, arrow_export) with the package version,
* the SQL engines that may run the query: the ``sqlite3`` module's SQLite and the ADBC SQLite
  driver (which bundles its own SQLite). Their results can differ (SQLite 3.40's ``round(37.125,
  2)`` is 37.12, 3.53's is 37.13), so a change of engine exports again and any change of bytes
  becomes a new version, never a reused entry of the other engine's bytes.

The digests live in a small publisher state object beside the data, ``<namespace>/.publish/
state.json`` (``{"datasets": {id: {"fingerprint", "sha256"}}}``), not in the manifest, so the
manifest changes only when data does. When a dataset's digest equals the recorded one, the
recorded sha256 is still its manifest entry's and the entry's files are still in the store, the
dataset is not exported again. Anything else (a server database, a materialized dataset,
``force=True``, a lost state object) just runs the query: the state is an optimization only.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa

from .. import __version__
from .config import DatasetDefinition

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
STATE_VERSION = 1


def state_key(namespace: str) -> str:
    return f"{namespace}/.publish/state.json"


def read_state(storage, namespace: str, retry) -> dict[str, dict[str, str]]:
    """The recorded ``{dataset id: {"fingerprint", "sha256"}}``; empty when missing or unreadable."""
    from ..errors import ObjectNotFound, ScoutError
    from ..storage.retry import TransientError

    key = state_key(namespace)
    try:
        raw = retry.call(lambda: storage.read_bytes(key), describe=f"read of {key}")
        datasets = json.loads(raw.decode("utf-8"))["datasets"]
        return {k: {"fingerprint": str(v["fingerprint"]), "sha256": str(v["sha256"])} for k, v in datasets.items()}
    except ObjectNotFound:
        return {}
    except (ScoutError, TransientError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("Ignoring the publisher state %s: %s", key, exc)
        return {}


def write_state(storage, namespace: str, state: dict[str, dict[str, str]], retry) -> None:
    """Record the fingerprints (best effort: a failure only costs a re-export next time)."""
    from ..errors import ScoutError

    key = state_key(namespace)
    data = json.dumps(
        {"version": STATE_VERSION, "datasets": dict(sorted(state.items()))}, indent=1, sort_keys=True
    ).encode("utf-8")
    try:
        retry.call(lambda: storage.write(key, data, content_type="application/json"), describe=f"write of {key}")
    except ScoutError as exc:
        log.warning("Could not record the publisher state %s: %s", key, exc.message)


def _file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def source_digest(url: str) -> str | None:
    """A digest of a SQLite database file's current bytes; None for any other source."""
    parsed = sa.engine.make_url(url)
    database = parsed.database
    if (
        parsed.get_backend_name() != "sqlite"
        or not database
        or database == ":memory:"
        or database.startswith("file:")
        or not os.path.isfile(database)
    ):
        return None
    parts = [_file_sha256(database)]
    wal = database + "-wal"
    if os.path.isfile(wal) and os.path.getsize(wal) > 0:
        parts.append(_file_sha256(wal))
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


@lru_cache(maxsize=1)
def code_digest() -> str:
    """The package version and the source of the modules that decide the exported bytes."""
    from .. import arrowconv, csvio, schema
    from . import arrow_export, arrow_source, export

    files = [
        Path(m.__file__)
        for m in (csvio, schema, arrowconv, export, arrow_source, arrow_export)
        if m.__file__ is not None
    ]  # always set: these are modules loaded from files
    parts = [__version__, arrow_source.engine_versions(), *(_file_sha256(f) for f in files)]
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


def _module_digest(target: str) -> str | None:
    module = target.partition(":")[0]
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    origin = spec.origin if spec else None
    return _file_sha256(origin) if origin and os.path.isfile(origin) else None


def dataset_fingerprint(
    definition: DatasetDefinition, source: str | None, *, guard_csv_formulas: bool, reader: str = "auto"
) -> str | None:
    """The dataset's fingerprint over ``source`` (a :func:`source_digest`), or None when it
    cannot be trusted to stand for the data."""
    if source is None or definition.materialize:
        return None
    parts = {
        "source": source,
        "query": definition.query,
        "callable": definition.callable,
        "guard_csv_formulas": guard_csv_formulas,
        "code": code_digest(),
        "reader": reader,
    }
    if definition.callable is not None:
        parts["callable_source"] = _module_digest(definition.callable)
        if parts["callable_source"] is None:
            return None
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
