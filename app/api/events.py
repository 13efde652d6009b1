"""Events and their programmes: read by anyone, replaced by an admin."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Response, status

from app.api.caching import CONDITIONAL_READ, IF_MATCH, expected_revisions, programme_etag, read_responses
from app.api.deps import Admin, ClockDep, SessionDep, ShowsDep, SnapshotsDep
from app.api.errors import ProgrammeRefused, responses
from app.api.examples import example
from app.domain.programme import ProgrammeError, parse_programme
from app.domain.refusals import Code, Refusal, quoted
from app.public import EventPublic, EventSummary, TimelineEntryPublic, event_public, event_summary
from app.public import timeline_entry_public as timeline_entry
from app.services import programmes
from app.services.programmes import Programme, Saved
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
    body = snapshots.event_json(entry, now=now)
    return Response(
        body,
        media_type="application/json",
        headers={"ETag": programme_etag(entry.programme.event.revision, body)},
    )


@router.put(
    "/{slug}",
    response_model=EventPublic,
    status_code=status.HTTP_200_OK,
    responses={
        201: {"model": EventPublic, "description": "The event was created."},
        **responses(400, 401, 403, 409, 412, 413, 503),
        422: {
            "model": ProgrammeRefused,
            "description": "The programme was refused whole; nothing changed. Codes: `invalid_document`, "
            "`invalid_request`.",
        },
    },
    summary="Create or replace an event's programme (admin), also during the show",
    description="While the show is live, what has not started may be added, changed, moved or removed; "
    "changing or removing what has started (or a past segment) is refused whole with 409 `item_started` "
    "naming it (`item_id`, `segment_id`). Send the `ETag` of the programme you edited in `If-Match`: "
    "if someone saved since, the answer is 412 `precondition_failed` and nothing is stored. Each save "
    "is a programme revision (`GET …/revisions`) and an `edit` entry on the timeline.",
    openapi_extra={
        "parameters": [IF_MATCH],
        "requestBody": {
            "required": True,
            "description": "The programme document. Its `slug` may be left out; when given, it must "
            "equal the path's `{slug}` (422 `invalid_document` otherwise).",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ProgrammeDocument"}}},
        },
    },
)
async def put_event(
    slug: str,
    document: Annotated[
        dict[str, Any], Body(description="The programme document, as `regie import` reads it.")
    ],
    shows: ShowsDep,
    clock: ClockDep,
    response: Response,
    admin: Admin,
    if_match: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> EventPublic:
    data = {"slug": slug, **document}
    if data["slug"] != slug:
        problem = (
            f"the body's `slug` « {quoted(str(data['slug']))} » differs from the path's « {quoted(slug)} »"
        )
        raise _refused(problem, [problem])
    try:
        parsed = parse_programme(data, source="request body")
    except ProgrammeError as error:
        raise _refused("; ".join(error.problems), error.problems) from None
    saved, programme = await shows.save(
        parsed, actor=admin.name, expected_revisions=expected_revisions(if_match)
    )
    return saved_response(saved, programme, now=clock(), response=response)


def saved_response(saved: Saved, programme: Programme, *, now: datetime, response: Response) -> EventPublic:
    """The event as saved, with the `ETag` to send in the next save's `If-Match`."""
    public = event_public(programme, now=now)
    response.status_code = status.HTTP_201_CREATED if saved.created else status.HTTP_200_OK
    response.headers["ETag"] = programme_etag(saved.revision, public.model_dump_json().encode())
    response.headers["Cache-Control"] = "no-store"
    return public


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
