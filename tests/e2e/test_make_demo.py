"""``make demo`` as a user runs it, in the background on a free port: JupyterLab answers, the
extension's routes serve the demo store it published, the quickstart gives its answer, and a
publish job from the server succeeds; then the whole process group is stopped.

The demo store, its warehouse and every per-user folder go to a tmp directory (``STORE``,
``WAREHOUSE`` and a private HOME/JUPYTER_*); the venv is this test's own, taken as installed
(``make -o``), since installing is what the Binder test checks.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.fixtures.lab import DEMO_SCALE, REPO, free_port, private_env
from tests.fixtures.notebooks import cell_with, execute_notebooks, problems, text_of

pytestmark = pytest.mark.slow

START_TIMEOUT = 240.0  # demo build at scale 0.2 plus the server start, on a busy 2-core machine
STOP_TIMEOUT = 30.0


def read_runtime_file(runtime_dir: Path, port: int) -> dict | None:
    """The ``jpserver-<pid>.json`` the server wrote for ``port`` (its URL and token), if any."""
    for path in runtime_dir.glob("jpserver-*.json"):
        try:
            info = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # being written
        if info.get("port") == port:
            return info
    return None


def stop_group(process: subprocess.Popen) -> None:
    """SIGTERM to make's whole process group, SIGKILL if it outlives the deadline."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT)


class MakeDemo:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.port = free_port()
        self.env = private_env(tmp)
        self.env["BROWSER"] = "true"  # jupyter lab opens "a browser": the no-op command
        self.store = tmp / "store"
        self.log_path = tmp / "make-demo.log"
        venv = Path(sys.prefix)
        self.command = [
            "make",
            "-C",
            str(REPO),
            "-o",
            f"{venv}/.installed",
            "demo",
            f"VENV={venv}",
            f"PORT={self.port}",
            f"STORE={self.store}",
            f"WAREHOUSE={tmp / 'warehouse.sqlite'}",
            f"SCALE={DEMO_SCALE}",
        ]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                self.command, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.url = f"http://127.0.0.1:{self.port}/"
        self.token = ""

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def wait_until_serving(self) -> None:
        runtime = Path(self.env["JUPYTER_RUNTIME_DIR"])
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"make demo exited with {self.process.returncode}:\n{self.log()}")
            info = read_runtime_file(runtime, self.port)
            if info is not None:
                self.token = info["token"]
                try:
                    if self.api("GET", "api/status").status_code == 200:
                        return
                except requests.ConnectionError:
                    pass
            time.sleep(0.2)  # poll interval of a condition wait, bounded by the deadline
        raise AssertionError(f"make demo did not serve on port {self.port} within {START_TIMEOUT} s:\n{self.log()}")

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(
            method, self.url + path, headers={"Authorization": f"token {self.token}"}, timeout=30, **kwargs
        )


@pytest.fixture
def make_demo(tmp_path):
    demo = MakeDemo(tmp_path)
    try:
        demo.wait_until_serving()
        yield demo
    finally:
        stop_group(demo.process)


def wait_for_job(demo: MakeDemo, job_id: str, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = demo.api("GET", f"scout/api/jobs/{job_id}").json()
        if status["state"] in ("succeeded", "failed"):
            return status
        time.sleep(0.2)  # poll interval, bounded by the deadline
    raise AssertionError(f"publish job {job_id} did not finish within {timeout} s")


def test_make_demo_serves_jupyterlab_the_extension_and_the_quickstart(make_demo, tmp_path):
    demo = make_demo
    # JupyterLab, opening on the quickstart
    landing = demo.api("GET", "", allow_redirects=False)
    assert landing.status_code in (301, 302), landing.status_code
    assert landing.headers["Location"].split("?")[0] == "/lab/tree/notebooks/quickstart.ipynb", landing.headers
    lab = demo.api("GET", "lab/tree/notebooks/quickstart.ipynb")
    assert lab.status_code == 200 and "JupyterLab" in lab.text
    assert '"name": "scout-jupyter"' in lab.text  # the sidebar's labextension is in the page config

    # the extension's routes, over the store make demo published
    manifest = json.loads((demo.store / "scout/v1/manifests/latest.json").read_text())
    listed = demo.api("GET", "scout/api/datasets").json()["datasets"]
    assert sorted(d["id"] for d in listed) == sorted(manifest["datasets"]) and len(listed) == 9
    grant = demo.api("GET", "scout/api/dataset-proxy", params={"dataset": "gold/txn_daily", "ttl": "60"})
    assert (
        grant.status_code == 200
        and grant.json()["dataset_info"]["sha256"] == manifest["datasets"]["gold/txn_daily"]["sha256"]
    )
    assert (demo.store / "scout-demo.json").is_file()

    # the quickstart's answer, from a kernel that reaches this server as its own kernels do
    report = execute_notebooks(
        sys.executable,
        REPO / "notebooks",
        demo.url,
        demo.token,
        demo.env,
        tmp_path / "executed",
        notebooks=("quickstart.ipynb",),
    )
    quickstart = report["quickstart.ipynb"]
    assert problems(quickstart) == []
    rows = manifest["datasets"]["gold/txn_daily"]["row_count"]
    assert f"{rows} rows" in text_of(cell_with(quickstart, "%scout load gold/txn_daily"))

    # a publish job from the server finds the demo warehouse make demo built
    job = demo.api("POST", "scout/api/publish", json={"datasets": ["gold/demographics"]})
    assert job.status_code == 202, job.text
    status = wait_for_job(demo, job.json()["job_id"])
    assert status["state"] == "succeeded", status

    stop_group(demo.process)
    assert demo.process.returncode is not None
    with pytest.raises(requests.ConnectionError):
        requests.get(demo.url + "api/status", timeout=5)
