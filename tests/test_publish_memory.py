"""Publishing streams: 4x the rows must not mean 4x the memory (RELIABILITY.md row 28's publisher half).

Each size publishes in a fresh process: peak RSS above the imports (``VmHWM``) and the peak
of Python-level allocations (tracemalloc) are compared between 25K and 100K rows.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

TOML = """
[source]
url = "sqlite:///big.sqlite"

[publish]
chunk_size = 5000

[[datasets]]
id = "gold/big"
description = "Many rows"
update_frequency = "daily"
query = "SELECT id, code, label, amount, day, at FROM big ORDER BY id"
"""


def build(folder: Path, rows: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(folder / "big.sqlite") as db:
        db.execute("CREATE TABLE big (id INTEGER, code TEXT, label TEXT, amount REAL, day TEXT, at TEXT)")
        db.executemany(
            "INSERT INTO big VALUES (?, ?, ?, ?, ?, ?)",
            (
                (
                    i,
                    f"{i % 9973:06d}",
                    f'label number {i} with some text, quoted "x"',
                    i * 0.37,
                    f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}",
                    f"2024-08-10T{i % 24:02d}:15:00Z",
                )
                for i in range(rows)
            ),
        )
    (folder / "datasets.toml").write_text(TOML)
    return folder / "datasets.toml"


def child(config_path: str, store: str) -> None:
    """Runs in a fresh interpreter: publish, print the memory figures as JSON."""
    import tracemalloc

    from scout_jupyter.publish import load_config, publish
    from scout_jupyter.storage import open_storage

    config, storage = load_config(config_path), open_storage(store)
    base = _status_kb("VmRSS")
    tracemalloc.start()
    result = publish(config, storage)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak = _status_kb("VmHWM")  # not ru_maxrss: that one includes the parent's RSS at the fork
    print(
        json.dumps(
            {
                "rows": result.datasets[0].row_count,
                "ok": result.ok,
                "rss_mb": (peak - base) / 1024,
                "traced_mb": traced_peak / 2**20,
                "csv_mb": _csv_mb(store),
            }
        )
    )


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(field + ":"))


def _csv_mb(store: str) -> float:
    return sum(p.stat().st_size for p in Path(store).rglob("*.csv")) / 2**20


def measure(tmp_path: Path, rows: int) -> dict:
    config = build(tmp_path / f"w{rows}", rows)
    code = f"from tests.test_publish_memory import child; child({str(config)!r}, {str(tmp_path / f's{rows}')!r})"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_memory_stays_flat_when_the_dataset_grows(tmp_path):
    small, large = measure(tmp_path, 25_000), measure(tmp_path, 100_000)
    print(f"\npublish memory: 25K rows {small}, 100K rows {large}")
    assert small["ok"] and large["ok"] and large["rows"] == 100_000
    assert large["csv_mb"] > 3.5 * small["csv_mb"]  # the output really is 4x bigger...
    assert large["traced_mb"] < 1.5 * small["traced_mb"]  # ...the Python heap is not
    assert large["rss_mb"] < 1.5 * max(small["rss_mb"], 20.0)  # nor the process
