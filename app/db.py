"""The async engine and its sessions; one place that knows SQLite from PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    AsyncSessionTransaction,
    async_sessionmaker,
    create_async_engine,
)
from sqlmodel import SQLModel

logger = logging.getLogger(__name__)

# Named constraints keep migrations reproducible and let SQLite's batch mode find them again.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION
metadata = SQLModel.metadata


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # The busy timeout lets concurrent writers queue for SQLite's single write lock
        # instead of failing; the conditional UPDATE then decides who wins.
        engine = create_async_engine(url, connect_args={"timeout": 15}, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # pool_pre_ping: after a PostgreSQL restart, stale pooled connections are replaced rather
    # than failing the first command of every worker.
    # Short timeouts: while PostgreSQL is down a moderator gets a clear 503 in seconds, not a hang.
    return create_async_engine(
        url, pool_pre_ping=True, pool_timeout=5, connect_args={"timeout": 5, "command_timeout": 10}, **kwargs
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets viewers read while a moderator's command writes; FULL sync keeps what we
    # answered 200 to on disk even if the machine loses power right after.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    # Not in a commit: the commit that crosses SQLite's threshold would copy the WAL into the
    # database and sync it, a press now and then paying ~100 ms for the votes before it. The
    # server checkpoints on its own instead (`keep_wal_short`), and the last connection to close
    # checkpoints what is left.
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


CHECKPOINT_SECONDS = 1.0


async def keep_wal_short(engine: AsyncEngine, *, every: float = CHECKPOINT_SECONDS) -> None:
    """On SQLite, copy the write-ahead log into the database every `every` seconds, away from any
    request: a PASSIVE checkpoint never waits for a lock, nor makes a writer wait. Runs until
    cancelled; returns at once on PostgreSQL."""
    if not is_sqlite(str(engine.url)):
        return
    while True:
        await asyncio.sleep(every)
        try:
            async with engine.connect() as connection:
                await connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception as error:  # the next round tries again; the log only grows meanwhile
            logger.warning("SQLite checkpoint failed: %s", type(error).__name__)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    if is_sqlite(str(engine.url)):
        return async_sessionmaker(
            engine, class_=GatedSession, expire_on_commit=False, info={_GATE: WriteGate()}
        )
    return async_sessionmaker(engine, expire_on_commit=False)


# --- SQLite's one writer ------------------------------------------------------------------------
#
# SQLite has one write lock per database. A writer that finds it taken does not queue: its busy
# handler sleeps and tries again, with sleeps growing to 100 ms. Under 55 votes a second (issue
# 12's bench) a moderator's press waited ~100 ms that way for a lock free most of the time, and
# its delivery to 10,000 viewers went from 128 to 231 ms at p99 while the fan-out itself did not
# move. So the writers of one process take turns here first: in order, with no polling, and a
# moderator's command (`urgent_writes`) ahead of every vote waiting. Across processes (several
# workers on one SQLite file) the busy handler still arbitrates; PostgreSQL needs none of it.

_GATE = "regie.write_gate"
_urgent: ContextVar[bool] = ContextVar("regie_urgent_writes", default=False)

GATE_PATIENCE_SECONDS = 15.0
"""As long as SQLite's own busy timeout: past it a writer goes ahead and lets SQLite decide."""


@contextlib.contextmanager
def urgent_writes() -> Iterator[None]:
    """The transactions begun within go ahead of the others waiting (a moderator's press)."""
    token = _urgent.set(True)
    try:
        yield
    finally:
        _urgent.reset(token)


class WriteGate:
    """One write transaction at a time in this process, urgent ones first, each group in order.

    Reentrant for the task that holds it (a transaction begun inside another must not wait for
    it). A writer that waited `GATE_PATIENCE_SECONDS` goes ahead anyway: a gate must never be
    the reason a command hangs.
    """

    def __init__(self) -> None:
        self._holder: asyncio.Task[Any] | None = None
        self._depth = 0
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._normal: deque[asyncio.Future[None]] = deque()

    async def acquire(self, *, urgent: bool) -> bool:
        """Wait for this task's turn; False when it went ahead without one (nothing to release)."""
        task = asyncio.current_task()
        if self._holder is task and task is not None:
            self._depth += 1
            return True
        if self._holder is None and not self._urgent and not self._normal:
            self._holder, self._depth = task, 1
            return True
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiting = self._urgent if urgent else self._normal
        waiting.append(turn)
        try:
            async with asyncio.timeout(GATE_PATIENCE_SECONDS):
                await turn
        except TimeoutError:
            with contextlib.suppress(ValueError):
                waiting.remove(turn)
            if not (turn.done() and not turn.cancelled()):
                logger.warning("a write went ahead after %.0f s at the write gate", GATE_PATIENCE_SECONDS)
                return False
            # Handed over just as the patience ran out: it is ours.
        except BaseException:
            with contextlib.suppress(ValueError):
                waiting.remove(turn)
            if turn.done() and not turn.cancelled():
                self._pass_on()  # the turn was handed to us as we were cancelled: hand it on
            raise
        self._holder, self._depth = task, 1
        return True

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._pass_on()

    def _pass_on(self) -> None:
        self._holder = None
        for waiting in (self._urgent, self._normal):
            while waiting:
                turn = waiting.popleft()
                if not turn.done():
                    # Held for the woken task from now, so that nobody slips in before it runs.
                    self._holder = _RESERVED
                    turn.set_result(None)
                    return


_RESERVED: Any = object()
"""The holder between a turn handed over and its task taking it."""


class _GatedTransaction(AsyncSessionTransaction):
    __slots__ = ("_gate", "_held")

    def __init__(self, session: AsyncSession, gate: WriteGate) -> None:
        super().__init__(session)
        self._gate = gate
        self._held = False

    async def __aenter__(self) -> AsyncSessionTransaction:
        self._held = await self._gate.acquire(urgent=_urgent.get())
        try:
            return await super().__aenter__()
        except BaseException:
            self._release()
            raise

    async def __aexit__(self, type_: Any, value: Any, traceback: Any) -> None:
        try:
            await super().__aexit__(type_, value, traceback)
        finally:
            self._release()

    def _release(self) -> None:
        if self._held:
            self._held = False
            self._gate.release()


class GatedSession(AsyncSession):
    """On SQLite: `begin()` waits for this process's turn to write (see `WriteGate`)."""

    def begin(self) -> AsyncSessionTransaction:
        gate: WriteGate | None = self.info.get(_GATE)
        return _GatedTransaction(self, gate) if gate is not None else super().begin()


async def session_scope(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with sessionmaker() as session:
        yield session
