"""RELIABILITY.md rows 1, 3–13 and 17: authentication, signed URLs, input validation, secrets."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from urllib.parse import quote

import pytest

from scout_jupyter.storage.local import signature_for

from .helpers import fetch_error, get_url, sign, signature_parts, with_query

KEY = b"s" * 64  # the signing key of tests/fixtures/jupyter.py
TXN_KEY = "scout/v1/gold/txn_daily/txn_daily_2024-08-10.csv"
ROUTES = [
    ("GET", ("scout", "api", "dataset-proxy"), {"dataset": "gold/txn_daily", "ttl": "60"}),
    ("GET", ("functions", "v1", "dataset-proxy"), {"dataset": "gold/txn_daily"}),
    ("GET", ("scout", "api", "manifest"), {}),
    ("GET", ("scout", "api", "datasets"), {}),
    ("GET", ("scout", "api", "datasets", "gold", "txn_daily"), {}),
    ("POST", ("scout", "api", "publish"), {}),
    ("GET", ("scout", "api", "jobs", "abc"), {}),
    ("GET", ("scout", "api", "access", "analytics"), {}),
]


def files_url(root: str, key: str, expires: int, sig: str | None = None, quoted: bool = True) -> str:
    path = quote(key, safe="/") if quoted else key
    return f"{root}scout/files/{path}?expires={expires}&scout_auth={sig or signature_for(KEY, 'GET', key, expires)}"


@pytest.fixture
def root(http_server_client, jp_base_url) -> str:
    return http_server_client.get_url(jp_base_url)


# --- row 1: no authentication -----------------------------------------------------------------
@pytest.mark.parametrize("method, parts, params", ROUTES)
async def test_row1_every_route_needs_authentication(jp_fetch, access_rows, method, parts, params):
    code, body, response = await fetch_error(
        jp_fetch,
        *parts,
        params=params,
        method=method,
        body="{}" if method == "POST" else None,
        headers={"Authorization": ""},
    )
    assert code == 403 and body["error"] == "access_denied"
    assert b"scout_auth" not in response.body and b"signed_url" not in response.body
    rows = access_rows()
    assert len(rows) <= 1 and all(r["action"] == "deny" and r["user"] is None for r in rows)


# --- row 3: cross-site POST -------------------------------------------------------------------
async def test_row3_cookie_authenticated_post_without_xsrf_is_refused(jp_fetch, access_rows):
    login = await jp_fetch("scout", "api", "datasets")
    cookies = "; ".join(c.split(";")[0] for c in login.headers.get_list("Set-Cookie"))
    assert cookies, "token login sets a cookie"
    code, body, _ = await fetch_error(
        jp_fetch, "scout", "api", "publish", method="POST", body="{}", headers={"Authorization": "", "Cookie": cookies}
    )
    assert code == 403 and body["error"] == "access_denied" and "xsrf" in body["message"].lower()
    assert access_rows(action="deny")[-1]["status"] == 403
    # the same cookie authenticates a GET: the refusal above was the XSRF check
    response = await jp_fetch("scout", "api", "datasets", headers={"Authorization": "", "Cookie": cookies})
    assert response.code == 200


# --- rows 4–8: signed URLs --------------------------------------------------------------------
async def test_row4_expired_signature(jp_fetch, fake_clock, access_rows):
    url = (await sign(jp_fetch, ttl="60"))["signed_url"]
    fake_clock.advance(60)
    assert (await get_url(url)).code == 200  # valid through its last second
    fake_clock.advance(1)
    expired = await get_url(url)
    assert expired.code == 403 and b"date_key" not in expired.body
    assert json.loads(expired.body)["error"] == "access_denied"
    assert access_rows(action="deny")[-1]["dataset_id"] == "gold/txn_daily"


async def test_row5_tampered_signature(jp_fetch):
    url = (await sign(jp_fetch))["signed_url"]
    _, _, sig = signature_parts(url)
    for i in (0, len(sig) // 2, len(sig) - 1):
        flipped = sig[:i] + ("0" if sig[i] != "0" else "1") + sig[i + 1 :]
        response = await get_url(with_query(url, sig=flipped))
        assert response.code == 403 and b"date_key" not in response.body
    for bad in ("", "x", sig.upper(), sig + "00"):
        assert (await get_url(with_query(url, sig=bad or "%20"))).code == 403


async def test_row6_signature_for_another_file(jp_fetch):
    url = (await sign(jp_fetch))["signed_url"]
    path, _, _ = signature_parts(url)
    other = path.replace("gold/txn_daily/txn_daily_", "gold/product_mix/product_mix_")
    response = await get_url(with_query(url, path=other))
    assert response.code == 403 and b"product_id" not in response.body


async def test_row7_edited_expiry(jp_fetch):
    url = (await sign(jp_fetch))["signed_url"]
    _, expires, _ = signature_parts(url)
    for edited in (str(int(expires) + 1), str(int(expires) - 1), str(int(expires) + 86_400), expires + "0"):
        assert (await get_url(with_query(url, expires=edited))).code == 403


@pytest.mark.parametrize("method", ["PUT", "DELETE", "POST", "PATCH"])
async def test_row8_only_get_and_head_on_signed_urls(jp_fetch, small_store, method):
    url = (await sign(jp_fetch))["signed_url"]
    response = await get_url(url, method=method, body=b"overwritten" if method != "DELETE" else None)
    assert response.code in (403, 405)
    assert small_store.storage.read_bytes(TXN_KEY) == small_store.csv["gold/txn_daily"]


# --- row 9: TTL -------------------------------------------------------------------------------
@pytest.mark.parametrize("ttl", ["0", "-1", "1e21", "1.5", "abc", "3601", "86401", "99999999999999999999"])
async def test_row9_bad_ttl(jp_fetch, access_rows, ttl):
    code, body, response = await fetch_error(
        jp_fetch, "scout", "api", "dataset-proxy", params={"dataset": "gold/txn_daily", "ttl": ttl}
    )
    assert code == 400 and body["error"] == "invalid_ttl"
    assert b"signed_url" not in response.body
    [row] = access_rows()
    assert (row["action"], row["status"], row["error_code"], row["ttl"]) == ("sign", 400, "invalid_ttl", None)


async def test_row9_never_a_url_beyond_the_cap(jp_fetch, fake_clock):
    body = await sign(jp_fetch, ttl="3600")
    _, expires, _ = signature_parts(body["signed_url"])
    assert int(expires) - fake_clock.time() == 3600


# --- rows 10–12: traversal, sibling prefix, symlink -------------------------------------------
@pytest.mark.parametrize(
    "dataset",
    [
        "gold/../platinum/store_perf",
        "gold/..%2Fx",
        "gold/%252e%252e%252fx",
        "gold\\txn_daily",
        "/gold/txn_daily",
        "gold/txn_daily\x00",
        "../../etc/passwd",
        "gold/txn_daily/../../x",
        "gold/.",
        "gold/",
    ],
)
async def test_row10_traversal_in_dataset_ids(jp_fetch, dataset):
    code, body, response = await fetch_error(
        jp_fetch, "scout", "api", "dataset-proxy", params={"dataset": dataset, "ttl": "60"}
    )
    assert code == 400 and body["error"] == "invalid_dataset_id"
    assert b"signed_url" not in response.body


@pytest.fixture
def secret(tmp_path):
    path = tmp_path / "secret.txt"
    path.write_bytes(b"TOP-SECRET")
    return path


@pytest.mark.parametrize(
    "key, quoted",
    [
        ("../secret.txt", False),
        ("..%2Fsecret.txt", False),
        ("%252e%252e%252fsecret.txt", False),
        ("scout/../../secret.txt", False),
        ("..\\secret.txt", True),
        ("%2F" + "tmp/secret.txt", False),
        ("scout/v1/gold/txn_daily/x\x00.csv", True),
        ("../bucket-leak/x.csv", False),
    ],
)
async def test_row10_11_traversal_and_sibling_prefix_in_file_paths(
    jp_fetch, root, secret, small_store, fake_clock, key, quoted
):
    leak = small_store.storage.root.parent / "bucket-leak"
    leak.mkdir(exist_ok=True)
    (leak / "x.csv").write_bytes(b"TOP-SECRET")
    expires = int(fake_clock.time()) + 60
    # even a valid signature over the hostile key reads nothing outside the bucket
    response = await get_url(files_url(root, key, expires, quoted=quoted))
    assert response.code in (400, 403, 404)
    assert b"TOP-SECRET" not in response.body


async def test_row12_symlink_out_of_the_bucket(root, small_store, secret, fake_clock, jp_fetch):
    link = small_store.storage.root / "scout" / "v1" / "gold" / "link.csv"
    os.symlink(secret, link)
    os.symlink("/etc", small_store.storage.root / "etc")
    expires = int(fake_clock.time()) + 60
    for key in ("scout/v1/gold/link.csv", "etc/passwd"):
        response = await get_url(files_url(root, key, expires))
        assert response.code == 404 and b"TOP-SECRET" not in response.body and b"root:" not in response.body


# --- row 13: overlong, Unicode, control characters -------------------------------------------
@pytest.mark.parametrize(
    "dataset",
    [
        "gold/" + "a" * 10_000,
        "gold/txn_dai\u0301ly",
        "gold/caf\u0065\u0301",
        "gold/txn_daily\u200f",
        "\u202egold/txn_daily",
        "gold/txn_daily\r\nX-Injected: 1",
        "gold/txn_daily\n",
        "gold/txn_daily\t",
    ],
)
async def test_row13_hostile_ids_are_refused_and_logged_escaped(jp_fetch, access_rows, dataset):
    code, body, _ = await fetch_error(jp_fetch, "scout", "api", "dataset-proxy", params={"dataset": dataset})
    assert code == 400 and body["error"] == "invalid_dataset_id"
    assert len(body["message"]) < 300 and "\r" not in body["message"] and "\n" not in body["message"]
    [row] = access_rows()
    logged = row["dataset_id"]
    assert len(logged) <= 256
    assert not any(c in logged for c in "\r\n\t\u200f\u202e")


async def test_row13_user_agent_is_escaped_and_truncated(jp_fetch, access_rows):
    await jp_fetch(
        "scout",
        "api",
        "dataset-proxy",
        params={"dataset": "gold/txn_daily"},
        headers={"User-Agent": "curl/8 " + "\u200f".encode().decode("latin-1") + "x" * 1000},
    )
    [row] = access_rows()
    # the UTF-8 bytes of an RTL mark arrive as C1 control characters: escaped (HTTP itself refuses
    # CR, LF and other C0 controls in headers)
    assert row["user_agent"].startswith("curl/8 \u00e2\\x80\\x8fxxx") and len(row["user_agent"]) == 256


# --- row 17: no secrets in logs ---------------------------------------------------------------
async def test_row17_no_signature_key_token_or_url_in_logs(jp_fetch, jp_serverapp, caplog, access_rows, fake_clock):
    caplog.set_level(logging.DEBUG)
    body = await sign(jp_fetch)
    url = body["signed_url"]
    _, _, signature = signature_parts(url)
    assert (await get_url(url)).code == 200
    assert (await get_url(url, headers={"Range": "bytes=0-3"})).code == 206
    assert (await get_url(with_query(url, sig="0" * 64))).code == 403
    assert (await get_url(url, method="POST", body=b"x")).code in (403, 405)
    fake_clock.advance(3600)
    assert (await get_url(url)).code == 403
    token = jp_serverapp.identity_provider.token
    text = caplog.text
    stored = json.dumps(access_rows(), default=str)
    for secret in (signature, token, KEY.decode(), url, hashlib.sha256(KEY).hexdigest()):
        assert secret not in text, f"{secret[:12]}… in the server log"
        assert secret not in stored, f"{secret[:12]}… in the access log"
    assert "scout_auth=[secret]" in text  # Jupyter's request log scrubbed the parameter
    assert {r["action"] for r in access_rows()} == {"sign", "download", "deny"}
