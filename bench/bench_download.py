"""B5 and B12 of PERFORMANCE.md: downloads and cold loads through a real server, against what a
user would do instead on the same file or the same signed URL.

* B5: ``Client.download(id, path)`` of a 200 MB dataset (50 MB with ``--quick``) through the
  server's local signed URL, in a child process, against reading the same file from disk. Both
  read the store's file from the disk itself: its pages are dropped from the page cache
  (``posix_fadvise(DONTNEED)``, this file only) before each run. Memory: the client's peak RSS
  above its RSS before the download, and the server's peak RSS (``VmHWM``) above its RSS
  before the downloads.
* B12: a cold ``load`` of a 1,000,000-row mixed-type dataset (~70 MB of CSV; 200,000 rows with
  ``--quick``) through the proxy, against ``polars.read_csv(signed_url).to_pandas()`` on a URL
  signed by the same server; then warm loads against the same baseline. Best of N, interleaved.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import requests

from bench.bench_client import best_of
from bench.bench_server import TOKEN, jupyter_server

ROOT = Path(__file__).resolve().parent.parent
BIG = "gold/big_file"
MIXED = "gold/mixed_1m"
MIXED_SCHEMA = {
    "id": "integer",
    "code": "string",
    "store": "string",
    "qty": "integer",
    "price": "number",
    "discount": "number",
    "day": "date",
    "at": "datetime",
    "promo": "boolean",
    "ref": "integer",
}


def _status_kb(field: str, pid: str | int = "self") -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def drop_from_page_cache(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def mixed_frame(rows: int, seed: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    qty = pd.array(rng.integers(0, 50, rows), dtype="Int64")
    qty[rng.random(rows) < 0.05] = pd.NA
    discount = np.round(rng.random(rows) * 20, 2)
    discount[rng.random(rows) < 0.3] = np.nan
    return pd.DataFrame(
        {
            "id": np.arange(rows),
            "code": pd.Series([f"{i:07d}" for i in rng.integers(0, 2_000_000, rows)], dtype="string"),
            "store": rng.choice(["Mang Romy Sari-Sari Store", "Aling Nena, Las Piñas", '7-Eleven "Makati"', ""], rows),
            "qty": qty,
            "price": np.round(rng.random(rows) * 1000, 2),
            "discount": discount,
            "day": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, rows), unit="D"),
            "at": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 365 * 86400, rows), unit="s"),
            "promo": rng.random(rows) < 0.2,
            "ref": 2**53 + rng.integers(0, 10**6, rows),
        }
    )


def publish(root: Path, files: dict[str, tuple[Path, Path | None, dict | None, int]]) -> str:
    """A local store holding ``{id: (csv, parquet or None, schema or None, row count)}``."""
    import hashlib

    from scout_jupyter.clock import SYSTEM_CLOCK, isoformat_z
    from scout_jupyter.manifest import DatasetEntry, Manifest, dataset_key, latest_manifest_key
    from scout_jupyter.storage.local import LocalStorage

    storage = LocalStorage((root / "bucket").as_uri())
    entries = []
    for dataset_id, (csv_path, parquet_path, schema, rows) in files.items():

        def digest(path: Path) -> str:
            sha = hashlib.sha256()
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    sha.update(block)
            return sha.hexdigest()

        csv_key = dataset_key(dataset_id, "2024-08-10")
        target = root / "bucket" / csv_key
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(csv_path, target)
        extra = {}
        if parquet_path is not None:
            pq_key = dataset_key(dataset_id, "2024-08-10", "parquet")
            os.replace(parquet_path, root / "bucket" / pq_key)
            extra = {
                "latest_parquet": "/" + pq_key,
                "parquet_sha256": digest(root / "bucket" / pq_key),
                "parquet_size_bytes": (root / "bucket" / pq_key).stat().st_size,
            }
        entries.append(
            DatasetEntry(
                id=dataset_id,
                latest_csv="/" + csv_key,
                date="2024-08-10",
                row_count=rows,
                sha256=digest(target),
                size_bytes=target.stat().st_size,
                last_modified=isoformat_z(SYSTEM_CLOCK.now()),
                description="bench",
                update_frequency="daily",
                schema={"fields": [{"name": k, "type": v} for k, v in schema.items()]} if schema else None,
                **extra,
            )
        )
    storage.write(latest_manifest_key(), Manifest.build(entries).to_bytes())
    return storage.url


def big_csv(path: Path, megabytes: int) -> Path:
    """A CSV of about ``megabytes`` MB (random digits: incompressible)."""
    rng = np.random.default_rng(5)
    line = 100
    rows = megabytes * 1_000_000 // line
    with open(path, "wb") as fh:
        fh.write(b"n,payload\n")
        for start in range(0, rows, 100_000):
            count = min(100_000, rows - start)
            digits = rng.integers(0, 10, size=(count, line - 12), dtype=np.uint8) + ord("0")
            body = np.full((count, line), ord(","), dtype=np.uint8)
            body[:, :10] = np.frombuffer(b"".join(b"%010d" % (start + i) for i in range(count)), np.uint8).reshape(
                count, 10
            )
            body[:, 11:-1] = digits
            body[:, -1] = ord("\n")
            fh.write(body.tobytes())
    return path


def read_disk(path: Path) -> float:
    drop_from_page_cache(path)
    started = time.perf_counter()
    with open(path, "rb", buffering=0) as fh:
        buffer = bytearray(1 << 20)
        while fh.readinto(buffer):
            pass
    return time.perf_counter() - started


def child_download(url: str, target: str, cache: str) -> dict:
    from scout_jupyter.client import connect

    client = connect(api_url=url, token=TOKEN, cache_dir=cache, set_default=False, progress=False)
    client.manifest()
    base = _status_kb("VmRSS")
    started = time.perf_counter()
    client.download(BIG, target)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "mb": (_status_kb("VmHWM") - base) / 1024}


def download_rows(root: Path, megabytes: int, runs: int) -> dict:
    csv_path = big_csv(root / "big.csv", megabytes)
    size = csv_path.stat().st_size
    store_url = publish(root, {BIG: (csv_path, None, None, 0)})
    stored = next((root / "bucket").rglob("*.csv"))
    processes: list = []
    with jupyter_server(root / "server", store_url, f"sqlite:///{root / 'access.sqlite'}", processes=processes) as url:
        server_pid = processes[0].pid
        server_base = _status_kb("VmRSS", server_pid)
        subject, client_mb, disk = float("inf"), 0.0, float("inf")
        for n in range(runs):
            disk = min(disk, read_disk(stored))
            drop_from_page_cache(stored)
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "bench.bench_download",
                    "--child",
                    url,
                    str(root / f"out-{n}.csv"),
                    str(root / f"cache-{n}"),
                ],
                cwd=ROOT,
                check=True,
                capture_output=True,
                text=True,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
            got = json.loads(out.stdout.strip().splitlines()[-1])
            subject, client_mb = min(subject, got["seconds"]), max(client_mb, got["mb"])
            (root / f"out-{n}.csv").unlink()
        server_mb = (_status_kb("VmHWM", server_pid) - server_base) / 1024
    rate, disk_rate = size / subject / 1e6, size / disk / 1e6
    return {
        "B5": {
            "what": f"Client.download of {size / 1e6:.0f} MB through the server's signed URL vs reading it from disk",
            "value": rate,
            "unit": "MB/s",
            "baseline": disk_rate,
            "ratio": rate / disk_rate,
            "target": ">= 0.4x",
            "ok": rate / disk_rate >= 0.4,
            "note": f"best of {runs}: {subject:.2f} s vs {disk:.2f} s",
        },
        "B5-mem": {
            "what": "memory growth during the download: client / server",
            "value": client_mb,
            "unit": "MB",
            "baseline": None,
            "target": "< 64 MB each",
            "ok": client_mb < 64 and server_mb < 64,
            "note": f"server {server_mb:.1f} MB",
        },
    }


def load_rows(root: Path, rows: int, runs: int) -> dict:
    import polars as pl

    from scout_jupyter import csvio
    from scout_jupyter.client import connect
    from scout_jupyter.schema import TableSchema

    schema = TableSchema.of(MIXED_SCHEMA)
    frame = mixed_frame(rows)
    result = csvio.write_dataset_files([frame], schema, root / "m.csv", root / "m.parquet")
    del frame
    store_url = publish(root, {MIXED: (root / "m.csv", root / "m.parquet", MIXED_SCHEMA, result.row_count)})
    session = requests.Session()
    counter = iter(range(10**6))
    with jupyter_server(root / "server12", store_url, f"sqlite:///{root / 'access12.sqlite'}") as url:

        def cold() -> None:
            client = connect(
                api_url=url,
                token=TOKEN,
                cache_dir=root / "cold" / str(next(counter)),
                set_default=False,
                progress=False,
            )
            client.load(MIXED)
            client.close()

        def polars_read() -> None:
            grant = session.get(
                url + "scout/api/dataset-proxy",
                params={"dataset": MIXED, "ttl": "60"},
                headers={"Authorization": f"token {TOKEN}"},
            ).json()
            pl.read_csv(grant["signed_url"]).to_pandas()

        warm_client = connect(api_url=url, token=TOKEN, cache_dir=root / "warm", set_default=False, progress=False)
        warm_client.load(MIXED)
        polars_read()
        cold_time, baseline, warm = float("inf"), float("inf"), float("inf")
        for _ in range(runs):
            baseline = min(baseline, best_of(polars_read, 1))
            cold_time = min(cold_time, best_of(cold, 1))
            warm = min(warm, best_of(lambda: warm_client.load(MIXED), 3))
        warm_client.close()
    mb = result.size_bytes / 1e6
    return {
        "B12": {
            "what": f"cold load of {rows:,} rows ({mb:.0f} MB CSV) through the proxy vs "
            "polars.read_csv(signed_url).to_pandas()",
            "value": cold_time * 1000,
            "baseline": baseline * 1000,
            "unit": "ms",
            "ratio": cold_time / baseline,
            "target": "<= 1.0x",
            "ok": cold_time <= baseline,
        },
        "B12-warm": {
            "what": f"warm load of {rows:,} rows vs the same polars baseline",
            "value": warm * 1000,
            "baseline": baseline * 1000,
            "unit": "ms",
            "ratio": warm / baseline,
            "target": "<= 0.05x",
            "ok": warm <= 0.05 * baseline,
        },
    }


def measure(megabytes: int, rows: int, runs: int) -> dict:
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="scout-bench-download-") as tmp:
        root = Path(tmp)
        (root / "b5").mkdir()
        (root / "b12").mkdir()
        results.update(download_rows(root / "b5", megabytes, runs))
        results.update(load_rows(root / "b12", rows, runs))
    return results


def run(quick: bool = True) -> dict:
    if quick:
        return measure(50, 200_000, runs=3)
    return measure(200, 1_000_000, runs=5)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        print(json.dumps(child_download(sys.argv[2], sys.argv[3], sys.argv[4])))
    else:
        print(json.dumps(run(quick="--full" not in sys.argv), indent=2, default=str))
