"""Events and their programmes: read by anyone, replaced by an admin."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Response, status

from app.api.caching import CONDITIONAL_READ, read_responses
from app.api.deps import Admin, ClockDep, SessionDep, SessionsDep, SnapshotsDep
from app.api.errors import ProgrammeRefused, responses
from app.api.examples import example
from app.domain.programme import ProgrammeError, parse_programme
from app.domain.refusals import Code, Refusal
from app.public import EventPublic, EventSummary, TimelineEntryPublic, event_public, event_summary
from app.public import timeline_entry_public as timeline_entry
from app.services import programmes
from app.services.snapshots import Snapshot, Snapshots

router = APIRouter(prefix="/events", tags=["events"])


@router.get(
    "",
    response_model=list[EventSummary],
    responses=read_responses(ok=example("EVENTS")),
    openapi_extra=CONDITIONAL_READ,
    summary="The events, in the order they start",
)
async def list_events(session: SessionDep) -> list[EventSummary]:
    return [event_summary(event) for event in await programmes.list_events(session)]


@router.get(
    "/{slug}",
    response_model=EventPublic,
    responses=read_responses(404, ok=example("EVENT")),
    openapi_extra=CONDITIONAL_READ,
    summary="An event with its whole programme",
)
async def get_event(slug: str, snapshots: SnapshotsDep, clock: ClockDep) -> Response:
    return event_response(snapshots, await snapshots.get(slug), now=clock())


def event_response(snapshots: Snapshots, entry: Snapshot, *, now: datetime) -> Response:
    return Response(snapshots.event_json(entry, now=now), media_type="application/json")


@router.put(
    "/{slug}",
    response_model=EventPublic,
    status_code=status.HTTP_200_OK,
    responses={
        201: {"model": EventPublic, "description": "The event was created."},
        **responses(400, 401, 403, 409, 503),
        422: {
            "model": ProgrammeRefused,
            "description": "The programme was refused whole; nothing changed. Codes: `invalid_document`, "
            "`invalid_request`.",
        },
    },
    summary="Create or replace an event's programme (admin)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ProgrammeDocument"}}},
        }
    },
)
async def put_event(
    slug: str,
    document: Annotated[
        dict[str, Any], Body(description="The programme document, as `regie import` reads it.")
    ],
    sessions: SessionsDep,
    snapshots: SnapshotsDep,
    response: Response,
    _admin: Admin,
) -> EventPublic:
    data = {"slug": slug, **document}
    if data["slug"] != slug:
        raise _refused(f"the body's `slug` « {data['slug']} » differs from the path's « {slug} »", [])
    try:
        parsed = parse_programme(data, source="request body")
    except ProgrammeError as error:
        raise _refused("; ".join(error.problems), error.problems) from None
    async with sessions() as session, session.begin():
        created = await programmes.replace_programme(session, parsed)
    snapshots.forget(slug)
    async with sessions() as session:
        programme = await programmes.load_programme(session, slug)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return event_public(programme)


def _refused(summary: str, problems: list[str]) -> Refusal:
    detail = f"The programme was refused, nothing changed: {summary}"
    return Refusal(Code.INVALID_DOCUMENT, detail, errors=problems)


@router.get(
    "/{slug}/timeline",
    response_model=list[TimelineEntryPublic],
    responses=read_responses(404, ok=example("TIMELINE")),
    openapi_extra=CONDITIONAL_READ,
    summary="What actually happened, in order",
)
async def get_timeline(slug: str, session: SessionDep) -> list[TimelineEntryPublic]:
    programme = await programmes.load_programme(session, slug)
    started_at = programme.run().started_at
    entries = await programmes.load_timeline(session, programme.event)
    return [timeline_entry(entry, started_at=started_at) for entry in entries]
