"""Widgets meeting the errors a user can meet (scripted on the fake server), their static
fallbacks, and manifest text that is markup-shaped but must stay text."""

from __future__ import annotations

import dataclasses
import time
import warnings

from scout_jupyter.client import JobStatus, connect
from scout_jupyter.manifest import Manifest, latest_manifest_key
from scout_jupyter.widgets import DatasetBrowser, FreshnessBadge, PublishPanel
from scout_jupyter.widgets.format import freshness_words, human_bytes
from tests.fixtures.store import store_factory

TXN = "gold/txn_daily"
EVIL = "<img src=x onerror=alert(1)>"


def send(widget, **content) -> None:
    widget._handle_custom_msg(content, [])


def test_rate_limited_load_carries_a_countdown(proxy_client, fake_server):
    browser = DatasetBrowser(proxy_client, namespace={})
    fake_server.faults.script("dataset-proxy", 429, {"error": "rate_limited", "message": "x"}, {"Retry-After": "42"})
    send(browser, action="load", id=TXN)
    state = browser.activity[TXN]
    assert state["text"] == "Rate limit exceeded: retry in 42 s" and state["code"] == "rate_limited"
    assert 40_000 <= state["retry_at"] - time.time() * 1000 <= 42_000  # the view counts down to it


def test_checksum_failure_and_access_denied_are_one_line(proxy_client, fake_server):
    namespace: dict = {}
    browser = DatasetBrowser(proxy_client, namespace=namespace)
    fake_server.faults.corrupt_downloads = 1
    send(browser, action="load", id=TXN)
    assert browser.activity[TXN]["text"].startswith("Checksum validation failed for gold/txn_daily: expected ")
    fake_server.faults.script("dataset-proxy", 403, {"error": "access_denied", "message": "Access denied: not yours"})
    send(browser, action="copy_url", id=TXN)
    assert browser.activity[TXN]["text"] == "Access denied: not yours" and namespace == {}
    assert browser.clipboard == {}  # nothing was copied


def test_offline_says_what_is_cached(proxy_client, fake_server):
    namespace: dict = {}
    browser = DatasetBrowser(proxy_client, namespace=namespace)
    send(browser, action="load", id=TXN)
    fake_server.faults.down = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        send(browser, action="refresh")
    assert browser.banner == (
        "Offline: showing the last manifest fetched (1 of 3 datasets are cached locally and load offline)"
    )
    send(browser, action="load", id=TXN, name="again")
    assert browser.activity[TXN]["state"] == "done" and "from cache" in browser.activity[TXN]["text"]
    send(browser, action="load", id="gold/product_mix")
    assert "gold/product_mix is not in the local cache" in browser.activity["gold/product_mix"]["text"]


def evil_store(root, fake_clock):
    """A store whose manifest describes a dataset with markup (a store is data, not trusted HTML)."""
    store = store_factory(root, clock=fake_clock)
    entries = [dataclasses.replace(e, description=EVIL) if e.id == TXN else e for e in store.manifest]
    store.storage.write(latest_manifest_key(), Manifest.build(entries, clock=fake_clock).to_bytes())
    return store


def test_static_fallbacks_escape_manifest_text(tmp_path, fake_clock):
    store = evil_store(tmp_path / "evil", fake_clock)
    client = connect(storage_url=store.storage, cache_dir=tmp_path / "cache", clock=fake_clock, set_default=False)
    browser = DatasetBrowser(client, namespace={})
    found = browser._repr_mimebundle_()
    bundle = found[0] if isinstance(found, tuple) else found  # (data, metadata) when there is metadata
    assert "application/vnd.jupyter.widget-view+json" in bundle  # live front ends render the view
    assert EVIL not in bundle["text/html"] and "&lt;img src=x onerror=alert(1)&gt;" in bundle["text/html"]
    assert "scout-badge--fresh" in bundle["text/html"] and "3 Scout datasets" in bundle["text/html"]
    text = bundle["text/plain"]
    assert text.splitlines()[0].split() == ["dataset", "date", "rows", "size", "modified", "cached", "freshness"]
    assert "gold/txn_daily" in text and "✓ fresh" in text
    assert next(r for r in browser.rows if r["id"] == TXN)["description"] == EVIL  # the view sets it as text


def test_badge_wording_reads_without_colour(fake_clock):
    now = fake_clock.now()
    badge = FreshnessBadge.of("2024-08-09T23:15:00.000Z", "daily", now)
    assert (badge.freshness, badge.label, badge.words) == ("fresh", "✓ fresh", "3 h ago · expected daily")
    assert FreshnessBadge.of("2024-08-07T02:15:00.000Z", "daily", now).label == "◔ stale"
    assert FreshnessBadge.of("2024-07-01T02:15:00.000Z", "weekly", now).label == "! overdue"
    unknown = FreshnessBadge.of(None, None, now)
    assert (unknown.label, unknown.words) == ("? unknown", "never updated · no schedule")
    assert badge.static_text() == "[✓ fresh · 3 h ago · expected daily]"
    assert freshness_words("fresh", "2024-08-10T02:10:00.000Z", "hourly", now) == "5 min ago · expected hourly"
    sizes = (0, 1023, 2048, 5 * 1024**2 + 1, None)
    assert [human_bytes(n) for n in sizes] == ["0 B", "1023 B", "2.0 KB", "5.0 MB", "—"]


def test_publish_panel_on_the_fake_server(proxy_client, fake_server):
    panel = PublishPanel(proxy_client, poll_interval=0.01)
    send(panel, action="start", ids=[TXN])
    status = panel.wait(60)
    assert status.ok and panel.job["rows"][0]["state"] == "succeeded" and fake_server.published == [[TXN]]
    busy = PublishPanel(proxy_client)
    fake_server.faults.script(
        "publish", 409, {"error": "publish_in_progress", "message": "A publish is already running"}
    )
    send(busy, action="start", ids=[])
    busy.wait(60)
    assert busy.error["text"] == "A publish is already running" and busy.job == {}


def test_job_status_reads_well():
    status = JobStatus(
        "abc123",
        "failed",
        1.0,
        (
            {"id": TXN, "step": "verify", "state": "succeeded", "bytes_uploaded": 2048, "unchanged": False},
            {"id": "gold/product_mix", "step": "upload", "state": "succeeded", "bytes_uploaded": 0, "unchanged": True},
            {"id": "gold/x", "step": "export", "state": "failed", "bytes_uploaded": 0, "error": EVIL},
        ),
        "2024-08-10T02:15:00.000Z",
        "2024-08-10T02:15:09.000Z",
    )
    lines = repr(status).splitlines()
    assert lines[0] == f"<JobStatus publish abc123: failed (100%); 1 failed, 2 succeeded; gold/x: {EVIL}>"
    assert lines[1].split() == ["gold/txn_daily", "succeeded", "verify", "2.0", "KB"]
    assert lines[2].split()[-1] == "unchanged"
    page = status._repr_html_()
    assert EVIL not in page and "&lt;img src=x onerror=alert(1)&gt;" in page and "(unchanged)" in page
    assert status.outcomes() == {
        "uploaded": [TXN],
        "unchanged": ["gold/product_mix"],
        "failed": ["gold/x"],
        "pending": [],
    }


def test_an_html_export_shows_the_static_fallback(tmp_path, fake_clock):
    import nbformat
    from nbconvert import HTMLExporter

    store = evil_store(tmp_path / "evil", fake_clock)
    client = connect(storage_url=store.storage, cache_dir=tmp_path / "cache", clock=fake_clock, set_default=False)
    found = DatasetBrowser(client, namespace={})._repr_mimebundle_()
    data = found[0] if isinstance(found, tuple) else found
    cell = nbformat.v4.new_code_cell("scout.browse()", outputs=[nbformat.v4.new_output("display_data", data=data)])
    page, _ = HTMLExporter().from_notebook_node(nbformat.v4.new_notebook(cells=[cell]))
    assert 'class="scout-badge scout-badge--fresh"' in page and "<td>gold/product_mix</td>" in page
    assert EVIL not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
