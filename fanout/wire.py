"""The one adapter around uvicorn's websockets-sansio protocol: a viewer's socket as bytes.

A change goes to thousands of viewers as the same message, and an unmasked server text frame
with no extension is the same bytes for every one of them: framed once, it can be written to
each viewer's transport as it is. Through ASGI, each viewer's `send` would build an event dict,
encode the text, frame it with `websockets` and join the output — once per viewer per change,
which even `websockets.broadcast()` does (it frames per connection). No library writes one
frame to many transports, so this does it by hand, in one place, against uvicorn's protocol.

`ViewerProtocol` is uvicorn's own `WebSocketsSansIOProtocol` (uvicorn's `ws=` setting takes a
protocol class) with two additions:

- it puts itself in the connection's ASGI scope, under `extensions["regie.wire"]`, so that the
  application can find the connection its socket runs on (`wire_of`);
- `write_frame(frame)`: write pre-framed bytes if the connection is open and its write buffer
  is below the high-water mark, in the same order as the protocol's own writes (pings, pongs,
  the close frame), which all go through the same transport.

It relies on the protocol's attributes `transport`, `writable`, `close_sent`, `disconnected`,
`conn` (the `websockets` `ServerProtocol`) and `scope`; `tests/test_fanout_wire.py` checks them
against the installed uvicorn, so an upgrade that changes them fails a test rather than a show.
A server without this protocol (a test client, another ASGI server) has no `regie.wire`: the
fan-out then sends through ASGI, slower but the same messages.

It also drops what the handshake leaves behind (the parsed request and the response, with
their headers: the scope keeps its own copy of the headers) once the socket is accepted: held
by every idle viewer, they are memory for nothing.
"""

from __future__ import annotations

import enum
from typing import Any

from starlette.websockets import WebSocket
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State

WIRE = "regie.wire"
"""The ASGI scope extension under which `ViewerProtocol` exposes itself."""


class Written(enum.Enum):
    SENT = "sent"
    """The frame is in the transport (written to the socket, or buffered below the high-water mark)."""
    FULL = "full"
    """The write buffer is above its high-water mark: wait for `drained()`, then write again."""
    GONE = "gone"
    """The connection is closing or closed: nothing more can be sent on it."""


SENT, FULL, GONE = Written.SENT, Written.FULL, Written.GONE


def text_frame(text: str) -> bytes:
    """`text` as one unmasked, unfragmented server text frame with no extension (RFC 6455 §5.2)."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False, extensions=[])


class ViewerProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets-sansio protocol, reachable from the application as a byte pipe."""

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        # The ASGI task is created but has not run yet: it sees the extension from its start.
        scope = getattr(self, "scope", None)
        if scope is not None and self.response.status_code == 101:
            scope["extensions"][WIRE] = self

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept" and self.handshake_complete:
            # Sent: only the connection's state matters from here on.
            self.request = self.response = None  # type: ignore[assignment]

    def write_frame(self, frame: bytes) -> Written:
        """Write one pre-framed message, unless the socket is closing or its buffer is full."""
        if self.close_sent or self.disconnected or self.conn.state is not State.OPEN:
            return GONE
        transport = self.transport
        if transport.is_closing():
            return GONE
        if not self.writable.is_set():
            return FULL
        transport.write(frame)
        return SENT

    async def drained(self) -> None:
        """Wait until the write buffer is below its low-water mark, or the connection is lost."""
        await self.writable.wait()

    @property
    def framing_is_plain(self) -> bool:
        """No extension was negotiated (permessage-deflate off): one frame suits every viewer."""
        return not self.conn.extensions


def wire_of(websocket: WebSocket) -> ViewerProtocol | None:
    """The uvicorn connection under `websocket`, if it is served by `ViewerProtocol` with plain
    framing; None otherwise (then the fan-out sends through ASGI)."""
    scope = getattr(websocket, "scope", None) or {}
    extensions = scope.get("extensions") or {}
    wire = extensions.get(WIRE)
    if isinstance(wire, ViewerProtocol) and wire.framing_is_plain:
        return wire
    return None


__all__ = ["FULL", "GONE", "SENT", "WIRE", "ViewerProtocol", "Written", "text_frame", "wire_of"]
