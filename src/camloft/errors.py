"""The one exception tree of camloft, and the HTTP status each error answers with.

    CamloftError
    ├── BadRequest            400  malformed ids, parameters or bodies
    │   └── InvalidId         400  a uid, device id or uidd that does not parse
    ├── Unauthorized          401  a token or login that is missing, expired or forged
    ├── Forbidden             403  a valid user without the right asked for
    ├── NotFound              404  no such user, device, grant or route
    ├── Conflict              409  the thing exists already
    ├── TooManyRequests       429  throttled; `retry_after` says for how long
    ├── Unavailable           503  not there yet (a live stream that has not started);
    │   │                          `retry_after` says when to ask again
    │   └── BlobStoreUnavailable  503  the object store (S3) failed to store, read or delete
    └── ConfigError           a setting that cannot start the server (never an HTTP answer)

Roles raise these; one handler (`camloft.webapi.errors`) turns them into JSON
answers `{"error": <code>, "message": <text>}`. Nothing here imports a web framework.
"""

from __future__ import annotations


class CamloftError(Exception):
    """Root of every error camloft raises on purpose."""

    status_code = 500
    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class BadRequest(CamloftError):
    status_code = 400
    code = "bad_request"


class InvalidId(BadRequest):
    code = "invalid_id"


class Unauthorized(CamloftError):
    status_code = 401
    code = "unauthorized"


class Forbidden(CamloftError):
    status_code = 403
    code = "forbidden"


class NotFound(CamloftError):
    status_code = 404
    code = "not_found"


class Conflict(CamloftError):
    status_code = 409
    code = "conflict"


class TooManyRequests(CamloftError):
    status_code = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(CamloftError):
    status_code = 503
    code = "unavailable"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class BlobStoreUnavailable(Unavailable):
    code = "blob_store_unavailable"


class ConfigError(CamloftError):
    code = "config_error"
