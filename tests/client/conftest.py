"""Fixtures for the client tests: an isolated cache and environment, direct and proxy clients."""

from __future__ import annotations

import pytest

from scout_jupyter import client as client_module
from scout_jupyter.client import connect
from scout_jupyter.storage.retry import RetryPolicy

from .fakeserver import TOKEN, FakeScoutServer

SCOUT_ENV = (
    "SCOUT_API_URL",
    "SCOUT_API_TOKEN",
    "JUPYTERHUB_API_TOKEN",
    "SCOUT_STORAGE_URL",
    "SCOUT_CACHE_DIR",
    "SCOUT_CACHE_SIZE",
    "SCOUT_PUBLISH_CONFIG",
)


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
    """No test reads the developer's settings or writes to their cache; no default client leaks."""
    for name in SCOUT_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SCOUT_CACHE_DIR", str(tmp_path / "default-cache"))
    monkeypatch.setattr(client_module, "_default", None)
    yield
    monkeypatch.setattr(client_module, "_default", None)


@pytest.fixture
def retry(fake_clock) -> RetryPolicy:
    return RetryPolicy(attempts=4, base_delay=0.2, max_delay=5.0, sleep=fake_clock.sleep)


@pytest.fixture
def cache_dir(tmp_path):
    return tmp_path / "cache"


@pytest.fixture
def direct_client(small_store, cache_dir, fake_clock, retry):
    client = connect(
        storage_url=small_store.storage, cache_dir=cache_dir, clock=fake_clock, retry=retry, set_default=False
    )
    yield client
    client.close()


@pytest.fixture
def fake_server(small_store):
    with FakeScoutServer(small_store.storage) as server:
        yield server


@pytest.fixture
def proxy_client(fake_server, cache_dir, fake_clock, retry):
    client = connect(
        api_url=fake_server.url, token=TOKEN, cache_dir=cache_dir, clock=fake_clock, retry=retry, set_default=False
    )
    yield client
    client.close()
