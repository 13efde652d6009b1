"""`regie registrations`: the moderators' list of an event's registrations, and the retention purge."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from app.cli.command import fail
from app.cli.database import database_errors, in_database, require_current_schema
from app.config import get_settings


def cmd_export(args: argparse.Namespace) -> None:
    from app.exports import registrations as listing
    from app.services import registrations
    from app.services.programmes import EventNotFound, load_programme

    settings = get_settings()
    require_current_schema(settings)

    async def export(session: AsyncSession) -> bytes:
        try:
            programme = await load_programme(session, args.slug)
        except EventNotFound as error:
            fail(str(error))
        entries = await registrations.for_event(session, programme.event)
        if args.format == "xlsx":
            return listing.to_xlsx(entries, title=programme.event.title)
        return listing.to_csv(entries)

    body = in_database(settings, export)
    if args.output is None:
        if args.format == "xlsx" and sys.stdout.isatty():
            fail("an .xlsx file is binary: give --output FILE")
        sys.stdout.buffer.write(body)
        sys.stdout.buffer.flush()
        return
    output: Path = args.output
    output.write_bytes(body)
    print(f"wrote {output}", file=sys.stderr)


def cmd_purge(args: argparse.Namespace) -> None:
    import asyncio

    from app.db import create_engine, create_sessionmaker
    from app.services.registrations import erase_expired

    settings = get_settings()
    require_current_schema(settings)
    days = settings.retention_days if args.days is None else args.days

    async def purge() -> dict[str, int]:
        engine = create_engine(settings.database_url)
        try:
            return await erase_expired(
                create_sessionmaker(engine), now=datetime.now(UTC), retention=timedelta(days=days)
            )
        finally:
            await engine.dispose()

    with database_errors(settings):
        erased = asyncio.run(purge())
    for slug, count in erased.items():
        print(f"{slug}: erased {count} registration(s)")
    print(f"erased {sum(erased.values())} registration(s) of events ended more than {days} days ago")


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("registrations", help="an event's registrations (personal data)")
    actions = group.add_subparsers(dest="registrations_command", required=True, metavar="ACTION")
    export = actions.add_parser("export", help="write an event's registrations as CSV (default) or .xlsx")
    export.add_argument("slug")
    export.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    export.add_argument("--output", "-o", type=Path, default=None, help="a file (default: standard output)")
    export.set_defaults(handler=cmd_export)
    purge = actions.add_parser(
        "purge", help="erase the registrations of events that ended more than REGIE_RETENTION_DAYS ago"
    )
    purge.add_argument("--days", type=int, default=None, help="override REGIE_RETENTION_DAYS")
    purge.set_defaults(handler=cmd_purge)
