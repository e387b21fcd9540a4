"""RELIABILITY.md row 18: 2,000 signs from 20 concurrent clients leave exactly 2,000 rows,
on SQLite and on a real PostgreSQL (the rate limit raised, so every sign is admitted).

The clients are B6's (bench/bench_server.py): keep-alive connections keeping the session
cookie, so this also checks that the benchmark code runs."""

from __future__ import annotations

import logging
from collections import Counter

import pytest

from bench.bench_server import load

CLIENTS, SIGNS = 20, 2000


@pytest.fixture
def scout_config(scout_config):
    scout_config["rate_limit"] = "1000000/minute"
    return scout_config


@pytest.mark.parametrize(
    "access_log_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_row18_every_concurrent_sign_is_logged_once(
    jp_fetch, http_server_client, jp_base_url, jp_serverapp, access_rows
):
    jp_serverapp.log.setLevel(logging.INFO)  # pytest-jupyter's DEBUG would log each request thrice
    root = http_server_client.get_url(jp_base_url)
    latencies, _seconds, codes = await load(root, CLIENTS, SIGNS, ttl=60, token=jp_serverapp.identity_provider.token)
    assert codes == {200: SIGNS} and len(latencies) == SIGNS
    rows = access_rows()
    assert len(rows) == SIGNS
    assert {(r["action"], r["status"], r["dataset_id"], r["ttl"]) for r in rows} == {
        ("sign", 200, "gold/txn_daily", 60)
    }
    # each client's requests, each logged once
    assert Counter(r["user_agent"] for r in rows) == {f"bench-client-{n}": SIGNS // CLIENTS for n in range(CLIENTS)}
