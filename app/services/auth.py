"""Moderators and their bearer tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import AccessToken, User
from app.services.passwords import hasher


class Role(StrEnum):
    ADMIN = "admin"
    MODERATOR = "moderator"


CONTROL_ROLES = frozenset({Role.ADMIN, Role.MODERATOR})
PROGRAMME_ROLES = frozenset({Role.ADMIN})


class UserExists(ValueError):
    pass


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def add_user(session: AsyncSession, *, name: str, role: Role, password: str) -> User:
    if (await session.execute(select(User).where(User.name == name))).scalar_one_or_none():  # type: ignore[arg-type]
        raise UserExists(f"A user named « {name} » already exists.")
    user = User(name=name, role=role.value, password_hash=await hasher.hash(password))
    session.add(user)
    await session.flush()
    return user


async def authenticate(session: AsyncSession, *, name: str, password: str) -> User | None:
    user = (await session.execute(select(User).where(User.name == name))).scalar_one_or_none()  # type: ignore[arg-type]
    # Off the event loop: argon2 is slow on purpose (see app.services.passwords).
    matches = await hasher.verify(password, None if user is None else user.password_hash)
    return user if matches else None


async def issue_token(session: AsyncSession, user: User, *, now: datetime, ttl: timedelta) -> str:
    token = secrets.token_urlsafe(32)
    assert user.pk is not None
    session.add(AccessToken(user_pk=user.pk, token_hash=_digest(token), created_at=now, expires_at=now + ttl))
    await session.flush()
    return token


async def user_for_token(session: AsyncSession, token: str, *, now: datetime) -> User | None:
    row = (
        await session.execute(
            select(User, AccessToken.expires_at)  # type: ignore[call-overload]
            .join(AccessToken, AccessToken.user_pk == User.pk)
            .where(AccessToken.token_hash == _digest(token))
        )
    ).one_or_none()
    if row is None or row[1] <= now:
        return None
    user: User = row[0]
    return user


async def revoke_token(session: AsyncSession, token: str) -> None:
    await session.execute(delete(AccessToken).where(AccessToken.token_hash == _digest(token)))  # type: ignore[arg-type]


async def revoke_all(session: AsyncSession, *, name: str) -> int:
    user = (await session.execute(select(User).where(User.name == name))).scalar_one_or_none()  # type: ignore[arg-type]
    if user is None:
        raise LookupError(f"There is no user « {name} ».")
    result = await session.execute(delete(AccessToken).where(AccessToken.user_pk == user.pk))  # type: ignore[arg-type]
    return int(result.rowcount)  # type: ignore[attr-defined]
