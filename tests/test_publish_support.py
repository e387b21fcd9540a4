"""Shared helpers for the publisher tests: a small SQLite warehouse, its TOML, storage wrappers
that fail the way stores fail. (No tests here; the other test_publish*.py files use these.)"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from scout_jupyter.errors import ObjectNotFound
from scout_jupyter.storage.base import ObjectInfo, Storage, iter_payload
from scout_jupyter.storage.retry import TransientError

SMALL_TOML = """
[source]
url = "sqlite:///small.sqlite"

[publish]
chunk_size = {chunk_size}
guard_csv_formulas = {guard}
{namespaces}

[[datasets]]
id = "gold/sales"
description = "Sales per day and store"
update_frequency = "daily"
query = '''SELECT day AS date_key, store, SUM(amount) AS revenue, COUNT(*) AS lines FROM sales
           GROUP BY day, store ORDER BY day, store'''

[[datasets]]
id = "gold/notes"
description = "Free-text notes"
update_frequency = "weekly"
query = "SELECT id, note, code FROM notes ORDER BY id"

[[datasets]]
id = "platinum/scores"
description = "Scores from a Python function"
update_frequency = "daily"
callable = "tests.test_publish_support:scores"
"""


def build_small_warehouse(folder: Path, *, rows: int = 600, notes: list[tuple] | None = None) -> Path:
    path = folder / "small.sqlite"
    if path.exists():
        path.unlink()
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE sales (day TEXT, store TEXT, amount REAL)")
        db.executemany(
            "INSERT INTO sales VALUES (?, ?, ?)",
            [(f"2024-08-{1 + i % 9:02d}", f"{i % 7:04d}", round(10 + (i * 37 % 101) / 4, 2)) for i in range(rows)],
        )
        db.execute("CREATE TABLE notes (id INTEGER, note TEXT, code TEXT)")
        db.executemany(
            "INSERT INTO notes VALUES (?, ?, ?)",
            notes
            or [
                (1, "plain", "007"),
                (2, '=HYPERLINK("http://x")', "010"),
                (3, "-5 is text", None),
                (4, 'comma, and "quote"', "100"),
            ],
        )
    return path


def write_small_config(
    folder: Path, *, chunk_size: int = 100, guard: bool = False, namespaces: list[str] | None = None
) -> Path:
    ns = "namespaces = [" + ", ".join(f'"{n}"' for n in namespaces) + "]" if namespaces else ""
    path = folder / "datasets.toml"
    path.write_text(SMALL_TOML.format(chunk_size=chunk_size, guard=str(guard).lower(), namespaces=ns))
    return path


def scores(connection):
    """A callable dataset: yields two chunks built from the warehouse."""
    frame = pd.read_sql(
        "SELECT store, COUNT(*) AS n, AVG(amount) AS mean FROM sales GROUP BY store ORDER BY store", connection
    )
    half = len(frame) // 2
    yield frame.iloc[:half].assign(top=lambda f: f["n"] > 80)
    yield frame.iloc[half:].assign(top=lambda f: f["n"] > 80)


class WrappedStorage(Storage):
    """Delegates to ``inner``; subclasses override one method to misbehave."""

    scheme = "wrapped"

    def __init__(self, inner: Storage):
        super().__init__(inner.url)
        self.inner = inner
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def _seen(self, op: str, key: str) -> None:
        with self._lock:
            self.calls.append((op, key))

    def iter_bytes(self, key, **kw):
        self._seen("iter_bytes", key)
        return self.inner.iter_bytes(key, **kw)

    def write(self, key, data, **kw) -> ObjectInfo:
        self._seen("write", key)
        return self.inner.write(key, data, **kw)

    def info(self, key) -> ObjectInfo:
        self._seen("info", key)
        return self.inner.info(key)

    def list(self, prefix=""):
        self._seen("list", prefix)
        return self.inner.list(prefix)

    def delete(self, key) -> None:
        self._seen("delete", key)
        self.inner.delete(key)

    def sign(self, key, ttl):
        return self.inner.sign(key, ttl)

    def writes(self, suffix: str = "") -> list[str]:
        return [k for op, k in self.calls if op == "write" and k.endswith(suffix)]


class CrashBeforeManifest(WrappedStorage):
    """Raises (as a killed process would stop) at the first manifest write."""

    class Crash(BaseException):
        pass

    def write(self, key, data, **kw):
        if "/manifests/" in key and not key.rsplit("/", 1)[1].startswith(".publish.lock"):
            raise self.Crash(key)
        return super().write(key, data, **kw)


class CorruptingStorage(WrappedStorage):
    """Stores other bytes than it was given for keys containing ``target`` (and says nothing)."""

    def __init__(self, inner: Storage, target: str):
        super().__init__(inner)
        self.target = target

    def write(self, key, data, **kw):
        if self.target in key and not key.endswith(".json"):
            payload = b"".join(iter_payload(data))
            kw.pop("sha256", None)
            return super().write(key, payload[:-1] + bytes([payload[-1] ^ 1]), **kw)
        return super().write(key, data, **kw)


class FlakyStorage(WrappedStorage):
    """The first ``failures`` calls of the given operations raise TransientError (503)."""

    def __init__(self, inner: Storage, failures: int, ops: tuple[str, ...] = ("write", "info", "iter_bytes")):
        super().__init__(inner)
        self.remaining = failures
        self.ops = ops
        self.failed = 0

    def _maybe_fail(self, op: str, key: str) -> None:
        with self._lock:
            if op in self.ops and self.remaining > 0:
                self.remaining -= 1
                self.failed += 1
                raise TransientError(f"503 Service Unavailable on {op} {key}", status=503)

    def write(self, key, data, **kw):
        self._maybe_fail("write", key)
        return super().write(key, data, **kw)

    def info(self, key):
        self._maybe_fail("info", key)
        return super().info(key)

    def iter_bytes(self, key, **kw):
        self._maybe_fail("iter_bytes", key)
        return super().iter_bytes(key, **kw)


class FailingWrites(WrappedStorage):
    """Every write of a key matching ``predicate`` raises TransientError (the store never recovers)."""

    def __init__(self, inner: Storage, predicate: Callable[[str], bool]):
        super().__init__(inner)
        self.predicate = predicate

    def write(self, key, data, **kw):
        if self.predicate(key):
            raise TransientError(f"503 Service Unavailable on write {key}", status=503)
        return super().write(key, data, **kw)


def read_missing_ok(storage: Storage, key: str) -> bytes | None:
    try:
        return storage.read_bytes(key)
    except ObjectNotFound:
        return None


class BlockingStorage(WrappedStorage):
    """Blocks the first write of a data file (the publisher holds its lock then) until ``go`` is set;
    ``reached`` is set when it gets there."""

    def __init__(self, inner: Storage, go, reached=None, timeout: float = 60.0):
        super().__init__(inner)
        self.go, self.reached, self.timeout = go, reached, timeout
        self._blocked = False

    def write(self, key, data, **kw):
        if not self._blocked and (key.endswith(".csv") or key.endswith(".parquet")):
            self._blocked = True
            if self.reached is not None:
                self.reached.set()
            if not self.go.wait(self.timeout):
                raise RuntimeError("test publisher was never released")
        return super().write(key, data, **kw)


class HangAtManifest(WrappedStorage):
    """Announces on ``queue`` and hangs forever at the first manifest write: a publisher that
    is killed after its data uploads and before its manifest."""

    def __init__(self, inner: Storage, queue):
        super().__init__(inner)
        self.queue = queue

    def write(self, key, data, **kw):
        if key.endswith(".json") and "/manifests/" in key:
            self.queue.put(("at_manifest", key))
            threading.Event().wait()
        return super().write(key, data, **kw)


def publish_worker(config_path: str, storage_url: str, env: dict, mode: str, barrier, go, queue) -> None:
    """Runs in a spawned process: publish, report the outcome on ``queue``.
    ``mode`` is ``race`` (block at the first data write until ``go``) or ``hang`` (hang at the manifest)."""
    import os

    os.environ.update(env)
    from scout_jupyter.errors import PublishInProgress
    from scout_jupyter.publish import load_config, publish
    from scout_jupyter.storage import open_storage

    storage = open_storage(storage_url)
    storage = BlockingStorage(storage, go) if mode == "race" else HangAtManifest(storage, queue)
    try:
        if barrier is not None:
            barrier.wait(60)
        result = publish(load_config(config_path), storage)
        queue.put(("ok", result.summary()))
    except PublishInProgress as exc:
        queue.put(("in_progress", exc.message))
    except BaseException as exc:  # reported to the test, which fails on it
        queue.put(("error", repr(exc)))


class Backend:
    """A store under test: the storage object, its URL and the environment a child process needs."""

    def __init__(self, kind: str, storage: Storage, url: str, env: dict | None = None, server=None):
        self.kind, self.storage, self.url, self.env, self.server = kind, storage, url, env or {}, server


def make_backend(kind: str, request, tmp_path: Path, clock) -> Backend:
    """``local`` (a LocalStorage folder) or ``s3`` (a fresh bucket on the moto test server)."""
    import random

    from scout_jupyter.storage.local import LocalStorage
    from scout_jupyter.storage.retry import RetryPolicy

    if kind == "local":
        url = (tmp_path / "bucket").as_uri()
        return Backend(kind, LocalStorage(url, clock=clock, signing_key=b"k" * 64), url)
    from scout_jupyter.storage.s3 import S3Storage

    server = request.getfixturevalue("s3_server")
    bucket = request.getfixturevalue("s3_bucket")
    url = f"s3://{bucket}/data"
    storage = S3Storage(
        url,
        clock=clock,
        retry=RetryPolicy(sleep=clock.sleep, rng=random.Random(3)),
        endpoint_url=server.endpoint_url,
        region=server.region,
        access_key=server.access_key,
        secret_key=server.secret_key,
    )
    env = {
        "AWS_ENDPOINT_URL_S3": server.endpoint_url,
        "AWS_ACCESS_KEY_ID": server.access_key,
        "AWS_SECRET_ACCESS_KEY": server.secret_key,
        "AWS_REGION": server.region,
    }
    return Backend(kind, storage, url, env, server)
