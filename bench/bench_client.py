"""B1–B4 and B11 of PERFORMANCE.md: kernel-client loads against ``pandas.read_csv`` in the same run.

A product_mix-like table (50K rows, ~4 MB of CSV; the full run adds 500K rows) is published
into a local store with its Parquet copy; a real ``jupyter server`` with the scout_jupyter
extension serves it for the cold loads. Times are the best of N runs, baselines and subjects
interleaved; ratios are subject / baseline.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import requests

from scout_jupyter import csvio
from scout_jupyter.client import connect
from scout_jupyter.clock import SYSTEM_CLOCK, FakeClock, isoformat_z
from scout_jupyter.manifest import DatasetEntry, Manifest, dataset_key, latest_manifest_key, snapshot_manifest_key
from scout_jupyter.schema import TableSchema
from scout_jupyter.storage.local import LocalStorage

DATASET = "gold/product_mix"
SCHEMA = TableSchema.of(
    {
        "date_key": "date",
        "store_code": "string",
        "product_id": "string",
        "category": "string",
        "units": "integer",
        "revenue": "number",
        "share": "number",
        "promo": "boolean",
    }
)
TOKEN = "bench-token"
WARM_SAMPLES = 10  # B4 takes this many times the samples of the other rows


def product_mix(rows: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "date_key": (pd.Timestamp("2024-07-12") + pd.to_timedelta(rng.integers(0, 30, rows), unit="D")).date,
            "store_code": [f"{i:04d}" for i in rng.integers(0, 400, rows)],
            "product_id": [f"P{i:05d}" for i in rng.integers(0, 3000, rows)],
            "category": rng.choice(["beverages", "snacks", "household", "personal_care", "tobacco"], rows),
            "units": rng.integers(0, 500, rows),
            "revenue": np.round(rng.random(rows) * 5000, 2),
            "share": rng.random(rows),
            "promo": rng.random(rows) > 0.8,
        }
    )


def publish_store(root: Path, frame: pd.DataFrame, date: str = "2024-08-10", clock=SYSTEM_CLOCK) -> tuple[Path, str]:
    """Write the CSV + Parquet and a manifest; returns (local CSV path, store URL)."""
    storage = LocalStorage((root / "bucket").as_uri())
    work = root / "work"
    work.mkdir(parents=True, exist_ok=True)
    result = csvio.write_dataset_files([frame], SCHEMA, work / "pm.csv", work / "pm.parquet")
    csv_key, pq_key = dataset_key(DATASET, date), dataset_key(DATASET, date, "parquet")
    storage.write(csv_key, (work / "pm.csv").read_bytes())
    storage.write(pq_key, (work / "pm.parquet").read_bytes())
    entry = DatasetEntry(
        id=DATASET,
        latest_csv="/" + csv_key,
        date=date,
        row_count=result.row_count,
        sha256=result.sha256,
        size_bytes=result.size_bytes,
        last_modified=isoformat_z(clock.now()),
        description="Product performance and mix analysis",
        update_frequency="daily",
        schema=SCHEMA.to_json(),
        latest_parquet="/" + pq_key,
        parquet_sha256=result.parquet_sha256,
        parquet_size_bytes=result.parquet_size_bytes,
    )
    manifest = Manifest.build([entry], clock=clock)
    storage.write(snapshot_manifest_key(clock.now()), manifest.to_bytes())
    storage.write(latest_manifest_key(), manifest.to_bytes())
    return work / "pm.csv", storage.url


def best_of(fn: Callable[[], object], runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def compare(subject: Callable[[], object], baseline: Callable[[], object], runs: int) -> tuple[float, float]:
    """Best times of ``subject`` and ``baseline``, measured interleaved (noise hits both)."""
    s, b = float("inf"), float("inf")
    for _ in range(runs):
        b = min(b, best_of(baseline, 1))
        s = min(s, best_of(subject, 1))
    return s, b


@contextmanager
def jupyter_server(workdir: Path, store_url: str) -> Iterator[str]:
    """A real jupyter server with only the scout_jupyter extension; yields its URL."""
    from .bench_server import jupyter_server as scout_server

    with scout_server(workdir, store_url, f"sqlite:///{workdir / 'access.sqlite'}", token=TOKEN) as url:
        yield url


def warm_rows(root: Path, csv_path: Path, store_url: str, runs: int, label: str) -> dict:
    client = connect(storage_url=store_url, cache_dir=root / "warm-cache", set_default=False, progress=False)
    client.load(DATASET)  # fill the cache
    warm, read_csv = compare(lambda: client.load(DATASET), lambda: pd.read_csv(csv_path), runs)
    # both sides take well under a few ms: many more samples than the CSV comparisons, for a stable best
    part, full = compare(
        lambda: client.load(DATASET, columns=["store_code", "units"], limit=1000),
        lambda: client.load(DATASET),
        runs * WARM_SAMPLES,
    )
    size = label or "50K rows"
    return {
        f"B1{label}": ratio_row(f"warm load ({size}) vs pandas.read_csv of the local CSV", warm, read_csv, 0.6),
        f"B4{label}": ratio_row(f"load(2 columns, limit=1000) vs full warm load ({size})", part, full, 0.3),
    }


def cold_rows(root: Path, csv_path: Path, store_url: str, runs: int, label: str) -> dict:
    with jupyter_server(root / "server", store_url) as url:
        session = requests.Session()
        counter = iter(range(10**6))

        def cold_load() -> None:
            client = connect(
                api_url=url,
                token=TOKEN,
                cache_dir=root / "cold" / str(next(counter)),
                set_default=False,
                progress=False,
            )
            client.manifest()
            start = time.perf_counter()
            client.load(DATASET)
            cold_load.elapsed = min(getattr(cold_load, "elapsed", float("inf")), time.perf_counter() - start)

        def naive() -> None:
            grant = session.get(
                url + "scout/api/dataset-proxy",
                params={"dataset": DATASET, "ttl": "60"},
                headers={"Authorization": f"token {TOKEN}"},
            ).json()
            pd.read_csv(grant["signed_url"])

        naive()
        cold_load()  # warm up the server's manifest cache and the imports
        cold_load.elapsed = float("inf")
        naive_time, read_csv = float("inf"), float("inf")
        for _ in range(runs):
            read_csv = min(read_csv, best_of(lambda: pd.read_csv(csv_path), 1))
            naive_time = min(naive_time, best_of(naive, 1))
            cold_load()
        cold = cold_load.elapsed
    size = label or "50K rows"
    return {
        f"B2{label}": ratio_row(f"cold load through the server ({size}) vs pandas.read_csv local", cold, read_csv, 2.0),
        f"B3{label}": ratio_row(
            f"cold load ({size}) vs naive read_csv(signed_url), no verification", cold, naive_time, 1.2
        ),
    }


def ratio_row(what: str, seconds: float, baseline: float, limit: float) -> dict:
    """A benchmark row: ``seconds`` against ``baseline`` (both shown in ms), passing at ratio ≤ ``limit``."""
    ratio = seconds / baseline
    return {
        "what": what,
        "value": seconds * 1000,
        "baseline": baseline * 1000,
        "unit": "ms",
        "ratio": ratio,
        "target": f"<= {limit}",
        "ok": ratio <= limit,
    }


def cache_replay(root: Path, frame: pd.DataFrame) -> dict:
    """B11: a day of hourly loads; the manifest is republished every hour, the data once a day."""
    clock = FakeClock()
    csv_path, store_url = publish_store(root / "replay", frame.iloc[:-1], "2024-08-10", clock)
    client = connect(storage_url=store_url, cache_dir=root / "replay-cache", clock=clock, set_default=False)
    storage = LocalStorage(store_url)
    served = {"cache": 0, "download": 0}
    unchanged_total = unchanged_cached = 0
    for day in range(2):
        for hour in range(24):
            if hour == 0 and day:
                publish_store(root / "replay", frame, f"2024-08-{10 + day}", clock)  # new data
            else:  # the hourly republish: same data, new manifest
                manifest = Manifest.from_bytes(storage.read_bytes(latest_manifest_key()))
                storage.write(latest_manifest_key(), Manifest.build(list(manifest), clock=clock).to_bytes())
            for _ in range(3):  # a few loads an hour
                loaded = client.load(DATASET)
                size = client.entry(DATASET).size_bytes
                source = loaded.attrs["scout"]["source"]
                served[source] += size
                if not (hour == 0 and source == "download"):
                    unchanged_total += size
                    unchanged_cached += size if source == "cache" else 0
                clock.advance(1200)
    rate = unchanged_cached / unchanged_total
    return {
        "B11": {
            "what": "bytes served from cache over a replayed day (unchanged data, hourly manifests)",
            "value": rate * 100,
            "unit": "%",
            "baseline": 85.0,
            "ratio": rate / 0.85,
            "target": ">= 99%",
            "ok": rate >= 0.99,
            "note": f"all loads incl. new data: {served['cache'] / sum(served.values()):.1%} from cache",
        }
    }


def measure(sizes: list[tuple[int, str]], runs: int, replay_rows: int = 5001) -> dict:
    """The rows for each ``(row count, label)`` in ``sizes``, best of ``runs``."""
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="scout-bench-client-") as tmp:
        root = Path(tmp)
        for rows, label in sizes:
            frame = product_mix(rows)
            part = root / f"r{rows}"
            csv_path, store_url = publish_store(part, frame)
            results.update(warm_rows(part, csv_path, store_url, runs, label))
            results.update(cold_rows(part, csv_path, store_url, runs, label))
        results.update(cache_replay(root, product_mix(replay_rows)))
    return dict(sorted(results.items()))


def run(quick: bool = True) -> dict:
    if quick:
        return measure([(50_000, "")], runs=7)
    return measure([(50_000, ""), (500_000, " 500K")], runs=15)


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick="--full" not in sys.argv), indent=2, default=str))
