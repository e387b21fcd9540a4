"""The nine demo datasets through the publisher, and the `scout` console script end to end."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scout_jupyter.demo import build_warehouse, demo_config_path
from scout_jupyter.manifest import Manifest, latest_manifest_key
from scout_jupyter.publish import load_config, publish
from scout_jupyter.storage.local import LocalStorage

#: DESIGN.md's table: rows at scale 1.
DESIGN_ROWS = {
    "gold/txn_daily": 15_000,
    "gold/product_mix": 50_000,
    "gold/basket_patterns": 5_000,
    "gold/substitution_flows": 2_000,
    "gold/request_behavior": 20_000,
    "gold/demographics": 500,
    "platinum/features_sales_7d": 10_000,
    "platinum/store_perf": 200,
    "platinum/customer_segments": 1_000,
}


@pytest.fixture(scope="module")
def small_warehouse(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "warehouse.sqlite"
    build_warehouse(path, seed=42, scale=0.1)
    return path


def test_demo_config_defines_the_nine_datasets():
    config = load_config(demo_config_path())
    assert sorted(config.ids) == sorted(DESIGN_ROWS)
    assert all(d.description and d.update_frequency for d in config.datasets)


def test_publish_the_demo_at_small_scale(small_warehouse, tmp_path, fake_clock):
    config = load_config(demo_config_path(), source_url=f"sqlite:///{small_warehouse}")
    storage = LocalStorage((tmp_path / "store").as_uri(), signing_key=b"k" * 64)
    result = publish(config, storage, clock=fake_clock)
    assert result.ok, result.summary()
    manifest = Manifest.from_bytes(storage.read_bytes(latest_manifest_key()))
    assert manifest.total_datasets == 9 and manifest.warnings == ()
    for entry in manifest:
        data = storage.read_bytes(entry.csv_key)
        assert hashlib.sha256(data).hexdigest() == entry.sha256 and len(data) == entry.size_bytes
        assert data.count(b"\n") >= entry.row_count + 1  # header + rows (quoted newlines only add)
        assert entry.row_count == result.dataset(entry.id).row_count > 0
        parquet = storage.read_bytes(entry.parquet_key)
        assert hashlib.sha256(parquet).hexdigest() == entry.parquet_sha256
    again = publish(config, storage, clock=fake_clock)
    assert again.bytes_uploaded == 0 and not again.manifest_changed


def _scout(*args: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    exe = shutil.which("scout", path=os.path.dirname(sys.executable)) or shutil.which("scout")
    command = [exe, *args] if exe else [sys.executable, "-m", "scout_jupyter.cli", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_scout_demo_then_verify_as_a_user_would(tmp_path):
    """`scout demo --store DIR --json` at scale 1, then `scout verify`: exit 0, nine datasets, every
    row count within ±50% of DESIGN.md's table; a second `scout publish --json` uploads nothing."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCOUT_")}
    store = tmp_path / "store"
    started = time.perf_counter()
    demo = _scout("demo", "--store", str(store), "--scale", "1", "--json", cwd=tmp_path, env=env)
    seconds = time.perf_counter() - started
    assert demo.returncode == 0 and demo.stderr == "", demo.stderr
    document = json.loads(demo.stdout)
    assert document["manifest"] == "/scout/v1/manifests/latest.json"
    counts = {d["id"]: d["row_count"] for d in document["datasets"]}
    assert sorted(counts) == sorted(DESIGN_ROWS)
    for dataset_id, expected in DESIGN_ROWS.items():
        assert 0.5 * expected <= counts[dataset_id] <= 1.5 * expected, (dataset_id, counts[dataset_id])
    print(f"\nscout demo at scale 1: {seconds:.1f} s; rows {counts}")
    verify = _scout("verify", "--store", str(store), cwd=tmp_path, env=env)
    assert verify.returncode == 0 and verify.stdout.count("ok ") == 9, verify.stdout + verify.stderr
    again = _scout("publish", "--store", str(store), "--json", cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr
    assert [d["bytes_uploaded"] for d in json.loads(again.stdout)["datasets"]] == [0] * 9
    path = store / "scout" / "v1" / "gold" / "txn_daily"
    next(path.glob("*.csv")).write_bytes(b"tampered\n")
    broken = _scout("verify", "--store", str(store), cwd=tmp_path, env=env)
    assert broken.returncode == 1 and broken.stderr.count("\n") == 1 and "gold/txn_daily" in broken.stderr
