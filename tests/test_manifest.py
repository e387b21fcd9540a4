"""The manifest model: exact format, validation that names the problem, integrity, freshness."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest

from scout_jupyter.clock import FakeClock, parse_timestamp
from scout_jupyter.errors import DatasetNotFound, InvalidDatasetId, ManifestInvalid
from scout_jupyter.manifest import (
    DatasetEntry,
    Manifest,
    canonical_datasets_bytes,
    dataset_key,
    freshness,
    latest_manifest_key,
    snapshot_manifest_key,
    validate_dataset_id,
)

SHA = hashlib.sha256(b"x").hexdigest()


def entry(dataset_id="gold/txn_daily", **over):
    name = dataset_id.split("/")[1]
    fields = dict(
        id=dataset_id,
        latest_csv=f"/scout/v1/{dataset_id}/{name}_2024-08-10.csv",
        date="2024-08-10",
        row_count=15420,
        sha256=SHA,
        size_bytes=2048576,
        last_modified="2024-08-10T02:15:00.000Z",
        description="Daily transaction aggregates by store and region",
        update_frequency="daily",
        schema={"fields": [{"name": "date_key", "type": "date"}]},
    )
    fields.update(over)
    return DatasetEntry(**fields)


@pytest.fixture
def manifest():
    clock = FakeClock()
    return Manifest.build(
        [entry(), entry("platinum/store_perf", row_count=200, size_bytes=1000, update_frequency="weekly")], clock=clock
    )


def test_written_manifest_reads_back_equal(manifest):
    again = Manifest.from_bytes(manifest.to_bytes())
    assert again == manifest
    assert again.datasets["gold/txn_daily"] == manifest.datasets["gold/txn_daily"]
    assert again.warnings == ()


def test_exact_top_level_format(manifest):
    doc = json.loads(manifest.to_bytes())
    assert list(doc) == ["generated_at", "version", "total_datasets", "datasets", "integrity"]
    assert doc["generated_at"] == "2024-08-10T02:15:00.000Z"
    assert doc["version"] == "1.0.0" and doc["total_datasets"] == 2
    e = doc["datasets"]["gold/txn_daily"]
    for name in [
        "latest_csv",
        "date",
        "row_count",
        "sha256",
        "size_bytes",
        "content_type",
        "schema_version",
        "last_modified",
        "description",
        "update_frequency",
        "schema",
    ]:
        assert name in e
    assert e["content_type"] == "text/csv" and e["schema_version"] == "1.0.0"
    assert "latest_parquet" not in e  # optional fields are omitted, not null
    integrity = doc["integrity"]
    assert integrity["method"] == "canonical-datasets-v1"
    assert integrity["total_size_bytes"] == 2048576 + 1000
    canonical = json.dumps(doc["datasets"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert integrity["manifest_sha256"] == hashlib.sha256(canonical.encode()).hexdigest()


def test_canonical_bytes_are_key_order_independent():
    a = {"b": {"y": 1, "x": "é"}, "a": {}}
    b = {"a": {}, "b": {"x": "é", "y": 1}}
    assert canonical_datasets_bytes(a) == canonical_datasets_bytes(b) == '{"a":{},"b":{"x":"é","y":1}}'.encode()


ORIGINAL = """{
  "generated_at": "2024-08-10T02:15:00.000Z",
  "version": "1.0.0",
  "total_datasets": 1,
  "datasets": {
    "gold/txn_daily": {
      "latest_csv": "/scout/v1/gold/txn_daily/txn_daily_2024-08-10.csv",
      "date": "2024-08-10",
      "row_count": 15420,
      "sha256": "%s",
      "size_bytes": 2048576,
      "content_type": "text/csv",
      "schema_version": "1.0.0",
      "last_modified": "2024-08-10T02:15:00.000Z",
      "description": "Daily transaction aggregates by store and region"
    }
  },
  "integrity": {
    "manifest_sha256": "%s",
    "total_size_bytes": 2048576
  }
}""" % (SHA, hashlib.sha256(b"unknown definition").hexdigest())  # noqa: UP031 (JSON: .format would double every brace)


def test_original_format_reads_with_a_warning(caplog):
    caplog.set_level("WARNING", logger="scout_jupyter.manifest")  # the CLI's tests may have raised it
    m = Manifest.from_bytes(ORIGINAL.encode())
    e = m.get("gold/txn_daily")
    assert e.csv_key == "scout/v1/gold/txn_daily/txn_daily_2024-08-10.csv"
    assert e.update_frequency is None and e.schema is None
    assert e.freshness() == "unknown"
    assert m.warnings and "not verified" in m.warnings[0]
    assert "not verified" in caplog.text
    # Written back, the original fields are kept as they were.
    assert json.loads(m.to_bytes())["datasets"] == json.loads(ORIGINAL)["datasets"]


def test_unknown_fields_survive(manifest):
    doc = json.loads(manifest.to_bytes())
    doc["datasets"]["gold/txn_daily"]["owner"] = "data-eng"
    doc["publisher"] = "v9"
    from scout_jupyter.manifest import compute_integrity

    doc["integrity"] = compute_integrity(doc["datasets"])
    m = Manifest.from_json(doc)
    assert m.get("gold/txn_daily").extra == {"owner": "data-eng"}
    assert json.loads(m.to_bytes()) == doc


def _bad(mutate, manifest):
    doc = json.loads(manifest.to_bytes())
    mutate(doc)
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    "mutate,message",
    [
        (lambda d: d.pop("datasets"), "missing field(s): datasets"),
        (lambda d: d["datasets"]["gold/txn_daily"].pop("sha256"), "missing field(s): sha256"),
        (lambda d: d["datasets"]["gold/txn_daily"].update(sha256="ABC"), "malformed sha256"),
        (lambda d: d["datasets"]["gold/txn_daily"].update(sha256=SHA.upper()), "malformed sha256"),
        (lambda d: d["datasets"]["gold/txn_daily"].update(sha256=SHA + "\n"), "malformed sha256"),
        (lambda d: d["datasets"]["gold/txn_daily"].update(date="2024-08-10\n"), "malformed date"),
        (lambda d: d["datasets"]["gold/txn_daily"].update(schema_version="1.0.0\n"), "malformed schema_version"),
        (lambda d: d["datasets"]["gold/txn_daily"].update(row_count=-1), "row_count must be a non-negative integer"),
        (lambda d: d["datasets"]["gold/txn_daily"].update(row_count=True), "row_count must be a non-negative integer"),
        (lambda d: d["datasets"]["gold/txn_daily"].update(latest_csv="/scout/../../etc/passwd"), "unsafe latest_csv"),
        (lambda d: d["datasets"]["gold/txn_daily"].update(date="10/08/2024"), "malformed date"),
        (lambda d: d["datasets"]["gold/txn_daily"].update(schema_version="1.0"), "malformed schema_version"),
        (lambda d: d["datasets"]["gold/txn_daily"].update(update_frequency="yearly"), "unknown update_frequency"),
        (lambda d: d["datasets"]["gold/txn_daily"].update(last_modified="yesterday"), "malformed last_modified"),
        (lambda d: d["datasets"].update({"silver/x": d["datasets"]["gold/txn_daily"]}), "invalid dataset id"),
        (lambda d: d.update(total_datasets=9), "total_datasets (9) does not match"),
        (lambda d: d["datasets"]["gold/txn_daily"].update(row_count=1), "manifest_sha256 does not match"),
        (lambda d: d["integrity"].update(manifest_sha256="00"), "malformed manifest_sha256"),
        (lambda d: d["integrity"].update(total_size_bytes=5), "total_size_bytes is 5"),
        (lambda d: d["integrity"].update(method="md5-v0"), "method md5-v0 is unknown"),
    ],
)
def test_invalid_manifests_name_the_problem(manifest, mutate, message):
    with pytest.raises(ManifestInvalid) as info:
        Manifest.from_bytes(_bad(mutate, manifest))
    assert message in str(info.value)
    assert info.value.code == "manifest_invalid"


def test_truncated_json(manifest):
    with pytest.raises(ManifestInvalid, match="not valid JSON"):
        Manifest.from_bytes(manifest.to_bytes()[:-40])


def test_a_refusal_names_the_file_and_says_where_in_it(manifest):
    text = manifest.to_bytes().decode()
    cut = text[: text.index('"description"') + 20]  # inside a string value
    source = "s3://bucket/team/scout/v1/manifests/latest.json"
    with pytest.raises(ManifestInvalid) as info:
        Manifest.from_bytes(cut.encode(), source=source)
    line = cut.count("\n") + 1
    assert str(info.value) == (
        f"Manifest is not valid JSON: Unterminated string starting at (line {line}, "
        f"column {len(cut.splitlines()[-1]) - 4}) (in {source})"
    )


@pytest.mark.parametrize("opaque", ["def456...", "00", "", 42])
def test_original_format_with_an_opaque_manifest_sha256_warns_and_reads(opaque, caplog):
    """The original document's own example has ``"manifest_sha256": "def456..."``: without
    ``integrity.method`` that hash follows no known definition, so it is never a reason to refuse."""
    doc = json.loads(ORIGINAL)
    doc["integrity"] = {"manifest_sha256": opaque, "total_size_bytes": 18432000}
    m = Manifest.from_json(doc)
    assert m.get("gold/txn_daily").sha256 == SHA  # the datasets' own hashes still verify downloads
    assert m.warnings[0] == (
        "Manifest integrity has no method (original publisher format): manifest_sha256 was not verified"
    )
    assert m.warnings[1] == "Manifest integrity total_size_bytes is 18432000, the datasets add up to 2048576"


def test_duplicate_dataset_ids_in_json(manifest):
    text = manifest.to_bytes().decode()
    block = text[text.index('"gold/txn_daily"') : text.index('"platinum/store_perf"')]
    doubled = text.replace(block, block + block, 1)
    with pytest.raises(ManifestInvalid, match="duplicate key: gold/txn_daily"):
        Manifest.from_bytes(doubled.encode())


def test_duplicate_ids_when_building():
    with pytest.raises(ManifestInvalid, match="Duplicate dataset id"):
        Manifest.build([entry(), entry()])


def test_not_utf8():
    with pytest.raises(ManifestInvalid, match="UTF-8"):
        Manifest.from_bytes(b"\xff\xfe{}")


def test_get_suggests_close_matches(manifest):
    with pytest.raises(DatasetNotFound) as info:
        manifest.get("gold/txn_dialy")
    assert str(info.value) == "Dataset not found: gold/txn_dialy (did you mean gold/txn_daily?)"
    with pytest.raises(DatasetNotFound, match="did you mean platinum/store_perf"):
        manifest.get("gold/store_perf")
    with pytest.raises(InvalidDatasetId):
        manifest.get("../etc/passwd")


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "gold",
        "gold/",
        "silver/x",
        "gold/Txn",
        "gold/a-b",
        "gold/../x",
        "gold/x/y",
        "gold/" + "a" * 65,
        "gold/txn\u200f",
        "gold/txn\r\n",
        "gold/caf\u0065\u0301",
        "x" * 10_000,
        None,
        5,
    ],
)
def test_validate_dataset_id_rejects(bad):
    with pytest.raises(InvalidDatasetId) as info:
        validate_dataset_id(bad)
    assert "\r" not in info.value.message and "\n" not in info.value.message
    assert len(info.value.message) < 300


def test_with_entries_replaces_and_recomputes_integrity(manifest):
    clock = FakeClock()
    clock.advance(3600)
    newer = manifest.with_entries([entry(row_count=1)], clock=clock)
    assert newer.get("gold/txn_daily").row_count == 1
    assert newer.manifest_sha256 != manifest.manifest_sha256
    assert Manifest.from_bytes(newer.to_bytes()) == newer
    assert newer.generated_at == "2024-08-10T03:15:00.000Z"


def test_keys():
    assert dataset_key("gold/txn_daily", "2024-08-10") == "scout/v1/gold/txn_daily/txn_daily_2024-08-10.csv"
    assert (
        dataset_key("platinum/x", "2024-08-10", "parquet", namespace="scout/v2")
        == "scout/v2/platinum/x/x_2024-08-10.parquet"
    )
    assert latest_manifest_key() == "scout/v1/manifests/latest.json"
    snapshot = snapshot_manifest_key(parse_timestamp("2024-08-10T02:15:00Z"))
    assert snapshot == "scout/v1/manifests/2024-08-10T021500Z.json"


@pytest.mark.parametrize(
    "frequency,age,state",
    [
        ("daily", timedelta(hours=36), "fresh"),
        ("daily", timedelta(hours=36, seconds=1), "stale"),
        ("daily", timedelta(hours=72), "stale"),
        ("daily", timedelta(hours=72, seconds=1), "overdue"),
        ("hourly", timedelta(minutes=89), "fresh"),
        ("weekly", timedelta(days=10), "fresh"),
        ("weekly", timedelta(days=20), "stale"),
        ("monthly", timedelta(days=91), "overdue"),
        (None, timedelta(0), "unknown"),
        ("fortnightly", timedelta(0), "unknown"),
    ],
)
def test_freshness(frequency, age, state):
    clock = FakeClock()
    modified = clock.now()
    clock.advance(age)
    assert freshness(modified, frequency, clock.now()) == state
    assert freshness("2024-08-10T02:15:00.000Z", frequency, clock.now()) == state


def test_freshness_without_timestamp():
    assert freshness(None, "daily") == "unknown"
    assert freshness("garbage", "daily") == "unknown"


def test_snapshots_newest_first_orders_same_second_publishes_and_skips_other_files():
    from scout_jupyter.manifest import snapshot_order, snapshots_newest_first

    keys = [
        "scout/v1/manifests/latest.json",
        "scout/v1/manifests/.publish.lock",
        "scout/v1/manifests/.publish.lock.break-1",
        "scout/v1/manifests/2024-08-10T021500Z.json",
        "scout/v1/manifests/2024-08-10T021500Z.2.json",
        "scout/v1/manifests/2024-08-10T021500Z.10.json",
        "scout/v1/manifests/2024-08-09T235959Z.json",
        "scout/v1/manifests/2024-08-10T021500Z.1.json",
        "scout/v1/manifests/2024-08-10T021500Z.json.tmp",
    ]
    assert snapshots_newest_first(keys) == [
        "scout/v1/manifests/2024-08-10T021500Z.10.json",
        "scout/v1/manifests/2024-08-10T021500Z.2.json",
        "scout/v1/manifests/2024-08-10T021500Z.json",
        "scout/v1/manifests/2024-08-09T235959Z.json",
    ]
    assert snapshot_order("latest.json") is None
