"""A server started in a folder that holds no demo warehouse publishes the demo store that
``scout demo`` built elsewhere: it finds the warehouse through the record beside the store."""

from __future__ import annotations

import asyncio
import json

import pytest

from scout_jupyter.cli import main

from .helpers import fetch_json

pytestmark = pytest.mark.slow


@pytest.fixture
def scout_config(scout_config, tmp_path, monkeypatch, capsys):
    build = tmp_path / "somewhere-else"
    build.mkdir()
    monkeypatch.chdir(build)
    monkeypatch.setenv("SCOUT_SIGNING_KEY_FILE", scout_config["signing_key_file"])
    assert main(["demo", "--store", str(tmp_path / "demo-store"), "--scale", "0.05", "--json"]) == 0
    capsys.readouterr()
    monkeypatch.chdir(tmp_path)
    scout_config["storage_url"] = (tmp_path / "demo-store").as_uri()
    return scout_config


async def test_publish_job_succeeds_from_a_server_root_without_the_warehouse(jp_fetch, jp_root_dir, scout_ext):
    assert not (jp_root_dir / ".scout").exists()
    response = await jp_fetch(
        "scout", "api", "publish", method="POST", body=json.dumps({"datasets": ["gold/txn_daily", "gold/demographics"]})
    )
    job_id = json.loads(response.body)["job_id"]
    job = await asyncio.get_running_loop().run_in_executor(None, scout_ext.service.jobs.wait, job_id, 120.0)
    status = await fetch_json(jp_fetch, "scout", "api", "jobs", job_id)
    assert job.done.is_set() and status["state"] == "succeeded", status
    assert [(d["id"], d["state"], d["bytes_uploaded"]) for d in status["datasets"]] == [
        ("gold/txn_daily", "succeeded", 0),
        ("gold/demographics", "succeeded", 0),
    ]
