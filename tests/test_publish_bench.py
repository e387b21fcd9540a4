"""The publish benchmark (B7–B9) runs: tiny scales here; `python -m bench` measures the real ones."""

from __future__ import annotations

import pytest

from bench.bench_publish import measure_all


@pytest.mark.slow
def test_publish_benchmark_runs():
    figures = measure_all(0.05, 0.1, fresh_runs=2)
    first, again, big = figures["first"], figures["again"], figures["big"]
    assert len(figures["fresh"]) == 2 and first is min(figures["fresh"], key=lambda f: f["seconds"])
    assert first["ok"] and again["ok"] and big["ok"]
    assert first["bytes_uploaded"] > 0 and again["bytes_uploaded"] == 0
    assert big["rows"] > first["rows"] > 0
    assert first["seconds"] > 0 and first["rss_peak_mb"] > first["rss_base_mb"] > 0
