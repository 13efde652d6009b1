"""Presence: how many follow a show now, its peak, the curve; and the frontend's reports."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import ClockDep, Moderator, SessionDep, SettingsDep
from app.api.errors import responses
from app.api.relay import RELAY_HEADER, is_relayed
from app.domain.refusals import Code, Refusal
from app.services import audience
from app.services.audience import Presence
from app.services.programmes import load_programme

router = APIRouter(prefix="/events", tags=["audience"])


async def _presence(request: Request) -> Presence:
    presence: Presence = request.app.state.presence
    return presence


PresenceDep = Annotated[Presence, Depends(_presence)]


class AudienceNow(BaseModel):
    viewers: int = Field(description="Everyone following now, on every process, counted within 5 s.")
    peak: int = Field(description="The most viewers at once so far.")
    peak_at: datetime | None = Field(description="When the peak was reached (null before any viewer).")


class AudiencePoint(BaseModel):
    at: datetime = Field(description="The minute (UTC).")
    viewers: int = Field(description="The most viewers at once during that minute.")


class AudienceCurve(BaseModel):
    points: list[AudiencePoint]


class AudienceReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reporter: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$", description="The reporting process's own name.")
    viewers: int = Field(ge=0, le=1_000_000)


@router.get(
    "/{slug}/audience",
    response_model=AudienceNow,
    responses=responses(401, 403, 404, 503),
    summary="How many follow the show now, and its peak (moderators)",
)
async def get_audience(
    slug: str,
    _user: Moderator,
    session: SessionDep,
    presence: PresenceDep,
    clock: ClockDep,
    response: Response,
) -> AudienceNow:
    await load_programme(session, slug)
    viewers = await presence.board.count(slug)
    now = clock()
    # What a moderator was shown as the peak stays the peak, even between two samples.
    await presence.record(slug, viewers, at=now)
    best = await audience.peak(session, slug)
    response.headers["Cache-Control"] = "no-store"
    if best is None or viewers > best.viewers:
        return AudienceNow(viewers=viewers, peak=viewers, peak_at=now if viewers else None)
    return AudienceNow(viewers=viewers, peak=best.viewers, peak_at=best.peak_at)


@router.get(
    "/{slug}/audience/curve",
    response_model=AudienceCurve,
    responses=responses(401, 403, 404, 503),
    summary="The audience minute by minute (moderators)",
)
async def get_audience_curve(
    slug: str, _user: Moderator, session: SessionDep, response: Response
) -> AudienceCurve:
    response.headers["Cache-Control"] = "no-store"
    points = [
        AudiencePoint(at=row.minute, viewers=row.viewers) for row in await audience.curve(session, slug)
    ]
    return AudienceCurve(points=points)


@router.post(
    "/{slug}/audience/reports",
    status_code=204,
    responses=responses(400, 401, 404, 422, 503),
    summary="A frontend process reports how many browsers follow the event (frontend only)",
    description=f"Authenticated with `{RELAY_HEADER}`: the HMAC-SHA256 of `regie-frontend-relay` under the "
    "deployment's `REGIE_SECRET_KEY`, which the frontend shares. Sent every 1.5 s per event followed; a "
    "report older than 5 s no longer counts.",
)
async def post_audience_report(
    slug: str,
    body: AudienceReport,
    request: Request,
    settings: SettingsDep,
    session: SessionDep,
    presence: PresenceDep,
) -> Response:
    if not is_relayed(request, settings):
        raise Refusal(Code.UNAUTHENTICATED, f"Only the frontend reports its audience, with `{RELAY_HEADER}`.")
    await load_programme(session, slug)
    await presence.board.report(slug, "web:" + body.reporter, body.viewers)
    return Response(status_code=204)
