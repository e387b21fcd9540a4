"""Publishing new versions into a test store without the publisher (manifest written last)."""

from __future__ import annotations

import hashlib
import io
from dataclasses import replace

import pyarrow.csv as pv
import pyarrow.parquet as pq

from scout_jupyter.clock import FakeClock, isoformat_z
from scout_jupyter.manifest import Manifest, dataset_key, latest_manifest_key, snapshot_manifest_key
from scout_jupyter.schema import TableSchema, arrow_schema


def write_manifest(storage, manifest: Manifest, clock: FakeClock) -> None:
    storage.write(snapshot_manifest_key(clock.now()), manifest.to_bytes())
    storage.write(latest_manifest_key(), manifest.to_bytes())


def current_manifest(storage) -> Manifest:
    return Manifest.from_bytes(storage.read_bytes(latest_manifest_key()))


def republish(storage, dataset_id: str, csv_text: str, date: str, clock: FakeClock) -> Manifest:
    """A new dated version of one dataset (same schema), a snapshot and latest.json."""
    clock.advance(3600)
    data = csv_text.encode("utf-8")
    key = dataset_key(dataset_id, date)
    storage.write(key, data)
    manifest = current_manifest(storage)
    entry = replace(
        manifest.get(dataset_id),
        latest_csv="/" + key,
        date=date,
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        row_count=csv_text.count("\n") - 1,
        last_modified=isoformat_z(clock.now()),
        latest_parquet=None,
        parquet_sha256=None,
        parquet_size_bytes=None,
    )
    manifest = manifest.with_entries([entry], clock=clock)
    write_manifest(storage, manifest, clock)
    return manifest


def add_parquet_copies(storage, clock: FakeClock) -> Manifest:
    """Write the Parquet copy of every dataset (from its CSV) and point the manifest at them."""
    manifest = current_manifest(storage)
    entries = []
    for entry in manifest:
        schema = TableSchema.from_json(entry.schema)
        table = pv.read_csv(
            io.BytesIO(storage.read_bytes(entry.csv_key)),
            convert_options=pv.ConvertOptions(column_types=arrow_schema(schema)),
        )
        sink = io.BytesIO()
        pq.write_table(table.cast(arrow_schema(schema)), sink)
        data = sink.getvalue()
        key = dataset_key(entry.id, entry.date, "parquet")
        storage.write(key, data)
        entries.append(
            replace(
                entry,
                latest_parquet="/" + key,
                parquet_sha256=hashlib.sha256(data).hexdigest(),
                parquet_size_bytes=len(data),
            )
        )
    manifest = manifest.with_entries(entries, clock=clock)
    write_manifest(storage, manifest, clock)
    return manifest


def flip_byte(storage, key: str, offset: int = -2) -> None:
    """Corrupt a stored file in place (same size, other bytes)."""
    path = storage.path_for(key)
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))
