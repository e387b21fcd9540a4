"""Each widget driven as the front end drives it (custom messages, trait changes), against a real
Jupyter server over the published demo store. No browser: the views' JavaScript is exercised by
tests/e2e/test_widgets_browser.py."""

from __future__ import annotations

import hashlib
import re
import sqlite3
import time

import pandas as pd
import pytest
import requests

from scout_jupyter.widgets import AccessDashboard, DatasetBrowser, PublishPanel, StatusView

from .conftest import live_client

pytestmark = pytest.mark.slow
TXN = "gold/txn_daily"
DEADLINE = 120.0


def send(widget, **content) -> None:
    """What the view does: a custom message to the kernel-side widget."""
    widget._handle_custom_msg(content, [])


def history(widget, name: str) -> list:
    seen: list = []
    widget.observe(lambda change: seen.append(change["new"]), names=name)
    return seen


def test_browser_rows_filter_and_sort(client):
    browser = DatasetBrowser(client, namespace={})
    manifest = client.manifest()
    assert len(browser.rows) == 9 == len(manifest.datasets)
    txn = next(r for r in browser.rows if r["id"] == TXN)
    entry = manifest.get(TXN)
    assert (txn["rows"], txn["size"], txn["date"]) == (entry.row_count, entry.size_bytes, entry.date)
    assert txn["freshness"] == entry.freshness(client.clock.now())
    assert re.fullmatch(r"(just now|\d+ (min|h|d|mo) ago) · expected daily", txn["freshness_words"])
    assert txn["cached"] is False
    browser.query = "txn"  # the view sets these traits as the user types and clicks
    assert browser.visible_ids() == [TXN]
    browser.query, browser.layer = "", "platinum"
    assert browser.visible_ids() == ["platinum/customer_segments", "platinum/features_sales_7d", "platinum/store_perf"]
    browser.layer, browser.sort_by, browser.descending = "", "rows", True
    rows = [r["rows"] for r in browser.rows if r["id"] in browser.visible_ids()]
    assert [next(r["rows"] for r in browser.rows if r["id"] == i) for i in browser.visible_ids()] == sorted(
        rows, reverse=True
    )
    browser.query = "customer segment"  # every word, over id and description
    assert set(browser.visible_ids()) >= {"platinum/customer_segments"}


def test_load_binds_the_frame_with_progress_then_one_line(client):
    namespace: dict = {}
    browser = DatasetBrowser(client, namespace=namespace)
    seen = history(browser, "activity")
    send(browser, action="load", id=TXN, name="txn_daily")
    frame = namespace["txn_daily"]
    entry = client.manifest().get(TXN)
    assert isinstance(frame, pd.DataFrame) and len(frame) == entry.row_count
    done = browser.activity[TXN]
    assert done["state"] == "done" and done["name"] == "txn_daily"
    assert re.fullmatch(
        rf"txn_daily = gold/txn_daily \({entry.date}\): {entry.row_count:,} rows × "
        rf"{frame.shape[1]} columns, from network, [\d.]+ s",
        done["text"],
    ), done["text"]
    progress = [a[TXN] for a in seen if a[TXN].get("total")]
    assert progress and progress[-1]["done"] == progress[-1]["total"] > 0  # bytes of total, to the end
    assert next(r for r in browser.rows if r["id"] == TXN)["cached"] is True
    send(browser, action="load", id=TXN, name="again")  # a second load comes from the cache
    assert "from cache" in browser.activity[TXN]["text"] and namespace["again"].equals(frame)


def test_load_errors_are_one_line(client):
    namespace: dict = {}
    browser = DatasetBrowser(client, namespace=namespace)
    send(browser, action="load", id="gold/txn_dialy")
    assert (
        browser.activity["gold/txn_dialy"]["text"] == "Dataset not found: gold/txn_dialy (did you mean gold/txn_daily?)"
    )
    send(browser, action="load", id=TXN, name="2fast")
    assert browser.activity[TXN] == {
        "kind": "load",
        "state": "error",
        "code": "config_error",
        "text": "Not a Python variable name: '2fast'",
    }
    assert namespace == {}


def test_preview_shows_twenty_typed_rows(client):
    browser = DatasetBrowser(client, namespace={})
    send(browser, action="preview", id="gold/product_mix")
    preview = browser.preview
    fields = client.info("gold/product_mix")["schema"]["fields"]
    assert preview["id"] == "gold/product_mix" and len(preview["rows"]) == 20
    assert [(c["name"], c["type"]) for c in preview["columns"]] == [(f["name"], f["type"]) for f in fields]
    first = client.load("gold/product_mix", limit=1)
    assert preview["rows"][0] == [str(v) for v in first.iloc[0].tolist()]
    assert browser.activity["gold/product_mix"]["text"] == f"Preview: first 20 rows, {len(fields)} columns"


def test_copy_code_and_a_copied_url_that_downloads_the_manifest_bytes(client):
    browser = DatasetBrowser(client, namespace={})
    send(browser, action="copy_code", id=TXN)
    assert browser.clipboard["text"] == "%scout load gold/txn_daily"
    send(browser, action="copy_url", id=TXN)
    url = browser.clipboard["text"]
    assert browser.clipboard["seq"] == 2 and "scout_auth=" in url
    assert re.search(r"expires \d{4}-\d\d-\d\d \d\d:\d\d UTC \(in (59 min|1 h)\)", browser.activity[TXN]["text"])
    body = requests.get(url, timeout=30).content  # no token: the signature is the only credential
    assert hashlib.sha256(body).hexdigest() == client.manifest().get(TXN).sha256


def test_refresh_fetches_the_manifest_again(client):
    browser = DatasetBrowser(client, namespace={})
    before = client._manifests.fetched_at
    send(browser, action="refresh")
    assert client._manifests.fetched_at != before and len(browser.rows) == 9 and browser.banner == ""


def test_status_view_badges(client):
    view = StatusView(client)
    assert set(view.badges) == {e.id for e in client.manifest()}
    now = client.clock.now()
    assert all(b.freshness == client.manifest().get(i).freshness(now) for i, b in view.badges.items())
    assert "gold/txn_daily" in view.static_text() and "scout-badge--" in view.static_html()


def test_publish_panel_rows_reach_done_and_reattach(client):
    panel = PublishPanel(client, poll_interval=0.2)
    assert len(panel.choices) == 9 and len(panel.selected) == 9  # the checklist, everything ticked
    jobs = history(panel, "job")
    send(panel, action="start", ids=["gold/demographics"])
    status = panel.wait(DEADLINE)
    assert status is not None and status.ok, panel.error or panel.job
    (row,) = panel.job["rows"]
    assert row["id"] == "gold/demographics" and row["state"] == "succeeded"
    assert row["rows"] == f"{client.manifest().get('gold/demographics').row_count:,}"
    assert panel.job["summary"] in (
        "Published: 1 uploaded, 0 unchanged, 0 failed",
        "Published: 0 uploaded, 1 unchanged, 0 failed",
    )
    assert jobs[0]["state"] in ("queued", "running") and jobs[-1]["state"] == "succeeded"
    again = PublishPanel(client, job_id=status.job_id)  # what scout.job(job_id) shows
    assert again.job["job_id"] == status.job_id and again.job["state"] == "succeeded"
    assert again.job["summary"] == panel.job["summary"] and "Published" in again.static_text()


def test_publish_refused_says_why(denying_server, tmp_path):
    refused = live_client(denying_server, tmp_path / "cache")
    panel = PublishPanel(refused)
    send(panel, action="start", ids=["gold/demographics"])
    panel.wait(DEADLINE)
    assert panel.job == {} and panel.error["code"] == "access_denied"
    assert panel.error["text"].startswith("Access denied") and "\n" not in panel.error["text"]
    assert "Traceback" not in panel.error["text"]


def access_log_counts(server, since: str) -> dict:
    with sqlite3.connect(server.workdir / "access.sqlite") as db:
        total = db.execute(
            "SELECT COUNT(*) FROM dataset_access_log WHERE dataset_id IS NOT NULL AND date(accessed_at) >= ?", (since,)
        ).fetchone()[0]
        denied = db.execute(
            "SELECT COUNT(*) FROM dataset_access_log WHERE dataset_id IS NOT NULL "
            "AND date(accessed_at) >= ? AND status IN (401, 403)",
            (since,),
        ).fetchone()[0]
    return {"total": total, "denied": denied}


def trace_sum(figure, name_in: set[str] | None = None, subplot: tuple[str, str] = ("x", "y")) -> int:
    return sum(
        int(sum(t.y)) for t in figure.data if (t.xaxis, t.yaxis) == subplot and (name_in is None or t.name in name_in)
    )


def test_dashboard_traces_count_what_the_access_log_holds(client, demo_server):
    client.load("platinum/store_perf")
    client.signed_url("gold/basket_patterns")
    dashboard = AccessDashboard(client, days=7)
    deadline = time.monotonic() + DEADLINE
    while True:  # the log is written off the request path: poll until the figures agree
        log = access_log_counts(demo_server, dashboard.report["since"])
        shown = trace_sum(dashboard.figure)
        if shown == log["total"] or time.monotonic() > deadline:
            break
        time.sleep(0.1)  # poll interval of a condition wait, bounded by the deadline
        dashboard.refresh_button.click()  # as the user's click does
    assert shown == log["total"] > 0
    outcomes = trace_sum(dashboard.figure, subplot=("x2", "y2"))
    assert outcomes == log["total"]
    denied = trace_sum(dashboard.figure, {"denied"}, ("x2", "y2"))
    assert denied == log["denied"]
    names = {t.name for t in dashboard.figure.data if (t.xaxis, t.yaxis) == ("x", "y")}
    assert {"platinum/store_perf", "gold/basket_patterns"} <= names
    dashboard.days.value = 1  # the days selector, as the view sets it
    assert dashboard.report["days"] == 1 and "last 1 day" in dashboard.figure.layout.title.text
    assert "requests" in dashboard.status.value and "requests" in dashboard.static_text()


def run_collecting(kernel, code: str, timeout: float = DEADLINE) -> dict:
    """Execute in a real kernel; returns stdout/stderr text and every rich output's mime types."""
    out: dict = {"stdout": "", "stderr": "", "outputs": [], "error": ""}

    def collect(msg: dict) -> None:
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            out[content["name"]] += content["text"]
        elif kind in ("execute_result", "display_data", "update_display_data"):
            out["outputs"].append(content["data"])
        elif kind == "error":
            out["error"] += f"{content['ename']}: {content['evalue']}"

    kernel.client.execute_interactive(code, output_hook=collect, timeout=timeout)
    return out


WIDGET = "application/vnd.jupyter.widget-view+json"


def test_magic_renders_through_the_widgets_in_a_kernel(demo_server):
    kernel = demo_server.start_kernel()
    try:
        out = run_collecting(kernel, "%load_ext scout_jupyter\n%scout browse")
        assert not out["error"] and WIDGET in out["outputs"][-1], out
        assert "gold/txn_daily" in out["outputs"][-1]["text/html"]
        out = run_collecting(kernel, "%scout status")
        assert WIDGET in out["outputs"][-1] and "scout-badge--" in out["outputs"][-1]["text/html"]
        out = run_collecting(kernel, "%scout load platinum/store_perf --as perf")
        assert "perf = platinum/store_perf" in out["stdout"]
        assert any(WIDGET in o and "scout-badge" in o["text/html"] for o in out["outputs"])  # the badge after it
        out = run_collecting(kernel, "%scout publish gold/demographics")
        panel = [o for o in out["outputs"] if WIDGET in o]
        assert panel and not out["stderr"], out
        assert panel[-1]["text/plain"].splitlines()[-1].startswith("Published: ")  # the final state, kept
        out = run_collecting(kernel, "%scout analytics --days 3")
        assert WIDGET in out["outputs"][-1] and "requests" in out["outputs"][-1]["text/plain"]
        out = run_collecting(
            kernel,
            "import scout_jupyter as scout\ntype(scout.browse()).__name__, type(scout.dashboard(days=2)).__name__",
        )
        assert "('DatasetBrowser', 'AccessDashboard')" in out["outputs"][-1]["text/plain"]
    finally:
        kernel.shutdown()


def test_reattach_follows_a_running_job_to_its_end(client):
    started = client.publish(["platinum/store_perf"], wait=False)  # e.g. from a kernel since restarted
    panel = PublishPanel(client, job_id=started.job_id, poll_interval=0.2)
    assert panel.job["job_id"] == started.job_id and panel.choices == []
    final = panel.wait(DEADLINE)
    assert final is not None and final.ok and panel.job["state"] == "succeeded"
    assert panel.job["rows"][0]["id"] == "platinum/store_perf" and panel.job["summary"].startswith("Published: ")
