"""The demo: a deterministic synthetic Scout retail warehouse (sari-sari store transactions across
Philippine regions) and the nine dataset definitions published from it.

```python
from scout_jupyter.demo import build_warehouse, demo_config_path, prepare_demo
stats = build_warehouse("warehouse.sqlite", seed=42, scale=1.0)
setup = prepare_demo(".scout/demo")      # warehouse.sqlite + datasets.toml side by side
```
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path

from ..errors import ConfigError
from .warehouse import (
    DEFAULT_DAYS,
    DEFAULT_START,
    TABLES,
    WarehouseStats,
    build_warehouse,
    export_warehouse,
    table_digests,
)

__all__ = [
    "build_warehouse",
    "WarehouseStats",
    "table_digests",
    "export_warehouse",
    "demo_config_path",
    "prepare_demo",
    "DemoSetup",
    "TABLES",
    "CONFIG_NAME",
    "WAREHOUSE_NAME",
]

CONFIG_NAME = "datasets.toml"
WAREHOUSE_NAME = "warehouse.sqlite"  # what the shipped TOML's relative source URL names


def demo_config_path() -> Path:
    """The publishing TOML shipped with the package (its source is ``warehouse.sqlite`` beside it;
    use :func:`prepare_demo`, or ``load_config(path, source_url=...)``, to point it at a build)."""
    resource = resources.files(__name__).joinpath(CONFIG_NAME)
    if not isinstance(resource, Path):  # pragma: no cover - only for zip-imported installs
        raise ConfigError(f"The demo config {resource} is not a file on disk; install scout-jupyter unzipped")
    return resource


@dataclass(frozen=True)
class DemoSetup:
    """A folder holding a built warehouse and a copy of the demo TOML that points at it."""

    folder: Path
    config_path: Path
    warehouse: WarehouseStats


def prepare_demo(
    folder: str | os.PathLike,
    *,
    seed: int = 42,
    scale: float = 1.0,
    start_date: date = DEFAULT_START,
    days: int = DEFAULT_DAYS,
) -> DemoSetup:
    """Build ``folder/warehouse.sqlite`` and place ``folder/datasets.toml`` beside it, so that the
    TOML's relative source URL resolves to that warehouse. Both files are replaced atomically."""
    folder = Path(folder).expanduser().absolute()
    stats = build_warehouse(folder / WAREHOUSE_NAME, seed=seed, scale=scale, start_date=start_date, days=days)
    target = folder / CONFIG_NAME
    tmp = folder / f".{CONFIG_NAME}.{uuid.uuid4().hex}.tmp"
    try:
        shutil.copyfile(demo_config_path(), tmp)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"Cannot write the demo config to {target}: {exc.strerror}") from None
    return DemoSetup(folder=folder, config_path=target, warehouse=stats)
