"""The extension app: settings and their environment variables, exports for kernels."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from traitlets import TraitError

from scout_jupyter.errors import ConfigError
from scout_jupyter.server.app import ScoutExtension
from scout_jupyter.storage.local import LocalStorage

ENV = (
    "SCOUT_STORAGE_URL",
    "SCOUT_ACCESS_LOG_URL",
    "SCOUT_RATE_LIMIT",
    "SCOUT_MAX_TTL",
    "SCOUT_PUBLISH_CONFIG",
    "SCOUT_SIGNING_KEY_FILE",
)


@pytest.fixture
def bare_env(monkeypatch, tmp_path):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))
    return monkeypatch


def extension(root: Path, **traits) -> ScoutExtension:
    return ScoutExtension(serverapp=SimpleNamespace(root_dir=str(root)), **traits)


def test_defaults(bare_env, tmp_path):
    ext = extension(tmp_path)
    assert ext.storage_url == (tmp_path / ".scout" / "store" / "sample").as_uri()
    assert ext.access_log_url == f"sqlite:///{tmp_path / 'data' / 'scout' / 'access_log.sqlite'}"
    assert ext.rate_limit == "30/3 minutes" and ext.max_ttl == 3600 and ext.manifest_cache_ttl == 900
    assert ext.publish_config == "" and ext.signing_key_file == str(tmp_path / "data" / "scout_signing.key")
    assert ScoutExtension.name == "scout_jupyter"


def test_environment_variables(bare_env, tmp_path):
    bare_env.setenv("SCOUT_STORAGE_URL", "s3://bucket/prefix")
    bare_env.setenv("SCOUT_ACCESS_LOG_URL", "postgresql+psycopg://db/scout")
    bare_env.setenv("SCOUT_RATE_LIMIT", "100/hour")
    bare_env.setenv("SCOUT_MAX_TTL", "600")
    bare_env.setenv("SCOUT_PUBLISH_CONFIG", "/etc/scout/datasets.toml")
    ext = extension(tmp_path)
    assert (ext.storage_url, ext.access_log_url, ext.rate_limit, ext.max_ttl, ext.publish_config) == (
        "s3://bucket/prefix",
        "postgresql+psycopg://db/scout",
        "100/hour",
        600,
        "/etc/scout/datasets.toml",
    )


def test_every_setting_has_help():
    own = ScoutExtension.class_own_traits(config=True)
    assert {
        "storage_url",
        "access_log_url",
        "rate_limit",
        "max_ttl",
        "publish_config",
        "manifest_cache_ttl",
        "signing_key_file",
        "clock",
    } <= set(own)
    assert all(trait.help for trait in own.values())


@pytest.mark.parametrize("value", [0, 86_401, -5])
def test_max_ttl_is_capped(bare_env, tmp_path, value):
    with pytest.raises(TraitError):
        extension(tmp_path, max_ttl=value)


def test_bad_values_are_clear_errors(bare_env, tmp_path):
    bare_env.setenv("SCOUT_MAX_TTL", "an hour")
    with pytest.raises(TraitError, match="SCOUT_MAX_TTL"):
        _ = extension(tmp_path).max_ttl
    with pytest.raises(ConfigError, match="Invalid rate limit"):
        extension(tmp_path, rate_limit="lots")


def test_starting_in_a_folder_creates_no_store(bare_env, tmp_path, fake_clock):
    ext = extension(tmp_path, signing_key_file=str(tmp_path / "key"))
    storage = ext._open_storage(fake_clock)
    assert isinstance(storage, LocalStorage) and not (tmp_path / ".scout").exists()
    assert oct((tmp_path / "key").stat().st_mode & 0o777) == "0o600"


async def test_exports_url_and_token_for_kernels(scout_ext, jp_serverapp, monkeypatch):
    for name in ("SCOUT_API_URL", "SCOUT_API_TOKEN", "JUPYTERHUB_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    scout_ext.export_env = True
    await scout_ext._start_jupyter_server_extension(jp_serverapp)
    assert os.environ["SCOUT_API_URL"] == jp_serverapp.connection_url
    assert os.environ["SCOUT_API_URL"].endswith(jp_serverapp.base_url)
    assert os.environ["SCOUT_API_TOKEN"] == jp_serverapp.identity_provider.token


async def test_under_jupyterhub_the_hub_token_is_left_to_the_client(scout_ext, jp_serverapp, monkeypatch):
    monkeypatch.delenv("SCOUT_API_TOKEN", raising=False)
    monkeypatch.delenv("SCOUT_API_URL", raising=False)
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "hub-token")
    scout_ext.export_environment()
    assert "SCOUT_API_TOKEN" not in os.environ and os.environ["SCOUT_API_URL"] == jp_serverapp.connection_url


async def test_export_can_be_turned_off(scout_ext, jp_serverapp, monkeypatch):
    monkeypatch.delenv("SCOUT_API_URL", raising=False)
    assert scout_ext.export_env is False  # tests/fixtures/jupyter.py turns it off
    await scout_ext._start_jupyter_server_extension(jp_serverapp)
    assert "SCOUT_API_URL" not in os.environ


def test_standalone_command_help():
    out = subprocess.run(
        [sys.executable, "-c", "from scout_jupyter.server.app import main; main()", "--help-all"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "--ScoutExtension.storage_url" in out.stdout and "SCOUT_STORAGE_URL" in out.stdout
