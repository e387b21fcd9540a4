"""A real ``jupyter server`` process with the scout_jupyter extension, and kernels it starts.

Only the Scout extension is enabled (faster start). Kernels inherit the server's environment,
including the ``SCOUT_API_URL``/``SCOUT_API_TOKEN`` the extension exports once it listens.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
from jupyter_client import BlockingKernelClient

REPO = Path(__file__).resolve().parents[2]
OTHER_EXTENSIONS = ("jupyterlab", "jupyter_lsp", "notebook_shim", "jupyter_server_terminals", "nbclassic", "notebook")
TOKEN = "real-server-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class JupyterServerProcess:
    def __init__(self, workdir: Path, store_url: str, *, env: dict[str, str] | None = None):
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.runtime_dir = workdir / "runtime"
        self.log_path = workdir / "server.log"
        self.env = {
            **os.environ,
            "SCOUT_STORAGE_URL": store_url,
            "SCOUT_ACCESS_LOG_URL": f"sqlite:///{workdir / 'access.sqlite'}",
            "SCOUT_CACHE_DIR": str(workdir / "kernel-cache"),
            "JUPYTER_RUNTIME_DIR": str(self.runtime_dir),
            "JUPYTER_DATA_DIR": str(workdir / "data"),
            "PYTHONPATH": str(REPO),
            **(env or {}),
        }
        for name in ("SCOUT_API_URL", "SCOUT_API_TOKEN", "JUPYTERHUB_API_TOKEN"):
            self.env.pop(name, None)
        if env is None or "SCOUT_RATE_LIMIT" not in env:
            self.env.pop("SCOUT_RATE_LIMIT", None)  # the default applies unless a test sets one
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 90.0) -> JupyterServerProcess:
        disable = [arg for name in OTHER_EXTENSIONS for arg in ("--ServerApp.jpserver_extensions", f"{name}=False")]
        command = [
            sys.executable,
            "-m",
            "jupyter_server",
            "--no-browser",
            "--allow-root",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={TOKEN}",
            f"--ServerApp.root_dir={self.workdir}",
            *disable,
        ]
        self.log_file = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command, env=self.env, cwd=self.workdir, stdout=self.log_file, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:  # waiting for a process to come up, not for time to pass
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter server exited:\n{self.log()}")
            if b"kernels will reach this server" in self.log_path.read_bytes():
                return self
            time.sleep(0.1)
        raise RuntimeError(f"jupyter server did not start:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(
            method, self.url + path, headers={"Authorization": f"token {TOKEN}"}, timeout=30, **kwargs
        )

    def start_kernel(self) -> ServerKernel:
        kernel_id = self.api("POST", "api/kernels", json={"name": "python3"}).json()["id"]
        return ServerKernel(self, kernel_id)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None:
            self.log_file.close()


class ServerKernel:
    """A kernel the server started, driven through its connection file."""

    def __init__(self, server: JupyterServerProcess, kernel_id: str):
        self.server, self.kernel_id = server, kernel_id
        connection = server.runtime_dir / f"kernel-{kernel_id}.json"
        self.client = BlockingKernelClient()
        self.client.load_connection_info(json.loads(connection.read_text()))
        self.client.start_channels()
        self.client.wait_for_ready(timeout=90)

    def run(self, code: str, timeout: float = 90) -> dict[str, str]:
        """Execute ``code``; returns the text of stdout, stderr, results and errors."""
        out = {"stdout": "", "stderr": "", "result": "", "error": "", "traceback": ""}

        def collect(msg: dict) -> None:
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                out[content["name"]] += content["text"]
            elif kind == "execute_result":
                out["result"] += content["data"].get("text/plain", "")
            elif kind == "error":
                out["error"] += f"{content['ename']}: {content['evalue']}"
                out["traceback"] += "\n".join(content["traceback"]) + "\n"

        self.client.execute_interactive(code, output_hook=collect, timeout=timeout)
        return out

    def shutdown(self) -> None:
        self.client.stop_channels()
        self.server.api("DELETE", f"api/kernels/{self.kernel_id}")
