"""Static fallbacks: every widget's display bundle also carries ``text/html`` and ``text/plain``.

A live JupyterLab renders the widget view (its renderer ranks first); nbconvert, an HTML export
or a front end without the widget manager shows the HTML; a terminal shows the text.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any


@cache
def static_style() -> str:
    """The widgets' stylesheet, inlined in each static HTML fragment (badges keep their colours)."""
    return f"<style>{(Path(__file__).parent / 'scout.css').read_text(encoding='utf-8')}</style>"


class StaticRepr:
    """Mixin for an ipywidget: adds ``static_html()``/``static_text()`` to its mimebundle."""

    def static_html(self) -> str:
        raise NotImplementedError

    def static_text(self) -> str:
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        found = super()._repr_mimebundle_(**kwargs)  # type: ignore[misc]
        # anywidget answers (data, metadata); ipywidgets a dict
        data, metadata = found if isinstance(found, tuple) else (found or {}, {})
        data = {**data, "text/html": self._repr_html_(), "text/plain": self.static_text()}
        return (data, metadata) if metadata else data

    def _repr_html_(self) -> str:
        return f'<div class="scout-root">{static_style()}{self.static_html()}</div>'
