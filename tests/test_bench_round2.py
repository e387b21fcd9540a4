"""The benchmarks of performance round 2 run (B5, B6a/B6b, B12, B13); their figures are not
checked here (see bench/ and PERFORMANCE.md), only that each produces its rows."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def check_rows(rows: dict, ids: list[str]) -> None:
    assert sorted(rows) == sorted(ids)
    for row in rows.values():
        assert row["value"] is not None and row["value"] > 0 and isinstance(row["ok"], bool)


def test_export_benchmark_runs():
    from bench.bench_export import measure

    rows = measure(3_000, 1_000, postgres=False)
    check_rows(rows, ["B13", "B13-ratio", "B13-mem"])
    assert rows["B13-ratio"]["baseline"] > 0


@pytest.mark.postgres
def test_export_benchmark_states_the_postgresql_figure():
    from bench.bench_export import measure

    row = measure(2_000, 1_000)["B13-pg"]
    assert row["value"] > 0 and row["baseline"] > 0 and "MB/s" in row["note"]


def test_download_benchmark_runs():
    from bench.bench_download import measure

    rows = measure(2, 2_000, runs=1)
    check_rows(rows, ["B5", "B5-mem", "B12", "B12-warm"])


def test_server_benchmark_runs_both_loops():
    from bench.bench_server import measure, rows_from

    got = measure(signs=200, rate=50, seconds=1.0, runs=1, open_runs=1)
    assert got["rows"] == [200] and got["open_rows"] == [50]
    rows = rows_from(got)
    assert [r["id"] for r in rows] == ["B6a", "B6b", "B6b"]
    assert rows[0]["baseline"] > 0 and all(isinstance(r["ok"], bool) for r in rows)
