"""Jupyter's own floor for B6a: a bare authenticated ``APIHandler`` answering constant JSON.

Loaded into the benchmark's server beside scout_jupyter (``--ServerApp.jpserver_extensions
bench.floor_extension=True``), so the dataset-proxy's throughput is compared with what the same
server, the same authentication and the same client manage for a route that does nothing.
"""

from __future__ import annotations

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web

ROUTE = "bench/floor"


class FloorHandler(APIHandler):
    @web.authenticated
    def get(self) -> None:
        self.finish({"ok": True})


def _jupyter_server_extension_points() -> list[dict]:
    return [{"module": "bench.floor_extension"}]


def _load_jupyter_server_extension(serverapp) -> None:
    base = serverapp.web_app.settings["base_url"]
    serverapp.web_app.add_handlers(".*$", [(url_path_join(base, ROUTE), FloorHandler)])
