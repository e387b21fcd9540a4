"""The content-addressed cache: verified commits, parsed copies, LRU eviction, locks, manifests."""

from __future__ import annotations

import hashlib
import os

import pandas as pd
import pytest

from scout_jupyter.cache import Cache, parse_size, source_id
from scout_jupyter.errors import ChecksumMismatch, ConfigError


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def cache(tmp_path, fake_clock) -> Cache:
    return Cache(tmp_path / "c", max_bytes="1MB", clock=fake_clock)


def files_under(folder) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize(
    "text,expected",
    [
        ("5GB", 5 * 1000**3),
        ("500 MiB", 500 * 1024**2),
        ("1048576", 1048576),
        ("1.5kb", 1500),
        (0, 0),
        ("2g", 2 * 1000**3),
    ],
)
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["lots", "-1GB", "5 parsecs", ""])
def test_parse_size_rejects_nonsense(text):
    with pytest.raises(ConfigError, match="Invalid cache size"):
        parse_size(text)


def test_size_and_dir_from_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("SCOUT_CACHE_DIR", str(tmp_path / "from-env"))
    monkeypatch.setenv("SCOUT_CACHE_SIZE", "10MB")
    cache = Cache()
    assert cache.root == tmp_path / "from-env" and cache.max_bytes == 10_000_000
    assert (tmp_path / "from-env" / "objects").is_dir()


def test_commit_is_content_addressed_and_verified(cache):
    data = b"a,b\n1,2\n"
    path = cache.put_bytes(sha(data), "csv", data, "gold/x")
    assert path == cache.root / "objects" / sha(data)[:2] / f"{sha(data)}.csv"
    assert path.read_bytes() == data
    assert cache.get_object(sha(data), "csv", len(data)) == path
    assert cache.get_object(sha(data), "csv", len(data) + 1) is None  # size mismatch: removed
    assert not path.exists()


def test_mismatch_caches_nothing(cache):
    good = b"a,b\n1,2\n"
    with pytest.raises(ChecksumMismatch, match=r"^Checksum validation failed for gold/x: expected "):
        cache.put_bytes(sha(good), "csv", b"a,b\n1,3\n", "gold/x")
    assert files_under(cache.root / "objects") == []
    assert files_under(cache.root / "tmp") == []


def test_short_write_caches_nothing(cache):
    data = b"0123456789"
    with pytest.raises(ChecksumMismatch, match=r"\(10 bytes\), got .* \(5 bytes\)"):
        with cache.pending(sha(data), "csv", "gold/x", len(data)) as pending:
            pending.write(data[:5])
            pending.commit()
    assert files_under(cache.root / "objects") == [] and files_under(cache.root / "tmp") == []


def test_full_verification_catches_a_corrupted_cached_file(cache):
    data = b"x" * 100
    path = cache.put_bytes(sha(data), "csv", data, "gold/x")
    path.write_bytes(b"y" * 100)  # same size: only a re-hash notices
    assert cache.get_object(sha(data), "csv", 100) == path
    assert cache.get_object(sha(data), "csv", 100, full=True) is None
    assert not path.exists()


def test_parsed_frame_round_trip_and_partial_reads(cache):
    frame = pd.DataFrame(
        {
            "code": pd.array(["007", None, "010"], dtype=pd.StringDtype("pyarrow")),
            "n": pd.array([1, None, 3], dtype="Int64"),
            "x": [0.5, float("nan"), 2.0],
        }
    )
    digest = "ab" * 32
    cache.write_frame(digest, "fp1", frame, source_size=42)
    pd.testing.assert_frame_equal(cache.read_frame(digest, "fp1", source_size=42), frame)
    part = cache.read_frame(digest, "fp1", columns=["n", "code"], limit=2)
    pd.testing.assert_frame_equal(part, frame[["n", "code"]].iloc[:2])
    assert cache.read_frame(digest, "fp1", source_size=43) is None  # recorded for another source size
    assert cache.read_frame(digest, "other", source_size=42) is None  # parsed with another schema


def test_a_damaged_parsed_copy_is_dropped(cache):
    digest = "cd" * 32
    cache.write_frame(digest, "fp", pd.DataFrame({"a": [1, 2]}), source_size=1)
    path = cache.parsed_path(digest, "fp")
    path.write_bytes(b"not arrow at all")
    assert cache.read_frame(digest, "fp") is None
    assert not path.exists()


def test_lru_eviction_keeps_recently_used(tmp_path, fake_clock):
    cache = Cache(tmp_path / "c", max_bytes=250, clock=fake_clock)
    blobs = [bytes([65 + i]) * 100 for i in range(3)]
    paths = []
    for blob in blobs:
        paths.append(cache.put_bytes(sha(blob), "csv", blob, "x"))
        fake_clock.advance(10)
    assert cache.evict() == [paths[0]]  # 300 > 250: the oldest goes
    fake_clock.advance(10)
    assert cache.get_object(sha(blobs[1]), "csv", 100) is not None  # touch: now the newest
    fake_clock.advance(10)
    third = b"D" * 100
    paths.append(cache.put_bytes(sha(third), "csv", third, "x"))
    assert cache.evict() == [paths[2]]  # C was used longer ago than B
    assert paths[1].exists() and paths[3].exists()
    assert cache.usage()["bytes"] == 200


def test_eviction_spares_what_it_is_told_to_keep(tmp_path, fake_clock):
    cache = Cache(tmp_path / "c", max_bytes=50, clock=fake_clock)
    blob = b"Z" * 100
    path = cache.put_bytes(sha(blob), "csv", blob, "x")
    assert cache.evict(keep=[path]) == [] and path.exists()
    assert cache.evict() == [path]


def test_eviction_is_skipped_while_another_process_evicts(tmp_path, fake_clock):
    cache = Cache(tmp_path / "c", max_bytes=0, clock=fake_clock)
    path = cache.put_bytes(sha(b"q"), "csv", b"q", "x")
    with cache._flock("evict.lock", blocking=False) as held:
        assert held
        assert cache.evict() == []
    assert path.exists()
    assert cache.evict() == [path]


def test_stale_temp_files_are_cleaned(cache, fake_clock):
    leftover = cache.root / "tmp" / "crashed.part"
    leftover.write_bytes(b"half")
    os.utime(leftover, (fake_clock.time() - 2 * 86400,) * 2)
    fresh = cache.root / "tmp" / "in-progress.part"
    fresh.write_bytes(b"busy")
    os.utime(fresh, (fake_clock.time(),) * 2)
    cache.evict()
    assert not leftover.exists() and fresh.exists()


def test_manifest_and_snapshots_survive_a_new_cache_object(tmp_path, fake_clock):
    cache = Cache(tmp_path / "c", clock=fake_clock)
    src = source_id("http://server/")
    cache.save_manifest(src, '{"é": 1}'.encode(), etag='"abc"', fetched_at=123.5)
    cache.save_snapshot(src, "2024-08-10T021500Z.json", b"{}")
    again = Cache(tmp_path / "c", clock=fake_clock)
    stored = again.load_manifest(src)
    assert (stored.data, stored.etag, stored.fetched_at) == ('{"é": 1}'.encode(), '"abc"', 123.5)
    assert again.load_snapshot(src, "2024-08-10T021500Z.json") == b"{}"
    assert again.load_manifest(source_id("http://other/")) is None
    with pytest.raises(ValueError):
        again.save_snapshot(src, "../escape.json", b"{}")
