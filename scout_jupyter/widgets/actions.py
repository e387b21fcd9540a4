"""Running one widget action through the client: errors become one line for the widget.

A widget's click handler runs inside the kernel's comm handler, where an exception would be
swallowed (or printed as a traceback far from the widget). Everything a user can meet — a
:class:`~scout_jupyter.errors.ScoutError` (one line by contract), a full disk — is turned into
``{"state": "error", "text": ..., "retry_at": ...}`` for the view; anything else is logged with
its traceback and shown as one line too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from ..errors import RateLimited, ScoutError
from .format import one_line

log = logging.getLogger(__name__)


def describe_error(exc: BaseException) -> dict[str, Any]:
    """The view's state for a failed action; a rate limit carries when to retry (epoch ms)."""
    if isinstance(exc, ScoutError):
        found: dict[str, Any] = {"state": "error", "text": one_line(exc), "code": exc.code}
        if isinstance(exc, RateLimited):
            found["retry_at"] = int((time.time() + exc.retry_after) * 1000)
        return found
    if isinstance(exc, OSError):
        return {"state": "error", "text": one_line(f"Scout: {exc}"), "code": "os_error"}
    log.exception("Scout widget action failed")
    return {"state": "error", "text": one_line(f"Unexpected error: {type(exc).__name__}: {exc}"), "code": "unexpected"}


def run_action(action: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``action()``'s state, or the error's."""
    try:
        return action()
    except Exception as exc:  # noqa: BLE001 - shown in the widget, never lost in a comm handler
        return describe_error(exc)
