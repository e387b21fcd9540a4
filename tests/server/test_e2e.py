"""The issue's "Must show" against real processes: a started ``jupyter server`` and the
standalone ``jupyter scout``, called like curl would (the launcher is B6's)."""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

import pytest
import requests

from bench.bench_server import jupyter_server
from tests.fixtures.store import store_factory

pytestmark = pytest.mark.slow
TOKEN = "e2e-token"


@pytest.fixture
def store(tmp_path):
    return store_factory(tmp_path / "bucket")


def check_must_show(url: str, store, route: str, auth: str) -> None:
    answer = requests.get(
        f"{url}{route}",
        params={"dataset": "gold/txn_daily", "ttl": "3600"},
        headers={"Authorization": f"{auth} {TOKEN}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"signed_url", "expires_at", "dataset_info"}
    assert set(body["dataset_info"]) == {"row_count", "size_bytes", "last_updated", "sha256"}
    assert body["signed_url"].startswith(f"{url}scout/files/")
    download = requests.get(body["signed_url"], timeout=30)  # no token
    assert download.status_code == 200
    expected = store.manifest.get("gold/txn_daily").sha256
    assert hashlib.sha256(download.content).hexdigest() == expected == body["dataset_info"]["sha256"]
    assert requests.get(f"{url}{route}", params={"dataset": "gold/txn_daily"}, timeout=30).status_code == 403


def test_jupyter_server_answers_curl_with_the_original_shape(tmp_path, store):
    log_url = f"sqlite:///{tmp_path / 'access.sqlite'}"
    with jupyter_server(tmp_path, store.url, log_url, token=TOKEN, log_level="INFO") as url:
        check_must_show(url, store, "scout/api/dataset-proxy", "token")
        check_must_show(url, store, "functions/v1/dataset-proxy", "Bearer")
    assert (tmp_path / "access.sqlite").exists()
    assert f"kernels will reach this server at {url}" in (tmp_path / "server.log").read_text()


def test_standalone_jupyter_scout(tmp_path, store):
    command = shutil.which("jupyter-scout", path=str(Path(sys.executable).parent))
    assert command, "the jupyter-scout script is installed with the package"
    with jupyter_server(
        tmp_path, store.url, f"sqlite:///{tmp_path / 'access.sqlite'}", command=[command], token=TOKEN
    ) as url:
        check_must_show(url, store, "scout/api/dataset-proxy", "token")
