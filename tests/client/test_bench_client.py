"""The client benchmark runs (its figures are not checked here: see bench/)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_client_benchmark_runs():
    from bench.bench_client import measure

    rows = measure([(2_000, "")], runs=1, replay_rows=50)
    assert sorted(rows) == ["B1", "B11", "B2", "B3", "B4"]
    for row in rows.values():
        assert row["value"] > 0 and row["ratio"] > 0 and isinstance(row["ok"], bool)
    assert rows["B11"]["value"] == 100.0
