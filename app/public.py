"""The one path by which show data leaves the server.

Every JSON answer, WebSocket message and export is built from these models, and only
`public_item()` reads a mystery item's hidden fields — after its reveal. Keeping a single door
is what lets the canary test prove the secret holds everywhere at once. What it reads from is the
`Programme` aggregate as loaded from the database (`app.services.programmes`), which holds the
secrets; nothing here is stored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.domain import show
from app.domain.programme import MAIN_ROOM_ID
from app.domain.questions import PUBLIC_STATUSES, QuestionStatus, reported_status
from app.domain.show import Plan, PlannedItem, PlannedSegment, Run, Status
from app.models import Event, Item, Question, Segment, TimelineEntry
from app.services.programmes import Programme


class _Public(BaseModel):
    model_config = ConfigDict(frozen=True)


class SpeakerPublic(_Public):
    name: str
    role: str | None = None
    organisation: str | None = None


class ResourcePublic(_Public):
    id: str
    title: str
    url: str = Field(description="A link, or `/api/v1/resources/{id}` for an uploaded file.")
    content_type: str | None = Field(
        description="An uploaded file's type, checked by its content; null for a link."
    )
    size: int | None = Field(description="An uploaded file's size in bytes; null for a link.")


# Where an uploaded document is read on the API; the pages relay it at `/resources/{id}`.
RESOURCE_PATH = "/api/v1/resources/"


def resource_url(resource_id: str) -> str:
    return f"{RESOURCE_PATH}{resource_id}"


class RoomPublic(_Public):
    id: str
    name: str
    url: str | None = Field(
        description="The room's stream or video-conference link; null when none, or when a session "
        "with a `capacity` runs in it (only those signed up to it receive the link)."
    )


class SessionPublic(_Public):
    id: str
    title: str
    room: str = Field(description="The `id` of the room it runs in (one of the event's `rooms`).")
    description: str | None
    facilitators: list[SpeakerPublic]
    capacity: int | None = Field(description="Seats; null: unlimited.")
    seats_left: int | None = Field(description="Seats not yet confirmed to anyone; null: unlimited.")


class ItemPublic(_Public):
    id: str
    position: int
    segment_id: str
    kind: str = Field(examples=["talk"])
    title: str
    description: str | None
    planned_start: datetime | None
    speakers: list[SpeakerPublic] = Field(description="Empty for a mystery item until its reveal.")
    actual_start: datetime | None
    actual_end: datetime | None
    mystery: bool
    revealed: bool
    revealed_at: datetime | None
    teaser: str | None
    announcement: str | None = Field(description="Null for a mystery item until its reveal.")
    resources: list[ResourcePublic] = Field(
        default_factory=list,
        description="Documents for this item; empty for a mystery item until its reveal.",
    )
    projected_start: datetime | None = Field(
        default=None,
        description="While the show is live, when this item should now start, if it has a planned time "
        "of its own and has not started yet (equal to `planned_start` when on time). Items without a "
        "planned time follow their segment's `projected_start`. Null otherwise.",
    )
    sessions: list[SessionPublic] = Field(
        default_factory=list,
        description="Parallel sessions that run, each in its own room, while this item is on air.",
    )
    signup_opens_at: datetime | None = Field(default=None, description="When sign-up to its sessions starts.")
    signup_closes_at: datetime | None = Field(default=None, description="When sign-up to its sessions ends.")


class SegmentSummary(_Public):
    id: str
    position: int
    title: str
    planned_start: datetime
    planned_end: datetime
    actual_start: datetime | None
    actual_end: datetime | None
    projected_start: datetime | None = Field(
        default=None,
        description="While the show is live, when this segment should now start, if it has not started "
        "yet: later than planned once a delay reaches it, never earlier. Null otherwise.",
    )
    projected_end: datetime | None = Field(
        default=None,
        description="While the show is live, when this segment should now end, if it has not ended yet "
        "(the live segment included). Null otherwise.",
    )


class SegmentPublic(SegmentSummary):
    items: list[ItemPublic]


class EventSummary(_Public):
    slug: str = Field(examples=["diner-elus-entreprises-2020"])
    title: str
    subtitle: str | None
    timezone: str = Field(examples=["Europe/Paris"])
    starts_at: datetime
    ends_at: datetime
    status: Status
    rehearsal: bool = Field(
        default=False,
        description="A copy made by `regie rehearse`: its mystery guests are placeholders, it is "
        "thrown away after a day, and public listings leave it out.",
    )


class EventPublic(EventSummary):
    description: str | None
    location: str | None
    organiser: str | None
    partners: list[str]
    see_also: list[str] = Field(description="Slugs of related events (a follow-up, an earlier edition).")
    stream_url: str | None
    replay_url: str | None
    rooms: list[RoomPublic] = Field(
        default_factory=list, description="Where sessions happen; an event that names none has one main room."
    )
    registration_open: bool = Field(default=False, description="Whether anyone may register now.")
    registered_count: int = Field(default=0, description="How many people have registered.")
    version: int = Field(description="The live state's version when this programme was read.")
    started_at: datetime | None
    ended_at: datetime | None
    segments: list[SegmentPublic]
    updated_at: datetime = Field(description="When the programme was last imported or replaced.")
    revision: int = Field(
        default=0, description="The programme's revision: +1 on every save (`GET …/revisions`)."
    )
    projected_end: datetime | None = Field(
        default=None,
        description="While the show is live, when it should now end (`ends_at` when on time). "
        "Null otherwise.",
    )


class QuestionOnAir(_Public):
    id: str
    text: str
    author: str | None = Field(description="As the viewer signed it (name, organisation), or null.")


class LiveState(_Public):
    event: str = Field(description="The event's slug.")
    version: int = Field(description="Grows by exactly one on every change of the show.")
    status: Status
    server_time: datetime = Field(description="The server's clock when this state was sent.")
    started_at: datetime | None
    ended_at: datetime | None
    segment: SegmentSummary | None
    item: ItemPublic | None
    next_item: ItemPublic | None
    drift_seconds: int = Field(
        description="How late the live item (or its segment) started against plan; positive is late. "
        "Once ended: how late the show ended."
    )
    projected_end: datetime | None = Field(
        default=None,
        description="While the show is live, when it should now end, seen at `server_time`; it moves "
        "later while the live item overruns. Null otherwise.",
    )
    question: QuestionOnAir | None = Field(
        default=None, description="The audience question on air, or null. At most one at a time."
    )


class LiveMessage(_Public):
    """What the live WebSocket sends: on connect, then after every change."""

    type: str = "live"
    live: LiveState


class Overrun(_Public):
    """How each projected time of a live programme moves while the stretch on air overruns.

    Every projected time `T` in the programme, seen at a later clock reading `now`, is
    `max(T, now + lead)`: `lead` is how long after `now` it would fall if the stretch on air ended
    right now. So a client follows the projections with its synced clock, with no further read.
    """

    show_end: int | None = Field(description="Seconds, for the event's `projected_end`.")
    segment_starts: dict[str, int] = Field(description="Seconds, by segment id, for `projected_start`.")
    segment_ends: dict[str, int] = Field(description="Seconds, by segment id, for `projected_end`.")
    item_starts: dict[str, int] = Field(description="Seconds, by item id, for `projected_start`.")


class ProgrammeMessage(_Public):
    """What the live WebSocket sends with `?include=programme`, before the live state it goes with."""

    type: str = "programme"
    version: int = Field(description="The live state's version this programme belongs to.")
    programme: EventPublic = Field(description="The event as `GET /api/v1/events/{slug}` answers it.")
    overrun: Overrun | None = Field(description="While live: how projected times follow the clock.")


class TimelineEntryPublic(_Public):
    version: int
    at: datetime
    action: show.Action
    segment_id: str | None
    item_id: str | None
    offset_seconds: float | None = Field(description="Seconds since the show started.")
    changes: dict[str, Any] | None = Field(
        default=None,
        description="For an `edit` of the programme: what it changed, by id (`items_added`, "
        "`items_removed`, `items_moved`, `items_changed`, `segments_*`, `event`). Null otherwise.",
    )


def public_item(
    programme: Programme, item: Item, run: Run, *, projection: show.Projection | None = None
) -> ItemPublic:
    revealed_at = run.revealed.get(item.id) if item.mystery else None
    secret_out = not item.mystery or revealed_at is not None
    speakers = item.speakers if not item.mystery else item.hidden_speakers if secret_out else []
    return ItemPublic(
        id=item.id,
        position=item.position,
        segment_id=programme.segment_ids[item.segment_pk],
        kind=item.kind,
        title=item.title,
        description=item.description,
        planned_start=item.planned_start,
        speakers=[SpeakerPublic.model_validate(s) for s in speakers],
        actual_start=run.item_starts.get(item.id),
        actual_end=run.item_ends.get(item.id),
        mystery=item.mystery,
        revealed=revealed_at is not None,
        revealed_at=revealed_at,
        teaser=item.teaser,
        announcement=item.hidden_announcement if item.mystery and secret_out else None,
        resources=public_resources(programme, item) if secret_out else [],
        projected_start=projection.item_starts.get(item.id) if projection else None,
        sessions=[public_session(programme, session) for session in item.sessions],
        signup_opens_at=item.signup_opens_at,
        signup_closes_at=item.signup_closes_at,
    )


def public_resources(programme: Programme, item: Item) -> list[ResourcePublic]:
    """An item's links, then its uploaded files (call only once the item's secret may be out)."""
    links = [
        ResourcePublic(id=f"{item.id}-link-{n}", title=r["title"], url=r["url"], content_type=None, size=None)
        for n, r in enumerate(item.resources, start=1)
    ]
    files = [
        ResourcePublic(
            id=f.id, title=f.title, url=resource_url(f.id), content_type=f.content_type, size=f.size
        )
        for f in programme.content.files_by_item.get(item.id, ())
    ]
    return links + files


def public_session(programme: Programme, session: Mapping[str, Any]) -> SessionPublic:
    capacity = session.get("capacity")
    confirmed = programme.attendance.confirmed.get(session["id"], 0)
    return SessionPublic(
        id=session["id"],
        title=session["title"],
        room=session["room"],
        description=session.get("description"),
        facilitators=[SpeakerPublic.model_validate(s) for s in session.get("facilitators", [])],
        capacity=capacity,
        seats_left=None if capacity is None else max(capacity - confirmed, 0),
    )


def public_rooms(programme: Programme) -> list[RoomPublic]:
    """The event's rooms, without the link of any room where a capacity-limited session runs.

    Such a link is a seat: it goes only to those confirmed in that session (their personal page
    and e-mail), never to a public read, page or export.
    """
    event = programme.event
    if not event.rooms:
        return [RoomPublic(id=MAIN_ROOM_ID, name=main_room_name(event.location), url=event.stream_url)]
    private = {
        session["room"]
        for item in programme.items
        for session in item.sessions
        if session.get("capacity") is not None
    }
    return [
        RoomPublic(id=room["id"], name=room["name"], url=None if room["id"] in private else room.get("url"))
        for room in event.rooms
    ]


def main_room_name(location: str | None) -> str:
    """The name of the one room of an event that names none: its place, or the stream."""
    return location or "Direct"


def segment_summary(
    programme: Programme, segment: Segment, run: Run, *, projection: show.Projection | None = None
) -> SegmentSummary:
    actual_start, actual_end = show.segment_times(programme.plan, run, segment.id)
    return SegmentSummary(
        id=segment.id,
        position=segment.position,
        title=segment.title,
        planned_start=segment.planned_start,
        planned_end=segment.planned_end,
        actual_start=actual_start,
        actual_end=actual_end,
        projected_start=projection.segment_starts.get(segment.id) if projection else None,
        projected_end=projection.segment_ends.get(segment.id) if projection else None,
    )


def projection(programme: Programme, *, now: datetime) -> show.Projection:
    """The projected times of a live show at `now` (empty when it is not live)."""
    return show.project(programme.plan, programme.run(), now=now, show_planned_end=programme.event.ends_at)


def event_summary(event: Event) -> EventSummary:
    return EventSummary(
        slug=event.slug,
        title=event.title,
        subtitle=event.subtitle,
        timezone=event.timezone,
        starts_at=event.starts_at,
        ends_at=event.ends_at,
        status=Status(event.status),
        rehearsal=event.rehearsal,
    )


def event_public(programme: Programme, *, now: datetime | None = None) -> EventPublic:
    """The event with its programme; with `now`, a live show's projected times too."""
    event, run = programme.event, programme.run()
    projected = projection(programme, now=now) if now is not None else None
    segments = []
    for segment in programme.segments:
        summary = segment_summary(programme, segment, run, projection=projected)
        items = [
            public_item(programme, i, run, projection=projected)
            for i in programme.items
            if i.segment_pk == segment.pk
        ]
        segments.append(SegmentPublic(**summary.model_dump(), items=items))
    return EventPublic(
        **event_summary(event).model_dump(),
        description=event.description,
        location=event.location,
        organiser=event.organiser,
        partners=list(event.partners),
        see_also=list(event.see_also),
        stream_url=event.stream_url,
        replay_url=event.replay_url,
        rooms=public_rooms(programme),
        registration_open=run.status is not Status.ENDED,
        registered_count=programme.attendance.registered,
        version=event.version,
        started_at=run.started_at,
        ended_at=run.ended_at,
        segments=segments,
        updated_at=event.updated_at,
        revision=event.revision,
        projected_end=projected.show_end if projected else None,
    )


def live_state(programme: Programme, *, server_time: datetime, now: datetime | None = None) -> LiveState:
    """The live state as of `now` (projections), stamped `server_time` (default: the same)."""
    run, plan = programme.run(), programme.plan
    by_id = {item.id: item for item in programme.items}
    segment_id = show.current_segment_id(plan, run)
    next_id = show.next_item_id(plan, run)
    segment = next((s for s in programme.segments if s.id == segment_id), None)
    projected = projection(programme, now=now or server_time)
    return LiveState(
        event=programme.event.slug,
        version=run.version,
        status=run.status,
        server_time=server_time,
        started_at=run.started_at,
        ended_at=run.ended_at,
        segment=segment_summary(programme, segment, run, projection=projected) if segment else None,
        item=public_item(programme, by_id[run.current], run, projection=projected) if run.current else None,
        next_item=public_item(programme, by_id[next_id], run, projection=projected) if next_id else None,
        drift_seconds=show.drift_seconds(plan, run, show_planned_end=programme.event.ends_at),
        projected_end=projected.show_end,
        question=QuestionOnAir(id=run.question.id, text=run.question.text, author=run.question.author)
        if run.question
        else None,
    )


def plan_from_public(event: EventPublic) -> Plan:
    """The plan as the state machine sees it, rebuilt from what the API publishes.

    Exports and the rehearsal autopilot work from public data only; this lets them use the same
    pure functions (stretches, estimated slots) as the server without touching a hidden field.
    """
    return Plan(
        segments=tuple(PlannedSegment(s.id, s.planned_start, s.planned_end) for s in event.segments),
        items=tuple(
            PlannedItem(i.id, s.id, i.planned_start, i.mystery) for s in event.segments for i in s.items
        ),
    )


def timeline_entry_public(entry: TimelineEntry, *, started_at: datetime | None) -> TimelineEntryPublic:
    offset = (entry.at - started_at).total_seconds() if started_at else None
    return TimelineEntryPublic(
        version=entry.version,
        at=entry.at,
        action=show.Action(entry.action),
        segment_id=entry.segment_id,
        item_id=entry.item_id,
        offset_seconds=offset,
        changes=entry.changes,
    )


def live_message(state: LiveState) -> bytes:
    """The live WebSocket's message, serialised once per change for every viewer.

    Pure ASCII (JSON escapes for « », é, œ…): the server encodes a text frame once per viewer,
    and encoding an ASCII string is a plain copy, ten times cheaper than a French one.
    """
    message = LiveMessage(live=state)
    return json.dumps(message.model_dump(mode="json"), ensure_ascii=True, separators=(",", ":")).encode()


# Far enough after any show that the stretch on air has overrun whatever its plan said.
_FAR = timedelta(days=30)


def programme_message(programme: Programme, *, now: datetime) -> bytes:
    """The live WebSocket's programme message (`?include=programme`), serialised once per change.

    `type` and `version` come first, so that a receiver reads them without parsing the rest.
    """
    event = event_public(programme, now=now)
    overrun = None
    if programme.run().status is Status.LIVE:
        far = now.replace(microsecond=0) + _FAR
        later = projection(programme, now=far)

        def leads(moments: dict[str, datetime] | Any) -> dict[str, int]:
            return {key: round((moment - far).total_seconds()) for key, moment in moments.items()}

        overrun = Overrun(
            show_end=round((later.show_end - far).total_seconds()) if later.show_end else None,
            segment_starts=leads(later.segment_starts),
            segment_ends=leads(later.segment_ends),
            item_starts=leads(later.item_starts),
        )
    message = ProgrammeMessage(version=event.version, programme=event, overrun=overrun)
    return json.dumps(message.model_dump(mode="json"), ensure_ascii=True, separators=(",", ":")).encode()


class QuestionPublic(_Public):
    """An audience question as anyone may read it: approved, answered or on air, never otherwise."""

    id: str
    text: str
    author: str | None
    status: QuestionStatus
    votes: int
    created_at: datetime
    answered_at: datetime | None = None


class QuestionModerated(QuestionPublic):
    """A question as moderators see it, whatever its status: never through a public read."""

    moderated_at: datetime | None
    moderated_by: str | None
    aired_at: datetime | None


PUSHED_QUESTIONS = 30
"""How many questions the pushed list carries: the most voted, the one on air always among them.

The message goes to every viewer once a second while votes flow: with 300 approved questions,
the whole list is about 50 KB, 500 MB a second at 10,000 viewers, which slowed every press's
delivery ninefold (bench/README.md). `GET …/questions` has them all."""


class QuestionsMessage(_Public):
    """What the live WebSocket sends when the public list changes, at most once a second."""

    type: str = "questions"
    total: int = Field(description="How many public questions there are in all.")
    # Last, so that the SSE stream's `data` (the list) is a slice of this message (app.live.hub).
    questions: list[QuestionPublic] = Field(
        description=f"The {PUSHED_QUESTIONS} most voted public questions (the one on air always among "
        "them), most voted first; `GET …/questions` lists them all."
    )


def question_status(question: Question, run: Run) -> QuestionStatus:
    on_air = run.question is not None and run.question.id == question.id
    return reported_status(QuestionStatus(question.status), on_air=on_air)


def question_public(question: Question, run: Run) -> QuestionPublic:
    """The public face of a question; refuses (ValueError) one that may not be public."""
    status = question_status(question, run)
    if status not in PUBLIC_STATUSES:
        raise ValueError("a pending or rejected question is never public")
    return QuestionPublic(
        id=question.id,
        text=question.text,
        author=question.author,
        status=status,
        votes=question.votes,
        created_at=question.created_at,
        answered_at=question.answered_at,
    )


def question_moderated(question: Question, run: Run) -> QuestionModerated:
    return QuestionModerated(
        id=question.id,
        text=question.text,
        author=question.author,
        status=question_status(question, run),
        votes=question.votes,
        created_at=question.created_at,
        answered_at=question.answered_at,
        moderated_at=question.moderated_at,
        moderated_by=question.moderated_by,
        aired_at=question.aired_at,
    )


def questions_message(questions: list[QuestionPublic]) -> bytes:
    """The `questions` message of a most-voted-first list, ASCII like the live one (`live_message`)."""
    pushed = questions[:PUSHED_QUESTIONS]
    aired = next((q for q in questions[PUSHED_QUESTIONS:] if q.status is QuestionStatus.ON_AIR), None)
    if aired is not None:
        pushed = [aired, *pushed[:-1]]
    message = QuestionsMessage(questions=pushed, total=len(questions))
    return json.dumps(message.model_dump(mode="json"), ensure_ascii=True, separators=(",", ":")).encode()
