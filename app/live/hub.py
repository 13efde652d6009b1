"""Fan-out of the live state to this process's WebSocket viewers.

One `Channel` per event with viewers. A change arrives once (from the broadcast), is kept as
the channel's latest message, and the same text is offered to every viewer.

The fan-out is a plain loop that never awaits a socket. uvicorn's sansio `send()` only suspends
when that connection's write buffer is full, so the loop drives each viewer's send coroutine one
step by hand: almost always it completes on the spot (one frame written, no task, no wake-up).
Only a viewer whose buffer is full gets a task, which finishes that send when the buffer drains;
while it is busy, newer messages replace each other in a one-message mailbox. So a slow viewer
never delays anybody else, skips straight to the newest state, holds at most one message, and
is disconnected if it cannot take a single message within the send timeout. Against the former
writer task per viewer: half the fan-out time at 5,000 viewers, p99 327 ms instead of 1,959 ms at
10,000 (bench/README.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine, Generator
from dataclasses import dataclass, field
from typing import Any

from starlette.types import Message
from starlette.websockets import WebSocket, WebSocketState

logger = logging.getLogger(__name__)

# Close code 1012 ("service restart") tells clients, htmx's ws extension included, to reconnect.
SERVICE_RESTART = 1012
TRY_AGAIN_LATER = 1013

# A close is one small frame; a peer that cannot take it within this delay is gone anyway.
CLOSE_TIMEOUT = 2.0

LoadState = Callable[[str], Awaitable[bytes | None]]
"""Reads an event's live state from the database, serialised as a live message (None: no event)."""

SendCoroutine = Coroutine[Any, Any, None]


def channel_name(slug: str) -> str:
    return f"regie:live:{slug}"


def message_version(message: bytes) -> int:
    version = json.loads(message)["live"]["version"]
    if not isinstance(version, int):
        raise TypeError("live message without an integer version")
    return version


class _Resume:
    """Awaiting this finishes a coroutine that was started by hand and suspended on `waiting`.

    `coroutine.send(None)` ran its first step outside any task; the task that awaits this object
    takes over from the exact point where it stopped, so the send goes on as if it had been
    awaited from the start (cancellation included).
    """

    __slots__ = ("_coroutine", "_waiting")

    def __init__(self, coroutine: SendCoroutine, waiting: Any) -> None:
        self._coroutine = coroutine
        self._waiting = waiting

    def __await__(self) -> Generator[Any, Any, None]:
        coroutine, waiting = self._coroutine, self._waiting
        while True:
            try:
                value = yield waiting
            except GeneratorExit:
                coroutine.close()
                raise
            except BaseException as error:  # cancellation, above all: hand it to the send
                try:
                    waiting = coroutine.throw(error)
                except StopIteration:
                    return
            else:
                try:
                    waiting = coroutine.send(value)
                except StopIteration:
                    return


class Viewer:
    """One WebSocket connection: idle (sends complete on the spot) or busy with one pending message."""

    __slots__ = ("_busy", "_gone", "_pending", "_send", "_send_timeout", "channel", "websocket")

    def __init__(self, websocket: WebSocket, channel: Channel, *, send_timeout: float) -> None:
        self.websocket = websocket
        self.channel = channel
        self._send: Callable[[Message], SendCoroutine] = websocket.send
        self._send_timeout = send_timeout
        self._pending: str | None = None
        self._busy: asyncio.Task[None] | None = None
        self._gone = False

    @property
    def busy(self) -> bool:
        """True while a send waits for this viewer's write buffer to drain."""
        return self._busy is not None

    @property
    def pending(self) -> str | None:
        """The one message waiting for a busy viewer (always the newest one offered)."""
        return self._pending

    def offer(self, text: str) -> None:
        """Send `text` now if the socket takes it, else keep it as the one message to send next."""
        if self._gone:
            return
        if self._busy is not None:
            # Replacing what is not sent yet is the whole memory bound: at most one message
            # waits per viewer, and it is always the newest.
            self._pending = text
            return
        coroutine = self._send({"type": "websocket.send", "text": text})
        try:
            waiting = coroutine.send(None)
        except StopIteration:
            return
        except Exception:  # the connection went away; its endpoint notices and leaves
            self._gone = True
            return
        self._busy = asyncio.get_running_loop().create_task(self._drain(_Resume(coroutine, waiting)))

    async def _drain(self, started: _Resume) -> None:
        try:
            async with asyncio.timeout(self._send_timeout):
                await started
            while self._pending is not None:
                text, self._pending = self._pending, None
                async with asyncio.timeout(self._send_timeout):
                    await self._send({"type": "websocket.send", "text": text})
        except TimeoutError:
            logger.info("live viewer of %s dropped: stuck for %.0f s", self.channel.slug, self._send_timeout)
            self._gone = True
            self._busy = None
            await self.close(TRY_AGAIN_LATER)
        except Exception:  # the connection went away; its endpoint notices and leaves
            self._gone = True
        finally:
            self._busy = None

    async def close(self, code: int) -> None:
        self.stop()
        if self.websocket.application_state is WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await self.websocket.close(code)

    def stop(self) -> None:
        """Forget this viewer: cancel a send in progress and drop what was pending."""
        self._gone = True
        self._pending = None
        busy, self._busy = self._busy, None
        if busy is not None and busy is not asyncio.current_task():
            busy.cancel()


@dataclass(eq=False)
class Channel:
    slug: str
    viewers: set[Viewer] = field(default_factory=set)
    version: int = -1
    latest: str | None = None
    joining: int = 0
    """Viewers reading the first state: the channel must outlive them even with no viewer yet."""

    def offer(self, message: bytes, version: int) -> None:
        """Keep and fan out `message` if it is newer than what this channel holds."""
        if version <= self.version:
            return
        self.version = version
        text = self.latest = message.decode()
        # A full collection takes ~0.6 s with 10,000 connections' objects: it may run before or
        # after this loop, never inside it, so that it cannot stall a fan-out halfway.
        collecting = gc.isenabled()
        gc.disable()
        try:
            # A copy: a send that fails synchronously must not change the set under the loop.
            for viewer in tuple(self.viewers):
                viewer.offer(text)
        finally:
            if collecting:
                gc.enable()


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

    def channel(self, slug: str) -> Channel | None:
        return self._channels.get(slug)

    async def join(self, slug: str, websocket: WebSocket) -> Viewer | None:
        """Add a viewer and send it the current state at once; None if the event is unknown."""
        channel = self._channels.get(slug)
        if channel is None:
            channel = self._channels[slug] = Channel(slug)
            # Subscribe before reading the state, so no change can fall between the two.
            if self._subscribe is not None:
                await self._subscribe(channel_name(slug))
        if channel.latest is None:
            channel.joining += 1
            try:
                message = await self._load_state(slug)
            except BaseException:
                channel.joining -= 1
                await self._release(channel)
                raise
            channel.joining -= 1
            if message is None:
                await self._release(channel)
                return None
            # Dropped if a change arrived during the read: the channel then holds a newer state.
            channel.offer(message, message_version(message))
        # No await from here on: the viewer gets exactly the latest state, then every newer one.
        viewer = Viewer(websocket, channel, send_timeout=self._send_timeout)
        channel.viewers.add(viewer)
        if channel.latest is not None:
            viewer.offer(channel.latest)
        return viewer

    async def leave(self, viewer: Viewer) -> None:
        viewer.stop()
        viewer.channel.viewers.discard(viewer)
        await self._release(viewer.channel)

    async def _release(self, channel: Channel) -> None:
        """Forget a channel that nobody watches or is about to watch any more."""
        if channel.viewers or channel.joining or self._channels.get(channel.slug) is not channel:
            return
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
