"""The one exception hierarchy of scout_jupyter.

Every error a user can cause or meet carries a stable ``code`` (the JSON error code of
DESIGN.md) and an HTTP ``status``; the server's base handler, the CLI and the magic all turn
these into their own one-line messages in one place each.
"""

from __future__ import annotations


class ScoutError(Exception):
    """Base class: ``code`` is the wire error code, ``status`` the HTTP status."""

    code = "scout_error"
    status = 500

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def to_json(self) -> dict:
        return {"error": self.code, "message": self.message}


class InvalidDatasetId(ScoutError):
    code, status = "invalid_dataset_id", 400


class InvalidTTL(ScoutError):
    code, status = "invalid_ttl", 400


class DatasetNotFound(ScoutError):
    code, status = "dataset_not_found", 404

    def __init__(self, dataset_id: str, suggestions: list[str] | None = None, message: str | None = None):
        self.dataset_id = dataset_id
        self.suggestions = list(suggestions or [])
        if message is None:
            message = f"Dataset not found: {dataset_id}"
            if self.suggestions:
                message += f" (did you mean {' or '.join(self.suggestions)}?)"
        super().__init__(message)


class AccessDenied(ScoutError):
    code, status = "access_denied", 403


class RateLimited(ScoutError):
    code, status = "rate_limited", 429

    def __init__(self, retry_after: int, message: str | None = None):
        self.retry_after = max(1, int(retry_after))
        super().__init__(message or f"Rate limit exceeded: retry in {self.retry_after} s")


class PublishInProgress(ScoutError):
    code, status = "publish_in_progress", 409


class ManifestInvalid(ScoutError):
    code, status = "manifest_invalid", 503


class StorageUnavailable(ScoutError):
    """The store could not be reached (after retries) or answered with a server fault."""

    code, status = "storage_unavailable", 503


class AccessLogUnavailable(ScoutError):
    code, status = "access_log_unavailable", 503


class InvalidRequest(ScoutError):
    """A malformed request parameter or body (format, date, days, JSON) for the server routes."""

    code, status = "invalid_request", 400


class JobNotFound(ScoutError):
    code, status = "job_not_found", 404


class ChecksumMismatch(ScoutError):
    code, status = "checksum_failed", 502


class ConfigError(ScoutError):
    """A bad setting or definition file (user error, reported in one line)."""

    code, status = "config_error", 400


class SchemaError(ScoutError):
    """A malformed table schema, or data that does not fit its schema."""

    code, status = "schema_error", 400


class StorageError(ScoutError):
    """A storage operation failed for a reason that retrying will not fix."""

    code, status = "storage_error", 502
    #: the storage service's own name for the error, when it gave one (Supabase: "InvalidRange" …)
    service_code: str = ""


class ObjectNotFound(StorageError):
    code, status = "object_not_found", 404


class ObjectExists(StorageError):
    code, status = "object_exists", 409


class InvalidKey(StorageError):
    """An object key that could escape the bucket or that the store cannot hold."""

    code, status = "invalid_key", 400
