"""One place that turns errors into JSON answers: `{"error": <code>, "message": <text>}`.

Our own `CamloftError`s keep their status; FastAPI's request validation
becomes a 400; Starlette's HTTP errors (unknown route, wrong method) keep
theirs; anything unexpected is logged with its traceback and answered with a
500 that shows none of it.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from camloft.errors import CamloftError, TooManyRequests, Unavailable

log = logging.getLogger("camloft")


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=headers)


async def _camloft_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CamloftError)
    headers = None
    if isinstance(exc, TooManyRequests | Unavailable):
        headers = {"Retry-After": str(exc.retry_after)}
    return error_response(exc.status_code, exc.code, exc.message, headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for error in exc.errors()[:5]:
        where = ".".join(str(part) for part in error.get("loc", ()))
        problems.append(f"{where}: {error.get('msg', 'invalid')}")
    return error_response(400, "bad_request", "; ".join(problems) or "invalid request")


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    codes = {404: "not_found", 405: "method_not_allowed"}
    return error_response(
        exc.status_code,
        codes.get(exc.status_code, "http_error"),
        str(exc.detail),
        dict(exc.headers) if exc.headers else None,
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "the server failed; the error is logged")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(CamloftError, _camloft_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
