"""scout-jupyter: publish and use the Scout analytics datasets from Jupyter.

The public API (``load``, ``datasets``, ``signed_url``, …) lives in :mod:`scout_jupyter.client`
and is imported lazily, so ``import scout_jupyter`` stays cheap for the server and the CLI.
"""

from __future__ import annotations

import sys
from typing import Any

__version__ = "0.1.0"

__all__ = [
    "connect",
    "datasets",
    "load",
    "load_raw",
    "path",
    "signed_url",
    "publish",
    "analytics",
    "browse",
    "dashboard",
    "job",
    "__version__",
]
#: served by the notebook widgets (``scout_jupyter.widgets``); the rest by the client
_WIDGETS = ("browse", "dashboard", "job")


def __getattr__(name: str) -> Any:
    if name in _WIDGETS:
        from . import widgets

        return getattr(widgets, name)
    if name in __all__:
        from . import client

        return getattr(client, name)
    raise AttributeError(f"module 'scout_jupyter' has no attribute {name!r}")


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .server.app import ScoutExtension

    return [{"module": "scout_jupyter", "app": ScoutExtension}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "scout-jupyter"}]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext scout_jupyter`` registers the ``%scout`` magic and one-line Scout errors."""
    from .ipython_errors import register
    from .magics import load_ipython_extension as _load

    _load(ipython)
    register(ipython)


if "IPython" in sys.modules:  # imported in a kernel or IPython: one-line Scout errors
    from .ipython_errors import register_in_running_shell

    register_in_running_shell()
