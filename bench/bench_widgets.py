"""B10: the dataset browser widget for a 1,000-dataset manifest.

* Python build: ``DatasetBrowser(client)`` with a fresh client over a local store (reads and
  verifies the manifest, checks the cache for every dataset, builds the rows) — what
  ``scout.browse()`` costs in the kernel.
* First paint in Chromium: the widget's own ESM and CSS loaded as anywidget loads them (a
  ``blob:`` module), its state deserialized from JSON, ``render()`` called, until the next two
  animation frames (the first frame with the table painted; the view puts the first 60 matching
  rows in the DOM and more as the list scrolls). JupyterLab's own output plumbing is not
  included: it is the same for every widget.
* One filter keystroke: a character typed into the filter box until the next frame.

Targets (PERFORMANCE.md): build + first paint ≤ 300 ms; a keystroke ≤ 50 ms. The sidebar's half
of B10 lives with the labextension.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from scout_jupyter.client import connect
from scout_jupyter.clock import FakeClock, isoformat_z
from scout_jupyter.manifest import FREQUENCIES, DatasetEntry, Manifest, dataset_key, latest_manifest_key
from scout_jupyter.storage.local import LocalStorage
from tests.fixtures.chromium import CHROMIUM, CHROMIUM_ARGS  # the browser tests' headless flags

WIDGETS = Path(__file__).resolve().parents[1] / "scout_jupyter" / "widgets"
WORDS = ("daily", "weekly", "store", "basket", "segment", "feature", "region", "product", "customer", "request")


def big_store(root: Path, count: int, clock: FakeClock) -> str:
    """A local store whose manifest lists ``count`` datasets (tiny CSVs, varied ages and schedules)."""
    storage = LocalStorage(root.as_uri(), clock=clock)
    frequencies = list(FREQUENCIES)
    entries = []
    for i in range(count):
        dataset_id = f"{'gold' if i % 3 else 'platinum'}/ds_{i:04d}"
        data = f"key,value\n{i},{i * 2}\n".encode()
        key = dataset_key(dataset_id, "2024-08-10")
        storage.write(key, data)
        entries.append(
            DatasetEntry(
                id=dataset_id,
                latest_csv="/" + key,
                date="2024-08-10",
                row_count=1 + i * 37,
                sha256=hashlib.sha256(data).hexdigest(),
                size_bytes=len(data) + i * 1024,
                last_modified=isoformat_z(clock.now() - timedelta(hours=i % 400)),
                description=f"Synthetic {WORDS[i % len(WORDS)]} dataset number {i} for the browser benchmark",
                update_frequency=frequencies[i % len(frequencies)],
                schema={"fields": [{"name": "key", "type": "integer"}, {"name": "value", "type": "integer"}]},
            )
        )
    storage.write(latest_manifest_key(), Manifest.build(entries, clock=clock).to_bytes())
    return storage.url


def python_build(store_url: str, cache: Path, clock: FakeClock, runs: int) -> tuple[float, dict]:
    """Median seconds of ``DatasetBrowser(fresh client)``, and the built widget's state."""
    from scout_jupyter.widgets import DatasetBrowser

    times, state = [], {}
    for _ in range(runs):
        client = connect(storage_url=store_url, cache_dir=cache, clock=clock, set_default=False)
        started = time.perf_counter()
        browser = DatasetBrowser(client, namespace={})
        times.append(time.perf_counter() - started)
        state = {
            name: getattr(browser, name)
            for name in browser.keys
            if not name.startswith("_") and name not in ("layout", "tabbable", "tooltip", "comm", "log")
        }
        browser.close()
        client.close()
    return statistics.median(times), state


PAGE_SCRIPT = """async ({esm, stateJson, runs, keys}) => {
  const frame = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const url = URL.createObjectURL(new Blob([esm], {type: 'text/javascript'}));
  const mod = await import(url);
  const paints = [];
  let model, el;
  for (let i = 0; i < runs; i++) {
    document.getElementById('host').replaceChildren();
    el = document.createElement('div');
    document.getElementById('host').append(el);
    await frame();
    const t0 = performance.now();
    const state = JSON.parse(stateJson);
    model = {get: k => state[k], set: (k, v) => { state[k] = v; }, on() {}, off() {}, save_changes() {}, send() {}};
    mod.default.render({model, el});
    el.getBoundingClientRect();  // layout now, inside the timed part
    await frame();
    paints.push(performance.now() - t0);
  }
  const painted = {count: el.querySelector('.scout-count').textContent,
                   rows: el.querySelectorAll('tr.scout-row').length};
  const search = el.querySelector('input[type=search]');
  const strokes = [];
  for (const key of keys) {
    search.value = key;
    const t0 = performance.now();
    search.dispatchEvent(new Event('input'));
    el.getBoundingClientRect();
    await frame();
    strokes.push(performance.now() - t0);
  }
  return {paints, strokes, ...painted, filtered: el.querySelector('.scout-count').textContent};
}"""


def chromium_paint(state: dict, runs: int) -> dict:
    """First paint and keystroke times (ms) of the browser's view in headless Chromium."""
    if not CHROMIUM.exists():
        raise RuntimeError("Chromium not found: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    css = (WIDGETS / "scout.css").read_text(encoding="utf-8")
    esm = (WIDGETS / "browser.js").read_text(encoding="utf-8")
    keys = ["d", "da", "dai", "dail", "daily", "daily 1", "daily 12", "s", "st", "sto"]
    with tempfile.TemporaryDirectory(prefix="scout-bench-chromium-") as home, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            env={"HOME": home, "XDG_CONFIG_HOME": home, "XDG_CACHE_HOME": home},
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_content(f"<html><head><style>{css}</style></head><body><div id='host'></div></body></html>")
            return page.evaluate(PAGE_SCRIPT, {"esm": esm, "stateJson": json.dumps(state), "runs": runs, "keys": keys})
        finally:
            browser.close()


def measure(count: int = 1000, runs: int = 5) -> dict:
    clock = FakeClock()
    with tempfile.TemporaryDirectory(prefix="scout-bench-widgets-") as tmp:
        root = Path(tmp)
        store_url = big_store(root / "store", count, clock)
        build, state = python_build(store_url, root / "cache", clock, runs)
    page = chromium_paint(state, runs)
    if page["count"] != f"{count} of {count} datasets" or not page["rows"]:
        raise RuntimeError(f"the view listed {page['count']!r} with {page['rows']} rows drawn")
    paint = statistics.median(page["paints"]) / 1000
    stroke = statistics.median(page["strokes"]) / 1000
    first = build + paint
    return {
        "B10": {
            "what": f"browser widget, {count:,} datasets: Python build + first paint in Chromium",
            "value": first * 1000,
            "unit": "ms",
            "target": "<= 300 ms",
            "ok": first <= 0.300,
            "note": f"build {build * 1000:.0f} ms + paint {paint * 1000:.0f} ms (medians of {runs})",
        },
        "B10k": {
            "what": f"browser widget, {count:,} datasets: one filter keystroke to the next frame",
            "value": stroke * 1000,
            "unit": "ms",
            "target": "<= 50 ms",
            "ok": stroke <= 0.050,
            "note": f"median of {len(page['strokes'])} keystrokes; max {max(page['strokes']):.0f} ms",
        },
    }


def run(quick: bool = True) -> dict:
    return measure(1000, runs=3 if quick else 7)


if __name__ == "__main__":
    print(json.dumps(run(), indent=2, default=str))
