"""Files handed out with an item: stored in the database (every process serves them), and each
upload or removal is a change of the show (version +1, an `edit` on the timeline), which
`app.services.changes.Shows` announces, so the live page lists the new document at once."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.domain.refusals import Code, Refusal
from app.domain.resources import download_name
from app.domain.show import Action
from app.models import Event, Item, Resource, TimelineEntry
from app.services.programmes import EditRaced, EventNotFound, Programme, content_changed_at, load_programme
from app.services.snapshots import Snapshots
from app.services.timeline import record_change

_ATTEMPTS = 5


def _changes(item_id: str, **extra: list[str]) -> dict[str, Any]:
    return {
        "event": False,
        "segments_added": [],
        "segments_removed": [],
        "segments_changed": [],
        "items_added": [],
        "items_removed": [],
        "items_moved": [],
        "items_changed": [item_id],
        **extra,
    }


async def _change_of_the_show(
    session: AsyncSession, event: Event, *, at: datetime, actor: str | None, changes: dict[str, Any]
) -> None:
    """Version +1 and its timeline entry, on the version read (EditRaced if a press slipped in)."""
    # Read before the UPDATE, which synchronises `event` in the session to the new version.
    event_pk, version = event.pk, event.version
    assert event_pk is not None
    entry = TimelineEntry(
        event_pk=event_pk, version=version + 1, at=at, action=Action.EDIT.value, actor=actor, changes=changes
    )
    changed_at = content_changed_at(event.updated_at, at)
    if not await record_change(session, entry, read_version=version, values={"updated_at": changed_at}):
        raise EditRaced(event.slug)


async def add_file(
    sessions: async_sessionmaker[AsyncSession],
    *,
    slug: str,
    item_id: str,
    title: str,
    content_type: str,
    data: bytes,
    at: datetime,
    actor: str | None,
) -> tuple[str, Programme]:
    """Store a checked file for an item; its new id and the programme that lists it, to announce."""
    resource_id = secrets.token_urlsafe(18)
    for attempt in range(_ATTEMPTS):
        try:
            async with sessions() as session, session.begin():
                event = await _event(session, slug)
                known = await session.execute(
                    select(Item.pk).where(Item.event_pk == event.pk, Item.id == item_id)  # type: ignore[call-overload]
                )
                if known.first() is None:
                    raise Refusal(Code.UNKNOWN_ITEM, f"There is no item « {item_id} » in this programme.")
                assert event.pk is not None
                session.add(
                    Resource(
                        id=resource_id,
                        event_pk=event.pk,
                        item_id=item_id,
                        title=title,
                        filename=download_name(title, content_type),
                        content_type=content_type,
                        size=len(data),
                        data=data,
                        created_at=at,
                    )
                )
                await _change_of_the_show(
                    session,
                    event,
                    at=at,
                    actor=actor,
                    changes=_changes(item_id, resources_added=[resource_id]),
                )
            break
        except EditRaced:
            if attempt == _ATTEMPTS - 1:
                raise
    return resource_id, await _reload(sessions, slug)


async def remove_file(
    sessions: async_sessionmaker[AsyncSession],
    resource_id: str,
    *,
    at: datetime,
    actor: str | None,
) -> Programme:
    """Remove a document; the programme without it, to announce."""
    for attempt in range(_ATTEMPTS):
        try:
            async with sessions() as session, session.begin():
                row = (
                    await session.execute(
                        select(Resource.event_pk, Resource.item_id).where(Resource.id == resource_id)  # type: ignore[call-overload]
                    )
                ).first()
                if row is None:
                    raise _unknown(resource_id)
                event = (await session.execute(select(Event).where(Event.pk == row.event_pk))).scalar_one()
                await session.execute(delete(Resource).where(Resource.id == resource_id))  # type: ignore[arg-type]
                await _change_of_the_show(
                    session,
                    event,
                    at=at,
                    actor=actor,
                    changes=_changes(row.item_id, resources_removed=[resource_id]),
                )
                slug = event.slug
            break
        except EditRaced:
            if attempt == _ATTEMPTS - 1:
                raise
    return await _reload(sessions, slug)


async def read_file(
    sessions: async_sessionmaker[AsyncSession], snapshots: Snapshots, resource_id: str
) -> Resource:
    """The file, if the public may have it: unknown, and a mystery item's before its reveal, alike."""
    async with sessions() as session:
        resource = (
            await session.execute(select(Resource).where(Resource.id == resource_id))  # type: ignore[arg-type]
        ).scalar_one_or_none()
        if resource is None:
            raise _unknown(resource_id)
        slug = (
            await session.execute(select(Event.slug).where(Event.pk == resource.event_pk))  # type: ignore[call-overload]
        ).scalar_one()
    programme = (await snapshots.get(slug)).programme
    item = next((i for i in programme.items if i.id == resource.item_id), None)
    if item is None or (item.mystery and resource.item_id not in programme.run().revealed):
        raise _unknown(resource_id)
    return resource


def _unknown(resource_id: str) -> Refusal:
    return Refusal(Code.UNKNOWN_RESOURCE, f"There is no document « {resource_id[:40]} ».")


async def _event(session: AsyncSession, slug: str) -> Event:
    event = (await session.execute(select(Event).where(Event.slug == slug))).scalar_one_or_none()  # type: ignore[arg-type]
    if event is None:
        raise EventNotFound(slug)
    return event


async def _reload(sessions: async_sessionmaker[AsyncSession], slug: str) -> Programme:
    async with sessions() as session:
        return await load_programme(session, slug)
