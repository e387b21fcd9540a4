"""The three shipped notebooks, run cell by cell in kernels started by a real ``jupyter lab``.

Each notebook gets its own kernel (``POST /api/kernels``), driven over the server's kernel
websocket as JupyterLab drives it; the kernel finds the Scout API only through what the server
exported to it. After the notebook, a few more lines in the same kernel expose its state for
checks against the store's manifest read from disk.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.e2e.kernel_channel import CellRun, KernelChannel
from tests.fixtures.lab import LabServer

STATE_MARK = "E2E-STATE "


def code_cells(path: Path) -> list[str]:
    notebook = json.loads(path.read_text())
    return ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"]


class NotebookRun:
    """A fresh kernel started by ``server``; ``run(name)`` executes a notebook's code cells in it
    and ``probe`` evaluates more code there."""

    def __init__(self, server: LabServer):
        self.server = server
        answer = server.api("POST", "api/kernels", json={"name": "python3"})
        assert answer.status_code == 201, answer.text
        self.kernel_id = answer.json()["id"]
        self.channel: KernelChannel | None = None
        self.cells: list[CellRun] = []

    def run(self, name: str) -> NotebookRun:
        self.channel = KernelChannel(self.server.kernel_ws_url(self.kernel_id), self.server.token, timeout=90)
        self.channel.wait_ready()
        self.cells = [self.channel.execute(code) for code in code_cells(self.server.root / name)]
        return self

    def probe(self, expression: str) -> object:
        """The JSON value of ``expression`` evaluated in the notebook's kernel."""
        run = self.channel.execute(f"import json as _json\nprint({STATE_MARK!r} + _json.dumps({expression}))")
        assert not run.errors and run.reply["status"] == "ok", run.describe()
        line = next(line for line in run.text().splitlines() if line.startswith(STATE_MARK))
        return json.loads(line[len(STATE_MARK) :])

    def cell(self, starts_with: str) -> CellRun:
        return next(run for run in self.cells if run.source.startswith(starts_with))

    def close(self) -> None:
        if self.channel is not None:
            self.channel.close()
        self.server.api("DELETE", f"api/kernels/{self.kernel_id}")


@pytest.fixture
def run_notebook(lab_server) -> Iterator:
    """``run_notebook(name)``: the notebook executed in its own kernel; kernels are shut down after."""
    kernels: list[NotebookRun] = []

    def run(name: str) -> NotebookRun:
        kernels.append(NotebookRun(lab_server))
        return kernels[-1].run(name)

    yield run
    for kernel in kernels:
        kernel.close()


def assert_all_cells_ok(notebook: NotebookRun) -> None:
    assert notebook.cells, "the notebook has no code cells"
    for run in notebook.cells:
        assert run.reply.get("status") == "ok" and not run.errors, run.describe()
        assert "Traceback" not in run.text("stderr"), run.describe()


def test_quickstart_loads_verified_data_through_the_server(lab_server, run_notebook):
    manifest = lab_server.manifest()["datasets"]
    nb = run_notebook("quickstart.ipynb")
    assert_all_cells_ok(nb)

    state = nb.probe(
        '{"rows": len(txn_daily), "scout": txn_daily.attrs["scout"], "url": url,'
        ' "api_url": __import__("os").environ.get("SCOUT_API_URL"),'
        ' "dtypes": {c: str(t) for c, t in txn_daily.dtypes.items()},'
        ' "datasets": sorted(scout.datasets()["id"])}'
    )
    txn = manifest["gold/txn_daily"]
    assert state["api_url"] == lab_server.url  # the kernel found the server through its environment
    assert state["rows"] == txn["row_count"] > 0
    assert state["scout"]["sha256"] == txn["sha256"]
    assert state["scout"]["origin"] == lab_server.url
    assert state["scout"]["date"] == txn["date"]
    assert state["dtypes"]["date_key"].startswith("datetime64")
    assert state["dtypes"]["store_code"] in ("string", "str")  # a string column: leading zeros kept
    assert state["datasets"] == sorted(manifest) and len(manifest) == 9

    loaded = nb.cell("%scout load gold/txn_daily")
    assert f"{txn['row_count']} rows" in loaded.text()
    assert "<table" in loaded.data("text/html") and "store_code" in loaded.data("text/html")
    assert "0001" in loaded.data()  # a store code with its leading zeros, as displayed
    assert "gold/txn_daily: Daily transaction aggregates" in nb.cell("%scout info").text()

    # What a failing cell looks like through this harness, so the checks above can fail.
    failed = nb.channel.execute("1/0")
    assert failed.reply["status"] == "error" and failed.errors[0]["ename"] == "ZeroDivisionError"
    # A user mistake is one line on stderr, not a traceback.
    typo = nb.channel.execute("%scout load gold/txn_dialy")
    assert not typo.errors and "Traceback" not in typo.text("stderr")
    assert typo.text("stderr").strip() == "Dataset not found: gold/txn_dialy (did you mean gold/txn_daily?)"

    # The signed URL the notebook printed works with no Jupyter credentials, for the exact bytes.
    download = requests.get(state["url"], timeout=30)
    assert download.status_code == 200
    assert hashlib.sha256(download.content).hexdigest() == txn["sha256"]


def test_publishing_republishes_unchanged_data_without_uploading(lab_server, run_notebook):
    before = lab_server.manifest()["datasets"]
    nb = run_notebook("publishing.ipynb")
    assert_all_cells_ok(nb)

    # the live publish panel; its text form (kept in the notebook) ends with the job's summary
    progress = nb.cell("%scout publish").data("text/plain")
    assert progress.splitlines()[0].endswith(": succeeded (100%)"), progress
    assert progress.splitlines()[-1] == "Published: 0 uploaded, 2 unchanged, 0 failed", progress
    job = nb.probe("job.to_json()")
    assert job["state"] == "succeeded"
    assert [(d["id"], d["state"], d["bytes_uploaded"]) for d in job["datasets"]] == [
        ("gold/demographics", "succeeded", 0)
    ]
    # The job is the server's: its REST API reports the same outcome.
    status = lab_server.api("GET", f"scout/api/jobs/{job['job_id']}").json()
    assert status["state"] == "succeeded"

    after = lab_server.manifest()["datasets"]
    assert sorted(after) == sorted(before)
    assert {i: e["sha256"] for i, e in after.items()} == {i: e["sha256"] for i, e in before.items()}


def test_access_analytics_reports_the_loads(lab_server, run_notebook):
    nb = run_notebook("access_analytics.ipynb")
    assert_all_cells_ok(nb)

    rows = nb.probe('scout.analytics(days=7).to_dict("records")')
    by_dataset = {row["dataset_id"]: row for row in rows}
    assert {"gold/txn_daily", "gold/product_mix"} <= set(by_dataset), rows
    for dataset in ("gold/txn_daily", "gold/product_mix"):
        assert by_dataset[dataset]["total_requests"] >= 1
        assert by_dataset[dataset]["success_rate_percent"] == 100.0
    assert "gold/txn_daily" in nb.cell("scout.dashboard(days=7)").data("text/plain")


def test_access_log_holds_no_credentials(lab_server):
    """After a signed download, no row of the access log (SQLite in the server's
    Jupyter data dir) contains the server token, a signature parameter or a signed URL."""
    url = lab_server.api("GET", "scout/api/dataset-proxy", params={"dataset": "gold/demographics", "ttl": "60"})
    assert url.status_code == 200, url.text
    signed = url.json()["signed_url"]
    assert requests.get(signed, timeout=30).status_code == 200
    signature = parse_qs(urlsplit(signed).query)["scout_auth"][0]

    log = lab_server.data_dir / "scout" / "access_log.sqlite"
    with closing(sqlite3.connect(f"file:{log}?mode=ro", uri=True)) as db:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        rows = [row for table in tables for row in db.execute(f'SELECT * FROM "{table}"')]
    text = "\n".join(repr(row) for row in rows)
    assert "gold/demographics" in text and "download" in text  # the signed download was logged
    for secret in (lab_server.token, signature, "scout_auth", "/scout/files/"):
        assert secret not in text
