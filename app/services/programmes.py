"""Reading and replacing programmes, and the `Programme` aggregate they are read into.

`Programme` is an event row with its segments and items as stored, hidden fields included: what
the services work on. What leaves the server is made from it by `app.public`, the one exit path.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain import edits
from app.domain.edits import Changes
from app.domain.programme import ProgrammeDocument, is_slug
from app.domain.refusals import Code, Refusal, quoted
from app.domain.show import Action, Plan, PlannedItem, PlannedSegment, Run, Status
from app.models import (
    Event,
    Item,
    ProgrammeRevision,
    Registration,
    Resource,
    Segment,
    SessionSeats,
    TimelineEntry,
    utcnow,
)
from app.services.timeline import record_change


class EventNotFound(Refusal, LookupError):
    def __init__(self, slug: str) -> None:
        # Quoted short: a refusal must not echo back kilobytes of a hostile request.
        super().__init__(Code.UNKNOWN_EVENT, f"There is no event « {quoted(slug)} ».")


@dataclass(frozen=True, slots=True)
class ResourceFile:
    """An uploaded file's description, without its bytes (read only by GET /resources/{id})."""

    id: str
    item_id: str
    title: str
    content_type: str
    size: int


@dataclass(frozen=True)
class ProgrammeContent:
    """Segments and items of one revision of a programme: what changes only on import.

    Kept apart from the event row (which carries the run and changes on every command) so that
    one revision can be loaded once and shared by every read until the programme is replaced.
    """

    segments: tuple[Segment, ...]
    items: tuple[Item, ...]
    files: tuple[ResourceFile, ...] = ()

    @cached_property
    def files_by_item(self) -> dict[str, tuple[ResourceFile, ...]]:
        grouped: dict[str, list[ResourceFile]] = {}
        for file in self.files:
            grouped.setdefault(file.item_id, []).append(file)
        return {item_id: tuple(files) for item_id, files in grouped.items()}

    @cached_property
    def plan(self) -> Plan:
        segment_ids = self.segment_ids
        return Plan(
            segments=tuple(PlannedSegment(s.id, s.planned_start, s.planned_end) for s in self.segments),
            items=tuple(
                PlannedItem(i.id, segment_ids[i.segment_pk], i.planned_start, i.mystery) for i in self.items
            ),
        )

    @cached_property
    def segment_ids(self) -> dict[int | None, str]:
        return {segment.pk: segment.id for segment in self.segments}

    @cached_property
    def has_limited_sessions(self) -> bool:
        return any(session.get("capacity") is not None for item in self.items for session in item.sessions)


@dataclass(frozen=True)
class Attendance:
    """How many registered, and how many seats each session has confirmed: counts, never names."""

    registered: int = 0
    confirmed: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Programme:
    """An event with its segments and items, as loaded from the database, and its run."""

    event: Event
    content: ProgrammeContent
    attendance: Attendance = field(default_factory=Attendance)

    @property
    def segments(self) -> tuple[Segment, ...]:
        return self.content.segments

    @property
    def items(self) -> tuple[Item, ...]:
        return self.content.items

    @property
    def plan(self) -> Plan:
        return self.content.plan

    @property
    def segment_ids(self) -> dict[int | None, str]:
        return self.content.segment_ids

    @cached_property
    def _run(self) -> Run:
        return Run.from_json(self.event.run, status=self.event.status, version=self.event.version)

    def run(self) -> Run:
        return self._run


async def list_events(session: AsyncSession) -> list[Event]:
    result = await session.execute(select(Event).order_by(Event.starts_at))  # type: ignore[arg-type]
    return list(result.scalars())


# Programme revisions already loaded by this process, by (database, event, revision). A command
# changes only the event row; segments and items change only on import, which bumps updated_at.
_contents: OrderedDict[tuple[str, int, datetime], ProgrammeContent] = OrderedDict()
_CONTENTS_KEPT = 64


def content_changed_at(previous: datetime | None, at: datetime) -> datetime:
    """The `updated_at` of a change of content made at `at`: strictly after the last one, since
    the revision cache above keys on it — two changes in one tick of the clock (a clock held
    still, a coarse one) would otherwise keep serving the first one's content."""
    if previous is None or at > previous:
        return at
    return previous + timedelta(microseconds=1)


async def load_programme(session: AsyncSession, slug: str) -> Programme:
    """The event with its run (one query) and its programme (cached per revision)."""
    if not is_slug(slug):
        # No event can have this slug: asking the database would only let a NUL byte through to
        # PostgreSQL, which refuses it as an error of its own.
        raise EventNotFound(slug)
    # The registered count rides on the event's query: a read still costs one round trip.
    registered = select(func.count()).where(Registration.event_pk == Event.pk).scalar_subquery()  # type: ignore[arg-type]
    row = (await session.execute(select(Event, registered).where(Event.slug == slug))).one_or_none()  # type: ignore[arg-type]
    if row is None:
        raise EventNotFound(slug)
    event, registered_count = row
    assert event.pk is not None
    key = (str(session.get_bind().engine.url), event.pk, event.updated_at)
    content = _contents.get(key)
    if content is None:
        content = await _load_content(session, event.pk)
        _contents[key] = content
        while len(_contents) > _CONTENTS_KEPT:
            _contents.popitem(last=False)
    else:
        _contents.move_to_end(key)
    confirmed: dict[str, int] = {}
    if content.has_limited_sessions:
        seats = await session.execute(
            select(SessionSeats.session_id, SessionSeats.confirmed).where(SessionSeats.event_pk == event.pk)  # type: ignore[call-overload]
        )
        confirmed = {session_id: int(count) for session_id, count in seats}
    return Programme(
        event=event,
        content=content,
        attendance=Attendance(registered=int(registered_count), confirmed=confirmed),
    )


async def _load_content(session: AsyncSession, event_pk: int, *, detach: bool = True) -> ProgrammeContent:
    segments = await session.execute(
        select(Segment).where(Segment.event_pk == event_pk).order_by(Segment.position)  # type: ignore[arg-type]
    )
    items = await session.execute(
        select(Item).where(Item.event_pk == event_pk).order_by(Item.segment_pk, Item.position)  # type: ignore[arg-type]
    )
    files = await session.execute(
        select(  # type: ignore[call-overload]
            Resource.id, Resource.item_id, Resource.title, Resource.content_type, Resource.size
        )
        .where(Resource.event_pk == event_pk)
        .order_by(Resource.pk)
    )
    ordered_segments = tuple(segments.scalars())
    segment_rank = {segment.pk: rank for rank, segment in enumerate(ordered_segments)}
    ordered_items = tuple(sorted(items.scalars(), key=lambda i: (segment_rank[i.segment_pk], i.position)))
    if detach:
        # Shared across sessions from now on: detach them so no session ever refreshes or flushes them.
        session.expunge_all()
    return ProgrammeContent(
        segments=ordered_segments,
        items=ordered_items,
        files=tuple(ResourceFile(*row) for row in files),
    )


async def load_timeline(session: AsyncSession, event: Event) -> list[TimelineEntry]:
    result = await session.execute(
        select(TimelineEntry).where(TimelineEntry.event_pk == event.pk).order_by(TimelineEntry.version)  # type: ignore[arg-type]
    )
    return list(result.scalars())


@dataclass(frozen=True)
class Saved:
    """What a save did: `created` a new event, or `changes` to an existing one (empty: nothing stored)."""

    slug: str
    created: bool
    revision: int
    version: int
    changes: Changes


class EditRaced(RuntimeError):
    """The show moved (a press, another save) between reading it and writing: judge again."""


async def replace_programme(session: AsyncSession, document: ProgrammeDocument) -> bool:
    """Create or replace an event's programme in the session's transaction; True if created.

    `regie import` and the rehearsal copy: the same rules as an edit through the API.
    """
    saved = await store_programme(session, document, at=utcnow(), actor=None)
    return saved.created


async def store_programme(
    session: AsyncSession,
    document: ProgrammeDocument,
    *,
    at: datetime,
    actor: str | None,
    expected_revisions: frozenset[int] | None = None,
    restored_from: int | None = None,
) -> Saved:
    """Store `document` as the event's next programme revision, in the session's transaction.

    The run of the show (status, what happened) is kept. A show that has begun may change only
    what has not aired (`app.domain.edits.judge`, which raises Refusal(item_started)). An existing
    programme's save is a change of the show: its version grows by one with an `edit` entry on the
    timeline, and the whole document is kept as a revision to restore. `expected_revisions` (from
    `If-Match`) must hold the current revision, or Refusal(precondition_failed). The write is a
    conditional UPDATE on the version and revision judged, so a press or another save that slips
    in between raises EditRaced instead of being overwritten.
    """
    fields = {
        "title": document.title,
        "subtitle": document.subtitle,
        "description": document.description,
        "timezone": document.timezone,
        "location": document.location,
        "starts_at": document.starts_at,
        "ends_at": document.ends_at,
        "organiser": document.organiser,
        "partners": list(document.partners),
        "see_also": list(document.see_also),
        "stream_url": document.stream_url,
        "replay_url": document.replay_url,
        "rooms": [room.model_dump() for room in document.rooms],
        "updated_at": at,
    }
    existing = (
        await session.execute(select(Event).where(Event.slug == document.slug))  # type: ignore[arg-type]
    ).scalar_one_or_none()
    fields["updated_at"] = content_changed_at(existing.updated_at if existing else None, at)
    stored = document.model_dump(mode="json")
    if existing is None:
        if expected_revisions is not None:
            raise Refusal(
                Code.PRECONDITION_FAILED,
                f"There is no event « {document.slug} » yet: `If-Match` cannot hold.",
                revision=None,
            )
        event = Event.model_validate(
            {
                "slug": document.slug,
                "status": Status.SCHEDULED.value,
                "version": 0,
                "run": {},
                "revision": 1,
                **fields,
            }
        )
        session.add(event)
        await session.flush()
        assert event.pk is not None
        session.add(ProgrammeRevision(event_pk=event.pk, number=1, document=stored, saved_at=at, actor=actor))
        await _insert_content(session, event.pk, document)
        return Saved(document.slug, created=True, revision=1, version=0, changes=Changes(event=True))

    assert existing.pk is not None
    event_pk, revision, version = existing.pk, existing.revision, existing.version
    if expected_revisions is not None and revision not in expected_revisions:
        raise Refusal(
            Code.PRECONDITION_FAILED,
            f"The programme was saved by someone else since you read it (it is now at revision "
            f"{revision}): read it again and reapply your changes.",
            revision=revision,
        )
    run = Run.from_json(existing.run, status=existing.status, version=version)
    changes = edits.judge(await current_document(session, existing), document, run)
    if not changes:
        return Saved(document.slug, created=False, revision=revision, version=version, changes=changes)
    edit = TimelineEntry(
        event_pk=event_pk,
        version=version + 1,
        at=at,
        action=Action.EDIT.value,
        actor=actor,
        changes=changes.to_json(),
    )
    if not await record_change(
        session,
        edit,
        read_version=version,
        values={**fields, "revision": revision + 1},
        also_where=(Event.revision == revision,),  # type: ignore[arg-type]
    ):
        raise EditRaced(document.slug)
    session.add(
        ProgrammeRevision(
            event_pk=event_pk,
            number=revision + 1,
            document=stored,
            saved_at=at,
            actor=actor,
            changes=changes.to_json(),
            restored_from=restored_from,
        )
    )
    await session.execute(delete(Item).where(Item.event_pk == event_pk))  # type: ignore[arg-type]
    await session.execute(delete(Segment).where(Segment.event_pk == event_pk))  # type: ignore[arg-type]
    await _insert_content(session, event_pk, document)
    return Saved(document.slug, created=False, revision=revision + 1, version=version + 1, changes=changes)


async def current_document(session: AsyncSession, event: Event) -> ProgrammeDocument:
    """The programme document the event was last saved with (secrets included).

    The latest revision, as stored; an event saved before revisions were kept is rebuilt from
    its rows.
    """
    stored = (
        await session.execute(
            select(ProgrammeRevision.document)  # type: ignore[call-overload]
            .where(ProgrammeRevision.event_pk == event.pk)
            .order_by(ProgrammeRevision.number.desc())  # type: ignore[attr-defined]
            .limit(1)
        )
    ).scalar_one_or_none()
    if stored is not None:
        return ProgrammeDocument.model_validate(stored)
    assert event.pk is not None
    return document_from_rows(event, await _load_content(session, event.pk, detach=False))


def document_from_rows(event: Event, content: ProgrammeContent) -> ProgrammeDocument:
    segments = []
    for segment in content.segments:
        items = []
        for item in content.items:
            if item.segment_pk != segment.pk:
                continue
            items.append(
                {
                    "id": item.id,
                    "kind": item.kind,
                    "title": item.title,
                    "description": item.description,
                    "planned_start": item.planned_start,
                    "speakers": item.speakers if not item.mystery else [],
                    "mystery": item.mystery,
                    "teaser": item.teaser,
                    "hidden": {"speakers": item.hidden_speakers, "announcement": item.hidden_announcement}
                    if item.mystery
                    else None,
                    "resources": item.resources,
                }
            )
        segments.append(
            {
                "id": segment.id,
                "title": segment.title,
                "planned_start": segment.planned_start,
                "planned_end": segment.planned_end,
                "items": items,
            }
        )
    return ProgrammeDocument.model_validate(
        {
            "slug": event.slug,
            "title": event.title,
            "subtitle": event.subtitle,
            "description": event.description,
            "timezone": event.timezone,
            "location": event.location,
            "starts_at": event.starts_at,
            "ends_at": event.ends_at,
            "organiser": event.organiser,
            "partners": event.partners,
            "see_also": event.see_also,
            "stream_url": event.stream_url,
            "replay_url": event.replay_url,
            "segments": segments,
        }
    )


async def load_revision(session: AsyncSession, event: Event, number: int) -> ProgrammeRevision:
    revision = (
        await session.execute(
            select(ProgrammeRevision).where(
                ProgrammeRevision.event_pk == event.pk,  # type: ignore[arg-type]
                ProgrammeRevision.number == number,  # type: ignore[arg-type]
            )
        )
    ).scalar_one_or_none()
    if revision is None:
        raise Refusal(Code.UNKNOWN_REVISION, f"There is no revision {number} of « {event.slug} ».")
    return revision


async def list_revisions(session: AsyncSession, event: Event) -> list[ProgrammeRevision]:
    result = await session.execute(
        select(ProgrammeRevision)
        .where(ProgrammeRevision.event_pk == event.pk)  # type: ignore[arg-type]
        .order_by(ProgrammeRevision.number.desc())  # type: ignore[attr-defined]
    )
    return list(result.scalars())


async def _insert_content(session: AsyncSession, event_pk: int, document: ProgrammeDocument) -> None:
    for s_position, segment_doc in enumerate(document.segments, start=1):
        assert segment_doc.id is not None
        segment = Segment(
            event_pk=event_pk,
            id=segment_doc.id,
            position=s_position,
            title=segment_doc.title,
            planned_start=segment_doc.planned_start,
            planned_end=segment_doc.planned_end,
        )
        session.add(segment)
        await session.flush()
        assert segment.pk is not None
        for i_position, item_doc in enumerate(segment_doc.items, start=1):
            assert item_doc.id is not None
            hidden = item_doc.hidden
            session.add(
                Item(
                    event_pk=event_pk,
                    segment_pk=segment.pk,
                    id=item_doc.id,
                    position=i_position,
                    kind=item_doc.kind,
                    title=item_doc.title,
                    description=item_doc.description,
                    planned_start=item_doc.planned_start,
                    speakers=[s.model_dump() for s in item_doc.speakers],
                    mystery=item_doc.mystery,
                    teaser=item_doc.teaser,
                    hidden_speakers=[s.model_dump() for s in hidden.speakers] if hidden else [],
                    hidden_announcement=hidden.announcement if hidden else None,
                    resources=[r.model_dump() for r in item_doc.resources],
                    sessions=[session.model_dump() for session in item_doc.sessions],
                    signup_opens_at=item_doc.signup_opens_at,
                    signup_closes_at=item_doc.signup_closes_at,
                )
            )
    await session.flush()
