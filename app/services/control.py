"""A moderator's command: decide (pure), commit (one transaction), then publish."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import urgent_writes
from app.domain import show
from app.domain.refusals import Code, Refusal
from app.models import Event
from app.services.programmes import Programme, load_programme
from app.services.timeline import record_change, timeline_entry


class VersionConflict(Refusal):
    """Someone else changed the show first: the press was made on a state that is gone."""

    def __init__(self, programme: Programme, expected: int) -> None:
        self.programme = programme
        super().__init__(
            Code.VERSION_CONFLICT,
            f"The show is at version {programme.event.version}, not {expected}: "
            "another moderator acted first. Here is the current state.",
        )


class Refused(Refusal):
    """The command does not fit the show's state; carries the state it was judged on."""

    def __init__(self, programme: Programme, reason: show.ShowError) -> None:
        self.programme = programme
        self.reason = reason
        super().__init__(reason.code, reason.detail)


async def execute(
    sessions: async_sessionmaker[AsyncSession],
    *,
    slug: str,
    command: show.Command,
    expected_version: int,
    at: datetime,
    actor: str | None,
) -> Programme:
    """Apply one command and return the programme with its new run, durably committed.

    The read and the write are separate transactions on purpose: the write begins with the
    conditional UPDATE, so under SQLite it queues for the write lock instead of failing to
    upgrade a stale read snapshot, and under PostgreSQL concurrent presses wait on the row
    and then find the version moved. Either way exactly one press per version wins.
    """
    async with sessions() as session:
        programme = await load_programme(session, slug)
    if programme.event.version != expected_version:
        raise VersionConflict(programme, expected_version)
    try:
        step = show.apply(programme.plan, programme.run(), command, at=at)
    except show.UnknownTarget:
        raise
    except show.ShowError as error:
        raise Refused(programme, error) from None

    event = programme.event
    event_pk = event.pk
    assert event_pk is not None
    run_json = step.run.to_json()
    # A moderator's press goes ahead of the votes waiting to write (app.db.WriteGate).
    with urgent_writes():
        async with sessions() as session, session.begin():
            won = await record_change(
                session,
                timeline_entry(event_pk, step.entry, actor=actor),
                read_version=expected_version,
                values={"status": step.run.status.value, "run": run_json},
            )
    if not won:
        async with sessions() as session:
            raise VersionConflict(await load_programme(session, slug), expected_version)
    updated = Event.model_validate(
        {**event.model_dump(), "status": step.run.status.value, "version": step.run.version, "run": run_json}
    )
    return replace(programme, event=updated)
