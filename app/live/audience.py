"""Who follows a show now, over every process: each process reports its count, anyone sums them.

Every place that holds viewers reports how many it holds per event, under a name of its own,
every `REPORT_SECONDS`: each API process for its JSON WebSocket and SSE viewers, each frontend
process for its browsers (through `POST …/audience/reports`). The audience of an event is the
sum of the reports fresher than `FRESH_SECONDS`, so a process that dies stops counting within
that delay and a new viewer is counted within one report interval. The reports live in this
process's memory (memory://, one API process) or in a Redis hash per event (redis://), which
every API process reads.

The board only counts. The peak and the curve are kept in the database by `app.services.audience`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

REPORT_SECONDS = 1.5
FRESH_SECONDS = 5.0
_KEY = "regie:audience:"
_EVENTS = "regie:audience-events"


class AudienceBoard(Protocol):
    async def report(self, slug: str, reporter: str, viewers: int) -> None: ...

    async def count(self, slug: str) -> int: ...

    async def events(self) -> set[str]:
        """The events someone reported on lately."""
        ...

    async def close(self) -> None: ...


class MemoryBoard:
    def __init__(self, *, wall: Callable[[], float] = time.time) -> None:
        self._reports: dict[str, dict[str, tuple[int, float]]] = {}
        self._wall = wall

    async def report(self, slug: str, reporter: str, viewers: int) -> None:
        self._reports.setdefault(slug, {})[reporter] = (viewers, self._wall())

    async def count(self, slug: str) -> int:
        now = self._wall()
        reports = self._reports.get(slug, {})
        for reporter, (_, at) in list(reports.items()):
            if now - at > FRESH_SECONDS:
                del reports[reporter]
        return sum(viewers for viewers, _ in reports.values())

    async def events(self) -> set[str]:
        for slug in list(self._reports):
            if not await self.count(slug):
                self._reports.pop(slug, None)
        return set(self._reports)

    async def close(self) -> None:
        self._reports.clear()


class RedisBoard:
    """One hash per event, `reporter → "viewers at"`; stale fields are dropped by the readers."""

    def __init__(self, url: str, *, wall: Callable[[], float] = time.time) -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(
            url, socket_timeout=2.0, socket_connect_timeout=2.0, decode_responses=True
        )
        self._wall = wall

    async def report(self, slug: str, reporter: str, viewers: int) -> None:
        key = _KEY + slug
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hset(key, reporter, f"{viewers} {self._wall():.3f}")
            pipe.expire(key, int(FRESH_SECONDS * 4))
            pipe.zadd(_EVENTS, {slug: self._wall()})
            await pipe.execute()

    async def count(self, slug: str) -> int:
        key = _KEY + slug
        now = self._wall()
        total, stale = 0, []
        for reporter, value in (await self._redis.hgetall(key)).items():
            viewers, _, at = str(value).partition(" ")
            if now - float(at) > FRESH_SECONDS:
                stale.append(reporter)
            else:
                total += int(viewers)
        if stale:
            await self._redis.hdel(key, *stale)
        return total

    async def events(self) -> set[str]:
        await self._redis.zremrangebyscore(_EVENTS, "-inf", self._wall() - FRESH_SECONDS)
        return {str(slug) for slug in await self._redis.zrange(_EVENTS, 0, -1)}

    async def close(self) -> None:
        await self._redis.aclose()


def create_board(broadcast_url: str) -> AudienceBoard:
    if broadcast_url.startswith(("redis://", "rediss://")):
        return RedisBoard(broadcast_url)
    return MemoryBoard()
