"""Scout errors in IPython and notebooks: one line, the full traceback one ``%tb`` away.

A :class:`~scout_jupyter.errors.ScoutError` raised by the Python API (``scout.load(...)``,
``client.signed_url(...)``) is a message for the user — a typo in an id, a refused token, a rate
limit — not a bug report, so IPython shows it as one error line instead of a traceback through
tenacity and the client's layers. The cell still fails (Run All stops there), ``%tb`` prints the
full traceback, and every other exception keeps IPython's usual display. Registered by
``%load_ext scout_jupyter`` and by ``import scout_jupyter`` inside IPython; scripts keep Python's
normal exceptions.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from .errors import ScoutError

log = logging.getLogger(__name__)

_RED, _DIM, _RESET = "\x1b[0;31m", "\x1b[2m", "\x1b[0m"
TB_HINT = "%tb shows the full traceback"


def _show_scout_error(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: int | None = None) -> None:
    shell._get_exc_info((etype, value, tb))  # keeps sys.last_* for %tb, %debug and pdb
    red, dim, reset = ("", "", "") if str(getattr(shell, "colors", "")).lower() == "nocolor" else (_RED, _DIM, _RESET)
    line = f"{red}{type(value).__name__}{reset}: {' '.join(str(value).split())}  {dim}({TB_HINT}){reset}"
    # _showtraceback is how each shell shows an error: printed in a terminal, an ``error`` message
    # (with this one line as its traceback) in a kernel, so the cell is marked failed.
    shell._showtraceback(etype, value, [line])


def register(shell: Any) -> bool:
    """Show ScoutErrors in ``shell`` as one line. Leaves a custom handler someone else set."""
    current = tuple(getattr(shell, "custom_exceptions", ()) or ())
    if current == (ScoutError,):
        return True
    if current:
        log.debug("IPython already has a custom exception handler for %s; Scout errors keep tracebacks", current)
        return False
    shell.set_custom_exc((ScoutError,), _show_scout_error)
    return True


def register_in_running_shell() -> None:
    """At import: when IPython is already running this code (a kernel or a terminal IPython)."""
    ipython_module = sys.modules.get("IPython")
    if ipython_module is None:  # a script: Python's own exceptions
        return
    try:
        shell = ipython_module.get_ipython()
    except Exception:  # noqa: BLE001 - an odd IPython must never break the import
        return
    if shell is not None:
        register(shell)
