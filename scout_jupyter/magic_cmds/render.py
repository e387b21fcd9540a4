"""How ``%scout`` shows things: the one thin place the notebook widgets will take over.

For now catalogue views are DataFrames (the notebook renders them as tables, freshness column
included), and text goes to stdout; errors are one line on stderr.
"""

from __future__ import annotations

import sys
from typing import Any

import pandas as pd


def catalogue(frame: pd.DataFrame) -> pd.DataFrame:
    """``browse``/``ls``: the catalogue table."""
    return frame.reset_index(drop=True)


def status(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.reset_index(drop=True)


def analytics(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.reset_index(drop=True)


def info(details: dict[str, Any]) -> str:
    fields = (details.get("schema") or {}).get("fields") or []
    lines = [
        f"{details['id']}: {details.get('description', '')}",
        f"  date {details['date']}, {details['row_count']} rows, {details['size_bytes']} bytes, "
        f"schema {details['schema_version']}",
        f"  updated {details['last_modified']} ({details.get('update_frequency') or 'no schedule'}): "
        f"{details['freshness']}",
        f"  sha256 {details['sha256']}" + (" (parquet copy too)" if details.get("latest_parquet") else ""),
        f"  cached locally: {'yes' if details.get('cached') else 'no'}",
    ]
    if fields:
        lines.append("  columns: " + ", ".join(f"{f['name']} ({f['type']})" for f in fields))
    return "\n".join(lines)


def loaded(name: str, frame: pd.DataFrame) -> str:
    meta = frame.attrs.get("scout", {})
    return (f"{name} = {meta.get('id', '?')} ({meta.get('date', '?')}): {len(frame)} rows × "
            f"{frame.shape[1]} columns, from {meta.get('source', '?')}")


def say(text: str) -> None:
    print(text)


def error(message: str) -> None:
    """A user-facing problem: one line, no traceback."""
    print(message, file=sys.stderr)
