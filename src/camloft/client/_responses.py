"""Reading answers: JSON bodies and error answers turned into `camloft.client.errors`."""

from __future__ import annotations

import json
from typing import Any

import httpx

from camloft.client.errors import ProtocolError, api_error


def json_body(response: httpx.Response) -> dict[str, Any]:
    """The answer's JSON object, or `ProtocolError`."""
    try:
        body = json.loads(response.content)
    except ValueError as err:
        raise ProtocolError(f"{response.request.url.path} answered no JSON") from err
    if not isinstance(body, dict):
        raise ProtocolError(f"{response.request.url.path} answered JSON that is not an object")
    return body


def json_value(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except ValueError as err:
        raise ProtocolError(f"{response.request.url.path} answered no JSON") from err


def error_code(response: httpx.Response) -> str:
    """The `error` field of a JSON error answer, or ''."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return ""
    code = body.get("error") if isinstance(body, dict) else None
    return code if isinstance(code, str) else ""


def raise_for_status(response: httpx.Response) -> None:
    """Raise the `APIError` of an error answer (its body must have been read)."""
    if response.status_code < 400:
        return
    code, message = "http_error", response.reason_phrase
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    if isinstance(body, dict):
        code = str(body.get("error") or code)
        message = str(body.get("message") or message)
    retry_after: float | None = None
    if response.status_code == 429:
        try:
            retry_after = float(response.headers.get("Retry-After", ""))
        except ValueError:
            retry_after = None
    raise api_error(response.status_code, code, message, retry_after=retry_after)
