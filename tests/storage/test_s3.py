"""The s3:// backend against a real S3-protocol server on loopback (moto, behind tests/fixtures/s3server.py)."""

from __future__ import annotations

import hashlib
import logging
import random
import re
import socket
from datetime import datetime, timedelta, timezone
from itertools import pairwise
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from scout_jupyter.errors import (
    AccessDenied,
    ChecksumMismatch,
    ConfigError,
    InvalidKey,
    InvalidTTL,
    ObjectExists,
    ScoutError,
    StorageError,
    StorageUnavailable,
)
from scout_jupyter.storage import open_storage
from scout_jupyter.storage.retry import RetryPolicy
from scout_jupyter.storage.s3 import S3Storage

from ..fixtures.s3server import Fault
from .conformance import StorageConformance

pytestmark = pytest.mark.s3


def make_storage(server, bucket, *, prefix="", clock=None, retry=None, **options):
    url = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
    return S3Storage(
        url,
        clock=clock,
        retry=retry,
        endpoint_url=server.endpoint_url,
        region=server.region,
        access_key=server.access_key,
        secret_key=server.secret_key,
        **options,
    )


class TestS3Conformance(StorageConformance):
    @pytest.fixture
    def clock(self, s3_clock):
        return s3_clock  # the backend signs with it and the server checks presigned URLs against it

    @pytest.fixture
    def storage(self, s3_server, s3_bucket, clock):
        retry = RetryPolicy(sleep=clock.sleep, rng=random.Random(7))
        store = make_storage(s3_server, s3_bucket, prefix="root/scout-data", clock=clock, retry=retry)
        yield store
        store.close()


# --- fixtures for the S3-specific tests ----------------------------------------------------------
@pytest.fixture
def guard(s3_server, s3_bucket):
    return s3_server.guard


@pytest.fixture
def store(s3_server, s3_bucket, fake_clock):
    retry = RetryPolicy(attempts=5, base_delay=0.2, max_delay=10.0, sleep=fake_clock.sleep, rng=random.Random(11))
    store = make_storage(s3_server, s3_bucket, prefix="team/scout", clock=fake_clock, retry=retry)
    yield store
    store.close()


def stream(total, chunk=256 * 1024, on_chunk=None):
    block = hashlib.sha256(b"s3-stream").digest() * (chunk // 32)
    sent = 0
    while sent < total:
        piece = block[: min(chunk, total - sent)]
        sent += len(piece)
        if on_chunk:
            on_chunk(sent)
        yield piece


def uploads_in_progress(s3_server, bucket):
    return s3_server.client().list_multipart_uploads(Bucket=bucket).get("Uploads", [])


# --- layout ---------------------------------------------------------------------------------
def test_plugin_storage_signs_on_the_server_clock(s3_storage, s3_clock):
    s3_storage.write("scout/a.csv", b"a")
    url = s3_storage.sign("scout/a.csv", 30).url
    assert requests.get(url, timeout=10).status_code == 200
    s3_clock.advance(31)
    assert requests.get(url, timeout=10).status_code == 403


def test_prefixes_isolate_two_storages_in_one_bucket(s3_server, s3_bucket):
    a = make_storage(s3_server, s3_bucket, prefix="tenant-a")
    b = make_storage(s3_server, s3_bucket, prefix="tenant-ab")
    a.write("scout/v1/x.csv", b"from a")
    b.write("scout/v1/x.csv", b"from b")
    assert [i.key for i in a.list("")] == ["scout/v1/x.csv"]
    assert a.read_bytes("scout/v1/x.csv") == b"from a"
    assert b.read_bytes("scout/v1/x.csv") == b"from b"
    a.delete("scout/v1/x.csv")
    assert not a.exists("scout/v1/x.csv") and b.exists("scout/v1/x.csv")
    raw = sorted(o["Key"] for o in s3_server.client().list_objects_v2(Bucket=s3_bucket)["Contents"])
    assert raw == ["tenant-ab/scout/v1/x.csv"]


def test_list_strips_prefix_and_skips_folder_markers(store, s3_server, s3_bucket):
    store.write("scout/v1/a.csv", b"a")
    s3_server.client().put_object(Bucket=s3_bucket, Key="team/scout/scout/v1/folder/", Body=b"")
    s3_server.client().put_object(Bucket=s3_bucket, Key="team/other.csv", Body=b"outside")
    assert [(i.key, i.size) for i in store.list("scout/")] == [("scout/v1/a.csv", 1)]


def test_range_past_the_end_is_empty(store):
    store.write("scout/r.txt", b"0123")
    assert b"".join(store.iter_bytes("scout/r.txt", start=4)) == b""
    assert b"".join(store.iter_bytes("scout/r.txt", start=2, end=2)) == b""
    assert b"".join(store.iter_bytes("scout/r.txt", start=1, end=99)) == b"123"


# --- checksums ---------------------------------------------------------------------------------
def test_single_put_records_a_full_object_sha256(store, guard):
    data = b"date_key,revenue\n2024-08-10,12.5\n"
    written = store.write("scout/v1/gold/t/t.csv", data)
    put = guard.requests("PUT")[-1]
    assert put.headers["x-amz-checksum-sha256"]  # sent so that a verifying server can check it
    info = store.info("scout/v1/gold/t/t.csv")
    assert info.sha256 == written.sha256 == hashlib.sha256(data).hexdigest()
    assert info.size == len(data) and info.content_type == "text/csv"
    assert info.etag == hashlib.md5(data).hexdigest() == written.etag
    assert info.last_modified is not None and info.last_modified.tzinfo is not None


def test_declared_sha256_mismatch_keeps_the_existing_object(store, guard):
    store.write("scout/m.json", b'{"v": 1}')
    with pytest.raises(ChecksumMismatch, match="Checksum validation failed"):
        store.write("scout/m.json", b'{"v": 2}', sha256=hashlib.sha256(b"other").hexdigest())
    assert store.read_bytes("scout/m.json") == b'{"v": 1}'
    assert len(guard.requests("PUT")) == 1  # refused before anything was sent


def test_multipart_upload_streams_with_bounded_buffering(store, guard, s3_server, s3_bucket):
    store.part_size = 5 * 1024 * 1024
    total = 18 * 1024 * 1024 + 4321
    peak = []
    # how far the payload has been read ahead of what the server has received
    data = stream(total, on_chunk=lambda sent: peak.append(sent - guard.bytes_received))
    expected = hashlib.sha256(b"".join(stream(total))).hexdigest()
    info = store.write("scout/v1/platinum/big/big.csv", data)
    assert info.size == total and info.sha256 == expected
    parts = [s for s in guard.requests("PUT") if "partNumber=" in s.query]
    assert len(parts) == 4 and all(s.status.startswith("200") for s in parts)
    assert max(peak) <= store.part_size + 2 * 256 * 1024  # one part in flight, never the whole payload
    assert store.sha256("scout/v1/platinum/big/big.csv") == expected
    assert store.info("scout/v1/platinum/big/big.csv").size == total
    assert uploads_in_progress(s3_server, s3_bucket) == []


def test_multipart_object_reports_no_composite_checksum_as_sha256(store):
    store.part_size = 5 * 1024 * 1024
    total = 6 * 1024 * 1024
    store.write("scout/big.bin", stream(total))
    info = store.info("scout/big.bin")
    assert info.sha256 is None  # the stored SHA256 is a checksum of part checksums, not of the bytes
    assert store.sha256("scout/big.bin") == hashlib.sha256(b"".join(stream(total))).hexdigest()


def test_multipart_checksum_mismatch_aborts_and_keeps_the_old_object(store, s3_server, s3_bucket):
    store.part_size = 5 * 1024 * 1024
    store.write("scout/big.bin", b"old")
    with pytest.raises(ChecksumMismatch):
        store.write("scout/big.bin", stream(11 * 1024 * 1024), sha256="0" * 64)
    assert store.read_bytes("scout/big.bin") == b"old"
    assert uploads_in_progress(s3_server, s3_bucket) == []


def test_multipart_source_failure_aborts_the_upload(store, s3_server, s3_bucket):
    store.part_size = 5 * 1024 * 1024

    def dies():
        yield from stream(12 * 1024 * 1024)
        raise OSError("source died")

    with pytest.raises(OSError, match="source died"):
        store.write("scout/big.bin", dies())
    assert not store.exists("scout/big.bin")
    assert uploads_in_progress(s3_server, s3_bucket) == []


# --- create-only ---------------------------------------------------------------------------------
def test_create_only_is_enforced_by_the_server_when_the_head_misses(store, guard, monkeypatch):
    store.write("scout/x.csv", b"first")
    monkeypatch.setattr(store, "_head", lambda full: None)  # another writer lands between HEAD and PUT
    with pytest.raises(ObjectExists, match="already exists"):
        store.write("scout/x.csv", b"second", overwrite=False)
    assert guard.requests("PUT")[-1].headers.get("if-none-match") == "*"
    assert guard.requests("PUT")[-1].status.startswith("412")
    monkeypatch.undo()
    assert store.read_bytes("scout/x.csv") == b"first"


def test_create_only_multipart_refused_without_leftovers(store, s3_server, s3_bucket, monkeypatch):
    store.part_size = 5 * 1024 * 1024
    store.write("scout/big.bin", b"first")
    with pytest.raises(ObjectExists):
        store.write("scout/big.bin", stream(6 * 1024 * 1024), overwrite=False)  # refused by the HEAD
    monkeypatch.setattr(store, "_head", lambda full: None)
    with pytest.raises(ObjectExists):
        store.write("scout/big.bin", stream(6 * 1024 * 1024), overwrite=False)  # by If-None-Match
    monkeypatch.undo()
    assert store.read_bytes("scout/big.bin") == b"first"
    assert uploads_in_progress(s3_server, s3_bucket) == []


# --- transient faults: RELIABILITY.md row 24 -------------------------------------------------------
def assert_exponential_with_jitter(sleeps, base=0.2):
    for attempt, slept in enumerate(sleeps, start=1):
        cap = base * 2 ** (attempt - 1)
        assert cap / 2 <= slept <= cap
    assert all(a < b for a, b in pairwise(sleeps))  # they grow
    assert any(slept != base * 2**i for i, slept in enumerate(sleeps))  # and are jittered


def test_slowdown_is_retried_with_exponential_backoff(store, guard, fake_clock):
    guard.inject(Fault("error", 503, "SlowDown", method="PUT"), times=3)
    store.write("scout/v1/gold/t/t.csv", b"payload")
    assert len(fake_clock.sleeps) == 3
    assert_exponential_with_jitter(fake_clock.sleeps)
    assert len(guard.requests("PUT")) == 4  # botocore's own retries are off: every try is ours
    assert store.read_bytes("scout/v1/gold/t/t.csv") == b"payload"


@pytest.mark.parametrize(
    "status,code", [(500, "InternalError"), (502, "BadGateway"), (504, "GatewayTimeout"), (429, "TooManyRequests")]
)
def test_server_faults_are_transient(store, guard, fake_clock, status, code):
    store.write("scout/a.csv", b"a")
    guard.inject(Fault("error", status, code, "try later", method="HEAD"), times=2)
    assert store.info("scout/a.csv").size == 1
    assert len(fake_clock.sleeps) == 2


def test_dropped_connections_are_retried(store, guard, fake_clock):
    store.write("scout/a.csv", b"abc")
    guard.inject(Fault("drop", method="GET"), times=2)
    assert store.read_bytes("scout/a.csv") == b"abc"
    assert len(fake_clock.sleeps) == 2
    assert_exponential_with_jitter(fake_clock.sleeps)


def test_a_cut_stream_resumes_where_it_stopped(store, guard, fake_clock):
    data = bytes(range(256)) * 12_000
    store.write("scout/big.bin", data)
    guard.inject(Fault("truncate", method="GET"))
    assert b"".join(store.iter_bytes("scout/big.bin", chunk_size=64 * 1024)) == data
    first, resumed = guard.requests("GET")
    assert "range" not in first.headers
    assert resumed.headers["range"].startswith("bytes=") and resumed.headers["range"] != "bytes=0-"
    assert resumed.headers["if-match"] == f'"{store.info("scout/big.bin").etag}"'
    assert len(fake_clock.sleeps) == 1


def test_gives_up_after_the_limit_with_the_store_message(store, guard, fake_clock):
    guard.inject(Fault("error", 503, "SlowDown", "Please reduce your request rate.", method="PUT"), times=50)
    with pytest.raises(StorageUnavailable) as caught:
        store.write("scout/a.csv", b"a")
    message = caught.value.message
    assert "5 tries" in message and "Please reduce your request rate." in message and "SlowDown" in message
    assert "s3://" in message and "scout/a.csv" in message
    assert len(guard.requests("PUT")) == 5 and len(fake_clock.sleeps) == 4
    assert_exponential_with_jitter(fake_clock.sleeps)


def test_unreachable_endpoint_ends_in_storage_unavailable(fake_clock):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again when the block ends: nothing listens there
    retry = RetryPolicy(attempts=3, sleep=fake_clock.sleep)
    store = S3Storage(
        "s3://nowhere-bucket",
        endpoint_url=f"http://127.0.0.1:{port}",
        access_key="k",
        secret_key="s",
        retry=retry,
        clock=fake_clock,
    )
    with pytest.raises(StorageUnavailable, match="3 tries.*Could not connect"):
        store.info("scout/a.csv")
    assert len(fake_clock.sleeps) == 2


# --- permanent errors ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "status,code,error",
    [
        (403, "AccessDenied", AccessDenied),
        (403, "InvalidAccessKeyId", AccessDenied),
        (400, "KeyTooLongError", InvalidKey),
        (400, "InvalidArgument", StorageError),
    ],
)
def test_permanent_errors_are_not_retried(store, guard, fake_clock, status, code, error):
    guard.inject(Fault("error", status, code, "the store's own words", method="PUT"))
    with pytest.raises(error, match="the store's own words") as caught:
        store.write("scout/a.csv", b"a")
    assert not isinstance(caught.value, StorageUnavailable)
    assert fake_clock.sleeps == [] and len(guard.requests("PUT")) == 1


def test_missing_bucket_is_a_clear_storage_error(s3_server, s3_bucket):
    store = make_storage(s3_server, "no-such-bucket-here")
    with pytest.raises(StorageError, match="no-such-bucket-here.*does not exist"):
        store.write("scout/a.csv", b"a")
    with pytest.raises(StorageError, match="does not exist"):
        list(store.list(""))


def test_keys_too_long_for_s3_are_refused_before_any_request(store, guard):
    key = "scout/" + "é" * 600  # 606 characters, 1206 bytes of UTF-8 (+ the prefix)
    with pytest.raises(InvalidKey, match="too long"):
        store.write(key, b"x")
    assert guard.requests() == []


# --- signed URLs -----------------------------------------------------------------------------------
def query_of(url):
    return dict(parse_qsl(urlsplit(url).query))


def test_presigned_url_is_signed_as_of_the_injected_clock(store, guard, fake_clock, s3_server, s3_bucket):
    guard.clock = fake_clock
    store.write("scout/v1/gold/s/s.csv", b"bytes")
    fake_clock.set(datetime(2024, 8, 10, 2, 15, 0, 750_000, tzinfo=timezone.utc))
    signed = store.sign("scout/v1/gold/s/s.csv", ttl=300)
    params = query_of(signed.url)
    assert params["X-Amz-Date"] == "20240810T021500Z" and params["X-Amz-Expires"] == "300"
    assert signed.expires_at == datetime(2024, 8, 10, 2, 20, 0, tzinfo=timezone.utc)
    assert signed.url.startswith(f"{s3_server.endpoint_url}/{s3_bucket}/team/scout/scout/v1/gold/s/s.csv?")
    fake_clock.advance(299)  # 02:19:59.750: the URL still works
    assert requests.get(signed.url, timeout=10).content == b"bytes"
    fake_clock.advance(1)  # 02:20:00.750: past expires_at
    expired = requests.get(signed.url, timeout=10)
    assert expired.status_code == 403 and b"Request has expired" in expired.content


def test_url_signed_by_a_clock_in_the_past_is_born_expired(store, guard, fake_clock):
    """The clock semantics for servers that check expiry against real time (moto does not check)."""
    store.write("scout/a.csv", b"a")
    fake_clock.set(datetime.now(timezone.utc) - timedelta(hours=2))
    signed = store.sign("scout/a.csv", ttl=3600)
    assert signed.expires_at < datetime.now(timezone.utc)
    response = requests.get(signed.url, timeout=10)  # the guard checks against real time here
    assert response.status_code == 403 and b"Request has expired" in response.content


def test_tampered_presigned_url_is_refused(store, guard, fake_clock):
    guard.clock = fake_clock
    store.write("scout/a.csv", b"a")
    signed = store.sign("scout/a.csv", ttl=60)
    signature = query_of(signed.url)["X-Amz-Signature"]
    flipped = signed.url.replace(signature, ("0" if signature[0] != "0" else "1") + signature[1:])
    response = requests.get(flipped, timeout=10)
    assert response.status_code == 403 and b"SignatureDoesNotMatch" in response.content
    longer = signed.url.replace("X-Amz-Expires=60", "X-Amz-Expires=6000")
    assert requests.get(longer, timeout=10).status_code == 403


@pytest.mark.parametrize("ttl", [0, -1, 604801, 10**21, 1.5, "60", True, None])
def test_ttl_outside_one_second_to_seven_days_is_refused(store, ttl):
    store.write("scout/a.csv", b"a")
    with pytest.raises(InvalidTTL):
        store.sign("scout/a.csv", ttl)


def test_seven_day_ttl_is_the_maximum(store):
    store.write("scout/a.csv", b"a")
    assert query_of(store.sign("scout/a.csv", 604800).url)["X-Amz-Expires"] == "604800"


# --- configuration and secrets ---------------------------------------------------------------------
AWS_VARIABLES = [
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
]


@pytest.fixture
def clean_env(monkeypatch):
    for name in AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_settings_from_the_url_query(clean_env, s3_server, s3_bucket):
    clean_env.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    clean_env.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    store = open_storage(f"s3://{s3_bucket}/pre?endpoint_url={s3_server.endpoint_url}&region=eu-west-1")
    assert isinstance(store, S3Storage)
    assert (store.bucket, store.prefix, store.region) == (s3_bucket, "pre", "eu-west-1")
    store.write("scout/a.csv", b"via query")
    assert s3_server.client().get_object(Bucket=s3_bucket, Key="pre/scout/a.csv")["Body"].read() == b"via query"
    assert "/eu-west-1/s3/" in query_of(store.sign("scout/a.csv", 60).url)["X-Amz-Credential"]


def test_settings_from_the_aws_variables(clean_env, s3_server, s3_bucket):
    clean_env.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # the S3-specific one wins
    clean_env.setenv("AWS_ENDPOINT_URL_S3", s3_server.endpoint_url)
    clean_env.setenv("AWS_DEFAULT_REGION", "us-west-2")
    clean_env.setenv("AWS_REGION", "ap-southeast-1")  # AWS_REGION wins
    clean_env.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    clean_env.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    store = S3Storage(f"s3://{s3_bucket}")
    assert (store.endpoint_url, store.region, store.prefix) == (s3_server.endpoint_url, "ap-southeast-1", "")
    store.write("scout/a.csv", b"via env")
    assert store.read_bytes("scout/a.csv") == b"via env"


def test_constructor_beats_query_beats_environment(clean_env):
    clean_env.setenv("AWS_ENDPOINT_URL_S3", "http://env.example:1")
    clean_env.setenv("AWS_REGION", "env-region")
    url = "s3://bkt-x?endpoint_url=http://query.example:2&region=query-region"
    store = S3Storage(url, access_key="k", secret_key="s")
    assert (store.endpoint_url, store.region) == ("http://query.example:2", "query-region")
    store = S3Storage(url, endpoint_url="http://ctor.example:3", region="ctor-region", access_key="k", secret_key="s")
    assert (store.endpoint_url, store.region) == ("http://ctor.example:3", "ctor-region")


def test_custom_endpoint_means_path_style_under_its_base_path(clean_env):
    store = S3Storage(
        "s3://my-bucket/p",
        endpoint_url="https://abc.supabase.co/storage/v1/s3",
        region="eu-central-1",
        access_key="k",
        secret_key="s",
    )
    url = store._client.generate_presigned_url("get_object", Params={"Bucket": "my-bucket", "Key": "p/x.csv"})
    assert url.startswith("https://abc.supabase.co/storage/v1/s3/my-bucket/p/x.csv?")


@pytest.mark.parametrize(
    "url,words",
    [
        ("s3://", "Not an s3:// storage URL"),
        ("s3://bkt-x?endpoint=http://x", "Unknown s3:// URL option"),
        ("s3://bkt-x/../up", "Bad prefix"),
        ("s3://AKIAXXX:hunter2-secret@bkt-x", "Credentials in an s3:// URL are refused"),
        ("s3://bkt-x?endpoint_url=http://AKIAXXX:hunter2-secret@host:9000", "Credentials in the S3 endpoint URL"),
        ("s3://bkt-x?endpoint_url=ftp://host", "http(s) URL"),
    ],
)
def test_bad_urls_are_config_errors(clean_env, url, words):
    with pytest.raises(ConfigError, match=re.escape(words)) as caught:
        S3Storage(url, access_key="k", secret_key="s")
    assert "hunter2" not in caught.value.message


def test_half_a_key_pair_is_refused(clean_env):
    with pytest.raises(ConfigError, match="both access_key and secret_key"):
        S3Storage("s3://bkt-x", endpoint_url="http://127.0.0.1:9", access_key="only-this")


def test_credentials_never_appear_in_repr_logs_urls_or_errors(s3_server, s3_bucket, fake_clock, caplog):
    caplog.set_level(logging.DEBUG)
    guard = s3_server.guard
    store = make_storage(
        s3_server, s3_bucket, prefix="p", clock=fake_clock, retry=RetryPolicy(attempts=2, sleep=fake_clock.sleep)
    )
    store.write("scout/a.csv", b"a")
    signed = store.sign("scout/a.csv", 60)
    guard.inject(Fault("error", 503, "SlowDown", method="PUT"), times=2)
    guard.inject(Fault("error", 403, "AccessDenied", "Access Denied", method="HEAD"))
    errors = []
    for action in (
        lambda: store.write("scout/b.csv", b"b"),
        lambda: store.info("scout/a.csv"),
        lambda: store.info("scout/missing.csv"),
    ):
        with pytest.raises(ScoutError) as caught:
            action()
        errors.append(str(caught.value))
    secret = s3_server.secret_key
    for text in [repr(store), str(store.__dict__), signed.url, caplog.text, *errors]:
        assert secret not in text
    assert "retrying" in caplog.text  # the log did record the faults
