"""Every refusal the API answers: one HTTP status per code, one body shape, and their OpenAPI.

Whatever refuses a request — a rule of the show (`Refusal`), FastAPI's validation, Starlette's
404 and 405, the database going away — the answer is `{"detail", "code", …}` (contract v1.1):
`detail` a sentence a person understands, `code` one of `app.domain.refusals.Code`, which
clients translate. `STATUS` is the only place a code meets its HTTP status.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.domain.refusals import Code, Refusal
from app.public import LiveState

logger = logging.getLogger("app")

STATUS: Mapping[Code, int] = {
    Code.INVALID_REQUEST: 422,
    Code.INVALID_DOCUMENT: 422,
    Code.TARGET_REQUIRED: 422,
    Code.TARGET_NOT_ALLOWED: 422,
    Code.UNAUTHENTICATED: 401,
    Code.FORBIDDEN: 403,
    Code.NOT_FOUND: 404,
    Code.METHOD_NOT_ALLOWED: 405,
    Code.NOT_ACCEPTABLE: 406,
    Code.PAYLOAD_TOO_LARGE: 413,
    Code.UNSUPPORTED_MEDIA_TYPE: 415,
    Code.PRECONDITION_FAILED: 412,
    Code.RATE_LIMITED: 429,
    Code.UNKNOWN_EVENT: 404,
    Code.UNKNOWN_ITEM: 404,
    Code.UNKNOWN_REGISTRATION: 404,
    Code.UNKNOWN_SESSION: 404,
    Code.VERSION_CONFLICT: 409,
    Code.NOT_STARTED: 409,
    Code.ALREADY_LIVE: 409,
    Code.ALREADY_ENDED: 409,
    Code.EMPTY_PROGRAMME: 409,
    Code.FIRST_ITEM: 409,
    Code.LAST_ITEM: 409,
    Code.ALREADY_ON_AIR: 409,
    Code.NOT_MYSTERY: 409,
    Code.ALREADY_REVEALED: 409,
    Code.LIVE_LOCKED: 409,
    Code.ITEM_STARTED: 409,
    Code.UNKNOWN_REVISION: 404,
    Code.UNKNOWN_RESOURCE: 404,
    Code.REGISTRATION_CLOSED: 409,
    Code.SESSION_FULL: 409,
    Code.SIGNUP_CLOSED: 409,
    Code.UNKNOWN_QUESTION: 404,
    Code.DUPLICATE_QUESTION: 409,
    Code.QUESTION_STATE: 409,
    Code.DATABASE_UNAVAILABLE: 503,
    Code.INTERNAL_ERROR: 500,
}

# The code of an HTTP error raised without one (Starlette's own 404 and 405, a bare HTTPException).
_CODE_OF_STATUS: Mapping[int, Code] = {
    400: Code.INVALID_REQUEST,
    401: Code.UNAUTHENTICATED,
    403: Code.FORBIDDEN,
    404: Code.NOT_FOUND,
    405: Code.METHOD_NOT_ALLOWED,
    406: Code.NOT_ACCEPTABLE,
    412: Code.PRECONDITION_FAILED,
    413: Code.PAYLOAD_TOO_LARGE,
    415: Code.UNSUPPORTED_MEDIA_TYPE,
    422: Code.INVALID_REQUEST,
    429: Code.RATE_LIMITED,
    503: Code.DATABASE_UNAVAILABLE,
}

_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")

# Headers a code's answer always carries.
_HEADERS: Mapping[Code, Mapping[str, str]] = {
    Code.UNAUTHENTICATED: {"WWW-Authenticate": "Bearer"},
    Code.DATABASE_UNAVAILABLE: {"Retry-After": "2"},
}


class ErrorDetail(BaseModel):
    detail: str = Field(description="A sentence a person understands.", examples=["There is no event « x »."])
    code: Code = Field(
        description="Why, as a stable code: clients translate it and never parse `detail`.",
        examples=["unknown_event"],
    )


class ConflictDetail(ErrorDetail):
    live: LiveState = Field(description="The show's current live state, to act on instead.")


class ProgrammeRefused(ErrorDetail):
    errors: list[str] = Field(
        description="Each problem, located by segment, item and field.",
        examples=[["segment 2 « Les élus à la manœuvre », item 1, field `title`: Field required"]],
    )


_DESCRIPTIONS = {
    400: "The request cannot be understood.",
    401: "No valid bearer token.",
    403: "The token's role may not do this.",
    404: "Unknown event, or unknown item `target`.",
    409: "The show moved on, or the action does not fit its state.",
    412: "`If-Match` names a version that is no longer current; nothing changed.",
    413: "The body (a file) is larger than allowed; nothing was read or stored.",
    415: "The body or the file is of a type this does not take.",
    422: "The body or the parameters are malformed: `detail` says how, `errors` lists each problem.",
    429: "Too many requests from this client; `Retry-After` says when to try again.",
    503: "The database is unreachable for a moment; try again.",
}


def responses(*statuses: int, conflict: bool = False) -> dict[int | str, dict[str, Any]]:
    """OpenAPI answers for these statuses, each listing the codes it may carry."""
    documented: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        model: type[BaseModel] = ConflictDetail if (status == 409 and conflict) else ErrorDetail
        documented[status] = {"model": model, "description": describe(status)}
    return documented


def describe(status: int) -> str:
    codes = ", ".join(f"`{code.value}`" for code, of in STATUS.items() if of == status)
    return _DESCRIPTIONS[status] + (f" Codes: {codes}." if codes else "")


def refusal_response(refusal: Refusal) -> JSONResponse:
    headers = {**_HEADERS.get(refusal.code, {}), **refusal.headers}
    return JSONResponse(status_code=STATUS[refusal.code], content=refusal.body(), headers=headers or None)


def validation_error(error: RequestValidationError) -> JSONResponse:
    """A malformed request, in the contract's shape: `detail` is a sentence, `errors` lists each problem.

    FastAPI's own answer puts a list in `detail` and echoes the input back; clients (and the
    OpenAPI document) expect a sentence, and an echoed input may be a password.
    """
    problems = [
        ".".join(str(part) for part in entry.get("loc", ())) + f": {entry.get('msg', 'invalid')}"
        for entry in error.errors()
    ]
    return refusal_response(
        Refusal(Code.INVALID_REQUEST, "The request is malformed: " + "; ".join(problems), errors=problems)
    )


def method_not_allowed(request: Request) -> JSONResponse:
    """405 with every method the path accepts in `Allow`, not only those of the first route that
    matched it (Starlette's answer, when GET and PUT of one path are two routes).

    Each method is tried against the routes as the router would (`BaseRoute.matches`): FastAPI
    nests included routers in routes of its own, which a walk over `Route`s would not see."""
    methods = {
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )
    }
    refusal = Refusal(
        Code.METHOD_NOT_ALLOWED,
        f"{request.method} is not allowed here.",
        headers={"Allow": ", ".join(sorted(methods))},
    )
    return refusal_response(refusal)


def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
    """An HTTP error raised without a code (Starlette's routing, a bare HTTPException)."""
    if error.status_code == 405:
        return method_not_allowed(request)
    code = _CODE_OF_STATUS.get(
        error.status_code, Code.INTERNAL_ERROR if error.status_code >= 500 else Code.INVALID_REQUEST
    )
    body = {"detail": str(error.detail), "code": code.value}
    return JSONResponse(status_code=error.status_code, content=body, headers=error.headers)


def install(app: FastAPI) -> None:
    """Answer every refusal of `app` in the contract's shape."""

    @app.exception_handler(Refusal)
    async def _refused(_request: Request, refusal: Refusal) -> JSONResponse:
        return refusal_response(refusal)

    @app.exception_handler(RequestValidationError)
    async def _malformed(_request: Request, error: RequestValidationError) -> JSONResponse:
        return validation_error(error)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        return http_error(request, error)

    async def _unavailable(request: Request, error: Exception) -> JSONResponse:
        if _bad_data(error):
            # SQLSTATE class 22 (a NUL byte, a number out of range): bad input, not an outage.
            return refusal_response(
                Refusal(Code.INVALID_REQUEST, "A value in the request cannot be stored (a NUL character?).")
            )
        logger.warning(
            "database unreachable during %s %s: %s", request.method, request.url.path, type(error).__name__
        )
        return refusal_response(
            Refusal(
                Code.DATABASE_UNAVAILABLE,
                "The database is unreachable for a moment; try again in a few seconds.",
            )
        )

    for error_type in (OperationalError, InterfaceError, DBAPIError, PoolTimeout, OSError, TimeoutError):
        app.add_exception_handler(error_type, _unavailable)

    @app.exception_handler(Exception)
    async def _internal(request: Request, error: Exception) -> JSONResponse:
        logger.exception("unexpected error during %s %s", request.method, request.url.path)
        return refusal_response(
            Refusal(Code.INTERNAL_ERROR, "Something went wrong on our side; it has been logged.")
        )


def _bad_data(error: Exception) -> bool:
    """Whether the database refused a value of the request (SQLSTATE 22xxx, "data exception")."""
    sqlstate = getattr(getattr(error, "orig", None), "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate.startswith("22")
