"""The schema only changes through migrations, and they agree with the models on both engines."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from app.db import create_engine, metadata
from tests.conftest import migrate, postgres_database

TABLES = {
    "alembic_version",
    "event",
    "segment",
    "item",
    "timeline_entry",
    "user_account",
    "access_token",
    "programme_revision",
    "resource",
    "question",
    "question_vote",
    "audience_minute",
    "registration",
    "registration_token",
    "signup",
    "session_seats",
}


async def differences(url: str) -> tuple[set[str], list[object]]:
    def compare(connection: Connection) -> tuple[set[str], list[object]]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return set(inspect(connection).get_table_names()), list(compare_metadata(context, metadata))

    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(compare)
    finally:
        await engine.dispose()


async def test_sqlite_upgrades_from_empty_to_head_and_matches_the_models(sqlite_url: str) -> None:
    await migrate(sqlite_url)
    tables, diff = await differences(sqlite_url)
    assert tables == TABLES
    assert diff == []
    await migrate(sqlite_url)  # running it again is harmless


@pytest.mark.scaleout
async def test_postgresql_upgrades_from_empty_to_head_and_matches_the_models() -> None:
    async with postgres_database() as url:
        await migrate(url)
        tables, diff = await differences(url)
        assert tables == TABLES
        assert diff == []


def test_alembic_sees_one_head() -> None:
    from alembic.script import ScriptDirectory

    from app.migrate import alembic_config

    assert len(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()) == 1
