"""A rehearsal copy of a programme, shifted to now and compressed to the autopilot's speed.

The copy's own planned times are the rehearsal's real times: a two-hour show rehearsed at speed
60 becomes a two-minute programme starting now. Every screen then agrees with the autopilot —
countdowns, drift and projected times mean what they say — with nothing special in the pages.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.programme import ProgrammeDocument, parse_programme
from app.models import Event, User
from app.public import Programme
from app.services import auth
from app.services.programmes import load_programme, replace_programme

TITLE_PREFIX = "Répétition — "
AUTOPILOT = "autopilot"
SLUG_LIMIT = 80


def rehearsal_slug(slug: str, *, at: datetime, zone: ZoneInfo) -> str:
    suffix = f"-repetition-{at.astimezone(zone):%Y%m%d%H%M}"
    return slug[: SLUG_LIMIT - len(suffix)].rstrip("-") + suffix


def rehearsal_document(
    programme: Programme, *, slug: str, starts_at: datetime, speed: float
) -> ProgrammeDocument:
    """The programme as a rehearsal: same running order and guests, times mapped onto now.

    It reads the mystery items' hidden fields to copy them into the rehearsal's own (still
    hidden) ones — the copy never leaves the server; the autopilot reveals them on air.
    """
    event = programme.event
    origin = event.starts_at

    def moved(moment: datetime | None) -> str | None:
        return (starts_at + (moment - origin) / speed).isoformat() if moment else None

    segments: list[dict[str, Any]] = []
    for segment in programme.segments:
        items = []
        for item in (i for i in programme.items if i.segment_pk == segment.pk):
            document: dict[str, Any] = {
                "id": item.id,
                "kind": item.kind,
                "title": item.title,
                "description": item.description,
                "planned_start": moved(item.planned_start),
                "speakers": item.speakers,
                "mystery": item.mystery,
            }
            if item.mystery:
                document["teaser"] = item.teaser
                document["hidden"] = {
                    "speakers": item.hidden_speakers,
                    "announcement": item.hidden_announcement,
                }
            items.append(document)
        segments.append(
            {
                "id": segment.id,
                "title": segment.title,
                "planned_start": moved(segment.planned_start),
                "planned_end": moved(segment.planned_end),
                "items": items,
            }
        )
    data = {
        "slug": slug,
        "title": (TITLE_PREFIX + event.title)[:500],
        "subtitle": event.subtitle,
        "description": event.description,
        "timezone": event.timezone,
        "location": event.location,
        "starts_at": moved(event.starts_at),
        "ends_at": moved(event.ends_at),
        "organiser": event.organiser,
        "partners": list(event.partners),
        "see_also": [event.slug],
        "stream_url": event.stream_url,
        "segments": segments,
    }
    return parse_programme(data, source=f"rehearsal of {event.slug}")


async def create_rehearsal(
    session: AsyncSession, *, source: str, starts_at: datetime, speed: float, now: datetime
) -> ProgrammeDocument:
    """Store a new rehearsal copy of `source` in the session's transaction and return it."""
    programme = await load_programme(session, source)
    base = rehearsal_slug(source, at=now, zone=ZoneInfo(programme.event.timezone))
    slug, n = base, 2
    while (await session.execute(select(Event.pk).where(Event.slug == slug))).first() is not None:  # type: ignore[call-overload]
        suffix = f"-{n}"
        slug, n = base[: SLUG_LIMIT - len(suffix)] + suffix, n + 1
    document = rehearsal_document(programme, slug=slug, starts_at=starts_at, speed=speed)
    await replace_programme(session, document)
    return document


async def autopilot_token(session: AsyncSession, *, now: datetime, ttl: timedelta) -> str:
    """A bearer token for the `autopilot` moderator, created on first use.

    Its password is random and never shown: the autopilot only ever uses tokens issued here,
    and the timeline records its presses under its own name.
    """
    user = (await session.execute(select(User).where(User.name == AUTOPILOT))).scalar_one_or_none()  # type: ignore[arg-type]
    if user is None:
        user = await auth.add_user(
            session, name=AUTOPILOT, role=auth.Role.MODERATOR, password=secrets.token_urlsafe(32)
        )
    return await auth.issue_token(session, user, now=now, ttl=ttl)
