"""The conformance suite every storage backend runs.

Subclass :class:`StorageConformance` in ``tests/storage/test_<backend>.py`` and provide fixtures:

- ``storage``: a fresh, empty :class:`~scout_jupyter.storage.base.Storage` per test;
- ``clock``: the FakeClock the backend signs with; advancing it must make the server that
  checks signed URLs see the time move;
- ``fetch`` (a default is given): ``fetch(url) -> (status, body_bytes)`` for a GET of an absolute
  signed URL with no other credentials.
"""

from __future__ import annotations

import hashlib
import os

import pytest
import requests

from scout_jupyter.errors import ChecksumMismatch, InvalidKey, ObjectExists, ObjectNotFound

BAD_KEYS = [
    "../escape.csv",
    "scout/../../escape.csv",
    "scout/v1/../../../etc/passwd",
    "/etc/passwd",
    "scout\\..\\escape.csv",
    "scout/v1/a\x00b.csv",
    "scout/v1/a\r\nb.csv",
    "",
    "scout//v1/x.csv",
    "scout/./v1/x.csv",
    "scout/v1/",
    "x" * 5000,
]


def _chunks(total: int, size: int = 256 * 1024):
    """A deterministic stream of ``total`` bytes in chunks (never held whole in memory)."""
    block = hashlib.sha256(b"scout").digest() * (size // 32)
    sent = 0
    while sent < total:
        piece = block[: min(size, total - sent)]
        sent += len(piece)
        yield piece


class StorageConformance:
    @pytest.fixture
    def fetch(self):
        def _fetch(url):
            response = requests.get(url, timeout=10)
            return response.status_code, response.content

        return _fetch

    # --- bytes in, bytes out -------------------------------------------------------------
    def test_round_trip(self, storage):
        info = storage.write("scout/v1/gold/t/t_2024-08-10.csv", b"a,b\n1,2\n", content_type="text/csv")
        assert info.size == 8
        assert storage.read_bytes("scout/v1/gold/t/t_2024-08-10.csv") == b"a,b\n1,2\n"
        got = storage.info("scout/v1/gold/t/t_2024-08-10.csv")
        assert got.size == 8 and got.key == "scout/v1/gold/t/t_2024-08-10.csv"
        assert storage.exists("scout/v1/gold/t/t_2024-08-10.csv")
        assert not storage.exists("scout/v1/gold/t/other.csv")

    def test_empty_object(self, storage):
        storage.write("scout/empty.csv", b"")
        assert storage.read_bytes("scout/empty.csv") == b""
        assert storage.info("scout/empty.csv").size == 0

    def test_sha256_matches_content(self, storage):
        data = os.urandom(100_000)
        storage.write("scout/r.bin", data)
        assert storage.sha256("scout/r.bin") == hashlib.sha256(data).hexdigest()

    def test_streamed_read_of_large_object(self, storage):
        total = 6 * 1024 * 1024 + 123
        expected = hashlib.sha256()
        for piece in _chunks(total):
            expected.update(piece)
        storage.write("scout/big.bin", _chunks(total))
        digest, seen, chunks = hashlib.sha256(), 0, 0
        for chunk in storage.iter_bytes("scout/big.bin", chunk_size=1 << 20):
            assert len(chunk) <= 1 << 20
            digest.update(chunk)
            seen += len(chunk)
            chunks += 1
        assert seen == total and chunks >= 6
        assert digest.hexdigest() == expected.hexdigest()
        assert storage.info("scout/big.bin").size == total

    def test_range_read(self, storage):
        storage.write("scout/r.txt", b"0123456789")
        assert b"".join(storage.iter_bytes("scout/r.txt", start=3, end=7)) == b"3456"
        assert b"".join(storage.iter_bytes("scout/r.txt", start=8)) == b"89"

    def test_write_from_file_object(self, storage, tmp_path):
        src = tmp_path / "src.bin"
        src.write_bytes(b"x" * 70_000)
        with open(src, "rb") as fh:
            storage.write("scout/f.bin", fh)
        assert storage.read_bytes("scout/f.bin") == b"x" * 70_000

    # --- atomicity -----------------------------------------------------------------------
    def test_atomic_overwrite(self, storage):
        storage.write("scout/m.json", b'{"v": 1}')
        storage.write("scout/m.json", b'{"v": 2}')
        assert storage.read_bytes("scout/m.json") == b'{"v": 2}'

    def test_failed_write_leaves_old_object(self, storage):
        storage.write("scout/m.json", b'{"v": 1}')

        def broken():
            yield b'{"v": 2, "partial'
            raise OSError("source died mid-write")

        with pytest.raises(OSError):
            storage.write("scout/m.json", broken())
        assert storage.read_bytes("scout/m.json") == b'{"v": 1}'
        assert [i.key for i in storage.list("scout/")] == ["scout/m.json"]

    def test_failed_write_creates_nothing(self, storage):
        def broken():
            yield b"partial"
            raise OSError("source died mid-write")

        with pytest.raises(OSError):
            storage.write("scout/new.csv", broken())
        assert not storage.exists("scout/new.csv")
        assert list(storage.list("")) == []

    def test_create_only_refuses_existing(self, storage):
        storage.write("scout/x.csv", b"first", overwrite=False)
        with pytest.raises(ObjectExists):
            storage.write("scout/x.csv", b"second", overwrite=False)
        assert storage.read_bytes("scout/x.csv") == b"first"

    def test_declared_sha256_mismatch_stores_nothing(self, storage):
        wrong = hashlib.sha256(b"other").hexdigest()
        with pytest.raises(ChecksumMismatch):
            storage.write("scout/c.csv", b"content", sha256=wrong)
        assert not storage.exists("scout/c.csv")

    def test_declared_sha256_match_is_accepted(self, storage):
        right = hashlib.sha256(b"content").hexdigest()
        storage.write("scout/c.csv", b"content", sha256=right)
        assert storage.read_bytes("scout/c.csv") == b"content"

    # --- listing and deleting -------------------------------------------------------------
    def test_listing_is_recursive_sorted_and_prefix_exact(self, storage):
        for key in [
            "scout/v1/gold/b/b.csv",
            "scout/v1/gold/a/a.csv",
            "scout/v1/platinum/c/c.csv",
            "scout/v10/gold/z.csv",
            "other/x.csv",
        ]:
            storage.write(key, key.encode())
        keys = [i.key for i in storage.list("scout/v1/")]
        assert keys == ["scout/v1/gold/a/a.csv", "scout/v1/gold/b/b.csv", "scout/v1/platinum/c/c.csv"]
        sizes = {i.key: i.size for i in storage.list("scout/v1/")}
        assert sizes["scout/v1/gold/a/a.csv"] == len(b"scout/v1/gold/a/a.csv")
        assert len(list(storage.list(""))) == 5
        assert list(storage.list("nothing/here/")) == []

    def test_delete(self, storage):
        storage.write("scout/d.csv", b"x")
        storage.delete("scout/d.csv")
        assert not storage.exists("scout/d.csv")
        storage.delete("scout/d.csv")  # missing is fine
        with pytest.raises(ObjectNotFound):
            storage.read_bytes("scout/d.csv")

    def test_missing_object(self, storage):
        with pytest.raises(ObjectNotFound):
            storage.info("scout/missing.csv")
        with pytest.raises(ObjectNotFound):
            b"".join(storage.iter_bytes("scout/missing.csv"))
        with pytest.raises(ObjectNotFound):
            storage.sign("scout/missing.csv", 60)

    # --- keys ------------------------------------------------------------------------------
    @pytest.mark.parametrize("key", BAD_KEYS, ids=lambda k: repr(k)[:40])
    def test_bad_keys_refused(self, storage, key):
        with pytest.raises(InvalidKey):
            storage.write(key, b"x")
        with pytest.raises(InvalidKey):
            storage.info(key)
        with pytest.raises(InvalidKey):
            b"".join(storage.iter_bytes(key))
        with pytest.raises(InvalidKey):
            storage.sign(key, 60)
        with pytest.raises(InvalidKey):
            storage.delete(key)

    def test_odd_but_valid_keys(self, storage):
        key = "scout/v1/gold/a b/(1) x+y=z,ok;@!.csv"
        storage.write(key, b"odd")
        assert storage.read_bytes(key) == b"odd"
        assert [i.key for i in storage.list("scout/v1/gold/a b/")] == [key]

    # --- signed URLs ---------------------------------------------------------------------
    def test_signed_url_fetches_bytes_then_expires(self, storage, clock, fetch):
        key = "scout/v1/gold/s/s_2024-08-10.csv"
        storage.write(key, b"date_key,revenue\n2024-08-10,12.5\n")
        signed = storage.sign(key, ttl=60)
        assert signed.key == key
        assert abs(signed.expires_at.timestamp() - (clock.time() + 60)) <= 1
        status, body = fetch(signed.url)
        assert status == 200 and body == b"date_key,revenue\n2024-08-10,12.5\n"
        clock.advance(61)
        status, body = fetch(signed.url)
        assert status in (400, 401, 403)
        assert b"2024-08-10,12.5" not in body

    def test_signed_url_is_for_one_object(self, storage, clock, fetch):
        storage.write("scout/a.csv", b"secret-a")
        storage.write("scout/b.csv", b"secret-b")
        signed = storage.sign("scout/a.csv", ttl=60)
        other = signed.url.replace("scout/a.csv", "scout/b.csv")
        assert other != signed.url
        status, body = fetch(other)
        assert status in (400, 401, 403, 404)
        assert b"secret-b" not in body
