"""The publish pipeline on a small warehouse and a local store: files, manifest, versions, keys."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import timedelta

import pytest

from scout_jupyter.clock import FakeClock
from scout_jupyter.csvio import read_csv, read_parquet
from scout_jupyter.errors import ConfigError
from scout_jupyter.manifest import Manifest, latest_manifest_key
from scout_jupyter.publish import ProgressTracker, load_config, publish
from scout_jupyter.publish.job import next_schema_version
from scout_jupyter.schema import TableSchema
from scout_jupyter.storage.local import LocalStorage

from .test_publish_support import WrappedStorage, build_small_warehouse, make_backend, write_small_config

IDS = ["gold/sales", "gold/notes", "platinum/scores"]


@pytest.fixture
def warehouse(tmp_path):
    build_small_warehouse(tmp_path)
    return tmp_path


@pytest.fixture
def config(warehouse):
    return load_config(write_small_config(warehouse))


@pytest.fixture
def storage(tmp_path, fake_clock):
    return LocalStorage((tmp_path / "bucket").as_uri(), clock=fake_clock, signing_key=b"k" * 64)


def manifest_of(storage, namespace="scout/v1") -> Manifest:
    return Manifest.from_bytes(storage.read_bytes(latest_manifest_key(namespace)))


def assert_store_matches(storage, manifest: Manifest) -> None:
    """Every file the manifest names exists with its size and sha256."""
    for entry in manifest:
        data = storage.read_bytes(entry.csv_key)
        assert (len(data), hashlib.sha256(data).hexdigest()) == (entry.size_bytes, entry.sha256), entry.id
        parquet = storage.read_bytes(entry.parquet_key)
        assert (len(parquet), hashlib.sha256(parquet).hexdigest()) == (
            entry.parquet_size_bytes,
            entry.parquet_sha256,
        ), entry.id


def test_first_publish_writes_files_manifest_and_snapshot(config, storage, fake_clock):
    events = []
    result = publish(config, storage, clock=fake_clock, on_progress=events.append)
    assert result.ok and [d.state for d in result.datasets] == ["published"] * 3
    manifest = manifest_of(storage)
    assert sorted(manifest.datasets) == sorted(IDS) and manifest.warnings == ()
    assert_store_matches(storage, manifest)
    sales = manifest.get("gold/sales")
    assert sales.latest_csv == "/scout/v1/gold/sales/sales_2024-08-10.csv"
    assert sales.latest_parquet == "/scout/v1/gold/sales/sales_2024-08-10.parquet"
    assert (sales.date, sales.schema_version, sales.update_frequency) == ("2024-08-10", "1.0.0", "daily")
    assert sales.last_modified == "2024-08-10T02:15:00.000Z"
    with sqlite3.connect(config.source_url.removeprefix("sqlite:///")) as db:
        (groups,) = db.execute("SELECT COUNT(*) FROM (SELECT 1 FROM sales GROUP BY day, store)").fetchone()
    assert sales.row_count == groups == result.dataset("gold/sales").row_count
    assert sales.schema == {
        "fields": [
            {"name": "date_key", "type": "date"},
            {"name": "store", "type": "string"},
            {"name": "revenue", "type": "number"},
            {"name": "lines", "type": "integer"},
        ]
    }
    schema = TableSchema.from_json(sales.schema)
    from_csv = read_csv(storage.read_bytes(sales.csv_key), schema)
    assert from_csv.equals(read_parquet(storage.read_bytes(sales.parquet_key), schema))
    assert list(from_csv["store"][:2]) == ["0000", "0001"]  # leading zeros kept
    # the snapshot of this publish holds the same manifest
    assert storage.read_bytes("scout/v1/manifests/2024-08-10T021500Z.json") == storage.read_bytes(latest_manifest_key())
    assert result.snapshots == ("/scout/v1/manifests/2024-08-10T021500Z.json",)
    assert not storage.exists("scout/v1/manifests/.publish.lock")
    # events: every dataset exported, uploaded, verified; the manifest once, last
    steps = [(e.dataset, e.step, e.state) for e in events if e.state != "progress"]
    assert steps[-2:] == [(None, "manifest", "started"), (None, "manifest", "done")]
    for dataset_id in IDS:
        mine = [s[1:] for s in steps if s[0] == dataset_id]
        assert mine[0] == ("export", "started") and ("export", "done") in mine and mine[-1] == ("verify", "done")


def test_result_json_has_the_cli_shape(config, storage, fake_clock):
    document = publish(config, storage, clock=fake_clock).to_json()
    assert set(document) == {"manifest", "datasets"}
    assert document["manifest"] == "/scout/v1/manifests/latest.json"
    first = document["datasets"][0]
    assert set(first) == {"id", "uploaded", "bytes_uploaded", "row_count", "sha256", "state"}
    assert first["uploaded"] is True and first["bytes_uploaded"] > 0 and len(first["sha256"]) == 64


def test_second_publish_uploads_nothing_and_leaves_the_manifest_alone(config, storage, fake_clock):
    publish(config, storage, clock=fake_clock)
    before = storage.read_bytes(latest_manifest_key())
    fake_clock.advance(timedelta(days=1, hours=1))  # even on another day: same data, same entries
    watched = WrappedStorage(storage)
    result = publish(config, watched, clock=fake_clock)
    assert [(d.state, d.uploaded, d.bytes_uploaded) for d in result.datasets] == [("unchanged", False, 0)] * 3
    assert not result.manifest_changed and result.snapshots == ()
    assert storage.read_bytes(latest_manifest_key()) == before
    assert [k for k in watched.writes() if not k.endswith(".publish.lock")] == []


def test_same_day_republish_with_changed_data_takes_a_new_revision(config, storage, fake_clock, warehouse):
    publish(config, storage, clock=fake_clock)
    first = manifest_of(storage).get("gold/sales")
    old_bytes = storage.read_bytes(first.csv_key)
    with sqlite3.connect(warehouse / "small.sqlite") as db:
        db.execute("UPDATE sales SET amount = amount + 1 WHERE store = '0003'")
    fake_clock.advance(60)
    result = publish(config, storage, clock=fake_clock)
    assert result.dataset("gold/sales").state == "published"
    assert result.dataset("gold/notes").state == "unchanged"
    second = manifest_of(storage).get("gold/sales")
    assert second.latest_csv == "/scout/v1/gold/sales/sales_2024-08-10.r2.csv"
    assert second.latest_parquet == "/scout/v1/gold/sales/sales_2024-08-10.r2.parquet"
    assert second.schema_version == "1.0.1" and second.date == "2024-08-10"
    assert storage.read_bytes(first.csv_key) == old_bytes  # data files are immutable
    assert_store_matches(storage, manifest_of(storage))
    # and the old snapshot still describes the old file
    old = Manifest.from_bytes(storage.read_bytes("scout/v1/manifests/2024-08-10T021500Z.json"))
    assert old.get("gold/sales") == first


def test_schema_versions_bump_minor_and_major(config, storage, fake_clock, warehouse, tmp_path):
    publish(config, storage, clock=fake_clock)
    text = (warehouse / "datasets.toml").read_text()
    steps = [
        ("SELECT id, note, code FROM notes", "SELECT id, note, code, 1 AS extra FROM notes", "1.1.0"),
        ("SELECT id, note, code, 1 AS extra FROM notes", "SELECT id, note, 1 AS extra FROM notes", "2.0.0"),
        ("SELECT id, note, 1 AS extra FROM notes", "SELECT id, note, 'x' AS extra FROM notes", "3.0.0"),
    ]
    for old, new, expected in steps:
        text = text.replace(old, new)
        (warehouse / "datasets.toml").write_text(text)
        fake_clock.advance(1)
        result = publish(load_config(warehouse / "datasets.toml"), storage, clock=fake_clock, datasets=["gold/notes"])
        assert result.dataset("gold/notes").schema_version == expected
        assert manifest_of(storage).get("gold/notes").schema_version == expected
    assert sorted(manifest_of(storage).datasets) == sorted(IDS)  # a subset publish keeps the others


def test_next_schema_version_rules():
    old = TableSchema.of({"a": "integer", "b": "string"})
    from scout_jupyter.manifest import DatasetEntry

    entry = DatasetEntry(
        id="gold/x",
        latest_csv="/x.csv",
        date="2024-08-10",
        row_count=1,
        sha256="0" * 64,
        size_bytes=1,
        last_modified="2024-08-10T00:00:00.000Z",
        schema_version="1.4.2",
        schema=old.to_json(),
    )
    assert next_schema_version(None, old) == "1.0.0"
    assert next_schema_version(entry, old) == "1.4.3"
    assert next_schema_version(entry, TableSchema.of({"a": "integer", "b": "string", "c": "date"})) == "1.5.0"
    assert next_schema_version(entry, TableSchema.of({"a": "integer"})) == "2.0.0"
    assert next_schema_version(entry, TableSchema.of({"a": "number", "b": "string"})) == "2.0.0"


@pytest.mark.parametrize("kind", ["local", pytest.param("s3", marks=pytest.mark.s3)])
@pytest.mark.parametrize("guard", [False, True])
def test_guard_csv_formulas(warehouse, request, tmp_path, fake_clock, guard, kind):
    """RELIABILITY.md row 27: off by default (values untouched); on: a leading ' on risky strings only."""
    storage = make_backend(kind, request, tmp_path, fake_clock).storage
    config = load_config(write_small_config(warehouse, guard=guard))
    publish(config, storage, clock=fake_clock, datasets=["gold/notes"])
    entry = manifest_of(storage).get("gold/notes")
    lines = storage.read_bytes(entry.csv_key).decode().splitlines()
    if guard:
        assert lines[2] == '2,"\'=HYPERLINK(""http://x"")",010' and lines[3] == "3,'-5 is text,"
    else:
        assert lines[2] == '2,"=HYPERLINK(""http://x"")",010' and lines[3] == "3,-5 is text,"
    assert lines[1] == "1,plain,007"  # numbers and plain text never touched
    frame = read_parquet(storage.read_bytes(entry.parquet_key), TableSchema.from_json(entry.schema))
    assert frame["note"][1] == ("'" if guard else "") + '=HYPERLINK("http://x")'


def test_dual_publication_writes_both_namespaces(warehouse, storage, fake_clock):
    config = load_config(write_small_config(warehouse, namespaces=["scout/v1", "scout/v2"]))
    result = publish(config, storage, clock=fake_clock)
    v1, v2 = manifest_of(storage, "scout/v1"), manifest_of(storage, "scout/v2")
    assert sorted(v1.datasets) == sorted(v2.datasets) == sorted(IDS)
    assert v2.get("gold/sales").latest_csv == "/scout/v2/gold/sales/sales_2024-08-10.csv"
    assert v1.get("gold/sales").sha256 == v2.get("gold/sales").sha256
    assert_store_matches(storage, v1)
    assert_store_matches(storage, v2)
    sales = result.dataset("gold/sales")
    assert sales.bytes_uploaded == 2 * (v1.get("gold/sales").size_bytes + v1.get("gold/sales").parquet_size_bytes)
    assert len(result.snapshots) == 2
    again = publish(config, storage, clock=fake_clock)
    assert again.bytes_uploaded == 0 and not again.manifest_changed


def test_failing_dataset_keeps_its_previous_entry_and_the_others_publish(config, storage, fake_clock, warehouse):
    publish(config, storage, clock=fake_clock)
    before = manifest_of(storage)
    with sqlite3.connect(warehouse / "small.sqlite") as db:
        db.execute("DROP TABLE notes")
        db.execute("UPDATE sales SET amount = amount * 2")
    fake_clock.advance(3600)
    events = []
    result = publish(config, storage, clock=fake_clock, on_progress=events.append)
    notes = result.dataset("gold/notes")
    assert notes.state == "failed" and "no such table: notes" in notes.error and not result.ok
    assert result.dataset("gold/sales").state == "published"
    after = manifest_of(storage)
    assert after.get("gold/notes") == before.get("gold/notes")
    assert after.get("gold/sales").sha256 != before.get("gold/sales").sha256
    assert_store_matches(storage, after)
    failed = [e for e in events if e.state == "failed"]
    assert [(e.dataset, e.step) for e in failed] == [("gold/notes", "export")]
    assert "1 failed" in result.summary() and "gold/notes: database error" in result.summary()


def test_a_new_dataset_that_fails_is_left_out(warehouse, storage, fake_clock):
    with sqlite3.connect(warehouse / "small.sqlite") as db:
        db.execute("DROP TABLE notes")
    result = publish(load_config(write_small_config(warehouse)), storage, clock=fake_clock)
    assert result.dataset("gold/notes").state == "failed"
    assert sorted(manifest_of(storage).datasets) == ["gold/sales", "platinum/scores"]


def test_missing_previous_file_is_uploaded_again(config, storage, fake_clock):
    publish(config, storage, clock=fake_clock)
    entry = manifest_of(storage).get("gold/sales")
    storage.delete(entry.csv_key)
    fake_clock.advance(timedelta(days=1))
    result = publish(config, storage, clock=fake_clock)
    healed = manifest_of(storage).get("gold/sales")
    assert result.dataset("gold/sales").uploaded and healed.latest_csv.endswith("sales_2024-08-11.csv")
    assert healed.sha256 == entry.sha256
    assert_store_matches(storage, manifest_of(storage))


def test_damaged_latest_json_publishes_on_top_of_the_newest_snapshot(config, storage, fake_clock):
    publish(config, storage, clock=fake_clock)
    good = manifest_of(storage)
    storage.write(latest_manifest_key(), b'{"truncated": ')
    fake_clock.advance(60)
    result = publish(config, storage, clock=fake_clock, datasets=["gold/sales"])
    assert result.dataset("gold/sales").state == "unchanged"
    assert not result.manifest_changed  # nothing changed relative to the snapshot...
    config2 = load_config(write_small_config(config.path.parent, chunk_size=7))
    with sqlite3.connect(config.path.parent / "small.sqlite") as db:
        db.execute("UPDATE sales SET amount = 1")
    result = publish(config2, storage, clock=fake_clock, datasets=["gold/sales"])
    repaired = manifest_of(storage)  # ...and the next change writes a valid latest.json again
    assert sorted(repaired.datasets) == sorted(good.datasets)
    assert repaired.get("gold/notes") == good.get("gold/notes")


def test_chunked_export_gives_the_same_bytes_as_one_chunk(warehouse, tmp_path):
    shas = []
    for chunk_size in (7, 100_000):
        store = LocalStorage((tmp_path / f"b{chunk_size}").as_uri(), signing_key=b"k" * 64)
        config = load_config(write_small_config(warehouse, chunk_size=chunk_size))
        shas.append([d.sha256 for d in publish(config, store, clock=FakeClock()).datasets])
    assert shas[0] == shas[1]


def test_progress_tracker_folds_events_into_job_status(config, storage, fake_clock):
    tracker = ProgressTracker(IDS)
    assert tracker.progress == 0.0 and {d["state"] for d in tracker.datasets()} == {"queued"}
    publish(config, storage, clock=fake_clock, on_progress=tracker)
    rows = tracker.datasets()
    assert tracker.progress == 1.0
    assert [r["state"] for r in rows] == ["succeeded"] * 3 and all(r["bytes_uploaded"] > 0 for r in rows)


def test_a_broken_progress_callback_does_not_break_the_publish(config, storage, fake_clock):
    def explode(event):
        raise RuntimeError("widget gone")

    assert publish(config, storage, clock=fake_clock, on_progress=explode).ok


def test_source_errors_are_config_errors(config, storage, fake_clock, tmp_path):
    with pytest.raises(ConfigError, match="Source database not found"):
        publish(config.with_source(f"sqlite:///{tmp_path / 'nope.sqlite'}"), storage, clock=fake_clock)
    with pytest.raises(ConfigError, match="gold/nope is not defined"):
        publish(config, storage, clock=fake_clock, datasets=["gold/nope"])
    assert not storage.exists(latest_manifest_key())


def test_unchanged_sqlite_source_is_not_queried_again(config, storage, fake_clock, monkeypatch):
    first = publish(config, storage, clock=fake_clock)
    entry = manifest_of(storage).get("gold/sales")
    assert entry.extra == {}  # the manifest carries no publisher bookkeeping
    state = json.loads(storage.read_bytes("scout/v1/.publish/state.json"))["datasets"]
    assert sorted(state) == sorted(IDS) and state["gold/sales"]["sha256"] == entry.sha256
    from scout_jupyter.publish import job

    calls = []
    monkeypatch.setattr(job, "export_dataset", lambda *a, **k: calls.append(a) or pytest.fail("exported"))
    events = []
    again = publish(config, storage, clock=fake_clock, on_progress=events.append)
    assert calls == [] and again.bytes_uploaded == 0 and not again.manifest_changed
    assert [(d.state, d.row_count, d.sha256) for d in again.datasets] == [
        ("unchanged", d.row_count, d.sha256) for d in first.datasets
    ]
    assert {(e.step, e.state) for e in events if e.dataset} == {
        ("export", "skipped"),
        ("upload", "skipped"),
        ("verify", "skipped"),
    }
    monkeypatch.undo()
    forced = publish(config, storage, clock=fake_clock, force=True)  # runs the queries; still uploads nothing
    assert forced.bytes_uploaded == 0 and [d.state for d in forced.datasets] == ["unchanged"] * 3
    assert manifest_of(storage).get("gold/sales") == entry


def test_tqdm_reporter_draws_bars_when_enabled_and_nothing_when_not(config, storage, fake_clock):
    import io

    from scout_jupyter.publish import TqdmReporter

    shown, hidden = io.StringIO(), io.StringIO()
    with TqdmReporter(3, file=shown, disable=False) as bars, TqdmReporter(3, file=hidden) as quiet:
        publish(config, storage, clock=fake_clock, on_progress=lambda e: (bars(e), quiet(e)))
    assert "publish: 100%" in shown.getvalue() and "3/3" in shown.getvalue()
    assert hidden.getvalue() == ""  # a StringIO is not a terminal


def test_an_unrelated_source_change_re_exports_once_then_skips_again(config, storage, fake_clock, warehouse):
    publish(config, storage, clock=fake_clock)
    before = storage.read_bytes(latest_manifest_key())
    with sqlite3.connect(warehouse / "small.sqlite") as db:
        db.execute("CREATE TABLE unrelated (x)")
    events = []
    publish(config, storage, clock=fake_clock, on_progress=events.append)  # the file changed: queries run
    assert ("gold/notes", "export", "done") in [(e.dataset, e.step, e.state) for e in events]
    assert storage.read_bytes(latest_manifest_key()) == before  # same data: same manifest
    events.clear()
    publish(config, storage, clock=fake_clock, on_progress=events.append)  # and now the state knows
    assert {(e.step, e.state) for e in events if e.dataset} == {
        ("export", "skipped"),
        ("upload", "skipped"),
        ("verify", "skipped"),
    }


def test_a_publisher_whose_lock_was_taken_over_stops_before_the_manifest(config, storage, fake_clock):
    from scout_jupyter.errors import PublishInProgress
    from scout_jupyter.publish.lock import LockInfo, lock_key

    class TakenOver(WrappedStorage):
        done = False

        def write(self, key, data, **kw):
            if key.endswith(".csv") and not self.done:  # meanwhile, another host broke our lock
                self.done = True
                now = "2024-08-10T03:00:00.000Z"
                self.inner.write(lock_key(), LockInfo("intruder", "elsewhere", 1, now, now).to_bytes())
                fake_clock.advance(120)
            return super().write(key, data, **kw)

    with pytest.raises(PublishInProgress, match="taken over"):
        publish(config, TakenOver(storage), clock=fake_clock)
    assert not storage.exists(latest_manifest_key())
    assert LockInfo.from_bytes(storage.read_bytes(lock_key())).owner == "intruder"  # theirs, untouched
