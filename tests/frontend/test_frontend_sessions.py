"""Moderators' sessions and login throttling: in memory for one process, in Redis for several
`regie web` processes behind one address (the Redis tests run against the real 127.0.0.1:6379)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import httpx
import pytest
from backend import Backend
from html_text import form_token, visible_text
from redis.asyncio import Redis
from test_frontend_console import CONSOLE, console_token, log_in, press

from frontend.config import Settings
from frontend.main import create_app
from frontend.sessions import (
    MemoryLoginThrottle,
    MemorySessionStore,
    RedisLoginThrottle,
    RedisSessionStore,
    SessionStoreUnavailable,
    connect_redis,
)

REDIS_URL = "redis://127.0.0.1:6379/0"


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_memory_sessions_expire_when_idle_and_end_at_logout() -> None:
    ticks = Ticks()
    store = MemorySessionStore(idle_seconds=60, clock=ticks)
    session = await store.create("alice", "token-a")
    ticks.now += 50
    assert (await store.get(session.id)) is not None  # used: the idle time starts again
    ticks.now += 50
    assert (await store.get(session.id)) is not None
    ticks.now += 61
    assert await store.get(session.id) is None
    other = await store.create("bruno", "token-b")
    await store.delete(other.id)
    assert await store.get(other.id) is None


async def test_memory_throttle_counts_failures_in_a_sliding_window() -> None:
    ticks = Ticks()
    throttle = MemoryLoginThrottle(max_failures=2, window_seconds=60, clock=ticks)
    for _ in range(2):
        assert await throttle.retry_after("10.0.0.1", "alice") is None
        await throttle.failed("10.0.0.1", "alice")
    assert await throttle.retry_after("10.0.0.1", "alice") == pytest.approx(60)
    assert await throttle.retry_after("10.0.0.2", "alice") is None  # not locked out from elsewhere
    ticks.now += 61
    assert await throttle.retry_after("10.0.0.1", "alice") is None


async def test_a_store_that_cannot_be_reached_gives_a_french_503_not_a_logout(api_url: str) -> None:
    settings = Settings(api_url=api_url, secret_key="s", session_url="redis://127.0.0.1:9/0")
    app = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        answer = await client.get(CONSOLE)
    assert answer.status_code == 503
    assert "La régie est momentanément injoignable" in visible_text(answer.text)


# --- Redis: several processes ----------------------------------------------------------------------


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = connect_redis(REDIS_URL)
    try:
        await client.ping()  # the scale-out tests fail, never skip, when Redis is down
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def prefix() -> str:
    return f"regie:test:{secrets.token_hex(6)}:"


@pytest.mark.scaleout
async def test_a_session_made_by_one_process_is_known_to_the_other(redis: Redis, prefix: str) -> None:
    first = RedisSessionStore(connect_redis(REDIS_URL), idle_seconds=60, prefix=prefix)
    second = RedisSessionStore(connect_redis(REDIS_URL), idle_seconds=60, prefix=prefix)
    try:
        session = await first.create("alice", "token-alice")
        seen = await second.get(session.id)
        assert seen is not None and (seen.username, seen.api_token) == ("alice", "token-alice")
        assert await second.get("not-a-session-id-at-all-00000000") is None

        # Neither the cookie's value nor anything derived without the store is a key of Redis.
        keys = [key async for key in redis.scan_iter(match=f"{prefix}*")]
        assert len(keys) == 1 and session.id not in keys[0]
        # And what Redis holds gives no bearer token away: it is sealed under the session id.
        record = await redis.get(keys[0])
        assert "token-alice" not in record and session.id not in record

        await second.delete(session.id)
        assert await first.get(session.id) is None
    finally:
        await first.aclose()
        await second.aclose()


@pytest.mark.scaleout
async def test_redis_sessions_expire_when_idle_and_each_use_renews_them(prefix: str) -> None:
    store = RedisSessionStore(connect_redis(REDIS_URL), idle_seconds=1, prefix=prefix)
    try:
        session = await store.create("alice", "token")
        await asyncio.sleep(0.6)
        assert await store.get(session.id) is not None  # renewed until 1.6 s
        await asyncio.sleep(0.6)
        assert await store.get(session.id) is not None  # past the first second: the use counted
        await asyncio.sleep(1.3)
        assert await store.get(session.id) is None
    finally:
        await store.aclose()


@pytest.mark.scaleout
async def test_failed_logins_count_across_processes(redis: Redis, prefix: str) -> None:
    first = RedisLoginThrottle(redis, max_failures=3, window_seconds=60, prefix=prefix)
    second = RedisLoginThrottle(connect_redis(REDIS_URL), max_failures=3, window_seconds=60, prefix=prefix)
    try:
        await first.failed("10.0.0.1", "alice")
        await second.failed("10.0.0.1", "Alice")
        assert await first.retry_after("10.0.0.1", "alice") is None
        await first.failed("10.0.0.1", "alice")
        wait = await second.retry_after("10.0.0.1", "ALICE")
        assert wait is not None and 59 < wait <= 60
        assert await second.retry_after("10.0.0.2", "alice") is None
        await second.succeeded("10.0.0.1", "alice")
        assert await first.retry_after("10.0.0.1", "alice") is None
        keys = [key async for key in redis.scan_iter(match=f"{prefix}*")]
        assert keys and not any("10.0.0.1" in key or "alice" in key for key in keys)
    finally:
        await redis.delete(*[key async for key in redis.scan_iter(match=f"{prefix}*")] or ["-"])
        await second._redis.aclose()


@pytest.mark.scaleout
async def test_two_frontend_processes_share_moderators_sessions(
    api_url: str, backend: Backend, redis: Redis
) -> None:
    """Two `regie web` behind one address: log in on one, drive the show and log out on the other."""
    settings = Settings(
        api_url=api_url, secret_key="shared-secret", session_url=REDIS_URL, session_idle_seconds=120
    )
    first, second = create_app(settings), create_app(settings)
    async with (
        first.router.lifespan_context(first),
        second.router.lifespan_context(second),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=first), base_url="http://regie") as on_first,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=second), base_url="http://regie") as on_second,
    ):
        assert (await log_in(on_first)).status_code == 303
        on_second.cookies.update(on_first.cookies)

        console = await on_second.get(CONSOLE)
        assert console.status_code == 200
        assert "Connecté : regie" in visible_text(console.text)
        answer = await press(on_second, console_token(console.text), "start", 0)
        assert answer.status_code == 200 and (await backend.live())["status"] == "live"
        assert "access_token" not in console.text

        logout = await on_second.post("/logout", data={"csrf_token": form_token(console.text)})
        assert logout.headers["location"] == "/login?notice=logout"
        assert (await on_first.get(CONSOLE)).status_code == 303  # logged out everywhere


async def test_an_unreachable_redis_is_reported_not_taken_for_a_logout() -> None:
    store = RedisSessionStore(connect_redis("redis://127.0.0.1:9/0"), idle_seconds=60)
    try:
        with pytest.raises(SessionStoreUnavailable):
            await store.get("x" * 43)
    finally:
        await store.aclose()
