"""The widgets' views (their ESM, as anywidget loads it) in headless Chromium with a stand-in model:
the browser view filters and sorts exactly as ``catalogue.visible`` does, shows manifest text as
text, sends the actions the kernel handles, and counts a rate limit down on Playwright's clock;
the publish view sends the ticked ids and draws a job's rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.bench_widgets import big_store
from scout_jupyter.client import connect
from scout_jupyter.clock import FakeClock
from scout_jupyter.widgets import DatasetBrowser
from scout_jupyter.widgets.catalogue import visible
from tests.e2e.test_lab_browser import chromium_page

pytestmark = pytest.mark.browser
WIDGETS = Path(__file__).resolve().parents[2] / "scout_jupyter" / "widgets"
EVIL = "<img src=x onerror=alert(1)>"
MOUNT = """async ([esm, state]) => {
  const mod = await import(URL.createObjectURL(new Blob([esm], {type: 'text/javascript'})));
  const listeners = {};
  const model = {
    sent: [], saved: 0,
    get: (k) => state[k],
    set: (k, v) => { state[k] = v; },
    on: (name, fn) => { (listeners[name] ||= []).push(fn); },
    off: (name, fn) => { listeners[name] = (listeners[name] || []).filter((f) => f !== fn); },
    save_changes() { this.saved++; },
    send(msg) { this.sent.push(msg); },
    push(k, v) { state[k] = v; for (const fn of listeners['change:' + k] || []) fn(); },  // a change from Python
  };
  const el = document.createElement('div');
  document.body.append(el);
  mod.default.render({model, el});
  window.model = model;
  window.el = el;
}"""
SHOWN = "() => [...el.querySelectorAll('tr.scout-row')].map((tr) => tr.dataset.id)"


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    root = tmp_path_factory.mktemp("views")
    clock = FakeClock()
    client = connect(
        storage_url=big_store(root / "store", 48, clock), cache_dir=root / "cache", clock=clock, set_default=False
    )
    made = DatasetBrowser(client, namespace={}).rows
    made[5] = dict(made[5], description=EVIL)
    return made


def mount(page, name: str, state: dict) -> None:
    css = (WIDGETS / "scout.css").read_text(encoding="utf-8")
    page.set_content(f"<html><head><style>{css}</style></head><body></body></html>")
    page.evaluate(MOUNT, [(WIDGETS / name).read_text(encoding="utf-8"), state])


def browser_state(rows: list[dict]) -> dict:
    return {
        "rows": rows,
        "query": "",
        "layer": "",
        "attention": False,
        "sort_by": "id",
        "descending": False,
        "banner": "",
        "activity": {},
        "preview": {},
        "clipboard": {},
    }


@pytest.mark.parametrize(
    "query, layer, attention, sort_by, descending",
    [
        ("", "", False, "id", False),
        ("weekly", "", False, "rows", True),
        ("dataset 1", "gold", False, "size", False),
        ("", "platinum", True, "freshness", False),
        ("REGION", "", False, "modified", True),
        ("", "", False, "description", False),
        ("nothing matches this", "", False, "id", False),
    ],
)
def test_browser_view_filters_and_sorts_as_python_does(rows, tmp_path, query, layer, attention, sort_by, descending):
    with chromium_page(tmp_path) as page:
        mount(page, "browser.js", browser_state(rows))
        page.fill("input[type=search]", query)  # typed by the user
        page.select_option("select", layer)
        if attention:
            page.check("input[type=checkbox]")
        page.evaluate("([k, d]) => { model.push('sort_by', k); model.push('descending', d); }", [sort_by, descending])
        expected = [r["id"] for r in visible(rows, query, layer, attention, sort_by, descending)]
        assert page.evaluate(SHOWN) == expected
        assert page.locator(".scout-count").inner_text() == f"{len(expected)} of {len(rows)} datasets"
        assert page.evaluate("() => [model.get('query'), model.get('layer'), model.get('attention')]") == [
            query,
            layer,
            attention,
        ]  # synced back, so Python's static views agree


def test_browser_view_shows_markup_as_text_and_sends_actions(rows, tmp_path):
    evil = rows[5]["id"]
    with chromium_page(tmp_path) as page:
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        mount(page, "browser.js", browser_state(rows))
        cell = page.locator(f"tr[data-id='{evil}'] td.scout-desc")
        assert cell.inner_text() == EVIL and page.locator("img").count() == 0
        cell.click()  # expands the row
        page.locator(f"tr.scout-detail[data-id='{evil}'] input[aria-label='Variable name']").fill("mine")
        page.locator(f"tr.scout-detail[data-id='{evil}'] button[data-action=load]").click()
        page.locator(f"tr.scout-detail[data-id='{evil}'] button[data-action=copy_url]").click()
        page.locator(f"tr.scout-row[data-id='{rows[0]['id']}'] button[data-action=load]").click()
        page.click("button[data-action=refresh]")
        page.click("th[data-sort=rows]")
        assert page.evaluate("() => model.sent") == [
            {"action": "load", "id": evil, "name": "mine"},
            {"action": "copy_url", "id": evil},
            {"action": "load", "id": rows[0]["id"], "name": rows[0]["name"]},
            {"action": "refresh"},
        ]
        assert page.evaluate("() => [model.get('sort_by'), model.get('descending')]") == ["rows", False]
        page.evaluate(
            "(id) => model.push('preview', {id, columns: [{name: '<b>c</b>', type: 'string', dtype: 'str'}],"
            " rows: [['<script>x</script>']]})",
            evil,
        )
        assert page.locator(".scout-preview td").inner_text() == "<script>x</script>"
        assert page.locator(".scout-preview b, .scout-preview script").count() == 0
        assert dialogs == []


def test_rate_limit_counts_down_on_the_clock(rows, tmp_path):
    target = rows[0]["id"]
    with chromium_page(tmp_path) as page:
        page.clock.install(time=1_723_256_100_000)
        mount(page, "browser.js", browser_state(rows))
        page.evaluate(
            "(id) => model.push('activity', {[id]: {kind: 'load', state: 'error', code: 'rate_limited', "
            "text: 'Rate limit exceeded: retry in 3 s', retry_at: Date.now() + 3000}})",
            target,
        )
        status = page.locator(f"tr.scout-detail[data-id='{target}'] .scout-error")
        load = page.locator(f"tr.scout-row[data-id='{target}'] button[data-action=load]")
        assert status.inner_text() == "Rate limit exceeded: retry in 3 s" and load.is_disabled()
        page.clock.run_for(1000)
        assert status.inner_text() == "Rate limit exceeded: retry in 2 s"
        page.clock.run_for(2500)
        assert status.inner_text() == "Rate limit over: you can retry now" and load.is_enabled()


def test_load_progress_then_summary(rows, tmp_path):
    target = rows[1]["id"]
    with chromium_page(tmp_path) as page:
        mount(page, "browser.js", browser_state(rows))
        page.evaluate(
            "(id) => model.push('activity', {[id]: {kind: 'load', state: 'loading', done: 512, total: 2048,"
            " text: 'Downloading 512 B of 2.0 KB'}})",
            target,
        )
        bar = page.locator(f"tr.scout-detail[data-id='{target}'] progress")
        assert bar.is_visible() and bar.evaluate("b => [b.value, b.max]") == [512, 2048]
        summary = f"x = {target} (2024-08-10): 1 rows × 2 columns, from network, 0.01 s"
        page.evaluate(
            "([id, text]) => model.push('activity', {[id]: {kind: 'load', state: 'done', name: 'x', text}})",
            [target, summary],
        )
        detail = page.locator(f"tr.scout-detail[data-id='{target}']")
        assert detail.locator(".scout-ok").inner_text() == summary and not bar.is_visible()
        assert detail.locator(".scout-badge").count() == 1  # the freshness badge after a load


def test_publish_view_sends_the_ticked_ids_and_draws_the_job(tmp_path):
    state = {
        "choices": [{"id": "gold/a", "description": EVIL}, {"id": "gold/b", "description": ""}],
        "selected": ["gold/a", "gold/b"],
        "job": {},
        "error": {},
    }
    with chromium_page(tmp_path) as page:
        mount(page, "publish.js", state)
        page.uncheck("input[value='gold/a']")
        assert page.locator(".scout-muted").inner_text() == "1 of 2 selected"
        page.click("text=Start publish")
        assert page.evaluate("() => model.sent") == [{"action": "start", "ids": ["gold/b"]}]
        page.evaluate("() => model.push('error', {text: 'Access denied: no scout:publish', code: 'access_denied'})")
        assert page.locator(".scout-error").inner_text() == "Access denied: no scout:publish"
        assert page.locator("text=Start publish").is_enabled()  # re-armed after a refusal
        job = {
            "job_id": "j1",
            "state": "succeeded",
            "progress": 1.0,
            "manifest": "written",
            "summary": "Published: 1 uploaded, 0 unchanged, 0 failed",
            "rows": [
                {
                    "id": "gold/b",
                    "step": "verify",
                    "state": "succeeded",
                    "rows": "1,024",
                    "bytes": "2.0 KB",
                    "error": "",
                }
            ],
        }
        page.evaluate("(job) => model.push('job', job)", job)
        assert page.locator(".scout-summary").inner_text() == job["summary"]
        assert page.locator("tr[data-id='gold/b'] td").all_inner_texts()[:5] == [
            "gold/b",
            "verify",
            "1,024",
            "2.0 KB",
            "succeeded",
        ]
        assert json.loads(page.evaluate("() => JSON.stringify(model.sent)")) == [{"action": "start", "ids": ["gold/b"]}]
