"""The quickstart notebook in JupyterLab in Chromium, as a user runs it: open it, Run → Run All
Cells, see every cell executed without an error and the ``txn_daily.head()`` table.

In JupyterLab's DOM an error output and a stderr warning look the same (both render as
``.jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"]``), and Run All stops at
the first error, leaving later cells unnumbered. So the checks are: every code cell numbered, no
traceback text in the page, and, after saving from the browser, no ``error`` output in the
notebook file JupyterLab wrote.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.fixtures.chromium import CHROMIUM, CHROMIUM_ARGS

NOTEBOOK = "quickstart.ipynb"
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
# Generous: CI is a busy 2-core machine where a kernel start or a render can take many seconds.
# Every wait below polls a condition up to this deadline; nothing asserts on output immediately.
TIMEOUT_MS = 120_000

# The notebook's kernel is started and idle (JupyterLab shows "No Kernel" until a session exists,
# and the indicator reads "idle" before that too).
KERNEL_IDLE = f"""() => {{
    const name = document.querySelector('{PANEL} .jp-KernelName jp-button');
    const state = document.querySelector('{PANEL} .jp-Notebook-ExecutionIndicator');
    return !!name && name.getAttribute('aria-label') !== 'No Kernel'
        && !!state && state.dataset.status === 'idle';
}}"""
# Run All has finished: every code cell numbered, or it stopped at an error (some cells numbered,
# none queued or running, the rest left blank).
PROMPTS = f"[...document.querySelectorAll('{PANEL} .jp-CodeCell .jp-InputPrompt')].map(p => p.textContent.trim())"
RUN_ALL_FINISHED = f"""() => {{
    const prompts = {PROMPTS};
    const numbered = prompts.filter(p => /^\\[\\d+\\]:$/.test(p)).length;
    return prompts.length > 0 && numbered > 0 && !prompts.includes('[*]:');
}}"""


@contextmanager
def chromium_page(tmp_path: Path) -> Iterator:
    """A page in headless Debian Chromium; a missing browser fails the test (never skips it)."""
    if not CHROMIUM.exists():
        pytest.fail("Chromium not found: apt-get install -y chromium (make test installs it when run as root)")
    from playwright.sync_api import sync_playwright

    home = tmp_path / "browser-home"  # Chromium's crash-report settings and dconf go here, not to ~
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
    }
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, env=env)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.page_errors = []
            page.on("pageerror", lambda error: page.page_errors.append(str(error)))
            try:
                yield page
            finally:  # what the page showed at the end, pass or fail
                page.screenshot(path=str(tmp_path / "final.png"))
        finally:
            browser.close()


def wait_for(page, condition: str, what: str) -> None:
    """Wait (bounded) for a JavaScript condition; on timeout, fail saying what the page showed."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(condition, timeout=TIMEOUT_MS)
    except PlaywrightTimeout:
        status = page.evaluate(
            f"() => document.querySelector('{PANEL} .jp-Notebook-ExecutionIndicator')?.dataset.status ?? 'no notebook'"
        )
        pytest.fail(
            f"{what} not seen within {TIMEOUT_MS / 1000:.0f} s: kernel {status}, prompts "
            f"{page.evaluate(f'() => {PROMPTS}')}, stderr {stderr_texts(page)}, page errors "
            f"{page.page_errors}"
        )


def expect_visible(locator, what: str) -> None:
    """Wait (bounded) until ``locator`` is attached and visible; fail saying what was awaited."""
    from playwright.sync_api import expect

    try:
        expect(locator.first).to_be_visible(timeout=TIMEOUT_MS)
    except AssertionError as error:
        pytest.fail(f"{what} not visible within {TIMEOUT_MS / 1000:.0f} s: {error}".splitlines()[0])


def expect_text(locator, text: str, what: str) -> None:
    """Wait (bounded) until ``locator`` contains ``text`` (output renders after the prompt number)."""
    from playwright.sync_api import expect

    try:
        expect(locator.first).to_contain_text(text, timeout=TIMEOUT_MS)
    except AssertionError as error:
        shown = locator.all_inner_texts() if locator.count() else "nothing"
        pytest.fail(
            f"{what}: {text!r} not shown within {TIMEOUT_MS / 1000:.0f} s; shown: {shown!r}"[:2000]
            + f" ({str(error).splitlines()[0]})"
        )


def expect_count(locator, count: int, what: str) -> None:
    """Wait (bounded) until ``locator`` matches exactly ``count`` elements."""
    from playwright.sync_api import expect

    try:
        expect(locator).to_have_count(count, timeout=TIMEOUT_MS)
    except AssertionError:
        pytest.fail(f"{what}: expected {count}, saw {locator.count()} within {TIMEOUT_MS / 1000:.0f} s")


def run_all_cells(page) -> None:
    page.click(".lm-MenuBar-itemLabel:text-is('Run')")
    page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
    wait_for(page, RUN_ALL_FINISHED, "Run All Cells finishing")


def stderr_texts(page) -> list[str]:
    return page.locator(
        f"{PANEL} .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
    ).all_inner_texts()


def save_and_read(page, server) -> dict:
    """Save from the browser (Ctrl+S) and read the notebook JupyterLab wrote."""
    page.keyboard.press("Control+s")
    page.wait_for_selector(
        ".lm-DockPanel-tabBar .lm-TabBar-tab.jp-mod-current.jp-mod-dirty", state="detached", timeout=TIMEOUT_MS
    )
    answer = server.api("GET", f"api/contents/{NOTEBOOK}", params={"content": "1"})
    assert answer.status_code == 200, answer.text
    return answer.json()["content"]


@pytest.mark.browser
def test_quickstart_runs_in_jupyterlab(lab_server, tmp_path):
    with chromium_page(tmp_path) as page:
        run_quickstart_and_check(page, lab_server, tmp_path)


def run_quickstart_and_check(page, lab_server, tmp_path: Path) -> None:
    page.goto(lab_server.lab_url(f"lab/tree/{NOTEBOOK}"))
    page.wait_for_selector(f"{PANEL} .jp-Notebook .jp-CodeCell")
    wait_for(page, KERNEL_IDLE, "an idle kernel")
    run_all_cells(page)

    prompts = page.evaluate(f"() => {PROMPTS}")
    problems = [text for text in stderr_texts(page) if "Traceback" in text or "Error" in text]
    assert all(p[1:-2].isdigit() for p in prompts), f"cells not executed: {prompts}; errors: {problems}"
    assert not problems, problems

    # Run All finishing means every prompt is numbered; the outputs render after that, so each
    # output check waits for its element or text.
    load_cell = page.locator(f"{PANEL} .jp-CodeCell", has_text="%scout load gold/txn_daily")
    rows = lab_server.manifest()["datasets"]["gold/txn_daily"]["row_count"]
    loaded = load_cell.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stdout']")
    expect_text(loaded, f"{rows} rows", "the load summary")
    head = load_cell.locator(".jp-OutputArea-output[data-mime-type='text/html'] table.dataframe")
    expect_visible(head, "the txn_daily.head() table")
    head.first.scroll_into_view_if_needed()
    expect_count(head.locator("th", has_text="store_code"), 1, "store_code header")
    expect_count(head.locator("tbody tr"), 5, "head() rows")

    screenshot = tmp_path / "quickstart.png"
    page.screenshot(path=str(screenshot))
    assert screenshot.stat().st_size > 20_000, "the screenshot is (nearly) blank"

    saved = save_and_read(page, lab_server)
    code = [cell for cell in saved["cells"] if cell["cell_type"] == "code"]
    assert code and all(isinstance(cell["execution_count"], int) for cell in code)
    errors = [out for cell in code for out in cell["outputs"] if out["output_type"] == "error"]
    assert not errors, json.dumps(errors)[:2000]
    assert not page.page_errors, page.page_errors


def test_missing_chromium_fails_with_the_install_hint(monkeypatch, tmp_path):
    monkeypatch.setattr(sys.modules[__name__], "CHROMIUM", tmp_path / "no-chromium")
    hint = r"^Chromium not found: apt-get install -y chromium \(make test installs it when run as root\)$"
    with pytest.raises(pytest.fail.Exception, match=hint), chromium_page(tmp_path):
        pass
