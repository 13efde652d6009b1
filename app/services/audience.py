"""Presence: this process reports its viewers, samples everyone's, and keeps the peak and curve.

Every `REPORT_SECONDS` each API process reports its JSON WebSocket and SSE viewers of each event
to the audience board, then reads the board's totals and records them per minute in the database
(`AudienceMinute`, the larger value wins). Moderators read the count now, the peak and when it
was, and the curve for the replay's report.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.live.audience import REPORT_SECONDS, AudienceBoard
from app.live.hub import LiveHub
from app.models import AudienceMinute, Event
from app.services.programmes import EventNotFound

logger = logging.getLogger(__name__)


def _minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


class Presence:
    def __init__(
        self,
        *,
        board: AudienceBoard,
        hub: LiveHub,
        sessions: async_sessionmaker[AsyncSession],
        reporter: str,
        clock: Callable[[], datetime],
        interval: float = REPORT_SECONDS,
    ) -> None:
        self.board = board
        self._hub = hub
        self._sessions = sessions
        self._reporter = reporter
        self._clock = clock
        self._interval = interval
        self._reported: set[str] = set()
        self._recorded: dict[tuple[str, datetime], int] = {}
        self._event_pks: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.board.close()

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception as error:  # Redis or the database away: the next tick tries again
                logger.warning("audience not sampled: %s", type(error).__name__)
            await asyncio.sleep(self._interval)

    async def tick(self) -> None:
        watched = set(self._hub.watched())
        # An event left by its last viewer is reported once more, at zero, rather than left to age.
        for slug in watched | self._reported:
            await self.board.report(slug, self._reporter, self._hub.audience_of(slug))
        self._reported = watched
        now = self._clock()
        for slug in await self.board.events():
            await self.record(slug, await self.board.count(slug), at=now)
        current = _minute(now)
        for key in [key for key in self._recorded if key[1] < current]:
            del self._recorded[key]

    async def record(self, slug: str, viewers: int, *, at: datetime) -> None:
        """Keep `viewers` as the minute's value if it is the most seen in that minute."""
        minute = _minute(at)
        if viewers <= self._recorded.get((slug, minute), 0):
            return
        self._recorded[(slug, minute)] = viewers
        event_pk = await self._event_pk(slug)
        if event_pk is None:
            return
        async with self._sessions() as session, session.begin():
            dialect = session.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            table = AudienceMinute.__table__  # type: ignore[attr-defined]
            statement = insert(table).values(event_pk=event_pk, minute=minute, viewers=viewers, peak_at=at)
            await session.execute(
                statement.on_conflict_do_update(
                    index_elements=["event_pk", "minute"],
                    set_={"viewers": statement.excluded.viewers, "peak_at": statement.excluded.peak_at},
                    where=table.c.viewers < statement.excluded.viewers,
                )
            )

    async def _event_pk(self, slug: str) -> int | None:
        if slug not in self._event_pks:
            async with self._sessions() as session:
                pk = (await session.execute(select(Event.pk).where(Event.slug == slug))).scalar_one_or_none()  # type: ignore[call-overload]
            if pk is None:
                return None
            self._event_pks[slug] = int(pk)
        return self._event_pks[slug]


async def _pk(session: AsyncSession, slug: str) -> int:
    pk = (await session.execute(select(Event.pk).where(Event.slug == slug))).scalar_one_or_none()  # type: ignore[call-overload]
    if pk is None:
        raise EventNotFound(slug)
    return int(pk)


async def curve(session: AsyncSession, slug: str) -> list[AudienceMinute]:
    """The most viewers at once in each minute someone followed the event, in order."""
    event_pk = await _pk(session, slug)
    rows = await session.execute(
        select(AudienceMinute).where(AudienceMinute.event_pk == event_pk).order_by(AudienceMinute.minute)  # type: ignore[arg-type]
    )
    return list(rows.scalars())


async def peak(session: AsyncSession, slug: str) -> AudienceMinute | None:
    event_pk = await _pk(session, slug)
    rows = await session.execute(
        select(AudienceMinute)
        .where(AudienceMinute.event_pk == event_pk)  # type: ignore[arg-type]
        .order_by(AudienceMinute.viewers.desc(), AudienceMinute.peak_at)  # type: ignore[attr-defined, arg-type]
        .limit(1)
    )
    return rows.scalars().first()
