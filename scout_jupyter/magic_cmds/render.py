"""How ``%scout`` shows things: the one place that chooses between the notebook widgets and text.

In a kernel (a live front end, or nbconvert executing a notebook) catalogue views are the
widgets of :mod:`scout_jupyter.widgets` (which carry static HTML/text fallbacks themselves); in
a terminal IPython they are DataFrames and text lines. Errors are one line on stderr.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import pandas as pd


def live_frontend() -> bool:
    """Whether output goes to a Jupyter front end (a kernel), where widgets can render."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def show(obj: Any, *, updatable: bool = False) -> Any:
    """Display ``obj``; with ``updatable``, return the handle whose ``update(obj)`` refreshes
    the output's static fallback (what an exported notebook keeps)."""
    from IPython.display import display

    return display(obj, display_id=True) if updatable else display(obj)


def catalogue(frame: pd.DataFrame) -> pd.DataFrame:
    """``ls``: the catalogue table."""
    return frame.reset_index(drop=True)


def browser(client: Any) -> Any:
    """``browse``: the DatasetBrowser in a notebook, the catalogue table in a terminal."""
    if live_frontend():
        from ..widgets import DatasetBrowser

        return DatasetBrowser(client)
    return catalogue(client.browse())


def status(client: Any) -> Any:
    """``status``: freshness badges and cache marks in a notebook, a table in a terminal."""
    if live_frontend():
        from ..widgets import StatusView

        return StatusView(client)
    return client.status().reset_index(drop=True)


def analytics(client: Any, days: int) -> Any:
    """``analytics``: the plotly dashboard in a notebook, the analytics rows in a terminal."""
    if live_frontend():
        from ..widgets import AccessDashboard

        return AccessDashboard(client, days=days)
    return client.analytics(days).reset_index(drop=True)


def publish(client: Any, datasets: Sequence[str] | None, *, wait: bool) -> Any:
    """``publish``: in a notebook, the live PublishPanel (with ids it starts at once and the cell
    follows the job to its end; without, a checklist and Start); in a terminal, one line per
    new job status."""
    if live_frontend():
        from ..widgets import PublishPanel

        panel = PublishPanel(client, datasets=datasets)
        if not datasets:
            return panel
        if client.mode == "direct":  # the publisher runs in this kernel: show the panel first
            handle = show(panel, updatable=True)
            panel.start(datasets)
        else:  # the server's job: show it from its first status on
            running = panel.begin(datasets)
            handle = show(panel, updatable=True)
            if running and not wait:
                panel.follow_in_background()
                return None
            if running:
                panel.follow()
        if handle is not None:
            handle.update(panel)  # the final rows and summary in the saved output too
        return None
    final = client.publish(datasets or None, wait=wait, on_progress=lambda s: say(s.summary()))
    if not wait:
        say(final.summary())
    return None


def after_load(name: str, frame: pd.DataFrame, client: Any) -> None:
    """``load``: the one summary line; in a notebook, the dataset's freshness badge beside it."""
    say(loaded(name, frame))
    if live_frontend():
        from ..widgets import FreshnessBadge

        meta = frame.attrs.get("scout", {})
        try:
            entry = client.entry(meta["id"])
        except Exception:  # noqa: BLE001 - the badge is a nicety; the load itself succeeded
            return
        show(FreshnessBadge.of(entry.last_modified, entry.update_frequency, client.clock.now()))


def info(details: dict[str, Any]) -> str:
    fields = (details.get("schema") or {}).get("fields") or []
    lines = [
        f"{details['id']}: {details.get('description', '')}",
        f"  date {details['date']}, {details['row_count']} rows, {details['size_bytes']} bytes, "
        f"schema {details['schema_version']}",
        f"  updated {details['last_modified']} ({details.get('update_frequency') or 'no schedule'}): "
        f"{details['freshness']}",
        f"  sha256 {details['sha256']}" + (" (parquet copy too)" if details.get("latest_parquet") else ""),
        f"  cached locally: {'yes' if details.get('cached') else 'no'}",
    ]
    if fields:
        lines.append("  columns: " + ", ".join(f"{f['name']} ({f['type']})" for f in fields))
    return "\n".join(lines)


def loaded(name: str, frame: pd.DataFrame) -> str:
    meta = frame.attrs.get("scout", {})
    return (
        f"{name} = {meta.get('id', '?')} ({meta.get('date', '?')}): {len(frame)} rows × "
        f"{frame.shape[1]} columns, from {meta.get('source', '?')}"
    )


def say(text: str) -> None:
    print(text)


def error(message: str) -> None:
    """A user-facing problem: one line, no traceback."""
    print(message, file=sys.stderr)
