"""Several kernels sharing one cache: every load correct, one cache entry, no torn or temp files."""

from __future__ import annotations

import multiprocessing
import threading

from scout_jupyter.client import connect

from .fakeserver import TOKEN

TXN = "gold/txn_daily"
EXPECTED = (["0042", "0107", "0042"], [1520.5, 980.25, 1610.0])


def _load_in_child(api_url: str, cache_dir: str, barrier, results) -> None:
    client = connect(api_url=api_url, token=TOKEN, cache_dir=cache_dir, set_default=False)
    barrier.wait(timeout=60)
    frame = client.load(TXN)
    results.put((frame["store_code"].tolist(), frame["revenue"].tolist()))


def cache_files(cache_dir) -> dict[str, list[str]]:
    return {
        folder: sorted(p.name for p in (cache_dir / folder).rglob("*") if p.is_file())
        for folder in ("objects", "parsed", "tmp")
    }


def test_two_processes_load_the_same_dataset_at_once(fake_server, tmp_path):
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    children = [
        context.Process(target=_load_in_child, args=(fake_server.url, str(tmp_path / "shared"), barrier, results))
        for _ in range(2)
    ]
    for child in children:
        child.start()
    got = [results.get(timeout=120) for _ in children]
    for child in children:
        child.join(timeout=60)
        assert child.exitcode == 0
    assert got == [EXPECTED, EXPECTED]
    files = cache_files(tmp_path / "shared")
    sha = fake_server.manifest().get(TXN).sha256
    assert files["objects"] == [f"{sha}.csv"] and len(files["parsed"]) == 1 and files["tmp"] == []
    assert fake_server.calls["download"] == 1  # the second waited for the first, then hit the cache


def test_many_threads_with_their_own_clients_share_one_download(fake_server, tmp_path):
    clients = [
        connect(api_url=fake_server.url, token=TOKEN, cache_dir=tmp_path / "shared", set_default=False)
        for _ in range(6)
    ]
    start = threading.Barrier(len(clients))
    results: list = [None] * len(clients)

    def run(index: int) -> None:
        start.wait(timeout=30)
        frame = clients[index].load(TXN)
        results[index] = (frame["store_code"].tolist(), frame["revenue"].tolist())

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results == [EXPECTED] * len(clients)
    assert fake_server.calls["download"] == 1
    for client in clients:  # parsed copies are written after the load returns: close waits for them
        client.close()
    files = cache_files(tmp_path / "shared")
    assert len(files["objects"]) == 1 and len(files["parsed"]) == 1 and files["tmp"] == []
