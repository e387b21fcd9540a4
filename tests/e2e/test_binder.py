"""Binder's two scripts as repo2docker runs them, in a fresh virtualenv and a fresh HOME.

A copy of the repository (its tracked and unignored files, as a clone has them) gets
``binder/requirements.txt`` installed, then ``binder/postBuild`` (install the package, build and
publish the demo); then ``binder/start jupyter lab …`` serves it, and the three notebooks execute
against that server with kernels in the new virtualenv. uv makes the virtualenv and, when
postBuild finds it, installs from its cache, so this takes seconds, not minutes.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.fixtures.lab import SCRUBBED_ENV_PREFIXES, free_port
from tests.fixtures.notebooks import NOTEBOOKS, cell_with, execute_notebooks, problems, text_of

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
INSTALL_TIMEOUT = 600.0
START_TIMEOUT = 120.0


def uv() -> str:
    """The uv of this test's virtualenv (a test dependency), else the one on PATH."""
    beside = Path(sys.executable).parent / "uv"
    found = str(beside) if beside.is_file() else shutil.which("uv")
    if found is None:
        pytest.fail(
            "uv not found: install it with `pip install uv` (make venv does; the Binder test builds "
            "its virtualenv with it)",
            pytrace=False,
        )
    return found


def copy_repository(target: Path) -> None:
    """The files a clone of this checkout has: tracked, plus new files not ignored."""
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def run(command: list[str], *, cwd: Path, env: dict[str, str], log: Path) -> None:
    with open(log, "ab") as out:
        out.write(f"$ {' '.join(command)}\n".encode())
        out.flush()
        done = subprocess.run(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=INSTALL_TIMEOUT)
    assert done.returncode == 0, f"{command[0]} failed ({done.returncode}):\n{log.read_text()[-4000:]}"


@pytest.fixture(scope="module")
def binder(tmp_path_factory):
    """A Binder-style image: the repo copy, the venv, HOME; postBuild has run."""
    tmp = tmp_path_factory.mktemp("binder")
    repo, venv, home = tmp / "repo", tmp / "venv", tmp / "home"
    repo.mkdir()
    home.mkdir()
    copy_repository(repo)
    uv_cache = subprocess.run([uv(), "cache", "dir"], capture_output=True, text=True, check=True).stdout.strip()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith((*SCRUBBED_ENV_PREFIXES, "VIRTUAL_ENV", "PYTHON", "CONDA"))
    }
    # postBuild installs with uv when it finds it: put this uv on PATH, after the new venv
    path = os.pathsep.join([str(venv / "bin"), str(Path(uv()).parent), env.get("PATH", "")])
    env.update(HOME=str(home), VIRTUAL_ENV=str(venv), PATH=path, UV_CACHE_DIR=uv_cache, SCOUT_DEMO_SCALE="0.2")
    log = tmp / "build.log"
    run(
        [uv(), "venv", "-q", str(venv), "--python", f"{sys.version_info.major}.{sys.version_info.minor}"],
        cwd=repo,
        env=env,
        log=log,
    )
    run(
        [uv(), "pip", "install", "-q", "--python", str(venv / "bin" / "python"), "-r", "binder/requirements.txt"],
        cwd=repo,
        env=env,
        log=log,
    )
    run(["bash", "binder/postBuild"], cwd=repo, env=env, log=log)
    return {"repo": repo, "venv": venv, "home": home, "env": env, "log": log, "tmp": tmp}


@pytest.fixture(scope="module")
def binder_server(binder):
    port, token = free_port(), secrets.token_hex(16)
    command = [
        str(binder["repo"] / "binder" / "start"),
        "jupyter",
        "lab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={binder['repo']}",
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log_path = binder["tmp"] / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, cwd=binder["repo"], env=binder["env"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}/"
    headers = {"Authorization": f"token {token}"}
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert process.poll() is None, f"binder/start exited:\n{log_path.read_text()[-4000:]}"
            try:
                if requests.get(url + "api/status", headers=headers, timeout=10).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, f"no server within {START_TIMEOUT} s:\n{log_path.read_text()[-4000:]}"
            time.sleep(0.2)  # poll interval, bounded by the deadline
        yield {"url": url, "token": token, "headers": headers, "log": log_path}
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)


def test_postbuild_installs_the_package_and_publishes_the_demo(binder):
    venv_python = binder["venv"] / "bin" / "python"
    where = subprocess.run(
        [str(venv_python), "-c", "import scout_jupyter, sys; print(scout_jupyter.__file__)"],
        capture_output=True,
        text=True,
        env=binder["env"],
        cwd=binder["tmp"],
    )
    # installed into the virtualenv, not run from the repository copy
    assert where.returncode == 0 and where.stdout.startswith(str(binder["venv"])), where.stdout + where.stderr
    store = binder["home"] / ".scout" / "store" / "sample"
    manifest = json.loads((store / "scout/v1/manifests/latest.json").read_text())
    assert len(manifest["datasets"]) == 9
    record = json.loads((store / "scout-demo.json").read_text())
    assert Path(record["warehouse"]).is_file() and record["definitions"].startswith(str(binder["venv"]))
    enabled = subprocess.run(
        [str(binder["venv"] / "bin" / "jupyter"), "server", "extension", "list"],
        capture_output=True,
        text=True,
        env=binder["env"],
        cwd=binder["tmp"],
    )
    listing = re.sub(r"\x1b\[[0-9;]*m", "", enabled.stdout + enabled.stderr)  # without terminal colours
    assert re.search(r"scout_jupyter enabled\s+- Validating scout_jupyter...\s+scout_jupyter \S+ OK", listing), listing
    # the sidebar: the labextension built into the wheel, installed where JupyterLab finds it
    labext = subprocess.run(
        [str(binder["venv"] / "bin" / "jupyter"), "labextension", "list"],
        capture_output=True,
        text=True,
        env=binder["env"],
        cwd=binder["tmp"],
    )
    labs = re.sub(r"\x1b\[[0-9;]*m", "", labext.stdout + labext.stderr)
    assert re.search(r"scout-jupyter v\S+ enabled OK \(python, scout-jupyter\)", labs), labs
    assert (binder["venv"] / "share/jupyter/labextensions/scout-jupyter/static").is_dir()


def test_start_serves_the_demo_and_every_notebook_executes(binder, binder_server, tmp_path):
    listed = requests.get(binder_server["url"] + "scout/api/datasets", headers=binder_server["headers"], timeout=30)
    assert listed.status_code == 200 and len(listed.json()["datasets"]) == 9
    lab = requests.get(binder_server["url"] + "lab", headers=binder_server["headers"], timeout=30)
    assert lab.status_code == 200 and '"name": "scout-jupyter"' in lab.text  # the sidebar is served
    report = execute_notebooks(
        binder["venv"] / "bin" / "python",
        binder["repo"] / "notebooks",
        binder_server["url"],
        binder_server["token"],
        binder["env"],
        tmp_path / "executed",
    )
    assert sorted(report) == sorted(NOTEBOOKS)
    for name in NOTEBOOKS:
        assert problems(report[name]) == [], name
    # the server's publish job found the demo through the record postBuild left beside the store
    assert "succeeded (100%)" in text_of(cell_with(report["publishing.ipynb"], "%scout publish"))


# --- the same image under JupyterHub, as mybinder.org runs it -------------------------------------
HUB_PASSWORD = "binder-e2e-" + secrets.token_hex(8)


def hub_config(binder: dict, proxy: str, ports: list[int]) -> str:
    """A hub like BinderHub's: one user, the default server token scopes, and the image's
    ``binder/start`` wrapping ``jupyterhub-singleuser`` (repo2docker's entrypoint)."""
    root, venv = binder["tmp"] / "hub", binder["venv"]
    return f"""\
c = get_config()  # noqa
c.JupyterHub.bind_url = "http://127.0.0.1:{ports[0]}"
c.JupyterHub.hub_bind_url = "http://127.0.0.1:{ports[1]}"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{ports[2]}"
c.ConfigurableHTTPProxy.command = [{proxy!r}]
c.ConfigurableHTTPProxy.pid_file = {str(root / "proxy.pid")!r}
c.JupyterHub.db_url = "sqlite:///{root / "jupyterhub.sqlite"}"
c.JupyterHub.cookie_secret_file = {str(root / "cookie_secret")!r}
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = {HUB_PASSWORD!r}
c.Authenticator.allowed_users = {{"jovyan"}}
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = {str(binder["home"])!r}
c.Spawner.cmd = [{str(binder["repo"] / "binder" / "start")!r}, {str(venv / "bin" / "jupyterhub-singleuser")!r}]
c.Spawner.args = ["--allow-root"]
c.Spawner.notebook_dir = {str(binder["repo"])!r}
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
"""


@pytest.fixture(scope="module")
def binder_hub(binder):
    import jupyterhub  # a test dependency; Binder images have it for jupyterhub-singleuser

    from tests.fixtures.hub import find_proxy, poll

    run(
        [
            uv(),
            "pip",
            "install",
            "-q",
            "--python",
            str(binder["venv"] / "bin" / "python"),
            f"jupyterhub=={jupyterhub.__version__}",
        ],
        cwd=binder["repo"],
        env=binder["env"],
        log=binder["log"],
    )
    root = binder["tmp"] / "hub"
    root.mkdir()
    ports = [free_port() for _ in range(3)]
    (root / "jupyterhub_config.py").write_text(hub_config(binder, find_proxy(), ports))
    log_path = root / "hub.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "jupyterhub"), "-f", "jupyterhub_config.py"],
            cwd=root,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{ports[0]}"

    def hub_up() -> bool:
        assert process.poll() is None, f"jupyterhub exited:\n{log_path.read_text()[-4000:]}"
        return requests.get(f"{url}/hub/api/", timeout=5).status_code == 200

    try:
        poll(hub_up, "the hub to answer", timeout=120)
        yield {"url": url, "log": log_path}
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # the hub stops its proxy and the user's server
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)


@pytest.mark.hub
def test_under_jupyterhub_the_kernel_loads_and_publishes_with_the_hub_token(binder, binder_hub):
    from tests.e2e.kernel_channel import KernelChannel
    from tests.fixtures.hub import poll

    url = binder_hub["url"]
    answer = requests.post(
        f"{url}/hub/api/users/jovyan/tokens",
        timeout=30,
        json={"auth": {"username": "jovyan", "password": HUB_PASSWORD}, "note": "e2e"},
    )
    assert answer.status_code in (200, 201), answer.text
    headers = {"Authorization": f"token {answer.json()['token']}"}
    assert requests.post(f"{url}/hub/api/users/jovyan/server", headers=headers, timeout=60).status_code in (201, 202)
    poll(
        lambda: (
            (requests.get(f"{url}/hub/api/users/jovyan", headers=headers, timeout=10).json().get("servers") or {})
            .get("", {})
            .get("ready")
        ),
        "jovyan's server",
        timeout=150,
        every=0.3,
    )
    kernel = requests.post(f"{url}/user/jovyan/api/kernels", headers=headers, json={"name": "python3"}, timeout=60)
    assert kernel.status_code == 201, kernel.text
    channel = KernelChannel(
        f"ws://{url.split('://')[1]}/user/jovyan/api/kernels/{kernel.json()['id']}/channels",
        headers["Authorization"].split()[1],
        timeout=120,
    )
    try:
        channel.wait_ready()
        env = channel.execute(
            "import os\nprint(sorted(k for k in os.environ if k.startswith(('SCOUT_API', 'JUPYTERHUB_API_T'))))"
        )
        # the server exported its URL; the kernel authenticates with the hub token the server has
        assert "['JUPYTERHUB_API_TOKEN', 'SCOUT_API_URL']" in env.text(), env.describe()
        loaded = channel.execute(
            "%load_ext scout_jupyter\nimport scout_jupyter as scout\n"
            "frame = scout.load('gold/txn_daily')\n"
            "print(frame.attrs['scout']['origin'], len(frame))"
        )
        assert not loaded.errors and "/user/jovyan/" in loaded.text(), loaded.describe()
        published = channel.execute("%scout publish gold/demographics")
        # the live publish panel; its text form ends with the job's summary
        assert not published.errors and "succeeded (100%)" in published.data("text/plain"), published.describe()
    finally:
        channel.close()
