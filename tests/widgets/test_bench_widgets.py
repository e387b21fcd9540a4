"""The widget benchmark (B10) runs: its figures are not checked here (see bench/)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_widget_benchmark_runs():
    from bench.bench_widgets import measure

    rows = measure(count=120, runs=1)
    assert sorted(rows) == ["B10", "B10k"]
    for row in rows.values():
        assert row["value"] > 0 and isinstance(row["ok"], bool) and row["unit"] == "ms"
    assert "build" in rows["B10"]["note"] and "paint" in rows["B10"]["note"]
