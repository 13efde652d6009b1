"""Sending the same text to many ASGI WebSockets, without one slow reader holding up the others.

Shared by the backend's JSON live WebSocket and the frontend's HTML one: both fan one message out
to thousands of viewers per change, and both must stay fast when some viewers stop reading.

The fan-out is a plain loop that never awaits a socket. uvicorn's sansio `send()` only suspends
when that connection's write buffer is full, so `Outbox.offer` drives the send coroutine one step
by hand: almost always it completes on the spot (one frame written, no task, no wake-up). Only a
viewer whose buffer is full gets a task, which finishes that send when the buffer drains; while
it is busy, newer messages replace each other in a one-message mailbox. So a slow viewer never
delays anybody else, skips straight to the newest message, holds at most one, and is closed with
1013 if it cannot take a single message within the send timeout.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable, Coroutine, Generator, Iterable
from typing import Any

from starlette.types import Message as Message_
from starlette.websockets import WebSocket, WebSocketState

from fanout.wire import FULL, GONE, SENT, ViewerProtocol, text_frame, wire_of

logger = logging.getLogger(__name__)

# Close code 1012 ("service restart") tells clients, htmx's ws extension included, to reconnect.
SERVICE_RESTART = 1012
TRY_AGAIN_LATER = 1013

# A close is one small frame; a peer that cannot take it within this delay is gone anyway.
CLOSE_TIMEOUT = 2.0

SendCoroutine = Coroutine[Any, Any, None]


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


class Message:
    """One message for many viewers: its text, and that text framed once for the wire.

    The frame is built on first use (by the first viewer on `fanout.wire`), then every other
    viewer gets the same bytes object.
    """

    __slots__ = ("_frame", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._frame: bytes | None = None

    @property
    def frame(self) -> bytes:
        if self._frame is None:
            self._frame = text_frame(self.text)
        return self._frame


# The last few texts offered, by identity: a hub offers the same `str` object to every viewer
# that joins until the next change, and each change to all its viewers, so each is framed once.
_RECENT_SIZE = 8
_recent: dict[int, tuple[str, Message]] = {}


def as_message(message: str | Message) -> Message:
    """`message` as a `Message`, the same one for the same `str` object while it is recent."""
    if isinstance(message, Message):
        return message
    known = _recent.get(id(message))
    if known is not None and known[0] is message:
        return known[1]
    made = Message(message)
    # Holding the str keeps its id from being reused while it is in here.
    _recent[id(message)] = (message, made)
    if len(_recent) > _RECENT_SIZE:
        del _recent[next(iter(_recent))]
    return made


class Outbox:
    """One WebSocket connection: idle (sends complete on the spot) or busy with one pending message.

    On `fanout.wire` (uvicorn's sansio protocol, as `regie api` and `regie web` serve it), a
    message is written to the transport as a frame built once for every viewer; elsewhere it goes
    through the ASGI `send`, stepped by hand. Either way a send never waits in the fan-out loop.

    `label` names the connection's audience in log lines (an event's slug): never a viewer's
    address or anything they sent.
    """

    __slots__ = ("_busy", "_gone", "_pending", "_send", "_send_timeout", "_wire", "label", "websocket")

    def __init__(self, websocket: WebSocket, *, label: str, send_timeout: float) -> None:
        self.websocket = websocket
        self.label = label
        self._send: Callable[[Message_], SendCoroutine] = websocket.send
        self._wire: ViewerProtocol | None = wire_of(websocket)
        self._send_timeout = send_timeout
        self._pending: Message | None = None
        self._busy: asyncio.Task[None] | None = None
        self._gone = False

    @property
    def busy(self) -> bool:
        """True while a send waits for this connection's write buffer to drain."""
        return self._busy is not None

    @property
    def pending(self) -> str | None:
        """The one message waiting for a busy viewer (always the newest one offered)."""
        return self._pending.text if self._pending is not None else None

    @property
    def on_wire(self) -> bool:
        """Whether messages go to this connection's transport as pre-framed bytes."""
        return self._wire is not None

    def offer(self, message: str | Message) -> None:
        """Send `message` now if the socket takes it, else keep it as the one message to send next."""
        self._offer(as_message(message))

    def _offer(self, message: Message) -> None:
        if self._gone:
            return
        if self._busy is not None:
            # Replacing what is not sent yet is the whole memory bound: at most one message
            # waits per viewer, and it is always the newest.
            self._pending = message
            return
        wire = self._wire
        if wire is not None:
            written = wire.write_frame(message.frame)
            if written is SENT:
                return
            if written is GONE:  # its endpoint notices the disconnection and leaves
                self._gone = True
                return
            self._pending = message
            self._busy = asyncio.get_running_loop().create_task(self._drain_wire(wire))
            return
        coroutine = self._send({"type": "websocket.send", "text": message.text})
        try:
            waiting = coroutine.send(None)
        except StopIteration:
            return
        except Exception:  # the connection went away; its endpoint notices and leaves
            self._gone = True
            return
        self._busy = asyncio.get_running_loop().create_task(self._drain(_Resume(coroutine, waiting)))

    async def _drain_wire(self, wire: ViewerProtocol) -> None:
        """Write the pending message each time the buffer drains, until none is left."""
        try:
            while self._pending is not None:
                async with asyncio.timeout(self._send_timeout):
                    await wire.drained()
                message, self._pending = self._pending, None
                if message is None:  # stopped meanwhile
                    return
                written = wire.write_frame(message.frame)
                if written is GONE:
                    self._gone = True
                    return
                if written is FULL:  # not after `drained()` with no await between; but be exact
                    self._pending = self._pending or message
        except TimeoutError:
            self._stuck()
            await self.close(TRY_AGAIN_LATER)
        finally:
            if self._busy is asyncio.current_task():
                self._busy = None

    async def _drain(self, started: _Resume) -> None:
        try:
            async with asyncio.timeout(self._send_timeout):
                await started
            while self._pending is not None:
                message, self._pending = self._pending, None
                async with asyncio.timeout(self._send_timeout):
                    await self._send({"type": "websocket.send", "text": message.text})
        except TimeoutError:
            self._stuck()
            await self.close(TRY_AGAIN_LATER)
        except Exception:  # the connection went away; its endpoint notices and leaves
            self._gone = True
        finally:
            self._busy = None

    def _stuck(self) -> None:
        logger.info("live viewer of %s dropped: stuck for %.0f s", self.label, self._send_timeout)
        self._gone = True
        self._busy = None

    async def close(self, code: int) -> None:
        self.stop()
        if self.websocket.application_state is WebSocketState.CONNECTED:
            try:
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await self.websocket.close(code)
            except Exception:
                # A peer that cannot take even the close frame: cut it off rather than keep its
                # socket and buffer until the keepalive gives up on it.
                if self._wire is not None:
                    self._wire.transport.abort()

    def stop(self) -> None:
        """Forget this viewer: cancel a send in progress and drop what was pending."""
        self._gone = True
        self._pending = None
        busy, self._busy = self._busy, None
        if busy is not None and busy is not asyncio.current_task():
            busy.cancel()


def fan_out(outboxes: Iterable[Outbox], message: str | Message) -> None:
    """Offer `message` to every outbox, in one synchronous loop: framed once for all of them."""
    message = as_message(message)
    # A full collection takes ~0.6 s with 10,000 connections' objects: it may run before or
    # after this loop, never inside it, so that it cannot stall a fan-out halfway.
    collecting = gc.isenabled()
    gc.disable()
    try:
        # A copy: a send that fails synchronously must not change the collection under the loop.
        for outbox in tuple(outboxes):
            outbox._offer(message)
    finally:
        if collecting:
            gc.enable()
