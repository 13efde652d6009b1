"""The one way a command reaches the database: opened for one piece of work, disposed after.

A command is a short-lived process next to the servers: it opens its own engine, runs its work
in one transaction, and closes the engine before it answers, so that SQLite's file and
PostgreSQL's connections are released whatever happened. A database that cannot be reached is
one line naming the setting to check.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
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


def require_existing_database(settings: Settings) -> None:
    """Refuse, before opening it, a SQLite file that does not exist: opening would create an
    empty one, and the command would then act on a database no server reads. Say where the
    command looked and how to point it at the server's."""
    from pathlib import Path

    from sqlalchemy.engine import make_url

    if not is_sqlite(settings.database_url):
        return
    database = make_url(settings.database_url).database
    if not database or database == ":memory:" or Path(database).exists():
        return
    origin = "REGIE_DATABASE_URL" if "REGIE_DATABASE_URL" in os.environ else "the default REGIE_DATABASE_URL"
    fail(
        f"no database at {Path(database).resolve()} ({origin}={settings.database_url}); nothing was "
        "created. Every command uses the database of `regie up` started in the same directory with "
        "the same REGIE_DATABASE_URL: run it from there, or set REGIE_DATABASE_URL to the server's, "
        "e.g. REGIE_DATABASE_URL=sqlite+aiosqlite:////srv/regie/var/regie.db (four slashes for an "
        "absolute path). `regie db upgrade` creates a new, empty one."
    )


def require_current_schema(settings: Settings) -> None:
    """Refuse to touch a database whose schema is behind the code's (or was never created)."""
    from alembic.script import ScriptDirectory

    require_existing_database(settings)
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
