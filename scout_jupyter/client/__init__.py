"""The kernel client: one line from a dataset id to a verified, correctly typed DataFrame.

```python
import scout_jupyter as scout
scout.datasets()                                  # one row per dataset, with freshness
df = scout.load("gold/txn_daily", columns=["date_key", "revenue"], limit=1000)
raw = scout.load_raw("gold/txn_daily")            # the CSV's bytes, in memory
path = scout.path("gold/txn_daily")                # the verified cached file (streamed)
scout.connect().download("gold/txn_daily", "txn.csv")  # streamed to a file of yours, verified
url = scout.signed_url("gold/txn_daily", ttl=3600)
client = scout.connect(api_url=..., token=...)    # or connect(storage_url=...) for direct mode
```

Proxy mode (through the Jupyter server extension) when ``SCOUT_API_URL`` is set or an
``api_url`` is given; direct mode (straight to a store) with ``storage_url`` or
``SCOUT_STORAGE_URL``. The module-level functions use the client of the last :func:`connect`,
or one made from the environment on first use.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import requests

from .. import settings
from ..cache import Cache
from ..clock import SYSTEM_CLOCK, Clock
from ..errors import ConfigError
from ..storage import Storage
from ..storage.retry import RetryPolicy
from .core import DEFAULT_MANIFEST_TTL, Client, OfflineWarning
from .discovery import choose_target
from .http import HttpApi
from .jobs import JobStatus, ProgressFn
from .transport import DirectTransport, ProxyTransport

# (no module-level ``download``: the name is the submodule's; ``Client.download`` streams to a file)
__all__ = [
    "Client",
    "JobStatus",
    "OfflineWarning",
    "access_report",
    "analytics",
    "browse",
    "connect",
    "datasets",
    "job",
    "load",
    "load_raw",
    "path",
    "publish",
    "signed_url",
]

log = logging.getLogger(__name__)
_default: Client | None = None
_default_lock = threading.Lock()


def connect(
    api_url: str | None = None,
    token: str | None = None,
    *,
    storage_url: str | Storage | None = None,
    cache_dir: str | os.PathLike | None = None,
    cache_size: int | str | None = None,
    manifest_ttl: float = DEFAULT_MANIFEST_TTL,
    clock: Clock | None = None,
    retry: RetryPolicy | None = None,
    session: requests.Session | None = None,
    max_retry_after: float = 10.0,
    progress: bool | None = None,
    publish_config: str | None = None,
    set_default: bool = True,
) -> Client:
    """A :class:`Client`. Without arguments: ``SCOUT_API_URL`` (+ ``SCOUT_API_TOKEN`` or
    ``JUPYTERHUB_API_TOKEN``) → proxy mode; else ``SCOUT_STORAGE_URL`` → direct mode; else the
    demo store under the current folder if there is one. It becomes the default client of the
    module-level functions unless ``set_default=False``."""
    clock = clock or SYSTEM_CLOCK
    retry = retry or RetryPolicy(sleep=clock.sleep)
    if storage_url is not None and api_url is not None:
        raise ConfigError("Give either api_url (through the Jupyter server) or storage_url (direct), not both")
    target = choose_target(api_url, storage_url)
    if target.api_url is not None:
        token = token or settings.env(settings.API_TOKEN) or settings.env(settings.HUB_TOKEN) or target.token
        api = HttpApi(target.api_url, token, session=session, retry=retry, max_retry_after=max_retry_after)
        transport: ProxyTransport | DirectTransport = ProxyTransport(api)
    elif target.storage_url is not None:
        transport = DirectTransport(target.storage_url)
    else:
        raise ConfigError(
            "No Scout server or store configured: run inside JupyterLab with the scout_jupyter "
            "extension, set SCOUT_API_URL (the URL `jupyter lab` printed works) or SCOUT_STORAGE_URL, "
            "or call connect(storage_url=...)"
        )
    cache = Cache(cache_dir, max_bytes=cache_size, clock=clock)
    client = Client(
        transport,
        cache=cache,
        clock=clock,
        retry=retry,
        manifest_ttl=manifest_ttl,
        progress=progress,
        publish_config=publish_config or settings.env(settings.PUBLISH_CONFIG),
        chosen_because=target.reason,
    )
    log.info("Scout: %s", client.describe())
    if set_default:
        _set_default(client)
    return client


def _set_default(client: Client | None) -> None:
    global _default
    with _default_lock:
        previous, _default = _default, client
    if previous is not None and previous is not client:
        previous.close()


def default_client() -> Client:
    """The module-level functions' client (made from the environment on first use)."""
    with _default_lock:
        client = _default
    return client if client is not None else connect()


def datasets() -> pd.DataFrame:
    """One row per dataset: id, layer, name, description, date, row_count, size_bytes,
    last_modified, update_frequency, freshness, schema_version."""
    return default_client().datasets()


def load(
    dataset_id: str,
    columns: Sequence[str] | None = None,
    limit: int | None = None,
    date: str | None = None,
    verify: str = "size",
) -> pd.DataFrame:
    """The dataset as a DataFrame (see :meth:`Client.load`)."""
    return default_client().load(dataset_id, columns=columns, limit=limit, date=date, verify=verify)


def load_raw(dataset_id: str, date: str | None = None) -> bytes:
    """The dataset's CSV bytes, verified against the manifest's sha256, all in memory (for large
    files use :func:`path`, or :meth:`Client.download` to a file of yours)."""
    return default_client().load_raw(dataset_id, date=date)


def path(dataset_id: str, *, date: str | None = None, fmt: str = "csv") -> Path:
    """The verified cached file of the dataset (streamed into the cache if needed)."""
    return default_client().path(dataset_id, date=date, fmt=fmt)


def signed_url(dataset_id: str, ttl: int = 3600, *, date: str | None = None, fmt: str = "csv") -> str:
    """A signed URL of the dataset's file, valid ``ttl`` seconds."""
    return default_client().signed_url(dataset_id, ttl, date=date, fmt=fmt)


def publish(
    datasets: Sequence[str] | None = None, *, wait: bool = True, on_progress: ProgressFn | None = None
) -> JobStatus:
    """Publish datasets (all when None) and return the job's final status."""
    return default_client().publish(datasets, wait=wait, on_progress=on_progress)


def analytics(days: int = 7) -> pd.DataFrame:
    """The access analytics of the last ``days`` days (per day and dataset)."""
    return default_client().analytics(days)


def browse() -> pd.DataFrame:
    """The dataset catalogue with freshness, as data (``scout_jupyter.browse()`` is the widget)."""
    return default_client().browse()


def access_report(days: int = 7) -> dict:
    """The analytics answer with its breakdown (what ``scout_jupyter.dashboard()`` draws)."""
    return default_client().access_report(days)


def job(job_id: str) -> JobStatus:
    """A publish job's status, as data (``scout_jupyter.job()`` is the live panel)."""
    return default_client().job(job_id)
