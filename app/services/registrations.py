"""Registrations and sign-ups to parallel sessions: each use-case one transaction, then its e-mails.

Write transactions begin with a write (an INSERT or the seat row's UPDATE), as the show's
commands do: under SQLite they queue for the write lock instead of failing to upgrade a stale
read, and under PostgreSQL concurrent sign-ups to one session wait on its seat row. That row's
conditional UPDATE (`confirmed < capacity`) is what confirms exactly `capacity` people; the
arrival counter it bumps under the same lock orders the waitlist.

E-mails go out after the commit, and only what the database holds is ever promised in them.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from app.domain.refusals import Code, Refusal
from app.domain.registration import (
    RegistrationChange,
    RegistrationForm,
    SignupStatus,
    check_signup_window,
    email_key,
)
from app.domain.show import Status
from app.models import Event, Item, Registration, RegistrationToken, SessionSeats, Signup
from app.services.programmes import Programme, load_programme


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Registered:
    """A registration as its owner (and only its owner) sees it, with the token to mail them."""

    registration: Registration
    token: str
    created: bool


@dataclass(frozen=True)
class SignupView:
    session_id: str
    block_id: str
    status: SignupStatus
    waitlist_position: int | None


@dataclass(frozen=True)
class Promotion:
    """Someone moved from a waitlist to a seat: they are told by e-mail."""

    registration: Registration
    session_id: str


@dataclass(frozen=True)
class SignupOutcome:
    signup: SignupView
    registration: Registration
    promotions: tuple[Promotion, ...] = ()


@dataclass(frozen=True)
class Block:
    """The item whose sessions run side by side, and the session asked for."""

    item: Item
    session: dict[str, Any]

    @property
    def capacity(self) -> int | None:
        capacity = self.session.get("capacity")
        return int(capacity) if capacity is not None else None


@dataclass
class _Released:
    promotions: list[Promotion] = field(default_factory=list)


# --- Registrations ------------------------------------------------------------------------


async def register(
    sessions: async_sessionmaker[AsyncSession], *, slug: str, form: RegistrationForm, now: datetime
) -> Registered:
    """Register `form` for the event; an address already registered gets a new personal link.

    Only the owner of the address learns anything about an existing registration: the answer
    to the request is the same whether or not it existed, and its link goes to the mailbox.
    """
    async with sessions() as session:
        programme = await load_programme(session, slug)
    event = programme.event
    assert event.pk is not None
    if event.status == Status.ENDED.value:
        raise Refusal(Code.REGISTRATION_CLOSED, "The show has ended: registration is closed.")
    key = email_key(form.email)
    try:
        async with sessions() as session, session.begin():
            registration = Registration(
                event_pk=event.pk,
                id=secrets.token_hex(8),
                name=form.name,
                email=form.email,
                email_key=key,
                organisation=form.organisation,
                category=form.category.value,
                created_at=now,
            )
            session.add(registration)
            await session.flush()
            token = await issue_token(session, registration, now=now)
        return Registered(registration=registration, token=token, created=True)
    except IntegrityError:
        pass  # the address is registered already (the unique constraint said so)
    async with sessions() as session, session.begin():
        existing = (
            await session.execute(
                select(Registration).where(
                    col(Registration.event_pk) == event.pk, col(Registration.email_key) == key
                )
            )
        ).scalar_one()
        token = await issue_token(session, existing, now=now)
    return Registered(registration=existing, token=token, created=False)


async def issue_token(session: AsyncSession, registration: Registration, *, now: datetime) -> str:
    """A new personal link for `registration`, for one e-mail; the earlier ones keep working."""
    assert registration.pk is not None
    token = new_token()
    session.add(
        RegistrationToken(registration_pk=registration.pk, token_hash=token_hash(token), created_at=now)
    )
    await session.flush()
    return token


async def find(session: AsyncSession, token: str) -> Registration:
    registration = (
        await session.execute(
            select(Registration)
            .join(RegistrationToken, col(RegistrationToken.registration_pk) == col(Registration.pk))
            .where(col(RegistrationToken.token_hash) == token_hash(token))
        )
    ).scalar_one_or_none()
    if registration is None:
        raise Refusal(
            Code.UNKNOWN_REGISTRATION, "There is no registration for this link: it was cancelled or replaced."
        )
    return registration


async def signups_of(session: AsyncSession, registration: Registration) -> list[SignupView]:
    rows = (
        await session.execute(
            select(Signup).where(Signup.registration_pk == registration.pk).order_by(Signup.pk)  # type: ignore[arg-type]
        )
    ).scalars()
    return [await signup_view(session, row) for row in rows]


async def signup_view(session: AsyncSession, row: Signup) -> SignupView:
    position = None
    if row.status == SignupStatus.WAITLISTED.value:
        position = (
            await session.execute(
                select(func.count()).where(
                    Signup.event_pk == row.event_pk,  # type: ignore[arg-type]
                    Signup.session_id == row.session_id,  # type: ignore[arg-type]
                    Signup.status == SignupStatus.WAITLISTED.value,  # type: ignore[arg-type]
                    Signup.arrival <= row.arrival,  # type: ignore[arg-type]
                )
            )
        ).scalar_one()
    return SignupView(
        session_id=row.session_id,
        block_id=row.block_id,
        status=SignupStatus(row.status),
        waitlist_position=position,
    )


async def change(
    sessions: async_sessionmaker[AsyncSession], *, token: str, change: RegistrationChange
) -> Registration:
    async with sessions() as session:
        registration = await find(session, token)
    values = {k: str(v) for k, v in change.model_dump(exclude_unset=True, exclude_none=True).items()}
    if not values:
        return registration
    async with sessions() as session, session.begin():
        await session.execute(
            update(Registration).where(col(Registration.pk) == registration.pk).values(**values)
        )
        return await find(session, token)


async def erase(sessions: async_sessionmaker[AsyncSession], *, token: str) -> tuple[Promotion, ...]:
    """Erase a registration and its sign-ups; the first on each waitlist it leaves moves up."""
    async with sessions() as session:
        registration = await find(session, token)
        rows = list(
            (await session.execute(select(Signup).where(Signup.registration_pk == registration.pk))).scalars()  # type: ignore[arg-type]
        )
        programme = await load_programme(session, await slug_of(session, registration.event_pk))
    released = _Released()
    async with sessions() as session, session.begin():
        for row in rows:
            await _release(session, programme, row, released)
        await session.execute(delete(Registration).where(Registration.pk == registration.pk))  # type: ignore[arg-type]
    return tuple(released.promotions)


async def slug_of(session: AsyncSession, event_pk: int) -> str:
    slug: str = (await session.execute(select(Event.slug).where(Event.pk == event_pk))).scalar_one()  # type: ignore[call-overload]
    return slug


async def signup_counts(session: AsyncSession, event_pk: int) -> dict[str, dict[str, int]]:
    """How many are confirmed and waitlisted in each session of the event: counts, no names."""
    rows = await session.execute(
        select(Signup.session_id, Signup.status, func.count())  # type: ignore[call-overload]
        .where(Signup.event_pk == event_pk)
        .group_by(Signup.session_id, Signup.status)
    )
    counts: dict[str, dict[str, int]] = {}
    for session_id, status, count in rows:
        counts.setdefault(session_id, {"confirmed": 0, "waitlisted": 0})[status] = int(count)
    return counts


async def for_event(session: AsyncSession, event: Event) -> list[tuple[Registration, list[Signup]]]:
    """Every registration of the event with its sign-ups, in the order they came (moderators only)."""
    registrations = list(
        (
            await session.execute(
                select(Registration).where(Registration.event_pk == event.pk).order_by(Registration.pk)  # type: ignore[arg-type]
            )
        ).scalars()
    )
    signups: dict[int, list[Signup]] = {}
    for row in (
        await session.execute(select(Signup).where(Signup.event_pk == event.pk).order_by(Signup.arrival))  # type: ignore[arg-type]
    ).scalars():
        signups.setdefault(row.registration_pk, []).append(row)
    return [(r, signups.get(r.pk or 0, [])) for r in registrations]


async def erase_expired(
    sessions: async_sessionmaker[AsyncSession], *, now: datetime, retention: timedelta
) -> dict[str, int]:
    """Erase every registration of each event that ended more than `retention` ago; counts by slug."""
    async with sessions() as session:
        ended = list(
            (await session.execute(select(Event).where(Event.status == Status.ENDED.value))).scalars()  # type: ignore[arg-type]
        )
    erased: dict[str, int] = {}
    for event in ended:
        ended_at = _ended_at(event)
        if ended_at is None or now - ended_at < retention:
            continue
        async with sessions() as session, session.begin():
            result = await session.execute(delete(Registration).where(Registration.event_pk == event.pk))  # type: ignore[arg-type]
            await session.execute(delete(SessionSeats).where(SessionSeats.event_pk == event.pk))  # type: ignore[arg-type]
        count = int(result.rowcount or 0)  # type: ignore[attr-defined]
        if count:
            erased[event.slug] = count
    return erased


def _ended_at(event: Event) -> datetime | None:
    value = event.run.get("ended_at")
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


# --- Sign-ups -----------------------------------------------------------------------------


def find_block(programme: Programme, session_id: str) -> Block:
    for item in programme.items:
        for session in item.sessions:
            if session["id"] == session_id:
                return Block(item=item, session=session)
    raise Refusal(Code.UNKNOWN_SESSION, "There is no such session in this event.")


async def sign_up(
    sessions: async_sessionmaker[AsyncSession], *, token: str, session_id: str, now: datetime
) -> SignupOutcome:
    """Sign a registration up to one session of a block, moving it from another of the same block."""
    async with sessions() as session:
        registration = await find(session, token)
        programme = await load_programme(session, await slug_of(session, registration.event_pk))
        block = find_block(programme, session_id)
        current = (
            await session.execute(
                select(Signup).where(
                    Signup.registration_pk == registration.pk,  # type: ignore[arg-type]
                    Signup.block_id == block.item.id,  # type: ignore[arg-type]
                )
            )
        ).scalar_one_or_none()
        if current is not None and current.session_id == session_id:
            return SignupOutcome(signup=await signup_view(session, current), registration=registration)
    check_signup_window(
        opens_at=block.item.signup_opens_at,
        closes_at=block.item.signup_closes_at,
        show_ended=programme.event.status == Status.ENDED.value,
        now=now,
    )
    event_pk = programme.event.pk
    assert event_pk is not None and registration.pk is not None
    released = _Released()
    try:
        async with sessions() as session, session.begin():
            arrival, confirmed = await _take_seat(session, event_pk, session_id, block.capacity)
            if current is not None:
                await _release(session, programme, current, released)
            row = Signup(
                registration_pk=registration.pk,
                event_pk=event_pk,
                block_id=block.item.id,
                session_id=session_id,
                status=(SignupStatus.CONFIRMED if confirmed else SignupStatus.WAITLISTED).value,
                arrival=arrival,
                created_at=now,
            )
            session.add(row)
            await session.flush()
            view = await signup_view(session, row)
    except IntegrityError:
        # Erased meanwhile (the foreign key), or a second sign-up to this block raced this one.
        raise Refusal(
            Code.UNKNOWN_REGISTRATION, "This registration changed meanwhile: reload it and try again."
        ) from None
    return SignupOutcome(signup=view, registration=registration, promotions=tuple(released.promotions))


async def leave(
    sessions: async_sessionmaker[AsyncSession], *, token: str, session_id: str, now: datetime
) -> tuple[Promotion, ...]:
    async with sessions() as session:
        registration = await find(session, token)
        programme = await load_programme(session, await slug_of(session, registration.event_pk))
        block = find_block(programme, session_id)
        current = (
            await session.execute(
                select(Signup).where(
                    Signup.registration_pk == registration.pk,  # type: ignore[arg-type]
                    Signup.session_id == session_id,  # type: ignore[arg-type]
                )
            )
        ).scalar_one_or_none()
    if current is None:
        raise Refusal(Code.UNKNOWN_SESSION, "This registration is not signed up to that session.")
    del block  # leaving is possible at any time: it only frees a seat
    released = _Released()
    async with sessions() as session, session.begin():
        await _release(session, programme, current, released)
    return tuple(released.promotions)


def _seat(event_pk: int, session_id: str) -> ColumnElement[bool]:
    return and_(col(SessionSeats.event_pk) == event_pk, col(SessionSeats.session_id) == session_id)


async def _take_seat(
    session: AsyncSession, event_pk: int, session_id: str, capacity: int | None
) -> tuple[int, bool]:
    """Lock the session's seat row, count this arrival, and confirm a seat if one is left."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    await session.execute(
        insert(SessionSeats)
        .values(event_pk=event_pk, session_id=session_id, confirmed=0, arrivals=0)
        .on_conflict_do_nothing(index_elements=["event_pk", "session_id"])
    )
    seat = _seat(event_pk, session_id)
    arrival = (
        await session.execute(
            update(SessionSeats)
            .where(seat)
            .values(arrivals=SessionSeats.arrivals + 1)
            .returning(col(SessionSeats.arrivals))
        )
    ).scalar_one()
    condition = seat if capacity is None else and_(seat, col(SessionSeats.confirmed) < capacity)
    taken = await session.execute(
        update(SessionSeats).where(condition).values(confirmed=SessionSeats.confirmed + 1)
    )
    return int(arrival), taken.rowcount == 1  # type: ignore[attr-defined]


async def _release(session: AsyncSession, programme: Programme, row: Signup, released: _Released) -> None:
    """Give back `row`'s place; a confirmed seat goes to the first on the waitlist, if any."""
    await session.execute(delete(Signup).where(Signup.pk == row.pk))  # type: ignore[arg-type]
    if row.status != SignupStatus.CONFIRMED.value:
        return
    seat = _seat(row.event_pk, row.session_id)
    await session.execute(update(SessionSeats).where(seat).values(confirmed=SessionSeats.confirmed - 1))
    try:
        capacity = find_block(programme, row.session_id).capacity
    except Refusal:
        return  # the session left the programme: nobody to promote into it
    first = (
        await session.execute(
            select(Signup)
            .where(
                Signup.event_pk == row.event_pk,  # type: ignore[arg-type]
                Signup.session_id == row.session_id,  # type: ignore[arg-type]
                Signup.status == SignupStatus.WAITLISTED.value,  # type: ignore[arg-type]
            )
            .order_by(Signup.arrival)  # type: ignore[arg-type]
            .limit(1)
        )
    ).scalar_one_or_none()
    if first is None:
        return
    condition = seat if capacity is None else and_(seat, col(SessionSeats.confirmed) < capacity)
    taken = await session.execute(
        update(SessionSeats).where(condition).values(confirmed=SessionSeats.confirmed + 1)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        return
    await session.execute(
        update(Signup).where(Signup.pk == first.pk).values(status=SignupStatus.CONFIRMED.value)  # type: ignore[arg-type]
    )
    promoted = (
        await session.execute(select(Registration).where(Registration.pk == first.registration_pk))  # type: ignore[arg-type]
    ).scalar_one()
    released.promotions.append(Promotion(registration=promoted, session_id=row.session_id))


async def attendance_counts(session: AsyncSession, event_pk: int) -> dict[str, int]:
    rows = await session.execute(
        select(SessionSeats.session_id, SessionSeats.confirmed).where(SessionSeats.event_pk == event_pk)  # type: ignore[call-overload]
    )
    return {session_id: int(confirmed) for session_id, confirmed in rows}
