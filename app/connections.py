"""Connections that cost the server without ever making a request: half-sent headers
(slowloris), and accepts that fail once the process has run out of file descriptors.

uvicorn times out only *idle kept-alive* connections (`timeout_keep_alive`, armed after a
response). A connection that has sent nothing yet, or part of a request's headers, is never
timed out: 1,100 of them against a process limited to 1,024 open files leave no descriptor for
the API, the pages, or the database, for as long as the attacker cares to keep them. Neither
uvicorn's options nor httptools offer a header deadline, so `HeaderTimeoutProtocol` adds one to
uvicorn's own httptools protocol: armed when the connection opens and when each request begins,
disarmed once that request's headers are complete (a slow *body* is the route's business, and a
WebSocket upgrade's headers are complete before it is handed over). When it fires, the client
gets a 408 and the connection is closed, which gives its descriptor back.

While descriptors are exhausted, every pending accept fails again at once (libuv retries the
listening socket on each turn of the loop) and each failure goes through the loop's exception
handler: 177,000 lines of "Too many open files" in a minute, which drowns the log and costs CPU
of its own. `GuardedServer` installs an exception handler that lets that one line through at
most once a minute (with how many were kept quiet), and every other error as before.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import time
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

logger = logging.getLogger("uvicorn.error")

HEADER_TIMEOUT_SECONDS = 10.0
EXHAUSTED_LOG_INTERVAL_SECONDS = 60.0
_EXHAUSTED = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
_TOO_SLOW = b"The request headers came too slowly."
_REQUEST_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(_TOO_SLOW), _TOO_SLOW)
)


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a deadline for each request's headers."""

    header_timeout: float = HEADER_TIMEOUT_SECONDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        # A second request on a kept-alive connection gets the same deadline as the first.
        self._arm_header_deadline()

    def on_headers_complete(self) -> None:
        self._disarm_header_deadline()
        super().on_headers_complete()

    def _arm_header_deadline(self) -> None:
        self._disarm_header_deadline()
        self._header_deadline = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(_REQUEST_TIMEOUT)
            self.transport.close()


class ExhaustionLog:
    """A loop exception handler that reports running out of descriptors once a minute at most."""

    def __init__(self, *, interval: float = EXHAUSTED_LOG_INTERVAL_SECONDS, clock: Any = time.monotonic):
        self._interval = interval
        self._clock = clock
        self._last: float | None = None
        self._quiet = 0

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        error = context.get("exception")
        if not (isinstance(error, OSError) and error.errno in _EXHAUSTED):
            loop.default_exception_handler(context)
            return
        now = self._clock()
        if self._last is not None and now - self._last < self._interval:
            self._quiet += 1
            return
        also = f" ({self._quiet} more since the last report)" if self._quiet else ""
        logger.error(
            "cannot accept connections: %s%s; open connections are timed out and closed as usual",
            error.strerror or error,
            also,
        )
        self._last, self._quiet = now, 0


class GuardedServer(uvicorn.Server):
    """A uvicorn server whose event loop reports descriptor exhaustion once a minute at most."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        asyncio.get_running_loop().set_exception_handler(ExhaustionLog())
        await super().startup(sockets)
