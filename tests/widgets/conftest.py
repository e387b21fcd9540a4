"""Widget tests: a real ``jupyter server`` over the published demo store (module scope), and the
fake server's fixtures (for faults the real server cannot be asked for)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from scout_jupyter.client import connect
from scout_jupyter.storage.retry import RetryPolicy
from tests.client.conftest import cache_dir, fake_server, isolated_env, proxy_client, retry  # noqa: F401
from tests.client.realserver import TOKEN, JupyterServerProcess

BIN = Path(sys.executable).parent
DEMO_SCALE = "0.05"
#: an authorizer that refuses publishing (resource ``scout:publish``) and allows the rest
NO_PUBLISH_CONFIG = '{"ServerApp": {"authorizer_class": "tests.widgets.authz.NoPublishAuthorizer"}}'


def publish_demo(root: Path) -> None:
    """``scout demo`` into ``root/store``, its warehouse in ``root/.scout/demo`` (where the
    server's publish jobs look for it)."""
    done = subprocess.run(
        [str(BIN / "scout"), "demo", "--store", str(root / "store"), "--scale", DEMO_SCALE, "--json"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, f"scout demo failed:\n{done.stderr[-3000:]}"


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    """A real Jupyter server with the extension over a freshly published demo store."""
    root = tmp_path_factory.mktemp("widgets-server")
    publish_demo(root)
    server = JupyterServerProcess(root, (root / "store").as_uri(), env={"SCOUT_RATE_LIMIT": "200/minute"})
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def denying_server(tmp_path_factory):
    """The same, with an authorizer that does not allow this user to publish."""
    root = tmp_path_factory.mktemp("widgets-denied")
    publish_demo(root)
    config = root / "jupyter-config"
    config.mkdir()
    (config / "jupyter_server_config.json").write_text(NO_PUBLISH_CONFIG)
    server = JupyterServerProcess(root, (root / "store").as_uri(), env={"JUPYTER_CONFIG_DIR": str(config)})
    server.start()
    yield server
    server.stop()


def live_client(server: JupyterServerProcess, cache: Path):
    return connect(
        api_url=server.url,
        token=TOKEN,
        cache_dir=cache,
        set_default=False,
        retry=RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.02),
    )


@pytest.fixture
def client(demo_server, tmp_path):
    made = live_client(demo_server, tmp_path / "cache")
    yield made
    made.close()
