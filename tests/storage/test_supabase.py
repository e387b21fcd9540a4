"""The ``supabase://`` backend against the fake Supabase Storage server: the conformance suite
(hosted layout, and self-hosted with a key prefix) plus Supabase's own ways of answering."""

from __future__ import annotations

import hashlib
import io
import logging

import jwt
import pytest
import requests

from scout_jupyter.errors import (
    AccessDenied,
    ChecksumMismatch,
    ConfigError,
    InvalidKey,
    InvalidTTL,
    ObjectExists,
    ObjectNotFound,
    StorageError,
    StorageUnavailable,
)
from scout_jupyter.storage import open_storage
from scout_jupyter.storage.retry import TransientError
from scout_jupyter.storage.supabase import SupabaseStorage, error_for
from tests.fakes.supabase_storage import FakeSupabaseStorage
from tests.fixtures.supabase import SUPABASE_BUCKET

from .conformance import StorageConformance

B = SUPABASE_BUCKET


def _get(url):
    response = requests.get(url, timeout=10)
    return response.status_code, response.content


class TestSupabaseConformance(StorageConformance):
    @pytest.fixture(params=["hosted", "selfhosted-prefix"])
    def storage(self, request, supabase_clock, supabase_retry):
        hosted = request.param == "hosted"
        fake = FakeSupabaseStorage(clock=supabase_clock, mount="/storage/v1" if hosted else "", buckets=(B,))
        with fake:
            url = f"supabase://{B}" if hosted else f"supabase://{B}/tenant-a"
            where = {"project_url": fake.project_url} if hosted else {"storage_url": fake.url}
            store = SupabaseStorage(
                url, clock=supabase_clock, retry=supabase_retry, service_key=fake.service_key, **where
            )
            yield store
            store.close()

    @pytest.fixture
    def clock(self, supabase_clock):
        return supabase_clock

    @pytest.fixture
    def fetch(self):
        return _get


# --- configuration ------------------------------------------------------------------------------
def test_hosted_api_is_under_storage_v1(supabase_env):
    store = open_storage(f"supabase://{B}")
    assert isinstance(store, SupabaseStorage)
    assert store.api_url == supabase_env.project_url + "/storage/v1"
    store.write("a.csv", b"x")
    assert supabase_env.requests[0]["path"] == f"/storage/v1/object/{B}/a.csv"


def test_storage_url_overrides_for_self_hosted(monkeypatch, supabase_env, supabase_selfhosted_fake):
    monkeypatch.setenv("SUPABASE_STORAGE_URL", supabase_selfhosted_fake.url)
    monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", supabase_selfhosted_fake.service_key)
    store = open_storage(f"supabase://{B}/pre/fix")
    store.write("a.csv", b"self-hosted")
    assert supabase_selfhosted_fake.get(B, "pre/fix/a.csv") == b"self-hosted"
    assert supabase_env.requests == []  # the hosted project was never asked
    assert [i.key for i in store.list("")] == ["a.csv"]


def test_hosted_layout_refuses_unprefixed_routes(supabase_fake):
    store = SupabaseStorage(
        f"supabase://{B}", storage_url=supabase_fake.project_url, service_key=supabase_fake.service_key
    )
    with pytest.raises(StorageError, match="SUPABASE_URL") as caught:
        store.info("a.csv")
    assert not isinstance(caught.value, ObjectNotFound)  # a wrong base URL is not a missing object


@pytest.mark.parametrize(
    "env, message",
    [
        ({"SUPABASE_SERVICE_ROLE_KEY": "k"}, "SUPABASE_URL"),
        ({"SUPABASE_URL": "http://127.0.0.1:9"}, "SUPABASE_SERVICE_ROLE_KEY"),
        ({"SUPABASE_URL": "ftp://x", "SUPABASE_SERVICE_ROLE_KEY": "k"}, "http"),
        ({"SUPABASE_URL": "http://h", "SUPABASE_SERVICE_ROLE_KEY": "k\nx"}, "not a valid key"),
    ],
)
def test_configuration_errors_are_one_line(monkeypatch, env, message):
    for name in ("SUPABASE_URL", "SUPABASE_STORAGE_URL", "SUPABASE_SERVICE_ROLE_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message) as caught:
        SupabaseStorage(f"supabase://{B}")
    assert "\n" not in caught.value.message


@pytest.mark.parametrize("url", ["supabase://", "supabase://b/../x", "supabase://b/é", "s3://b", "supabase://b?x=1"])
def test_bad_storage_urls(url):
    with pytest.raises(ConfigError):
        SupabaseStorage(url, project_url="http://127.0.0.1:9", service_key="k")


# --- authentication and secrets ------------------------------------------------------------------
def test_key_sent_as_bearer_and_apikey(supabase_storage, supabase_fake):
    supabase_storage.write("a.csv", b"x")
    headers = supabase_fake.requests[0]["headers"]
    assert headers["Authorization"] == f"Bearer {supabase_fake.service_key}"
    assert headers["Apikey"] == supabase_fake.service_key


def test_key_never_in_repr_logs_or_errors(supabase_fake, supabase_clock, supabase_retry, caplog):
    caplog.set_level(logging.DEBUG)
    key = supabase_fake.service_key
    store = SupabaseStorage(
        f"supabase://{B}",
        clock=supabase_clock,
        retry=supabase_retry,
        project_url=supabase_fake.project_url,
        service_key=key,
    )
    texts = [repr(store), str(vars(store))]
    store.write("a.csv", b"x")
    supabase_fake.faults.fail_next(5, "503")
    for action in (lambda: store.info("missing.csv"), lambda: store.write("a.csv", b"y", overwrite=False)):
        with pytest.raises(Exception) as caught:
            action()
        texts.append(str(caught.value))
    wrong = SupabaseStorage(f"supabase://{B}", project_url=supabase_fake.project_url, service_key=_foreign_key())
    with pytest.raises(AccessDenied) as caught:
        wrong.info("a.csv")
    texts += [str(caught.value), caplog.text]
    assert "try 1 of 5" in caplog.text and "signature verification failed" in texts[-2]
    for text in texts:
        assert key not in text and key[-20:] not in text


def _foreign_key() -> str:
    """A service-role key signed by another project's secret."""
    return jwt.encode({"role": "service_role"}, "another-project-secret-of-at-least-32-chars", algorithm="HS256")


@pytest.mark.parametrize(
    "key, message", [(_foreign_key(), "signature verification failed"), ("not-a-jwt", "Invalid Compact JWS")]
)
def test_bad_key_is_access_denied(supabase_fake, key, message):
    store = SupabaseStorage(f"supabase://{B}", project_url=supabase_fake.project_url, service_key=key)
    with pytest.raises(AccessDenied, match=message):
        store.write("a.csv", b"x")
    assert supabase_fake.keys(B) == []


def test_apikey_alone_is_anonymous(supabase_storage, supabase_fake):
    """Supabase ignores an apikey without Bearer: the same key there reads as 'Bucket not found'."""
    supabase_storage.write("a.csv", b"x")
    response = requests.get(f"{supabase_fake.url}/object/{B}/a.csv", headers={"apikey": supabase_fake.service_key})
    assert response.json()["message"] == "Bucket not found"


# --- keys ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "key",
    ["scout/é.csv", "scout/naïve/x.csv", "scout/a#b.csv", "scout/a%b.csv", "scout/日本.csv", "scout/tab\u00a0x.csv"],
)
def test_non_ascii_keys_refused_before_any_request(supabase_storage, supabase_fake, key):
    for action in (
        lambda: supabase_storage.write(key, b"x"),
        lambda: supabase_storage.info(key),
        lambda: supabase_storage.sign(key, 60),
        lambda: supabase_storage.delete(key),
    ):
        with pytest.raises(InvalidKey, match="ASCII"):
            action()
    assert supabase_fake.requests == []


def test_keys_are_url_encoded(supabase_storage, supabase_fake, supabase_clock):
    key = "scout/a b/q?x=1&y=2;+.csv"
    supabase_storage.write(key, b"odd")
    assert supabase_fake.keys(B) == [key]
    assert supabase_storage.read_bytes(key) == b"odd"
    signed = supabase_storage.sign(key, 60)
    assert "/scout/a%20b/q%3Fx%3D1%26y%3D2%3B%2B.csv?token=" in signed.url
    status, body = _get(signed.url)
    assert (status, body) == (200, b"odd")


# --- errors from 400-with-body ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "body, expected",
    [
        (
            {"statusCode": "404", "error": "not_found", "message": "Object not found", "code": "NoSuchKey"},
            ObjectNotFound,
        ),
        ({"statusCode": "404", "error": "Bucket not found", "message": "Bucket not found"}, ObjectNotFound),
        (
            {
                "statusCode": "409",
                "error": "Duplicate",
                "message": "The resource already exists",
                "code": "KeyAlreadyExists",
            },
            ObjectExists,
        ),
        (
            {"statusCode": "403", "error": "Unauthorized", "message": "invalid signature", "code": "AccessDenied"},
            AccessDenied,
        ),
        ({"statusCode": "400", "error": "InvalidJWT", "message": "jwt expired", "code": "InvalidJWT"}, AccessDenied),
        ({"statusCode": "400", "error": "InvalidKey", "message": "Invalid key: é", "code": "InvalidKey"}, InvalidKey),
        (
            {
                "statusCode": "413",
                "error": "Payload too large",
                "message": "The object exceeded the maximum allowed size",
                "code": "EntityTooLarge",
            },
            StorageError,
        ),
        (
            {
                "statusCode": "503",
                "error": "DatabaseConnectionLimit",
                "message": "The database has reached its maximum",
                "code": "DatabaseConnectionLimit",
            },
            TransientError,
        ),
        (
            {"statusCode": "500", "error": "internal", "message": "Internal server error", "code": "InternalError"},
            TransientError,
        ),
    ],
)
def test_errors_map_from_the_body_not_the_http_status(body, expected):
    exc = error_for(400, body, "read b/x.csv")
    assert type(exc) is expected
    assert body["message"] in str(exc)


def test_errors_without_json_map_from_http_status():
    assert isinstance(error_for(503, "<html>upstream connect error</html>", "read b/x"), TransientError)
    exc = error_for(429, "slow down", "read b/x", retry_after=3)
    assert isinstance(exc, TransientError) and exc.retry_after == 3
    assert type(error_for(400, "garbage", "read b/x")) is StorageError


def test_errors_end_to_end(supabase_storage, supabase_fake):
    with pytest.raises(ObjectNotFound, match="Object not found"):
        supabase_storage.read_bytes("nope.csv")
    supabase_storage.write("x.csv", b"1")
    with pytest.raises(ObjectExists, match="The resource already exists"):
        supabase_storage.write("x.csv", b"2", overwrite=False)
    supabase_fake.file_size_limit = 3
    with pytest.raises(StorageError, match="exceeded the maximum allowed size"):
        supabase_storage.write("big.csv", b"12345")
    missing = SupabaseStorage(
        "supabase://no-such-bucket", project_url=supabase_fake.project_url, service_key=supabase_fake.service_key
    )
    with pytest.raises(ObjectNotFound, match="Bucket not found"):
        missing.write("a.csv", b"x")
    assert list(missing.list("")) == []


def test_invalid_ttl_refused(supabase_storage):
    supabase_storage.write("a.csv", b"x")
    for ttl in (0, -1, 1.5, "60", True):
        with pytest.raises(InvalidTTL):
            supabase_storage.sign("a.csv", ttl)


def test_signed_url_is_a_supabase_jwt(supabase_storage, supabase_fake, supabase_clock):
    supabase_storage.write("scout/s.csv", b"x")
    signed = supabase_storage.sign("scout/s.csv", 3600)
    assert signed.url.startswith(supabase_fake.url + f"/object/sign/{B}/scout/s.csv?token=")
    claims = jwt.decode(
        signed.url.split("token=")[1], supabase_fake.jwt_secret, algorithms=["HS256"], options={"verify_exp": False}
    )
    assert claims["url"] == f"{B}/scout/s.csv" and claims["exp"] - claims["iat"] == 3600
    assert signed.expires_at.timestamp() == supabase_clock.time() + 3600


# --- streaming, verification ------------------------------------------------------------------------
def test_file_upload_streams_with_content_length(supabase_storage, supabase_fake, tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(b"a,b\n" * 300_000)
    with open(path, "rb") as fh:
        fh.read(4)  # a file is uploaded from its current position
        info = supabase_storage.write("f.csv", fh)
    upload = supabase_fake.requests[0]
    assert upload["headers"]["Content-Length"] == str(1_200_000 - 4)
    assert upload["headers"]["Content-Type"] == "text/csv"
    assert info.sha256 == hashlib.sha256(b"a,b\n" * 299_999).hexdigest()
    assert info.size == 1_199_996 and info.etag == hashlib.md5(b"a,b\n" * 299_999).hexdigest()


def test_sha256_mismatch_on_a_file_aborts_the_upload(supabase_storage, supabase_fake):
    data = b"z" * (3 * 1024 * 1024 + 5)
    with pytest.raises(ChecksumMismatch, match="upload aborted"):
        supabase_storage.write("c.bin", io.BytesIO(data), sha256=hashlib.sha256(b"other").hexdigest())
    assert supabase_fake.keys(B) == []
    info = supabase_storage.write("c.bin", io.BytesIO(data), sha256=hashlib.sha256(data).hexdigest())
    assert info.sha256 == hashlib.sha256(data).hexdigest()


def test_storage_that_stores_other_bytes_is_caught(supabase_storage, supabase_fake):
    supabase_fake.faults.fail_next(1, "corrupt", method="POST")
    with pytest.raises(ChecksumMismatch, match="after upload"):
        supabase_storage.write("scout/m.csv", b"date,revenue\n2024-08-10,1\n")
    assert supabase_fake.keys(B) == []  # the corrupt copy is not left to be served


def test_listing_pages_and_walks_folders(supabase_storage, supabase_fake):
    supabase_storage.list_page_size = 2
    keys = [f"scout/v1/gold/d{i}/d{i}.csv" for i in range(5)] + ["scout/v1/x.csv", "scout/readme.txt"]
    for key in keys:
        supabase_storage.write(key, b"k")
    supabase_fake.requests.clear()
    assert [i.key for i in supabase_storage.list("scout/")] == sorted(keys)
    lists = [r for r in supabase_fake.requests if "/object/list/" in r["path"]]
    assert len(lists) > 7  # folders are one call each, pages of two
    assert [i.key for i in supabase_storage.list("scout/v1/gold/d")] == sorted(keys[:5])


def test_listing_is_exact_where_the_server_matches_loosely(supabase_storage, supabase_fake):
    # The server matches prefixes with ILIKE: "_" is a wildcard and case is ignored.
    for key in ["scout/a_b/x.csv", "scout/aXb/y.csv", "scout/A_B/z.csv", "scout/.emptyFolderPlaceholder"]:
        supabase_storage.write(key, b"1")
    assert [i.key for i in supabase_storage.list("scout/a_b/")] == ["scout/a_b/x.csv"]
    assert [i.key for i in supabase_storage.list("scout/a_")] == ["scout/a_b/x.csv"]
    assert len(list(supabase_storage.list("scout/"))) == 3


# --- a flaky server ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["503", "db503", "drop", "429"])
def test_transient_faults_are_retried_with_backoff(supabase_storage, supabase_fake, supabase_clock, kind):
    supabase_fake.faults.fail_next(3, kind)
    supabase_storage.write("scout/r.csv", b"retried")
    assert supabase_fake.faults.pending == 0
    assert supabase_storage.read_bytes("scout/r.csv") == b"retried"
    assert len(supabase_clock.sleeps) == 3
    if kind == "429":
        assert all(s >= 1 for s in supabase_clock.sleeps)  # Retry-After honoured
    else:
        assert supabase_clock.sleeps[2] > supabase_clock.sleeps[0]  # exponential


def test_gives_up_with_a_clear_error(supabase_storage, supabase_fake, supabase_clock):
    supabase_fake.faults.fail_next(10, "503")
    with pytest.raises(StorageUnavailable) as caught:
        supabase_storage.info("scout/x.csv")
    assert "failed after 5 tries" in caught.value.message and "upstream connect error" in caught.value.message
    assert len(supabase_clock.sleeps) == 4
    assert supabase_fake.faults.pending == 5


def test_create_only_retry_recognises_its_own_upload(supabase_storage, supabase_fake):
    supabase_fake.faults.fail_next(1, "drop_after", method="POST")
    supabase_storage.write("scout/once.csv", b"once", overwrite=False)
    assert supabase_fake.get(B, "scout/once.csv") == b"once"
    supabase_fake.faults.fail_next(1, "drop_after", method="POST")
    supabase_storage.write("scout/twice.csv", b"mine", overwrite=False)
    with pytest.raises(ObjectExists):
        supabase_storage.write("scout/twice.csv", b"someone else's", overwrite=False)


def test_cut_download_resumes_with_range(supabase_storage, supabase_fake):
    data = bytes(range(256)) * 4096
    supabase_storage.write("scout/big.bin", data)
    supabase_fake.requests.clear()
    supabase_fake.faults.fail_next(2, "cut", method="GET")
    assert b"".join(supabase_storage.iter_bytes("scout/big.bin", chunk_size=65536)) == data
    ranges = [r["headers"].get("Range") for r in supabase_fake.requests]
    assert ranges[0] is None and ranges[1] == f"bytes={len(data) // 2}-"
    assert len(ranges) == 3
    supabase_fake.faults.fail_next(1, "cut", method="GET")
    assert b"".join(supabase_storage.iter_bytes("scout/big.bin", start=10, end=5000)) == data[10:5000]


def test_download_that_keeps_being_cut_gives_up(supabase_storage, supabase_fake):
    supabase_storage.write("scout/big.bin", b"x" * 100_000)
    supabase_fake.faults.fail_next(20, "cut", method="GET")
    with pytest.raises(StorageUnavailable, match="cut off 5 times"):
        supabase_storage.read_bytes("scout/big.bin")


def test_read_from_past_the_end_is_empty(supabase_storage):
    supabase_storage.write("scout/t.txt", b"0123")
    assert b"".join(supabase_storage.iter_bytes("scout/t.txt", start=4)) == b""
    assert b"".join(supabase_storage.iter_bytes("scout/t.txt", start=9)) == b""
    assert b"".join(supabase_storage.iter_bytes("scout/t.txt", start=2, end=2)) == b""
    with pytest.raises(ObjectNotFound):
        b"".join(supabase_storage.iter_bytes("scout/none.txt", start=2, end=2))
