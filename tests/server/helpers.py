"""Small helpers shared by the server tests."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPResponse


async def fetch_json(jp_fetch, *parts: str, **kwargs: Any) -> Any:
    response = await jp_fetch(*parts, **kwargs)
    return json.loads(response.body)


async def fetch_error(jp_fetch, *parts: str, **kwargs: Any) -> tuple[int, dict, HTTPResponse]:
    """The status, JSON body and response of a request that must fail."""
    with pytest.raises(HTTPClientError) as caught:
        await jp_fetch(*parts, **kwargs)
    response = caught.value.response
    assert response is not None
    assert response.headers["Content-Type"].startswith("application/json")
    return caught.value.code, json.loads(response.body), response


async def sign(jp_fetch, dataset: str = "gold/txn_daily", ttl: str = "60", **params: str) -> dict:
    return await fetch_json(
        jp_fetch, "scout", "api", "dataset-proxy", params={"dataset": dataset, "ttl": ttl, **params}
    )


async def get_url(url: str, method: str = "GET", **kwargs: Any) -> HTTPResponse:
    """A request with no Jupyter credentials at all (a signed URL's own client)."""
    client = AsyncHTTPClient(force_instance=True)
    try:
        return await client.fetch(url, method=method, raise_error=False, allow_nonstandard_methods=True, **kwargs)
    finally:
        client.close()


def signature_parts(url: str) -> tuple[str, str, str]:
    """``(path, expires, scout_auth)`` of a signed URL."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    return parts.path, query["expires"][0], query["scout_auth"][0]


def with_query(url: str, path: str | None = None, expires: str | None = None, sig: str | None = None) -> str:
    parts = urlsplit(url)
    old_path, old_expires, old_sig = signature_parts(url)
    query = f"expires={expires or old_expires}&scout_auth={sig or old_sig}"
    return f"{parts.scheme}://{parts.netloc}{path or old_path}?{query}"
