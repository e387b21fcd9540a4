"""FreshnessBadge: fresh / stale / overdue / unknown, with wording like ``3 h ago · expected daily``.

It shows the one freshness function's answer (``scout_jupyter.manifest.freshness``); it never
computes its own. Used alone, by ``%scout status`` and after a load.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from ..clock import SYSTEM_CLOCK
from ..manifest import FRESHNESS_STATES, freshness
from . import format as fmt
from .static import StaticRepr

HERE = Path(__file__).parent


class FreshnessBadge(StaticRepr, anywidget.AnyWidget):
    _esm = HERE / "badge.js"
    _css = HERE / "scout.css"

    freshness = traitlets.Enum(FRESHNESS_STATES, default_value="unknown").tag(sync=True)
    label = traitlets.Unicode("? unknown").tag(sync=True)
    words = traitlets.Unicode("").tag(sync=True)
    hover = traitlets.Unicode("").tag(sync=True)  # not "tooltip": DOMWidget has that trait

    @classmethod
    def of(
        cls, last_modified: str | None, update_frequency: str | None, now: datetime | None = None, **kwargs: Any
    ) -> FreshnessBadge:
        """The badge of a dataset's ``last_modified`` and ``update_frequency`` at ``now``."""
        now = now or SYSTEM_CLOCK.now()
        state = freshness(last_modified, update_frequency, now)
        return cls(
            freshness=state,
            label=fmt.freshness_label(state),
            words=fmt.freshness_words(state, last_modified, update_frequency, now),
            hover=f"{state}: last modified {fmt.absolute(last_modified)}",
            **kwargs,
        )

    def static_html(self) -> str:
        return fmt.badge_html(self.freshness, self.words, self.hover)

    def static_text(self) -> str:
        return f"[{self.label} · {self.words}]"
