"""The OAuth2 password flow for moderators, and token revocation."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from app.api.deps import ClockDep, CurrentUser, SessionDep, SettingsDep, oauth2_scheme
from app.api.errors import responses
from app.domain.refusals import Code, Refusal
from app.services import auth

router = APIRouter(prefix="/auth", tags=["auth"])


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105  (the OAuth2 token type, not a secret)
    expires_in: int


@router.post(
    "/token", response_model=Token, responses=responses(400, 401, 422, 503), summary="Log in (password flow)"
)
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> Token:
    user = await auth.authenticate(session, name=form.username, password=form.password)
    if user is None:
        # One answer for an unknown user and a wrong password: it tells an attacker nothing.
        raise Refusal(Code.UNAUTHENTICATED, "Wrong user name or password.")
    token = await auth.issue_token(
        session, user, now=clock(), ttl=timedelta(seconds=settings.token_ttl_seconds)
    )
    await session.commit()
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
