"""A small stand-in for the server extension's REST routes, with fault injection.

It serves a :class:`LocalStorage` the way DESIGN.md's contract says (manifest with ETag,
dataset-proxy, signed downloads, publish jobs, analytics) and lets a test script faults the real
server cannot be asked for: cut or corrupted download streams, 5xx/429 bursts, signatures that
expire between signing and downloading.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from scout_jupyter.errors import ScoutError
from scout_jupyter.manifest import Manifest, latest_manifest_key
from scout_jupyter.storage.local import FILES_ROUTE, LocalStorage

TOKEN = "test-token"


@dataclass
class Faults:
    #: route name → list of (status, headers, body) answered before the real answer
    scripted: dict[str, list[tuple[int, dict, dict]]] = field(default_factory=lambda: defaultdict(list))
    cut_downloads: int = 0  # next N downloads stop half way (Content-Length kept)
    corrupt_downloads: int = 0  # next N downloads have one byte flipped
    reject_signatures: int = 0  # next N downloads answer 403 (as if expired)
    down: bool = False  # every route answers 503 storage_unavailable

    def script(
        self, route: str, status: int, body: dict | None = None, headers: dict | None = None, times: int = 1
    ) -> None:
        self.scripted[route].extend([(status, headers or {}, body or {})] * times)


class FakeScoutServer:
    def __init__(self, storage: LocalStorage, token: str = TOKEN):
        self.storage = storage
        self.token = token
        self.faults = Faults()
        self.stopped = False
        self.calls: Counter[str] = Counter()
        self.jobs: dict[str, list[dict]] = {}
        self.polls: Counter[str] = Counter()
        self.published: list = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/"
        storage.public_base_url = self.url.rstrip("/") + FILES_ROUTE
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def __enter__(self) -> FakeScoutServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if not self.stopped:
            self.stopped = True
            self._httpd.shutdown()
            self._httpd.server_close()

    def manifest(self) -> Manifest:
        return Manifest.from_bytes(self.storage.read_bytes(latest_manifest_key()))

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                server._dispatch(self, "GET")

            def do_POST(self) -> None:
                server._dispatch(self, "POST")

        return Handler

    # --- routing ------------------------------------------------------------------------------
    def _dispatch(self, req, method: str) -> None:
        parts = urlsplit(req.path)
        path, query = unquote(parts.path), {k: v[0] for k, v in parse_qs(parts.query).items()}
        if path.startswith(FILES_ROUTE):
            return self._download(req, path[len(FILES_ROUTE) :], query)
        route = path.removeprefix("/scout/api/")
        name = route.split("/")[0]
        self.calls[name] += 1
        if req.headers.get("Authorization") != f"token {self.token}":
            return _json(req, 403, {"message": "Forbidden", "reason": None})
        if self.faults.down:
            return _json(req, 503, {"error": "storage_unavailable", "message": "Storage unreachable: test"})
        if self.faults.scripted[name]:
            status, headers, body = self.faults.scripted[name].pop(0)
            return _json(req, status, body, headers)
        try:
            handler = getattr(self, f"_{method.lower()}_{name.replace('-', '_')}")
            handler(req, route, query)
        except AttributeError:
            _json(req, 404, {"message": "Not Found"})
        except ScoutError as exc:
            _json(req, exc.status, exc.to_json())

    def _get_manifest(self, req, route, query) -> None:
        data = self.storage.read_bytes(latest_manifest_key())
        etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
        if req.headers.get("If-None-Match") == etag:
            req.send_response(304)
            req.send_header("ETag", etag)
            req.end_headers()
            return
        _send(req, 200, data, {"Content-Type": "application/json", "ETag": etag})

    def _get_datasets(self, req, route, query) -> None:
        manifest = self.manifest()
        _json(req, 200, {"datasets": [{"id": e.id, "freshness": e.freshness()} for e in manifest]})

    def _get_dataset_proxy(self, req, route, query) -> None:
        manifest = self.manifest()
        entry = manifest.get(query.get("dataset", ""))
        date = query.get("date")
        if date and date != entry.date:
            entry = self._snapshot_entry(entry.id, date)
        fmt = query.get("format", "csv")
        key = entry.parquet_key if fmt == "parquet" else entry.csv_key
        signed = self.storage.sign(key, int(query.get("ttl", "3600")))
        sha = entry.parquet_sha256 if fmt == "parquet" else entry.sha256
        size = entry.parquet_size_bytes if fmt == "parquet" else entry.size_bytes
        _json(
            req,
            200,
            {
                "signed_url": signed.url,
                "expires_at": signed.expires_at.isoformat(),
                "dataset_info": {
                    "row_count": entry.row_count,
                    "size_bytes": size,
                    "last_updated": entry.last_modified,
                    "sha256": sha,
                },
            },
        )

    def _snapshot_entry(self, dataset_id: str, date: str):
        from scout_jupyter.errors import DatasetNotFound

        for info in sorted(self.storage.list("scout/v1/manifests/"), key=lambda i: i.key, reverse=True):
            entry = Manifest.from_bytes(self.storage.read_bytes(info.key)).datasets.get(dataset_id)
            if entry is not None and entry.date == date:
                return entry
        raise DatasetNotFound(dataset_id, message=f"Dataset not found: {dataset_id} dated {date}")

    def _post_publish(self, req, route, query) -> None:
        body = json.loads(req.rfile.read(int(req.headers.get("Content-Length", "0"))) or b"{}")
        if any(self.polls[j] < len(steps) for j, steps in self.jobs.items()):
            return _json(req, 409, {"error": "publish_in_progress", "message": "A publish is already running"})
        job_id = f"job{len(self.jobs) + 1}"
        ids = body.get("datasets") or sorted(self.manifest().datasets)
        self.published.append(body.get("datasets"))

        def rows(state: str) -> list[dict]:
            return [{"id": i, "step": "verify", "state": state, "bytes_uploaded": 0, "error": None} for i in ids]

        base = {"job_id": job_id, "started_at": "2024-08-10T02:15:00.000Z", "finished_at": None}
        self.jobs[job_id] = [
            {**base, "state": "queued", "progress": 0.0, "datasets": rows("queued")},
            {**base, "state": "running", "progress": 0.5, "datasets": rows("running")},
            {
                **base,
                "state": "succeeded",
                "progress": 1.0,
                "datasets": rows("succeeded"),
                "finished_at": "2024-08-10T02:15:03.000Z",
            },
        ]
        _json(req, 200, {"job_id": job_id})

    def _get_jobs(self, req, route, query) -> None:
        job_id = route.split("/")[1]
        steps = self.jobs.get(job_id)
        if steps is None:
            return _json(req, 404, {"error": "not_found", "message": f"No job {job_id}"})
        index = min(self.polls[job_id], len(steps) - 1)
        self.polls[job_id] += 1
        _json(req, 200, steps[index])

    def _get_access(self, req, route, query) -> None:
        days = int(query.get("days", "7"))
        rows = [
            {
                "day": "2024-08-10",
                "dataset": "gold/txn_daily",
                "total_requests": 4,
                "unique_users": 2,
                "success_rate_percent": 75.0,
                "bytes_served": 1024,
                "days": days,
            }
        ]
        _json(req, 200, {"rows": rows})

    # --- signed downloads ---------------------------------------------------------------------
    def _download(self, req, key: str, query: dict) -> None:
        self.calls["download"] += 1
        if self.faults.reject_signatures:
            self.faults.reject_signatures -= 1
            return _json(req, 403, {"message": "Invalid or expired signature"})
        try:
            path = self.storage.open_signed(key, query.get("expires", ""), query.get("scout_auth", ""))
        except ScoutError as exc:
            return _json(req, exc.status, exc.to_json())
        data = path.read_bytes()
        if self.faults.corrupt_downloads:
            self.faults.corrupt_downloads -= 1
            data = data[:-2] + bytes([data[-2] ^ 0x01]) + data[-1:]
        if self.faults.cut_downloads:
            self.faults.cut_downloads -= 1
            req.send_response(200)
            req.send_header("Content-Length", str(len(data)))
            req.end_headers()
            req.wfile.write(data[: len(data) // 2])
            req.wfile.flush()
            req.close_connection = True
            return
        _send(req, 200, data, {"Content-Type": "text/csv"})


def _send(req, status: int, data: bytes, headers: dict) -> None:
    req.send_response(status)
    for name, value in headers.items():
        req.send_header(name, value)
    req.send_header("Content-Length", str(len(data)))
    req.end_headers()
    req.wfile.write(data)


def _json(req, status: int, body: dict, headers: dict | None = None) -> None:
    _send(req, status, json.dumps(body).encode(), {"Content-Type": "application/json", **(headers or {})})
