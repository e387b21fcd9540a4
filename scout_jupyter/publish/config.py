"""Publishing definitions: the TOML of DESIGN.md ("Publishing definitions") as frozen dataclasses.

```toml
[source]
url = "sqlite:///warehouse.sqlite"      # relative SQLite paths resolve against this file's folder

[publish]                               # optional
namespaces = ["scout/v1", "scout/v2"]   # dual publication; default ["scout/v1"]
guard_csv_formulas = false              # RELIABILITY.md row 27
chunk_size = 20000                      # rows per streamed chunk
workers = 2                             # datasets exported at the same time
reader = "auto"                         # "auto": ADBC where it can; "sqlalchemy": always SQLAlchemy

[[datasets]]
id = "gold/txn_daily"
description = "Daily transaction aggregates by store and region"
update_frequency = "daily"
query = "SELECT ..."                    # or: callable = "package.module:function"
materialize = "gold_txn_daily"          # optional staging-table swap in the source database
```

Every mistake is a :class:`ConfigError` naming the file and the entry.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from ..errors import ConfigError, InvalidDatasetId
from ..manifest import DEFAULT_NAMESPACE, FREQUENCIES, validate_dataset_id

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

DEFAULT_CHUNK_SIZE = 20_000
DEFAULT_WORKERS = 2
NAMESPACE_RE = re.compile(r"^[a-z0-9_-]+(/[a-z0-9_.-]+)*$")
TABLE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,50}$")
CALLABLE_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_DATASET_KEYS = {"id", "description", "update_frequency", "query", "callable", "materialize"}
_PUBLISH_KEYS = {"namespaces", "guard_csv_formulas", "chunk_size", "workers", "reader"}
READERS = ("auto", "sqlalchemy")


@dataclass(frozen=True)
class DatasetDefinition:
    """One dataset to publish: exactly one of ``query`` (SQL) and ``callable``
    (``"module:function"``, called with a SQLAlchemy Connection, returning a DataFrame or an
    iterator of DataFrames)."""

    id: str
    description: str
    update_frequency: str
    query: str | None = None
    callable: str | None = None
    materialize: str | None = None

    @property
    def layer(self) -> str:
        return self.id.partition("/")[0]

    @property
    def name(self) -> str:
        return self.id.partition("/")[2]

    def load_callable(self) -> Callable[..., Any]:
        """Import the function named by ``callable``; ConfigError when it is not there."""
        if self.callable is None:
            raise ConfigError(f"Dataset {self.id} has no callable")
        module_name, _, attr = self.callable.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ConfigError(f"Dataset {self.id}: cannot import {module_name!r} ({exc})") from None
        function = getattr(module, attr, None)
        if not callable(function):
            raise ConfigError(f"Dataset {self.id}: {self.callable!r} is not a function")
        return function


@dataclass(frozen=True)
class PublishConfig:
    source_url: str
    datasets: tuple[DatasetDefinition, ...]
    namespaces: tuple[str, ...] = (DEFAULT_NAMESPACE,)
    guard_csv_formulas: bool = False
    chunk_size: int = DEFAULT_CHUNK_SIZE
    workers: int = DEFAULT_WORKERS  # datasets exported at the same time (memory: one chunk each)
    reader: str = "auto"  # how queries are read: ADBC where possible ("auto") or always SQLAlchemy
    path: Path | None = None  # the TOML file it came from, for messages

    @property
    def ids(self) -> list[str]:
        return [d.id for d in self.datasets]

    def dataset(self, dataset_id: str) -> DatasetDefinition:
        for definition in self.datasets:
            if definition.id == dataset_id:
                return definition
        raise ConfigError(
            f"Dataset {dataset_id} is not defined in {self.origin} (defined: {', '.join(self.ids) or 'none'})"
        )

    def select(self, ids: Iterable[str] | None) -> tuple[DatasetDefinition, ...]:
        """The definitions of ``ids`` in the config's order (all when ``ids`` is None)."""
        if ids is None:
            return self.datasets
        wanted = list(dict.fromkeys(ids))
        for dataset_id in wanted:
            self.dataset(dataset_id)
        return tuple(d for d in self.datasets if d.id in wanted)

    def with_source(self, source_url: str) -> PublishConfig:
        """The same definitions over another source database (e.g. the demo's built warehouse)."""
        base = self.path.parent if self.path else Path.cwd()
        return replace(self, source_url=resolve_source_url(source_url, base, self.origin))

    @property
    def origin(self) -> str:
        return str(self.path) if self.path else "the publish config"


def load_config(path: str | os.PathLike, *, source_url: str | None = None) -> PublishConfig:
    """Read and validate a publishing TOML. ``source_url`` overrides ``[source] url``."""
    path = Path(path).expanduser().absolute()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"Publish config not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"Cannot read publish config {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    return parse_config(data, base_dir=path.parent, path=path, source_url=source_url)


def parse_config(
    data: Mapping[str, Any],
    *,
    base_dir: str | os.PathLike | None = None,
    path: Path | None = None,
    source_url: str | None = None,
) -> PublishConfig:
    """Validate a parsed TOML document (see the module docstring)."""
    origin = str(path) if path else "publish config"
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    unknown = sorted(set(data) - {"source", "publish", "datasets"})
    if unknown:
        raise ConfigError(f"{origin}: unknown section(s) {', '.join(unknown)} (known: source, publish, datasets)")
    url = source_url or _source_url(data.get("source"), origin)
    options = _publish_options(data.get("publish", {}), origin)
    datasets = _datasets(data.get("datasets"), origin)
    return PublishConfig(source_url=resolve_source_url(url, base, origin), datasets=datasets, path=path, **options)


def resolve_source_url(url: str, base_dir: Path, origin: str = "publish config") -> str:
    """Check a SQLAlchemy URL; a relative SQLite file path becomes absolute under ``base_dir``."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise ConfigError(f"{origin}: [source] url is not a database URL: {url!r}") from None
    database = parsed.database
    if (
        parsed.get_backend_name() == "sqlite"
        and database
        and database != ":memory:"
        and not database.startswith("file:")
        and not os.path.isabs(database)
    ):
        parsed = parsed.set(database=str((base_dir / database).absolute()))
    return parsed.render_as_string(hide_password=False)


def _source_url(section: Any, origin: str) -> str:
    if not isinstance(section, Mapping) or not isinstance(section.get("url"), str) or not section["url"]:
        raise ConfigError(f"{origin}: [source] url is required (a SQLAlchemy URL)")
    return section["url"]


def _publish_options(section: Any, origin: str) -> dict[str, Any]:
    if not isinstance(section, Mapping):
        raise ConfigError(f"{origin}: [publish] must be a table")
    unknown = sorted(set(section) - _PUBLISH_KEYS)
    if unknown:
        raise ConfigError(f"{origin}: unknown [publish] option(s) {', '.join(unknown)}")
    options: dict[str, Any] = {}
    if "namespaces" in section:
        options["namespaces"] = _namespaces(section["namespaces"], origin)
    if "guard_csv_formulas" in section:
        if not isinstance(section["guard_csv_formulas"], bool):
            raise ConfigError(f"{origin}: [publish] guard_csv_formulas must be true or false")
        options["guard_csv_formulas"] = section["guard_csv_formulas"]
    if "chunk_size" in section:
        size = section["chunk_size"]
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 10_000_000:
            raise ConfigError(f"{origin}: [publish] chunk_size must be an integer in 1..10000000")
        options["chunk_size"] = size
    if "workers" in section:
        workers = section["workers"]
        if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= 32:
            raise ConfigError(f"{origin}: [publish] workers must be an integer in 1..32")
        options["workers"] = workers
    if "reader" in section:
        if section["reader"] not in READERS:
            raise ConfigError(f'{origin}: [publish] reader must be "auto" or "sqlalchemy", got {section["reader"]!r}')
        options["reader"] = section["reader"]
    return options


def _namespaces(value: Any, origin: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError(f'{origin}: [publish] namespaces must be a non-empty list like ["scout/v1"]')
    for namespace in value:
        if not isinstance(namespace, str) or not NAMESPACE_RE.fullmatch(namespace) or ".." in namespace:
            raise ConfigError(f"{origin}: bad namespace {namespace!r} (expected a key prefix like scout/v2)")
    if len(set(value)) != len(value):
        raise ConfigError(f"{origin}: a namespace is listed twice in {value}")
    return tuple(value)


def _datasets(value: Any, origin: str) -> tuple[DatasetDefinition, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{origin}: no [[datasets]] defined")
    seen: set[str] = set()
    out = []
    for position, entry in enumerate(value, 1):
        definition = _dataset(entry, f"{origin}: dataset #{position}")
        if definition.id in seen:
            raise ConfigError(f"{origin}: dataset {definition.id} is defined twice")
        seen.add(definition.id)
        out.append(definition)
    return tuple(out)


def _dataset(entry: Any, where: str) -> DatasetDefinition:
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where} must be a table")
    try:
        dataset_id = validate_dataset_id(entry.get("id"))
    except InvalidDatasetId as exc:
        raise ConfigError(f"{where}: {exc.message}") from None
    where = f"{where} ({dataset_id})"
    unknown = sorted(set(entry) - _DATASET_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(unknown)}")
    frequency = entry.get("update_frequency")
    if not isinstance(frequency, str) or frequency not in FREQUENCIES:
        raise ConfigError(f"{where}: update_frequency must be one of {', '.join(FREQUENCIES)}, got {frequency!r}")
    description = entry.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(f"{where}: description must be a string")
    query, target = entry.get("query"), entry.get("callable")
    if (query is None) == (target is None):
        raise ConfigError(f"{where}: give exactly one of query and callable")
    if query is not None and (not isinstance(query, str) or not query.strip()):
        raise ConfigError(f"{where}: query must be a non-empty SQL string")
    if target is not None and (not isinstance(target, str) or not CALLABLE_RE.fullmatch(target)):
        raise ConfigError(f'{where}: callable must look like "package.module:function", got {target!r}')
    materialize = entry.get("materialize")
    if materialize is not None and (not isinstance(materialize, str) or not TABLE_RE.fullmatch(materialize)):
        raise ConfigError(f"{where}: materialize must be a table name (letters, digits, _), got {materialize!r}")
    return DatasetDefinition(
        id=dataset_id,
        description=description,
        update_frequency=frequency,
        query=query,
        callable=target,
        materialize=materialize,
    )
