"""`regie import` and `regie db upgrade`: programmes from files, and the schema they live in."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from pathlib import Path

import yaml
from sqlalchemy.ext.asyncio import AsyncSession

from app.cli.command import fail
from app.cli.database import database_errors, in_database, require_current_schema, upgrade_schema
from app.config import Settings, get_settings
from app.domain.programme import ProgrammeDocument, ProgrammeError, parse_programme
from app.domain.programme_yaml import DocumentTooLarge, load_programme_yaml

SEED_DIR = Path(__file__).parent.parent / "programmes"


def read_programme(path: Path) -> ProgrammeDocument:
    """Read and validate one programme file (YAML, or JSON which YAML also reads)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        fail(f"{path}: no such file")
    except (OSError, UnicodeDecodeError) as error:
        fail(f"{path}: cannot be read ({error})")
    try:
        data = load_programme_yaml(text)
    except DocumentTooLarge as error:
        fail(f"{path}: refused, nothing was stored: {error}")
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "not valid YAML or JSON"
        fail(f"{path}{where}: {problem}")
    if not isinstance(data, dict):
        fail(f"{path}: a programme is a mapping (slug, title, segments, …), not {type(data).__name__}")
    try:
        return parse_programme(data, source=str(path))
    except ProgrammeError as error:
        lines = "\n".join(f"  - {problem}" for problem in error.problems)
        fail(f"{path}: refused, nothing was stored:\n{lines}")


async def import_programmes(settings: Settings, documents: Sequence[ProgrammeDocument]) -> list[str]:
    """Store every document in one transaction (all of them, or none), through the one service
    that changes shows, so that running servers tell their viewers at once."""
    from app.domain.refusals import Refusal
    from app.services.changes import command_shows
    from app.services.programmes import EditRaced

    async with command_shows(settings) as shows:
        try:
            done = await shows.replace(documents)
        except Refusal as error:
            fail(f"{error.detail} Nothing was stored.")
        except EditRaced as error:
            fail(f"{error}: the show moved while importing; nothing was stored, try again.")
    return [f"{'created' if saved.created else 'replaced'} {saved.slug}" for saved, _ in done]


async def store_programmes(session: AsyncSession, documents: Sequence[ProgrammeDocument]) -> list[str]:
    from app.domain.refusals import Refusal
    from app.services.programmes import EditRaced, replace_programme

    done = []
    for document in documents:
        try:
            created = await replace_programme(session, document)
        except Refusal as error:
            fail(f"{document.slug}: {error.detail} Nothing was stored.")
        except EditRaced:
            fail(f"{document.slug}: the show moved while importing; nothing was stored, try again.")
        done.append(f"{'created' if created else 'replaced'} {document.slug}")
    return done


def seed_documents() -> list[ProgrammeDocument]:
    return [read_programme(path) for path in sorted(SEED_DIR.glob("*.yaml"))]


def seed_if_empty(settings: Settings) -> list[str]:
    """Store the bundled programmes in a database that has no event yet (what `regie up` shows)."""
    from sqlalchemy import func, select

    from app.models import Event

    async def seed(session: AsyncSession) -> list[str]:
        if (await session.execute(select(func.count()).select_from(Event))).scalar_one():
            return []
        return await store_programmes(session, seed_documents())

    return in_database(settings, seed)


def cmd_import(args: argparse.Namespace) -> None:
    settings = get_settings()
    documents = [read_programme(Path(name)) for name in args.files]
    slugs = [document.slug for document in documents]
    if len(slugs) != len(set(slugs)):
        fail("two files describe the same event slug; nothing was stored")
    require_current_schema(settings)
    with database_errors(settings):
        lines = asyncio.run(import_programmes(settings, documents))
    for line in lines:
        print(line)


def cmd_db_upgrade(args: argparse.Namespace) -> None:
    upgrade_schema(get_settings())
    print("database schema is up to date")


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    imp = commands.add_parser("import", help="create or replace programmes from YAML or JSON files")
    imp.add_argument("files", nargs="+", metavar="FILE")
    imp.set_defaults(handler=cmd_import)

    db = commands.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="apply the migrations").set_defaults(handler=cmd_db_upgrade)
