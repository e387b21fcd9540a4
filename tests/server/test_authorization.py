"""RELIABILITY.md row 2: authenticated but not authorized.

pytest-jupyter's authorizer asserts that each handler asks for the action (read for GET,
write for POST) and the resource its URL maps to below; a wrong pair would fail the request
with a 500 instead of the 403/200 checked here.
"""

from __future__ import annotations

import json

import pytest

from .helpers import fetch_error

RESOURCES = {
    r"/scout/api/manifest": "scout:datasets",
    r"/scout/api/datasets": "scout:datasets",
    r"/scout/api/datasets/[^/]+/[^/]+": "scout:datasets",
    r"/scout/api/dataset-proxy": "scout:datasets",
    r"/functions/v1/dataset-proxy": "scout:datasets",
    r"/scout/api/publish": "scout:publish",
    r"/scout/api/jobs": "scout:publish",
    r"/scout/api/jobs/[^/]+": "scout:publish",
    r"/scout/api/access/analytics": "scout:analytics",
}
CALLS = [
    ("GET", ("scout", "api", "manifest"), {}, "scout:datasets"),
    ("GET", ("scout", "api", "datasets"), {}, "scout:datasets"),
    ("GET", ("scout", "api", "datasets", "gold", "txn_daily"), {}, "scout:datasets"),
    ("GET", ("scout", "api", "dataset-proxy"), {"dataset": "gold/txn_daily"}, "scout:datasets"),
    ("GET", ("functions", "v1", "dataset-proxy"), {"dataset": "gold/txn_daily"}, "scout:datasets"),
    ("POST", ("scout", "api", "publish"), {}, "scout:publish"),
    ("GET", ("scout", "api", "jobs"), {}, "scout:publish"),
    ("GET", ("scout", "api", "access", "analytics"), {}, "scout:analytics"),
]


@pytest.fixture
def jp_server_auth_resources():
    return RESOURCES


@pytest.fixture
def jp_server_config(jp_server_config, jp_server_authorizer):
    jp_server_config["ServerApp"]["authorizer_class"] = jp_server_authorizer
    return jp_server_config


@pytest.fixture
def scout_config(scout_config):
    scout_config["publisher"] = lambda datasets, on_progress: None
    return scout_config


@pytest.mark.parametrize("method, parts, params, resource", CALLS)
async def test_denied_without_permission(jp_fetch, jp_server_authorizer, access_rows, method, parts, params, resource):
    jp_server_authorizer.permissions = {
        "actions": ["read", "write"],
        "resources": [r for r in set(RESOURCES.values()) if r != resource],
    }
    code, body, response = await fetch_error(
        jp_fetch, *parts, method=method, params=params, body="{}" if method == "POST" else None
    )
    assert code == 403 and body["error"] == "access_denied" and resource in body["message"]
    assert b"signed_url" not in response.body
    assert all(r["action"] == "deny" for r in access_rows())


@pytest.mark.parametrize("method, parts, params, resource", CALLS)
async def test_allowed_with_exactly_that_permission(
    jp_fetch, jp_server_authorizer, scout_ext, method, parts, params, resource
):
    action = "write" if method == "POST" else "read"
    jp_server_authorizer.permissions = {"actions": [action], "resources": [resource]}
    response = await jp_fetch(*parts, method=method, params=params, body="{}" if method == "POST" else None)
    assert response.code in (200, 202)
    if method == "POST":
        scout_ext.service.jobs.wait(json.loads(response.body)["job_id"])


async def test_read_permission_does_not_allow_publishing(jp_fetch, jp_server_authorizer):
    jp_server_authorizer.permissions = {"actions": ["read"], "resources": ["scout:publish"]}
    code, body, _ = await fetch_error(jp_fetch, "scout", "api", "publish", method="POST", body="{}")
    assert code == 403 and "write" in body["message"]


async def test_job_status_needs_publish_read(jp_fetch, jp_server_authorizer, scout_ext):
    jp_server_authorizer.permissions = {"actions": ["read", "write"], "resources": ["scout:publish"]}
    job_id = json.loads((await jp_fetch("scout", "api", "publish", method="POST", body="{}")).body)["job_id"]
    scout_ext.service.jobs.wait(job_id)
    assert (await jp_fetch("scout", "api", "jobs", job_id)).code == 200
    jp_server_authorizer.permissions = {"actions": ["read"], "resources": ["scout:datasets"]}
    code, _, _ = await fetch_error(jp_fetch, "scout", "api", "jobs", job_id)
    assert code == 403
