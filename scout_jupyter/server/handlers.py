"""The REST routes of DESIGN.md: thin tornado handlers over :class:`~.service.ScoutService`.

:class:`ScoutHandler` is the one place that turns errors into ``{"error", "message"}`` JSON
(with ``Retry-After`` on 429), names the user, and writes the access-log row of each request.
:func:`route_table` is the whole URL map.
"""

from __future__ import annotations

import asyncio
import json
from http.client import responses
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import allow_unauthenticated, authorized
from jupyter_server.auth.identity import IdentityProvider, PasswordIdentityProvider
from jupyter_server.base.handlers import APIHandler
from tornado import web
from tornado.iostream import StreamClosedError
from tornado.web import HTTPError

from ..errors import RateLimited, ScoutError
from .accesslog import AccessRow
from .files import RangeNotSatisfiable, SignedFile, dataset_id_for_key, open_signed_file, parse_range
from .manifests import run_blocking
from .service import ScoutService, parse_publish_body

API = "/scout/api"
FILE_CHUNK = 512 * 1024
#: Jupyter's stock identity providers give every token-authenticated request without a cookie
#: a new random "Anonymous" user: all of them are the one holder of the server's token.
SHARED_TOKEN_PROVIDERS = (IdentityProvider, PasswordIdentityProvider)
HTTP_ERROR_CODES = {
    400: "invalid_request",
    401: "access_denied",
    403: "access_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "request_too_large",
}


def error_payload(exc: BaseException | None, status: int) -> tuple[int, dict[str, str]]:
    """The status and JSON body for an error; internal details never reach the client."""
    if isinstance(exc, ScoutError):
        return exc.status, exc.to_json()
    if isinstance(exc, HTTPError) or exc is None:
        code = HTTP_ERROR_CODES.get(status, "internal_error" if status >= 500 else "http_error")
        message = responses.get(status, "Error")
        if isinstance(exc, HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        if status == 403 and not message.lower().startswith("access denied"):
            message = f"Access denied: {message}"
        return status, {"error": code, "message": message}
    return 500, {"error": "internal_error", "message": "Internal server error (see the server log)"}


class ScoutHandler(APIHandler):
    """Base of every scout route: JSON errors, the user's name, the access-log row."""

    auth_resource = "scout:datasets"
    #: the access-log action of this route (None: the route is not logged)
    access_action: str | None = None

    def initialize(self) -> None:
        self.access_dataset: str | None = None
        self.access_ttl: int | None = None
        self.access_bytes: int | None = None
        self.error_code: str | None = None
        self._access_logged = False

    @property
    def service(self) -> ScoutService:
        return self.settings["scout_service"]

    @property
    def scout_user(self) -> str | None:
        """Who is asking (rate-limit key and log name); None before/without authentication."""
        user = getattr(self, "_jupyter_current_user", None)
        if not user:
            return None
        if type(self.identity_provider) in SHARED_TOKEN_PROVIDERS:
            return self.settings["scout_shared_token_user"]
        return user.username

    @property
    def signed_in_user(self) -> str:
        """The user of a ``@web.authenticated`` route, where there always is one."""
        user = self.scout_user
        if user is None:
            raise web.HTTPError(403)
        return user

    def raw_argument(self, name: str) -> str | None:
        """A query argument exactly as sent (tornado's get_argument strips and rewrites)."""
        values = self.request.query_arguments.get(name)
        return values[-1].decode("utf-8", "replace") if values else None

    def url_root(self) -> str:
        return f"{self.request.protocol}://{self.request.host}{self.base_url}"

    def finish_json(self, obj: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(obj))

    # --- errors -------------------------------------------------------------------------
    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = (kwargs.get("exc_info") or (None, None, None))[1]
        status, payload = error_payload(exc, status_code)
        if status in (401, 403) and not getattr(self, "_jupyter_current_user", None):
            # Jupyter refused the login itself (no token, a wrong one): say so, so a client can
            # tell a bad token from a permission the user lacks. "reason" is Jupyter's own error key.
            payload = {
                **payload,
                "message": "Access denied: this Jupyter server did not accept the request's "
                "credentials (no token, or a wrong one)",
                "reason": "unauthenticated",
            }
        self.set_status(status)
        if isinstance(exc, RateLimited):
            self.set_header("Retry-After", str(exc.retry_after))
        denial = getattr(self.authorizer, "denial", None)
        if status == 403 and type(exc) is HTTPError and denial is not None:  # the hub said no: say what it takes
            payload["message"] = denial(getattr(self, "_jupyter_current_user", None), self.auth_resource)
        self.error_code = payload["error"]
        self.finish(json.dumps(payload))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        """Log errors by path only: a query string may carry a signature."""
        where = f"{self.request.method} {self.request.path}"
        if isinstance(value, ScoutError):
            self.log.info("%s: %s %s", where, value.code, value.message)
        elif isinstance(value, HTTPError):
            self.log.warning("%s: HTTP %d %s", where, value.status_code, value.log_message or "")
        else:
            self.log.error("Uncaught exception in %s", where, exc_info=(typ, value, tb))

    # --- access log ---------------------------------------------------------------------
    def access_row(self) -> AccessRow:
        status = self.get_status()
        action = "deny" if status in (401, 403, 429) else self.access_action
        if action is None:
            raise RuntimeError(f"{type(self).__name__} is not a logged route (no access_action)")
        return AccessRow(
            action=action,
            status=status,
            accessed_at=self.service.clock.now(),
            user=self.scout_user,
            dataset_id=self.access_dataset,
            error_code=self.error_code,
            bytes=self.access_bytes,
            duration_ms=1000.0 * self.request.request_time(),
            client_addr=self.request.remote_ip,
            user_agent=self.request.headers.get("User-Agent"),
            ttl=self.access_ttl,
        )

    async def log_access_durable(self) -> None:
        """Write this request's row and wait until it is committed (AccessLogUnavailable)."""
        self._access_logged = True
        await self.service.access_log.write_durable(self.access_row())

    def on_finish(self) -> None:
        if self.access_action is None or self._access_logged or "scout_service" not in self.settings:
            return
        self._access_logged = True
        try:
            self.service.access_log.write(self.access_row())
        except Exception:  # noqa: BLE001 - logging must never break a finished request
            self.log.exception("Could not queue the access-log row of %s", self.request.path)


# --- dataset routes ---------------------------------------------------------------------------
class ManifestHandler(ScoutHandler):
    access_action = "manifest"

    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self._answer(include_body=True)

    @web.authenticated
    @authorized
    async def head(self) -> None:
        """The ETag alone: how the sidebar polls for a changed manifest without downloading it."""
        await self._answer(include_body=False)

    async def _answer(self, include_body: bool) -> None:
        cached = await self.service.manifest()
        self.set_header("ETag", cached.etag)
        self.set_header("Cache-Control", "private, no-cache")
        if cached.matches(self.request.headers.get("If-None-Match")):
            self.set_status(304)
            self.finish()
            return
        self.set_header("Content-Type", "application/json")
        if include_body:
            self.finish(cached.raw)
        else:
            self.set_header("Content-Length", str(len(cached.raw)))
            self.finish()


class DatasetsHandler(ScoutHandler):
    access_action = "list"

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.finish_json(await self.service.list_datasets())


class DatasetHandler(ScoutHandler):
    access_action = "info"

    @web.authenticated
    @authorized
    async def get(self, layer: str, name: str) -> None:
        self.access_dataset = f"{layer}/{name}"
        self.finish_json(await self.service.dataset_info(self.access_dataset))


class PreviewHandler(ScoutHandler):
    """The first rows and typed columns of a dataset, read on the server."""

    access_action = "preview"

    @web.authenticated
    @authorized
    async def get(self, layer: str, name: str) -> None:
        self.access_dataset = f"{layer}/{name}"
        self.finish_json(
            await self.service.preview(
                self.signed_in_user, self.access_dataset, self.raw_argument("limit"), self.raw_argument("columns")
            )
        )


class PermissionsHandler(ScoutHandler):
    """What the signed-in user may do, so a front end offers only what the server will allow."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        user = self.current_user
        allowed = {}
        for permission, action, resource in (
            ("publish", "write", "scout:publish"),
            ("analytics", "read", "scout:analytics"),
        ):
            allowed[permission] = bool(await ensure_async(self.authorizer.is_authorized(self, user, action, resource)))
        self.finish_json({"user": self.scout_user, "permissions": allowed})


class DatasetProxyHandler(ScoutHandler):
    """The original edge function's answer; also mounted at /functions/v1/dataset-proxy."""

    access_action = "sign"

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.access_dataset = self.raw_argument("dataset")
        grant = await self.service.sign_dataset_url(
            self.signed_in_user,
            self.access_dataset,
            self.raw_argument("ttl"),
            fmt=self.raw_argument("format"),
            date=self.raw_argument("date"),
        )
        self.access_ttl = grant.ttl
        await self.log_access_durable()  # fail closed: no row, no URL
        self.finish_json(grant.to_json(self.url_root()))


class SignedFileHandler(ScoutHandler):
    """Streams a local-backend object; the signature is the only credential."""

    access_action: str | None = "download"  # None for a HEAD

    @allow_unauthenticated
    async def get(self, key: str) -> None:
        await self._serve(key, include_body=True)

    @allow_unauthenticated
    async def head(self, key: str) -> None:
        self.access_action = None  # a HEAD is not a download
        await self._serve(key, include_body=False)

    async def _serve(self, key: str, include_body: bool) -> None:
        self.access_dataset = dataset_id_for_key(key)
        found: SignedFile = await run_blocking(
            open_signed_file,
            self.service.storage,
            key,
            self.raw_argument("expires"),
            self.raw_argument("scout_auth"),
            self.request.method,
        )
        self._set_file_headers(found)
        if self.request.headers.get("If-None-Match") == found.etag:
            self.set_status(304)
            self.finish(set_content_type=found.content_type)
            return
        try:
            span = parse_range(self.request.headers.get("Range"), found.size)
        except RangeNotSatisfiable:
            self.set_status(416)
            self.set_header("Content-Range", f"bytes */{found.size}")
            self.finish(set_content_type=found.content_type)
            return
        start, end = span or (0, found.size)
        if span is not None:
            self.set_status(206)
            self.set_header("Content-Range", f"bytes {start}-{end - 1}/{found.size}")
        self.set_header("Content-Length", str(end - start))
        if include_body:
            await self._stream(found, start, end)
        self.finish(set_content_type=found.content_type)

    def _set_file_headers(self, found: SignedFile) -> None:
        self.set_header("Content-Type", found.content_type)  # before the first flush
        self.set_header("Accept-Ranges", "bytes")
        self.set_header("ETag", found.etag)
        self.set_header("Last-Modified", found.last_modified)
        self.set_header("Cache-Control", "private, no-transform")
        self.set_header("Content-Disposition", f'attachment; filename="{found.filename}"')

    async def _stream(self, found: SignedFile, start: int, end: int) -> None:
        """Chunked reads off the loop, each written and flushed before the next is read."""
        loop = asyncio.get_running_loop()
        self.access_bytes = 0
        with open(found.path, "rb") as fh:
            fh.seek(start)
            remaining = end - start
            while remaining > 0:
                chunk = await loop.run_in_executor(None, fh.read, min(FILE_CHUNK, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                self.write(chunk)
                try:
                    await self.flush()
                except StreamClosedError:
                    self.error_code = "client_disconnected"
                    return
                self.access_bytes += len(chunk)


# --- publishing and analytics -----------------------------------------------------------------
class PublishHandler(ScoutHandler):
    auth_resource = "scout:publish"
    access_action = "publish"

    @web.authenticated
    @authorized
    async def post(self) -> None:
        datasets = parse_publish_body(self.request.body)
        job = await run_blocking(self.service.start_publish, datasets, self.scout_user)
        self.finish_json({"job_id": job.job_id}, status=202)


class JobsHandler(ScoutHandler):
    """The remembered jobs, newest first: scheduled runs show up here as well."""

    auth_resource = "scout:publish"

    @web.authenticated
    @authorized
    async def get(self) -> None:
        jobs = [{**job.to_json(), "started_by": job.user} for job in self.service.jobs.recent()]
        self.finish_json({"jobs": jobs})


class JobHandler(ScoutHandler):
    auth_resource = "scout:publish"

    @web.authenticated
    @authorized
    async def get(self, job_id: str) -> None:
        self.finish_json(self.service.job(job_id).to_json())


class AnalyticsHandler(ScoutHandler):
    auth_resource = "scout:analytics"

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.finish_json(await self.service.analytics(self.raw_argument("days")))


def route_table() -> list[tuple[str, type[ScoutHandler]]]:
    """Every route of the extension (patterns are joined to the server's base_url)."""
    return [
        (f"{API}/manifest", ManifestHandler),
        (f"{API}/datasets", DatasetsHandler),
        (f"{API}/datasets/([^/]+)/([^/]+)", DatasetHandler),
        (f"{API}/datasets/([^/]+)/([^/]+)/preview", PreviewHandler),
        (f"{API}/permissions", PermissionsHandler),
        (f"{API}/dataset-proxy", DatasetProxyHandler),
        ("/functions/v1/dataset-proxy", DatasetProxyHandler),
        ("/scout/files/(.+)", SignedFileHandler),
        (f"{API}/publish", PublishHandler),
        (f"{API}/jobs", JobsHandler),
        (f"{API}/jobs/([^/]+)", JobHandler),
        (f"{API}/access/analytics", AnalyticsHandler),
    ]
