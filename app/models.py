"""The tables. The programme is relational; the run of the show is one versioned document.

An event row carries `version` and `run` (who is on air, when each item really started, which
guests are revealed) so that a moderator's command is a single conditional UPDATE on one row:
`WHERE version = expected` is what makes two simultaneous presses advance the show once, across
any number of server processes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from app import db  # noqa: F401  (applies the naming convention before any table is declared)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite has no time zones and hands back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: Régie stores aware UTC times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Event(SQLModel, table=True):
    __tablename__ = "event"

    pk: int | None = Field(default=None, primary_key=True)
    slug: str = Field(sa_column=Column(String(80), nullable=False, unique=True))
    title: str = Field(sa_column=Column(String(500), nullable=False))
    subtitle: str | None = Field(default=None, sa_column=Column(String(500)))
    description: str | None = Field(default=None, sa_column=Column(Text))
    timezone: str = Field(sa_column=Column(String(64), nullable=False))
    location: str | None = Field(default=None, sa_column=Column(String(500)))
    starts_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    ends_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    organiser: str | None = Field(default=None, sa_column=Column(String(500)))
    partners: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    see_also: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    stream_url: str | None = Field(default=None, sa_column=Column(String(2000)))
    replay_url: str | None = Field(default=None, sa_column=Column(String(2000)))
    # The rooms of parallel sessions, as the programme document gives them ({id, name, url}); a
    # url may be private (see app.public.public_rooms).
    rooms: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="scheduled", sa_column=Column(String(16), nullable=False))
    version: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    run: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))
    # A copy made by `regie rehearse`: unlisted, with placeholders for its secrets, thrown away.
    rehearsal: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))
    # The programme's revision: +1 on every save, what an `ETag` and `If-Match` compare.
    revision: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))


class Segment(SQLModel, table=True):
    __tablename__ = "segment"
    __table_args__ = (UniqueConstraint("event_pk", "id"),)

    pk: int | None = Field(default=None, primary_key=True)
    event_pk: int = Field(
        sa_column=Column(Integer, ForeignKey("event.pk", ondelete="CASCADE"), nullable=False, index=True)
    )
    id: str = Field(sa_column=Column(String(80), nullable=False))
    position: int = Field(sa_column=Column(Integer, nullable=False))
    title: str = Field(sa_column=Column(String(500), nullable=False))
    planned_start: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    planned_end: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class Item(SQLModel, table=True):
    __tablename__ = "item"
    __table_args__ = (UniqueConstraint("event_pk", "id"),)

    pk: int | None = Field(default=None, primary_key=True)
    event_pk: int = Field(
        sa_column=Column(Integer, ForeignKey("event.pk", ondelete="CASCADE"), nullable=False, index=True)
    )
    segment_pk: int = Field(
        sa_column=Column(Integer, ForeignKey("segment.pk", ondelete="CASCADE"), nullable=False, index=True)
    )
    id: str = Field(sa_column=Column(String(80), nullable=False))
    position: int = Field(sa_column=Column(Integer, nullable=False))
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    title: str = Field(sa_column=Column(String(500), nullable=False))
    description: str | None = Field(default=None, sa_column=Column(Text))
    planned_start: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    speakers: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    mystery: bool = Field(default=False)
    teaser: str | None = Field(default=None, sa_column=Column(Text))
    # Secret until the reveal; read only through app.public, which decides what may leave.
    hidden_speakers: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    hidden_announcement: str | None = Field(default=None, sa_column=Column(Text))
    # Links to documents (`{title, url}`); uploaded files are `Resource` rows.
    resources: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    # Parallel sessions run while this item is on air, as the programme document gives them.
    sessions: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    signup_opens_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    signup_closes_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))


class TimelineEntry(SQLModel, table=True):
    __tablename__ = "timeline_entry"
    __table_args__ = (UniqueConstraint("event_pk", "version"),)

    pk: int | None = Field(default=None, primary_key=True)
    event_pk: int = Field(
        sa_column=Column(Integer, ForeignKey("event.pk", ondelete="CASCADE"), nullable=False, index=True)
    )
    version: int = Field(sa_column=Column(Integer, nullable=False))
    at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    action: str = Field(sa_column=Column(String(16), nullable=False))
    segment_id: str | None = Field(default=None, sa_column=Column(String(80)))
    item_id: str | None = Field(default=None, sa_column=Column(String(80)))
    actor: str | None = Field(default=None, sa_column=Column(String(80)))
    # For an edit of the programme: what it changed, by id (app.domain.edits.Changes).
    changes: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))


class ProgrammeRevision(SQLModel, table=True):
    """Each saved programme, whole (secrets included: never read by a public route), kept so that
    an organiser can undo an edit by saving an earlier revision again."""

    __tablename__ = "programme_revision"
    __table_args__ = (UniqueConstraint("event_pk", "number"),)

    pk: int | None = Field(default=None, primary_key=True)
    event_pk: int = Field(
        sa_column=Column(Integer, ForeignKey("event.pk", ondelete="CASCADE"), nullable=False, index=True)
    )
    number: int = Field(sa_column=Column(Integer, nullable=False))
    document: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    saved_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    actor: str | None = Field(default=None, sa_column=Column(String(80)))
    changes: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    restored_from: int | None = Field(default=None, sa_column=Column(Integer))


class Resource(SQLModel, table=True):
    """A file handed out with an item (a PDF, an image, a slide deck), kept in the database so
    that every backend process serves it. Belongs to the event and names its item by id, so a
    save of the programme (which rewrites the item rows) keeps it."""

    __tablename__ = "resource"

    pk: int | None = Field(default=None, primary_key=True)
    id: str = Field(sa_column=Column(String(40), nullable=False, unique=True))
    event_pk: int = Field(
        sa_column=Column(Integer, ForeignKey("event.pk", ondelete="CASCADE"), nullable=False, index=True)
    )
    item_id: str = Field(sa_column=Column(String(80), nullable=False))
    title: str = Field(sa_column=Column(String(500), nullable=False))
    filename: str = Field(sa_column=Column(String(255), nullable=False))
    content_type: str = Field(sa_column=Column(String(128), nullable=False))
    size: int = Field(sa_column=Column(Integer, nullable=False))
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))


class User(SQLModel, table=True):
    __tablename__ = "user_account"

    pk: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(80), nullable=False, unique=True))
    role: str = Field(sa_column=Column(String(16), nullable=False))
    password_hash: str = Field(sa_column=Column(String(255), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))


class AccessToken(SQLModel, table=True):
    """Opaque bearer tokens, stored as their SHA-256 only: revoking one is deleting its row."""

    __tablename__ = "access_token"

    pk: int | None = Field(default=None, primary_key=True)
    user_pk: int = Field(
        sa_column=Column(
            Integer, ForeignKey("user_account.pk", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    token_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))
    expires_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class Question(SQLModel, table=True):
    """An audience question. `asker` identifies who asked (a hash of the viewer's id or address)
    for duplicates only; it is never read back out. On air is the run's business, not a status."""

    __tablename__ = "question"
    __table_args__ = (
        # One viewer asking the same thing twice is refused by the database, not by a check.
        UniqueConstraint("event_pk", "asker", "text_key"),
        Index("ix_question_event_pk_status", "event_pk", "status"),
    )

    pk: int | None = Field(default=None, primary_key=True)
    event_pk: int = Field(
        sa_column=Column(Integer, ForeignKey("event.pk", ondelete="CASCADE"), nullable=False)
    )
    id: str = Field(sa_column=Column(String(32), nullable=False, unique=True))
    text: str = Field(sa_column=Column(Text, nullable=False))
    text_key: str = Field(sa_column=Column(String(64), nullable=False))
    author: str | None = Field(default=None, sa_column=Column(String(200)))
    asker: str = Field(sa_column=Column(String(64), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    votes: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    created_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    moderated_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    moderated_by: str | None = Field(default=None, sa_column=Column(String(80)))
    aired_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    answered_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))


class QuestionVote(SQLModel, table=True):
    """One row per voter and question: the primary key is what makes a second vote change nothing."""

    __tablename__ = "question_vote"

    question_pk: int = Field(
        sa_column=Column(
            Integer, ForeignKey("question.pk", ondelete="CASCADE"), primary_key=True, nullable=False
        )
    )
    voter: str = Field(sa_column=Column(String(64), primary_key=True, nullable=False))
    at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class AudienceMinute(SQLModel, table=True):
    """The most viewers seen at once during one minute of an event, and when: the audience curve.

    Every API process samples the same totals and writes them with an upsert that keeps the
    larger, so a minute holds its peak however many processes wrote it.
    """

    __tablename__ = "audience_minute"

    event_pk: int = Field(
        sa_column=Column(
            Integer, ForeignKey("event.pk", ondelete="CASCADE"), primary_key=True, nullable=False
        )
    )
    minute: datetime = Field(sa_column=Column(UtcDateTime, primary_key=True, nullable=False))
    viewers: int = Field(sa_column=Column(Integer, nullable=False))
    peak_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class Registration(SQLModel, table=True):
    """Someone who registered to follow an event: personal data, never read by app.public.

    `email_key` (the address as compared: normalised, lower case) is unique per event, so two
    registrations of one person are impossible whatever the concurrency.
    """

    __tablename__ = "registration"
    __table_args__ = (UniqueConstraint("event_pk", "email_key"),)

    pk: int | None = Field(default=None, primary_key=True)
    event_pk: int = Field(
        sa_column=Column(Integer, ForeignKey("event.pk", ondelete="CASCADE"), nullable=False, index=True)
    )
    id: str = Field(sa_column=Column(String(32), nullable=False, unique=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    email: str = Field(sa_column=Column(String(320), nullable=False))
    email_key: str = Field(sa_column=Column(String(320), nullable=False))
    organisation: str | None = Field(default=None, sa_column=Column(String(200)))
    category: str = Field(sa_column=Column(String(16), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))
    # The reminder is claimed by one process with a conditional UPDATE (… WHERE reminder_at IS
    # NULL), so it goes out once per registration however many processes run.
    reminder_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))


class RegistrationToken(SQLModel, table=True):
    """A personal link's token, stored as its SHA-256 only: a leaked database opens nobody's page.

    Each e-mail carries a token of its own (the server cannot know an earlier one), and every
    token of a registration stays valid until the registration is erased: asking for the link
    again, or a stranger typing the address, never breaks the link someone already has.
    """

    __tablename__ = "registration_token"

    pk: int | None = Field(default=None, primary_key=True)
    registration_pk: int = Field(
        sa_column=Column(
            Integer, ForeignKey("registration.pk", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    token_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))


class Signup(SQLModel, table=True):
    """A registration's place in one parallel session: confirmed, or waitlisted in arrival order.

    One per registration and block (the item whose sessions run side by side): signing up to
    another session of the block moves this row.
    """

    __tablename__ = "signup"
    __table_args__ = (UniqueConstraint("registration_pk", "block_id"),)

    pk: int | None = Field(default=None, primary_key=True)
    registration_pk: int = Field(
        sa_column=Column(
            Integer, ForeignKey("registration.pk", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    event_pk: int = Field(
        sa_column=Column(Integer, ForeignKey("event.pk", ondelete="CASCADE"), nullable=False, index=True)
    )
    block_id: str = Field(sa_column=Column(String(80), nullable=False))
    session_id: str = Field(sa_column=Column(String(80), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    # Order of arrival in the session, from its seat row: the waitlist is served in this order.
    arrival: int = Field(sa_column=Column(Integer, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))


class SessionSeats(SQLModel, table=True):
    """The seat counter of one session: every sign-up of the session updates this row first.

    That UPDATE is the lock that serialises sign-ups to one session on every database, and
    `confirmed < capacity` in its WHERE is what confirms exactly `capacity` people under any
    concurrency. Kept apart from the programme, so that replacing the programme keeps the count.
    """

    __tablename__ = "session_seats"
    __table_args__ = (UniqueConstraint("event_pk", "session_id"),)

    pk: int | None = Field(default=None, primary_key=True)
    event_pk: int = Field(
        sa_column=Column(Integer, ForeignKey("event.pk", ondelete="CASCADE"), nullable=False, index=True)
    )
    session_id: str = Field(sa_column=Column(String(80), nullable=False))
    confirmed: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    arrivals: int = Field(default=0, sa_column=Column(Integer, nullable=False))
