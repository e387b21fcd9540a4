"""``%scout``: the line magic. ``%load_ext scout_jupyter`` registers it.

Thin: parse the line, dispatch to one function per subcommand (:mod:`.magic_cmds`), and turn
every Scout error into one line on stderr — never a traceback.
"""

from __future__ import annotations

import logging
import shlex
from collections.abc import Callable
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class

from .errors import ScoutError
from .magic_cmds import COMMANDS, Context, HelpShown, build_parser, render

log = logging.getLogger(__name__)


@magics_class
class ScoutMagics(Magics):
    """``%scout load gold/txn_daily``, ``%scout ls``, … (``%scout --help``)."""

    def __init__(self, shell: Any = None, client_factory: Callable[[], Any] | None = None):
        super().__init__(shell)
        self._client_factory = client_factory
        self._parser = build_parser()

    def client(self) -> Any:
        if self._client_factory is not None:
            return self._client_factory()
        from .client import default_client

        return default_client()

    @line_magic
    def scout(self, line: str) -> Any:
        try:
            args = self._parser.parse_args(shlex.split(line))
        except HelpShown:
            return None
        except ValueError as exc:  # shlex: unbalanced quotes
            raise UsageError(f"%scout: {exc}") from None
        if args.command is None:
            self._parser.print_help()
            return None
        try:
            return COMMANDS[args.command](Context(self.shell, self.client()), args)
        except ScoutError as exc:
            render.error(exc.message)
        except OSError as exc:
            render.error(f"Scout: {exc}")
        return None


def load_ipython_extension(ipython: Any) -> None:
    ipython.register_magics(ScoutMagics(ipython))


def unload_ipython_extension(ipython: Any) -> None:
    """Nothing to release: the client closes with the process."""
