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
import contextlib
import gc
import logging
from collections.abc import Callable, Coroutine, Generator, Iterable
from typing import Any

from starlette.types import Message
from starlette.websockets import WebSocket, WebSocketState

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


class Outbox:
    """One WebSocket connection: idle (sends complete on the spot) or busy with one pending message.

    `label` names the connection's audience in log lines (an event's slug): never a viewer's
    address or anything they sent.
    """

    __slots__ = ("_busy", "_gone", "_pending", "_send", "_send_timeout", "label", "websocket")

    def __init__(self, websocket: WebSocket, *, label: str, send_timeout: float) -> None:
        self.websocket = websocket
        self.label = label
        self._send: Callable[[Message], SendCoroutine] = websocket.send
        self._send_timeout = send_timeout
        self._pending: str | None = None
        self._busy: asyncio.Task[None] | None = None
        self._gone = False

    @property
    def busy(self) -> bool:
        """True while a send waits for this connection's write buffer to drain."""
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
            logger.info("live viewer of %s dropped: stuck for %.0f s", self.label, self._send_timeout)
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


def fan_out(outboxes: Iterable[Outbox], text: str) -> None:
    """Offer `text` to every outbox, in one synchronous loop."""
    # A full collection takes ~0.6 s with 10,000 connections' objects: it may run before or
    # after this loop, never inside it, so that it cannot stall a fan-out halfway.
    collecting = gc.isenabled()
    gc.disable()
    try:
        # A copy: a send that fails synchronously must not change the collection under the loop.
        for outbox in tuple(outboxes):
            outbox.offer(text)
    finally:
        if collecting:
            gc.enable()
