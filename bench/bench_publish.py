"""B7–B9 of PERFORMANCE.md: publishing the nine demo datasets into a local store.

Each publish runs in a fresh child process, so its peak memory is its own: the figure is the
peak RSS during the publish minus the RSS after the imports (``VmHWM`` and ``VmRSS``).
B7 publishes scale 1 into an empty store, three times (each into a store of its own), and
reports the median: the machine is shared, and one publish can land on a busy second. All
three times are in the note. B8 re-publishes the first store unchanged (ratio against B7);
B9 publishes scale 10 (scale 3 with ``--quick``) once, against scale 1: time and memory
against B7's median run. Building the warehouses is not timed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _status_kb(field: str) -> int:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process, in kB. VmHWM, unlike ``ru_maxrss``,
    starts afresh at exec: ru_maxrss would include the parent's RSS at the fork (the parent
    here has just built a large warehouse)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def child(warehouse: str, store: str) -> dict:
    """Publish the demo datasets from ``warehouse`` into ``store``; runs in its own process."""
    from scout_jupyter.demo import demo_config_path
    from scout_jupyter.publish import load_config, publish
    from scout_jupyter.storage import open_storage

    config = load_config(demo_config_path(), source_url=f"sqlite:///{warehouse}")
    storage = open_storage(store)
    base = _status_kb("VmRSS")
    started = time.perf_counter()
    result = publish(config, storage)
    seconds = time.perf_counter() - started
    peak = _status_kb("VmHWM")
    return {
        "seconds": seconds,
        "rss_base_mb": base / 1024,
        "rss_peak_mb": peak / 1024,
        "publish_mb": (peak - base) / 1024,
        "bytes_uploaded": result.bytes_uploaded,
        "ok": result.ok,
        "rows": sum(d.row_count or 0 for d in result.datasets),
    }


def measure(warehouse: Path, store: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "bench.bench_publish", "--child", str(warehouse), str(store)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def build(folder: Path, scale: float) -> Path:
    from scout_jupyter.demo import build_warehouse

    path = folder / f"warehouse-{scale:g}.sqlite"
    build_warehouse(path, seed=42, scale=scale)
    return path


def measure_all(small: float = 1.0, big: float = 10.0, *, fresh_runs: int = 3) -> dict:
    """Publish at ``small`` (``fresh_runs`` times into empty stores, then the first store again,
    unchanged) and at ``big``; the raw figures. ``first`` is the fresh run of median time."""
    with tempfile.TemporaryDirectory(prefix="scout-bench-publish-") as tmp:
        root = Path(tmp)
        w1 = build(root, small)
        fresh = [measure(w1, root / f"store1-{n}") for n in range(fresh_runs)]
        again = measure(w1, root / "store1-0")
        large = measure(build(root, big), root / "store-big")
    first = sorted(fresh, key=lambda f: f["seconds"])[(len(fresh) - 1) // 2]
    return {"first": first, "fresh": fresh, "again": again, "big": large, "scales": (small, big)}


def run(quick: bool = True) -> dict:
    figures = measure_all(1.0, 3.0 if quick else 10.0)
    first, fresh, again, big = figures["first"], figures["fresh"], figures["again"], figures["big"]
    time_ratio, mem_ratio = big["seconds"] / first["seconds"], big["publish_mb"] / max(first["publish_mb"], 1.0)
    label = f"scale {figures['scales'][1]:g}"
    runs = ", ".join(f"{f['seconds']:.2f}" for f in fresh)
    return {
        "B7": {
            "what": "publish all nine datasets at scale 1, local store (median of 3)",
            "value": first["seconds"],
            "unit": "s",
            "target": "<= 5 s",
            "ok": first["seconds"] <= 5 and all(f["ok"] for f in fresh),
            "note": f"runs {runs} s; {first['rows']:,} rows; publish memory {first['publish_mb']:.0f} MB above "
            f"{first['rss_base_mb']:.0f} MB of imports",
        },
        "B8": {
            "what": "re-publish unchanged",
            "value": again["seconds"],
            "unit": "s",
            "baseline": first["seconds"],
            "ratio": again["seconds"] / first["seconds"],
            "target": "<= 0.2x, 0 bytes",
            "ok": again["seconds"] <= 0.2 * first["seconds"] and again["bytes_uploaded"] == 0,
            "note": f"{again['bytes_uploaded']} bytes uploaded",
        },
        "B9": {
            "what": f"publish at {label} vs scale 1 (time)",
            "value": big["seconds"],
            "unit": "s",
            "baseline": first["seconds"],
            "ratio": time_ratio,
            "target": "time <= 12x",
            "ok": time_ratio <= 12 and big["ok"],
        },
        "B9-mem": {
            "what": f"publish at {label} vs scale 1 (peak memory above imports)",
            "value": big["publish_mb"],
            "unit": "MB",
            "baseline": first["publish_mb"],
            "ratio": mem_ratio,
            "target": "<= 2x",
            "ok": mem_ratio <= 2,
            "note": f"{big['rows']:,} rows; peak RSS {big['rss_peak_mb']:.0f} MB vs "
            f"{first['rss_peak_mb']:.0f} MB; scale-1 runs "
            + ", ".join(f"{f['publish_mb']:.0f}" for f in fresh)
            + " MB",
        },
    }


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        os.environ.setdefault("PYTHONHASHSEED", "0")
        print(json.dumps(child(sys.argv[2], sys.argv[3])))
    else:
        print(json.dumps(run(quick="--full" not in sys.argv), indent=2, default=str))
