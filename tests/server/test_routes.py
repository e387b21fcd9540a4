"""Every route of DESIGN.md through a real Jupyter server (authentication required)."""

from __future__ import annotations

import getpass
import hashlib
import json

import pytest

from scout_jupyter.manifest import latest_manifest_key
from scout_jupyter.publish import ProgressEvent

from .helpers import fetch_error, fetch_json, get_url, sign


async def test_manifest_is_served_with_an_etag(jp_fetch, small_store, access_rows):
    response = await jp_fetch("scout", "api", "manifest")
    assert response.body == small_store.storage.read_bytes(latest_manifest_key())
    assert response.headers["Content-Type"].startswith("application/json")
    etag = response.headers["ETag"]
    assert etag == f'"{hashlib.sha256(response.body).hexdigest()}"'
    again = await jp_fetch("scout", "api", "manifest", headers={"If-None-Match": etag}, raise_error=False)
    assert again.code == 304 and again.body == b""
    assert [(r["action"], r["status"]) for r in access_rows()] == [("manifest", 200), ("manifest", 304)]


async def test_manifest_cache_ttl(jp_fetch, small_store, fake_clock, scout_config):
    first = await jp_fetch("scout", "api", "manifest")
    changed = small_store.manifest.replace_entry("gold/txn_daily", description="changed")
    small_store.storage.write(latest_manifest_key(), changed.to_bytes())
    fake_clock.advance(899)
    assert (await jp_fetch("scout", "api", "manifest")).body == first.body
    fake_clock.advance(1)
    assert (
        json.loads((await jp_fetch("scout", "api", "manifest")).body)["datasets"]["gold/txn_daily"]["description"]
        == "changed"
    )


async def test_datasets_list(jp_fetch, access_rows):
    body = await fetch_json(jp_fetch, "scout", "api", "datasets")
    assert [d["id"] for d in body["datasets"]] == ["gold/product_mix", "gold/txn_daily", "platinum/store_perf"]
    assert body["datasets"][1]["freshness"] == "fresh"
    assert set(body["datasets"][1]) == {
        "id",
        "layer",
        "name",
        "description",
        "date",
        "row_count",
        "size_bytes",
        "last_modified",
        "update_frequency",
        "freshness",
        "schema_version",
    }
    [row] = access_rows()
    # the holder of the server's token, under one stable name
    assert (row["action"], row["status"], row["dataset_id"], row["user"]) == ("list", 200, None, getpass.getuser())


async def test_dataset_info(jp_fetch, small_store, access_rows):
    info = await fetch_json(jp_fetch, "scout", "api", "datasets", "platinum", "store_perf")
    entry = small_store.manifest.get("platinum/store_perf")
    assert info["sha256"] == entry.sha256 and info["freshness"] == "fresh" and info["schema"]["fields"]
    code, body, _ = await fetch_error(jp_fetch, "scout", "api", "datasets", "gold", "txn_dialy")
    assert code == 404 and body == {
        "error": "dataset_not_found",
        "message": "Dataset not found: gold/txn_dialy (did you mean gold/txn_daily?)",
    }
    code, body, _ = await fetch_error(jp_fetch, "scout", "api", "datasets", "silver", "x")
    assert code == 400 and body["error"] == "invalid_dataset_id"
    assert [(r["action"], r["status"], r["dataset_id"]) for r in access_rows()] == [
        ("info", 200, "platinum/store_perf"),
        ("info", 404, "gold/txn_dialy"),
        ("info", 400, "silver/x"),
    ]
    assert access_rows()[1]["error_code"] == "dataset_not_found"


async def test_dataset_proxy_answers_the_original_shape(
    jp_fetch, small_store, fake_clock, access_rows, http_server_client, jp_base_url
):
    body = await sign(jp_fetch, ttl="3600")
    assert set(body) == {"signed_url", "expires_at", "dataset_info"}
    entry = small_store.manifest.get("gold/txn_daily")
    assert body["dataset_info"] == {
        "row_count": entry.row_count,
        "size_bytes": entry.size_bytes,
        "last_updated": entry.last_modified,
        "sha256": entry.sha256,
    }
    assert body["expires_at"] == "2024-08-10T03:15:00.000Z"  # the fake clock + 3600 s
    root = http_server_client.get_url(jp_base_url)
    assert body["signed_url"].startswith(f"{root}scout/files/scout/v1/gold/txn_daily/txn_daily_2024-08-10.csv?")
    download = await get_url(body["signed_url"])
    assert download.code == 200 and hashlib.sha256(download.body).hexdigest() == entry.sha256
    sign_row, download_row = access_rows()
    assert (sign_row["action"], sign_row["status"], sign_row["ttl"], sign_row["dataset_id"]) == (
        "sign",
        200,
        3600,
        "gold/txn_daily",
    )
    assert (download_row["action"], download_row["bytes"], download_row["dataset_id"]) == (
        "download",
        entry.size_bytes,
        "gold/txn_daily",
    )


async def test_edge_function_path_accepts_a_bearer_token(jp_fetch, jp_serverapp):
    token = jp_serverapp.identity_provider.token
    body = await fetch_json(
        jp_fetch,
        "functions",
        "v1",
        "dataset-proxy",
        params={"dataset": "gold/txn_daily", "ttl": "3600"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert set(body) == {"signed_url", "expires_at", "dataset_info"}
    code, error, _ = await fetch_error(
        jp_fetch,
        "functions",
        "v1",
        "dataset-proxy",
        params={"dataset": "gold/txn_daily"},
        headers={"Authorization": "Bearer not-the-token"},
    )
    assert code == 403 and error["error"] == "access_denied"


async def test_dataset_proxy_format_and_date(jp_fetch):
    code, body, _ = await fetch_error(
        jp_fetch, "scout", "api", "dataset-proxy", params={"dataset": "gold/txn_daily", "format": "parquet"}
    )
    assert code == 404 and "no Parquet copy" in body["message"]
    assert (await sign(jp_fetch, date="2024-08-10"))["dataset_info"]["row_count"] == 3
    code, body, _ = await fetch_error(
        jp_fetch, "scout", "api", "dataset-proxy", params={"dataset": "gold/txn_daily", "date": "2024-07-01"}
    )
    assert code == 404 and "dated 2024-07-01" in body["message"]
    for params, error in (({"format": "xlsx"}, "invalid_request"), ({"date": "2024-13-01"}, "invalid_request")):
        code, body, _ = await fetch_error(
            jp_fetch, "scout", "api", "dataset-proxy", params={"dataset": "gold/txn_daily", **params}
        )
        assert (code, body["error"]) == (400, error)


async def test_signed_file_get_head_range(jp_fetch, small_store, access_rows):
    url = (await sign(jp_fetch))["signed_url"]
    data = small_store.csv["gold/txn_daily"]
    full = await get_url(url)
    assert full.code == 200 and full.body == data
    assert full.headers["Content-Type"] == "text/csv"
    assert full.headers["Content-Length"] == str(len(data)) and full.headers["Accept-Ranges"] == "bytes"
    etag = full.headers["ETag"]
    head = await get_url(url, method="HEAD")
    assert head.code == 200 and head.body == b"" and head.headers["Content-Length"] == str(len(data))
    part = await get_url(url, headers={"Range": "bytes=5-14"})
    assert part.code == 206 and part.body == data[5:15]
    assert part.headers["Content-Range"] == f"bytes 5-14/{len(data)}"
    tail = await get_url(url, headers={"Range": "bytes=-7"})
    assert tail.code == 206 and tail.body == data[-7:]
    beyond = await get_url(url, headers={"Range": f"bytes={len(data)}-"})
    assert beyond.code == 416 and beyond.headers["Content-Range"] == f"bytes */{len(data)}"
    cached = await get_url(url, headers={"If-None-Match": etag})
    assert cached.code == 304
    downloads = access_rows(action="download")
    assert [(r["status"], r["bytes"]) for r in downloads] == [
        (200, len(data)),
        (206, 10),
        (206, 7),
        (416, None),
        (304, None),
    ]


async def test_publish_job_and_status(jp_fetch, scout_config, scout_ext, access_rows):
    code, body, _ = await fetch_error(jp_fetch, "scout", "api", "publish", method="POST", body="{")
    assert (code, body["error"]) == (400, "invalid_request")
    response = await jp_fetch(
        "scout", "api", "publish", method="POST", body=json.dumps({"datasets": ["gold/txn_daily"]})
    )
    assert response.code == 202
    job_id = json.loads(response.body)["job_id"]
    scout_ext.service.jobs.wait(job_id)
    status = await fetch_json(jp_fetch, "scout", "api", "jobs", job_id)
    assert status["state"] == "succeeded" and status["progress"] == 1.0
    assert status["datasets"] == [
        {
            "id": "gold/txn_daily",
            "step": "verify",
            "state": "succeeded",
            "bytes_uploaded": 7,
            "bytes_total": 7,
            "unchanged": False,
            "error": None,
        }
    ]
    assert set(status) == {"job_id", "state", "progress", "datasets", "started_at", "finished_at"}
    assert scout_config["publisher"].calls == [["gold/txn_daily"]]
    code, body, _ = await fetch_error(jp_fetch, "scout", "api", "jobs", "nope")
    assert (code, body["error"]) == (404, "job_not_found")
    assert [(r["action"], r["status"]) for r in access_rows()] == [("publish", 400), ("publish", 202)]


async def test_second_publish_while_one_runs_is_409(jp_fetch, scout_config):
    scout_config["publisher"].gate.clear()
    first = await fetch_json(jp_fetch, "scout", "api", "publish", method="POST", body="{}")
    code, body, _ = await fetch_error(jp_fetch, "scout", "api", "publish", method="POST", body="{}")
    assert (code, body["error"]) == (409, "publish_in_progress")
    assert first["job_id"] in body["message"]
    scout_config["publisher"].gate.set()


async def test_access_analytics(jp_fetch, fake_clock):
    await sign(jp_fetch)
    await sign(jp_fetch, dataset="gold/product_mix")
    await fetch_error(jp_fetch, "scout", "api", "dataset-proxy", params={"dataset": "gold/nope"})
    fake_clock.advance(86_400)
    await sign(jp_fetch)
    body = await fetch_json(jp_fetch, "scout", "api", "access", "analytics", params={"days": "7"})
    assert body["days"] == 7 and body["since"] == "2024-08-05"
    rows = [(r["access_date"], r["dataset_id"], r["total_requests"], r["success_rate_percent"]) for r in body["rows"]]
    assert rows == [
        ("2024-08-11", "gold/txn_daily", 1, 100.0),
        ("2024-08-10", "gold/nope", 1, 0.0),
        ("2024-08-10", "gold/product_mix", 1, 100.0),
        ("2024-08-10", "gold/txn_daily", 1, 100.0),
    ]
    # the dashboard's breakdown counts the same rows
    assert sum(o["requests"] for o in body["outcomes"]) == sum(r["total_requests"] for r in body["rows"]) == 4
    assert {(o["outcome"], o["requests"]) for o in body["outcomes"] if o["access_date"] == "2024-08-10"} == {
        ("ok", 2),
        ("error", 1),
    }
    assert sum(u["requests"] for u in body["top_users"]) == 4
    assert {d["dataset_id"] for d in body["durations"]} == {"gold/txn_daily", "gold/product_mix", "gold/nope"}
    one_day = await fetch_json(jp_fetch, "scout", "api", "access", "analytics", params={"days": "1"})
    assert [r["access_date"] for r in one_day["rows"]] == ["2024-08-11"]
    code, body, _ = await fetch_error(jp_fetch, "scout", "api", "access", "analytics", params={"days": "0"})
    assert (code, body["error"]) == (400, "invalid_request")


class FakePublisher:
    """Records its calls; reports one dataset through the real progress events."""

    def __init__(self):
        import threading

        self.calls: list = []
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, datasets, on_progress):
        self.calls.append(datasets)
        assert self.gate.wait(10)
        for dataset in datasets or ["gold/txn_daily"]:
            on_progress(ProgressEvent(dataset, "upload", "done", 7, 7))
            on_progress(ProgressEvent(dataset, "verify", "done", 7, 7))

    def __deepcopy__(self, memo):
        return self


@pytest.fixture
def scout_config(scout_config):
    scout_config["publisher"] = FakePublisher()
    return scout_config


async def test_large_file_streams_in_bounded_memory(jp_fetch, small_store, fake_clock, http_server_client, jp_base_url):
    import tracemalloc

    from scout_jupyter.storage.local import signature_for

    key = "scout/v1/gold/big/big_2024-08-10.csv"
    path = small_store.storage.root / key
    path.parent.mkdir(parents=True)
    block = hashlib.sha256(b"x").hexdigest().encode() * 2048  # 128 KiB
    with open(path, "wb") as fh:
        for _ in range(512):  # 64 MiB
            fh.write(block)
    expires = int(fake_clock.time()) + 60
    url = (
        f"{http_server_client.get_url(jp_base_url)}scout/files/{key}?expires={expires}"
        f"&scout_auth={signature_for(b's' * 64, 'GET', key, expires)}"
    )
    digest, received = hashlib.sha256(), []

    def consume(chunk: bytes) -> None:
        digest.update(chunk)
        received.append(len(chunk))

    tracemalloc.start()
    try:
        response = await get_url(url, streaming_callback=consume, request_timeout=120)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.code == 200 and sum(received) == 64 * 2**20
    assert digest.hexdigest() == hashlib.sha256(block * 512).hexdigest()
    assert peak < 16 * 2**20, f"peak {peak / 2**20:.1f} MiB while streaming 64 MiB"
