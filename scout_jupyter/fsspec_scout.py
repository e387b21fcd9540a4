"""``scout://`` for fsspec: ``pd.read_csv("scout://gold/txn_daily")`` in pandas, dask and friends.

Read-only. ``scout://gold/txn_daily`` (or ``….csv``) is the dataset's verified CSV from the
local cache (downloaded first if needed), ``….parquet`` its Parquet copy, ``….arrow`` the typed
copy ``scout.load`` reads (``pd.read_feather("scout://gold/txn_daily.arrow")`` has exactly
``scout.load``'s dtypes: dates parsed, ids with leading zeros kept as strings), and
``scout://gold/txn_daily@2024-08-09`` the version of that day. ``scout://`` lists the layers,
``scout://gold`` the datasets. Storage options ``api_url``/``token`` or ``storage_url`` choose
the server or store; without them the client of :func:`scout_jupyter.connect` (or the
environment) is used.
"""

from __future__ import annotations

import re
from typing import Any

from fsspec.spec import AbstractFileSystem

from .errors import DatasetNotFound, InvalidDatasetId
from .manifest import LAYERS

_PATH_RE = re.compile(
    r"^(?P<id>(?:gold|platinum)/[a-z0-9_]{1,64})(?:@(?P<date>\d{4}-\d{2}-\d{2}))?"
    r"(?:\.(?P<fmt>csv|parquet|arrow))?$"
)


class ScoutFileSystem(AbstractFileSystem):
    protocol = "scout"
    root_marker = ""

    def __init__(
        self,
        api_url: str | None = None,
        token: str | None = None,
        storage_url: str | None = None,
        client: Any = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self._client = client
        self._connect = {"api_url": api_url, "token": token, "storage_url": storage_url}

    @property
    def client(self) -> Any:
        if self._client is None:
            from .client import connect, default_client

            wanted: dict[str, Any] = {k: v for k, v in self._connect.items() if v is not None}
            self._client = connect(**wanted, set_default=False) if wanted else default_client()
        return self._client

    @classmethod
    def _strip_protocol(cls, path: str) -> str:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        path = str(path)
        if path.startswith("scout://"):
            path = path[len("scout://") :]
        return path.strip("/")

    @staticmethod
    def _parse(path: str) -> tuple[str, str | None, str]:
        match = _PATH_RE.match(path)
        if not match:
            raise FileNotFoundError(f"Not a Scout dataset path: scout://{path}")
        return match["id"], match["date"], match["fmt"] or "csv"

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        path = self._strip_protocol(path)
        if path == "" or path in LAYERS:
            return {"name": path, "size": 0, "type": "directory"}
        dataset_id, date, fmt = self._parse(path)
        try:
            entry = self.client.entry(dataset_id)
        except (DatasetNotFound, InvalidDatasetId) as exc:
            raise FileNotFoundError(exc.message) from None
        if fmt == "arrow":  # made locally from the verified data: known once it is there
            local = self._local(dataset_id, date, fmt)
            return {
                "name": path,
                "type": "file",
                "size": local.stat().st_size,
                "date": date or entry.date,
                "sha256": local.name.split("-")[0],
            }
        size = entry.parquet_size_bytes if fmt == "parquet" else entry.size_bytes
        if fmt == "parquet" and not entry.parquet_sha256:
            raise FileNotFoundError(f"{dataset_id} has no Parquet copy")
        info = {
            "name": path,
            "type": "file",
            "size": size,
            "date": entry.date,
            "sha256": entry.parquet_sha256 if fmt == "parquet" else entry.sha256,
        }
        if date and date != entry.date:  # an older version: its size is known once it is fetched
            local = self.client.path(dataset_id, date=date, fmt=fmt)
            info.update(size=local.stat().st_size, date=date, sha256=local.name.split(".")[0])
        return info

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list:
        path = self._strip_protocol(path)
        if path == "":
            found = [{"name": layer, "size": 0, "type": "directory"} for layer in LAYERS]
        elif path in LAYERS:
            found = [
                {"name": e.id, "size": e.size_bytes, "type": "file"} for e in self.client.manifest() if e.layer == path
            ]
        else:
            found = [self.info(path)]
        return found if detail else [f["name"] for f in found]

    def ukey(self, path: str) -> str:
        return self.info(path)["sha256"]

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: Any = None,
        autocommit: bool = True,
        cache_options: Any = None,
        **kwargs: Any,
    ):
        if mode != "rb":
            raise PermissionError("scout:// is read-only")
        dataset_id, date, fmt = self._parse(self._strip_protocol(path))
        return open(self._local(dataset_id, date, fmt), "rb")  # noqa: SIM115 - the caller closes it

    def _local(self, dataset_id: str, date: str | None, fmt: str) -> Any:
        try:
            if fmt == "arrow":
                return self.client.typed_path(dataset_id, date=date)
            return self.client.path(dataset_id, date=date, fmt=fmt)
        except DatasetNotFound as exc:
            raise FileNotFoundError(exc.message) from None
