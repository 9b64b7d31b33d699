"""Errors at the HTTP edge, all shaped like OpenAI's: ``{"error": {message, type, param, code}}``.

:func:`install_error_handlers` registers one handler per kind of exception, and every one of
them ends in :func:`error_response`: the API's own :class:`ApiError`, FastAPI's validation
errors (422), Starlette's HTTP errors (unknown route 404, wrong method 405), patscape's typed
domain errors (mapped to statuses by :data:`DOMAIN_STATUS`) and anything unexpected (500, with
no internals in the message).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import (
    CorpusTooSmallError,
    IncompleteSpaceError,
    InputError,
    MissingDependencyError,
    ModelError,
    NotFoundError,
    PatscapeError,
    SpaceMismatchError,
    StoreBusyError,
    StoreError,
)

log = logging.getLogger(__name__)

#: The OpenAI error ``type`` for each status.
ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "invalid_request_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    501: "server_error",
    503: "server_error",
}

#: patscape's domain errors and the status each one means at the HTTP edge (most specific first).
DOMAIN_STATUS: tuple[tuple[type[PatscapeError], int, str], ...] = (
    (NotFoundError, 404, "not_found"),
    (MissingDependencyError, 501, "missing_dependency"),
    (ModelError, 400, "model_error"),
    (InputError, 400, "invalid_input"),
    (CorpusTooSmallError, 409, "corpus_too_small"),
    (IncompleteSpaceError, 409, "incomplete_space"),
    (SpaceMismatchError, 409, "space_mismatch"),
    (StoreBusyError, 503, "store_busy"),
    (StoreError, 503, "store_unavailable"),
    (PatscapeError, 400, "invalid_request"),
)


class ApiError(StarletteHTTPException):
    """An error the API reports as is: status, message and the OpenAI fields.

    It is an HTTP exception so that FastAPI lets it through unchanged even where it wraps
    other errors (e.g. while reading the request body).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(status, message, dict(headers or {}))
        self.status = status
        self.message = message
        self.param = param
        self.code = code


def error_body(status: int, message: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": ERROR_TYPES.get(status, "invalid_request_error"),
                      "param": param, "code": code}}


def error_response(
    status: int, message: str, *, param: str | None = None, code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(error_body(status, message, param, code), status_code=status, headers=dict(headers or {}))


def domain_error_status(exc: PatscapeError) -> tuple[int, str]:
    for kind, status, code in DOMAIN_STATUS:
        if isinstance(exc, kind):
            return status, code
    return 400, "invalid_request"  # pragma: no cover - PatscapeError is last in the table


def _validation_param(loc: tuple[Any, ...]) -> str | None:
    """The field a validation error is about, as ``a.b.0``; a client's field names are echoed
    with control characters escaped (``\\x0a``), so the message stays one line."""
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", ".".join(parts)) or None


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


async def _on_api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.message, param=exc.param, code=exc.code, headers=exc.headers)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    param = _validation_param(tuple(first.get("loc", ())))
    message = str(first.get("msg", "invalid request"))
    if first.get("type") == "json_invalid":
        message = "the request body is not valid JSON"
    elif param:
        message = f"{param}: {message}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return error_response(422, message, param=param, code="invalid_value")


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    if status == 404 and exc.detail in (None, "Not Found"):
        message = f"no route {request.method} {request.url.path}"
    elif status == 405:
        message = f"method {request.method} is not allowed on {request.url.path}"
    else:
        message = str(exc.detail)
    code = {404: "not_found", 405: "method_not_allowed"}.get(status)
    return error_response(status, message, code=code, headers=getattr(exc, "headers", None))


async def _on_domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PatscapeError)
    status, code = domain_error_status(exc)
    headers = {"Retry-After": "2"} if isinstance(exc, StoreBusyError) else None
    return error_response(status, str(exc), code=code, headers=headers)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(500, f"internal error ({type(exc).__name__}); see the server log", code="internal_error")


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers; after this every error leaves the app OpenAI-shaped."""
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(PatscapeError, _on_domain_error)
    app.add_exception_handler(Exception, _on_unexpected)
