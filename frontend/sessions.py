"""Moderators' sessions and login throttling: in this process's memory, or in Redis when several
`regie web` processes serve one address (REGIE_BROADCAST_URL=redis://…).

The browser holds only a random session id; the session (user name, API token) stays server-side.
CSRF tokens need no storage: they are an HMAC of the session id under REGIE_SECRET_KEY
(`security.csrf_token`), so every process that shares the key checks them alike.

In Redis a session is stored under a digest of its id, never the id itself, and its API token
sealed under that id (`frontend.session_tokens`): whoever reads the database (a backup,
`MONITOR`) can neither replay a moderator's cookie nor use the token against the API. Its idle
expiry is Redis's own TTL, renewed on each use, so no process has to sweep anything.
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from frontend.session_tokens import seal, unseal

Clock = Callable[[], float]
PREFIX = "regie:web:"


class SessionStoreUnavailable(Exception):
    """The shared store (Redis) did not answer: the request cannot know who is logged in."""


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


@dataclass(slots=True)
class ModeratorSession:
    id: str
    username: str
    api_token: str
    created_at: float
    last_seen: float


class SessionStore(Protocol):
    async def create(self, username: str, api_token: str) -> ModeratorSession: ...

    async def get(self, session_id: str | None) -> ModeratorSession | None: ...

    async def delete(self, session_id: str | None) -> None: ...

    async def aclose(self) -> None: ...


class LoginThrottle(Protocol):
    async def retry_after(self, address: str, username: str) -> float | None: ...

    async def failed(self, address: str, username: str) -> None: ...

    async def succeeded(self, address: str, username: str) -> None: ...


def throttle_keys(address: str, username: str, max_failures: int) -> tuple[tuple[str, int], ...]:
    """Failures count per (address, user name) and per address.

    Counting per pair keeps one attacker from locking a moderator out from everywhere; the
    per-address ceiling stops one address from trying many names.
    """
    return (
        (f"pair:{address}:{username.casefold()}", max_failures),
        (f"addr:{address}", max_failures * 4),
    )


# --- in memory: one process ------------------------------------------------------------------------


class MemorySessionStore:
    """Sessions in this process: a frontend restart logs moderators out, never in."""

    def __init__(self, *, idle_seconds: float, max_sessions: int = 10_000, clock: Clock = time.monotonic):
        self._sessions: OrderedDict[str, ModeratorSession] = OrderedDict()
        self._idle = idle_seconds
        self._max = max_sessions
        self._clock = clock

    async def create(self, username: str, api_token: str) -> ModeratorSession:
        now = self._clock()
        session = ModeratorSession(new_session_id(), username, api_token, now, now)
        self._sessions[session.id] = session
        while len(self._sessions) > self._max:
            self._sessions.popitem(last=False)
        return session

    async def get(self, session_id: str | None) -> ModeratorSession | None:
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        now = self._clock()
        if now - session.last_seen > self._idle:
            del self._sessions[session_id]
            return None
        session.last_seen = now
        self._sessions.move_to_end(session_id)
        return session

    async def delete(self, session_id: str | None) -> None:
        if session_id:
            self._sessions.pop(session_id, None)

    async def aclose(self) -> None:
        self._sessions.clear()

    def __len__(self) -> int:
        return len(self._sessions)


@dataclass(slots=True)
class _Failures:
    times: deque[float] = field(default_factory=deque)


class MemoryLoginThrottle:
    """Failed logins in a sliding window, in this process."""

    def __init__(
        self,
        *,
        max_failures: int,
        window_seconds: float,
        max_keys: int = 50_000,
        clock: Clock = time.monotonic,
    ) -> None:
        self._max = max_failures
        self._window = window_seconds
        self._max_keys = max_keys
        self._clock = clock
        self._failures: OrderedDict[str, _Failures] = OrderedDict()

    async def retry_after(self, address: str, username: str) -> float | None:
        """Seconds until this pair may try again, or None when it may try now."""
        now = self._clock()
        waits = []
        for key, limit in throttle_keys(address, username, self._max):
            failures = self._failures.get(key)
            if failures is None:
                continue
            while failures.times and now - failures.times[0] > self._window:
                failures.times.popleft()
            if len(failures.times) >= limit:
                waits.append(self._window - (now - failures.times[0]))
        return max(waits) if waits else None

    async def failed(self, address: str, username: str) -> None:
        now = self._clock()
        for key, _limit in throttle_keys(address, username, self._max):
            failures = self._failures.pop(key, None) or _Failures()
            failures.times.append(now)
            self._failures[key] = failures
        while len(self._failures) > self._max_keys:
            self._failures.popitem(last=False)

    async def succeeded(self, address: str, username: str) -> None:
        self._failures.pop(throttle_keys(address, username, self._max)[0][0], None)


# --- in Redis: every process behind one address ----------------------------------------------------


def connect_redis(url: str) -> Redis:
    # Short timeouts: a moderator waiting on a dead Redis is told within seconds, not minutes.
    return Redis.from_url(
        url, decode_responses=True, socket_timeout=2.0, socket_connect_timeout=2.0, health_check_interval=30
    )


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class RedisSessionStore:
    """Sessions in Redis, shared by every frontend process that points at it."""

    def __init__(
        self, redis: Redis, *, idle_seconds: float, prefix: str = PREFIX, wall: Clock = time.time
    ) -> None:
        self._redis = redis
        self._ttl = max(1, math.ceil(idle_seconds))
        self._prefix = prefix + "session:"
        self._wall = wall

    def _key(self, session_id: str) -> str:
        return self._prefix + _digest(session_id)

    async def create(self, username: str, api_token: str) -> ModeratorSession:
        now = self._wall()
        session = ModeratorSession(new_session_id(), username, api_token, now, now)
        # The token sealed under the session id: Redis alone gives no bearer token away.
        record = {"username": username, "sealed_token": seal(session.id, api_token), "created_at": now}
        try:
            await self._redis.set(self._key(session.id), json.dumps(record), ex=self._ttl)
        except RedisError as error:
            raise SessionStoreUnavailable(repr(error)) from error
        return session

    async def get(self, session_id: str | None) -> ModeratorSession | None:
        if not session_id:
            return None
        try:
            # GETEX renews the idle expiry in the same round trip that reads the session.
            raw: Any = await self._redis.getex(self._key(session_id), ex=self._ttl)
        except RedisError as error:
            raise SessionStoreUnavailable(repr(error)) from error
        if raw is None:
            return None
        try:
            record = json.loads(raw)
            token = unseal(session_id, str(record["sealed_token"]))
            if token is None:
                return None
            return ModeratorSession(
                session_id, str(record["username"]), token, float(record["created_at"]), self._wall()
            )
        except (ValueError, KeyError, TypeError):
            return None  # a record this version cannot read: the moderator logs in again

    async def delete(self, session_id: str | None) -> None:
        if not session_id:
            return
        try:
            await self._redis.delete(self._key(session_id))
        except RedisError as error:
            raise SessionStoreUnavailable(repr(error)) from error

    async def aclose(self) -> None:
        await self._redis.aclose()


class RedisLoginThrottle:
    """Failed logins in a sliding window kept in Redis (one sorted set per key, scored by time),
    so that two frontend processes do not give an attacker twice the attempts."""

    def __init__(
        self,
        redis: Redis,
        *,
        max_failures: int,
        window_seconds: float,
        prefix: str = PREFIX,
        wall: Clock = time.time,
    ) -> None:
        self._redis = redis
        self._max = max_failures
        self._window = window_seconds
        self._prefix = prefix + "throttle:"
        self._wall = wall

    def _keys(self, address: str, username: str) -> list[tuple[str, int]]:
        # Digests: addresses and names typed at the login form are not kept in clear.
        return [
            (self._prefix + _digest(key), limit) for key, limit in throttle_keys(address, username, self._max)
        ]

    async def retry_after(self, address: str, username: str) -> float | None:
        now = self._wall()
        waits = []
        try:
            for key, limit in self._keys(address, username):
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.zremrangebyscore(key, "-inf", now - self._window)
                    pipe.zcard(key)
                    pipe.zrange(key, 0, 0, withscores=True)
                    _, count, oldest = await pipe.execute()
                if count >= limit and oldest:
                    waits.append(self._window - (now - float(oldest[0][1])))
        except RedisError as error:
            raise SessionStoreUnavailable(repr(error)) from error
        return max(waits) if waits else None

    async def failed(self, address: str, username: str) -> None:
        now = self._wall()
        member = f"{now:.6f}:{secrets.token_hex(4)}"
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for key, _limit in self._keys(address, username):
                    pipe.zadd(key, {member: now})
                    pipe.expire(key, math.ceil(self._window))
                await pipe.execute()
        except RedisError as error:
            raise SessionStoreUnavailable(repr(error)) from error

    async def succeeded(self, address: str, username: str) -> None:
        try:
            await self._redis.delete(self._keys(address, username)[0][0])
        except RedisError as error:
            raise SessionStoreUnavailable(repr(error)) from error
