"""The dashboard's breakdown of the access log: outcomes per day, top users, p50/p95 durations."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from scout_jupyter.server.access_stats import access_breakdown
from scout_jupyter.server.accesslog import AccessLog

from .test_accesslog import T0, _analytics_fixture, row


def _check_breakdown(log: AccessLog) -> None:
    _analytics_fixture(log)
    found = access_breakdown(log, date(2024, 8, 10))
    assert found["outcomes"] == [
        {"access_date": "2024-08-10", "outcome": "denied", "requests": 1},
        {"access_date": "2024-08-10", "outcome": "ok", "requests": 4},
        {"access_date": "2024-08-10", "outcome": "rate_limited", "requests": 1},
        {"access_date": "2024-08-11", "outcome": "ok", "requests": 1},
    ]
    # the same rows as the analytics view: its total_requests, summed
    assert sum(o["requests"] for o in found["outcomes"]) == sum(
        r["total_requests"] for r in log.analytics(date(2024, 8, 10))
    )
    users = {u["user"]: u for u in found["top_users"]}
    assert users[None] == {"user": None, "requests": 3, "bytes_served": 150, "datasets": 1}
    assert users["a"]["requests"] == 2 and users["c"]["datasets"] == 1
    assert found["top_users"][0]["user"] is None  # the most requests first
    assert [d["dataset_id"] for d in found["durations"]] == ["gold/txn_daily", "platinum/store_perf"]
    assert access_breakdown(log, date(2024, 8, 11))["outcomes"] == [
        {"access_date": "2024-08-11", "outcome": "ok", "requests": 1}
    ]


def test_breakdown_on_sqlite(tmp_path):
    log = AccessLog(f"sqlite:///{tmp_path / 'log.sqlite'}", flush_interval=0.01).start()
    try:
        _check_breakdown(log)
    finally:
        log.close()


@pytest.mark.postgres
def test_breakdown_on_postgres(postgres_url):
    log = AccessLog(postgres_url, flush_interval=0.01).start()
    try:
        _check_breakdown(log)
    finally:
        log.close()


def test_nearest_rank_percentiles(tmp_path):
    log = AccessLog(f"sqlite:///{tmp_path / 'log.sqlite'}", flush_interval=0.01).start()
    try:
        for i in range(1, 101):  # 1 … 100 ms, written out of order
            log.write(row(duration_ms=float((i * 37) % 100 + 1), accessed_at=T0 + timedelta(seconds=i)))
        assert log.flush()
        (found,) = access_breakdown(log, date(2024, 8, 10))["durations"]
        assert found == {"dataset_id": "gold/txn_daily", "requests": 100, "p50_ms": 50.0, "p95_ms": 95.0}
    finally:
        log.close()
