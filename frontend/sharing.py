"""Sharing one API call among many page requests: a burst of viewers opening the page at the
start of a show costs the backend one read, not one per viewer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SingleFlight(Generic[K, V]):
    """Callers asking for the same key while a call is in flight wait for that call."""

    def __init__(self) -> None:
        self._calls: dict[K, asyncio.Future[V]] = {}

    async def run(self, key: K, call: Callable[[], Awaitable[V]]) -> V:
        future = self._calls.get(key)
        if future is None:
            future = asyncio.ensure_future(call())
            self._calls[key] = future
            future.add_done_callback(lambda _: self._calls.pop(key, None))
        # Shielded: one impatient caller leaving must not cancel the call the others wait for.
        return await asyncio.shield(future)


class Recent(Generic[V]):
    """A value kept for `ttl` seconds, refreshed by one call when stale."""

    def __init__(self, ttl: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._value: V | None = None
        self._at = float("-inf")
        self._flight: SingleFlight[str, V] = SingleFlight()

    async def get(self, call: Callable[[], Awaitable[V]]) -> V:
        if self._value is not None and self._clock() - self._at < self._ttl:
            return self._value

        async def refresh() -> V:
            value = await call()
            self._value, self._at = value, self._clock()
            return value

        return await self._flight.run("value", refresh)
