"""The local backend: the conformance suite plus the containment rows of RELIABILITY.md (10–12)."""

from __future__ import annotations

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from scout_jupyter.errors import AccessDenied, InvalidKey, ObjectNotFound, ScoutError
from scout_jupyter.storage import open_storage
from scout_jupyter.storage.local import FILES_ROUTE, LocalStorage, load_or_create_key, signature_for, verify_signature

from .conformance import StorageConformance

SECRET = b"k" * 64


class _FilesHandler(BaseHTTPRequestHandler):
    """A minimal stand-in for the server's /scout/files/ route, built on LocalStorage.open_signed."""

    storage: LocalStorage

    def do_GET(self):  # noqa: N802
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        key = unquote(parts.path[len(FILES_ROUTE) :])
        try:
            path = self.storage.open_signed(
                key, query.get("expires", [""])[0], query.get("scout_auth", [""])[0], self.command
            )
        except ScoutError as exc:
            self.send_response(exc.status)
            self.end_headers()
            self.wfile.write(exc.code.encode())
            return
        body = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def files_server():
    handler = type("H", (_FilesHandler,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield handler, f"http://127.0.0.1:{server.server_port}{FILES_ROUTE}"
    server.shutdown()
    server.server_close()


class TestLocalConformance(StorageConformance):
    @pytest.fixture
    def clock(self, fake_clock):
        return fake_clock

    @pytest.fixture
    def storage(self, tmp_path, clock, files_server):
        handler, base = files_server
        store = LocalStorage((tmp_path / "bucket").as_uri(), signing_key=SECRET, clock=clock, public_base_url=base)
        handler.storage = store
        return store


# --- containment (RELIABILITY rows 10-12) ---------------------------------------------------
@pytest.fixture
def bucket(tmp_path, fake_clock):
    root = tmp_path / "data"
    return LocalStorage(root.as_uri(), signing_key=SECRET, clock=fake_clock)


def test_sibling_prefix_escape(tmp_path, bucket):
    leak = tmp_path / "data-leak"
    leak.mkdir()
    (leak / "x").write_bytes(b"leaked")
    for key in ["../data-leak/x", "..%2Fdata-leak/x"]:
        with pytest.raises((InvalidKey, ObjectNotFound)):
            bucket.read_bytes(key)


def test_symlink_out_of_bucket(tmp_path, bucket):
    os.symlink("/etc", bucket.root / "etc")
    os.symlink("/etc/hostname", bucket.root / "host.csv")
    for key in ["etc/passwd", "host.csv"]:
        with pytest.raises(InvalidKey):
            bucket.read_bytes(key)
        with pytest.raises(InvalidKey):
            bucket.sign(key, 60)
        with pytest.raises(InvalidKey):
            bucket.write(key, b"overwrite attempt")
    assert [i.key for i in bucket.list("")] == []


def test_symlink_inside_bucket_is_followed(bucket):
    bucket.write("real/a.csv", b"inside")
    os.symlink(bucket.root / "real" / "a.csv", bucket.root / "alias.csv")
    assert bucket.read_bytes("alias.csv") == b"inside"


def test_percent_encoded_traversal_is_a_literal_name(tmp_path, bucket):
    # "%2e%2e" is not decoded by the storage layer: it names a file, inside the bucket.
    bucket.write("%2e%2e/x.csv", b"literal")
    assert (bucket.root / "%2e%2e" / "x.csv").read_bytes() == b"literal"
    assert not (tmp_path / "x.csv").exists()


def test_temp_files_are_invisible(bucket):
    bucket.write("a.csv", b"1")
    (bucket.root / ("b.csv" + ".scout-tmp-abc")).write_bytes(b"partial")
    assert [i.key for i in bucket.list("")] == ["a.csv"]
    with pytest.raises(InvalidKey):
        bucket.read_bytes("b.csv.scout-tmp-abc")


# --- signatures (RELIABILITY rows 4-8 at the core level) -----------------------------------
def _parts(url):
    parts = urlsplit(url)
    q = parse_qs(parts.query)
    return unquote(parts.path[len(FILES_ROUTE) :]), q["expires"][0], q["scout_auth"][0]


def test_open_signed_accepts_valid(bucket):
    bucket.write("scout/a.csv", b"ok")
    key, expires, sig = _parts(bucket.sign("scout/a.csv", 60).url)
    assert bucket.open_signed(key, expires, sig).read_bytes() == b"ok"
    assert bucket.open_signed(key, expires, sig, "HEAD").read_bytes() == b"ok"


@pytest.mark.parametrize(
    "mutation", ["expired", "tampered", "other_path", "expiry_edited", "method", "garbage_expiry", "empty"]
)
def test_open_signed_refuses(bucket, fake_clock, mutation):
    bucket.write("scout/a.csv", b"ok")
    bucket.write("scout/b.csv", b"other")
    key, expires, sig = _parts(bucket.sign("scout/a.csv", 60).url)
    method = "GET"
    if mutation == "expired":
        fake_clock.advance(61)
    elif mutation == "tampered":
        sig = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    elif mutation == "other_path":
        key = "scout/b.csv"
    elif mutation == "expiry_edited":
        expires = str(int(expires) + 1)
    elif mutation == "method":
        method = "PUT"
    elif mutation == "garbage_expiry":
        expires = expires + "abc"
    elif mutation == "empty":
        sig = ""
    with pytest.raises(AccessDenied):
        bucket.open_signed(key, expires, sig, method)


def test_expiry_boundary_inclusive(bucket, fake_clock):
    bucket.write("scout/a.csv", b"ok")
    key, expires, sig = _parts(bucket.sign("scout/a.csv", 60).url)
    fake_clock.advance(60)
    assert bucket.open_signed(key, expires, sig).exists()
    fake_clock.advance(1)
    with pytest.raises(AccessDenied):
        bucket.open_signed(key, expires, sig)


def test_verify_signature_rejects_non_ascii_signature():
    sig = signature_for(SECRET, "GET", "a.csv", 100)
    assert verify_signature(SECRET, "GET", "a.csv", 100, sig, now=50)
    assert not verify_signature(SECRET, "GET", "a.csv", 100, sig[:-1] + "é", now=50)
    assert not verify_signature(SECRET, "GET", "a.csv", " 100", sig, now=50)


def test_signing_key_file_is_private(tmp_path):
    path = tmp_path / "keys" / "scout_signing.key"
    first = load_or_create_key(path)
    assert len(first) >= 32
    assert (path.stat().st_mode & 0o777) == 0o600
    assert load_or_create_key(path) == first


def test_open_storage_accepts_plain_paths(tmp_path):
    store = open_storage(tmp_path / "plain")
    assert isinstance(store, LocalStorage)
    assert store.root == tmp_path / "plain"


def test_open_storage_unknown_scheme():
    with pytest.raises(ScoutError, match="Unsupported storage URL scheme"):
        open_storage("ftp://example/bucket")
