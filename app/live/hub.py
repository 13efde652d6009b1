"""Fan-out of the live state to this process's WebSocket viewers.

One `Channel` per event with viewers. A change arrives once (from the broadcast), is kept as
the channel's latest message, and the same bytes are offered to every viewer. Each viewer has a
mailbox of one message: a viewer that reads slowly skips straight to the newest state instead
of queueing old ones, so its memory is bounded and it never delays anybody else. One that
cannot take a single message within the send timeout is disconnected.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from starlette.websockets import WebSocket, WebSocketState

logger = logging.getLogger(__name__)

# Close code 1012 ("service restart") tells clients, htmx's ws extension included, to reconnect.
SERVICE_RESTART = 1012
TRY_AGAIN_LATER = 1013

LoadState = Callable[[str], Awaitable[bytes | None]]
"""Reads an event's live state from the database, serialised as a live message (None: no event)."""


def channel_name(slug: str) -> str:
    return f"regie:live:{slug}"


def message_version(message: bytes) -> int:
    version = json.loads(message)["live"]["version"]
    if not isinstance(version, int):
        raise TypeError("live message without an integer version")
    return version


class Viewer:
    """One WebSocket connection and its one-message mailbox."""

    __slots__ = ("_pending", "_wake", "_writer", "channel", "websocket")

    def __init__(self, websocket: WebSocket, channel: Channel) -> None:
        self.websocket = websocket
        self.channel = channel
        self._pending: str | None = None
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None

    def start(self, send_timeout: float) -> None:
        self._writer = asyncio.create_task(self._write(send_timeout))

    def offer(self, text: str) -> None:
        # Replacing what the writer has not sent yet is the whole memory bound: at most one
        # message waits per viewer, and it is always the newest.
        self._pending = text
        self._wake.set()

    async def _write(self, send_timeout: float) -> None:
        send = self.websocket.send
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                text, self._pending = self._pending, None
                if text is None:
                    continue
                async with asyncio.timeout(send_timeout):
                    await send({"type": "websocket.send", "text": text})
        except TimeoutError:
            logger.info("live viewer of %s dropped: stuck for %.0f s", self.channel.slug, send_timeout)
            await self.close(TRY_AGAIN_LATER)
        except (OSError, RuntimeError):
            pass  # the connection went away; its endpoint notices and leaves the channel

    async def close(self, code: int) -> None:
        if self._writer is not None and self._writer is not asyncio.current_task():
            self._writer.cancel()
        if self.websocket.application_state is WebSocketState.CONNECTED:
            with contextlib.suppress(OSError, RuntimeError):
                await self.websocket.close(code)

    def stop(self) -> None:
        if self._writer is not None:
            self._writer.cancel()


@dataclass(eq=False)
class Channel:
    slug: str
    viewers: set[Viewer] = field(default_factory=set)
    version: int = -1
    latest: str | None = None

    def offer(self, message: bytes, version: int) -> None:
        """Keep and fan out `message` if it is newer than what this channel holds."""
        if version <= self.version:
            return
        self.version = version
        text = self.latest = message.decode()
        for viewer in self.viewers:
            viewer.offer(text)


class LiveHub:
    def __init__(self, *, load_state: LoadState, send_timeout: float) -> None:
        self._load_state = load_state
        self._send_timeout = send_timeout
        self._channels: dict[str, Channel] = {}
        self._subscribe: Callable[[str], Awaitable[None]] | None = None
        self._unsubscribe: Callable[[str], Awaitable[None]] | None = None

    def attach(
        self, *, subscribe: Callable[[str], Awaitable[None]], unsubscribe: Callable[[str], Awaitable[None]]
    ) -> None:
        self._subscribe, self._unsubscribe = subscribe, unsubscribe

    @property
    def viewer_count(self) -> int:
        return sum(len(channel.viewers) for channel in self._channels.values())

    async def join(self, slug: str, websocket: WebSocket) -> Viewer | None:
        """Add a viewer and send it the current state at once; None if the event is unknown."""
        channel = self._channels.get(slug)
        if channel is None:
            channel = self._channels[slug] = Channel(slug)
            # Subscribe before reading the state, so no change can fall between the two.
            if self._subscribe is not None:
                await self._subscribe(channel_name(slug))
        viewer = Viewer(websocket, channel)
        channel.viewers.add(viewer)
        viewer.start(self._send_timeout)
        if channel.latest is None:
            message = await self._load_state(slug)
            if message is None:
                await self.leave(viewer)
                return None
            channel.offer(message, message_version(message))
        if channel.latest is not None:
            viewer.offer(channel.latest)
        return viewer

    async def leave(self, viewer: Viewer) -> None:
        viewer.stop()
        channel = viewer.channel
        channel.viewers.discard(viewer)
        if not channel.viewers and self._channels.get(channel.slug) is channel:
            del self._channels[channel.slug]
            if self._unsubscribe is not None:
                await self._unsubscribe(channel_name(channel.slug))

    def receive(self, channel: str, message: bytes) -> None:
        """The broadcast's listener: one call per change, whatever the number of viewers."""
        slug = channel.removeprefix("regie:live:")
        target = self._channels.get(slug)
        if target is None:
            return
        try:
            version = message_version(message)
        except (ValueError, KeyError, TypeError):
            logger.warning("ignored a malformed live message on %s", channel)
            return
        target.offer(message, version)

    async def resync(self) -> None:
        """Re-read every watched event from the database: after a broadcast outage, changes may
        have been published while nobody listened."""
        for slug, channel in list(self._channels.items()):
            message = await self._load_state(slug)
            if message is not None:
                channel.offer(message, message_version(message))

    async def close(self) -> None:
        """Close every viewer with 1012 so that clients reconnect to the next server."""
        viewers = [viewer for channel in self._channels.values() for viewer in channel.viewers]
        self._channels.clear()
        await asyncio.gather(*(viewer.close(SERVICE_RESTART) for viewer in viewers), return_exceptions=True)
