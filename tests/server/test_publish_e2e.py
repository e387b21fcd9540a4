"""Publishing through the server with the real publisher: the demo definitions at a small scale,
found where `scout demo` puts its warehouse, into an empty store; then loading what it wrote."""

from __future__ import annotations

import asyncio
import hashlib
import json

import pytest

from scout_jupyter.demo import prepare_demo

from .helpers import fetch_error, fetch_json, get_url, sign

pytestmark = pytest.mark.slow


@pytest.fixture
def scout_config(scout_config, jp_root_dir, tmp_path):
    prepare_demo(jp_root_dir / ".scout" / "demo", scale=0.05)  # where `scout demo` builds it
    scout_config["storage_url"] = (tmp_path / "empty-store").as_uri()
    return scout_config


async def test_publish_the_demo_through_the_server_then_sign(jp_fetch, scout_ext, access_rows):
    code, body, _ = await fetch_error(jp_fetch, "scout", "api", "manifest")
    assert (code, body["error"]) == (404, "object_not_found") and "scout demo" in body["message"]
    response = await jp_fetch("scout", "api", "publish", method="POST", body=json.dumps({"datasets": None}))
    job_id = json.loads(response.body)["job_id"]
    job = await asyncio.get_running_loop().run_in_executor(None, scout_ext.service.jobs.wait, job_id, 120.0)
    status = job.to_json()
    assert status["state"] == "succeeded", status
    assert len(status["datasets"]) == 9 and all(d["state"] == "succeeded" for d in status["datasets"])
    assert all(d["bytes_uploaded"] > 0 for d in status["datasets"])
    # the new manifest is served at once (the job invalidated the cache)
    listed = await fetch_json(jp_fetch, "scout", "api", "datasets")
    assert len(listed["datasets"]) == 9
    manifest = json.loads((await jp_fetch("scout", "api", "manifest")).body)
    grant = await sign(jp_fetch, dataset="gold/basket_patterns")
    download = await get_url(grant["signed_url"])
    expected = manifest["datasets"]["gold/basket_patterns"]["sha256"]
    assert hashlib.sha256(download.body).hexdigest() == expected == grant["dataset_info"]["sha256"]
    parquet = await sign(jp_fetch, dataset="platinum/store_perf", format="parquet")
    assert parquet["dataset_info"]["sha256"] == manifest["datasets"]["platinum/store_perf"]["parquet_sha256"]
    assert hashlib.sha256((await get_url(parquet["signed_url"])).body).hexdigest() == parquet["dataset_info"]["sha256"]
    assert [r["status"] for r in access_rows(action="publish")] == [202]
