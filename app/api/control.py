"""Moderators' commands on a show."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import BroadcastDep, ClockDep, Moderator, SessionsDep, SnapshotsDep
from app.api.errors import responses
from app.api.examples import example
from app.domain import show
from app.live.hub import channel_name
from app.public import LiveState, live_message, live_state
from app.services import control

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/events", tags=["control"])


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
    expected_version: int = Field(ge=0, description="The version the moderator saw when pressing.")
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
    slug: str,
    request: ControlRequest,
    user: Moderator,
    sessions: SessionsDep,
    broadcast: BroadcastDep,
    snapshots: SnapshotsDep,
    clock: ClockDep,
) -> LiveState:
    command = show.Command(show.Action(request.action), request.target or None)
    at = clock()
    try:
        programme = await control.execute(
            sessions,
            slug=slug,
            command=command,
            expected_version=request.expected_version,
            at=at,
            actor=user.name,
        )
    except (control.VersionConflict, control.Refused) as refused:
        # A 409 carries the state it was judged on, so the moderator acts on what is true.
        live = live_state(refused.programme, server_time=clock())
        refused.fields["live"] = live.model_dump(mode="json")
        raise
    logger.info("%s: %s by %s → version %d", slug, request.action, user.name, programme.event.version)
    snapshots.keep(programme)
    state = live_state(programme, server_time=clock())
    await broadcast.publish(channel_name(slug), live_message(state))
    return state
