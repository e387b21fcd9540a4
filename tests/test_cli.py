"""The ``scout`` command line through ``main(argv)``: outputs, exit codes, one-line errors."""

from __future__ import annotations

import hashlib
import json
import sqlite3

import pytest
import requests

from scout_jupyter.cli import main
from scout_jupyter.manifest import Manifest, latest_manifest_key
from scout_jupyter.storage.local import LocalStorage

from .test_publish_support import build_small_warehouse, write_small_config


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A small warehouse and config, an empty store folder, a private signing key, cwd = tmp."""
    build_small_warehouse(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SCOUT_SIGNING_KEY_FILE", str(tmp_path / "signing.key"))
    monkeypatch.delenv("SCOUT_STORAGE_URL", raising=False)
    monkeypatch.delenv("SCOUT_PUBLISH_CONFIG", raising=False)
    return {"config": str(write_small_config(tmp_path)), "store": str(tmp_path / "store"), "tmp": tmp_path}


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def published(capsys, env, *extra):
    code, out, err = run(capsys, "publish", "--config", env["config"], "--store", env["store"], "--json", *extra)
    assert code == 0, err
    return json.loads(out)


def store_of(env) -> LocalStorage:
    return LocalStorage((env["tmp"] / "store").as_uri(), signing_key=b"k" * 64)


def test_publish_json_then_republish_uploads_nothing(capsys, env):
    first = published(capsys, env)
    assert first["manifest"] == "/scout/v1/manifests/latest.json"
    assert [d["id"] for d in first["datasets"]] == ["gold/sales", "gold/notes", "platinum/scores"]
    assert all(d["uploaded"] and d["bytes_uploaded"] > 0 and len(d["sha256"]) == 64 for d in first["datasets"])
    manifest_before = store_of(env).read_bytes(latest_manifest_key())
    second = published(capsys, env)
    assert [d["bytes_uploaded"] for d in second["datasets"]] == [0, 0, 0]
    assert [d["sha256"] for d in second["datasets"]] == [d["sha256"] for d in first["datasets"]]
    assert store_of(env).read_bytes(latest_manifest_key()) == manifest_before


def test_publish_human_output_and_dataset_selection(capsys, env):
    code, out, err = run(
        capsys, "publish", "--config", env["config"], "--store", env["store"], "--dataset", "gold/notes"
    )
    assert code == 0 and err == ""
    assert out.splitlines()[0].split()[:2] == ["published", "gold/notes"]
    assert "manifest: file://" in out
    assert list(Manifest.from_bytes(store_of(env).read_bytes(latest_manifest_key())).datasets) == ["gold/notes"]


def test_config_from_environment_and_store_from_environment(capsys, env, monkeypatch):
    monkeypatch.setenv("SCOUT_PUBLISH_CONFIG", env["config"])
    monkeypatch.setenv("SCOUT_STORAGE_URL", (env["tmp"] / "envstore").as_uri())
    code, out, err = run(capsys, "publish", "--json")
    assert code == 0, err
    assert (env["tmp"] / "envstore" / "scout" / "v1" / "manifests" / "latest.json").exists()
    code, out, _ = run(capsys, "ls", "--json")
    assert code == 0 and len(json.loads(out)["datasets"]) == 3


def test_failed_dataset_exits_1_with_one_line(capsys, env):
    with sqlite3.connect(env["tmp"] / "small.sqlite") as db:
        db.execute("DROP TABLE notes")
    code, out, err = run(capsys, "publish", "--config", env["config"], "--store", env["store"], "--json")
    assert code == 1
    document = json.loads(out)  # the JSON document still tells the whole story
    assert [d["state"] for d in document["datasets"]] == ["published", "failed", "published"]
    assert err.count("\n") == 1 and err.startswith("scout: publish failed for 1 of 3 datasets: gold/notes (")
    assert "no such table: notes" in err


def test_ls_and_info(capsys, env):
    published(capsys, env)
    code, out, _ = run(capsys, "ls", "--store", env["store"])
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:2] == ["id", "date"] and len(lines) == 4
    first = lines[1].split()
    assert first[0] == "gold/notes" and first[2] == "4" and first[-1] == "1.0.0"
    code, out, _ = run(capsys, "info", "gold/sales", "--store", env["store"], "--json")
    info = json.loads(out)
    assert code == 0 and info["id"] == "gold/sales" and info["schema"]["fields"][0]["name"] == "date_key"
    assert info["freshness"] in ("fresh", "stale", "overdue")
    code, out, _ = run(capsys, "info", "gold/sales", "--store", env["store"])
    assert "latest_csv" in out and "date_key" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["info", "gold/sale"], "scout: Dataset not found: gold/sale (did you mean gold/sales"),
        (["info", "../etc/passwd"], "scout: Invalid dataset id ../etc/passwd"),
        (
            ["url", "gold/sales", "--ttl", "0"],
            "scout: Invalid TTL 0: expected a whole number of seconds from 1 to 86400\n",
        ),
        (
            ["url", "gold/sales", "--ttl", "86401"],
            "scout: Invalid TTL 86401: expected a whole number of seconds from 1 ",
        ),
        (["url", "gold/sales", "--ttl", "1.5"], "scout: Invalid TTL 1.5: expected a whole number of seconds from 1 "),
        (
            ["url", "gold/sales"],
            "scout: A local store's signed URLs are served by a running Jupyter server with the "
            "scout_jupyter extension (/scout/files/...)",
        ),
    ],
)
def test_user_mistakes_are_one_line(capsys, env, argv, message):
    published(capsys, env)
    code, out, err = run(capsys, *argv, "--store", env["store"])
    assert code == 1 and out == ""
    assert err.startswith(message) and err.count("\n") == 1 and "Traceback" not in err


def test_usage_errors_exit_2_in_one_line(capsys, env):
    code, _, err = run(capsys, "publish", "--bogus")
    assert code == 2 and err.count("\n") == 1 and "unrecognized arguments: --bogus" in err
    code, _, err = run(capsys)
    assert code == 2 and err.count("\n") == 1


def test_missing_manifest_and_missing_demo_warehouse(capsys, env):
    code, _, err = run(capsys, "ls", "--store", env["store"])
    assert code == 1 and err.startswith("scout: No manifest at file://") and "publish first" in err
    assert not (env["tmp"] / "store").exists()  # reading never creates the bucket folder
    code, _, err = run(capsys, "publish", "--store", env["store"])
    assert code == 1 and "run `scout demo` first" in err and err.count("\n") == 1


def test_verify_passes_then_catches_a_changed_file(capsys, env):
    published(capsys, env)
    code, out, _ = run(capsys, "verify", "--store", env["store"])
    assert code == 0 and out.count("ok ") == 3
    manifest = Manifest.from_bytes(store_of(env).read_bytes(latest_manifest_key()))
    path = env["tmp"] / "store" / manifest.get("gold/notes").csv_key
    data = bytearray(path.read_bytes())
    data[-2] ^= 1  # same size, other bytes
    path.write_bytes(bytes(data))
    code, out, err = run(capsys, "verify", "--store", env["store"], "--json")
    report = json.loads(out)
    assert code == 1 and report["ok"] is False
    assert [d["id"] for d in report["datasets"] if not d["ok"]] == ["gold/notes"]
    assert err.startswith("scout: verify failed for 1 of 3 datasets: gold/notes (") and err.count("\n") == 1
    (env["tmp"] / "store" / manifest.get("gold/sales").parquet_key).unlink()
    code, out, err = run(capsys, "verify", "--store", env["store"])
    assert code == 1 and "FAILED  gold/sales: scout/v1/gold/sales/sales_" in out and ".parquet is missing" in out


@pytest.mark.s3
def test_url_prints_an_absolute_url_that_downloads(capsys, env, s3_server, s3_bucket, monkeypatch):
    for name, value in (
        ("AWS_ACCESS_KEY_ID", s3_server.access_key),
        ("AWS_SECRET_ACCESS_KEY", s3_server.secret_key),
        ("AWS_REGION", s3_server.region),
        ("AWS_ENDPOINT_URL_S3", s3_server.endpoint_url),
    ):
        monkeypatch.setenv(name, value)
    store = f"s3://{s3_bucket}/team"
    report = published(capsys, {**env, "store": store})
    sales = next(d for d in report["datasets"] if d["id"] == "gold/sales")
    code, out, err = run(capsys, "url", "gold/sales", "--ttl", "60", "--store", store)
    assert code == 0 and err == "" and out.startswith(s3_server.endpoint_url + f"/{s3_bucket}/team/scout/v1/gold/")
    assert hashlib.sha256(requests.get(out.strip(), timeout=30).content).hexdigest() == sales["sha256"]
    code, out, _ = run(capsys, "url", "gold/sales", "--format", "parquet", "--json", "--store", store)
    assert json.loads(out)["signed_url"].split("?")[0].endswith(".parquet")
    # S3's own cap (7 days) applies in direct mode, in the same words
    code, _, err = run(capsys, "url", "gold/sales", "--ttl", "604801", "--store", store)
    assert code == 1 and err == "scout: Invalid TTL 604801: expected a whole number of seconds from 1 to 604800\n"


def test_url_help_states_the_ttl_rule(capsys):
    assert main(["url", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "a whole number of seconds from 1 to 86400" in text and "max_ttl" in text and "604800" in text


def test_get_verifies_and_writes_atomically(capsys, env):
    published(capsys, env)
    manifest = Manifest.from_bytes(store_of(env).read_bytes(latest_manifest_key()))
    entry = manifest.get("gold/sales")
    target = env["tmp"] / "out" / "sales.csv"
    code, _, err = run(capsys, "get", "gold/sales", "-o", str(target), "--store", env["store"])
    assert code == 0 and "sha256 verified" in err
    assert hashlib.sha256(target.read_bytes()).hexdigest() == entry.sha256
    code, out, _ = run(capsys, "get", "gold/sales", "--store", env["store"])  # default name, in cwd
    assert code == 0 and (env["tmp"] / entry.csv_key.rsplit("/", 1)[1]).read_bytes() == target.read_bytes()
    # a corrupted store file: exit 1, and nothing written (not even a partial file)
    (env["tmp"] / "store" / entry.csv_key).write_bytes(b"tampered")
    other = env["tmp"] / "out" / "other.csv"
    code, _, err = run(capsys, "get", "gold/sales", "-o", str(other), "--store", env["store"])
    assert code == 1 and err.startswith("scout: Checksum validation failed for gold/sales")
    assert not other.exists() and sorted(p.name for p in (env["tmp"] / "out").iterdir()) == ["sales.csv"]


def test_get_to_stdout(capfdbinary, env):
    assert main(["publish", "--config", env["config"], "--store", env["store"], "--json"]) == 0
    capfdbinary.readouterr()
    assert main(["get", "gold/notes", "-o", "-", "--store", env["store"]]) == 0
    out = capfdbinary.readouterr().out
    assert out.startswith(b"id,note,code\n1,plain,007\n")


def test_dataset_selection_takes_several_ids(capsys, env):
    document = published(capsys, env, "--dataset", "gold/notes", "platinum/scores", "--dataset", "gold/notes")
    assert [d["id"] for d in document["datasets"]] == ["gold/notes", "platinum/scores"]
    code, _, err = run(capsys, "publish", "--config", env["config"], "--store", env["store"], "--dataset", "gold/nope")
    assert (
        code == 1
        and err
        == "scout: Dataset gold/nope is not defined in "
        + env["config"]
        + " (defined: gold/sales, gold/notes, platinum/scores)\n"
    )


def test_ls_and_verify_read_an_original_format_manifest_with_a_warning(capsys, env):
    """The original document's manifest has no integrity method and an opaque manifest_sha256
    ("def456..."): the store is listed and verified, with a warning, never refused."""
    published(capsys, env)
    latest = env["tmp"] / "store" / latest_manifest_key()
    doc = json.loads(latest.read_text())
    doc["integrity"] = {"manifest_sha256": "def456...", "total_size_bytes": doc["integrity"]["total_size_bytes"]}
    latest.write_text(json.dumps(doc, indent=2))
    code, out, err = run(capsys, "ls", "--store", env["store"])
    assert code == 0 and "gold/sales" in out
    assert err == (
        "scout: warning: Manifest integrity has no method (original publisher format): "
        "manifest_sha256 was not verified\n"
    )
    code, out, err = run(capsys, "verify", "--store", env["store"])
    assert code == 0 and out.count("ok ") == 3 and "not verified" in err


def test_get_streams_through_the_client_download(capsys, env, monkeypatch):
    from scout_jupyter.client.core import Client

    published(capsys, env)
    calls = []
    real = Client.download
    monkeypatch.setattr(Client, "download", lambda self, *a, **kw: (calls.append((a, kw)), real(self, *a, **kw))[1])
    target = env["tmp"] / "out" / "notes.csv"
    code, _, err = run(capsys, "get", "gold/notes", "-o", str(target), "--store", env["store"])
    assert code == 0 and calls == [(("gold/notes", str(target)), {"fmt": "csv"})]
    assert target.read_bytes().startswith(b"id,note,code\n")
