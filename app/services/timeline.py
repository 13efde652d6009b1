"""The write every change of a show makes: its new version, on the version read, and its entry.

A press, an organiser's save, a document added or removed, a question put on or off air: each is
one conditional UPDATE of the event row on the version it was judged on, plus the timeline entry
of the new version, in the caller's transaction. The condition is what makes one press win when
ten arrive together (the database decides, not Python); the entry's unique (event, version) is
the second lock. Callers commit, and `app.services.changes.Shows` announces.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain import show
from app.models import Event, TimelineEntry


async def record_change(
    session: AsyncSession,
    entry: TimelineEntry,
    *,
    read_version: int,
    values: dict[str, Any] | None = None,
    also_where: Sequence[ColumnElement[bool]] = (),
) -> bool:
    """Move the event from `read_version` to `entry.version` with `values`, and add `entry`.

    False, with nothing written, when the event is no longer at `read_version` (or `also_where`
    no longer holds): someone else's change came first.
    """
    result = await session.execute(
        update(Event)
        .where(Event.pk == entry.event_pk, Event.version == read_version, *also_where)  # type: ignore[arg-type]
        .values(**(values or {}), version=entry.version)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    session.add(entry)
    return True


def timeline_entry(event_pk: int, entry: show.Entry, *, actor: str | None) -> TimelineEntry:
    """The stored row of a step's timeline entry."""
    return TimelineEntry(
        event_pk=event_pk,
        version=entry.version,
        at=entry.at,
        action=entry.action.value,
        segment_id=entry.segment_id,
        item_id=entry.item_id,
        actor=actor,
    )
