"""Errors that come from the proxy in front of the service (JupyterHub's), not from the service."""

from __future__ import annotations

import json

import pytest
import requests

from scout_jupyter.client.http import error_from_response
from scout_jupyter.errors import StorageUnavailable


def response(status: int, body: bytes, content_type: str) -> requests.Response:
    resp = requests.Response()
    resp.status_code, resp._content, resp.url = (
        status,
        body,
        "http://hub.example:8000/services/scout/scout/api/manifest",
    )
    resp.headers["Content-Type"] = content_type
    resp.reason = "Service Unavailable"
    return resp


@pytest.mark.parametrize("status", [502, 503, 504])
def test_a_proxy_page_means_the_service_is_unreachable(status):
    page = b"<!DOCTYPE html>\n<html><head><title>JupyterHub</title></head><body>503 : Service Unavailable</body></html>"
    error = error_from_response(response(status, page, "text/html"), "manifest")
    assert isinstance(error, StorageUnavailable)
    assert error.message == (
        f"Scout service unreachable at hub.example:8000 (HTTP {status} from the proxy in front of it)"
    )


def test_the_services_own_503_keeps_its_message():
    body = json.dumps({"error": "storage_unavailable", "message": "Store unreachable: s3 timed out"}).encode()
    error = error_from_response(response(503, body, "application/json"), "manifest")
    assert isinstance(error, StorageUnavailable) and error.message == "Store unreachable: s3 timed out"
