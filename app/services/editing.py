"""Restoring a programme revision: one more save, judged like any other (it cannot bring back an
aired item that was since changed), through `app.services.changes.Shows.save` like every save.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.domain.programme import ProgrammeDocument
from app.models import Event
from app.services import programmes
from app.services.changes import Shows
from app.services.programmes import Programme, Saved


async def restore(
    shows: Shows,
    sessions: async_sessionmaker[AsyncSession],
    slug: str,
    number: int,
    *,
    actor: str | None,
    expected_revisions: frozenset[int] | None = None,
) -> tuple[Saved, Programme]:
    """Save revision `number` of the event's programme again, as its newest revision."""
    async with sessions() as session:
        event = await _event(session, slug)
        revision = await programmes.load_revision(session, event, number)
    document = ProgrammeDocument.model_validate(revision.document)
    return await shows.save(
        document, actor=actor, expected_revisions=expected_revisions, restored_from=number
    )


async def _event(session: AsyncSession, slug: str) -> Event:
    return (await programmes.load_programme(session, slug)).event
