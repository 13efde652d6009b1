"""Moderators' commands on a show."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from app.api.deps import ClockDep, Moderator, ShowsDep
from app.api.errors import responses
from app.api.examples import example
from app.domain import show
from app.public import LiveState, live_state
from app.services import control

router = APIRouter(prefix="/events", tags=["control"])


def _a_json_number(value: Any) -> Any:
    """`"1"` or `true` is a client's bug to be told about, not a version to guess at (pydantic
    would take both). `3.0` stays an integer, as JSON Schema says it is."""
    if isinstance(value, str | bool):
        raise ValueError("must be an integer, not a string or a boolean")
    return value


class ControlRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"action": "next", "expected_version": 3, "target": None},
                {"action": "reveal", "expected_version": 7, "target": "invite-mystere-1"},
            ],
            # What `show.Command` checks, said in the schema so that clients know it too.
            "if": {
                "properties": {"action": {"enum": [a.value for a in show.COMMAND_ACTIONS if a.takes_target]}},
                "required": ["action"],
            },
            "then": {"properties": {"target": {"type": "string", "minLength": 1}}, "required": ["target"]},
            "else": {"properties": {"target": {"type": "null"}}},
        },
    )

    action: show.CommandAction
    expected_version: Annotated[int, BeforeValidator(_a_json_number)] = Field(
        ge=0, le=2**53, description="The version the moderator saw when pressing (an integer)."
    )
    target: str | None = Field(
        default=None,
        description="The item id, for `goto` and `reveal` (422 `target_required` without it); "
        "null for the other actions (422 `target_not_allowed`).",
    )


@router.post(
    "/{slug}/control",
    response_model=LiveState,
    responses={200: example("LIVE"), **responses(400, 401, 403, 404, 409, 422, 503, conflict=True)},
    summary="Advance the show: start, next, previous, goto, reveal, end",
)
async def post_control(
    slug: str, request: ControlRequest, user: Moderator, shows: ShowsDep, clock: ClockDep
) -> LiveState:
    command = show.Command(show.Action(request.action), request.target or None)
    try:
        return await shows.press(slug, command, expected_version=request.expected_version, actor=user.name)
    except (control.VersionConflict, control.Refused) as refused:
        # A 409 carries the state it was judged on, so the moderator acts on what is true.
        live = live_state(refused.programme, server_time=clock())
        refused.fields["live"] = live.model_dump(mode="json")
        raise
