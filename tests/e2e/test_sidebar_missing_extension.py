"""The sidebar in a JupyterLab whose server extension is disabled: it says exactly that (what is
missing and how to enable it), never a blank panel, and offers no "Scout: Publish…"."""

from __future__ import annotations

import secrets
import subprocess

import pytest

from tests.fixtures.lab import LabServer, free_port, lab_command, private_env, stop, wait_until_serving

from .test_lab_browser import chromium_page
from .test_sidebar_browser import ARTIFACTS

TIMEOUT_MS = 60_000


@pytest.fixture
def lab_without_server_extension(tmp_path):
    root = tmp_path / "lab"
    root.mkdir()
    env = private_env(root)
    port, token = free_port(), secrets.token_hex(16)
    command = [*lab_command(root, port, token), "--ServerApp.jpserver_extensions", "scout_jupyter=False"]
    log_path = root / "lab.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = LabServer(
        root=root, store=root / "store", port=port, token=token, process=process, log_path=log_path, demo_report={}
    )
    try:
        wait_until_serving(server)
        assert server.api("GET", "scout/api/datasets").status_code == 404  # really disabled
        yield server
    finally:
        stop(process)


@pytest.mark.browser
def test_the_panel_says_the_server_extension_is_missing(lab_without_server_extension, tmp_path):
    with chromium_page(tmp_path) as page:
        page.goto(lab_without_server_extension.lab_url("lab/workspaces/missing-extension") + "&reset")
        page.locator(".jp-SideBar .lm-TabBar-tab[data-id='scout-datasets']").click()
        message = page.locator("#scout-datasets [role='alert']")
        message.wait_for(timeout=TIMEOUT_MS)
        text = message.inner_text()
        assert text.startswith("The Scout server extension (scout_jupyter) is not enabled on this Jupyter server.")
        assert "jupyter server extension enable scout_jupyter" in text
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.locator("#scout-datasets").screenshot(path=str(ARTIFACTS / "sidebar-extension-missing.png"))

        page.keyboard.press("Control+Shift+c")
        page.locator(".lm-CommandPalette-input").fill("Scout:")
        page.locator(".lm-CommandPalette-item", has_text="Scout: Refresh datasets").wait_for(timeout=TIMEOUT_MS)
        labels = page.locator(".lm-CommandPalette-item .lm-CommandPalette-itemLabel").all_inner_texts()
        assert "Scout: Publish…" not in labels, labels
