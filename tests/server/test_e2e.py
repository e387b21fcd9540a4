"""The issue's "Must show" against real processes: a started ``jupyter server`` (the extension
enabled by its installed config) and the standalone ``jupyter scout``, called like curl would."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.fixtures.store import store_factory

pytestmark = pytest.mark.slow
TOKEN = "e2e-token"
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, command: list[str], workdir: Path, store_url: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        env = {**os.environ, "SCOUT_STORAGE_URL": store_url, "JUPYTER_DATA_DIR": str(workdir / "data"),
               "JUPYTER_RUNTIME_DIR": str(workdir / "runtime"), "PYTHONPATH": str(REPO),
               "SCOUT_ACCESS_LOG_URL": f"sqlite:///{workdir / 'access.sqlite'}"}
        for name in ("SCOUT_API_URL", "SCOUT_API_TOKEN", "SCOUT_RATE_LIMIT", "SCOUT_MAX_TTL"):
            env.pop(name, None)
        self.log = workdir / "server.log"
        args = [*command, "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={self.port}",
                "--ServerApp.port_retries=0", f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={workdir}"]
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(args, env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
        self._wait()

    def _wait(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:  # waiting for a process to come up, not for time to pass
            assert self.process.poll() is None, self.log.read_text(errors="replace")[-3000:]
            try:
                requests.get(self.url + "api/status", timeout=2)
                return
            except requests.ConnectionError:
                time.sleep(0.2)
        raise AssertionError(f"server did not start: {self.log.read_text(errors='replace')[-3000:]}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def store(tmp_path):
    return store_factory(tmp_path / "bucket")


def check_must_show(server: Server, store, route: str, auth: str) -> None:
    answer = requests.get(f"{server.url}{route}", params={"dataset": "gold/txn_daily", "ttl": "3600"},
                          headers={"Authorization": f"{auth} {TOKEN}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"signed_url", "expires_at", "dataset_info"}
    assert set(body["dataset_info"]) == {"row_count", "size_bytes", "last_updated", "sha256"}
    assert body["signed_url"].startswith(f"{server.url}scout/files/")
    download = requests.get(body["signed_url"], timeout=30)  # no token
    assert download.status_code == 200
    expected = store.manifest.get("gold/txn_daily").sha256
    assert hashlib.sha256(download.content).hexdigest() == expected == body["dataset_info"]["sha256"]
    assert requests.get(f"{server.url}{route}", params={"dataset": "gold/txn_daily"}, timeout=30).status_code == 403


def test_jupyter_server_answers_curl_with_the_original_shape(tmp_path, store):
    server = Server([sys.executable, "-m", "jupyter_server"], tmp_path, store.url)
    try:
        check_must_show(server, store, "scout/api/dataset-proxy", "token")
        check_must_show(server, store, "functions/v1/dataset-proxy", "Bearer")
        assert (tmp_path / "access.sqlite").exists()
        assert "kernels will reach this server at " + server.url in server.log.read_text()
    finally:
        server.stop()


def test_standalone_jupyter_scout(tmp_path, store):
    command = shutil.which("jupyter-scout", path=str(Path(sys.executable).parent))
    assert command, "the jupyter-scout script is installed with the package"
    server = Server([command], tmp_path, store.url)
    try:
        check_must_show(server, store, "scout/api/dataset-proxy", "token")
    finally:
        server.stop()
