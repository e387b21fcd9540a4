"""B6 of PERFORMANCE.md: the dataset proxy under load.

A real ``jupyter server`` process with only the scout_jupyter extension, its access log on
(SQLite WAL by default, or PostgreSQL with ``--log-url``), the rate limit raised. 20 concurrent
clients (one asyncio loop, keep-alive connections, the session cookie kept) sign 2,000 times; the figures are
throughput, p50/p99 latency, and the number of rows the log holds afterwards (must be exactly
2,000). A warm-up of 100 signs (ttl 30) comes first and is not counted.

``python -m bench.bench_server [--log-url URL]`` runs it alone and prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token"
CLIENTS, SIGNS, WARMUP = 20, 2000, 100
OTHER_EXTENSIONS = ("jupyterlab", "jupyter_lsp", "notebook_shim", "jupyter_server_terminals", "nbclassic",
                    "notebook")


def make_store(folder: Path) -> str:
    """A one-dataset local store (the proxy's cost does not depend on the data)."""
    from scout_jupyter.clock import SYSTEM_CLOCK, isoformat_z
    from scout_jupyter.manifest import DatasetEntry, Manifest, dataset_key, latest_manifest_key
    from scout_jupyter.storage.local import LocalStorage

    storage = LocalStorage(folder.as_uri())
    data = b"date_key,store_code,revenue\n" + b"".join(b"2024-08-10,%04d,%d.5\n" % (i, i) for i in range(1000))
    key = dataset_key("gold/txn_daily", "2024-08-10")
    storage.write(key, data)
    entry = DatasetEntry(id="gold/txn_daily", latest_csv="/" + key, date="2024-08-10", row_count=1000,
                         sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data),
                         last_modified=isoformat_z(SYSTEM_CLOCK.now()), description="bench", update_frequency="daily")
    storage.write(latest_manifest_key(), Manifest.build([entry]).to_bytes())
    return storage.url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def jupyter_server(workdir: Path, store_url: str, log_url: str, *, command: list[str] | None = None,
                   token: str = TOKEN, log_level: str = "WARN", env: dict[str, str] | None = None) -> Iterator[str]:
    """A real server process (``jupyter server``, or ``command`` such as ``jupyter-scout``) with only
    the scout_jupyter extension, the rate limit raised; yields its URL once the routes answer."""
    port = free_port()
    environ = {**os.environ, "SCOUT_STORAGE_URL": store_url, "SCOUT_ACCESS_LOG_URL": log_url,
               "SCOUT_RATE_LIMIT": "1000000/minute", "JUPYTER_DATA_DIR": str(workdir / "data"),
               "JUPYTER_RUNTIME_DIR": str(workdir / "runtime"), "PYTHONPATH": str(ROOT), **(env or {})}
    for name in ("SCOUT_API_URL", "SCOUT_API_TOKEN", "SCOUT_MAX_TTL"):
        environ.pop(name, None)
    disable = [arg for name in OTHER_EXTENSIONS for arg in ("--ServerApp.jpserver_extensions", f"{name}=False")]
    args = [*(command or [sys.executable, "-m", "jupyter_server"]), "--no-browser", "--allow-root",
            "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={workdir}", f"--ServerApp.log_level={log_level}", *disable]
    log_path = workdir / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(args, env=environ, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}/"
            _wait_until_up(process, url, token, log_path)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_up(process: subprocess.Popen, url: str, token: str, log_path: Path, timeout: float = 90.0) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:  # waiting for a process to come up, not for time to pass
        if process.poll() is not None:
            raise RuntimeError(f"jupyter server exited:\n{log_path.read_text(errors='replace')[-3000:]}")
        try:
            if requests.get(url + "scout/api/datasets", headers={"Authorization": f"token {token}"},
                            timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"jupyter server did not start:\n{log_path.read_text(errors='replace')[-3000:]}")


class KeepAliveClient:
    """One HTTP/1.1 connection reused for GETs, keeping the session cookie (as requests.Session
    does). tornado's own client opens a connection per request, which would measure TCP set-up
    and Jupyter's per-login cookie work instead of the route."""

    def __init__(self, url: str, headers: dict[str, str]):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.headers = dict(headers)
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        lines = [f"GET {path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                 *(f"{k}: {v}" for k, v in self.headers.items()), "", ""]
        self.writer.write("\r\n".join(lines).encode("latin-1"))
        status = int((await self.reader.readline()).split()[1])
        answer: dict[str, str] = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "set-cookie":
                self.headers["Cookie"] = value.strip().split(";")[0]
            answer[name.strip().lower()] = value.strip()
        body = await self.reader.readexactly(int(answer.get("content-length", "0")))
        if answer.get("connection", "").lower() == "close":
            await self.close()
        return status, body

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()
            self.reader = self.writer = None


async def load(url: str, clients: int, total: int, ttl: int, token: str = TOKEN,
               dataset: str = "gold/txn_daily") -> tuple[list[float], float, dict[int, int]]:
    """``total`` signs spread over ``clients`` concurrent keep-alive clients:
    (latencies in s, elapsed s, count per status code)."""
    path = f"{urlsplit(url).path}scout/api/dataset-proxy?dataset={dataset}&ttl={ttl}"
    latencies: list[float] = []
    codes: dict[int, int] = {}

    async def one_client(n: int, count: int) -> None:
        client = KeepAliveClient(url, {"Authorization": f"token {token}", "User-Agent": f"bench-client-{n}"})
        try:
            for _ in range(count):
                started = time.perf_counter()
                status, _body = await client.get(path)
                latencies.append(time.perf_counter() - started)
                codes[status] = codes.get(status, 0) + 1
        finally:
            await client.close()

    share = [total // clients + (1 if i < total % clients else 0) for i in range(clients)]
    started = time.perf_counter()
    await asyncio.gather(*(one_client(n, count) for n, count in enumerate(share)))
    return latencies, time.perf_counter() - started, codes


def count_rows(log_url: str, ttl: int) -> int:
    from scout_jupyter.server.accesslog import AccessLog

    log = AccessLog(log_url)
    try:
        with log.engine.connect() as conn:
            query = sa.select(sa.func.count()).select_from(log.table).where(
                log.table.c.action == "sign", log.table.c.status == 200, log.table.c.ttl == ttl)
            return int(conn.execute(query).scalar())
    finally:
        log.engine.dispose()


def measure(log_url: str | None = None, clients: int = CLIENTS, signs: int = SIGNS) -> dict:
    with tempfile.TemporaryDirectory(prefix="scout-bench-server-") as tmp:
        workdir = Path(tmp)
        log_url = log_url or f"sqlite:///{workdir / 'access.sqlite'}"
        store_url = make_store(workdir / "bucket")
        with jupyter_server(workdir, store_url, log_url) as url:
            asyncio.run(load(url, clients, WARMUP, ttl=30))
            latencies, elapsed, codes = asyncio.run(load(url, clients, signs, ttl=60))
        rows = count_rows(log_url, ttl=60)
    ordered = sorted(latencies)
    return {
        "requests": len(latencies), "codes": codes, "seconds": elapsed, "throughput": len(latencies) / elapsed,
        "p50_ms": 1000 * statistics.median(ordered), "p99_ms": 1000 * ordered[int(0.99 * (len(ordered) - 1))],
        "rows": rows, "log": log_url.split(":", 1)[0],
    }


def run(quick: bool = True) -> list[dict]:
    """The B6 rows (the load is the same quick or not: the target is defined on 2,000 signs)."""
    got = measure()
    ok_codes = got["codes"] == {200: SIGNS}
    what = f"dataset-proxy, {SIGNS} signs from {CLIENTS} clients, access log on ({got['log']})"
    return [
        {"id": "B6", "what": f"{what}: throughput", "value": got["throughput"], "unit": "req/s",
         "target": ">= 500 req/s", "ok": got["throughput"] >= 500 and ok_codes},
        {"id": "B6", "what": f"{what}: p50 latency", "value": got["p50_ms"], "unit": "ms", "target": "(read)",
         "ok": None},
        {"id": "B6", "what": f"{what}: p99 latency", "value": got["p99_ms"], "unit": "ms", "target": "<= 25 ms",
         "ok": got["p99_ms"] <= 25},
        {"id": "B6", "what": f"{what}: log rows", "value": got["rows"], "unit": "rows",
         "target": f"== {SIGNS}", "ok": got["rows"] == SIGNS},
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_server", description=__doc__)
    parser.add_argument("--log-url", default=None, help="access-log URL (default: SQLite in a temp folder)")
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument("--signs", type=int, default=SIGNS)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.log_url, args.clients, args.signs), indent=2))


if __name__ == "__main__":
    main()
