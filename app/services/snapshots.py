"""Public reads served from memory: at most a second old, dropped as soon as the show changes.

A live show draws many more reads than changes, and most readers ask for the same two documents
(`/live` and the programme). Each process keeps, per event, the programme it last read and the
public JSON made from it, so a read costs no query and no serialisation. An entry is dropped when
this process learns that the show changed (`app.services.changes.Shows.announce`: a change it
committed, one another process committed and it noticed, a broadcast from another process) and in
any case after `max_age`, which bounds how stale a read can be after a change this process was
not told about (a broadcast lost during a Redis outage).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.public import event_public, live_state
from app.services.programmes import Programme, load_programme

PROJECTION_STEP = timedelta(seconds=1)
# A time no live state can carry, so that it occurs once in the rendered bytes: where the clock goes.
_PLACEHOLDER_TIME = datetime(1, 1, 1, tzinfo=UTC)
_DATETIME = TypeAdapter(datetime)
_PLACEHOLDER_JSON = _DATETIME.dump_json(_PLACEHOLDER_TIME)


@dataclass
class Snapshot:
    programme: Programme
    taken_at: float
    live: bytes | None = None
    live_identity: bytes | None = None
    live_for: datetime | None = None
    event_json: bytes | None = None
    event_for: datetime | None = None


def _stale(made_for: datetime | None, now: datetime) -> bool:
    # Projected times move with the clock while a show overruns: a rendering serves for one
    # second of the show's clock, never longer.
    return made_for is None or not timedelta(0) <= now - made_for < PROJECTION_STEP


class Snapshots:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        max_age: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._max_age = max_age
        self._monotonic = monotonic
        self._entries: dict[str, Snapshot] = {}

    async def get(self, slug: str) -> Snapshot:
        """The event's snapshot; reads the database when it has none or it is too old.

        Raises EventNotFound like `load_programme` (unknown events are not cached: an import
        may create them at any moment).
        """
        entry = self._entries.get(slug)
        if entry is not None and self._monotonic() - entry.taken_at < self._max_age:
            return entry
        async with self._sessions() as session:
            programme = await load_programme(session, slug)
        entry = self._entries[slug] = Snapshot(programme=programme, taken_at=self._monotonic())
        return entry

    def forget(self, slug: str) -> None:
        self._entries.pop(slug, None)

    def keep(self, programme: Programme) -> None:
        """Take the programme a command just committed as the event's snapshot."""
        self._entries[programme.event.slug] = Snapshot(programme=programme, taken_at=self._monotonic())

    def changed(self, slug: str, version: int) -> None:
        """The show is at `version` (a broadcast said so): drop an older snapshot."""
        entry = self._entries.get(slug)
        if entry is not None and entry.programme.event.version < version:
            del self._entries[slug]

    def live(self, entry: Snapshot, *, now: datetime) -> tuple[bytes, bytes]:
        """The live state's JSON with `server_time` = now, and its bytes without `server_time`.

        Everything but `server_time` is rendered once per snapshot (and second of the show's
        clock): the clock is spliced into the rendered bytes. The second value is what a
        validator is made from, so a poller gets 304 until the show itself changes.
        """
        if entry.live is None or entry.live_identity is None or _stale(entry.live_for, now):
            state = live_state(entry.programme, server_time=_PLACEHOLDER_TIME, now=now)
            entry.live = state.model_dump_json().encode()
            entry.live_identity = state.model_dump_json(exclude={"server_time"}).encode()
            entry.live_for = now
        return entry.live.replace(_PLACEHOLDER_JSON, _DATETIME.dump_json(now), 1), entry.live_identity

    def event_json(self, entry: Snapshot, *, now: datetime) -> bytes:
        if entry.event_json is None or _stale(entry.event_for, now):
            entry.event_json = event_public(entry.programme, now=now).model_dump_json().encode()
            entry.event_for = now
        return entry.event_json
