"""Static fallbacks: every widget's display bundle also carries ``text/html`` and ``text/plain``.

A live JupyterLab renders the widget view (its renderer ranks first); nbconvert, an HTML export
or a front end without the widget manager shows the HTML; a terminal shows the text.
"""

from __future__ import annotations

from typing import Any

_STYLE = None


def static_style() -> str:
    """The widgets' stylesheet, inlined once per static HTML fragment (badges keep their colours)."""
    global _STYLE
    if _STYLE is None:
        from pathlib import Path

        _STYLE = (Path(__file__).parent / "scout.css").read_text(encoding="utf-8")
    return f"<style>{_STYLE}</style>"


class StaticRepr:
    """Mixin for an ipywidget: adds ``static_html()``/``static_text()`` to its mimebundle."""

    def static_html(self) -> str:
        raise NotImplementedError

    def static_text(self) -> str:
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        found = super()._repr_mimebundle_(**kwargs)  # type: ignore[misc]
        # anywidget answers (data, metadata); ipywidgets a dict
        data, metadata = found if isinstance(found, tuple) else (found or {}, {})
        data = {**data, "text/html": self._repr_html_(), "text/plain": self.static_text()}
        return (data, metadata) if metadata else data

    def _repr_html_(self) -> str:
        return f'<div class="scout-root">{static_style()}{self.static_html()}</div>'
