"""Every shipped notebook executes top to bottom with nbclient, in a fresh kernel, against a live
``jupyter lab`` started from a temporary folder (not the repository) over the demo store, and
shows no error output. The checks after each run read the executed cells' outputs."""

from __future__ import annotations

import sys

import pytest

from tests.fixtures.notebooks import NOTEBOOKS, cell_with, execute_notebooks, outputs, problems, text_of

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def executed(lab_server, tmp_path_factory):
    return execute_notebooks(
        sys.executable,
        lab_server.root,
        lab_server.url,
        lab_server.token,
        lab_server.env,
        tmp_path_factory.mktemp("executed"),
    )


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_executes_without_error_output(executed, name):
    entry = executed[name]
    assert entry["cells"] and all(cell["outputs"] is not None for cell in entry["cells"])
    assert problems(entry) == []


def test_the_server_was_started_outside_the_repository(lab_server):
    from tests.fixtures.notebooks import REPO

    assert not lab_server.root.is_relative_to(REPO) and not (lab_server.root / ".scout").exists()


def test_quickstart_charts_revenue_by_region_and_day(executed, lab_server):
    entry = executed["quickstart.ipynb"]
    figures = [
        out["data"]["application/vnd.plotly.v1+json"]
        for out in outputs(entry)
        if "application/vnd.plotly.v1+json" in out.get("data", {})
    ]
    assert len(figures) == 1, "one plotly chart"
    [heatmap] = figures[0]["data"]
    assert heatmap["type"] == "heatmap" and "Revenue by region and day" in figures[0]["layout"]["title"]["text"]
    txn = lab_server.manifest()["datasets"]["gold/txn_daily"]
    regions, days = heatmap["y"], heatmap["x"]
    assert len(regions) == len(set(regions)) >= 2 and len(days) >= 7
    provenance = text_of(cell_with(entry, 'txn_daily.attrs["scout"]'))
    assert txn["sha256"] in provenance and txn["date"] in provenance
    assert "store_code" in text_of(cell_with(entry, "url = scout.signed_url"))  # pandas read the signed URL


def test_publishing_shows_versions_drift_and_an_older_date(executed):
    entry = executed["publishing.ipynb"]
    assert "succeeded (100%)" in text_of(cell_with(entry, "%scout publish"))
    history = text_of(cell_with(entry, "pd.DataFrame(history)"))
    for version in ("1.0.0", "1.0.1", "1.1.0", "2.0.0"):
        assert version in history, history
    drift = text_of(cell_with(entry, "drift = compare_schemas"))
    assert "major" in drift and "revenue" in drift, drift
    older = text_of(cell_with(entry, "older = sandbox_client.load"))
    assert "revenue_php" not in older and "revenue" in older, older
    versions = text_of(cell_with(entry, "latest = sandbox_client.load"))
    assert "'1.0.0'" in versions and "'2.0.0'" in versions and "'revenue_php'" in versions, versions


def test_access_analytics_runs_the_original_queries(executed):
    entry = executed["access_analytics.ipynb"]
    popularity = text_of(cell_with(entry, "popularity"))
    assert "gold/txn_daily" in popularity and "avg_success_rate" in popularity, popularity
    recent = text_of(cell_with(entry, "recent"))
    assert "access_date" in recent and "gold/product_mix" in recent, recent


@pytest.fixture(scope="module")
def lab_server_with_postgres_log(tmp_path_factory, postgres_server):
    """A second ``jupyter lab`` whose access log is a fresh PostgreSQL database."""
    from tests.fixtures.lab import running_lab

    url = postgres_server.url(postgres_server.create_database())
    yield from running_lab(tmp_path_factory, {"SCOUT_ACCESS_LOG_URL": url})


@pytest.mark.postgres
def test_access_analytics_runs_the_original_queries_on_postgresql(lab_server_with_postgres_log, tmp_path):
    server = lab_server_with_postgres_log
    report = execute_notebooks(
        sys.executable,
        server.root,
        server.url,
        server.token,
        server.env,
        tmp_path,
        notebooks=("access_analytics.ipynb",),
    )
    entry = report["access_analytics.ipynb"]
    assert problems(entry) == []
    assert "'postgresql'" in text_of(cell_with(entry, "engine.dialect.name"))
    popularity = text_of(cell_with(entry, "popularity"))
    assert "gold/txn_daily" in popularity and "avg_success_rate" in popularity, popularity
    last_hour = text_of(cell_with(entry, "last_hour"))
    assert "gold/product_mix" in last_hour, last_hour
