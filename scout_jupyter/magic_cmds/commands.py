"""One small function per ``%scout`` subcommand: ``fn(ctx, args) -> value shown in the cell``."""

from __future__ import annotations

import keyword
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from IPython.core.error import UsageError

from ..ttl import check_ttl
from . import render


@dataclass
class Context:
    shell: Any
    client: Any


def load(ctx: Context, args: Any) -> Any:
    name = args.as_name or args.dataset.rpartition("/")[2]
    if not name.isidentifier() or keyword.iskeyword(name):
        raise UsageError(f"%scout load: --as needs a Python variable name, got {name!r}")
    frame = ctx.client.load(args.dataset, columns=args.columns, limit=args.limit, date=args.date, verify=args.verify)
    ctx.shell.user_ns[name] = frame
    render.after_load(name, frame, ctx.client)
    return frame


def ls(ctx: Context, args: Any) -> Any:
    table = ctx.client.datasets()
    if args.layer:
        table = table[table["layer"] == args.layer]
    return render.catalogue(table[["id", "description", "date", "row_count", "update_frequency", "freshness"]])


def info(ctx: Context, args: Any) -> None:
    render.say(render.info(ctx.client.info(args.dataset)))


def url(ctx: Context, args: Any) -> str:
    ttl = check_ttl(args.ttl, ctx.client.transport.max_sign_ttl)  # the one TTL rule, in its words
    return ctx.client.signed_url(args.dataset, ttl, date=args.date, fmt=args.fmt)


def browse(ctx: Context, args: Any) -> Any:
    return render.browser(ctx.client)


def status(ctx: Context, args: Any) -> Any:
    return render.status(ctx.client)


def publish(ctx: Context, args: Any) -> Any:
    """The live publish panel in a notebook; one line per job status in a terminal."""
    return render.publish(ctx.client, args.datasets or None, wait=not args.no_wait)


def analytics(ctx: Context, args: Any) -> Any:
    return render.analytics(ctx.client, args.days)


COMMANDS: dict[str, Callable[[Context, Any], Any]] = {
    "load": load,
    "ls": ls,
    "info": info,
    "url": url,
    "browse": browse,
    "status": status,
    "publish": publish,
    "analytics": analytics,
}
