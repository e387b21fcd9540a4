"""How a client finds its server or store, and the settings it takes."""

from __future__ import annotations

import pytest

import scout_jupyter as scout
from scout_jupyter.client import connect, default_client
from scout_jupyter.client.http import normalize_api_url
from scout_jupyter.errors import ConfigError

from .fakeserver import TOKEN, FakeScoutServer


@pytest.mark.parametrize("given,expected", [
    ("http://h:8888", "http://h:8888/"),
    ("http://h:8888/", "http://h:8888/"),
    ("http://h:8888/user/ana/", "http://h:8888/user/ana/"),
    ("http://h:8888/user/ana/scout/api", "http://h:8888/user/ana/"),
    ("https://h/functions/v1/", "https://h/"),
])
def test_api_url_forms(given, expected):
    assert normalize_api_url(given) == expected


@pytest.mark.parametrize("bad", ["ftp://h/", "h:8888", "http://"])
def test_bad_api_url(bad):
    with pytest.raises(ConfigError, match="SCOUT_API_URL must be an http"):
        normalize_api_url(bad)


def test_environment_selects_proxy_mode_with_the_hub_token(monkeypatch, small_store):
    with FakeScoutServer(small_store.storage, token="hub-secret") as server:
        monkeypatch.setenv("SCOUT_API_URL", server.url + "scout/api")
        monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "hub-secret")
        client = default_client()
        assert client.mode == "proxy" and client is default_client()
        assert scout.load("gold/txn_daily")["store_code"].tolist() == ["0042", "0107", "0042"]
        monkeypatch.setenv("SCOUT_API_TOKEN", TOKEN)  # the server's own token wins over the hub's
        assert connect(set_default=False).transport.api.token == TOKEN


def test_storage_url_selects_direct_mode(monkeypatch, small_store):
    monkeypatch.setenv("SCOUT_STORAGE_URL", small_store.url)
    assert default_client().mode == "direct"


def test_the_demo_store_is_the_last_resort(monkeypatch, tmp_path, small_store):
    demo = tmp_path / "project" / ".scout" / "store"
    demo.mkdir(parents=True)
    small_store.storage.root.rename(demo / "sample")
    monkeypatch.chdir(tmp_path / "project")
    assert len(scout.datasets()) == 3


def test_connect_replaces_the_default(small_store, tmp_path):
    first = connect(storage_url=small_store.url, cache_dir=tmp_path / "a")
    assert default_client() is first
    second = connect(storage_url=small_store.url, cache_dir=tmp_path / "b")
    assert default_client() is second
    third = connect(storage_url=small_store.url, cache_dir=tmp_path / "c", set_default=False)
    assert default_client() is second and third is not second


def test_settings_errors(small_store, tmp_path):
    with pytest.raises(ConfigError, match="either api_url .* or storage_url"):
        connect(api_url="http://h/", storage_url=small_store.url)
    with pytest.raises(ConfigError, match="Invalid cache size"):
        connect(storage_url=small_store.url, cache_size="big")
    with pytest.raises(ConfigError, match="Unsupported storage URL scheme"):
        connect(storage_url="gopher://bucket")


def test_direct_mode_has_no_analytics_or_jobs(direct_client):
    with pytest.raises(ConfigError, match="Access analytics come from the Jupyter server"):
        direct_client.analytics()
    with pytest.raises(ConfigError, match="needs a publish config"):
        direct_client.publish()
    with pytest.raises(ConfigError, match="days must be a positive whole number"):
        direct_client.analytics(0)


def test_importing_the_client_pulls_in_no_widgets():
    # (tornado does get imported: tenacity imports it whenever it is installed)
    import subprocess
    import sys

    code = ("import sys, scout_jupyter as s; s.connect; import scout_jupyter.fsspec_scout; "
            "print(sorted(m for m in ('ipywidgets', 'jupyter_server') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
