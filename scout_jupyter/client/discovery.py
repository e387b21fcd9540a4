"""Which server or store a client talks to, and why: the one place that decides.

In order: an ``api_url`` or ``storage_url`` given to :func:`connect`; ``SCOUT_API_URL`` (the
extension exports it to the kernels its server starts; a URL ``jupyter lab`` printed works, token
included); the Jupyter server this kernel runs under (found through the runtime file every
server writes, when the variable did not reach the kernel), so inside JupyterLab the server
always wins over a local store; ``SCOUT_STORAGE_URL``; the demo store under the current folder.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from .. import settings
from ..storage import DEFAULT_STORE, Storage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    """Where a client connects: a server (``api_url``) or a store (``storage_url``), and why."""

    api_url: str | None = None
    storage_url: str | Storage | None = None
    token: str | None = None
    reason: str = ""


def parent_jupyter_server(runtime_dirs: list[Path] | None = None, parent_pid: int | None = None) -> Target | None:
    """The Jupyter server that started this process (its kernel), from its ``jpserver-<pid>.json``."""
    parent_pid = os.getppid() if parent_pid is None else parent_pid
    if runtime_dirs is None:
        from jupyter_core.paths import jupyter_runtime_dir

        runtime_dirs = [Path(jupyter_runtime_dir())]
    for folder in runtime_dirs:
        info_file = folder / f"jpserver-{parent_pid}.json"
        try:
            info = json.loads(info_file.read_text())
        except (OSError, ValueError):
            continue
        url = info.get("url") if isinstance(info, dict) else None
        if isinstance(url, str) and info.get("pid") == parent_pid:
            base = url.rstrip("/") + "/" + str(info.get("base_url") or "/").strip("/")
            return Target(
                api_url=base.rstrip("/") + "/",
                token=info.get("token") or None,
                reason="the Jupyter server running this kernel",
            )
    return None


def choose_target(api_url: str | None, storage_url: str | Storage | None) -> Target:
    if api_url is not None:
        return Target(api_url=api_url, reason="api_url given to connect()")
    if storage_url is not None:
        return Target(storage_url=storage_url, reason="storage_url given to connect()")
    env_api = settings.env(settings.API_URL)
    if env_api is not None:
        return Target(api_url=env_api, reason=settings.API_URL)
    server = parent_jupyter_server()
    if server is not None:
        return server
    env_store = settings.env(settings.STORAGE_URL)
    if env_store is not None:
        return Target(storage_url=env_store, reason=settings.STORAGE_URL)
    if os.path.isdir(DEFAULT_STORE):
        return Target(storage_url=DEFAULT_STORE, reason=f"the demo store {DEFAULT_STORE} under the current folder")
    return Target()
