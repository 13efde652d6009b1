"""Error bodies as the contract states them, and their OpenAPI documentation."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

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
    422: "The body or the parameters are malformed.",
    503: "The database is unreachable for a moment; try again.",
}


def responses(*codes: int, conflict: bool = False) -> dict[int | str, dict[str, Any]]:
    documented: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        model: type[BaseModel] = ConflictDetail if (code == 409 and conflict) else ErrorDetail
        documented[code] = {"model": model, "description": _DESCRIPTIONS[code]}
    return documented
