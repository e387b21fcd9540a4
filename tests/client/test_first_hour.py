"""A new user's first hour against a real ``jupyter server`` over the demo store, default settings.

A notebook session's cold loads are never refused by the default rate limit; a terminal IPython
pointed at the server with the URL ``jupyter lab`` prints works and shows Scout errors in one
line (``%tb`` has the traceback); a wrong token says so; offline is one warning line.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from tests.fixtures.lab import publish_demo

from .realserver import TOKEN, JupyterServerProcess

pytestmark = pytest.mark.slow
IPYTHON = Path(sys.executable).parent / "ipython"
DATASETS = 9
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("first-hour")
    report = publish_demo(root, {k: v for k, v in __import__("os").environ.items() if not k.startswith("SCOUT_")})
    assert len(report["datasets"]) == DATASETS
    server = JupyterServerProcess(root, (root / "store").as_uri())  # default rate limit, default TTLs
    server.start()
    yield server
    server.stop()


def access_rows(server: JupyterServerProcess) -> list[tuple]:
    with closing(sqlite3.connect(server.workdir / "access.sqlite")) as db:
        return db.execute("SELECT action, status, error_code FROM dataset_access_log").fetchall()


def ipython(server: JupyterServerProcess, lines: list[str], *, env: dict[str, str], cwd: Path) -> str:
    """A terminal IPython fed ``lines``; its whole output (ANSI colours removed)."""
    base = {k: v for k, v in server.env.items() if not k.startswith(("SCOUT_API", "JUPYTER"))}
    base.update(HOME=str(cwd), IPYTHONDIR=str(cwd / ".ipython"), SCOUT_CACHE_DIR=str(cwd / "cache"))
    done = subprocess.run(
        [str(IPYTHON), "--simple-prompt", "--no-banner", "--HistoryManager.enabled=False"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**base, **env},
        timeout=180,
    )
    return ANSI.sub("", done.stdout + done.stderr)


def test_a_notebook_session_loading_everything_cold_is_never_refused(demo_server, tmp_path):
    kernel = demo_server.start_kernel()
    try:
        out = kernel.run(
            f"import scout_jupyter as scout\nclient = scout.connect(cache_dir={str(tmp_path)!r})\n"
            "frames = {i: scout.load(i) for i in scout.datasets()['id']}\n"
            "urls = [scout.signed_url(i, ttl=600) for i in list(frames)[:5]]\n"
            "print(len(frames), sum(f.attrs['scout']['source'] == 'download' for f in frames.values()),"
            " len(urls))",
            timeout=240,
        )
        assert out["error"] == "" and out["stderr"] == "", out
        assert out["stdout"].split() == [str(DATASETS), str(DATASETS), "5"]  # all nine downloaded: cold
    finally:
        kernel.shutdown()
    rows = access_rows(demo_server)
    assert [r for r in rows if r[0] == "deny"] == []
    assert sum(1 for r in rows if r[0] == "sign") >= DATASETS + 5


def test_scout_errors_in_a_kernel_are_one_line_and_tb_has_the_rest(demo_server):
    kernel = demo_server.start_kernel()
    try:
        out = kernel.run("import scout_jupyter as scout\nscout.load('gold/txn_dialy')")
        assert out["error"] == "DatasetNotFound: Dataset not found: gold/txn_dialy (did you mean gold/txn_daily?)"
        shown = ANSI.sub("", out["traceback"]).strip()
        assert shown == (
            "DatasetNotFound: Dataset not found: gold/txn_dialy (did you mean gold/txn_daily?)  "
            "(%tb shows the full traceback)"
        )
        full = ANSI.sub("", kernel.run("%tb")["traceback"])
        assert "Traceback" in full and "core.py" in full and len(full.splitlines()) > 5
        other = kernel.run("1/0")  # everything else keeps IPython's own display
        assert "ZeroDivisionError" in other["traceback"] and "Traceback" in ANSI.sub("", other["traceback"])
    finally:
        kernel.shutdown()


def test_a_terminal_ipython_reaches_the_server_with_the_printed_lab_url(demo_server, tmp_path):
    printed = f"{demo_server.url}lab?token={TOKEN}"  # what `jupyter lab` prints
    text = ipython(
        demo_server,
        [
            "import scout_jupyter as scout",
            "scout.connect()",
            "print('rows', len(scout.load('gold/demographics')))",
            "scout.load('gold/txn_dialy')",
            "print('after the error')",
            "%tb",
        ],
        env={"SCOUT_API_URL": printed},
        cwd=tmp_path,
    )
    assert f"<scout Client: proxy mode through the Jupyter server at {demo_server.url} (from SCOUT_API_URL)>" in text, (
        text
    )
    assert re.search(r"rows \d+", text)
    error = (
        "DatasetNotFound: Dataset not found: gold/txn_dialy (did you mean gold/txn_daily?)  "
        "(%tb shows the full traceback)"
    )
    assert error in text
    before_tb = text[: text.index("after the error")]
    assert "Traceback" not in before_tb  # one line, no traceback ...
    assert "Traceback" in text[text.index("after the error") :]  # ... until %tb asks for it


def test_a_wrong_token_says_the_token_was_refused(demo_server, tmp_path):
    text = ipython(
        demo_server,
        ["import scout_jupyter as scout", "scout.datasets()"],
        env={"SCOUT_API_URL": demo_server.url, "SCOUT_API_TOKEN": "not-the-token"},
        cwd=tmp_path,
    )
    assert (
        f"AccessDenied: Access denied: The Jupyter server at {demo_server.url} refused the token (from "
        "SCOUT_API_TOKEN, the URL's ?token=, or connect(token=...))"
    ) in text, text
    assert "Traceback" not in text


def test_offline_is_one_warning_line(demo_server, tmp_path):
    """Last in the module: it stops the server."""
    env = {"SCOUT_API_URL": demo_server.url, "SCOUT_API_TOKEN": TOKEN}
    warm = ipython(
        demo_server,
        ["import scout_jupyter as scout", "print('rows', len(scout.load('gold/txn_daily')))"],
        env=env,
        cwd=tmp_path,
    )
    assert re.search(r"rows \d+", warm), warm
    manifest = json.loads((demo_server.workdir / "store/scout/v1/manifests/latest.json").read_text())
    demo_server.stop()
    text = ipython(
        demo_server,
        ["import scout_jupyter as scout", "print('rows', len(scout.load('gold/txn_daily')))"],
        env=env,
        cwd=tmp_path,
    )
    assert re.search(r"rows \d+", text), text
    lines = [line for line in text.splitlines() if "offline" in line.lower()]
    assert len(lines) == 1, text
    assert lines[0].startswith(f"Scout is offline (Scout server unreachable at 127.0.0.1:{demo_server.port}")
    assert f"using the manifest of {manifest['generated_at']} cached at " in lines[0]
    assert "retrying" not in text and "OfflineWarning" not in text and "warnings.warn" not in text
