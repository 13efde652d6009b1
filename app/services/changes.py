"""The one way a show changes: commit in one transaction, then tell everyone.

A moderator's press (from the API, and so from the rehearsal autopilot, which is an API client),
an organiser's save (`PUT`, a restored revision), a document added or removed, a question put on
or off air, a programme imported by `regie import`: each
commits here — the new run or programme
with its timeline entry, in one transaction — and then `announce` makes it known: this process's
read snapshot takes it, and the broadcast carries the programme message and then the live message
to the viewers of every process. Routes and commands only translate requests and answers.

A command-line process has no viewers. With `redis://` its announcement reaches the servers like
any other. With the embedded `memory://` broadcast it reaches nobody, so each server process
notices by itself: `follow_database` compares every event's version with the last it announced,
a query of a few rows four times a second (0.8 ms of CPU each on SQLite, so 0.3 % of one core;
see docs/live-websocket.md), and announces whatever another process committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.domain import show
from app.domain.programme import ProgrammeDocument
from app.domain.questions import ModerationAction
from app.live.broadcast import Broadcast, create_broadcast
from app.live.hub import channel_name
from app.models import Event
from app.public import LiveState, live_message, live_state, programme_message
from app.services import control, questions, resources
from app.services.programmes import EditRaced, Programme, Saved, load_programme, store_programme
from app.services.snapshots import Snapshots

logger = logging.getLogger(__name__)

# How often a save is judged again when presses keep slipping in between.
_ATTEMPTS = 5


class Shows:
    """Changes the shows of one database, and tells every viewer through one broadcast."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        broadcast: Broadcast,
        *,
        clock: Callable[[], datetime],
        snapshots: Snapshots | None = None,
    ) -> None:
        self._sessions = sessions
        self._broadcast = broadcast
        self._clock = clock
        self._snapshots = snapshots
        # The newest version this process announced (or saw at its start), by event.
        self._announced: dict[str, int] = {}

    async def press(
        self, slug: str, command: show.Command, *, expected_version: int, actor: str | None
    ) -> LiveState:
        """Apply a moderator's command (one conditional UPDATE), then announce it.

        Raises `control.VersionConflict` or `control.Refused` (both carry the state they were
        judged on) and `show.UnknownTarget`; nothing is stored or sent then.
        """
        programme = await control.execute(
            self._sessions,
            slug=slug,
            command=command,
            expected_version=expected_version,
            at=self._clock(),
            actor=actor,
        )
        logger.info("%s: %s by %s → version %d", slug, command.action.value, actor, programme.event.version)
        return await self.announce(programme)

    async def save(
        self,
        document: ProgrammeDocument,
        *,
        actor: str | None,
        expected_revisions: frozenset[int] | None = None,
        restored_from: int | None = None,
    ) -> tuple[Saved, Programme]:
        """An organiser's save (`PUT`, a restored revision): judged and stored in one transaction
        (`programmes.store_programme`: the revision, version +1, an `edit` on the timeline), then
        announced. A press slipping in between makes the write lose its conditional UPDATE: the
        save is judged again on the new run (the item may have started meanwhile)."""
        at = self._clock()
        for attempt in range(_ATTEMPTS):
            try:
                async with self._sessions() as session, session.begin():
                    saved = await store_programme(
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
        async with self._sessions() as session:
            programme = await load_programme(session, document.slug)
        if saved.changes and not saved.created:
            logger.info(
                "%s: programme revision %d by %s → version %d",
                saved.slug,
                saved.revision,
                actor,
                saved.version,
            )
            await self.announce(programme)
        else:
            self._announced.setdefault(saved.slug, saved.version)
            if self._snapshots is not None:
                self._snapshots.keep(programme)
        return saved, programme

    async def replace(
        self, documents: Sequence[ProgrammeDocument], *, actor: str | None = None
    ) -> list[tuple[Saved, Programme]]:
        """`regie import`: every document stored in one transaction (all of them, or none), by
        the same rules as a save, then each change announced. Raises `Refusal` (`item_started`)
        or `EditRaced` (a press came in between: nothing stored, try again)."""
        at = self._clock()
        async with self._sessions() as session, session.begin():
            stored = [await store_programme(session, document, at=at, actor=actor) for document in documents]
        done = []
        for saved in stored:
            async with self._sessions() as session:
                programme = await load_programme(session, saved.slug)
            if saved.changes and not saved.created:
                await self.announce(programme)
            done.append((saved, programme))
        return done

    async def attach(
        self, slug: str, item_id: str, *, title: str, content_type: str, data: bytes, actor: str | None
    ) -> tuple[str, Programme]:
        """A checked file added to an item (version +1, an `edit`), then announced; its id."""
        resource_id, programme = await resources.add_file(
            self._sessions,
            slug=slug,
            item_id=item_id,
            title=title,
            content_type=content_type,
            data=data,
            at=self._clock(),
            actor=actor,
        )
        await self.announce(programme)
        return resource_id, programme

    async def detach(self, resource_id: str, *, actor: str | None) -> None:
        """A document removed (version +1, an `edit`), then announced."""
        programme = await resources.remove_file(self._sessions, resource_id, at=self._clock(), actor=actor)
        await self.announce(programme)

    async def moderate(
        self, slug: str, question_id: str, action: ModerationAction, *, actor: str
    ) -> questions.Moderated:
        """A moderator's decision on a question; putting it on or off air is a change of the show
        (version +1, a timeline entry) and is announced like a press."""
        outcome = await questions.moderate_question(
            self._sessions, slug=slug, question_id=question_id, action=action, actor=actor, at=self._clock()
        )
        if outcome.show_changed:
            version = outcome.programme.event.version
            logger.info("%s: question %s by %s → version %d", slug, action.value, actor, version)
            await self.announce(outcome.programme)
        return outcome

    async def announce(self, programme: Programme) -> LiveState:
        """Tell everyone about a committed change: the snapshot, then the broadcast.

        The programme message goes first, so that a follower holds the programme of a version by
        the time its live state arrives. Returns the live state sent, for the caller to answer.
        """
        slug, version = programme.event.slug, programme.event.version
        if version > self._announced.get(slug, -1):
            self._announced[slug] = version
        if self._snapshots is not None:
            self._snapshots.keep(programme)
        now = self._clock()
        state = live_state(programme, server_time=now)
        channel = channel_name(slug)
        await self._broadcast.publish(channel, programme_message(programme, now=now))
        await self._broadcast.publish(channel, live_message(state))
        return state

    async def follow_database(self, *, every: float) -> None:
        """Announce what other processes commit (`regie import`), for the `memory://` broadcast.

        The first look only takes note of every version: what was committed before this process
        started needs no announcement, its viewers read it when they come.
        """
        first = True
        while True:
            try:
                await self._announce_what_changed(note_only=first)
                first = False
            except (SQLAlchemyError, OSError) as error:
                logger.warning("could not look for changes (%s); trying again", type(error).__name__)
            except Exception:  # a bug here must not end the watch, nor go unnoticed
                logger.exception("could not announce a change made by another process")
            await asyncio.sleep(every)

    async def _announce_what_changed(self, *, note_only: bool) -> None:
        async with self._sessions() as session:
            rows = (await session.execute(select(Event.slug, Event.version))).all()  # type: ignore[call-overload]
        for slug, version in rows:
            known = self._announced.get(slug)
            if note_only or (known is None and version == 0) or (known is not None and version < known):
                # What was there before this process, a new event nobody can hold an older state
                # of, or a database reset: note it.
                self._announced[slug] = version
            elif known is None or version > known:
                async with self._sessions() as session:
                    programme = await load_programme(session, slug)
                logger.info("%s: version %d committed elsewhere, announced", slug, programme.event.version)
                await self.announce(programme)


@contextlib.asynccontextmanager
async def command_shows(settings: Settings) -> AsyncIterator[Shows]:
    """`Shows` for a process without viewers (a command): its own engine and broadcast, both
    closed after, so that its announcements reach the servers through Redis when there is one."""
    engine = create_engine(settings.database_url)

    def nobody_listens(_channel: str, _message: bytes) -> None:
        return None

    async def nothing_to_resync() -> None:
        return None

    broadcast = create_broadcast(settings.broadcast_url, listener=nobody_listens, resync=nothing_to_resync)
    await broadcast.start()
    try:
        yield Shows(create_sessionmaker(engine), broadcast, clock=lambda: datetime.now(UTC))
    finally:
        await broadcast.stop()
        await engine.dispose()
