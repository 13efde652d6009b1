"""`regie rehearse`: a copy of a programme starting soon, flown by the autopilot through the API;
`regie rehearse --delete SLUG` throws a copy away."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.cli.command import fail
from app.cli.database import in_database, require_current_schema
from app.config import get_settings
from app.domain.programme import ProgrammeDocument


def parse_duration(text: str) -> timedelta:
    """`30s`, `2m`, `1h` or a number of seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if match is None:
        raise argparse.ArgumentTypeError(f"« {text} » is not a duration like 30s, 2m or 1h")
    return timedelta(seconds=float(match[1]) * {"": 1, "s": 1, "m": 60, "h": 3600}[match[2]])


def positive_speed(text: str) -> float:
    try:
        speed = float(text)
    except ValueError:
        speed = 0
    if not 0 < speed <= 100_000:
        raise argparse.ArgumentTypeError(
            f"« {text} » is not a speed between 0 and 100000 (60 = a minute a second)"
        )
    return speed


def cmd_rehearse(args: argparse.Namespace) -> None:
    """Copy a programme as a rehearsal starting soon, and fly it through the running API."""
    import httpx

    from app.rehearsal.autopilot import Outcome

    settings = get_settings()
    if args.delete is not None:
        if args.slug is not None:
            fail("give either a programme to rehearse or --delete SLUG, not both")
        delete_copy(args.delete)
        return
    if args.slug is None:
        fail("say which programme to rehearse (its slug), or which rehearsal to --delete")
    api_url = args.api_url.rstrip("/")
    try:
        httpx.get(f"{api_url}/healthz", timeout=5).raise_for_status()
    except httpx.HTTPError:
        fail(
            f"no Régie API answers at {api_url}: run `regie up` in another terminal first "
            "(or point --api-url at the API that uses this database)"
        )
    require_current_schema(settings)
    ttl = timedelta(seconds=settings.token_ttl_seconds)
    removed, document, token = in_database(
        settings, lambda session: _prepare(session, args.slug, args.speed, args.starts_in, ttl)
    )
    for slug in removed:
        print(f"removed the rehearsal {slug} (older than a day)", flush=True)
    length = document.ends_at - document.starts_at
    local_start = document.starts_at.astimezone(ZoneInfo(document.timezone))
    print(
        f"rehearsal « {document.title} » created as {document.slug}: starts at {local_start:%H:%M:%S} "
        f"(in {args.starts_in.total_seconds():g} s), lasts {_clock_text(length)} at speed ×{args.speed:g}",
        flush=True,
    )
    print(
        f"watch it on the page /events/{document.slug} (or {api_url}/api/v1/events/{document.slug}/live); "
        "any moderator can take over from the console at any moment",
        flush=True,
    )
    result = asyncio.run(_fly(api_url, document.slug, token))
    if result.outcome is Outcome.REFUSED:
        fail(f"the autopilot stopped: {result.message}")
    print(
        result.message if result.outcome is Outcome.FINISHED else "the autopilot has handed over", flush=True
    )


def delete_copy(slug: str) -> None:
    from app.rehearsal.copies import NotARehearsal, delete_rehearsal
    from app.services.programmes import EventNotFound

    settings = get_settings()
    require_current_schema(settings)

    async def work(session: AsyncSession) -> None:
        try:
            await delete_rehearsal(session, slug)
        except (EventNotFound, NotARehearsal) as error:
            fail(str(error))

    in_database(settings, work)
    print(f"deleted the rehearsal {slug}")


async def _prepare(
    session: AsyncSession, source: str, speed: float, starts_in: timedelta, ttl: timedelta
) -> tuple[list[str], ProgrammeDocument, str]:
    from app.rehearsal.copies import autopilot_token, create_rehearsal, remove_stale_rehearsals
    from app.services.programmes import EventNotFound

    now = datetime.now(UTC)
    removed = await remove_stale_rehearsals(session, now=now)
    try:
        document = await create_rehearsal(
            session, source=source, starts_at=now + starts_in, speed=speed, now=now
        )
    except EventNotFound as error:
        fail(str(error))
    return removed, document, await autopilot_token(session, now=now, ttl=ttl)


async def _fly(api_url: str, slug: str, token: str) -> Any:
    import httpx

    from app.rehearsal.autopilot import Autopilot

    async with httpx.AsyncClient(base_url=api_url, timeout=30) as client:
        try:
            if (await client.get(f"/api/v1/events/{slug}")).status_code == 404:
                fail(f"the API at {api_url} does not know {slug}: does it use this REGIE_DATABASE_URL?")
            return await Autopilot(
                client, slug=slug, token=token, say=lambda line: print(line, flush=True)
            ).run()
        finally:
            with contextlib.suppress(httpx.HTTPError):
                await client.post("/api/v1/auth/revoke", headers={"Authorization": f"Bearer {token}"})


def _clock_text(length: timedelta) -> str:
    seconds = round(length.total_seconds())
    return (
        f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
        if seconds >= 3600
        else f"{seconds // 60}:{seconds % 60:02d}"
    )


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rehearse = commands.add_parser(
        "rehearse",
        help="rehearse a programme: a copy starting now, advanced by an autopilot (needs `regie up` running)",
        description="Copy the programme SLUG as a rehearsal that starts soon, its times compressed by "
        "--speed, and advance it on its planned times through the running API, as a moderator would. Viewers "
        "see it live; a moderator takes over by pressing any button in the console, and the autopilot stops. "
        "The copy shows placeholders instead of the mystery guests, is left off the public index, and is "
        "deleted by --delete or by the next rehearsal once older than a day.",
    )
    rehearse.add_argument("slug", metavar="SLUG", nargs="?", help="the programme to rehearse")
    rehearse.add_argument(
        "--delete", metavar="SLUG", help="delete the rehearsal copy SLUG (nothing else can be deleted)"
    )
    rehearse.add_argument(
        "--speed", type=positive_speed, default=60.0, help="how many times faster than planned (default 60)"
    )
    rehearse.add_argument(
        "--starts-in",
        type=parse_duration,
        default=timedelta(seconds=10),
        help="delay before it starts (default 10s)",
    )
    rehearse.add_argument(
        "--api-url",
        default=os.environ.get("REGIE_API_URL", "http://127.0.0.1:8000"),
        help="the running API (default $REGIE_API_URL or http://127.0.0.1:8000)",
    )
    rehearse.set_defaults(handler=cmd_rehearse)
