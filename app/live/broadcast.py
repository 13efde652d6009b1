"""How a committed change reaches every process that has viewers.

A `Broadcast` carries opaque messages (the serialised live state) on a channel per event.
`memory://` serves one process; `redis://` spans processes and hosts. Either way the sender
publishes after its transaction commits, and receivers drop anything older than what they hold,
so a message lost or reordered never leaves a viewer on a stale state for long.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

Listener = Callable[[str, bytes], None]
"""Called with (channel, message) for every message, in the receiving process's event loop."""

Resync = Callable[[], Awaitable[None]]
"""Called after a broadcast reconnects: messages may have been lost while it was away."""


class Broadcast(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, channel: str, message: bytes) -> None: ...

    async def subscribe(self, channel: str) -> None: ...

    async def unsubscribe(self, channel: str) -> None: ...


class MemoryBroadcast:
    """In-process delivery: the embedded default, nothing to install."""

    def __init__(self, listener: Listener) -> None:
        self._listener = listener
        self._channels: set[str] = set()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self._channels.clear()

    async def publish(self, channel: str, message: bytes) -> None:
        if channel in self._channels:
            self._listener(channel, message)

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)


def create_broadcast(url: str, *, listener: Listener, resync: Resync) -> Broadcast:
    if url.startswith("memory://"):
        return MemoryBroadcast(listener)
    if url.startswith(("redis://", "rediss://")):
        from app.live.redis import RedisBroadcast

        return RedisBroadcast(url, listener=listener, resync=resync)
    raise ValueError(f"REGIE_BROADCAST_URL « {url} » is neither memory:// nor redis://…")
