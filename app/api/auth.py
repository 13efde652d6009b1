"""The OAuth2 password flow for moderators, and token revocation."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from app.api.deps import ClockDep, CurrentUser, SessionDep, SettingsDep, oauth2_scheme
from app.api.errors import responses
from app.api.relay import client_address
from app.config import Settings
from app.domain.refusals import Code, Refusal
from app.services import auth
from app.services.passwords import HashingBusy
from app.services.throttle import Limit, Throttle

router = APIRouter(prefix="/auth", tags=["auth"])


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105  (the OAuth2 token type, not a secret)
    expires_in: int


# Longer than any real name or password: beyond, the form is refused before anything is hashed.
MAX_USERNAME = 150
MAX_PASSWORD = 1024


def login_limits(settings: Settings) -> tuple[Limit, Limit, Limit]:
    """Login attempts counted per (address, user name), per address, and per user name.

    The pair's limit is the tightest, so that a flood against one name from one address does not
    lock its owner out everywhere; the per-address ceiling stops one address from trying many
    names, the per-user one many addresses from trying one name.
    """
    window = settings.api_login_window_seconds
    return (
        Limit("login-pair", settings.api_login_attempts_per_pair, window),
        Limit("login-address", settings.api_login_attempts_per_address, window),
        Limit("login-user", settings.api_login_attempts_per_user, window),
    )


# How long a throttled attempt waits before its 429. A flood client waits for each answer before
# it sends the next on that connection: held a second, sixteen of them cost the event loop a few
# requests a second instead of hundreds (measured by bench/login_flood.py), and the wait itself
# costs nothing but a sleeping coroutine.
TARPIT_SECONDS = 1.0


async def rate_limited(retry_after: int, detail: str) -> Refusal:
    await asyncio.sleep(min(TARPIT_SECONDS, retry_after))
    return Refusal(Code.RATE_LIMITED, detail, headers={"Retry-After": str(retry_after)})


@router.post(
    "/token",
    response_model=Token,
    responses=responses(400, 401, 422, 429, 503),
    summary="Log in (password flow)",
)
async def login(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> Token:
    for field, value, limit in (
        ("username", form.username, MAX_USERNAME),
        ("password", form.password, MAX_PASSWORD),
    ):
        if len(value) > limit:
            raise RequestValidationError(
                [{"loc": ("body", field), "msg": f"longer than {limit} characters", "type": "too_long"}]
            )
        if "\x00" in value:
            # No user name holds one; PostgreSQL would refuse the query as an error of its own.
            raise RequestValidationError(
                [{"loc": ("body", field), "msg": "contains a NUL character", "type": "nul_character"}]
            )
    throttle: Throttle = request.app.state.login_throttle
    address = client_address(request, settings)
    name = form.username.casefold()
    pair, per_address, per_user = login_limits(settings)
    checks = ((pair, f"{address} {name}"), (per_address, address), (per_user, name))
    # Counted before the password is checked: a throttled attempt costs no argon2, and a right
    # password sent in a flood is refused too (otherwise the throttle would still answer guesses).
    wait = await throttle.acquire(checks)
    if wait is not None:
        raise await rate_limited(wait, f"Too many login attempts: try again in {wait} s.")
    try:
        user = await auth.authenticate(session, name=form.username, password=form.password)
    except HashingBusy:
        raise await rate_limited(1, "Too many logins at once: try again in a second.") from None
    if user is None:
        # One answer for an unknown user and a wrong password: it tells an attacker nothing.
        raise Refusal(Code.UNAUTHENTICATED, "Wrong user name or password.")
    token = await auth.issue_token(
        session, user, now=clock(), ttl=timedelta(seconds=settings.token_ttl_seconds)
    )
    await session.commit()
    # A moderator who logs in is no attacker: their own attempts from this address start afresh.
    await throttle.clear(pair, f"{address} {name}")
    return Token(access_token=token, expires_in=settings.token_ttl_seconds)


@router.post(
    "/revoke",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(401, 503),
    summary="Revoke the token used for this request (log out)",
)
async def revoke(
    _user: CurrentUser, session: SessionDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> None:
    assert token is not None  # CurrentUser already refused a request without one
    await auth.revoke_token(session, token)
    await session.commit()


class Me(BaseModel):
    name: str
    role: str


@router.get(
    "/me",
    response_model=Me,
    responses=responses(401, 503),
    summary="Who this token belongs to (401 once it is revoked or expired)",
)
async def me(user: CurrentUser) -> Me:
    """What the pages ask every few seconds while a console is open: `regie user revoke` takes
    effect there within seconds, not at the next press."""
    return Me(name=user.name, role=user.role)
