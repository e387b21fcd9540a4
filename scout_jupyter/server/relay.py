"""A user's Jupyter server that holds no store: its ``/scout/api`` routes relay to the Scout service.

Under JupyterHub the credentials live in one service (``jupyter scout``, see :mod:`.hub`); the
single-user servers get its URL in ``SCOUT_API_URL`` from the spawner's environment. The sidebar
and widgets still call their own server's routes, so each route here forwards the request to
the service with the server's hub token (``JUPYTERHUB_API_TOKEN``, owned by the user): the
service sees the user's hub identity and permissions, and answers exactly as it would the
user's kernel. Nothing is cached or signed here.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

API = "/scout/api"
#: answer headers passed back to the caller
PASSED_HEADERS = ("Content-Type", "ETag", "Retry-After", "Cache-Control")
TIMEOUT = 60.0


class ScoutRelay:
    """Where to forward to, and with which token."""

    def __init__(self, service_url: str, token: str | None):
        self.base = service_url.rstrip("/") + "/"
        self.token = token
        self.host = urlsplit(service_url).netloc


class RelayHandler(APIHandler):
    """Forwards one route; ``resource`` is the scout resource the route stands for."""

    def initialize(self, resource: str) -> None:
        self.auth_resource = resource

    @property
    def relay(self) -> ScoutRelay:
        return self.settings["scout_relay"]

    @web.authenticated
    @authorized
    async def get(self, *_args: str) -> None:
        await self._forward()

    @web.authenticated
    @authorized
    async def head(self, *_args: str) -> None:
        """The manifest's ETag (the sidebar's conditional poll); tornado sends no body for HEAD."""
        await self._forward()

    @web.authenticated
    @authorized
    async def post(self, *_args: str) -> None:
        await self._forward()

    async def _forward(self) -> None:
        path = self.request.path[len(self.base_url) :] if self.request.path.startswith(self.base_url) else ""
        url = self.relay.base + path.lstrip("/") + (f"?{self.request.query}" if self.request.query else "")
        headers = {
            name: self.request.headers[name]
            for name in ("If-None-Match", "User-Agent", "Content-Type")
            if name in self.request.headers
        }
        if self.relay.token:
            headers["Authorization"] = f"token {self.relay.token}"
        request = HTTPRequest(
            url,
            method=self.request.method,
            headers=headers,
            follow_redirects=False,
            body=self.request.body if self.request.method == "POST" else None,
            request_timeout=TIMEOUT,
        )
        response = await AsyncHTTPClient().fetch(request, raise_error=False)
        if response.code == 599 or _from_proxy(response):
            self._unreachable(response.code)
            return
        self.set_status(response.code)
        for name in PASSED_HEADERS:
            if name in response.headers:
                self.set_header(name, response.headers[name])
        self.finish(response.body or b"")

    def _unreachable(self, code: int) -> None:
        why = "no connection" if code == 599 else f"HTTP {code} from the hub's proxy"
        self.set_status(503)
        self.set_header("Content-Type", "application/json")
        self.finish(
            json.dumps(
                {"error": "storage_unavailable", "message": f"Scout service unreachable at {self.relay.host} ({why})"}
            )
        )


def _from_proxy(response) -> bool:  # noqa: ANN001 - tornado's HTTPResponse
    """A 5xx that is not the service's JSON error: the proxy could not reach the service."""
    return response.code >= 500 and "json" not in response.headers.get("Content-Type", "")


def relay_route_table() -> list[tuple[str, type[RelayHandler], dict[str, str]]]:
    """The extension's API routes, each forwarded (``/scout/files`` URLs point at the service)."""
    datasets, publish = {"resource": "scout:datasets"}, {"resource": "scout:publish"}
    return [
        (f"{API}/manifest", RelayHandler, datasets),
        (f"{API}/datasets", RelayHandler, datasets),
        (f"{API}/datasets/([^/]+)/([^/]+)", RelayHandler, datasets),
        (f"{API}/datasets/([^/]+)/([^/]+)/preview", RelayHandler, datasets),
        (f"{API}/permissions", RelayHandler, datasets),
        (f"{API}/dataset-proxy", RelayHandler, datasets),
        ("/functions/v1/dataset-proxy", RelayHandler, datasets),
        (f"{API}/publish", RelayHandler, publish),
        (f"{API}/jobs", RelayHandler, publish),
        (f"{API}/jobs/([^/]+)", RelayHandler, publish),
        (f"{API}/access/analytics", RelayHandler, {"resource": "scout:analytics"}),
    ]
