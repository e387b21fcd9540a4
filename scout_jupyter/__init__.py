"""scout-jupyter: publish and use the Scout analytics datasets from Jupyter."""

from __future__ import annotations

__version__ = "0.1.0"
