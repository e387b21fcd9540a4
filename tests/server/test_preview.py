"""GET /scout/api/datasets/<layer>/<name>/preview and GET /scout/api/permissions (the sidebar's
routes): typed first rows from the CSV or the Parquet copy, validation, the access log, and a
rate limit of its own."""

from __future__ import annotations

import hashlib
import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from jupyter_server.auth.authorizer import Authorizer

from scout_jupyter.manifest import latest_manifest_key

from .helpers import fetch_error, fetch_json, sign

PREVIEW = ("scout", "api", "datasets", "gold", "txn_daily", "preview")


@pytest.fixture
def scout_config(scout_config):
    scout_config["preview_rate_limit"] = "3/minute"
    return scout_config


async def test_preview_reads_typed_rows_from_the_csv(jp_fetch, access_rows):
    body = await fetch_json(jp_fetch, *PREVIEW)
    assert body["columns"] == [
        {"name": "date_key", "type": "date"},
        {"name": "store_code", "type": "string"},
        {"name": "region", "type": "string"},
        {"name": "revenue", "type": "number"},
        {"name": "transactions", "type": "integer"},
    ]
    assert body["rows"][0] == ["2024-08-09", "0042", "NCR", 1520.5, 31]  # leading zeros kept, numbers typed
    assert body["row_count"] == 3 and len(body["rows"]) == 3 and body["truncated"] is False
    [row] = access_rows()
    assert (row["action"], row["status"], row["dataset_id"]) == ("preview", 200, "gold/txn_daily")


async def test_preview_limit_and_columns(jp_fetch):
    body = await fetch_json(jp_fetch, *PREVIEW, params={"limit": "2", "columns": "revenue,date_key"})
    assert [c["name"] for c in body["columns"]] == ["date_key", "revenue"]  # the dataset's order
    assert body["rows"] == [["2024-08-09", 1520.5], ["2024-08-09", 980.25]]
    assert body["row_count"] == 3 and body["truncated"] is True


async def test_preview_prefers_the_parquet_copy(jp_fetch, small_store, scout_ext):
    table = pa.table(
        {"store_code": ["0042", "0107"], "revenue_rank": pa.array([1, 2], pa.int64()), "is_top_decile": [True, False]}
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    key = "scout/v1/platinum/store_perf/store_perf_2024-08-10.parquet"
    small_store.storage.write(key, sink.getvalue())
    # the CSV copy says something else: the answer shows which file was read
    small_store.storage.write(
        "scout/v1/platinum/store_perf/store_perf_2024-08-10.csv",
        b"store_code,revenue_rank,is_top_decile\n9999,9,false\n",
    )
    manifest = small_store.manifest.replace_entry(
        "platinum/store_perf",
        latest_parquet="/" + key,
        parquet_sha256=hashlib.sha256(sink.getvalue()).hexdigest(),
        parquet_size_bytes=len(sink.getvalue()),
    )
    small_store.storage.write(latest_manifest_key(), manifest.to_bytes())
    scout_ext.service.manifests.invalidate()
    body = await fetch_json(
        jp_fetch, "scout", "api", "datasets", "platinum", "store_perf", "preview", params={"limit": "1"}
    )
    assert body["rows"] == [["0042", 1, True]] and body["truncated"] is True
    assert body["columns"][2] == {"name": "is_top_decile", "type": "boolean"}


@pytest.mark.parametrize(
    "params, code, error, words",
    [
        ({"limit": "0"}, 400, "invalid_request", "from 1 to 1000"),
        ({"limit": "1001"}, 400, "invalid_request", "from 1 to 1000"),
        ({"limit": "ten"}, 400, "invalid_request", "Invalid limit ten"),
        ({"columns": "revenue,nope"}, 400, "invalid_request", "Unknown column(s) nope"),
    ],
)
async def test_preview_refuses_bad_parameters(jp_fetch, params, code, error, words):
    status, body, _ = await fetch_error(jp_fetch, *PREVIEW, params=params)
    assert (status, body["error"]) == (code, error) and words in body["message"]


async def test_preview_of_unknown_and_malformed_ids(jp_fetch, access_rows):
    status, body, _ = await fetch_error(jp_fetch, "scout", "api", "datasets", "gold", "txn_dialy", "preview")
    assert status == 404 and body["error"] == "dataset_not_found" and "gold/txn_daily" in body["message"]
    status, body, _ = await fetch_error(jp_fetch, "scout", "api", "datasets", "silver", "x", "preview")
    assert status == 400 and body["error"] == "invalid_dataset_id"
    assert [(r["action"], r["status"]) for r in access_rows()] == [("preview", 404), ("preview", 400)]


async def test_preview_has_its_own_rate_limit(jp_fetch, fake_clock, access_rows):
    for _ in range(3):
        await jp_fetch(*PREVIEW)
    status, body, response = await fetch_error(jp_fetch, *PREVIEW)
    assert status == 429 and body["error"] == "rate_limited" and int(response.headers["Retry-After"]) >= 1
    assert access_rows()[-1]["action"] == "deny"
    # signing draws on its own budget (10/minute here), untouched by previews
    for _ in range(10):
        await sign(jp_fetch)
    status, _, _ = await fetch_error(
        jp_fetch, "scout", "api", "dataset-proxy", params={"dataset": "gold/txn_daily", "ttl": "60"}
    )
    assert status == 429
    fake_clock.advance(61)
    assert (await jp_fetch(*PREVIEW)).code == 200


async def test_preview_limit_setting_is_its_own_trait(scout_ext):
    assert str(scout_ext.service.preview_limiter.item) != str(scout_ext.service.rate_limiter.item)
    assert scout_ext.preview_rate_limit == "3/minute" and scout_ext.rate_limit == "10/minute"


async def test_permissions_route_says_what_the_user_may_do(jp_fetch, access_rows):
    body = await fetch_json(jp_fetch, "scout", "api", "permissions")
    assert body["permissions"] == {"publish": True, "analytics": True} and body["user"]
    assert access_rows() == []  # not a dataset access


async def test_manifest_etag_and_304_for_the_sidebars_polling(jp_fetch):
    first = await jp_fetch("scout", "api", "manifest")
    again = await jp_fetch(
        "scout", "api", "manifest", headers={"If-None-Match": first.headers["ETag"]}, raise_error=False
    )
    assert again.code == 304 and again.body == b""


class ReadOnlyAuthorizer(Authorizer):
    """Allows reading datasets only: no publishing, no analytics."""

    def is_authorized(self, handler, user, action, resource) -> bool:  # noqa: ANN001
        return resource == "scout:datasets" and action == "read"


class TestPermissionsOfAReader:
    @pytest.fixture
    def jp_server_config(self, jp_server_config):
        jp_server_config["ServerApp"]["authorizer_class"] = ReadOnlyAuthorizer
        return jp_server_config

    async def test_permissions_route_says_no_publish(self, jp_fetch):
        body = await fetch_json(jp_fetch, "scout", "api", "permissions")
        assert body["permissions"] == {"publish": False, "analytics": False}
        status, _, _ = await fetch_error(jp_fetch, "scout", "api", "publish", method="POST", body="{}")
        assert status == 403  # what the route said is what the server enforces


async def test_manifest_head_gives_the_etag_without_the_body(jp_fetch, access_rows):
    full = await jp_fetch("scout", "api", "manifest")
    head = await jp_fetch("scout", "api", "manifest", method="HEAD")
    assert head.code == 200 and head.body == b"" and head.headers["ETag"] == full.headers["ETag"]
    again = await jp_fetch(
        "scout", "api", "manifest", method="HEAD", raise_error=False, headers={"If-None-Match": full.headers["ETag"]}
    )
    assert again.code == 304
    assert [(r["action"], r["status"]) for r in access_rows()] == [
        ("manifest", 200),
        ("manifest", 200),
        ("manifest", 304),
    ]
