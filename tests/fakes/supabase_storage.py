"""A faithful fake of Supabase Storage's REST API (as observed on storage-api 1.11), on loopback.

It answers the routes of /work/shared/NOTES.md ("Supabase Storage as it really answers") with the
documented bodies: errors are HTTP 400 (500 for internal faults) with the real status as a
*string* in the JSON body; only ``Authorization: Bearer <service key>`` authenticates (``apikey``
alone is anonymous: a download answers "Bucket not found", a listing ``[]``); signed URLs are HS256
JWTs ``{"url", "scope", "iat", "exp"}`` checked against an injectable clock; keys are ASCII only;
listing is one folder level with Postgres ``ILIKE`` matching, as the real ``storage.search`` does.

``faults.fail_next(n, kind, method=None)`` makes the next ``n`` matching requests fail:
``503`` (a gateway's plain-text 503), ``429`` (with Retry-After), ``db503`` (HTTP 400 whose body
says 503, as Supabase reports database overload), ``drop`` (connection closed before an answer),
``drop_after`` (the request takes effect, then the connection closes), ``cut`` (a download stops
half-way) and ``corrupt`` (an upload is stored with one byte flipped).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

import jwt
from werkzeug.http import http_date
from werkzeug.wrappers import Request, Response

from scout_jupyter.clock import SYSTEM_CLOCK, isoformat_z

from . import FaultInjector, LoopbackWSGIServer, drain, drop_connection

KEY_RE = re.compile(r"[A-Za-z0-9_/!.*'() &$=@;:+,?-]+")
FAULT_KINDS = ("503", "429", "db503", "drop", "drop_after", "cut", "corrupt")
BATCH_MISSING = "Either the object does not exist or you do not have access to it"
DEMO_JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"
_NO_TIME_CHECKS = {"verify_exp": False, "verify_iat": False, "verify_nbf": False}


class StorageFault(Exception):
    """An error answer as Supabase renders it."""

    def __init__(self, status: int, error: str, message: str, code: str):
        super().__init__(message)
        self.body = {"statusCode": str(status), "error": error, "message": message, "code": code}
        self.http_status = 500 if status >= 500 else 400


NOT_FOUND = (404, "not_found", "Object not found", "NoSuchKey")
BUCKET_NOT_FOUND = (404, "Bucket not found", "Bucket not found", "NoSuchKey")  # code as observed
DENIED = (403, "Unauthorized")


def _invalid(message: str, code: str = "InvalidRequest") -> StorageFault:
    return StorageFault(400, code, message, code)


def _json(body, status: int = 200) -> Response:
    return Response(json.dumps(body), status, content_type="application/json; charset=utf-8")


def _iso(ts: float) -> str:
    return isoformat_z(datetime.fromtimestamp(ts, timezone.utc))


def _ilike(pattern: str) -> re.Pattern:
    """Postgres ``ILIKE``: ``%`` any run, ``_`` any one character, case-insensitive."""
    body = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.compile(body + r"\Z", re.IGNORECASE | re.DOTALL)


@dataclass
class StoredObject:
    data: bytes
    content_type: str
    id: str
    version: str
    created: float
    updated: float

    @property
    def md5(self) -> str:
        return hashlib.md5(self.data).hexdigest()


class FakeSupabaseStorage(LoopbackWSGIServer):
    """Supabase Storage on ``127.0.0.1``: ``url`` is the API base (``mount`` = ``/storage/v1``
    imitates the hosted service, whose project URL is then ``project_url``)."""

    name = "fake-supabase-storage"

    def __init__(
        self,
        *,
        clock=None,
        mount: str = "",
        buckets=("scout",),
        jwt_secret: str = DEMO_JWT_SECRET,
        file_size_limit: int | None = None,
    ):
        super().__init__()
        self.clock = clock or SYSTEM_CLOCK
        self.mount = mount.rstrip("/")
        self.jwt_secret = jwt_secret
        self.file_size_limit = file_size_limit
        self.faults = FaultInjector(FAULT_KINDS)
        self.requests: list[dict] = []
        self._lock = threading.RLock()
        self._buckets: dict[str, dict[str, StoredObject]] = {name: {} for name in buckets}
        self.service_key = self._api_key("service_role")
        self.anon_key = self._api_key("anon")

    def _api_key(self, role: str) -> str:
        return jwt.encode({"iss": "supabase-demo", "role": role, "exp": 1983812996}, self.jwt_secret, algorithm="HS256")

    # --- test helpers -------------------------------------------------------------------------
    @property
    def project_url(self) -> str:
        return self.origin

    @property
    def url(self) -> str:
        return self.project_url + self.mount

    def create_bucket(self, name: str) -> None:
        with self._lock:
            self._buckets.setdefault(name, {})

    def get(self, bucket: str, key: str) -> bytes | None:
        with self._lock:
            obj = self._buckets.get(bucket, {}).get(key)
        return None if obj is None else obj.data

    def keys(self, bucket: str) -> list[str]:
        with self._lock:
            return sorted(self._buckets.get(bucket, {}))

    # --- WSGI ---------------------------------------------------------------------------------
    def wsgi_app(self, environ, start_response):
        req = Request(environ)
        self.requests.append(
            {"method": req.method, "path": req.path, "args": dict(req.args), "headers": dict(req.headers)}
        )
        kind = self.faults.take(req.method)
        if kind in ("503", "429", "db503", "drop"):
            drain(req.stream)
            response = self._fault_answer(kind, environ)
        else:
            try:
                response = self._dispatch(req, kind)
            except StorageFault as fault:
                response = _json(fault.body, fault.http_status)
            drain(req.stream)
            if kind == "drop_after":
                drop_connection(environ)
            elif kind == "cut" and response.status_code in (200, 206):
                response = self._cut(response, environ)
        return response(environ, start_response)

    @staticmethod
    def _fault_answer(kind: str, environ) -> Response:
        if kind == "503":
            return Response("upstream connect error or disconnect/reset before headers", 503, content_type="text/plain")
        if kind == "429":
            body = {
                "statusCode": "429",
                "error": "too_many_requests",
                "message": "Too many requests",
                "code": "SlowDown",
            }
            response = _json(body, 429)
            response.headers["Retry-After"] = "1"
            return response
        if kind == "db503":
            return _json(
                StorageFault(
                    503,
                    "DatabaseConnectionLimit",
                    "The database has reached its maximum number of connections. Please try again later.",
                    "DatabaseConnectionLimit",
                ).body,
                400,
            )
        drop_connection(environ)
        return Response(b"", 500)

    @staticmethod
    def _cut(response: Response, environ) -> Response:
        data = response.get_data()

        def half():
            yield data[: len(data) // 2]
            drop_connection(environ)

        cut = Response(half(), response.status_code, headers=list(response.headers.items()))
        cut.headers["Content-Length"] = str(len(data))
        return cut

    def _dispatch(self, req: Request, fault: str | None) -> Response:
        path = req.path
        if self.mount:
            if not path.startswith(self.mount + "/"):
                return _json({"message": "no Route matched with those values"}, 404)
            path = path[len(self.mount) :]
        if not path.startswith("/object/"):
            return _json(
                {"statusCode": 404, "error": "Not Found", "message": f"Route {req.method}:{path} not found"}, 404
            )
        head, _, rest = path[len("/object/") :].partition("/")
        if head == "sign" and req.method == "GET":
            return self._signed_download(req, rest)
        service = self._is_service(req)
        if head == "list" and req.method == "POST":
            return self._list(req, rest, service)
        if head == "info" and req.method == "GET":
            return _json(self._info(*rest.partition("/")[::2], service))
        if head == "sign" and req.method == "POST":
            return self._sign(req, rest, service)
        if req.method == "GET" and rest:
            if not service:
                raise StorageFault(*BUCKET_NOT_FOUND)
            return self._serve(req, self._object(head, rest))
        if req.method in ("POST", "PUT") and rest:
            return self._upload(req, head, rest, service, corrupt=fault == "corrupt")
        if req.method == "DELETE":
            return self._delete(req, head, rest, service)
        return _json({"statusCode": 404, "error": "Not Found", "message": f"Route {req.method}:{path} not found"}, 404)

    def _is_service(self, req: Request) -> bool:
        auth = req.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return False  # an apikey header alone is ignored: the request is anonymous
        try:
            claims = jwt.decode(auth[7:], self.jwt_secret, algorithms=["HS256"], options=_NO_TIME_CHECKS)
        except jwt.InvalidSignatureError:
            raise StorageFault(*DENIED, "signature verification failed", "AccessDenied") from None
        except jwt.PyJWTError:
            raise StorageFault(*DENIED, "Invalid Compact JWS", "AccessDenied") from None
        return claims.get("role") == "service_role"

    def _object(self, bucket: str, key: str) -> StoredObject:
        with self._lock:
            obj = self._buckets.get(bucket, {}).get(key)
        if obj is None:
            raise StorageFault(*NOT_FOUND)
        return obj

    @staticmethod
    def _body(req: Request) -> dict:
        try:
            body = json.loads(req.get_data() or b"null")
        except ValueError:
            raise _invalid("Body is not valid JSON") from None
        if not isinstance(body, dict):
            raise _invalid("body must be object")
        return body

    # --- objects ------------------------------------------------------------------------------
    def _serve(self, req: Request, obj: StoredObject, download: str | None = None) -> Response:
        etag = f'"{obj.md5}"'
        headers = {
            "ETag": etag,
            "Last-Modified": http_date(obj.updated),
            "Cache-Control": "max-age=3600",
            "Accept-Ranges": "bytes",
            "Content-Type": obj.content_type,
        }
        if download is not None:
            headers["Content-Disposition"] = f'attachment; filename="{download}"'
        wanted = [tag.strip() for tag in req.headers.get("If-None-Match", "").split(",")]
        if etag in wanted or "*" in wanted:
            return Response(b"", 304, {"ETag": etag, "Last-Modified": headers["Last-Modified"]})
        data, status = obj.data, 200
        if "Range" in req.headers:
            span = req.range.range_for_length(len(data)) if req.range else None
            if span is None:
                raise StorageFault(400, "invalid_range", "invalid range provided", "InvalidRange")
            data, status = data[span[0] : span[1]], 206
            headers["Content-Range"] = f"bytes {span[0]}-{span[1] - 1}/{len(obj.data)}"
        return Response(data, status, headers)

    def _upload(self, req: Request, bucket: str, key: str, service: bool, corrupt: bool) -> Response:
        if not service:
            raise StorageFault(*DENIED, "new row violates row-level security policy", "AccessDenied")
        if bucket not in self._buckets:
            raise StorageFault(*BUCKET_NOT_FOUND)
        if not KEY_RE.fullmatch(key):
            raise StorageFault(400, "InvalidKey", f"Invalid key: {key}", "InvalidKey")
        upsert = req.method == "PUT" or req.headers.get("x-upsert", "").lower() == "true"
        with self._lock:
            exists = key in self._buckets[bucket]
        if exists and not upsert:
            raise StorageFault(409, "Duplicate", "The resource already exists", "KeyAlreadyExists")
        data, content_type = self._read_upload(req)
        if self.file_size_limit is not None and len(data) > self.file_size_limit:
            raise StorageFault(
                413, "Payload too large", "The object exceeded the maximum allowed size", "EntityTooLarge"
            )
        if corrupt and data:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        now = self.clock.time()
        with self._lock:
            objects = self._buckets[bucket]
            previous = objects.get(key)
            if previous is not None and not upsert:
                raise StorageFault(409, "Duplicate", "The resource already exists", "KeyAlreadyExists")
            obj = StoredObject(
                data,
                content_type,
                previous.id if previous else str(uuid.uuid4()),
                str(uuid.uuid4()),
                previous.created if previous else now,
                now,
            )
            objects[key] = obj
        return _json({"Key": f"{bucket}/{key}", "Id": obj.id})

    @staticmethod
    def _read_upload(req: Request) -> tuple[bytes, str]:
        if req.mimetype == "multipart/form-data":  # supabase-js sends a form with one file
            upload = next(iter(req.files.values()), None)
            if upload is None:
                raise _invalid("No content provided")
            return upload.read(), upload.mimetype
        chunks = []
        try:
            while chunk := req.stream.read(1 << 16):
                chunks.append(chunk)
        except Exception:  # noqa: BLE001 - the client went away mid-body: store nothing
            raise _invalid("The upload was interrupted") from None
        length = req.headers.get("Content-Length")
        if length is not None and int(length) != sum(map(len, chunks)):
            raise _invalid("The upload was interrupted")
        return b"".join(chunks), req.headers.get("Content-Type") or "application/octet-stream"

    def _info(self, bucket: str, key: str, service: bool) -> dict:
        if not service:
            raise StorageFault(*NOT_FOUND)
        obj = self._object(bucket, key)
        return {
            "id": obj.id,
            "name": key,
            "version": obj.version,
            "bucket_id": bucket,
            "size": len(obj.data),
            "content_type": obj.content_type,
            "cache_control": "max-age=3600",
            "etag": f'"{obj.md5}"',
            "metadata": {},
            "last_modified": _iso(obj.updated),
            "created_at": _iso(obj.created),
        }

    @staticmethod
    def _file_entry(name: str, obj: StoredObject) -> dict:
        return {
            "name": name,
            "id": obj.id,
            "updated_at": _iso(obj.updated),
            "created_at": _iso(obj.created),
            "last_accessed_at": _iso(obj.updated),
            "metadata": {
                "eTag": f'"{obj.md5}"',
                "size": len(obj.data),
                "mimetype": obj.content_type,
                "cacheControl": "max-age=3600",
                "lastModified": _iso(obj.updated),
                "contentLength": len(obj.data),
                "httpStatusCode": 200,
            },
        }

    def _list(self, req: Request, bucket: str, service: bool) -> Response:
        body = self._body(req)
        if "prefix" not in body:
            raise _invalid("body must have required property 'prefix'")
        limit, offset = body.get("limit", 100), body.get("offset", 0)
        if not isinstance(limit, int) or limit < 1:
            raise _invalid("body/limit must be >= 1")
        if not isinstance(offset, int) or offset < 0:
            raise _invalid("body/offset must be >= 0")
        prefix = body["prefix"] or ""
        if prefix and not prefix.endswith("/"):
            prefix += "/"  # the server takes the prefix as a folder
        with self._lock:
            objects = dict(self._buckets.get(bucket, {})) if service else {}
        match = _ilike(prefix + (body.get("search") or "") + "%")
        level = prefix.count("/")
        names = {name.split("/")[level] for name in objects if match.match(name)}
        rows = [(name, objects.get(prefix + name)) for name in names]  # the join is exact
        sort = body.get("sortBy") or {}
        column, descending = sort.get("column", "name"), sort.get("order") == "desc"
        if column in ("updated_at", "created_at", "last_accessed_at"):
            attr = "created" if column == "created_at" else "updated"
            rows.sort(key=lambda r: (r[1] is None, getattr(r[1], attr, 0.0), r[0]), reverse=descending)
        else:
            rows.sort(key=lambda r: r[0], reverse=descending)
        page = rows[offset : offset + limit]
        return _json(
            [
                self._file_entry(name, obj)
                if obj is not None
                else {
                    "name": name,
                    "id": None,
                    "updated_at": None,
                    "created_at": None,
                    "last_accessed_at": None,
                    "metadata": None,
                }
                for name, obj in page
            ]
        )

    def _delete(self, req: Request, bucket: str, key: str, service: bool) -> Response:
        if not key:
            prefixes = self._body(req).get("prefixes")
            if not isinstance(prefixes, list) or not prefixes:
                raise _invalid("body must have required property 'prefixes'")
            removed = []
            with self._lock:
                objects = self._buckets.get(bucket, {}) if service else {}
                for name in prefixes:
                    if name in objects:
                        removed.append({**self._file_entry(name, objects.pop(name)), "bucket_id": bucket})
            return _json(removed)
        with self._lock:
            objects = self._buckets.get(bucket, {})
            if not service or objects.pop(key, None) is None:
                raise StorageFault(*NOT_FOUND)
        return _json({"message": "Successfully deleted"})

    # --- signed URLs --------------------------------------------------------------------------
    @staticmethod
    def _expires_in(body: dict) -> int:
        if "expiresIn" not in body:
            raise _invalid("body must have required property 'expiresIn'")
        value = body["expiresIn"]
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _invalid("body/expiresIn must be integer")
        if value < 1:
            raise _invalid("body/expiresIn must be >= 1")
        return value

    def _signed_url(self, bucket: str, key: str, expires_in: int) -> str:
        now = int(self.clock.time())
        token = jwt.encode(
            {"url": f"{bucket}/{key}", "scope": "download", "iat": now, "exp": now + expires_in},
            self.jwt_secret,
            algorithm="HS256",
        )
        return f"/object/sign/{bucket}/{key}?token={token}"  # the key is not URL-encoded, as observed

    def _sign(self, req: Request, rest: str, service: bool) -> Response:
        body = self._body(req)
        bucket, _, key = rest.partition("/")
        expires_in = self._expires_in(body)
        if key:
            if not service:
                raise StorageFault(*NOT_FOUND)
            self._object(bucket, key)
            return _json({"signedURL": self._signed_url(bucket, key, expires_in)})
        paths = body.get("paths")
        if not isinstance(paths, list) or not paths:
            raise _invalid("body must have required property 'paths'")
        with self._lock:
            objects = self._buckets.get(bucket, {}) if service else {}
            found = [isinstance(p, str) and p in objects for p in paths]
        return _json(
            [
                {"error": None, "path": p, "signedURL": self._signed_url(bucket, p, expires_in)}
                if ok
                else {"error": BATCH_MISSING, "path": p, "signedURL": None}
                for p, ok in zip(paths, found, strict=True)
            ]
        )

    def _signed_download(self, req: Request, rest: str) -> Response:
        token = req.args.get("token")
        if not token:
            raise _invalid("querystring must have required property 'token'")
        try:
            claims = jwt.decode(token, self.jwt_secret, algorithms=["HS256"], options=_NO_TIME_CHECKS)
        except jwt.InvalidSignatureError:
            raise _invalid("signature verification failed", "InvalidJWT") from None
        except jwt.PyJWTError:
            raise _invalid("Invalid Compact JWS", "InvalidJWT") from None
        exp = claims.get("exp")
        if isinstance(exp, (int, float)) and exp <= int(self.clock.time()):
            raise _invalid('"exp" claim timestamp check failed', "InvalidJWT")
        if claims.get("url") != rest:
            raise StorageFault(400, "InvalidSignature", "The url do not match the signature", "InvalidSignature")
        if claims.get("scope", "download") != "download":
            raise StorageFault(400, "InvalidSignature", "The scope do not match the signature", "InvalidSignature")
        bucket, _, key = rest.partition("/")
        download = req.args.get("download")
        if download == "":
            download = key.rsplit("/", 1)[-1]
        return self._serve(req, self._object(bucket, key), download)
