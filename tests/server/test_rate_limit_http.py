"""RELIABILITY.md rows 14–16 through the server: 429 with Retry-After, moving window, per user.

Users come from a small identity provider that maps tokens to names (as JupyterHub does);
the last test checks the stock provider, whose token holders all share one limit.
"""

from __future__ import annotations

import pytest
from jupyter_server.auth.identity import IdentityProvider, User

from .helpers import fetch_error


class TwoUsers(IdentityProvider):
    TOKENS = {"alice-token": "alice", "bob-token": "bob"}

    def get_user(self, handler):
        _, _, token = handler.request.headers.get("Authorization", "").partition(" ")
        name = self.TOKENS.get(token)
        return User(username=name) if name else None


@pytest.fixture
def jp_server_config(jp_server_config, request):
    if "stock_identity_provider" not in request.node.name:
        jp_server_config["ServerApp"]["identity_provider_class"] = TwoUsers
    return jp_server_config


def as_user(name: str) -> dict[str, str]:
    return {"Authorization": f"token {name}-token"}


async def sign_as(jp_fetch, user: str, **kwargs):
    return await jp_fetch(
        "scout",
        "api",
        "dataset-proxy",
        params={"dataset": "gold/txn_daily", "ttl": "60"},
        headers=as_user(user),
        **kwargs,
    )


async def test_row14_eleventh_sign_in_a_minute_is_429(jp_fetch, fake_clock, access_rows):
    for _ in range(10):
        assert (await sign_as(jp_fetch, "alice")).code == 200
        fake_clock.advance(5)
    code, body, response = await fetch_error(
        jp_fetch, "scout", "api", "dataset-proxy", params={"dataset": "gold/txn_daily"}, headers=as_user("alice")
    )
    assert code == 429 and body == {
        "error": "rate_limited",
        "message": "Rate limit exceeded: retry in 11 s (this server allows 10 signed URLs per minute per user: "
        "its rate_limit setting, SCOUT_RATE_LIMIT)",
    }
    assert response.headers["Retry-After"] == "11"  # the first sign, 50 s ago, leaves the window in 10 s
    assert b"signed_url" not in response.body
    deny = access_rows(action="deny")
    assert [(r["user"], r["status"], r["error_code"]) for r in deny] == [("alice", 429, "rate_limited")]
    assert len(access_rows(action="sign")) == 10


async def test_row15_window_boundary(jp_fetch, fake_clock):
    fake_clock.advance(59)
    for _ in range(10):
        assert (await sign_as(jp_fetch, "alice")).code == 200
    fake_clock.advance(1)  # t = 60 s: a fixed one-minute window would start afresh here
    response = await sign_as(jp_fetch, "alice", raise_error=False)
    assert response.code == 429 and response.headers["Retry-After"] == "60"
    fake_clock.advance(59.5)
    assert (await sign_as(jp_fetch, "alice")).code == 200


async def test_row16_users_are_limited_separately(jp_fetch, access_rows):
    for _ in range(10):
        await sign_as(jp_fetch, "alice")
    assert (await sign_as(jp_fetch, "alice", raise_error=False)).code == 429
    assert (await sign_as(jp_fetch, "bob")).code == 200
    assert {r["user"] for r in access_rows(action="sign")} == {"alice", "bob"}


async def test_unknown_token_is_refused(jp_fetch):
    assert (await sign_as(jp_fetch, "mallory", raise_error=False)).code == 403


async def test_token_holders_share_one_limit_with_the_stock_identity_provider(jp_fetch, jp_serverapp):
    """Jupyter names each cookie-less token request anew; they must not escape the limit."""
    for _ in range(10):
        assert (await jp_fetch("scout", "api", "dataset-proxy", params={"dataset": "gold/txn_daily"})).code == 200
    response = await jp_fetch("scout", "api", "dataset-proxy", params={"dataset": "gold/txn_daily"}, raise_error=False)
    assert response.code == 429
