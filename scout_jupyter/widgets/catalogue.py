"""The browser's rows, built from the client's catalogue, and the filter/sort rules the view
applies (``browser.js`` implements the same rules; the tests hold both to them)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import format as fmt
from .format import ATTENTION

#: sortable columns → the row key sorted on
SORT_KEYS = {
    "id": "id",
    "description": "description",
    "date": "date",
    "rows": "rows",
    "size": "size",
    "schema_version": "schema_version",
    "modified": "modified",
    "cached": "cached",
    "freshness": "freshness_rank",
}
FRESHNESS_RANK = {"overdue": 0, "stale": 1, "unknown": 2, "fresh": 3}


def catalogue_rows(client: Any) -> list[dict[str, Any]]:
    """One JSON-ready dict per dataset: raw values for sorting, texts for showing."""
    table = client.datasets()
    manifest = client.manifest()
    now = client.clock.now()
    rows = []
    for record in table.to_dict("records"):
        entry = manifest.get(record["id"])
        modified = record["last_modified"]
        state = record["freshness"]
        rows.append(
            {
                "id": record["id"],
                "layer": record["layer"],
                "name": record["name"],
                "description": record["description"] or "",
                "date": record["date"],
                "rows": int(record["row_count"]),
                "rows_text": fmt.human_count(record["row_count"]),
                "size": int(record["size_bytes"]),
                "size_text": fmt.human_bytes(record["size_bytes"]),
                "schema_version": record["schema_version"],
                "modified": modified or "",
                "modified_text": fmt.age(modified, now),
                "modified_title": fmt.absolute(modified),
                "frequency": record["update_frequency"] or "",
                "cached": bool(client.is_cached(entry)),
                "freshness": state,
                "freshness_rank": FRESHNESS_RANK.get(state, 2),
                "freshness_words": fmt.freshness_words(state, modified, record["update_frequency"], now),
            }
        )
    return rows


def matches(row: dict[str, Any], query: str, layer: str, attention: bool) -> bool:
    """Text over id and description (case-insensitive, every word must match), the layer, and
    "needs attention" (stale, overdue or unknown)."""
    if layer and row["layer"] != layer:
        return False
    if attention and row["freshness"] not in ATTENTION:
        return False
    haystack = f"{row['id']} {row['description']}".lower()
    return all(word in haystack for word in query.lower().split())


def visible(
    rows: Iterable[dict[str, Any]],
    query: str = "",
    layer: str = "",
    attention: bool = False,
    sort_by: str = "id",
    descending: bool = False,
) -> list[dict[str, Any]]:
    key = SORT_KEYS.get(sort_by, "id")
    shown = [r for r in rows if matches(r, query, layer, attention)]
    shown.sort(key=lambda r: r["id"])  # ties in the sort column keep id order, as in the view
    shown.sort(key=lambda r: (r[key] is None, r[key]), reverse=descending)
    return shown
