"""Every error the client raises: one root, `CamloftClientError`, and this tree.

```
CamloftClientError
├── TransportError            the server could not be reached, or the connection broke
│   └── RequestTimeoutError   no answer in time
├── ProtocolError             an answer that is not what the API promises (not JSON, wrong shape)
├── NotLoggedInError          a call that needs a token, and no way to get one
└── APIError                  the server answered an error status ({"error", "message"})
    ├── BadRequestError       400: bad input (also a uidd that does not parse)
    ├── AuthenticationError   401: wrong password, a token or refresh credential refused
    ├── ForbiddenError        403: not enough right on the device (read or admin)
    ├── NotFoundError         404: no such device (or not visible), event, picture or video
    ├── ConflictError         409
    │   └── CameraOfflineError    409 camera_offline: the camera's adapter is not connected
    ├── RateLimitedError      429: too many failed logins; `retry_after` in seconds
    └── ServerError           5xx
```

httpx's own errors never leave the client: they become `TransportError`
(`raise ... from err`, so the cause stays in the traceback). `APIError`
carries the HTTP `status`, the server's stable `code` (e.g. `expired_token`,
`no_event`) and its `message`.
"""

from __future__ import annotations


class CamloftClientError(Exception):
    """Root of every error raised by `camloft.client`."""


class TransportError(CamloftClientError):
    """The request did not get an answer: connection refused or broken."""


class RequestTimeoutError(TransportError):
    """The server did not answer in time."""


class ProtocolError(CamloftClientError):
    """The server's answer does not have the shape the API promises."""


class NotLoggedInError(CamloftClientError):
    """A call needs a token and the client has neither a token nor a way to get one."""


class APIError(CamloftClientError):
    """The server answered with an error status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class BadRequestError(APIError):
    """400: the request was malformed."""


class AuthenticationError(APIError):
    """401: wrong email or password, or a token or refresh credential that is refused."""


class ForbiddenError(APIError):
    """403: the user lacks the right this needs on the device."""


class NotFoundError(APIError):
    """404: no such device, event, picture or recorded video (or not visible to this user)."""


class ConflictError(APIError):
    """409: the request conflicts with the server's state."""


class CameraOfflineError(ConflictError):
    """409 `camera_offline`: the camera's adapter is not connected to its logger."""


class RateLimitedError(APIError):
    """429: too many failed logins; try again after `retry_after` seconds."""

    def __init__(self, status: int, code: str, message: str, retry_after: float | None) -> None:
        super().__init__(status, code, message)
        self.retry_after = retry_after


class ServerError(APIError):
    """5xx: the server failed."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
}


def api_error(
    status: int, code: str, message: str, *, retry_after: float | None = None
) -> APIError:
    """The `APIError` subclass for an error answer."""
    if status == 429:
        return RateLimitedError(status, code, message, retry_after)
    if status == 409 and code == "camera_offline":
        return CameraOfflineError(status, code, message)
    if status >= 500:
        return ServerError(status, code, message)
    return _BY_STATUS.get(status, APIError)(status, code, message)
