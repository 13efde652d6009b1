"""The one way a command reaches the database: opened for one piece of work, disposed after.

A command is a short-lived process next to the servers: it opens its own engine, runs its work
in one transaction, and closes the engine before it answers, so that SQLite's file and
PostgreSQL's connections are released whatever happened. A database that cannot be reached is
one line naming the setting to check.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.cli.command import fail
from app.config import Settings
from app.db import create_engine, create_sessionmaker, is_sqlite

T = TypeVar("T")


@contextlib.asynccontextmanager
async def open_session(settings: Settings) -> AsyncIterator[AsyncSession]:
    """A session in one transaction, on an engine opened for it and disposed after."""
    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            yield session
    finally:
        await engine.dispose()


def in_database(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in `open_session`, from a command's synchronous code."""

    async def run() -> T:
        async with open_session(settings) as session:
            return await work(session)

    with database_errors(settings):
        return asyncio.run(run())


@contextlib.contextmanager
def database_errors(settings: Settings) -> Iterator[None]:
    from sqlalchemy.exc import OperationalError

    try:
        yield
    except (OperationalError, OSError) as error:
        where = "the SQLite file" if is_sqlite(settings.database_url) else "PostgreSQL"
        reason = getattr(error, "orig", None) or error
        fail(f"cannot reach the database ({where}, REGIE_DATABASE_URL): {reason}")


def upgrade_schema(settings: Settings) -> None:
    from app.migrate import upgrade

    with database_errors(settings):
        upgrade(settings.database_url)


def require_current_schema(settings: Settings) -> None:
    """Refuse to touch a database whose schema is behind the code's (or was never created)."""
    from alembic.script import ScriptDirectory

    from app.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config(settings.database_url)).get_current_head()
    current = in_database(settings, _current_revision)
    if current != head:
        fail(
            "the database schema is not up to date "
            f"({current or 'empty'}, expected {head}): run `regie db upgrade` first"
        )


async def _current_revision(session: AsyncSession) -> str | None:
    from sqlalchemy import inspect, text

    connection = await session.connection()
    # Asking first rather than catching the failed SELECT: on PostgreSQL a failed statement
    # spoils the rest of the transaction.
    if not await connection.run_sync(lambda sync: inspect(sync).has_table("alembic_version")):
        return None
    row = (await session.execute(text("SELECT version_num FROM alembic_version"))).first()
    return str(row[0]) if row else None
