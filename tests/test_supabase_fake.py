"""The fake Supabase Storage server, checked with raw HTTP against the protocol notes
(/work/shared/NOTES.md, "Supabase Storage as it really answers"), so the backend's tests rest on
a fake that is itself tested."""

from __future__ import annotations

import hashlib
import json

import jwt
import pytest
import requests

from tests.fakes.supabase_storage import BATCH_MISSING, FakeSupabaseStorage

B = "scout"


@pytest.fixture
def fake(fake_clock):
    with FakeSupabaseStorage(clock=fake_clock, buckets=(B,)) as server:
        yield server


@pytest.fixture
def http(fake):
    """(method, path, **kwargs) -> Response, authenticated with the service key."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {fake.service_key}"

    def call(method, path, **kwargs):
        return session.request(method, fake.url + path, timeout=10, **kwargs)

    yield call
    session.close()


def _error(response) -> dict:
    assert response.status_code == 400  # the real status is in the body
    return response.json()


def test_routes_have_no_prefix_self_hosted_and_storage_v1_hosted(fake_clock):
    with FakeSupabaseStorage(clock=fake_clock, mount="/storage/v1", buckets=(B,)) as hosted:
        auth = {"Authorization": f"Bearer {hosted.service_key}"}
        assert hosted.url == hosted.project_url + "/storage/v1"
        ok = requests.post(f"{hosted.url}/object/{B}/a.csv", data=b"x", headers=auth, timeout=10)
        assert ok.status_code == 200
        bare = requests.post(f"{hosted.project_url}/object/{B}/b.csv", data=b"x", headers=auth, timeout=10)
        assert bare.status_code == 404 and hosted.keys(B) == ["a.csv"]


def test_upload_is_create_only_unless_upsert(fake, http):
    first = http("POST", f"/object/{B}/d/a.csv", data=b"1", headers={"Content-Type": "text/csv"})
    assert first.status_code == 200
    assert first.json()["Key"] == f"{B}/d/a.csv" and len(first.json()["Id"]) == 36
    again = http("POST", f"/object/{B}/d/a.csv", data=b"2")
    assert _error(again) == {
        "statusCode": "409",
        "error": "Duplicate",
        "message": "The resource already exists",
        "code": "KeyAlreadyExists",
    }
    assert http("POST", f"/object/{B}/d/a.csv", data=b"3", headers={"x-upsert": "true"}).status_code == 200
    assert fake.get(B, "d/a.csv") == b"3"
    assert http("PUT", f"/object/{B}/d/a.csv", data=b"4").status_code == 200
    assert http("PUT", f"/object/{B}/d/new.csv", data=b"5").status_code == 200  # PUT creates too
    assert fake.get(B, "d/a.csv") == b"4" and fake.get(B, "d/new.csv") == b"5"


def test_multipart_and_chunked_uploads(fake, http):
    files = {"": ("x.csv", b"a,b\n", "text/csv")}
    assert http("POST", f"/object/{B}/m.csv", files=files, data={"cacheControl": "3600"}).status_code == 200
    assert fake.get(B, "m.csv") == b"a,b\n"
    assert http("GET", f"/object/{B}/m.csv").headers["Content-Type"] == "text/csv"
    assert http("POST", f"/object/{B}/c.bin", data=iter([b"ab", b"cd"])).status_code == 200
    assert fake.get(B, "c.bin") == b"abcd"


def test_download_headers_range_and_conditional(fake, http):
    http("POST", f"/object/{B}/r.txt", data=b"0123456789", headers={"Content-Type": "text/plain"})
    full = http("GET", f"/object/{B}/r.txt")
    assert full.content == b"0123456789" and full.headers["Content-Type"] == "text/plain"
    assert full.headers["ETag"] == f'"{hashlib.md5(b"0123456789").hexdigest()}"'
    assert full.headers["Last-Modified"] == "Sat, 10 Aug 2024 02:15:00 GMT"  # the injected clock
    part = http("GET", f"/object/{B}/r.txt", headers={"Range": "bytes=3-6"})
    assert (part.status_code, part.content, part.headers["Content-Range"]) == (206, b"3456", "bytes 3-6/10")
    cached = http("GET", f"/object/{B}/r.txt", headers={"If-None-Match": full.headers["ETag"]})
    assert cached.status_code == 304 and cached.content == b""
    assert _error(http("GET", f"/object/{B}/r.txt", headers={"Range": "bytes=20-"}))["code"] == "InvalidRange"


def test_missing_object_is_400_with_404_in_the_body(http):
    body = _error(http("GET", f"/object/{B}/missing.csv"))
    assert body == {"statusCode": "404", "error": "not_found", "message": "Object not found", "code": "NoSuchKey"}
    assert _error(http("GET", f"/object/info/{B}/missing.csv"))["code"] == "NoSuchKey"
    assert _error(http("DELETE", f"/object/{B}/missing.csv"))["code"] == "NoSuchKey"
    assert _error(http("POST", "/object/no-bucket/a.csv", data=b"x"))["message"] == "Bucket not found"


def test_only_bearer_authenticates(fake, http):
    http("POST", f"/object/{B}/a.csv", data=b"x")
    apikey_only = {"apikey": fake.service_key}
    got = requests.get(f"{fake.url}/object/{B}/a.csv", headers=apikey_only, timeout=10)
    assert _error(got)["message"] == "Bucket not found"
    listed = requests.post(f"{fake.url}/object/list/{B}", json={"prefix": ""}, headers=apikey_only, timeout=10)
    assert listed.json() == []
    put = requests.post(f"{fake.url}/object/{B}/b.csv", data=b"x", headers=apikey_only, timeout=10)
    assert _error(put)["statusCode"] == "403" and fake.keys(B) == ["a.csv"]
    anon = requests.get(
        f"{fake.url}/object/{B}/a.csv", headers={"Authorization": f"Bearer {fake.anon_key}"}, timeout=10
    )
    assert _error(anon)["message"] == "Bucket not found"
    forged = jwt.encode({"role": "service_role"}, "x" * 40, algorithm="HS256")
    bad = requests.get(f"{fake.url}/object/{B}/a.csv", headers={"Authorization": f"Bearer {forged}"}, timeout=10)
    assert _error(bad) == {
        "statusCode": "403",
        "error": "Unauthorized",
        "message": "signature verification failed",
        "code": "AccessDenied",
    }


@pytest.mark.parametrize("key", ["é.csv", "a/naïve.csv", "日本.csv", "a#b", "a%b", "a\\b"])
def test_keys_are_ascii_only(fake, http, key):
    from urllib.parse import quote

    body = _error(http("POST", f"/object/{B}/{quote(key)}", data=b"x"))
    assert body["code"] == "InvalidKey" and body["message"] == f"Invalid key: {key}"
    assert fake.keys(B) == []


def test_info(http):
    http("POST", f"/object/{B}/i/x.csv", data=b"abc", headers={"Content-Type": "text/csv"})
    info = http("GET", f"/object/info/{B}/i/x.csv").json()
    assert {"id", "name", "version", "bucket_id", "size", "content_type", "etag", "last_modified", "created_at"} <= set(
        info
    )
    assert (info["name"], info["bucket_id"], info["size"], info["content_type"]) == ("i/x.csv", B, 3, "text/csv")
    assert info["etag"] == f'"{hashlib.md5(b"abc").hexdigest()}"'
    assert info["last_modified"] == "2024-08-10T02:15:00.000Z"


def test_list_is_one_level_with_folders(fake, fake_clock, http):
    for key in ["s/v1/b.csv", "s/v1/a.csv", "s/v1/g/x.csv", "s/v1/g/y/z.csv", "s/top.csv", "t.csv"]:
        fake_clock.advance(1)
        http("POST", f"/object/{B}/{key}", data=key.encode(), headers={"Content-Type": "text/csv"})

    def names(**body):
        response = http("POST", f"/object/list/{B}", json={"prefix": "s/v1", **body})
        return response.json()

    rows = names()
    assert [r["name"] for r in rows] == ["a.csv", "b.csv", "g"]
    folder = rows[2]
    assert folder == {
        "name": "g",
        "id": None,
        "updated_at": None,
        "created_at": None,
        "last_accessed_at": None,
        "metadata": None,
    }
    meta = rows[0]["metadata"]
    etag = f'"{hashlib.md5(b"s/v1/a.csv").hexdigest()}"'
    assert (meta["size"], meta["mimetype"], meta["eTag"]) == (10, "text/csv", etag)
    assert rows[0]["id"] and meta["lastModified"]
    assert [r["name"] for r in names(limit=2)] == ["a.csv", "b.csv"]
    assert [r["name"] for r in names(limit=2, offset=2)] == ["g"]
    assert [r["name"] for r in names(search="b")] == ["b.csv"]
    assert [r["name"] for r in names(sortBy={"column": "name", "order": "desc"})] == ["g", "b.csv", "a.csv"]
    assert [r["name"] for r in names(sortBy={"column": "updated_at", "order": "asc"})] == ["b.csv", "a.csv", "g"]
    top = http("POST", f"/object/list/{B}", json={"prefix": ""}).json()
    assert [r["name"] for r in top] == ["s", "t.csv"]
    assert http("POST", "/object/list/no-bucket", json={"prefix": ""}).json() == []
    assert _error(http("POST", f"/object/list/{B}", json={}))["code"] == "InvalidRequest"


def test_list_matches_like_postgres_ilike(http):
    for key in ["a_b/x.csv", "aXb/y.csv", "A_B/z.csv"]:
        http("POST", f"/object/{B}/{key}", data=b"1")
    rows = http("POST", f"/object/list/{B}", json={"prefix": "a_b/"}).json()
    # ILIKE: "_" is a wildcard and case is ignored; only the exact name joins to an object
    assert sorted((r["name"], r["id"] is not None) for r in rows) == [
        ("x.csv", True),
        ("y.csv", False),
        ("z.csv", False),
    ]


def test_delete_and_bulk_delete(fake, http):
    for key in ["a.csv", "b.csv", "c.csv"]:
        http("POST", f"/object/{B}/{key}", data=b"1")
    assert http("DELETE", f"/object/{B}/a.csv").json() == {"message": "Successfully deleted"}
    removed = http("DELETE", f"/object/{B}", json={"prefixes": ["b.csv", "nope.csv"]}).json()
    assert [r["name"] for r in removed] == ["b.csv"] and removed[0]["bucket_id"] == B
    assert fake.keys(B) == ["c.csv"]


def test_sign_single_and_batch(fake, fake_clock, http):
    http("POST", f"/object/{B}/a b/x.csv", data=b"secret", headers={"Content-Type": "text/csv"})
    signed = http("POST", f"/object/sign/{B}/a%20b/x.csv", json={"expiresIn": 60}).json()["signedURL"]
    assert signed.startswith(f"/object/sign/{B}/a b/x.csv?token=")  # relative, key not URL-encoded
    token = signed.split("?token=")[1]
    claims = jwt.decode(token, fake.jwt_secret, algorithms=["HS256"], options={"verify_exp": False})
    now = int(fake_clock.time())
    assert claims == {"url": f"{B}/a b/x.csv", "scope": "download", "iat": now, "exp": now + 60}
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    got = requests.get(f"{fake.url}/object/sign/{B}/a%20b/x.csv?token={token}&download=", timeout=10)
    assert got.status_code == 200 and got.content == b"secret"
    assert got.headers["Content-Disposition"] == 'attachment; filename="x.csv"'
    batch = http("POST", f"/object/sign/{B}", json={"expiresIn": 60, "paths": ["a b/x.csv", "none.csv"]}).json()
    assert batch[0]["error"] is None and batch[0]["signedURL"].startswith(f"/object/sign/{B}/a b/x.csv?token=")
    assert batch[1] == {"error": BATCH_MISSING, "path": "none.csv", "signedURL": None}
    assert _error(http("POST", f"/object/sign/{B}/none.csv", json={"expiresIn": 60}))["code"] == "NoSuchKey"


@pytest.mark.parametrize(
    "body, message",
    [
        ({}, "body must have required property 'expiresIn'"),
        ({"expiresIn": 0}, "body/expiresIn must be >= 1"),
        ({"expiresIn": "60"}, "body/expiresIn must be integer"),
    ],
)
def test_sign_needs_a_positive_expiry(http, body, message):
    http("POST", f"/object/{B}/a.csv", data=b"x")
    assert _error(http("POST", f"/object/sign/{B}/a.csv", json=body)) == {
        "statusCode": "400",
        "error": "InvalidRequest",
        "message": message,
        "code": "InvalidRequest",
    }


def _token_for(http, key="a.csv", ttl=60):
    http("POST", f"/object/{B}/{key}", data=b"secret-" + key.encode())
    return http("POST", f"/object/sign/{B}/{key}", json={"expiresIn": ttl}).json()["signedURL"].split("token=")[1]


@pytest.mark.parametrize(
    "mutation, code, message",
    [
        ("expired", "InvalidJWT", '"exp" claim timestamp check failed'),
        ("tampered", "InvalidJWT", "signature verification failed"),
        ("garbage", "InvalidJWT", "Invalid Compact JWS"),
        ("other_path", "InvalidSignature", "The url do not match the signature"),
        ("missing", "InvalidRequest", "querystring must have required property 'token'"),
        ("upload_scope", "InvalidSignature", "The scope do not match the signature"),
    ],
)
def test_signed_get_refusals(fake, fake_clock, http, mutation, code, message):
    token, path = _token_for(http), "a.csv"
    _token_for(http, "b.csv")
    if mutation == "expired":
        fake_clock.advance(60)
    elif mutation == "tampered":
        head, payload, sig = token.split(".")
        claims = json.loads(jwt.utils.base64url_decode(payload))
        claims["exp"] += 3600
        token = ".".join([head, jwt.utils.base64url_encode(json.dumps(claims).encode()).decode(), sig])
    elif mutation == "garbage":
        token = "not.a.jwt"
    elif mutation == "other_path":
        path = "b.csv"
    elif mutation == "upload_scope":
        token = jwt.encode(
            {"url": f"{B}/a.csv", "scope": "upload", "exp": int(fake_clock.time()) + 60},
            fake.jwt_secret,
            algorithm="HS256",
        )
    query = "" if mutation == "missing" else f"?token={token}"
    got = requests.get(f"{fake.url}/object/sign/{B}/{path}{query}", timeout=10)
    body = _error(got)
    assert (body["code"], body["message"]) == (code, message)
    assert b"secret" not in got.content


def test_signed_get_valid_until_expiry(fake, fake_clock, http):
    token = _token_for(http, ttl=60)
    fake_clock.advance(59)
    assert requests.get(f"{fake.url}/object/sign/{B}/a.csv?token={token}", timeout=10).status_code == 200


# --- fault injection ------------------------------------------------------------------------------
def test_faults(fake, http):
    http("POST", f"/object/{B}/big.bin", data=b"x" * 10_000)
    fake.faults.fail_next(1, "503")
    assert http("GET", f"/object/{B}/big.bin").status_code == 503
    fake.faults.fail_next(1, "db503")
    assert _error(http("GET", f"/object/{B}/big.bin"))["statusCode"] == "503"
    fake.faults.fail_next(1, "429")
    assert http("GET", f"/object/{B}/big.bin").headers["Retry-After"] == "1"
    fake.faults.fail_next(1, "drop")
    with pytest.raises(requests.ConnectionError):
        http("GET", f"/object/{B}/big.bin")
    fake.faults.fail_next(1, "cut", method="GET")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        http("GET", f"/object/{B}/big.bin")
    fake.faults.fail_next(1, "drop_after", method="POST")
    with pytest.raises(requests.ConnectionError):
        http("POST", f"/object/{B}/after.bin", data=b"kept")
    assert fake.get(B, "after.bin") == b"kept"
    fake.faults.fail_next(1, "corrupt", method="POST")
    http("POST", f"/object/{B}/bad.bin", data=b"abc")
    assert fake.get(B, "bad.bin") != b"abc"
    assert fake.faults.pending == 0 and http("GET", f"/object/{B}/big.bin").status_code == 200
    with pytest.raises(ValueError):
        fake.faults.fail_next(1, "meteor")


def test_interrupted_upload_stores_nothing(fake):
    def body():
        yield b"partial"
        raise OSError("client died")

    with pytest.raises((OSError, requests.ConnectionError)):
        requests.post(
            f"{fake.url}/object/{B}/p.bin",
            data=body(),
            timeout=10,
            headers={"Authorization": f"Bearer {fake.service_key}"},
        )
    requests.get(f"{fake.url}/object/{B}/p.bin", timeout=10)  # the server is still answering
    assert fake.keys(B) == []
