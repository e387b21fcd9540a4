"""The ``%scout`` command line: argparse made to raise ``UsageError`` instead of exiting."""

from __future__ import annotations

import argparse
from typing import NoReturn

from IPython.core.error import UsageError

from ..ttl import DEFAULT_TTL, HARD_MAX_TTL, ttl_rule


class HelpShown(Exception):
    """``--help`` printed its text; nothing else to do."""


class MagicParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            raise UsageError(message.strip())
        raise HelpShown()


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return value


def _limit(text: str) -> int:
    return 0 if text.strip() == "0" else _positive_int(text)


def _columns(text: str) -> list[str]:
    columns = [c.strip() for c in text.split(",") if c.strip()]
    if not columns:
        raise argparse.ArgumentTypeError("expected column names separated by commas")
    return columns


def build_parser() -> MagicParser:
    parser = MagicParser(
        prog="%scout", description="Scout datasets from a notebook. `%scout <command> --help` explains each command."
    )
    sub = parser.add_subparsers(dest="command", metavar="<command>")

    load = sub.add_parser(
        "load",
        help="load a dataset into a DataFrame variable (and return it)",
        description="Load a dataset; binds it to a variable named after the dataset "
        "(or --as NAME) and returns it, so `df = %scout load gold/x` works too.",
    )
    load.add_argument("dataset", help="dataset id, e.g. gold/txn_daily")
    load.add_argument("--as", dest="as_name", metavar="NAME", help="variable name (default: the dataset's name)")
    load.add_argument("--columns", type=_columns, metavar="A,B", help="only these columns")
    load.add_argument("--limit", type=_limit, metavar="N", help="only the first N rows")
    load.add_argument("--date", metavar="YYYY-MM-DD", help="the version published that day")
    load.add_argument(
        "--verify",
        choices=("size", "full"),
        default="size",
        help="cached files: check name and size (default) or re-hash them",
    )

    ls = sub.add_parser("ls", help="list the datasets", description="List the datasets with their freshness.")
    ls.add_argument("--layer", choices=("gold", "platinum"), help="only this layer")

    info = sub.add_parser(
        "info",
        help="show one dataset's manifest entry and schema",
        description="Show a dataset's manifest entry, schema and cache state.",
    )
    info.add_argument("dataset", help="dataset id, e.g. gold/txn_daily")

    url = sub.add_parser("url", help="a signed download URL", description="Print a time-limited signed URL.")
    url.add_argument("dataset", help="dataset id, e.g. gold/txn_daily")
    url.add_argument(
        "--ttl",
        default=str(DEFAULT_TTL),
        metavar="S",
        help=f"lifetime: {ttl_rule(HARD_MAX_TTL)}, up to the server's max_ttl ({DEFAULT_TTL})",
    )
    url.add_argument("--date", metavar="YYYY-MM-DD", help="the version published that day")
    url.add_argument("--format", dest="fmt", choices=("csv", "parquet"), default="csv", help="file format")

    sub.add_parser("browse", help="browse the catalogue", description="The dataset catalogue with freshness.")
    sub.add_parser(
        "status", help="freshness and cache state", description="Freshness and local cache state of every dataset."
    )

    publish = sub.add_parser(
        "publish",
        help="publish datasets (through the server's job)",
        description="Start a publish job and print its progress until it ends.",
    )
    publish.add_argument("datasets", nargs="*", metavar="DATASET", help="dataset ids (default: all)")
    publish.add_argument("--no-wait", action="store_true", help="start the job and return at once")

    analytics = sub.add_parser(
        "analytics",
        help="access analytics",
        description="Requests, users, success rate and bytes served per day and dataset.",
    )
    analytics.add_argument("--days", type=_positive_int, default=7, metavar="N", help="how many days (7)")
    return parser
