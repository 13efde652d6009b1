"""Reading and replacing programmes."""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.programme import ProgrammeDocument
from app.domain.refusals import Code, Refusal
from app.domain.show import Status
from app.models import Event, Item, Segment, TimelineEntry, utcnow
from app.public import Programme, ProgrammeContent


class EventNotFound(Refusal, LookupError):
    def __init__(self, slug: str) -> None:
        super().__init__(Code.UNKNOWN_EVENT, f"There is no event « {slug} ».")


class ProgrammeLocked(Refusal):
    """The show is live: its running order cannot change under the moderators' feet."""

    def __init__(self, slug: str) -> None:
        super().__init__(
            Code.LIVE_LOCKED,
            f"The show « {slug} » is live: its programme cannot be replaced until it has ended.",
        )


async def list_events(session: AsyncSession) -> list[Event]:
    result = await session.execute(select(Event).order_by(Event.starts_at))  # type: ignore[arg-type]
    return list(result.scalars())


# Programme revisions already loaded by this process, by (database, event, revision). A command
# changes only the event row; segments and items change only on import, which bumps updated_at.
_contents: OrderedDict[tuple[str, int, datetime], ProgrammeContent] = OrderedDict()
_CONTENTS_KEPT = 64


async def load_programme(session: AsyncSession, slug: str) -> Programme:
    """The event with its run (one query) and its programme (cached per revision)."""
    event = (await session.execute(select(Event).where(Event.slug == slug))).scalar_one_or_none()  # type: ignore[arg-type]
    if event is None:
        raise EventNotFound(slug)
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
    return Programme(event=event, content=content)


async def _load_content(session: AsyncSession, event_pk: int) -> ProgrammeContent:
    segments = await session.execute(
        select(Segment).where(Segment.event_pk == event_pk).order_by(Segment.position)  # type: ignore[arg-type]
    )
    items = await session.execute(
        select(Item).where(Item.event_pk == event_pk).order_by(Item.segment_pk, Item.position)  # type: ignore[arg-type]
    )
    ordered_segments = tuple(segments.scalars())
    segment_rank = {segment.pk: rank for rank, segment in enumerate(ordered_segments)}
    ordered_items = tuple(sorted(items.scalars(), key=lambda i: (segment_rank[i.segment_pk], i.position)))
    # Shared across sessions from now on: detach them so no session ever refreshes or flushes them.
    session.expunge_all()
    return ProgrammeContent(segments=ordered_segments, items=ordered_items)


async def load_timeline(session: AsyncSession, event: Event) -> list[TimelineEntry]:
    result = await session.execute(
        select(TimelineEntry).where(TimelineEntry.event_pk == event.pk).order_by(TimelineEntry.version)  # type: ignore[arg-type]
    )
    return list(result.scalars())


async def replace_programme(session: AsyncSession, document: ProgrammeDocument) -> bool:
    """Create or replace an event's programme in the session's transaction; True if created.

    The run of the show (status, version, what happened) is kept: replacing the programme of an
    ended show, to add its replay link say, does not erase its history. A live show is refused,
    and the check is a conditional UPDATE so a `start` racing this import cannot slip between.
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
        "updated_at": utcnow(),
    }
    existing = (
        await session.execute(select(Event.pk).where(Event.slug == document.slug))  # type: ignore[call-overload]
    ).scalar_one_or_none()
    if existing is None:
        event = Event.model_validate(
            {"slug": document.slug, "status": Status.SCHEDULED.value, "version": 0, "run": {}, **fields}
        )
        session.add(event)
        await session.flush()
        event_pk = event.pk
        created = True
    else:
        result = await session.execute(
            update(Event).where(Event.pk == existing, Event.status != Status.LIVE.value).values(**fields)  # type: ignore[arg-type]
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise ProgrammeLocked(document.slug)
        await session.execute(delete(Item).where(Item.event_pk == existing))
        await session.execute(delete(Segment).where(Segment.event_pk == existing))
        event_pk = existing
        created = False
    assert event_pk is not None
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
                )
            )
    await session.flush()
    return created
