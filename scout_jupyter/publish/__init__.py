"""The publisher: datasets from a source database into the store, the manifest written last.

``publish(load_config("datasets.toml"), open_storage(url))`` is the whole job; the CLI, the
server's job runner and the notebook panel all call it. See :mod:`.job` for the pipeline.
"""

from __future__ import annotations

from .config import DatasetDefinition, PublishConfig, load_config, parse_config
from .job import open_source, publish
from .lock import LockInfo, PublishLock, lock_key
from .progress import ProgressCallback, ProgressEvent, ProgressTracker, TqdmReporter, fanout
from .results import DatasetResult, PublishResult

__all__ = [
    "DatasetDefinition",
    "DatasetResult",
    "LockInfo",
    "ProgressCallback",
    "ProgressEvent",
    "ProgressTracker",
    "PublishConfig",
    "PublishLock",
    "PublishResult",
    "TqdmReporter",
    "fanout",
    "load_config",
    "lock_key",
    "open_source",
    "parse_config",
    "publish",
]
