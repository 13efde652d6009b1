"""Registration to follow an event, and sign-up to its parallel sessions.

The public may register; the token in a personal link is the only key to a registration, so
every route under `/registrations/{token}` answers `Cache-Control: no-store` and
`Referrer-Policy: no-referrer`. No answer here (or anywhere public) carries another person's
name or e-mail, and an already registered address is answered like a new one would be, minus
the token, which goes to the mailbox instead.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from app.api.deps import ClockDep, Moderator, RegistrationFeedDep, SessionDep, SessionsDep, SnapshotsDep
from app.api.errors import ErrorDetail, responses
from app.domain.refusals import Code, Refusal
from app.domain.registration import Category, RegistrationChange, RegistrationForm, SignupStatus
from app.exports import registrations as listing
from app.models import Registration
from app.services import registrations
from app.services.notices import Notices, session_info
from app.services.programmes import Programme, load_programme
from app.services.throttle import Limit, Throttle

router = APIRouter(tags=["registrations"])

PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _refusals(*codes: int) -> dict[int | str, dict[str, Any]]:
    described = {
        404: "Unknown event, link or session.",
        409: "Closed.",
        429: "Too many requests from this address.",
    }
    return {code: {"model": ErrorDetail, "description": described[code]} for code in codes}


class Registered(BaseModel):
    id: str
    status: Literal["registered"] = "registered"
    token: str = Field(description="The key to this registration: keep it, it is shown only once.")
    manage_url: str = Field(description="The person's own page, to see, change or cancel the registration.")


class Accepted(BaseModel):
    detail: str


class SignupRequest(BaseModel):
    session_id: Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[a-z0-9][a-z0-9-]{0,79}$")]


class SignupPublic(BaseModel):
    session_id: str
    status: SignupStatus
    waitlist_position: int | None = Field(description="1 for the next to get a seat; null when confirmed.")


class RoomLink(BaseModel):
    id: str
    name: str
    url: str | None = Field(description="The room's link: given to those confirmed in its session only.")


class SignupPrivate(SignupPublic):
    block_id: str = Field(description="The item whose parallel sessions this one belongs to.")
    title: str | None
    room: RoomLink | None = Field(description="Where the session happens; its link once confirmed.")


class RegistrationPrivate(BaseModel):
    id: str
    event: str = Field(description="The event's slug.")
    name: str
    email: str
    organisation: str | None
    category: Category
    created_at: datetime
    signups: list[SignupPrivate]


class RegistrationListed(BaseModel):
    id: str
    name: str
    email: str
    organisation: str | None
    category: Category
    created_at: datetime
    signups: list[SignupPublic]


async def _counts_changed(snapshots: SnapshotsDep, feed: RegistrationFeedDep) -> Callable[[str], None]:
    def changed(slug: str) -> None:
        snapshots.forget(slug)  # the public `registered_count` and `seats_left`
        feed.changed(slug)  # the consoles' counts, through the moderators' signal

    return changed


CountsChangedDep = Annotated[Callable[[str], None], Depends(_counts_changed)]
"""Call with the event's slug after a registration or a sign-up was committed."""


def _throttle(request: Request) -> Throttle:
    throttle: Throttle = request.app.state.registration_throttle
    return throttle


def _notices(request: Request) -> Notices:
    notices: Notices = request.app.state.notices
    return notices


NoticesDep = Annotated[Notices, Depends(_notices)]


def manage_url(notices: Notices, slug: str, token: str) -> str:
    return f"{notices.settings.public_url.rstrip('/')}/inscription/{token}"


@router.post(
    "/events/{slug}/registrations",
    status_code=status.HTTP_201_CREATED,
    response_model=Registered,
    responses={
        202: {
            "model": Accepted,
            "description": "Accepted: if the address is registered, its link is e-mailed.",
        },
        **_refusals(404, 409, 429),
        **responses(400, 422),
    },
    summary="Register to follow the event (public)",
)
async def register(
    slug: str,
    form: Annotated[RegistrationForm, Body()],
    request: Request,
    sessions: SessionsDep,
    counts_changed: CountsChangedDep,
    notices: NoticesDep,
    clock: ClockDep,
) -> Registered | JSONResponse:
    settings = notices.settings
    limit = Limit(
        "registration-address", settings.registrations_per_address, settings.registration_window_seconds
    )
    wait = await _throttle(request).acquire(((limit, request.client.host if request.client else "unknown"),))
    if wait is not None:
        raise Refusal(
            Code.RATE_LIMITED,
            f"Too many registrations from this address: try again in {wait} s.",
            headers={"Retry-After": str(wait)},
        )
    accepted = JSONResponse(
        status_code=status.HTTP_202_ACCEPTED,
        content={
            "detail": "If this address is registered for this event, its personal link has been e-mailed."
        },
    )
    if form.website:
        return accepted  # the honeypot: a person never sees that field
    now = clock()
    registered = await registrations.register(sessions, slug=slug, form=form, now=now)
    counts_changed(slug)
    async with sessions() as session:
        programme = await load_programme(session, slug)
    await notices.confirmation(programme.event, registered)
    await notices.send_due_reminders(now=now)
    if not registered.created:
        return accepted
    return Registered(
        id=registered.registration.id,
        token=registered.token,
        manage_url=manage_url(notices, slug, registered.token),
    )


async def _private(session: SessionDep, registration: Registration) -> RegistrationPrivate:
    programme = await load_programme(session, await registrations.slug_of(session, registration.event_pk))
    views = await registrations.signups_of(session, registration)
    return RegistrationPrivate(
        id=registration.id,
        event=programme.event.slug,
        name=registration.name,
        email=registration.email,
        organisation=registration.organisation,
        category=Category(registration.category),
        created_at=registration.created_at,
        signups=[_signup_private(programme, view) for view in views],
    )


def _signup_private(programme: Programme, view: registrations.SignupView) -> SignupPrivate:
    try:
        info = session_info(programme, view.session_id, with_link=view.status is SignupStatus.CONFIRMED)
    except Refusal:  # the session left the programme since
        return SignupPrivate(
            session_id=view.session_id,
            status=view.status,
            waitlist_position=view.waitlist_position,
            block_id=view.block_id,
            title=None,
            room=None,
        )
    room_id = str(registrations.find_block(programme, view.session_id).session["room"])
    return SignupPrivate(
        session_id=view.session_id,
        status=view.status,
        waitlist_position=view.waitlist_position,
        block_id=view.block_id,
        title=info.title,
        room=RoomLink(id=room_id, name=info.room_name, url=info.room_url),
    )


@router.get(
    "/registrations/{token}",
    response_model=RegistrationPrivate,
    responses=_refusals(404),
    summary="One's own registration, with its sign-ups (the personal link's token)",
)
async def get_registration(token: str, session: SessionDep, response: Response) -> RegistrationPrivate:
    response.headers.update(PRIVATE)
    return await _private(session, await registrations.find(session, token))


@router.patch(
    "/registrations/{token}",
    response_model=RegistrationPrivate,
    responses={**_refusals(404), **responses(400, 422)},
    summary="Correct one's name, organisation or category",
)
async def change_registration(
    token: str, change: RegistrationChange, sessions: SessionsDep, response: Response
) -> RegistrationPrivate:
    response.headers.update(PRIVATE)
    registration = await registrations.change(sessions, token=token, change=change)
    async with sessions() as session:
        return await _private(session, registration)


@router.delete(
    "/registrations/{token}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_refusals(404),
    summary="Cancel: the registration and its sign-ups are erased",
)
async def delete_registration(
    token: str, sessions: SessionsDep, counts_changed: CountsChangedDep, notices: NoticesDep
) -> Response:
    async with sessions() as session:
        registration = await registrations.find(session, token)
        slug = await registrations.slug_of(session, registration.event_pk)
    promotions = await registrations.erase(sessions, token=token)
    counts_changed(slug)
    await _tell_promoted(sessions, notices, slug, promotions)
    return Response(status_code=status.HTTP_204_NO_CONTENT, headers=PRIVATE)


async def _tell_promoted(
    sessions: SessionsDep, notices: Notices, slug: str, promotions: tuple[registrations.Promotion, ...]
) -> None:
    if not promotions:
        return
    async with sessions() as session:
        programme = await load_programme(session, slug)
    await notices.promotions(programme, promotions)


@router.post(
    "/registrations/{token}/signups",
    status_code=status.HTTP_201_CREATED,
    response_model=SignupPublic,
    responses={**_refusals(404, 409), **responses(400, 422)},
    summary="Sign up to a parallel session (one per block; moves a sign-up within the block)",
)
async def sign_up(
    token: str,
    body: SignupRequest,
    sessions: SessionsDep,
    counts_changed: CountsChangedDep,
    notices: NoticesDep,
    clock: ClockDep,
    response: Response,
) -> SignupPublic:
    response.headers.update(PRIVATE)
    outcome = await registrations.sign_up(sessions, token=token, session_id=body.session_id, now=clock())
    async with sessions() as session:
        slug = await registrations.slug_of(session, outcome.registration.event_pk)
    counts_changed(slug)
    async with sessions() as session:
        programme = await load_programme(session, slug)
    await notices.signup(programme, outcome, token=token)
    await notices.promotions(programme, outcome.promotions)
    view = outcome.signup
    return SignupPublic(
        session_id=view.session_id, status=view.status, waitlist_position=view.waitlist_position
    )


@router.delete(
    "/registrations/{token}/signups/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_refusals(404),
    summary="Leave a session: the first on its waitlist gets the seat",
)
async def leave(
    token: str,
    session_id: str,
    sessions: SessionsDep,
    counts_changed: CountsChangedDep,
    notices: NoticesDep,
    clock: ClockDep,
) -> Response:
    async with sessions() as session:
        registration = await registrations.find(session, token)
        slug = await registrations.slug_of(session, registration.event_pk)
    promotions = await registrations.leave(sessions, token=token, session_id=session_id, now=clock())
    counts_changed(slug)
    await _tell_promoted(sessions, notices, slug, promotions)
    return Response(status_code=status.HTTP_204_NO_CONTENT, headers=PRIVATE)


# --- Moderators ---------------------------------------------------------------------------


async def _entries(session: SessionDep, slug: str) -> tuple[Programme, list[Any]]:
    programme = await load_programme(session, slug)
    return programme, await registrations.for_event(session, programme.event)


@router.get(
    "/events/{slug}/registrations",
    response_model=list[RegistrationListed],
    responses=responses(401, 403, 404),
    summary="Every registration with its sign-ups (moderator or admin)",
)
async def list_registrations(
    slug: str, session: SessionDep, _user: Moderator, response: Response
) -> list[RegistrationListed]:
    response.headers.update(PRIVATE)
    _, entries = await _entries(session, slug)
    listed = []
    for registration, signups in entries:
        views = [await registrations.signup_view(session, s) for s in signups]
        listed.append(
            RegistrationListed(
                id=registration.id,
                name=registration.name,
                email=registration.email,
                organisation=registration.organisation,
                category=Category(registration.category),
                created_at=registration.created_at,
                signups=[
                    SignupPublic(
                        session_id=v.session_id, status=v.status, waitlist_position=v.waitlist_position
                    )
                    for v in views
                ],
            )
        )
    return listed


@router.get(
    "/events/{slug}/registrations.csv",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {}}, "description": "registrations.csv"},
        **responses(401, 403, 404),
    },
    summary="The registrations as CSV (moderator or admin)",
)
async def registrations_csv(slug: str, session: SessionDep, _user: Moderator) -> Response:
    _, entries = await _entries(session, slug)
    return Response(
        listing.to_csv(entries),
        media_type="text/csv; charset=utf-8",
        headers={**PRIVATE, "Content-Disposition": f'attachment; filename="{slug}-registrations.csv"'},
    )


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get(
    "/events/{slug}/registrations.xlsx",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}, "description": "registrations.xlsx"}, **responses(401, 403, 404)},
    summary="The registrations as an Excel workbook (moderator or admin)",
)
async def registrations_xlsx(slug: str, session: SessionDep, _user: Moderator) -> Response:
    programme, entries = await _entries(session, slug)
    return Response(
        listing.to_xlsx(entries, title=programme.event.title),
        media_type=XLSX,
        headers={**PRIVATE, "Content-Disposition": f'attachment; filename="{slug}-registrations.xlsx"'},
    )


class _HideTokens(logging.Filter):
    """Access log lines show `/registrations/…`: a personal link's token is a key to personal data."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 3 and isinstance(record.args[2], str):
            record.args = (*record.args[:2], TOKEN_IN_PATH.sub(r"\1…", record.args[2]), *record.args[3:])
        return True


TOKEN_IN_PATH = re.compile(r"(/registrations/)[A-Za-z0-9_-]{16,}")


def hide_tokens_in_access_logs() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _HideTokens) for f in access.filters):
        access.addFilter(_HideTokens())
