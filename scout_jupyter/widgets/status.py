"""StatusView (``%scout status``): every dataset's freshness badge and local cache state."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from . import format as fmt
from .badge import FreshnessBadge
from .static import StaticRepr


class StatusView(StaticRepr, widgets.GridBox):
    HEADERS = ("Dataset", "Date", "Cached", "Freshness · modified")

    def __init__(self, client: Any = None, **kwargs: Any):
        if client is None:
            from ..client import default_client

            client = default_client()
        table = client.status()
        now = client.clock.now()
        self.records = table.to_dict("records")
        cells: list[widgets.Widget] = [widgets.HTML(f"<b>{fmt.text(h)}</b>") for h in self.HEADERS]
        self.badges: dict[str, FreshnessBadge] = {}
        for r in self.records:
            badge = FreshnessBadge.of(r["last_modified"], r["update_frequency"], now)
            self.badges[r["id"]] = badge
            cells += [
                widgets.Label(r["id"]),
                widgets.Label(r["date"]),
                widgets.Label("● yes" if r["cached"] else "—"),
                badge,
            ]  # the badge says when (hover: exact)
        super().__init__(
            cells,
            layout=widgets.Layout(
                grid_template_columns="auto auto auto 1fr", grid_gap="2px 18px", align_items="center"
            ),
            **kwargs,
        )
        self.now = now

    def static_html(self) -> str:
        return fmt.html_table(
            self.HEADERS,
            [
                [r["id"], r["date"], "yes" if r["cached"] else "", self.badges[r["id"]].static_html()]
                for r in self.records
            ],
            raw_columns=(3,),
        )

    def static_text(self) -> str:
        return fmt.text_table(
            [h.lower() for h in self.HEADERS],
            [
                [r["id"], r["date"], "yes" if r["cached"] else "", self.badges[r["id"]].static_text()]
                for r in self.records
            ],
            max_width=60,
        )
