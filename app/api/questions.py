"""Audience questions: public asking and voting, public reads, moderators' queue and actions."""

from __future__ import annotations

import logging
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.api.caching import CONDITIONAL_READ, read_responses
from app.api.deps import (
    ClockDep,
    ModerationFeedDep,
    Moderator,
    QuestionFeedDep,
    SessionDep,
    SessionsDep,
    SettingsDep,
    ShowsDep,
    current_user,
    oauth2_scheme,
    require_role,
)
from app.api.errors import responses
from app.api.relay import client_address
from app.domain.questions import (
    AUTHOR_MAX,
    PUBLIC_STATUSES,
    TEXT_MAX,
    VOTER_PATTERN,
    ModerationAction,
    QuestionStatus,
    clean_text,
)
from app.domain.refusals import Code, Refusal
from app.exports.questions import QuestionsCsv, QuestionsData, QuestionsExporter, QuestionsXlsx
from app.public import QuestionModerated, QuestionPublic, question_moderated
from app.services import auth
from app.services import questions as service
from app.services.throttle import Limit, Throttle

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/events", tags=["questions"])


async def _throttle(request: Request) -> Throttle:
    throttle: Throttle = request.app.state.audience_throttle
    return throttle


ThrottleDep = Annotated[Throttle, Depends(_throttle)]
_MINUTE = 60


async def _throttled(throttle: Throttle, checks: list[tuple[Limit, str]]) -> None:
    wait = await throttle.acquire(checks)
    if wait is not None:
        raise Refusal(
            Code.RATE_LIMITED,
            f"Too many at once from here: try again in {wait} s.",
            headers={"Retry-After": str(wait)},
        )


_EXAMPLE = [
    {
        "id": "mJ2qK8xR1v0aZ3pL",
        "text": "Comment associer les petites communes aux alliances ?",
        "author": "Marie, Mairie de Riom",
        "status": "on_air",
        "votes": 42,
        "created_at": "2020-11-23T18:12:09Z",
        "answered_at": None,
    },
    {
        "id": "Qw7nB2cD9eF4gH6j",
        "text": "Quel budget pour 2021 ?",
        "author": None,
        "status": "approved",
        "votes": 17,
        "created_at": "2020-11-23T18:20:44Z",
        "answered_at": None,
    },
]


class QuestionAsk(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"text": "Comment associer les petites communes ?", "author": "Marie, Mairie de Riom"}
            ]
        },
    )

    text: str = Field(
        min_length=1,
        max_length=4 * TEXT_MAX,
        description=f"1–{TEXT_MAX} characters once spaces are collapsed.",
    )
    author: str | None = Field(
        default=None,
        max_length=4 * AUTHOR_MAX,
        description="How the question is signed (name, organisation), shown with it once approved.",
    )
    viewer: str | None = Field(
        default=None,
        pattern=VOTER_PATTERN,
        description="The id the client made once and keeps (the same as `voter`): duplicates and the "
        "per-viewer rate limit go by it; without it, by the client's address.",
    )

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        text = clean_text(value, field="text", max_length=TEXT_MAX)
        if not text:
            raise ValueError("`text` is empty")
        return text

    @field_validator("author")
    @classmethod
    def _author(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return clean_text(value, field="author", max_length=AUTHOR_MAX) or None


class QuestionAccepted(BaseModel):
    id: str
    status: QuestionStatus = Field(examples=["pending"])


class VoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    voter: str = Field(pattern=VOTER_PATTERN, description="An id the client makes once and keeps.")


class VoteCount(BaseModel):
    votes: int


class ModerationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: ModerationAction


@router.post(
    "/{slug}/questions",
    status_code=202,
    response_model=QuestionAccepted,
    responses=responses(400, 404, 409, 422, 429, 503),
    summary="Ask the stage a question (it waits for a moderator)",
)
async def post_question(
    slug: str,
    body: QuestionAsk,
    request: Request,
    sessions: SessionsDep,
    settings: SettingsDep,
    throttle: ThrottleDep,
    moderation_feed: ModerationFeedDep,
    clock: ClockDep,
) -> JSONResponse:
    address = client_address(request, settings)
    await service.ensure_event(sessions, slug)
    # The viewer's allowance first: the tighter one, and one viewer's flood then leaves its
    # neighbours behind the same address their share.
    checks = [(Limit("questions-per-address", settings.questions_per_address, _MINUTE), f"{slug} {address}")]
    if body.viewer is not None:
        checks.insert(
            0,
            (Limit("questions-per-viewer", settings.questions_per_viewer, _MINUTE), f"{slug} {body.viewer}"),
        )
    await _throttled(throttle, checks)
    question = await service.ask(
        sessions,
        slug=slug,
        text=body.text,
        author=body.author,
        asker=service.asker_key(viewer=body.viewer, address=address),
        at=clock(),
    )
    # Neither the text nor the author: a pending question is nobody's business at INFO.
    logger.info("%s: a question is waiting for moderation", slug)
    moderation_feed.changed(slug)
    accepted = QuestionAccepted(id=question.id, status=QuestionStatus.PENDING)
    return JSONResponse(status_code=202, content=accepted.model_dump(mode="json"))


async def _optional_moderator(
    session: SessionDep, clock: ClockDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> bool:
    """True for a moderator's or admin's bearer, False without one; 401/403 for a bad one."""
    if not token:
        return False
    user = await current_user(session, clock, token)
    await require_role(auth.CONTROL_ROLES, "moderate questions")(user)
    return True


@router.get(
    "/{slug}/questions",
    response_model=list[QuestionPublic],
    responses=read_responses(401, 403, 404, 422, ok={"content": {"application/json": {"example": _EXAMPLE}}}),
    openapi_extra=CONDITIONAL_READ,
    summary="The public questions, most voted first; with a moderator's bearer, the moderation queue",
    description="Anyone: approved, answered and on-air questions only. With a moderator's bearer: every "
    "question (`QuestionModerated`, with `Cache-Control: no-store`), or those of `status`.",
)
async def get_questions(
    slug: str,
    session: SessionDep,
    moderator: Annotated[bool, Depends(_optional_moderator)],
    status: Annotated[
        QuestionStatus | None,
        Query(description="Moderators: only this status (`pending` is the queue). Public: a public status."),
    ] = None,
) -> Any:
    # One URL, two audiences: a cache must keep them apart.
    vary = {"Vary": "Authorization"}
    if not moderator:
        if status is not None and status not in PUBLIC_STATUSES:
            raise Refusal(
                Code.UNAUTHENTICATED,
                "Pending and rejected questions are for moderators: send a bearer token.",
            )
        _programme, public = await service.public_questions(session, slug)
        listed = [q.model_dump(mode="json") for q in public if status is None or q.status is status]
        return JSONResponse(listed, headers=vary)
    programme, questions = await service.queue(session, slug, status)
    run = programme.run()
    response = JSONResponse(
        [question_moderated(q, run).model_dump(mode="json") for q in questions],
        headers={"Cache-Control": "no-store", **vary},
    )
    return response


async def _export(session: SessionDep, slug: str, exporter: QuestionsExporter) -> Response:
    programme, questions = await service.queue(session, slug, None)
    run = programme.run()
    event = programme.event
    data = QuestionsData(
        title=event.title,
        zone=ZoneInfo(event.timezone),
        questions=[question_moderated(q, run) for q in sorted(questions, key=lambda q: (q.created_at, q.id))],
    )
    name = f"{slug}-{exporter.filename}"
    return Response(
        exporter.render(data),
        media_type=exporter.media_type,
        headers={
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "Content-Disposition": f'attachment; filename="{name}"',
        },
    )


@router.get(
    "/{slug}/questions.csv",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {}}, "description": "questions.csv"},
        **responses(401, 403, 404),
    },
    summary="Every question of the event, whatever its status, as CSV (moderator or admin)",
)
async def questions_csv(slug: str, session: SessionDep, _user: Moderator) -> Response:
    return await _export(session, slug, QuestionsCsv())


@router.get(
    "/{slug}/questions.xlsx",
    response_class=Response,
    responses={
        200: {"content": {QuestionsXlsx.media_type: {}}, "description": "questions.xlsx"},
        **responses(401, 403, 404),
    },
    summary="Every question of the event, whatever its status, as an Excel workbook (moderator or admin)",
)
async def questions_xlsx(slug: str, session: SessionDep, _user: Moderator) -> Response:
    return await _export(session, slug, QuestionsXlsx())


@router.post(
    "/{slug}/questions/{question_id}/votes",
    response_model=VoteCount,
    responses=responses(400, 404, 422, 429, 503),
    summary="Vote for a question; the same voter again changes nothing",
)
async def post_vote(
    slug: str,
    question_id: str,
    body: VoteRequest,
    request: Request,
    sessions: SessionsDep,
    settings: SettingsDep,
    throttle: ThrottleDep,
    feed: QuestionFeedDep,
    clock: ClockDep,
) -> VoteCount:
    address = client_address(request, settings)
    await _throttled(throttle, [(Limit("votes-per-address", settings.votes_per_address, _MINUTE), address)])
    votes, counted = await service.vote(
        sessions, slug=slug, question_id=question_id[:64], voter=body.voter, at=clock()
    )
    if counted:
        feed.changed(slug)
    return VoteCount(votes=votes)


@router.post(
    "/{slug}/questions/{question_id}/moderation",
    response_model=QuestionModerated,
    responses=responses(400, 401, 403, 404, 409, 422, 503),
    summary="Approve, reject, answer, put on air or take off air a question",
)
async def post_moderation(
    slug: str,
    question_id: str,
    body: ModerationRequest,
    user: Moderator,
    shows: ShowsDep,
    feed: QuestionFeedDep,
    moderation_feed: ModerationFeedDep,
) -> QuestionModerated:
    outcome = await shows.moderate(slug, question_id[:64], body.action, actor=user.name)
    programme = outcome.programme
    if outcome.public_changed:
        feed.changed(slug)
    moderation_feed.changed(slug)
    return question_moderated(outcome.question, programme.run())
