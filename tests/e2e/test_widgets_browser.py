"""The notebook widgets in a real JupyterLab in headless Chromium, driven as a user drives them:
the dataset browser (filter, Load), the publish panel, the access dashboard's plotly chart, and
a manifest description made of markup that must show as text and run nothing.

Each scenario writes a small notebook into the lab's root, opens it, runs all its cells and then
waits on conditions (an element, a text, a kernel state) with a generous deadline. Screenshots
go to ``test-artifacts/widgets/`` (gitignored; ``SCOUT_TEST_ARTIFACTS`` moves it).
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from scout_jupyter.clock import FakeClock
from scout_jupyter.manifest import Manifest, latest_manifest_key
from tests.fixtures.store import store_factory

from .kernel_channel import KernelChannel
from .test_lab_browser import (
    KERNEL_IDLE,
    PANEL,
    RUN_ALL_FINISHED,
    chromium_page,
    expect_count,
    expect_text,
    expect_visible,
    wait_for,
)

pytestmark = pytest.mark.browser
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("SCOUT_TEST_ARTIFACTS", REPO / "test-artifacts")) / "widgets"
EVIL = "<img src=x onerror=alert(1)>"
BROWSER = f"{PANEL} .scout-browser"
STARTED = f"""() => [...document.querySelectorAll('{PANEL} .jp-CodeCell .jp-InputPrompt')]
    .some(p => /^\\[(\\*|\\d+)\\]:$/.test(p.textContent.trim()))"""


def notebook_json(cells: list[str]) -> dict:
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "cells": [
            {
                "cell_type": "code",
                "id": f"c{i}",
                "metadata": {},
                "execution_count": None,
                "outputs": [],
                "source": source,
            }
            for i, source in enumerate(cells)
        ],
    }


def open_and_run(page, server, name: str, cells: list[str]) -> None:
    """Write the notebook, open it in JupyterLab, run all its cells and wait for the run to end."""
    answer = server.api(
        "PUT", f"api/contents/{name}", json={"type": "notebook", "format": "json", "content": notebook_json(cells)}
    )
    assert answer.status_code in (200, 201), answer.text
    # a workspace of its own: JupyterLab would otherwise reopen the previous scenario's notebooks
    workspace = name.removesuffix(".ipynb")
    page.goto(server.lab_url(f"lab/workspaces/{workspace}/tree/{name}") + "&reset")
    page.wait_for_selector(f"{PANEL} .jp-Notebook .jp-CodeCell")
    wait_for(
        page,
        f"""() => document.querySelectorAll('.jp-NotebookPanel').length === 1 &&
             document.querySelector('.lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current')?.textContent
             .includes({json.dumps(name)})""",
        f"{name} open alone",
    )
    wait_for(page, KERNEL_IDLE, "an idle kernel")
    run_all(page)


def run_all(page, attempts: int = 3) -> None:
    """Run → Run All Cells, again if no cell has started within a while (a menu clicked while the
    notebook was still settling does nothing), then wait for the run to end."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(attempts):
        page.click(f"{PANEL} .jp-Cell .jp-InputPrompt")  # the notebook is the active widget
        page.click(".lm-MenuBar-itemLabel:text-is('Run')")
        page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
        try:
            page.wait_for_function(STARTED, timeout=30_000)
            break
        except PlaywrightTimeout:
            continue
    wait_for(page, RUN_ALL_FINISHED, "Run All Cells finishing")


def kernel_of(server, name: str) -> KernelChannel:
    """A second connection to the notebook's kernel (as a console would be), to look inside it."""
    sessions = server.api("GET", "api/sessions").json()
    kernel_id = next(s["kernel"]["id"] for s in sessions if s["path"].endswith(name))
    channel = KernelChannel(server.kernel_ws_url(kernel_id), server.token)
    channel.wait_ready()
    return channel


WIDGET_ERRORS = (
    "Failed to create view",
    "Error displaying widget",
    "model not found",
    "Click to show javascript error",
)


def assert_widgets_rendered(page) -> None:
    """No output shows the widget manager's error box instead of a view."""
    texts = page.locator(f"{PANEL} .jp-OutputArea-output").all_inner_texts()
    broken = [t[:300] for t in texts if any(e in t for e in WIDGET_ERRORS)]
    assert not broken, broken


def shoot(page, name: str, locator=None) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    assert_widgets_rendered(page)
    (locator or page).screenshot(path=str(path))
    assert path.stat().st_size > 10_000, f"{path} is (nearly) blank"
    return path


def test_browse_filter_and_load(lab_server, tmp_path):
    with chromium_page(tmp_path) as page:
        open_and_run(page, lab_server, "widgets-browse.ipynb", ["import scout_jupyter as scout\nscout.browse()"])
        page.wait_for_selector(f"{BROWSER} tr.scout-row")
        wait_for(
            page,
            f"() => document.querySelector('{BROWSER} .scout-count')?.textContent === '9 of 9 datasets'",
            "all nine datasets listed",
        )
        shoot(page, "browser")
        page.locator(f"{BROWSER} input[type=search]").type("txn", delay=50)  # as a user types
        wait_for(
            page,
            f"() => document.querySelector('{BROWSER} .scout-count')?.textContent === '1 of 9 datasets'",
            "the filter leaving one dataset",
        )
        visible = page.locator(f"{BROWSER} tr.scout-row")
        expect_count(visible, 1, "rows left by the filter")
        assert visible.get_attribute("data-id") == "gold/txn_daily"
        visible.locator("button[data-action=load]").click()
        rows = lab_server.manifest()["datasets"]["gold/txn_daily"]["row_count"]
        summary = "txn_daily = gold/txn_daily"
        wait_for(
            page,
            f"""() => [...document.querySelectorAll('{BROWSER} tr.scout-detail .scout-ok')]
                 .some(e => e.textContent.startsWith('{summary}'))""",
            "the load summary",
        )
        text = page.locator(f"{BROWSER} tr.scout-detail .scout-ok").inner_text()
        assert f"{rows:,} rows ×" in text and ("from network" in text or "from cache" in text), text
        expect_count(page.locator(f"{BROWSER} tr[data-id='gold/txn_daily'] td.scout-cached"), 1, "the cached mark")
        shoot(page, "browser-loaded")
        kernel = kernel_of(lab_server, "widgets-browse.ipynb")
        try:
            run = kernel.execute("print(type(txn_daily).__name__, len(txn_daily))")
        finally:
            kernel.close()
        assert run.text().strip() == f"DataFrame {rows}", run.describe()
        assert not page.page_errors, page.page_errors


def test_status_shows_a_badge_per_dataset(lab_server, tmp_path):
    with chromium_page(tmp_path) as page:
        open_and_run(page, lab_server, "widgets-status.ipynb", ["%load_ext scout_jupyter\n%scout status"])
        badges = page.locator(f"{PANEL} .jp-OutputArea-output .scout-badge")
        expect_count(badges, 9, "one freshness badge per dataset")
        expect_text(badges.first, "fresh", "a badge's word")
        shoot(page, "status")
        assert not page.page_errors, page.page_errors


def test_publish_shows_progress_then_done(lab_server, tmp_path):
    with chromium_page(tmp_path) as page:
        # record every state the panel shows, from the first paint on
        page.add_init_script("""(() => {
            window.__scoutStates = [];
            new MutationObserver(() => {
                for (const s of document.querySelectorAll('.scout-publish .scout-state')) {
                    const last = window.__scoutStates[window.__scoutStates.length - 1];
                    if (s.textContent !== last) window.__scoutStates.push(s.textContent);
                }
            }).observe(document, {subtree: true, childList: true, characterData: true});
        })()""")
        open_and_run(
            page, lab_server, "widgets-publish.ipynb", ["%load_ext scout_jupyter\n%scout publish gold/demographics"]
        )
        wait_for(
            page,
            f"() => document.querySelector('{PANEL} .scout-publish .scout-summary')?.textContent"
            "?.startsWith('Published: ')",
            "the publish summary",
        )
        states = page.evaluate("() => window.__scoutStates")
        assert states[0] in ("queued", "running") and states[-1] == "succeeded", states
        expect_text(
            page.locator(f"{PANEL} .scout-publish tr[data-id='gold/demographics']"), "succeeded", "the dataset's row"
        )
        shoot(page, "publish")
        assert not page.page_errors, page.page_errors


def test_publish_checklist_start(lab_server, tmp_path):
    with chromium_page(tmp_path) as page:
        open_and_run(page, lab_server, "widgets-checklist.ipynb", ["%load_ext scout_jupyter\n%scout publish"])
        panel = page.locator(f"{PANEL} .scout-publish")
        expect_visible(panel.locator(".scout-checklist input"), "the checklist")
        expect_count(panel.locator(".scout-checklist input:checked"), 9, "ticked datasets at first")
        shoot(page, "publish-checklist")
        panel.locator("button", has_text="Select none").click()
        panel.locator(".scout-checklist label", has_text="platinum/store_perf").locator("input").check()
        wait_for(
            page,
            f"() => document.querySelector('{PANEL} .scout-publish .scout-muted')?.textContent === '1 of 9 selected'",
            "one dataset selected",
        )
        panel.locator("button", has_text="Start publish").click()
        wait_for(
            page,
            f"() => document.querySelector('{PANEL} .scout-publish .scout-summary')?.textContent"
            "?.startsWith('Published: ')",
            "the publish summary",
        )
        expect_count(panel.locator("tr.scout-row"), 1, "rows of the job")
        expect_count(panel.locator("tr[data-id='platinum/store_perf']"), 1, "the chosen dataset's row")
        shoot(page, "publish-started-from-checklist")
        assert not page.page_errors, page.page_errors


def test_analytics_draws_a_plotly_chart(lab_server, tmp_path):
    lab_server.api("GET", "scout/api/dataset-proxy", params={"dataset": "gold/txn_daily", "ttl": "60"})
    with chromium_page(tmp_path) as page:
        open_and_run(page, lab_server, "widgets-analytics.ipynb", ["%load_ext scout_jupyter\n%scout analytics"])
        wait_for(
            page,
            f"() => document.querySelectorAll('{PANEL} .js-plotly-plot .trace.bars .point').length > 0",
            "plotly bars",
        )
        svg_texts = "selector => [...document.querySelectorAll(selector)].map(e => e.textContent)"
        titles = page.evaluate(svg_texts, f"{PANEL} .js-plotly-plot .annotation-text")
        assert "Requests per day, by dataset" in titles and "Top users (requests)" in titles
        legend = page.evaluate(svg_texts, f"{PANEL} .js-plotly-plot .legendtext")
        assert "gold/txn_daily" in legend
        shoot(page, "dashboard")
        assert not page.page_errors, page.page_errors


def test_markup_in_a_manifest_shows_as_text(lab_server, tmp_path):
    store = evil_store(tmp_path / "evil-store")
    dialogs: list[str] = []
    with chromium_page(tmp_path) as page:
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        open_and_run(
            page,
            lab_server,
            "widgets-evil.ipynb",
            [
                "import scout_jupyter as scout\nfrom scout_jupyter.widgets import DatasetBrowser\n"
                f"DatasetBrowser(scout.connect(storage_url={store.url!r}, set_default=False))"
            ],
        )
        page.wait_for_selector(f"{BROWSER} tr[data-id='gold/txn_daily']")
        cell = page.locator(f"{BROWSER} tr[data-id='gold/txn_daily'] td.scout-desc")
        expect_text(cell, EVIL, "the description, as text")
        assert cell.inner_text() == EVIL
        cell.click()  # the expanded description, too
        wait_for(
            page,
            f"() => document.querySelector('{BROWSER} tr.scout-detail .scout-detail-desc')?.textContent "
            f"=== {json.dumps(EVIL)}",
            "the expanded description",
        )
        assert page.locator(f"{PANEL} .scout-browser img").count() == 0
        shoot(page, "browser-markup-as-text")
        assert dialogs == [] and not page.page_errors, (dialogs, page.page_errors)


def evil_store(root: Path):
    """A small store whose manifest describes gold/txn_daily with markup (valid manifest otherwise)."""
    store = store_factory(root)
    entries = [dataclasses.replace(e, description=EVIL) if e.id == "gold/txn_daily" else e for e in store.manifest]
    store.storage.write(latest_manifest_key(), Manifest.build(entries, clock=FakeClock()).to_bytes())
    return store
