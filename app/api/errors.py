"""Error bodies as the contract states them, and their OpenAPI documentation."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.routing import Match, Route

from app.public import LiveState


class ErrorDetail(BaseModel):
    detail: str = Field(description="A sentence a person understands.", examples=["There is no event « x »."])


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
    422: "The body or the parameters are malformed: `detail` says how, `errors` lists each problem.",
    503: "The database is unreachable for a moment; try again.",
}


def responses(*codes: int, conflict: bool = False) -> dict[int | str, dict[str, Any]]:
    documented: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        model: type[BaseModel] = ConflictDetail if (code == 409 and conflict) else ErrorDetail
        documented[code] = {"model": model, "description": _DESCRIPTIONS[code]}
    return documented


def validation_error(error: RequestValidationError) -> JSONResponse:
    """A malformed request, in the contract's shape: `detail` is a sentence, `errors` lists each problem.

    FastAPI's own answer puts a list in `detail` and echoes the input back; clients (and the
    OpenAPI document) expect a sentence, and an echoed input may be a password.
    """
    problems = [
        ".".join(str(part) for part in entry.get("loc", ())) + f": {entry.get('msg', 'invalid')}"
        for entry in error.errors()
    ]
    body = ProgrammeRefused(detail="The request is malformed: " + "; ".join(problems), errors=problems)
    return JSONResponse(status_code=422, content=body.model_dump())


def method_not_allowed(request: Request) -> JSONResponse:
    """405 with every method the path accepts in `Allow`, not only those of the first route that
    matched it (Starlette's answer, when GET and PUT of one path are two routes)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.methods and route.matches(request.scope)[0] is not Match.NONE:
            methods |= route.methods
    return JSONResponse(
        status_code=405,
        content={"detail": f"{request.method} is not allowed here."},
        headers={"Allow": ", ".join(sorted(methods))},
    )
