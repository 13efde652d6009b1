"""An organiser's save of a programme: judge and store (one transaction), then publish.

A save is a change of the show like a press: the new programme revision, the version +1 and its
timeline entry are committed together, and only then is the new live state published, so every
viewer and console re-reads the programme at once. Restoring a revision is one more save, judged
like any other (it cannot bring back an aired item that was since changed).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.domain.programme import ProgrammeDocument
from app.live.broadcast import Broadcast
from app.live.hub import channel_name
from app.models import Event
from app.public import live_message, live_state
from app.services import programmes
from app.services.programmes import EditRaced, Programme, Saved
from app.services.snapshots import Snapshots

logger = logging.getLogger(__name__)

# A press between reading the show and writing the save makes the write lose its conditional
# UPDATE; the save is then judged again on the new run (the item may have started meanwhile).
_ATTEMPTS = 5


async def save(
    sessions: async_sessionmaker[AsyncSession],
    document: ProgrammeDocument,
    *,
    broadcast: Broadcast,
    snapshots: Snapshots,
    at: datetime,
    actor: str | None,
    expected_revisions: frozenset[int] | None = None,
    restored_from: int | None = None,
) -> tuple[Saved, Programme]:
    """Store `document` and publish the change; the saved programme as it now reads."""
    for attempt in range(_ATTEMPTS):
        try:
            async with sessions() as session, session.begin():
                saved = await programmes.store_programme(
                    session,
                    document,
                    at=at,
                    actor=actor,
                    expected_revisions=expected_revisions,
                    restored_from=restored_from,
                )
            break
        except EditRaced:
            if attempt == _ATTEMPTS - 1:
                raise
    snapshots.forget(document.slug)
    async with sessions() as session:
        programme = await programmes.load_programme(session, document.slug)
    if saved.changes and not saved.created:
        logger.info(
            "%s: programme revision %d by %s → version %d", saved.slug, saved.revision, actor, saved.version
        )
        snapshots.keep(programme)
        await broadcast.publish(channel_name(saved.slug), live_message(live_state(programme, server_time=at)))
    return saved, programme


async def restore(
    sessions: async_sessionmaker[AsyncSession],
    slug: str,
    number: int,
    *,
    broadcast: Broadcast,
    snapshots: Snapshots,
    at: datetime,
    actor: str | None,
    expected_revisions: frozenset[int] | None = None,
) -> tuple[Saved, Programme]:
    """Save revision `number` of the event's programme again, as its newest revision."""
    async with sessions() as session:
        event = await _event(session, slug)
        revision = await programmes.load_revision(session, event, number)
    document = ProgrammeDocument.model_validate(revision.document)
    return await save(
        sessions,
        document,
        broadcast=broadcast,
        snapshots=snapshots,
        at=at,
        actor=actor,
        expected_revisions=expected_revisions,
        restored_from=number,
    )


async def _event(session: AsyncSession, slug: str) -> Event:
    return (await programmes.load_programme(session, slug)).event
