"""The demo record ``scout demo`` leaves beside a local store, and everything that publishes
without definitions of its own (``scout publish``, the server's publish job) finding it from any
folder."""

from __future__ import annotations

import json

import pytest

from scout_jupyter.cli import main
from scout_jupyter.demo.record import RECORD_KEY, DemoRecord, read_demo_record, recorded_demo_config, write_demo_record
from scout_jupyter.errors import ConfigError
from scout_jupyter.server.jobs import ConfiguredPublisher
from scout_jupyter.storage.local import LocalStorage


@pytest.fixture
def demo_built(tmp_path, monkeypatch, capsys):
    """``scout demo --store <tmp>/store --scale 0.05`` run in ``<tmp>/build``; cwd is then an
    unrelated empty folder ``<tmp>/elsewhere``."""
    monkeypatch.setenv("SCOUT_SIGNING_KEY_FILE", str(tmp_path / "signing.key"))
    for name in ("SCOUT_STORAGE_URL", "SCOUT_PUBLISH_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "build").mkdir()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "build")
    assert main(["demo", "--store", str(tmp_path / "store"), "--scale", "0.05", "--json"]) == 0, capsys.readouterr().err
    capsys.readouterr()
    monkeypatch.chdir(tmp_path / "elsewhere")
    return tmp_path


def storage_at(path) -> LocalStorage:
    return LocalStorage(path.as_uri(), signing_key=b"k" * 64, create=False)


def test_scout_demo_records_its_warehouse_beside_the_store(demo_built):
    store = demo_built / "store"
    record = json.loads((store / RECORD_KEY).read_text())
    assert record["kind"] == "scout-demo" and record["seed"] == 42 and record["scale"] == 0.05
    assert record["warehouse"] == str(demo_built / "build" / ".scout" / "demo" / "warehouse.sqlite")
    assert record["definitions"].endswith("datasets.toml")
    # beside the published namespace, not in it
    assert sorted(p.name for p in store.iterdir()) == ["scout", RECORD_KEY]
    assert not list((store / "scout").rglob(RECORD_KEY))


def test_scout_publish_from_another_folder_uses_the_record(demo_built, capsys):
    assert not (demo_built / "elsewhere" / ".scout").exists()
    code = main(["publish", "--store", str(demo_built / "store"), "--dataset", "gold/demographics", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads(out)
    assert [(d["id"], d["bytes_uploaded"]) for d in report["datasets"]] == [("gold/demographics", 0)]


def test_the_server_publisher_uses_the_record(demo_built, fake_clock):
    storage = storage_at(demo_built / "store")
    # the server's own root holds no warehouse: only the record can tell it where the demo is
    publisher = ConfiguredPublisher(
        None, storage, clock=fake_clock, demo_warehouse=demo_built / "elsewhere" / ".scout/demo/warehouse.sqlite"
    )
    assert publisher.plan(["gold/txn_daily"]) == ["gold/txn_daily"] and len(publisher.plan(None)) == 9
    result = publisher(["platinum/store_perf"], lambda event: None)
    assert result.ok and [d.bytes_uploaded for d in result.datasets] == [0]


def test_without_a_record_the_error_names_where_it_looked(tmp_path, fake_clock):
    storage = storage_at(tmp_path / "store")
    publisher = ConfiguredPublisher(None, storage, clock=fake_clock, demo_warehouse=tmp_path / "none.sqlite")
    with pytest.raises(ConfigError) as caught:
        publisher.plan(None)
    message = caught.value.message
    assert f"no demo record at {storage.url}/{RECORD_KEY}" in message and "none.sqlite" in message
    assert "SCOUT_PUBLISH_CONFIG" in message


def test_a_record_whose_warehouse_is_gone_says_so(demo_built):
    storage = storage_at(demo_built / "store")
    (demo_built / "build" / ".scout" / "demo" / "warehouse.sqlite").unlink()
    with pytest.raises(
        ConfigError,
        match=r"the demo warehouse .*warehouse.sqlite it names is missing; "
        r"run `scout demo` again",
    ):
        recorded_demo_config(storage)


@pytest.mark.parametrize(
    "text, problem",
    [
        ("{not json", "is not valid JSON"),
        ('{"kind": "other"}', "is not a scout demo record"),
        ('{"kind": "scout-demo", "warehouse": "/w.sqlite"}', "is not a valid scout demo record"),
        (
            '{"kind": "scout-demo", "warehouse": "w.sqlite", "definitions": "/d.toml", "seed": 1, "scale": 1}',
            "by absolute paths",
        ),
    ],
)
def test_a_damaged_record_is_a_one_line_config_error(tmp_path, text, problem):
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / RECORD_KEY).write_text(text)
    with pytest.raises(ConfigError, match=problem) as caught:
        read_demo_record(storage_at(tmp_path / "store"))
    assert "\n" not in caught.value.message and RECORD_KEY in caught.value.message


def test_only_local_stores_get_a_record(tmp_path):
    class RemoteStore:  # what the record code looks at: the URL
        url = "s3://team-bucket/scout"

    record = DemoRecord(warehouse="/w.sqlite", definitions="/d.toml", seed=42, scale=1.0)
    assert write_demo_record(RemoteStore(), record) is False
    assert read_demo_record(RemoteStore()) is None
    local = storage_at(tmp_path / "store")
    assert read_demo_record(local) is None
    assert write_demo_record(LocalStorage((tmp_path / "store").as_uri(), signing_key=b"k" * 64), record)
    assert read_demo_record(local) == record
