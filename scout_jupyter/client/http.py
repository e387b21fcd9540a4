"""HTTP to the Scout server extension: one ``requests.Session``, one retry wrapper.

Transient faults (connection errors, timeouts, 5xx, and 429 when its ``Retry-After`` is short)
are retried with the shared :class:`RetryPolicy` (injectable sleep); a long ``Retry-After``
raises :class:`RateLimited` at once. Error answers ``{"error": code, "message": text}`` become
the matching :mod:`scout_jupyter.errors` exception carrying the server's own text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

from .. import __version__
from ..errors import (
    AccessDenied,
    ConfigError,
    DatasetNotFound,
    ObjectNotFound,
    RateLimited,
    ScoutError,
    StorageError,
    StorageUnavailable,
)
from ..storage.retry import RetryPolicy, TransientError

log = logging.getLogger(__name__)
T = TypeVar("T")

API_PREFIX = "scout/api/"
USER_AGENT = f"scout-jupyter/{__version__}"
#: 503 codes that retrying will not fix
_PERMANENT_5XX = {"manifest_invalid"}


class HttpTransient(TransientError):
    """A retryable HTTP fault; ``error`` is what to raise when the tries run out."""

    def __init__(self, message: str, error: ScoutError, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(message, status=status, retry_after=retry_after)
        self.error = error


def _error_classes() -> dict[str, type[ScoutError]]:
    found: dict[str, type[ScoutError]] = {}
    todo = [ScoutError]
    while todo:
        cls = todo.pop()
        found.setdefault(cls.code, cls)
        todo.extend(cls.__subclasses__())
    return found


def parse_retry_after(value: str | None, default: int = 1) -> int:
    try:
        return max(1, int(float(value))) if value is not None else default
    except ValueError:
        return default


def _login_refused(resp: requests.Response) -> bool:
    """A 401/403 from Jupyter's login, not from a Scout permission: the extension marks it
    ``"reason": "unauthenticated"``; a server without the extension sends no Scout code."""
    if resp.status_code not in (401, 403):
        return False
    try:
        body = resp.json()
    except ValueError:
        return True
    if not isinstance(body, dict):
        return True
    return body.get("reason") == "unauthenticated" or not isinstance(body.get("error"), str)


def error_from_response(resp: requests.Response, what: str = "") -> ScoutError:
    """The exception for an error answer, with the server's message."""
    status = resp.status_code
    try:
        body = resp.json()
    except ValueError:
        body = None
    body = body if isinstance(body, dict) else {}
    code = body.get("error") if isinstance(body.get("error"), str) else None
    message = str(body.get("message") or body.get("reason") or resp.reason or "").strip()
    if not message:
        message = (resp.text or "").strip().splitlines()[0][:200] if resp.text else f"HTTP {status}"
    if status == 429 or code == "rate_limited":
        # the server's own words name its limit; a proxy's or an older server's get ours
        own = message if message.startswith("Rate limit exceeded") else None
        return RateLimited(parse_retry_after(resp.headers.get("Retry-After")), own)
    if code == "dataset_not_found":
        return DatasetNotFound(what, message=message)
    cls = _error_classes().get(code or "")
    if cls is not None and cls not in (DatasetNotFound, RateLimited):
        return cls(message)
    if status in (401, 403):
        text = message if message.lower().startswith("access denied") else f"Access denied: {message}"
        return AccessDenied(f"{text} (HTTP {status})")
    if status == 404 and code is not None:
        return ObjectNotFound(message)
    if status == 404:
        return ConfigError(
            f"Not found on the Scout server: {what or resp.url} (HTTP 404); "
            "is the scout_jupyter server extension enabled?"
        )
    if status in (502, 503, 504) and code is None:  # a proxy (JupyterHub's) could not reach the service
        return StorageUnavailable(
            f"Scout service unreachable at {urlsplit(resp.url).netloc} (HTTP {status} from the proxy in front of it)"
        )
    if status >= 500:
        return StorageUnavailable(f"Scout server error (HTTP {status}): {message}")
    return StorageError(f"Scout server answered HTTP {status}: {message}")


def with_retry(policy: RetryPolicy, fn: Callable[[], T], describe: str) -> T:
    """``policy.call(fn)``; when the tries run out, raise the error the last fault stands for."""
    try:
        return policy.call(fn, describe=describe)
    except StorageUnavailable as exc:
        cause = exc.__cause__
        if isinstance(cause, HttpTransient):
            raise cause.error from None
        raise


#: Path segments where a Jupyter front end's pages start: what follows is not the server's base URL.
_FRONT_END_PAGES = ("lab", "tree", "notebooks", "doc", "edit", "voila", "consoles", "terminals")
_API_SUFFIXES = ("/scout/api", "/functions/v1")


def parse_server_url(url: str) -> tuple[str, str | None]:
    """``(base_url, token)`` from any URL of a Jupyter server: its base (``http://host:8888/``,
    ``…/user/ana/``), the Scout API under it, or the URL ``jupyter lab`` prints
    (``http://127.0.0.1:8888/lab?token=…``, ``…/lab/tree/x.ipynb?token=…``). ``token`` is the
    one in the URL's query, if any."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"SCOUT_API_URL must be an http(s) URL of the Jupyter server (e.g. the URL `jupyter lab` "
            f"printed), got {url!r}"
        )
    segments = [s for s in parts.path.split("/") if s]
    keep = 2 if segments[:1] == ["user"] else 0  # JupyterHub: /user/<name>/ is the base, whatever the name
    for index, segment in enumerate(segments[keep:], start=keep):
        if segment in _FRONT_END_PAGES:
            segments = segments[:index]
            break
    path = "/" + "/".join(segments) if segments else ""
    for suffix in _API_SUFFIXES:
        if path.endswith(suffix):
            path = path[: -len(suffix)]
    tokens = parse_qs(parts.query).get("token")
    return f"{parts.scheme}://{parts.netloc}{path}/", (tokens[0] if tokens else None)


def normalize_api_url(url: str) -> str:
    """The server's base URL (see :func:`parse_server_url`)."""
    return parse_server_url(url)[0]


class HttpApi:
    """Calls to ``<base>/scout/api/…`` with token auth, and plain GETs of signed URLs."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        session: requests.Session | None = None,
        retry: RetryPolicy | None = None,
        max_retry_after: float = 10.0,
        timeout: tuple[float, float] = (5.0, 60.0),
    ):
        self.base_url, url_token = parse_server_url(base_url)
        self.token = token or url_token
        self.session = session or requests.Session()
        self.session.headers.setdefault("User-Agent", USER_AGENT)
        self.retry = retry or RetryPolicy()
        self.max_retry_after = max_retry_after
        self.timeout = timeout

    def url(self, path: str) -> str:
        return urljoin(self.base_url, API_PREFIX + path.lstrip("/"))

    def absolute(self, url: str) -> str:
        """A signed URL as the server gave it, made absolute against the server."""
        return urljoin(self.base_url, url)

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"} if self.token else {}

    def send(
        self, method: str, url: str, *, auth: bool = True, what: str = "", ok: tuple[int, ...] = (), **kwargs: Any
    ) -> requests.Response:
        """One attempt. Returns a 2xx (or ``ok``) response; raises HttpTransient or a ScoutError."""
        headers = {**(self._auth() if auth else {}), **kwargs.pop("headers", {})}
        try:
            resp = self.session.request(method, url, headers=headers, timeout=self.timeout, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as exc:
            host = urlsplit(url).netloc
            raise HttpTransient(
                f"cannot reach {host}: {type(exc).__name__}",
                StorageUnavailable(f"Scout server unreachable at {host} ({type(exc).__name__})"),
            ) from exc
        if resp.status_code < 300 or resp.status_code in ok:
            return resp
        if auth and _login_refused(resp):
            resp.close()
            raise self._refused()
        error = error_from_response(resp, what)
        resp.close()
        if isinstance(error, RateLimited):
            if error.retry_after <= self.max_retry_after:
                raise HttpTransient(error.message, error, status=429, retry_after=error.retry_after)
            raise error
        if resp.status_code >= 500 and error.code not in _PERMANENT_5XX:
            raise HttpTransient(f"HTTP {resp.status_code}: {error.message}", error, status=resp.status_code)
        raise error

    def _refused(self) -> AccessDenied:
        """Jupyter itself (not the Scout extension) refused the request: the login is the problem."""
        where = f"The Jupyter server at {self.base_url}"
        if self.token:
            return AccessDenied(
                f"Access denied: {where} refused the token (from SCOUT_API_TOKEN, the URL's ?token=, "
                "or "
                "connect(token=...)); use the token of the URL `jupyter lab` printed, or "
                "`jupyter server list`"
            )
        return AccessDenied(
            f"Access denied: {where} needs a token: set SCOUT_API_TOKEN, or use the whole URL "
            "`jupyter lab` printed (with ?token=...) as SCOUT_API_URL"
        )

    def call(
        self, method: str, path: str, *, what: str = "", ok: tuple[int, ...] = (), **kwargs: Any
    ) -> requests.Response:
        """An API call with retries."""
        url = self.url(path)
        return with_retry(
            self.retry,
            lambda: self.send(method, url, what=what, ok=ok, **kwargs),
            describe=f"{method} {urlsplit(url).path}",
        )

    def json(self, method: str, path: str, *, what: str = "", **kwargs: Any) -> Any:
        resp = self.call(method, path, what=what, **kwargs)
        try:
            return resp.json()
        except ValueError:
            raise StorageError(f"The Scout server sent a non-JSON answer for {path}") from None

    def close(self) -> None:
        self.session.close()
