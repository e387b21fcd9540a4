"""The one place that reads scout_jupyter's environment variables.

Storage backends read their own store's variables (AWS_*, SUPABASE_*) in their modules.
"""

from __future__ import annotations

import os

STORAGE_URL = "SCOUT_STORAGE_URL"
ACCESS_LOG_URL = "SCOUT_ACCESS_LOG_URL"
RATE_LIMIT = "SCOUT_RATE_LIMIT"
PREVIEW_RATE_LIMIT = "SCOUT_PREVIEW_RATE_LIMIT"
MAX_TTL = "SCOUT_MAX_TTL"
PUBLISH_CONFIG = "SCOUT_PUBLISH_CONFIG"
API_URL = "SCOUT_API_URL"
API_TOKEN = "SCOUT_API_TOKEN"
HUB_TOKEN = "JUPYTERHUB_API_TOKEN"
HUB_SERVICE_NAME = "JUPYTERHUB_SERVICE_NAME"  # set by JupyterHub for the services it starts
HUB_SERVICE_URL = "JUPYTERHUB_SERVICE_URL"
HUB_SERVICE_PREFIX = "JUPYTERHUB_SERVICE_PREFIX"
HUB_PUBLISH_GROUPS = "SCOUT_HUB_PUBLISH_GROUPS"  # hub groups allowed to publish (comma-separated)
HUB_ANALYTICS_GROUPS = "SCOUT_HUB_ANALYTICS_GROUPS"
PUBLISH_SCHEDULE = "SCOUT_PUBLISH_SCHEDULE"
CACHE_DIR = "SCOUT_CACHE_DIR"
CACHE_SIZE = "SCOUT_CACHE_SIZE"
SIGNING_KEY_FILE = "SCOUT_SIGNING_KEY_FILE"


def running_as_hub_service() -> bool:
    """Whether this process is a JupyterHub service with a URL (``jupyter scout`` under the hub)."""
    return env(HUB_SERVICE_NAME) is not None and env(HUB_SERVICE_URL) is not None


def env_list(name: str) -> list[str]:
    """A comma-separated variable as a list (empty when unset)."""
    return [part.strip() for part in (env(name) or "").split(",") if part.strip()]


def env(name: str, default: str | None = None) -> str | None:
    """The variable's value, or ``default`` when unset or empty."""
    value = os.environ.get(name)
    return value if value not in (None, "") else default


#: Where ``scout demo`` builds the demo warehouse, relative to the current (or server root) folder;
#: publish jobs with no configured definitions publish the demo's datasets from it.
DEMO_WAREHOUSE = os.path.join(".scout", "demo", "warehouse.sqlite")
