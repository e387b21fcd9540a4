"""``jupyter scout`` as a JupyterHub service: hub identities, hub permissions.

Under JupyterHub the dataset service is a hub-managed service (``c.JupyterHub.services``) and
the only process holding the storage credentials. Kernels call it through the hub's proxy at
``/services/<name>/`` with the token their server already has (``JUPYTERHUB_API_TOKEN``, sent
as ``Authorization: token …``); the hub answers who that is. So:

- :class:`ScoutHubIdentityProvider` (JupyterHub's own Jupyter Server identity provider) names
  every request by its hub user: rate limits and access-log rows are per hub user.
- :class:`ScoutHubAuthorizer` lets anyone with access to the service (the hub's
  ``access:services!service=<name>`` scope) list, load and sign; ``scout:publish`` and
  ``scout:analytics`` need a hub custom scope (``custom:scout:publish``,
  ``custom:scout:analytics``) or membership in a mapped group. Every other Jupyter Server
  resource (kernels, contents, terminals …) is refused: the service must never run user code.
- :func:`hub_service_config` is the ServerApp configuration taken from the variables the hub
  sets for a managed service (``JUPYTERHUB_SERVICE_URL``, ``JUPYTERHUB_SERVICE_PREFIX``);
  ``jupyter scout`` applies it by itself when it finds them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from jupyterhub.singleuser.extension import JupyterHubAuthorizer, JupyterHubIdentityProvider
from traitlets import List, Unicode, default

from .. import settings
from ..errors import ConfigError

#: the extension's resources every user of the service may use (list, load, sign)
OPEN_RESOURCES = ("scout:datasets",)


def running_as_hub_service(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this process was started by JupyterHub as a service with a URL."""
    if environ is None:
        return settings.running_as_hub_service()
    return bool(environ.get(settings.HUB_SERVICE_NAME) and environ.get(settings.HUB_SERVICE_URL))


def hub_service_config(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The ServerApp settings of a hub-managed service: listen where the hub's proxy sends the
    service's requests, under its prefix, with hub authentication and no other extension."""
    env = os.environ if environ is None else environ
    service_url = env.get(settings.HUB_SERVICE_URL, "")
    url = urlsplit(service_url)
    if url.scheme != "http" or not url.hostname or not url.port:
        raise ConfigError(
            f'{settings.HUB_SERVICE_URL} must be http://host:port (the service\'s "url" in '
            f"c.JupyterHub.services), got {service_url!r}"
        )
    return {
        "ip": url.hostname,
        "port": url.port,
        "port_retries": 0,  # the hub's proxy routes to exactly this port
        "base_url": env.get(settings.HUB_SERVICE_PREFIX) or f"/services/{env.get(settings.HUB_SERVICE_NAME)}/",
        "open_browser": False,
        # behind the hub's proxy: the signed URLs' scheme and host, and the access log's client
        # address, are the ones the proxy was asked for (X-Forwarded-*), not the proxy's own
        "trust_xheaders": True,
        # the hub's public name reaches a loopback-bound service in the Host header; hub
        # authentication, not Jupyter's DNS-rebinding check, guards it (as for the users' servers)
        "allow_remote_access": True,
        "identity_provider_class": ScoutHubIdentityProvider,
        "authorizer_class": ScoutHubAuthorizer,
        "jpserver_extensions": {"scout_jupyter": True},
    }


class ScoutHubIdentityProvider(JupyterHubIdentityProvider):
    """The caller's hub user (token or hub OAuth cookie), checked for access to this service."""


class ScoutHubAuthorizer(JupyterHubAuthorizer):
    """Hub permissions mapped onto the extension's ``scout:*`` resources."""

    publish_scope = Unicode(
        "custom:scout:publish",
        help="""Hub scope (a custom scope defined in
        c.JupyterHub.custom_scopes) that allows starting publish jobs and reading their status
        (scout:publish). Empty: only publish_groups decide.""",
    ).tag(config=True)
    analytics_scope = Unicode(
        "custom:scout:analytics",
        help="""Hub scope that allows reading the
        access analytics (scout:analytics). Empty: only analytics_groups decide.""",
    ).tag(config=True)
    publish_groups = List(
        Unicode(),
        help=f"""Hub groups whose members may publish, whatever their
        scopes (env {settings.HUB_PUBLISH_GROUPS}, comma-separated).""",
    ).tag(config=True)
    analytics_groups = List(
        Unicode(),
        help=f"""Hub groups whose members may read the access
        analytics (env {settings.HUB_ANALYTICS_GROUPS}, comma-separated).""",
    ).tag(config=True)

    @default("publish_groups")
    def _default_publish_groups(self) -> list[str]:
        return settings.env_list(settings.HUB_PUBLISH_GROUPS)

    @default("analytics_groups")
    def _default_analytics_groups(self) -> list[str]:
        return settings.env_list(settings.HUB_ANALYTICS_GROUPS)

    def _grants(self, resource: str) -> tuple[str, list[str]] | None:
        if resource == "scout:publish":
            return self.publish_scope, self.publish_groups
        if resource == "scout:analytics":
            return self.analytics_scope, self.analytics_groups
        return None

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        hub_user = getattr(user, "hub_user", None)
        if not hub_user or not self.hub_auth.check_scopes(self.hub_auth.access_scopes, hub_user):
            return False  # no access to the service at all
        if resource in OPEN_RESOURCES:
            return True
        grants = self._grants(resource)
        if grants is None:
            return False  # kernels, contents, terminals, …: never on the credential holder
        scope, groups = grants
        if scope and self.hub_auth.check_scopes({scope}, hub_user):
            return True
        return bool(set(groups) & set(hub_user.get("groups") or ()))

    def denial(self, user: Any, resource: str) -> str:
        """The one-line 403 message for ``resource``: what permission it takes."""
        name = getattr(user, "username", None) or "this user"
        grants = self._grants(resource)
        if user is None or resource in OPEN_RESOURCES:
            scopes = " or ".join(sorted(self.hub_auth.access_scopes)) or "access to the service"
            who = f"{name} has no" if user is not None else "no hub login or token with"
            return f"Access denied: {who} access to the Scout service (it takes the hub scope {scopes})"
        if grants is None:
            return f"Access denied: the Scout service does not serve {resource}"
        scope, groups = grants
        needs = " or ".join(
            [f"the hub scope {scope}"] * bool(scope) + [f"membership in hub group {', '.join(groups)}"] * bool(groups)
        )
        what = "publish" if resource == "scout:publish" else "read the access analytics"
        return f"Access denied: {name} may not {what} (it takes {needs or 'a hub permission'}; ask a hub admin)"
