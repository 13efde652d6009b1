"""A rehearsal copy of a programme, shifted to now and compressed to the autopilot's speed.

The copy's own planned times are the rehearsal's real times: a two-hour show rehearsed at speed
60 becomes a two-minute programme starting now. Every screen then agrees with the autopilot —
countdowns, drift and projected times mean what they say — with nothing special in the pages.

The copy is public (the autopilot reveals its mystery guests on air, before the real show), so it
never holds the real show's secret: each hidden field is replaced by a placeholder of the same
shape (one per guest, a role where the guest has a role…), and the real values are never read.
It is marked as a rehearsal, which keeps it off the public index, and it is thrown away: by
`regie rehearse --delete SLUG`, or by the next `regie rehearse` once older than a day.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.programme import ProgrammeDocument, parse_programme
from app.models import Event, User
from app.services import auth
from app.services.programmes import EventNotFound, Programme, load_programme, replace_programme

TITLE_PREFIX = "Répétition — "
AUTOPILOT = "autopilot"
SLUG_LIMIT = 80
# A rehearsal is for the day of the show: the next `regie rehearse` removes those older than this.
KEPT_FOR = timedelta(days=1)

# What a rehearsal shows in place of each hidden field: it says plainly that it stands in.
ORDINALS = ("Premier", "Deuxième", "Troisième", "Quatrième", "Cinquième", "Sixième")
PLACEHOLDER_ROLE = "Fonction de l'invité (gardée secrète jusqu'au direct)"
PLACEHOLDER_ORGANISATION = "Organisation de l'invité (gardée secrète jusqu'au direct)"
PLACEHOLDER_ANNOUNCEMENT = (
    "Annonce de répétition : l'invité mystère et son annonce restent secrets jusqu'au direct."
)


class NotARehearsal(LookupError):
    def __init__(self, slug: str) -> None:
        super().__init__(f"« {slug} » is not a rehearsal: only rehearsal copies can be deleted.")


def placeholder_name(n: int) -> str:
    ordinal = ORDINALS[n - 1] if n <= len(ORDINALS) else f"{n}e"
    return f"{ordinal} invité mystère (répétition)"


def placeholder_hidden(
    speakers: list[dict[str, Any]], announcement: str | None, *, first: int
) -> dict[str, Any]:
    """Stand-ins for a mystery item's hidden fields, numbered from `first` across the show.

    Only the shape of the secret is kept (how many guests, which of them have a role or an
    organisation, whether there is an announcement), so the pages are rehearsed as they will look.
    """
    stand_ins = []
    for n, speaker in enumerate(speakers, start=first):
        stand_in: dict[str, Any] = {"name": placeholder_name(n)}
        if speaker.get("role"):
            stand_in["role"] = PLACEHOLDER_ROLE
        if speaker.get("organisation"):
            stand_in["organisation"] = PLACEHOLDER_ORGANISATION
        stand_ins.append(stand_in)
    return {"speakers": stand_ins, "announcement": PLACEHOLDER_ANNOUNCEMENT if announcement else None}


def rehearsal_slug(slug: str, *, at: datetime, zone: ZoneInfo) -> str:
    suffix = f"-repetition-{at.astimezone(zone):%Y%m%d%H%M}"
    return slug[: SLUG_LIMIT - len(suffix)].rstrip("-") + suffix


def rehearsal_document(
    programme: Programme, *, slug: str, starts_at: datetime, speed: float
) -> ProgrammeDocument:
    """The programme as a rehearsal: same running order, times mapped onto now, the mystery
    guests replaced by placeholders (the autopilot reveals them on air, in public)."""
    event = programme.event
    origin = event.starts_at
    guests = 0

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
                document["hidden"] = placeholder_hidden(
                    item.hidden_speakers, item.hidden_announcement, first=guests + 1
                )
                guests += len(item.hidden_speakers)
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
        # Neither the real show's page nor its replay: the audience of a rehearsal is the crew,
        # and a link to the real show from a page of placeholders would only confuse.
        "see_also": [],
        "stream_url": event.stream_url,
        "replay_url": None,
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
    await session.execute(update(Event).where(Event.slug == slug).values(rehearsal=True))  # type: ignore[arg-type]
    return document


async def delete_rehearsal(session: AsyncSession, slug: str) -> None:
    """Delete a rehearsal copy, its programme and its timeline; anything else is refused."""
    event = (await session.execute(select(Event.pk, Event.rehearsal).where(Event.slug == slug))).first()  # type: ignore[call-overload]
    if event is None:
        raise EventNotFound(slug)
    if not event.rehearsal:
        raise NotARehearsal(slug)
    await session.execute(delete(Event).where(Event.pk == event.pk))


async def remove_stale_rehearsals(session: AsyncSession, *, now: datetime) -> list[str]:
    """Delete the rehearsals created (or last replaced) more than `KEPT_FOR` ago; their slugs."""
    stale = select(Event.slug).where(Event.rehearsal, Event.updated_at < now - KEPT_FOR)  # type: ignore[call-overload]
    slugs = sorted((await session.execute(stale)).scalars())
    if slugs:
        await session.execute(delete(Event).where(Event.slug.in_(slugs)))  # type: ignore[attr-defined]
    return slugs


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
