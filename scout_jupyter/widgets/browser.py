"""DatasetBrowser: the catalogue as a sortable, filterable table with one-click loads.

The view (``browser.js``) renders the rows it is given, filters and sorts them itself (a
keystroke must not wait for the kernel), and sends ``{"action": ..., "id": ...}`` messages for
Load / Preview / Copy code / Copy URL / Refresh. Python answers through synced traits:
``activity`` (per dataset: progress, the one-line result or error), ``preview`` and
``clipboard``. Loads, signing and freshness all go through the client.
"""

from __future__ import annotations

import keyword
import time
from collections.abc import Callable, MutableMapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import anywidget
import pandas as pd
import traitlets

from ..errors import ConfigError
from ..ttl import DEFAULT_TTL
from . import format as fmt
from .actions import run_action
from .catalogue import ATTENTION, catalogue_rows, visible
from .static import StaticRepr

HERE = Path(__file__).parent
PREVIEW_ROWS = 20
URL_TTL = DEFAULT_TTL  # the default lifetime of a signed URL (the one TTL rule: scout_jupyter.ttl)


class DatasetBrowser(StaticRepr, anywidget.AnyWidget):
    _esm = HERE / "browser.js"
    _css = HERE / "scout.css"

    rows = traitlets.List(traitlets.Dict()).tag(sync=True)
    query = traitlets.Unicode("").tag(sync=True)
    layer = traitlets.Unicode("").tag(sync=True)
    attention = traitlets.Bool(False).tag(sync=True)
    sort_by = traitlets.Unicode("id").tag(sync=True)
    descending = traitlets.Bool(False).tag(sync=True)
    banner = traitlets.Unicode("").tag(sync=True)
    activity = traitlets.Dict().tag(sync=True)
    preview = traitlets.Dict().tag(sync=True)
    clipboard = traitlets.Dict().tag(sync=True)

    def __init__(self, client: Any = None, namespace: MutableMapping[str, Any] | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        if client is None:
            from ..client import default_client

            client = default_client()
        self.client = client
        self.namespace = namespace if namespace is not None else _user_namespace()
        self._copies = 0
        self.on_msg(self._on_message)
        self.refresh(fetch=False)

    # --- what the view asks for -----------------------------------------------------------------
    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict):
            return
        handlers: dict[str, Callable[..., Any]] = {
            "load": lambda: self.load(str(content.get("id", "")), content.get("name") or None),
            "preview": lambda: self.show_preview(str(content.get("id", ""))),
            "copy_code": lambda: self.copy_code(str(content.get("id", ""))),
            "copy_url": lambda: self.copy_url(str(content.get("id", ""))),
            "refresh": lambda: self.refresh(fetch=True),
        }
        handler = handlers.get(str(content.get("action")))
        if handler is not None:
            handler()

    def refresh(self, fetch: bool = True) -> None:
        """Rebuild the rows from the manifest (``fetch``: ask the server again first)."""

        def build() -> dict[str, Any]:
            if fetch:
                self.client.manifest(refresh=True)
            self.rows = catalogue_rows(self.client)
            return {"state": "done"}

        outcome = run_action(build)
        if outcome["state"] == "error":
            self.banner = outcome["text"] + self._cached_note()
        elif self.client.offline:
            self.banner = "Offline: showing the last manifest fetched" + self._cached_note()
        else:
            self.banner = ""

    def load(self, dataset_id: str, name: str | None = None) -> dict[str, Any]:
        """Load into the user namespace as ``name`` (default: the dataset's name); the view shows
        a byte progress bar, then one line: rows × columns, from cache or network, time."""
        name = (name or dataset_id.rpartition("/")[2]).strip()

        sent = [-1]  # bytes last shown: one update per percent is enough for a bar

        def progress(done: int, total: int) -> None:
            if done != total and 0 <= done - sent[0] < max(1, total // 100):  # (a retry restarts at 0)
                return
            sent[0] = done
            self._set_activity(
                dataset_id,
                {
                    "state": "loading",
                    "kind": "load",
                    "done": done,
                    "total": total,
                    "text": f"Downloading {fmt.human_bytes(done)} of {fmt.human_bytes(total)}",
                },
            )

        def work() -> dict[str, Any]:
            if not name.isidentifier() or keyword.iskeyword(name):
                raise ConfigError(f"Not a Python variable name: {name!r}")
            if self.namespace is None:
                raise ConfigError("No notebook namespace to bind into: call scout.load() in code instead")
            started = time.perf_counter()
            self._set_activity(dataset_id, {"state": "loading", "kind": "load", "text": "Loading…"})
            frame = self.client.load(dataset_id, on_bytes=progress)
            self.namespace[name] = frame
            return {
                "state": "done",
                "kind": "load",
                "name": name,
                "text": loaded_line(name, frame, time.perf_counter() - started),
            }

        outcome = run_action(work)
        self._set_activity(dataset_id, {"kind": "load", **outcome})
        if outcome["state"] == "done":
            self.rows = [dict(r, cached=True) if r["id"] == dataset_id else r for r in self.rows]
        return outcome

    def show_preview(self, dataset_id: str) -> dict[str, Any]:
        """The first rows (read through the Parquet copy with ``limit``) and the typed schema."""

        def work() -> dict[str, Any]:
            frame = self.client.load(dataset_id, limit=PREVIEW_ROWS)
            fields = {
                f["name"]: f["type"] for f in (self.client.info(dataset_id).get("schema") or {}).get("fields", [])
            }
            columns = [
                {"name": str(c), "type": fields.get(str(c), str(frame[c].dtype)), "dtype": str(frame[c].dtype)}
                for c in frame.columns
            ]
            self.preview = {"id": dataset_id, "columns": columns, "rows": preview_cells(frame)}
            return {
                "state": "done",
                "kind": "preview",
                "text": f"Preview: first {len(frame)} rows, {frame.shape[1]} columns",
            }

        outcome = run_action(work)
        self._set_activity(dataset_id, {"kind": "preview", **outcome})
        return outcome

    def copy_code(self, dataset_id: str) -> dict[str, Any]:
        code = f"%scout load {dataset_id}"
        self._copy(code)
        outcome = {"state": "done", "kind": "code", "text": f"Copied to the clipboard: {code}", "copied": code}
        self._set_activity(dataset_id, outcome)
        return outcome

    def copy_url(self, dataset_id: str, ttl: int = URL_TTL) -> dict[str, Any]:
        """A signed URL with the default lifetime; the view shows it and when it expires."""

        def work() -> dict[str, Any]:
            url = self.client.signed_url(dataset_id, ttl)
            expires = self.client.clock.now() + timedelta(seconds=ttl)
            self._copy(url)
            return {
                "state": "done",
                "kind": "url",
                "copied": url,
                "expires_at": fmt.absolute(expires),
                "text": f"Signed URL copied: expires {fmt.absolute(expires)} "
                f"({fmt.age(expires, self.client.clock.now())}); anyone holding it can download",
            }

        outcome = run_action(work)
        self._set_activity(dataset_id, {"kind": "url", **outcome})
        return outcome

    # --- helpers ---------------------------------------------------------------------------------
    def _copy(self, text: str) -> None:
        self._copies += 1
        self.clipboard = {"text": text, "seq": self._copies}

    def _set_activity(self, dataset_id: str, state: dict[str, Any]) -> None:
        self.activity = {**self.activity, dataset_id: state}

    def _cached_note(self) -> str:
        cached = sum(1 for r in self.rows if r.get("cached"))
        return f" ({cached} of {len(self.rows)} datasets are cached locally and load offline)" if self.rows else ""

    def visible_ids(self) -> list[str]:
        """The ids the view shows for the current filter and sort (the same rules as browser.js)."""
        return [
            r["id"] for r in visible(self.rows, self.query, self.layer, self.attention, self.sort_by, self.descending)
        ]

    def static_html(self) -> str:
        rows = visible(self.rows, self.query, self.layer, self.attention, self.sort_by, self.descending)
        body = [
            [
                r["id"],
                r["description"],
                r["date"],
                r["rows_text"],
                r["size_text"],
                r["schema_version"],
                r["modified_text"],
                "yes" if r["cached"] else "",
                fmt.badge_html(r["freshness"], r["freshness_words"]),
            ]
            for r in rows
        ]
        note = f'<p class="scout-banner">{fmt.text(self.banner)}</p>' if self.banner else ""
        return note + fmt.html_table(
            ["dataset", "description", "date", "rows", "size", "schema", "modified", "cached", "freshness"],
            body,
            raw_columns=(8,),
            caption=f"{len(rows)} Scout datasets",
        )

    def static_text(self) -> str:
        rows = visible(self.rows, self.query, self.layer, self.attention, self.sort_by, self.descending)
        table = fmt.text_table(
            ["dataset", "date", "rows", "size", "modified", "cached", "freshness"],
            [
                [
                    r["id"],
                    r["date"],
                    r["rows_text"],
                    r["size_text"],
                    r["modified_text"],
                    "yes" if r["cached"] else "",
                    fmt.freshness_label(r["freshness"]),
                ]
                for r in rows
            ],
        )
        return (self.banner + "\n" if self.banner else "") + table


def loaded_line(name: str, frame: pd.DataFrame, seconds: float) -> str:
    meta = frame.attrs.get("scout", {})
    source = "from cache" if meta.get("source") == "cache" else "from network"
    return (
        f"{name} = {meta.get('id', '?')} ({meta.get('date', '?')}): {len(frame):,} rows × {frame.shape[1]} "
        f"columns, {source}, {fmt.human_duration(seconds)}"
    )


def preview_cells(frame: pd.DataFrame) -> list[list[str]]:
    """Cells as display text (JSON-safe for the view): missing values empty."""
    out = []
    for row in frame.itertuples(index=False, name=None):
        out.append(["" if _missing(v) else str(v) for v in row])
    return out


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _user_namespace() -> MutableMapping[str, Any] | None:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return None
    shell = get_ipython()
    return shell.user_ns if shell is not None else None


__all__ = ["ATTENTION", "DatasetBrowser"]
