"""SQLite's writes off the request path's worst cases: the writers of one process take turns at
the write gate (in order, a moderator's press ahead of the votes waiting, never deadlocked by a
transaction inside another), and the write-ahead log is copied into the database by the server
on its own, never by the commit of a request."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
from sqlalchemy import text

from app import db
from app.db import WriteGate, create_engine, create_sessionmaker, keep_wal_short, urgent_writes


async def test_urgent_writers_go_first_then_the_others_in_arrival_order() -> None:
    gate = WriteGate()
    order: list[str] = []
    assert await gate.acquire(urgent=False)  # held: everybody below waits

    async def writer(name: str, *, urgent: bool) -> None:
        assert await gate.acquire(urgent=urgent)
        order.append(name)
        await asyncio.sleep(0)
        gate.release()

    tasks = [
        asyncio.create_task(writer("vote-1", urgent=False)),
        asyncio.create_task(writer("vote-2", urgent=False)),
        asyncio.create_task(writer("press", urgent=True)),
        asyncio.create_task(writer("vote-3", urgent=False)),
    ]
    await asyncio.sleep(0.01)
    gate.release()
    await asyncio.gather(*tasks)
    assert order == ["press", "vote-1", "vote-2", "vote-3"]


async def test_a_writer_cancelled_as_its_turn_came_hands_it_on() -> None:
    gate = WriteGate()
    assert await gate.acquire(urgent=False)
    first = asyncio.create_task(gate.acquire(urgent=False))
    second = asyncio.create_task(gate.acquire(urgent=False))
    await asyncio.sleep(0.01)
    gate.release()  # the turn goes to `first`, which is cancelled before it runs
    first.cancel()
    assert await asyncio.wait_for(second, 1) is True


async def test_a_writer_goes_ahead_after_its_patience(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "GATE_PATIENCE_SECONDS", 0.05)
    gate = WriteGate()
    assert await gate.acquire(urgent=False)
    assert await asyncio.create_task(gate.acquire(urgent=False)) is False


async def test_sessions_on_sqlite_serialise_writes_and_nest_without_deadlock(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'gate.db'}")
    sessions = create_sessionmaker(engine)
    try:
        async with sessions() as session, session.begin():
            await session.execute(text("CREATE TABLE seen (n INTEGER)"))
        inside: list[int] = []
        most = 0

        async def write(n: int) -> None:
            nonlocal most
            with urgent_writes() if n % 5 == 0 else contextlib.nullcontext():
                async with sessions() as session, session.begin():
                    inside.append(n)
                    most = max(most, len(inside))
                    await session.execute(text("INSERT INTO seen VALUES (:n)"), {"n": n})
                    # A transaction begun inside another, by the same task: no wait on itself.
                    async with sessions() as other, other.begin():
                        await other.execute(text("SELECT count(*) FROM seen"))
                    await asyncio.sleep(0)
                    inside.remove(n)

        await asyncio.wait_for(asyncio.gather(*(write(n) for n in range(20))), 30)
        async with sessions() as session:
            assert (await session.execute(text("SELECT count(*) FROM seen"))).scalar_one() == 20
        assert most == 1
    finally:
        await engine.dispose()


async def test_no_commit_checkpoints_and_the_server_does_it_on_its_own(tmp_path: Path) -> None:
    # What a checkpoint does is seen on disk: it copies the log's pages into the database file.
    database = tmp_path / "wal.db"
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    sessions = create_sessionmaker(engine)
    try:
        async with sessions() as session, session.begin():
            await session.execute(text("CREATE TABLE filler (blob TEXT)"))
        for _ in range(300):  # ~1,800 pages of log: past SQLite's own threshold of 1,000
            async with sessions() as session, session.begin():
                await session.execute(text("INSERT INTO filler VALUES (:b)"), {"b": "x" * 16_000})
        assert database.stat().st_size < 100_000  # no commit copied the 4.8 MB of log
        assert Path(f"{database}-wal").stat().st_size > 4_000_000

        keeping = asyncio.create_task(keep_wal_short(engine, every=0.01))
        try:
            async with asyncio.timeout(10):
                while database.stat().st_size < 4_000_000:
                    await asyncio.sleep(0.05)
        finally:
            keeping.cancel()
        async with sessions() as session:
            assert (await session.execute(text("SELECT count(*) FROM filler"))).scalar_one() == 300
    finally:
        await engine.dispose()
