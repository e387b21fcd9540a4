"""Storage backends behind one interface, chosen by the URL scheme.

``open_storage("file:///abs/bucket")``, ``open_storage("s3://bucket/prefix")``,
``open_storage("supabase://bucket")``; a plain folder path means ``file://``.
Backends are imported lazily so that boto3 is only needed for ``s3://``.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import ConfigError
from .base import ObjectInfo, SignedURL, Storage, key_from_manifest_path, normalize_key

__all__ = [
    "ObjectInfo",
    "SignedURL",
    "Storage",
    "open_storage",
    "register_backend",
    "normalize_key",
    "key_from_manifest_path",
    "storage_url_from_arg",
    "DEFAULT_STORE",
]

#: The demo's local bucket, relative to the current directory.
DEFAULT_STORE = os.path.join(".scout", "store", "sample")

_REGISTRY: dict[str, str] = {
    "file": "scout_jupyter.storage.local:LocalStorage",
    "s3": "scout_jupyter.storage.s3:S3Storage",
    "supabase": "scout_jupyter.storage.supabase:SupabaseStorage",
}
_INSTALL_HINT = {"s3": "pip install boto3", "supabase": "pip install requests"}


def register_backend(scheme: str, target: str) -> None:
    """Register ``"module:Class"`` for URLs of ``scheme``."""
    _REGISTRY[scheme] = target


def storage_url_from_arg(value: str | os.PathLike | None) -> str:
    """A storage URL from a CLI/config value: URLs pass through, folder paths become
    ``file://`` URLs of their absolute path; ``None`` means SCOUT_STORAGE_URL, else the demo store."""
    if value is None or value == "":
        value = os.environ.get("SCOUT_STORAGE_URL") or DEFAULT_STORE
    value = os.fspath(value)
    if "://" in value:
        return value
    return Path(value).expanduser().absolute().as_uri()


def open_storage(url: str | os.PathLike, **options) -> Storage:
    """Instantiate the backend for ``url`` (a URL or a folder path)."""
    url = storage_url_from_arg(url)
    scheme = urlsplit(url).scheme
    target = _REGISTRY.get(scheme)
    if target is None:
        known = ", ".join(sorted(f"{s}://" for s in _REGISTRY))
        raise ConfigError(f"Unsupported storage URL scheme {scheme!r} in {url!r} (known: {known})")
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        hint = _INSTALL_HINT.get(scheme, "")
        raise ConfigError(f"The {scheme}:// backend needs a missing package ({exc.name}). {hint}") from exc
    return getattr(module, class_name)(url, **options)
