"""``%scout`` in an IPython shell: every subcommand, ``--help``, and each user error as one line."""

from __future__ import annotations

import pandas as pd
import pytest
from IPython.core.error import UsageError
from IPython.testing.globalipapp import get_ipython

from scout_jupyter.magics import ScoutMagics

TXN = "gold/txn_daily"


@pytest.fixture(scope="module")
def shell():
    return get_ipython()


@pytest.fixture
def ip(shell, proxy_client):
    shell.register_magics(ScoutMagics(shell, client_factory=lambda: proxy_client))
    shell.user_ns.pop("txn_daily", None)
    yield shell


def scout(ip, line: str):
    return ip.run_line_magic("scout", line)


def one_line_error(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    return lines[0]


def test_load_binds_the_dataset_name_and_returns_the_frame(ip, capsys):
    df = scout(ip, f"load {TXN}")
    assert ip.user_ns["txn_daily"] is df
    assert df["store_code"].tolist() == ["0042", "0107", "0042"]
    assert "txn_daily = gold/txn_daily (2024-08-10): 3 rows × 5 columns, from download" in capsys.readouterr().out


def test_load_options(ip):
    df = scout(ip, f"load {TXN} --as sample --columns store_code,revenue --limit 2")
    assert ip.user_ns["sample"] is df and "txn_daily" not in ip.user_ns
    assert list(df.columns) == ["store_code", "revenue"] and len(df) == 2
    assert scout(ip, f"load {TXN} --date 2024-08-10 --verify full").shape == (3, 5)


def test_assignment_form(ip):
    ip.run_cell(f"df = %scout load {TXN}")
    assert isinstance(ip.user_ns["df"], pd.DataFrame) and len(ip.user_ns["df"]) == 3


def test_ls_browse_status_return_frames_with_freshness(ip):
    listing = scout(ip, "ls")
    assert listing["id"].tolist() == ["gold/product_mix", "gold/txn_daily", "platinum/store_perf"]
    assert "freshness" in listing.columns
    assert scout(ip, "ls --layer platinum")["id"].tolist() == ["platinum/store_perf"]
    assert set(scout(ip, "browse")["freshness"]) == {"fresh"}
    scout(ip, f"load {TXN}")
    status = scout(ip, "status").set_index("id")
    assert bool(status.loc[TXN, "cached"]) and "freshness" in status.columns


def test_info_prints_the_entry(ip, capsys):
    assert scout(ip, f"info {TXN}") is None
    out = capsys.readouterr().out
    assert out.startswith("gold/txn_daily: Test dataset gold/txn_daily")
    assert "3 rows" in out and "fresh" in out and "store_code (string)" in out


def test_url_returns_a_signed_url(ip, fake_server):
    url = scout(ip, f"url {TXN} --ttl 60")
    assert url.startswith(fake_server.url + "scout/files/scout/v1/gold/txn_daily/") and "scout_auth=" in url


@pytest.mark.parametrize("ttl", ["0", "1.5", "86401", "abc"])
def test_url_states_the_one_ttl_rule(ip, capsys, ttl):
    assert scout(ip, f"url {TXN} --ttl {ttl}") is None
    assert capsys.readouterr().err == f"Invalid TTL {ttl}: expected a whole number of seconds from 1 to 86400\n"


def test_publish_prints_progress(ip, capsys, fake_server):
    assert scout(ip, f"publish {TXN}") is None
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("publish job1: queued") and out[-1] == "publish job1: succeeded (100%); 1 succeeded"
    assert fake_server.published == [[TXN]]


def test_analytics(ip):
    table = scout(ip, "analytics --days 3")
    assert table.loc[0, "dataset"] == TXN and table.loc[0, "days"] == 3


@pytest.mark.parametrize(
    "command",
    [
        "",
        "--help",
        "load --help",
        "ls --help",
        "info --help",
        "url --help",
        "browse --help",
        "status --help",
        "publish --help",
        "analytics --help",
    ],
)
def test_help(ip, capsys, command):
    assert scout(ip, command) is None
    out = capsys.readouterr().out
    assert out.startswith("usage: %scout")


@pytest.mark.parametrize(
    "line,message",
    [
        ("frobnicate", "invalid choice: 'frobnicate'"),
        ("load", "the following arguments are required: dataset"),
        (f"load {TXN} --limit -3", "expected a positive number"),
        (f"load {TXN} --as 2fast", "--as needs a Python variable name"),
        ('load "gold/x', "No closing quotation"),
    ],
)
def test_usage_errors_raise_usage_error(ip, line, message):
    with pytest.raises(UsageError, match=message):
        scout(ip, line)


def test_not_found_with_suggestion(ip, capsys):
    assert scout(ip, "load gold/txn_dialy") is None
    assert one_line_error(capsys) == "Dataset not found: gold/txn_dialy (did you mean gold/txn_daily?)"
    assert "txn_dialy" not in ip.user_ns


def test_rate_limited(ip, capsys, fake_server):
    fake_server.faults.script("dataset-proxy", 429, {"error": "rate_limited", "message": "x"}, {"Retry-After": "42"})
    assert scout(ip, f"load {TXN}") is None
    assert one_line_error(capsys) == "Rate limit exceeded: retry in 42 s"


def test_checksum_failure(ip, capsys, fake_server):
    fake_server.faults.corrupt_downloads = 1
    scout(ip, f"load {TXN}")
    assert one_line_error(capsys).startswith("Checksum validation failed for gold/txn_daily: expected ")


def test_access_denied(ip, capsys, fake_server):
    fake_server.faults.script("dataset-proxy", 403, {"error": "access_denied", "message": "Access denied: not yours"})
    scout(ip, f"url {TXN}")
    assert one_line_error(capsys) == "Access denied: not yours"


def test_server_down(ip, capsys, fake_server):
    fake_server.faults.down = True
    scout(ip, "ls")
    assert one_line_error(capsys) == "Storage unreachable: test (and no cached manifest to work offline)"
    fake_server.__exit__()
    scout(ip, "status")
    assert one_line_error(capsys).startswith("Scout server unreachable at 127.0.0.1:")


def test_publish_in_progress(ip, capsys, fake_server):
    scout(ip, "publish --no-wait")
    assert capsys.readouterr().out.startswith("publish job1: queued")
    scout(ip, "publish")
    assert one_line_error(capsys) == "A publish is already running"


def test_bad_column(ip, capsys):
    scout(ip, f"load {TXN} --columns nope")
    assert one_line_error(capsys).startswith("Unknown column(s): nope (columns: date_key, store_code")


def test_load_ext_registers_the_magic_with_the_default_client(shell, monkeypatch, small_store, tmp_path, capsys):
    monkeypatch.setenv("SCOUT_STORAGE_URL", small_store.url)
    shell.run_line_magic("load_ext", "scout_jupyter")
    df = shell.run_line_magic("scout", "load platinum/store_perf --as perf")
    assert shell.user_ns["perf"] is df and df["store_code"].tolist() == ["0042", "0107"]
