"""What a publish reports: one :class:`DatasetResult` per dataset, in a :class:`PublishResult`.

``PublishResult.to_json()`` is the document of DESIGN.md's CLI section (``scout publish --json``):
``{"manifest": path, "datasets": [{"id", "uploaded", "bytes_uploaded", "row_count", "sha256",
"state", "error"?}]}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: ``published``: a new entry is in the manifest; ``unchanged``: same data, entry kept as is;
#: ``failed``: the manifest keeps the previous entry (or has none), ``error`` says why.
DATASET_STATES = ("published", "unchanged", "failed")


@dataclass(frozen=True)
class DatasetResult:
    id: str
    state: str
    uploaded: bool = False
    bytes_uploaded: int = 0
    row_count: int | None = None
    sha256: str | None = None
    schema_version: str | None = None
    latest_csv: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.state != "failed"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "uploaded": self.uploaded,
            "bytes_uploaded": self.bytes_uploaded,
            "row_count": self.row_count,
            "sha256": self.sha256,
            "state": self.state,
        }
        if self.error is not None:
            out["error"] = self.error
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> DatasetResult:
        return cls(
            id=obj["id"],
            state=obj.get("state", "failed" if obj.get("error") else "published"),
            uploaded=bool(obj.get("uploaded")),
            bytes_uploaded=int(obj.get("bytes_uploaded") or 0),
            row_count=obj.get("row_count"),
            sha256=obj.get("sha256"),
            error=obj.get("error"),
        )


@dataclass(frozen=True)
class PublishResult:
    manifest: str  # "/scout/v1/manifests/latest.json": path from the bucket root
    datasets: tuple[DatasetResult, ...]
    manifest_changed: bool = False
    snapshots: tuple[str, ...] = ()  # snapshot paths written by this publish (one per namespace)
    generated_at: str | None = None

    @property
    def ok(self) -> bool:
        return all(d.ok for d in self.datasets)

    @property
    def failed(self) -> tuple[DatasetResult, ...]:
        return tuple(d for d in self.datasets if not d.ok)

    @property
    def bytes_uploaded(self) -> int:
        return sum(d.bytes_uploaded for d in self.datasets)

    def dataset(self, dataset_id: str) -> DatasetResult:
        for result in self.datasets:
            if result.id == dataset_id:
                return result
        raise KeyError(dataset_id)

    def summary(self) -> str:
        """One line: what happened (for the CLI, the magic and the server log)."""
        counts = {state: sum(1 for d in self.datasets if d.state == state) for state in DATASET_STATES}
        text = (
            f"{counts['published']} published, {counts['unchanged']} unchanged, {counts['failed']} failed; "
            f"{self.bytes_uploaded} bytes uploaded"
        )
        if self.failed:
            first = self.failed[0]
            text += f"; {first.id}: {first.error}"
        return text

    def to_json(self) -> dict[str, Any]:
        return {"manifest": self.manifest, "datasets": [d.to_json() for d in self.datasets]}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> PublishResult:
        return cls(manifest=obj["manifest"], datasets=tuple(DatasetResult.from_json(d) for d in obj["datasets"]))
