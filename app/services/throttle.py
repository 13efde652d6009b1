"""Throttles on what costs the server dearly, built on the `limits` library.

Counts live in this process's memory on the embedded default, and in Redis when the broadcast
does (`REGIE_BROADCAST_URL=redis://…`): several API workers behind one address must not give an
attacker one allowance each.

Identifiers (user names, addresses) are digested before they become keys: a name typed at a
login form can be kilobytes long, and it is personal data that Redis need not hold in clear.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter


def storage_for(broadcast_url: str) -> Storage:
    if broadcast_url.startswith(("redis://", "rediss://")):
        return RedisStorage(
            "async+" + broadcast_url,
            implementation="redispy",
            key_prefix="regie:throttle",
            socket_timeout=2.0,
            socket_connect_timeout=2.0,
        )
    return MemoryStorage()


@dataclass(frozen=True, slots=True)
class Limit:
    """At most `amount` events per `window_seconds` for each value of one identifier."""

    name: str
    amount: int
    window_seconds: int

    def item(self) -> RateLimitItem:
        return RateLimitItemPerSecond(self.amount, self.window_seconds)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class Throttle:
    """Several limits taken together, each counted atomically by the storage.

    `acquire` counts one attempt against every limit in order and refuses at the first that is
    full, before the costly work: concurrent attempts cannot all slip past a check made before
    any of them was counted.
    """

    def __init__(self, storage: Storage, *, wall: Callable[[], float] = time.time) -> None:
        self._storage = storage
        self._limiter = MovingWindowRateLimiter(storage)
        self._wall = wall

    async def acquire(self, checks: Sequence[tuple[Limit, str]]) -> int | None:
        """Count one attempt; None when every limit allowed it, else the seconds to wait."""
        for limit, value in checks:
            item, key = limit.item(), _digest(value)
            if not await self._limiter.hit(item, limit.name, key):
                stats = await self._limiter.get_window_stats(item, limit.name, key)
                return max(1, math.ceil(stats.reset_time - self._wall()))
        return None

    async def clear(self, limit: Limit, value: str) -> None:
        await self._limiter.clear(limit.item(), limit.name, _digest(value))

    async def aclose(self) -> None:
        if isinstance(self._storage, RedisStorage):
            # limits gives no close; its redis-py client holds a pool of connections.
            client = getattr(getattr(self._storage, "bridge", None), "storage", None)
            close = getattr(client, "aclose", None)
            if close is not None:
                await close()
