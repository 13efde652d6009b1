"""Moderators' commands on a show."""

from __future__ import annotations

import logging
from typing import Self

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.api.deps import BroadcastDep, ClockDep, Moderator, SessionsDep, SnapshotsDep
from app.api.errors import ConflictDetail, responses
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
            # What `_target_when_needed` checks, said in the schema so that clients know it too.
            "if": {"properties": {"action": {"enum": ["goto", "reveal"]}}, "required": ["action"]},
            "then": {"properties": {"target": {"type": "string", "minLength": 1}}, "required": ["target"]},
        },
    )

    action: show.Action
    expected_version: int = Field(ge=0, description="The version the moderator saw when pressing.")
    target: str | None = Field(default=None, description="The item id, for `goto` and `reveal`.")

    @model_validator(mode="after")
    def _target_when_needed(self) -> Self:
        if self.action in (show.Action.GOTO, show.Action.REVEAL) and not self.target:
            raise ValueError(f"`{self.action.value}` needs a `target` item id")
        return self


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
) -> LiveState | JSONResponse:
    at = clock()
    try:
        programme = await control.execute(
            sessions,
            slug=slug,
            command=show.Command(request.action, request.target),
            expected_version=request.expected_version,
            at=at,
            actor=user.name,
        )
    except control.VersionConflict as conflict:
        return _conflict(str(conflict), live_state(conflict.programme, server_time=clock()))
    except control.Refused as refused:
        return _conflict(str(refused), live_state(refused.programme, server_time=clock()))
    logger.info("%s: %s by %s → version %d", slug, request.action.value, user.name, programme.event.version)
    snapshots.keep(programme)
    state = live_state(programme, server_time=clock())
    await broadcast.publish(channel_name(slug), live_message(state))
    return state


def _conflict(detail: str, live: LiveState) -> JSONResponse:
    return JSONResponse(
        status_code=409, content=ConflictDetail(detail=detail, live=live).model_dump(mode="json")
    )
