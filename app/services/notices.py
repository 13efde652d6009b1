"""What registrants are told, after each commit: confirmations, sign-ups, promotions, reminders.

The reminder is claimed in the database, one conditional UPDATE per registration (`reminder_at
IS NULL`), so however many processes poll, each registration's reminder is taken by exactly one
of them, and a restart finds the claims where it left them. A claim is made before the message
goes: a crash between the two loses that reminder rather than sending it twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from app.config import Settings
from app.domain.programme import MAIN_ROOM_ID
from app.domain.registration import SignupStatus
from app.domain.show import Status
from app.mail import messages
from app.mail.messages import Links, SessionInfo
from app.mail.transport import Mailer
from app.models import Event, Registration, Signup
from app.public import main_room_name
from app.services import registrations
from app.services.programmes import Programme, load_programme

logger = logging.getLogger("app.notices")


@dataclass(frozen=True)
class Notices:
    sessions: async_sessionmaker[AsyncSession]
    mailer: Mailer
    settings: Settings

    def links(self, event: Event, token: str) -> Links:
        return Links(public_url=self.settings.public_url, slug=event.slug, token=token)

    async def confirmation(self, event: Event, registered: registrations.Registered) -> None:
        message = messages.confirmation(
            event,
            registered.registration,
            self.links(event, registered.token),
            retention_days=self.settings.retention_days,
            again=not registered.created,
        )
        await self.mailer.send(message)

    async def signup(self, programme: Programme, outcome: registrations.SignupOutcome, *, token: str) -> None:
        view = outcome.signup
        info = session_info(programme, view.session_id, with_link=view.status is SignupStatus.CONFIRMED)
        message = messages.signup(
            programme.event,
            outcome.registration,
            info,
            self.links(programme.event, token),
            waitlist_position=view.waitlist_position,
            retention_days=self.settings.retention_days,
        )
        await self.mailer.send(message)

    async def promotions(self, programme: Programme, promotions: tuple[registrations.Promotion, ...]) -> None:
        for promotion in promotions:
            token = await self._fresh_token(promotion.registration, now=_now())
            if token is None:
                continue
            message = messages.promotion(
                programme.event,
                promotion.registration,
                session_info(programme, promotion.session_id, with_link=True),
                self.links(programme.event, token),
                retention_days=self.settings.retention_days,
            )
            await self.mailer.send(message)

    async def _fresh_token(self, registration: Registration, *, now: datetime) -> str | None:
        try:
            async with self.sessions() as session, session.begin():
                return await registrations.issue_token(session, registration, now=now)
        except Exception:  # erased meanwhile: nobody to tell
            logger.info("a registration was erased before its message could go")
            return None

    # --- Reminders ----------------------------------------------------------------------

    async def send_due_reminders(self, *, now: datetime) -> int:
        """Claim and send every reminder due at `now`; the number this process sent."""
        lead = timedelta(minutes=self.settings.reminder_minutes)
        async with self.sessions() as session:
            events = list(
                (
                    await session.execute(
                        select(Event).where(
                            col(Event.status) == Status.SCHEDULED.value,
                            col(Event.starts_at) <= now + lead,
                            col(Event.starts_at) > now - timedelta(days=1),
                        )
                    )
                ).scalars()
            )
        sent = 0
        for event in events:
            assert event.pk is not None
            async with self.sessions() as session, session.begin():
                claimed = list(
                    (
                        await session.execute(
                            update(Registration)
                            .where(
                                col(Registration.event_pk) == event.pk,
                                col(Registration.reminder_at).is_(None),
                            )
                            .values(reminder_at=now)
                            .returning(Registration)
                        )
                    ).scalars()
                )
            if not claimed:
                continue
            async with self.sessions() as session:
                programme = await load_programme(session, event.slug)
            for registration in claimed:
                token = await self._fresh_token(registration, now=now)
                if token is None:
                    continue
                message = messages.reminder(
                    programme.event,
                    registration,
                    await self._confirmed_sessions(programme, registration),
                    self.links(programme.event, token),
                    retention_days=self.settings.retention_days,
                )
                if await self.mailer.send(message):
                    sent += 1
        return sent

    async def _confirmed_sessions(
        self, programme: Programme, registration: Registration
    ) -> list[SessionInfo]:
        async with self.sessions() as session:
            rows = (
                await session.execute(
                    select(Signup)
                    .where(
                        col(Signup.registration_pk) == registration.pk,
                        col(Signup.status) == SignupStatus.CONFIRMED.value,
                    )
                    .order_by(col(Signup.pk))
                )
            ).scalars()
            ids = [row.session_id for row in rows]
        infos = []
        for session_id in ids:
            with contextlib.suppress(Exception):
                infos.append(session_info(programme, session_id, with_link=True))
        return infos

    async def run_reminders(self, clock: Callable[[], datetime]) -> None:
        """Poll for due reminders until cancelled (the application's lifespan owns this task)."""
        while True:
            try:
                await self.send_due_reminders(now=clock())
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the database may be away a moment; try again next round
                logger.warning("reminders: %s", type(error).__name__)
            await asyncio.sleep(self.settings.reminder_poll_seconds)


def session_info(programme: Programme, session_id: str, *, with_link: bool) -> SessionInfo:
    """A session's title and room for its own participant: with the room's link, even a private one."""
    block = registrations.find_block(programme, session_id)
    event = programme.event
    room_id = str(block.session["room"])
    room = next((r for r in event.rooms if r["id"] == room_id), None)
    if room is None and room_id == MAIN_ROOM_ID:
        room = {"id": MAIN_ROOM_ID, "name": main_room_name(event.location), "url": event.stream_url}
    name = str(room["name"]) if room else room_id
    url = room.get("url") if room and with_link else None
    return SessionInfo(title=str(block.session["title"]), room_name=name, room_url=url)


def _now() -> datetime:
    from datetime import UTC

    return datetime.now(UTC)
