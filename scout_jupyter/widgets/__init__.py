"""The notebook widgets: the product's face inside a notebook. Built on the client API only.

```python
import scout_jupyter as scout
scout.browse()            # DatasetBrowser: badges, filter, sort, Load / Preview / Copy
scout.dashboard(days=7)   # AccessDashboard: plotly charts of the access log
scout.job(job_id)         # PublishPanel re-attached to a running publish job
```

Each view is an anywidget (ESM and CSS beside its class) or an ipywidgets 8 layout; each also
carries a static HTML and text repr for nbconvert, HTML exports and terminals.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .badge import FreshnessBadge
from .browser import DatasetBrowser
from .dashboard import AccessDashboard
from .publish import PublishPanel
from .status import StatusView

__all__ = [
    "AccessDashboard",
    "DatasetBrowser",
    "FreshnessBadge",
    "PublishPanel",
    "StatusView",
    "browse",
    "dashboard",
    "job",
    "publish_panel",
]


def browse(client: Any = None) -> DatasetBrowser:
    """The dataset browser over ``client`` (default: the module's client)."""
    return DatasetBrowser(client)


def dashboard(days: int = 7, client: Any = None) -> AccessDashboard:
    """Charts of the last ``days`` days of the access log."""
    return AccessDashboard(client, days=days)


def job(job_id: str, client: Any = None) -> PublishPanel:
    """A publish panel following job ``job_id`` (started earlier, perhaps by another kernel)."""
    return PublishPanel(client, job_id=job_id)


def publish_panel(datasets: Sequence[str] | None = None, *, start: bool = False, client: Any = None) -> PublishPanel:
    """A publish panel: a checklist and Start, or (``start=True``) the job of ``datasets`` at once."""
    return PublishPanel(client, datasets=datasets, start=start)
