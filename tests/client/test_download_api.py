"""The streaming download API: ``Client.download(id, path)`` and ``scout.path(id)``.

The file streams to a temp file beside its destination in blocks and is renamed only when its
sha256 matches; a mismatch or a cut leaves no file (and no temp file), and an existing file at
the destination stays as it was.
"""

from __future__ import annotations

import hashlib

import pytest

import scout_jupyter
from scout_jupyter.client import download as download_module
from scout_jupyter.errors import ChecksumMismatch, ConfigError

TXN = "gold/txn_daily"


def folder_names(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_download_streams_the_verified_file_to_the_path(proxy_client, fake_server, tmp_path):
    entry = proxy_client.entry(TXN)
    target = tmp_path / "out" / "txn.csv"
    assert proxy_client.download(TXN, target) == target
    assert hashlib.sha256(target.read_bytes()).hexdigest() == entry.sha256
    assert folder_names(target.parent) == ["txn.csv"]
    assert fake_server.calls["download"] == 1
    # not through the cache: nothing was cached, the next download goes to the store again
    assert not list((proxy_client.cache.root / "objects").rglob("*.csv"))
    with pytest.raises(ConfigError, match="has no Parquet copy"):
        proxy_client.download(TXN, tmp_path / "out" / "txn.parquet", fmt="parquet")
    assert folder_names(target.parent) == ["txn.csv"]


def test_download_of_a_cached_file_copies_it_and_checks_the_copy(proxy_client, fake_server, tmp_path):
    cached = proxy_client.path(TXN)
    calls = fake_server.calls["download"]
    target = proxy_client.download(TXN, tmp_path / "copy.csv")
    assert target.read_bytes() == cached.read_bytes() and fake_server.calls["download"] == calls
    cached.write_bytes(cached.read_bytes().replace(b"0042", b"0043"))  # a cache tampered with (same size)
    with pytest.raises(ChecksumMismatch, match=f"^Checksum validation failed for {TXN}"):
        proxy_client.download(TXN, tmp_path / "again.csv")
    assert not (tmp_path / "again.csv").exists() and not list(tmp_path.glob(".*.part"))


@pytest.mark.parametrize("fault", ["corrupt_downloads", "cut_downloads"])
def test_a_mismatch_leaves_no_file_and_keeps_the_existing_one(proxy_client, fake_server, tmp_path, fault):
    target = tmp_path / "out" / "txn.csv"
    target.parent.mkdir()
    target.write_bytes(b"the previous version\n")
    setattr(fake_server.faults, fault, 100)
    with pytest.raises(ChecksumMismatch, match=f"^Checksum validation failed for {TXN}"):
        proxy_client.download(TXN, target)
    assert target.read_bytes() == b"the previous version\n"
    assert folder_names(target.parent) == ["txn.csv"]  # no .part file left
    with pytest.raises(ChecksumMismatch):
        proxy_client.download(TXN, tmp_path / "out" / "new.csv")
    assert folder_names(target.parent) == ["txn.csv"]


def test_a_cut_download_is_retried(proxy_client, fake_server, tmp_path):
    fake_server.faults.cut_downloads = 1
    target = proxy_client.download(TXN, tmp_path / "txn.csv")
    assert hashlib.sha256(target.read_bytes()).hexdigest() == proxy_client.entry(TXN).sha256
    assert fake_server.calls["download"] == 2


def test_download_reads_in_blocks_not_whole(proxy_client, tmp_path, monkeypatch):
    sizes: list[int] = []
    real_write = download_module.FileSink.write
    monkeypatch.setattr(
        download_module.FileSink, "write", lambda self, chunk: (sizes.append(len(chunk)), real_write(self, chunk))[1]
    )
    proxy_client.download(TXN, tmp_path / "txn.csv")
    assert sizes and sum(sizes) == proxy_client.entry(TXN).size_bytes


def test_bad_arguments_are_one_line_errors(direct_client, tmp_path):
    with pytest.raises(ConfigError, match="is a folder"):
        direct_client.download(TXN, tmp_path)
    with pytest.raises(ConfigError, match="format must be csv or parquet"):
        direct_client.download(TXN, tmp_path / "x", fmt="xlsx")
    assert not (tmp_path / "x").exists()


def test_module_level_path_is_the_verified_cached_file(small_store, tmp_path, monkeypatch):
    monkeypatch.setenv("SCOUT_STORAGE_URL", small_store.storage.url)
    path = scout_jupyter.path(TXN)
    assert path.is_file() and path.read_bytes() == scout_jupyter.load_raw(TXN)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == scout_jupyter.connect().entry(TXN).sha256
