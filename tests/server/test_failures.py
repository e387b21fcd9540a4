"""RELIABILITY.md rows 19 (access log unavailable: fail closed) and 25 (malformed manifest)."""

from __future__ import annotations

import json
import shutil

import psycopg
import pytest
from sqlalchemy.engine import make_url

from scout_jupyter.manifest import latest_manifest_key
from scout_jupyter.server.accesslog import AccessLog

from .helpers import fetch_error, get_url, sign


@pytest.fixture
def access_log_url(request, tmp_path):
    """``sqlite``: a log in its own folder; ``sqlite-readonly``: an existing log opened
    read-only; ``postgres``: a fresh PostgreSQL database."""
    kind = getattr(request, "param", "sqlite")
    if kind == "postgres":
        return request.getfixturevalue("postgres_url")
    path = tmp_path / "log" / "access.sqlite"
    if kind == "sqlite-readonly":
        AccessLog(f"sqlite:///{path}").start().close()  # the schema exists; the server may not write
        return f"sqlite:///file:{path}?mode=ro&uri=true"
    return f"sqlite:///{path}"


async def assert_refused_without_url(jp_fetch) -> None:
    code, body, response = await fetch_error(
        jp_fetch, "scout", "api", "dataset-proxy", params={"dataset": "gold/txn_daily", "ttl": "60"}
    )
    assert code == 503 and body["error"] == "access_log_unavailable"
    assert b"signed_url" not in response.body and b"scout_auth" not in response.body


# --- row 19 -----------------------------------------------------------------------------------
@pytest.mark.parametrize("access_log_url", ["sqlite-readonly"], indirect=True)
async def test_row19_read_only_database_refuses_signing(jp_fetch):
    await assert_refused_without_url(jp_fetch)
    # reading routes do not depend on the log
    assert (await jp_fetch("scout", "api", "datasets")).code == 200


async def test_row19_database_removed_while_running(jp_fetch, tmp_path):
    url = (await sign(jp_fetch))["signed_url"]
    shutil.rmtree(tmp_path / "log")
    await assert_refused_without_url(jp_fetch)
    await assert_refused_without_url(jp_fetch)
    assert not (tmp_path / "log").exists()  # not silently recreated elsewhere either
    assert (await get_url(url)).code == 200  # a URL issued while the log worked still downloads


def break_postgres(log_url: str, statements: list[str]) -> None:
    """Run ``statements`` ({db} is the log's database) as the server's superuser."""
    url = make_url(log_url)
    with psycopg.connect(host=url.host, port=url.port, user=url.username, dbname="postgres", autocommit=True) as admin:
        for statement in statements:
            admin.execute(statement.format(db=url.database))


@pytest.mark.postgres
@pytest.mark.parametrize("access_log_url", ["postgres"], indirect=True)
@pytest.mark.parametrize(
    "statements",
    [
        ['DROP DATABASE "{db}" WITH (FORCE)'],
        [
            'ALTER DATABASE "{db}" SET default_transaction_read_only = on',
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}'",
        ],
    ],
    ids=["dropped", "read-only"],
)
async def test_row19_postgres_gone_or_read_only_while_running(jp_fetch, access_log_url, statements):
    await sign(jp_fetch)
    break_postgres(access_log_url, statements)
    await assert_refused_without_url(jp_fetch)


# --- row 25 -----------------------------------------------------------------------------------
def malformed(raw: bytes, kind: str) -> bytes:
    if kind == "truncated":
        return raw[: len(raw) // 2]
    obj = json.loads(raw)
    if kind == "bad hex":
        obj["datasets"]["gold/txn_daily"]["sha256"] = "z" * 64
    elif kind == "wrong manifest_sha256":
        obj["integrity"]["manifest_sha256"] = "0" * 64
    elif kind == "duplicate ids":
        entry = json.dumps(obj["datasets"]["gold/txn_daily"])
        text = json.dumps(obj)
        return text.replace('"datasets": {', f'"datasets": {{"gold/txn_daily": {entry}, ', 1).encode()
    return json.dumps(obj).encode()


KINDS = ["truncated", "duplicate ids", "bad hex", "wrong manifest_sha256"]


@pytest.mark.parametrize("kind", KINDS)
async def test_row25_malformed_manifest_without_a_good_one_is_503(jp_fetch, small_store, kind):
    key = latest_manifest_key()
    small_store.storage.write(key, malformed(small_store.storage.read_bytes(key), kind))
    for parts, params in (
        (("scout", "api", "manifest"), {}),
        (("scout", "api", "dataset-proxy"), {"dataset": "gold/txn_daily"}),
        (("scout", "api", "datasets"), {}),
    ):
        code, body, response = await fetch_error(jp_fetch, *parts, params=params)
        assert code == 503 and body["error"] == "manifest_invalid"
        assert b"signed_url" not in response.body


@pytest.mark.parametrize("kind", KINDS)
async def test_row25_malformed_manifest_keeps_the_last_good_one(jp_fetch, small_store, fake_clock, scout_ext, kind):
    key = latest_manifest_key()
    good = (await jp_fetch("scout", "api", "manifest")).body
    small_store.storage.write(key, malformed(good, kind))
    fake_clock.advance(900)  # the cache TTL: the store is read again
    code, body, _ = await fetch_error(jp_fetch, "scout", "api", "manifest")
    assert code == 503 and body["error"] == "manifest_invalid"
    assert scout_ext.service.manifests.last_good.raw == good
    # the datasets of the last good manifest stay available, with their checksums
    grant = await sign(jp_fetch)
    assert grant["dataset_info"]["sha256"] == small_store.manifest.get("gold/txn_daily").sha256
    assert (await get_url(grant["signed_url"])).body == small_store.csv["gold/txn_daily"]
    # repaired in the store: served again
    small_store.storage.write(key, good)
    fake_clock.advance(10)
    assert (await jp_fetch("scout", "api", "manifest")).body == good
