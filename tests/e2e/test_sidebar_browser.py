"""The "Scout datasets" sidebar in JupyterLab in headless Chromium, against the demo store of
``tests/fixtures/lab.py``: the nine datasets with badges, search, auto-refresh by conditional
GETs, Load into a new notebook, Preview, Copy URL, Publish… from the palette, the dark theme.

The tests of this module share one page (module scope) and run in file order, as one user's
session would. Every wait polls a condition in the page with a generous deadline. Screenshots
go to ``test-artifacts/sidebar/`` (gitignored; ``SCOUT_TEST_ARTIFACTS`` moves it).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .test_lab_browser import chromium_page

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("SCOUT_TEST_ARTIFACTS", REPO / "test-artifacts")) / "sidebar"
TIMEOUT_MS = 120_000  # generous: CI is a busy 2-core machine; every wait polls a condition
SIDEBAR = "#scout-datasets"
ROWS = f"{SIDEBAR} .scout-Dataset"
NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden)"
NINE = [
    "gold/basket_patterns",
    "gold/demographics",
    "gold/product_mix",
    "gold/request_behavior",
    "gold/substitution_flows",
    "gold/txn_daily",
    "platinum/customer_segments",
    "platinum/features_sales_7d",
    "platinum/store_perf",
]
SETTINGS = ("scout-jupyter", "plugin.jupyterlab-settings")
REFRESH_SECONDS = 1

pytestmark = pytest.mark.browser


def wait_for(page, condition: str, what: str, arg=None) -> None:
    """Poll a JavaScript condition (bounded); on timeout, fail saying what the sidebar showed."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(condition, arg=arg, timeout=TIMEOUT_MS, polling=100)
    except PlaywrightTimeout:
        shown = page.evaluate(f"() => document.querySelector('{SIDEBAR}')?.innerText ?? 'no sidebar'")
        toasts = page.evaluate("() => [...document.querySelectorAll('.Toastify__toast')].map(t => t.innerText)")
        pytest.fail(
            f"{what} not seen within {TIMEOUT_MS / 1000:.0f} s; sidebar: {shown[:600]!r}; "
            f"notifications: {toasts}; page errors: {page.page_errors}"
        )


def shot(page, name: str, selector: str | None = None) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    (page.locator(selector) if selector else page).screenshot(path=str(path))
    assert path.stat().st_size > 5_000, f"{path.name} is (nearly) blank"
    return path


def row(page, dataset_id: str):
    return page.locator(f"{ROWS}[data-dataset-id='{dataset_id}']")


@pytest.fixture(autouse=True)
def jp_asyncio_loop():
    """pytest-jupyter's autouse fixture of this name closes the current event loop after each
    test, which here is Playwright's, running for the page the module's tests share. These
    tests need no loop of their own."""
    yield None


@pytest.fixture(autouse=True)
def jp_server_cleanup():
    """No in-process Jupyter server here to clean up (the lab runs in its own process)."""
    yield


def user_settings_file(lab_server) -> Path:
    return lab_server.root / ".private" / "jupyter" / "config" / "lab" / "user-settings" / SETTINGS[0] / SETTINGS[1]


@pytest.fixture(scope="module")
def page(lab_server, tmp_path_factory):
    """JupyterLab with the sidebar open; refreshing every second so polling is seen quickly."""
    settings = user_settings_file(lab_server)
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps({"refreshInterval": REFRESH_SECONDS}))
    with chromium_page(tmp_path_factory.mktemp("sidebar")) as page:
        page.manifest_requests = []
        page.on(
            "response",
            lambda r: (
                page.manifest_requests.append((r.request.method, r.request.headers.get("if-none-match"), r.status))
                if r.url.split("?")[0].endswith("/scout/api/manifest")
                else None
            ),
        )
        # a workspace of its own, reset: no notebook left open by other tests of the session
        page.goto(lab_server.lab_url("lab/workspaces/sidebar-tests") + "&reset")
        page.locator(".jp-SideBar .lm-TabBar-tab[data-id='scout-datasets']").click()
        wait_for(page, f"() => document.querySelectorAll('{ROWS}').length === 9", "nine dataset rows")
        yield page
    settings.unlink()


def test_the_panel_lists_the_nine_datasets_with_badges(page):
    ids = page.locator(ROWS).evaluate_all("rows => rows.map(r => r.dataset.datasetId)")
    assert sorted(ids) == NINE
    layers = page.locator(f"{SIDEBAR} .scout-Layer-title").all_inner_texts()
    assert [t.split()[0].lower() for t in layers] == ["gold", "platinum"]
    badges = page.locator(f"{ROWS} .scout-Badge").all_inner_texts()
    assert len(badges) == 9 and set(badges) == {"✓ fresh"}  # just published by the fixture
    first = row(page, "gold/product_mix")
    assert "expected daily" in first.locator(".scout-Dataset-age").inner_text()
    assert "rows" in first.locator(".scout-Dataset-meta").inner_text()
    assert first.locator(".scout-Badge").get_attribute("title").startswith("fresh: ")
    assert page.locator(f"{SIDEBAR} [aria-label='Search datasets']").count() == 1
    shot(page, "sidebar-light", SIDEBAR)


def test_search_narrows_the_list(page):
    search = page.locator(f"{SIDEBAR} input[aria-label='Search datasets']")
    search.fill("mix")
    wait_for(page, f"() => document.querySelectorAll('{ROWS}').length === 1", "one row for 'mix'")
    assert row(page, "gold/product_mix").count() == 1
    assert "1 of 9 datasets" in page.locator(f"{SIDEBAR} .scout-Sidebar-summary").inner_text()
    shot(page, "sidebar-search", SIDEBAR)
    search.fill("platinum")
    wait_for(page, f"() => document.querySelectorAll('{ROWS}').length === 3", "three platinum rows")
    search.fill("")
    wait_for(page, f"() => document.querySelectorAll('{ROWS}').length === 9", "nine rows again")


def test_keyboard_moves_between_rows(page):
    """Focus moves after React re-renders the rows: each step waits for the focused row."""
    first = page.locator(ROWS).first
    first.focus()
    focused = "id => document.activeElement?.dataset?.datasetId === id"
    second_id = page.locator(ROWS).nth(1).get_attribute("data-dataset-id")
    page.keyboard.press("ArrowDown")
    wait_for(page, focused, f"ArrowDown focusing {second_id}", arg=second_id)
    last_id = page.locator(ROWS).last.get_attribute("data-dataset-id")
    page.keyboard.press("End")
    wait_for(page, focused, f"End focusing {last_id}", arg=last_id)


def test_auto_refresh_polls_with_if_none_match_and_gets_304(page):
    deadline_check = (
        "() => performance.getEntriesByType('resource').filter(e => e.name.includes('/scout/api/manifest')).length >= 3"
    )
    wait_for(page, deadline_check, "three manifest polls")
    conditional = [(method, status) for method, etag, status in page.manifest_requests if etag]
    assert conditional, page.manifest_requests
    # an unchanged manifest costs a bodiless 304, and the manifest itself is never downloaded
    assert set(conditional) == {("HEAD", 304)}, page.manifest_requests
    assert all(method == "HEAD" for method, _etag, _status in page.manifest_requests)


def test_load_inserts_and_runs_the_cell_and_shows_the_frame(page, lab_server):
    row(page, "gold/product_mix").locator("button", has_text="Load").click()
    cell = page.locator(f"{NOTEBOOK} .jp-CodeCell", has_text="%scout load gold/product_mix")
    frame = cell.locator(".jp-OutputArea-output[data-mime-type='text/html'] table.dataframe")
    rows = lab_server.manifest()["datasets"]["gold/product_mix"]["row_count"]
    # the summary line and the frame render after the prompt number: wait for both
    wait_for(
        page,
        f"""rows => [...document.querySelectorAll("{NOTEBOOK} .jp-CodeCell")].some(c =>
            c.innerText.includes('%scout load gold/product_mix')
            && !!c.querySelector(".jp-OutputArea-output[data-mime-type='text/html'] table.dataframe")
            && [...c.querySelectorAll(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stdout']")]
               .some(o => o.innerText.includes(rows + ' rows')))""",
        "the product_mix summary and frame in the new notebook",
        arg=str(rows),
    )
    source = cell.locator(".jp-InputArea-editor").inner_text()
    assert "%load_ext scout_jupyter" in source  # a fresh kernel had not loaded it
    first_column = lab_server.manifest()["datasets"]["gold/product_mix"]["schema"]["fields"][0]["name"]
    assert frame.locator("thead th", has_text=first_column).count() >= 1
    shot(page, "load-product-mix")

    # the kernel now has the extension: the next Load is one line
    row(page, "gold/demographics").locator("button", has_text="Load").click()
    wait_for(
        page,
        f"""() => [...document.querySelectorAll("{NOTEBOOK} .jp-CodeCell")]
        .some(c => c.innerText.includes('%scout load gold/demographics')
                   && !!c.querySelector('table.dataframe'))""",
        "the demographics frame",
    )
    second = page.locator(f"{NOTEBOOK} .jp-CodeCell", has_text="%scout load gold/demographics")
    assert second.locator(".jp-InputArea-editor").inner_text().strip() == "%scout load gold/demographics"


def test_open_dataset_browser_inserts_and_runs_scout_browse(page):
    run_command(page, "Scout: Open dataset browser")
    wait_for(
        page,
        f"""() => [...document.querySelectorAll("{NOTEBOOK} .jp-CodeCell")]
        .some(c => c.innerText.includes('scout.browse()')
                   && /\\[\\d+\\]/.test(c.querySelector('.jp-InputPrompt')?.innerText ?? '')
                   && !!c.querySelector('.jp-OutputArea-output'))""",
        "scout.browse() run with an output",
    )
    cell = page.locator(f"{NOTEBOOK} .jp-CodeCell", has_text="scout.browse()")
    assert cell.locator(".jp-InputArea-editor").inner_text().strip() == "import scout_jupyter as scout\nscout.browse()"
    assert "Traceback" not in cell.locator(".jp-OutputArea").inner_text()


def test_preview_shows_rows_and_the_typed_schema(page, lab_server):
    row(page, "gold/product_mix").locator("button", has_text="Preview").click()
    table = page.locator(".scout-Preview-table")
    wait_for(page, "() => document.querySelectorAll('.scout-Preview-table tbody tr').length === 50", "50 preview rows")
    headers = [h.split() for h in table.locator("thead th").all_inner_texts()[1:]]
    fields = lab_server.manifest()["datasets"]["gold/product_mix"]["schema"]["fields"]
    assert headers == [[f["name"], f["type"]] for f in fields]
    assert "Showing the first 50 of" in page.locator(".scout-Preview-caption").inner_text()
    shot(page, "preview-product-mix")


def test_copy_code_says_what_it_copied(page):
    row(page, "gold/txn_daily").locator("button[aria-label^='Copy code']").click()
    wait_for(
        page,
        """() => [...document.querySelectorAll('.Toastify__toast')]
        .some(t => t.innerText.includes('Code that loads gold/txn_daily copied'))""",
        "the copy-code notification",
    )


def test_copy_signed_url_says_when_it_expires(page):
    row(page, "gold/txn_daily").locator("button[aria-label^='Copy a signed URL']").click()
    wait_for(
        page,
        """() => [...document.querySelectorAll('.Toastify__toast')]
        .some(t => /Signed URL of gold\\/txn_daily copied: expires in 1 h \\(\\d\\d:\\d\\d UTC\\)/
                   .test(t.innerText))""",
        "the signed-URL notification with its expiry",
    )


def run_command(page, label: str) -> None:
    """Run a command from the palette (Ctrl+Shift+C), by its label."""
    page.keyboard.press("Control+Shift+c")
    page.locator(".lm-CommandPalette-input").fill(label)
    page.locator(".lm-CommandPalette-item", has_text=label).first.click()


def test_publish_from_the_palette_ends_in_success(page):
    run_command(page, "Scout: Publish…")
    dialog = page.locator(".jp-Dialog")
    dialog.locator(".scout-Publish-all input").click()  # uncheck all
    dialog.locator("input[data-dataset-id='gold/demographics']").check()
    shot(page, "publish-dialog", ".jp-Dialog-content")
    dialog.locator("button", has_text="Publish").click()
    wait_for(
        page,
        """() => [...document.querySelectorAll('.Toastify__toast')]
        .some(t => t.innerText.includes('Published 1 dataset'))""",
        "the publish success notification",
    )
    shot(page, "publish-success")


def test_the_panel_renders_in_the_dark_theme(page):
    page.click(".lm-MenuBar-itemLabel:text-is('Settings')")
    page.click(".lm-Menu-itemLabel:text-is('Theme')")
    page.click(".lm-Menu-itemLabel:text-is('JupyterLab Dark')")
    try:
        wait_for(page, "() => document.body.dataset.jpThemeLight === 'false'", "the dark theme")
        page.locator(".jp-SideBar .lm-TabBar-tab[data-id='scout-datasets']").click() if not page.locator(
            SIDEBAR
        ).is_visible() else None
        colours = page.evaluate(f"""() => {{
            const style = el => getComputedStyle(document.querySelector(el));
            return {{background: style('{SIDEBAR}').backgroundColor,
                     text: style('{ROWS} .scout-Dataset-name').color,
                     badge: style('{ROWS} .scout-Badge').backgroundColor}};
        }}""")

        def luminance(rgb: str) -> float:
            return sum(int(v) for v in rgb[rgb.index("(") + 1 : -1].split(",")[:3]) / 3

        assert luminance(colours["background"]) < 80 < luminance(colours["text"]), colours
        # the theme's stylesheet swaps in over a few frames: let two frames pass, whole page first
        page.wait_for_function(
            "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))"
        )
        shot(page, "lab-dark")
        shot(page, "sidebar-dark", SIDEBAR)
    finally:  # the lab server is shared: leave it in the light theme
        page.click(".lm-MenuBar-itemLabel:text-is('Settings')")
        page.click(".lm-Menu-itemLabel:text-is('Theme')")
        page.click(".lm-Menu-itemLabel:text-is('JupyterLab Light')")
        wait_for(page, "() => document.body.dataset.jpThemeLight === 'true'", "the light theme again")
    assert not page.page_errors, page.page_errors
