"""What routes get injected: a database session, the clock, the caller's identity, the hub.

Every dependency is `async def`, even those that only read `app.state`: FastAPI runs a plain
`def` dependency in a worker thread, and two thread hops per read cost more than the read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.domain.refusals import Code, Refusal
from app.live.broadcast import Broadcast
from app.live.feeds import CoalescedFeed
from app.live.hub import LiveHub
from app.models import User
from app.services import auth
from app.services.changes import Shows
from app.services.snapshots import Snapshots

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    return sessions


async def get_session(
    sessions: Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)],
) -> AsyncIterator[AsyncSession]:
    async with sessions() as session:
        yield session


async def get_clock(request: Request) -> Callable[[], datetime]:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock


async def get_broadcast(request: Request) -> Broadcast:
    broadcast: Broadcast = request.app.state.broadcast
    return broadcast


async def get_snapshots(request: Request) -> Snapshots:
    snapshots: Snapshots = request.app.state.snapshots
    return snapshots


async def get_shows(request: Request) -> Shows:
    shows: Shows = request.app.state.shows
    return shows


async def get_hub(request: Request) -> LiveHub:
    hub: LiveHub = request.app.state.hub
    return hub


# The coalesced feeds (app.live.feeds): a route marks its event changed, the feed publishes.
async def get_question_feed(request: Request) -> CoalescedFeed:
    feed: CoalescedFeed = request.app.state.question_feed
    return feed


async def get_moderation_feed(request: Request) -> CoalescedFeed:
    feed: CoalescedFeed = request.app.state.moderation_feed
    return feed


async def get_registration_feed(request: Request) -> CoalescedFeed:
    feed: CoalescedFeed = request.app.state.registration_feed
    return feed


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionsDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
ClockDep = Annotated[Callable[[], datetime], Depends(get_clock)]
BroadcastDep = Annotated[Broadcast, Depends(get_broadcast)]
SnapshotsDep = Annotated[Snapshots, Depends(get_snapshots)]
ShowsDep = Annotated[Shows, Depends(get_shows)]
QuestionFeedDep = Annotated[CoalescedFeed, Depends(get_question_feed)]
ModerationFeedDep = Annotated[CoalescedFeed, Depends(get_moderation_feed)]
RegistrationFeedDep = Annotated[CoalescedFeed, Depends(get_registration_feed)]


def _unauthorised() -> Refusal:
    return Refusal(
        Code.UNAUTHENTICATED, "A valid bearer token is required: get one from POST /api/v1/auth/token."
    )


async def current_user(
    session: SessionDep, clock: ClockDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> User:
    if not token:
        raise _unauthorised()
    user = await auth.user_for_token(session, token, now=clock().astimezone(UTC))
    if user is None:
        raise _unauthorised()
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def require_role(roles: frozenset[auth.Role], what: str) -> Callable[[User], Awaitable[User]]:
    async def check(user: CurrentUser) -> User:
        if user.role not in roles:
            raise Refusal(Code.FORBIDDEN, f"Your role « {user.role} » may not {what}.")
        return user

    return check


Moderator = Annotated[User, Depends(require_role(auth.CONTROL_ROLES, "control a show"))]
Admin = Annotated[User, Depends(require_role(auth.PROGRAMME_ROLES, "replace a programme"))]
