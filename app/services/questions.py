"""Audience questions: asking, voting, the lists, and moderation — each one transaction.

Moderation that puts a question on or off air is a change of the show: the run's `question`
changes with the version (a conditional UPDATE on the event row, like a press) and a timeline
entry is written, in the same transaction as the question's own row. Every moderation begins
with that UPDATE on the event row, even one that leaves the show as it is (`version = version`):
it locks the row on PostgreSQL and takes the write lock on SQLite, so two moderators acting on
one question at once are serialised and the second one is judged on what the first one did —
a rejected question can never be on air.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.domain import show
from app.domain.questions import (
    PUBLIC_STATUSES,
    AirChange,
    ModerationAction,
    QuestionStatus,
    asking_allowed,
    duplicate_key,
    moderate,
)
from app.domain.refusals import Code, Refusal
from app.models import Event, Question, QuestionVote
from app.public import QuestionPublic, question_public
from app.services.programmes import EventNotFound, Programme, load_programme
from app.services.timeline import record_change, timeline_entry

_STORED_PUBLIC = (QuestionStatus.APPROVED.value, QuestionStatus.ANSWERED.value)
# Moderation is rare and human: a press or another moderation landing in between costs a re-read.
_ATTEMPTS = 20


def _digest(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()


def asker_key(*, viewer: str | None, address: str) -> str:
    """Who asked, for duplicates only: the viewer's id when the client keeps one, else its address.
    Stored as a digest: neither is ever read back."""
    return _digest("viewer", viewer) if viewer else _digest("address", address)


async def _event(session: AsyncSession, slug: str) -> Event:
    event = (await session.execute(select(Event).where(Event.slug == slug))).scalar_one_or_none()  # type: ignore[arg-type]
    if event is None:
        raise EventNotFound(slug)
    return event


async def ensure_event(sessions: async_sessionmaker[AsyncSession], slug: str) -> None:
    async with sessions() as session:
        await _event(session, slug)


async def ask(
    sessions: async_sessionmaker[AsyncSession],
    *,
    slug: str,
    text: str,
    author: str | None,
    asker: str,
    at: datetime,
) -> Question:
    """Store a new question as pending; `duplicate_question` when this asker asked it already."""
    async with sessions() as session:
        event = await _event(session, slug)
    asking_allowed(show.Status(event.status))
    question = Question(
        event_pk=event.pk,  # type: ignore[arg-type]
        id=secrets.token_urlsafe(12),
        text=text,
        text_key=duplicate_key(text),
        author=author,
        asker=asker,
        status=QuestionStatus.PENDING.value,
        votes=0,
        created_at=at,
    )
    try:
        async with sessions() as session, session.begin():
            session.add(question)
    except IntegrityError:
        raise Refusal(
            Code.DUPLICATE_QUESTION, "You have already asked this question; it is with the moderators."
        ) from None
    return question


def _ordered(questions: list[Question]) -> list[Question]:
    return sorted(questions, key=lambda q: (-q.votes, q.created_at, q.id))


async def public_questions(session: AsyncSession, slug: str) -> tuple[Programme, list[QuestionPublic]]:
    """The public list, most voted first (then oldest first): approved, answered, on air."""
    programme = await load_programme(session, slug)
    rows = await session.execute(
        select(Question).where(
            Question.event_pk == programme.event.pk,  # type: ignore[arg-type]
            Question.status.in_(_STORED_PUBLIC),  # type: ignore[attr-defined]
        )
    )
    run = programme.run()
    return programme, [question_public(q, run) for q in _ordered(list(rows.scalars()))]


async def pending_count(session: AsyncSession, slug: str) -> int:
    """How many questions wait for a moderator: the moderators' signal, never their text."""
    event = await _event(session, slug)
    rows = await session.execute(
        select(Question).where(
            Question.event_pk == event.pk,  # type: ignore[arg-type]
            Question.status == QuestionStatus.PENDING.value,  # type: ignore[arg-type]
        )
    )
    return len(rows.scalars().all())


async def queue(
    session: AsyncSession, slug: str, status: QuestionStatus | None
) -> tuple[Programme, list[Question]]:
    """Every question of the event (or those of one status), for moderators."""
    programme = await load_programme(session, slug)
    rows = await session.execute(select(Question).where(Question.event_pk == programme.event.pk))  # type: ignore[arg-type]
    questions = list(rows.scalars())
    run = programme.run()
    if status is QuestionStatus.ON_AIR:
        questions = [q for q in questions if run.question and run.question.id == q.id]
    elif status is not None:
        aired = run.question.id if run.question else None
        questions = [q for q in questions if q.status == status.value and q.id != aired]
    return programme, _ordered(questions)


async def _question(session: AsyncSession, event: Event, question_id: str) -> Question:
    question = (
        await session.execute(
            select(Question).where(Question.event_pk == event.pk, Question.id == question_id)  # type: ignore[arg-type]
        )
    ).scalar_one_or_none()
    if question is None:
        raise Refusal(Code.UNKNOWN_QUESTION, "There is no such question.")
    return question


async def vote(
    sessions: async_sessionmaker[AsyncSession], *, slug: str, question_id: str, voter: str, at: datetime
) -> tuple[int, bool]:
    """One vote per voter, held by the vote table's primary key: (votes now, whether it counted).

    A question that is not public is unknown to voters, like one that does not exist.
    """
    # Read, then write in a transaction of its own that begins with the INSERT: SQLite queues it
    # for the write lock instead of failing to upgrade a read (see services.control).
    async with sessions() as session:
        event = await _event(session, slug)
        question = await _question(session, event, question_id)
    if question.status not in _STORED_PUBLIC:
        raise Refusal(Code.UNKNOWN_QUESTION, "There is no such question.")
    pk = question.pk
    counted = True
    async with sessions() as session:
        try:
            async with session.begin():
                session.add(QuestionVote(question_pk=pk, voter=_digest("voter", voter), at=at))  # type: ignore[arg-type]
                await session.flush()
                await session.execute(
                    update(Question).where(Question.pk == pk).values(votes=Question.votes + 1)  # type: ignore[arg-type]
                )
        except IntegrityError:
            counted = False
        votes = (await session.execute(select(Question.votes).where(Question.pk == pk))).scalar_one()  # type: ignore[call-overload]
    return int(votes), counted


@dataclass(frozen=True)
class Moderated:
    question: Question
    programme: Programme
    show_changed: bool
    """True when the question went on or off air: the live state has a new version to publish."""
    public_changed: bool


async def moderate_question(
    sessions: async_sessionmaker[AsyncSession],
    *,
    slug: str,
    question_id: str,
    action: ModerationAction,
    actor: str,
    at: datetime,
) -> Moderated:
    for _ in range(_ATTEMPTS):
        outcome = await _try_moderation(
            sessions, slug=slug, question_id=question_id, action=action, actor=actor, at=at
        )
        if outcome is not None:
            return outcome
    raise Refusal(Code.VERSION_CONFLICT, "The show kept changing while this was decided; try again.")


async def _try_moderation(
    sessions: async_sessionmaker[AsyncSession],
    *,
    slug: str,
    question_id: str,
    action: ModerationAction,
    actor: str,
    at: datetime,
) -> Moderated | None:
    """One attempt; None when the show's version moved between the read and the write."""
    async with sessions() as session:
        programme = await load_programme(session, slug)
        question = await _question(session, programme.event, question_id)
    run = programme.run()
    on_air = run.question is not None and run.question.id == question.id
    stored = QuestionStatus(question.status)
    decision = moderate(stored, on_air=on_air, action=action, show_status=run.status)

    step: show.Step | None = None
    if decision.air is AirChange.ON:
        aired = show.AiredQuestion(id=question.id, text=question.text, author=question.author)
        command = show.Command(show.Action.QUESTION_ON_AIR, question.id, question=aired)
        step = show.apply(programme.plan, run, command, at=at)
    elif decision.air is AirChange.OFF:
        step = show.apply(programme.plan, run, show.Command(show.Action.QUESTION_OFF_AIR, question.id), at=at)

    event = programme.event
    values: dict[str, object] = {"status": decision.status.value}
    if decision.status is not stored:
        values |= {"moderated_at": at, "moderated_by": actor}
    if decision.status is QuestionStatus.ANSWERED and stored is not QuestionStatus.ANSWERED:
        values["answered_at"] = at
    if decision.air is AirChange.ON and question.aired_at is None:
        values["aired_at"] = at
    assert event.pk is not None
    async with sessions() as session, session.begin():
        if step is None:
            # Not a change of the show, but judged on its version all the same (on air or not).
            guard = update(Event).where(Event.pk == event.pk, Event.version == event.version)  # type: ignore[arg-type]
            won = (await session.execute(guard.values(version=Event.version))).rowcount == 1  # type: ignore[attr-defined]
        else:
            entry = timeline_entry(event.pk, step.entry, actor=actor)
            won = await record_change(
                session, entry, read_version=event.version, values={"run": step.run.to_json()}
            )
        if not won:
            return None
        await session.execute(
            update(Question).where(Question.pk == question.pk).values(**values)  # type: ignore[arg-type]
        )
    updated_question = Question.model_validate({**question.model_dump(), **values})
    if step is not None:
        updated_event = Event.model_validate(
            {**event.model_dump(), "version": step.run.version, "run": step.run.to_json()}
        )
        programme = replace(programme, event=updated_event)
    was_public = QuestionStatus(question.status) in PUBLIC_STATUSES
    is_public = decision.status in PUBLIC_STATUSES
    return Moderated(
        question=updated_question,
        programme=programme,
        show_changed=step is not None,
        public_changed=was_public or is_public,
    )
