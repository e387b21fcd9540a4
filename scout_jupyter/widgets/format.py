"""Words and numbers for people, shared by every widget and its static fallback.

Everything here is pure (no widgets), so the static HTML/text reprs, the live views and the
tests all say the same thing. Strings that come from a manifest or the access log are escaped
with :func:`text` before they go into HTML: a manifest is data from a store, never markup.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

from ..clock import parse_timestamp

#: what each freshness state reads as without its colour (icon, word)
FRESHNESS_ICONS = {"fresh": "✓", "stale": "◔", "overdue": "!", "unknown": "?"}
ATTENTION = ("stale", "overdue", "unknown")
_UNITS = ("B", "KB", "MB", "GB", "TB", "PB")


def text(value: Any) -> str:
    """Untrusted text made safe to place in HTML (element content or a quoted attribute)."""
    return html.escape("" if value is None else str(value), quote=True)


def plot_text(value: Any) -> str:
    """Untrusted text for plotly, whose labels read a few tags (``<b>``, ``<a>``, ``<br>``) and
    entities: escaped, so a name made of markup shows as that markup, literally."""
    return html.escape("" if value is None else str(value), quote=False)


def human_bytes(size: int | float | None) -> str:
    """``2.0 MB`` (powers of 1024, as file browsers do); ``—`` when unknown."""
    if size is None or (isinstance(size, float) and math.isnan(size)):
        return "—"
    value, unit = float(size), 0
    while value >= 1024 and unit < len(_UNITS) - 1:
        value /= 1024
        unit += 1
    if unit == 0:
        return f"{int(value)} B"
    return f"{value:.1f} {_UNITS[unit]}" if value < 100 else f"{value:.0f} {_UNITS[unit]}"


def human_count(count: int | float | None) -> str:
    """``15,420``; ``—`` when unknown."""
    if count is None or (isinstance(count, float) and math.isnan(count)):
        return "—"
    return f"{int(count):,}"


def plural(count: int, word: str) -> str:
    """``1 request``, ``3 requests``."""
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def human_duration(seconds: float) -> str:
    """``0.42 s``, ``12 s``, ``3 min 5 s``."""
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def when(value: str | datetime | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    try:
        return parse_timestamp(str(value))
    except ValueError:
        return None


def age(value: str | datetime | None, now: datetime) -> str:
    """``just now``, ``5 min ago``, ``3 h ago``, ``2 d ago``, ``in 4 h`` (future); ``never``."""
    moment = when(value)
    if moment is None:
        return "never"
    seconds = (now - moment).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 60:
        return "just now"
    for size, unit in ((86_400 * 30, "mo"), (86_400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            amount = f"{int(seconds // size)} {unit}"
            return f"in {amount}" if future else f"{amount} ago"
    return "just now"  # pragma: no cover - the loop always answers for >= 60 s


def absolute(value: str | datetime | None) -> str:
    """``2024-08-10 02:15 UTC`` (for hovers)."""
    moment = when(value)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if moment else "unknown"


def freshness_words(state: str, last_modified: str | datetime | None, frequency: str | None, now: datetime) -> str:
    """The badge's wording: ``3 h ago · expected daily`` (``no schedule`` without a frequency)."""
    expected = f"expected {frequency}" if frequency else "no schedule"
    if when(last_modified) is None:
        return f"never updated · {expected}"
    return f"{age(last_modified, now)} · {expected}"


def freshness_label(state: str) -> str:
    """``✓ fresh``: an icon and a word, so the badge reads without its colour."""
    return f"{FRESHNESS_ICONS.get(state, '?')} {state}"


def badge_html(state: str, words: str, title: str = "") -> str:
    """The static badge: the same classes as the live one (``widgets/badge.css``)."""
    state = state if state in FRESHNESS_ICONS else "unknown"
    return (
        f'<span class="scout-badge scout-badge--{state}" title="{text(title)}">'
        f"<b>{text(freshness_label(state))}</b> <span>{text(words)}</span></span>"
    )


def html_table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], *, raw_columns: Sequence[int] = (), caption: str = ""
) -> str:
    """A plain HTML table; every cell is escaped except the (already safe) ``raw_columns``."""
    head = "".join(f"<th>{text(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = "".join(f"<td>{cell if i in raw_columns else text(cell)}</td>" for i, cell in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    cap = f"<caption>{text(caption)}</caption>" if caption else ""
    return f'<table class="scout-static">{cap}<thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def text_table(headers: Sequence[str], rows: Iterable[Sequence[str]], *, max_width: int = 48) -> str:
    """A fixed-width text table for terminals; long cells are cut with ``…``."""

    def cut(cell: Any) -> str:
        value = " ".join(str(cell).split())
        return value if len(value) <= max_width else value[: max_width - 1] + "…"

    body = [[cut(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([line(list(headers)), line(["─" * w for w in widths]), *(line(r) for r in body)])


def one_line(message: Any) -> str:
    """An error shown in a widget: its first line, whitespace collapsed."""
    first = str(message).strip().splitlines()[0] if str(message).strip() else "Unknown error"
    return " ".join(first.split())
