"""The ``%scout`` subcommands (one small function each), their parser and their rendering."""

from .commands import COMMANDS, Context
from .parser import HelpShown, build_parser

__all__ = ["COMMANDS", "Context", "HelpShown", "build_parser"]
