"""How a client finds its server or store, and the settings it takes."""

from __future__ import annotations

import json
import os

import pytest

import scout_jupyter as scout
from scout_jupyter.client import connect, default_client
from scout_jupyter.client.discovery import parent_jupyter_server
from scout_jupyter.client.http import normalize_api_url, parse_server_url
from scout_jupyter.errors import ConfigError

from .fakeserver import TOKEN, FakeScoutServer


@pytest.mark.parametrize(
    "given,expected",
    [
        ("http://h:8888", "http://h:8888/"),
        ("http://h:8888/", "http://h:8888/"),
        ("http://h:8888/user/ana/", "http://h:8888/user/ana/"),
        ("http://h:8888/user/ana/scout/api", "http://h:8888/user/ana/"),
        ("https://h/functions/v1/", "https://h/"),
        ("http://127.0.0.1:8888/lab", "http://127.0.0.1:8888/"),
        ("http://127.0.0.1:8888/lab/tree/notebooks/quickstart.ipynb", "http://127.0.0.1:8888/"),
        ("http://h:8888/user/lab/lab/workspaces/auto-x", "http://h:8888/user/lab/"),  # a hub user named "lab"
        ("http://h:8888/base/tree?token=x", "http://h:8888/base/"),
    ],
)
def test_api_url_forms(given, expected):
    assert normalize_api_url(given) == expected


@pytest.mark.parametrize(
    "given,token",
    [
        ("http://127.0.0.1:8888/lab?token=abc123", "abc123"),
        ("http://127.0.0.1:8888/lab/tree/quickstart.ipynb?token=abc123&reset", "abc123"),
        ("http://127.0.0.1:8888/", None),
    ],
)
def test_the_url_jupyter_lab_prints_gives_base_and_token(given, token):
    assert parse_server_url(given) == ("http://127.0.0.1:8888/", token)


def test_the_printed_lab_url_works_as_scout_api_url(monkeypatch, small_store):
    with FakeScoutServer(small_store.storage) as server:
        monkeypatch.setenv("SCOUT_API_URL", f"{server.url}lab?token={TOKEN}")
        monkeypatch.delenv("SCOUT_API_TOKEN", raising=False)
        client = connect(set_default=False)
        assert client.transport.api.token == TOKEN
        assert repr(client) == (
            f"<scout Client: proxy mode through the Jupyter server at {server.url} (from SCOUT_API_URL)>"
        )
        assert len(client.datasets()) == 3


def test_connect_logs_its_choice(small_store, caplog):
    caplog.set_level("INFO", logger="scout_jupyter.client")
    client = connect(storage_url=small_store.url, set_default=False)
    where = f"direct mode on the store {small_store.url} (from storage_url given to connect())"
    assert caplog.messages == [f"Scout: {where}"]
    assert repr(client) == f"<scout Client: {where}>"


def test_inside_a_jupyter_kernel_the_server_wins_over_a_local_store(monkeypatch, tmp_path, small_store):
    """A kernel whose environment lacks SCOUT_API_URL still finds the server that started it
    (its runtime file names its pid), and uses it rather than SCOUT_STORAGE_URL or a demo store."""
    with FakeScoutServer(small_store.storage) as server:
        runtime = tmp_path / "runtime"
        runtime.mkdir()
        (runtime / f"jpserver-{os.getppid()}.json").write_text(
            json.dumps({"pid": os.getppid(), "url": server.url, "base_url": "/", "token": TOKEN})
        )
        monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(runtime))
        monkeypatch.delenv("SCOUT_API_URL", raising=False)
        monkeypatch.delenv("SCOUT_API_TOKEN", raising=False)
        monkeypatch.setenv("SCOUT_STORAGE_URL", small_store.url)
        client = connect(set_default=False)
        assert client.mode == "proxy" and client.transport.api.token == TOKEN
        assert client.chosen_because == "the Jupyter server running this kernel"
        assert len(client.datasets()) == 3
    assert parent_jupyter_server([runtime], parent_pid=os.getppid() + 1) is None


def test_a_web_page_instead_of_the_manifest_says_what_to_fix(small_store):
    import http.server
    import threading

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(b"<!doctype html><title>Hub</title>")

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        client = connect(api_url=f"http://127.0.0.1:{httpd.server_port}/hub/home", token="t", set_default=False)
        with pytest.raises(
            ConfigError, match=r"answered with a web page, not the Scout manifest: SCOUT_API_URL should "
        ):
            client.datasets()
    finally:
        httpd.shutdown()


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

    code = (
        "import sys, scout_jupyter as s; s.connect; import scout_jupyter.fsspec_scout; "
        "print(sorted(m for m in ('ipywidgets', 'jupyter_server') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
