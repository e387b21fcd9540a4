"""Every route of ``route_table()`` refuses a request without credentials — except the signed
download, whose signature is its only credential — walked from the table itself, so a route
added later is covered without editing this file."""

from __future__ import annotations

import json
import re

import pytest

from scout_jupyter.server.handlers import ScoutHandler, SignedFileHandler, route_table

#: a sample value for each capture group of a route pattern
SAMPLE_GROUP = re.compile(r"\([^)]*\)")


def concrete_path(pattern: str) -> list[str]:
    """``/scout/api/datasets/([^/]+)/([^/]+)`` → path parts with real-looking values."""
    values = iter(["gold", "txn_daily", "x"])
    filled = SAMPLE_GROUP.sub(lambda _m: next(values), pattern)
    return [part for part in filled.split("/") if part]


def methods_of(handler: type[ScoutHandler]) -> list[str]:
    return [
        m
        for m in ("GET", "POST", "PUT", "DELETE", "HEAD")
        if getattr(handler, m.lower()) is not getattr(ScoutHandler, m.lower())
    ]


ROUTES = [(pattern, handler, method) for pattern, handler in route_table() for method in methods_of(handler)]


def test_the_walk_covers_every_route():
    patterns = {pattern for pattern, _handler, _method in ROUTES}
    assert patterns == {pattern for pattern, _handler in route_table()}
    assert any(p.endswith("/preview") for p in patterns) and any(p.endswith("/permissions") for p in patterns)


@pytest.mark.parametrize(
    "pattern, handler, method",
    [r for r in ROUTES if r[1] is not SignedFileHandler],
    ids=lambda v: v if isinstance(v, str) else getattr(v, "__name__", str(v)),
)
async def test_route_refuses_a_request_without_credentials(jp_fetch, pattern, handler, method):
    response = await jp_fetch(
        *concrete_path(pattern),
        method=method,
        params={"dataset": "gold/txn_daily"},
        body="{}" if method in ("POST", "PUT") else None,
        headers={"Authorization": ""},
        raise_error=False,
    )
    assert response.code == 403
    if method != "HEAD":  # a HEAD answer has no body
        assert json.loads(response.body)["error"] == "access_denied"
    assert b"signed_url" not in response.body and b"rows" not in response.body and b"datasets" not in response.body


@pytest.mark.parametrize("method", methods_of(SignedFileHandler))
async def test_the_signed_download_is_the_one_open_route(jp_fetch, method):
    """Without a signature it is refused too, but by its signature check, not by Jupyter's login."""
    assert method in ("GET", "HEAD")
    response = await jp_fetch(
        "scout",
        "files",
        "scout",
        "v1",
        "gold",
        "txn_daily",
        "txn_daily_2024-08-10.csv",
        method=method,
        headers={"Authorization": ""},
        raise_error=False,
    )
    assert response.code == 403
    assert "/login" not in response.headers.get("Location", "")


def test_a_relaying_server_forwards_every_api_route():
    """Under JupyterHub a user's server relays /scout/api to the service: the sidebar's routes
    (preview, permissions, the manifest's HEAD) must be there too."""
    from scout_jupyter.server.relay import RelayHandler, relay_route_table

    relayed = {pattern for pattern, *_rest in relay_route_table()}
    served = {pattern for pattern, _handler in route_table() if not pattern.startswith("/scout/files/")}
    assert served <= relayed, served - relayed
    assert all(method in methods_of(RelayHandler) for method in ("GET", "HEAD", "POST"))
