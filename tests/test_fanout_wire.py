"""The fan-out's fast path on real sockets: pre-framed bytes written to uvicorn's transports.

A small ASGI app under uvicorn with `fanout.wire.ViewerProtocol` (as `regie api` and `regie web`
serve their sockets) registers every accepted socket as an `Outbox`; the tests fan messages out
to real clients and read what arrives: a slow viewer, a socket closed mid-write, a message larger
than the transport's buffer, a close during a fan-out, and the adapter's hold on uvicorn itself.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from starlette.websockets import WebSocket
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode

from fanout import SERVICE_RESTART, Message, Outbox, fan_out
from fanout.wire import WIRE, ViewerProtocol, text_frame, wire_of
from tests.conftest import free_port


class Viewers:
    """The app's side: every accepted socket as an outbox, until its client leaves."""

    def __init__(self, send_timeout: float) -> None:
        self.send_timeout = send_timeout
        self.outboxes: list[Outbox] = []
        self.joined = asyncio.Condition()
        self.left = 0

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "websocket"
        websocket = WebSocket(scope, receive, send)
        await websocket.accept()
        outbox = Outbox(websocket, label="test", send_timeout=self.send_timeout)
        async with self.joined:
            self.outboxes.append(outbox)
            self.joined.notify_all()
        try:
            while (await websocket.receive())["type"] != "websocket.disconnect":
                pass
        finally:
            outbox.stop()
            self.outboxes.remove(outbox)
            self.left += 1

    async def count(self, n: int) -> list[Outbox]:
        async with self.joined:
            await asyncio.wait_for(self.joined.wait_for(lambda: len(self.outboxes) >= n), 5)
        return list(self.outboxes)


@contextlib.asynccontextmanager
async def serving(*, send_timeout: float = 0.5, deflate: bool = False) -> AsyncIterator[tuple[Viewers, int]]:
    viewers = Viewers(send_timeout)
    port = free_port()
    config = uvicorn.Config(
        viewers.app,
        host="127.0.0.1",
        port=port,
        ws=ViewerProtocol,
        ws_per_message_deflate=deflate,
        lifespan="off",
        log_level="warning",
        interface="asgi3",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield viewers, port
    finally:
        server.should_exit = True
        await task


async def raw_viewer(port: int, *, receive_buffer: int | None = None) -> socket.socket:
    """A viewer that completes the handshake, then reads only when the test says so."""
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setblocking(False)
    if receive_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    await loop.sock_sendall(
        sock,
        (
            f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode(),
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += await loop.sock_recv(sock, 1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def read_frames(data: bytes) -> list[tuple[int, bytes]]:
    """(opcode, payload) of every whole server frame in `data`."""
    frames = []
    while len(data) >= 2:
        length, start = data[1] & 0x7F, 2
        if length == 126:
            length, start = struct.unpack("!H", data[2:4])[0], 4
        elif length == 127:
            length, start = struct.unpack("!Q", data[2:10])[0], 10
        if len(data) < start + length:
            break
        frames.append((data[0] & 0x0F, data[start : start + length]))
        data = data[start + length :]
    return frames


async def read_all(sock: socket.socket, *, timeout: float = 5) -> bytes:
    """What `sock` receives until a close frame, the end of the connection, or `timeout`."""
    loop = asyncio.get_running_loop()
    sock.setblocking(False)
    data = bytearray()
    frame_at = 0  # where the next whole frame starts: headers are read as they complete
    with contextlib.suppress(TimeoutError, ConnectionError):
        async with asyncio.timeout(timeout):
            while chunk := await loop.sock_recv(sock, 1 << 20):
                data += chunk
                while len(data) >= frame_at + 10:
                    if data[frame_at] & 0x0F == 0x8:
                        return bytes(data)
                    length, start = data[frame_at + 1] & 0x7F, 2
                    if length == 126:
                        length, start = struct.unpack("!H", data[frame_at + 2 : frame_at + 4])[0], 4
                    elif length == 127:
                        length, start = struct.unpack("!Q", data[frame_at + 2 : frame_at + 10])[0], 10
                    frame_at += start + length
                if frame_at < len(data) and data[frame_at] & 0x0F == 0x8:
                    return bytes(data)
    return bytes(data)


# --- The adapter's hold on uvicorn ---------------------------------------------------------------


async def nothing(scope: Any, receive: Any, send: Any) -> None:
    return None


async def test_uvicorn_still_has_what_the_wire_writes_through() -> None:
    """An upgrade of uvicorn that renames or drops these fails here, not during a show."""
    assert issubclass(ViewerProtocol, WebSocketsSansIOProtocol)
    for method in ("handle_connect", "send", "connection_lost", "pause_writing", "resume_writing"):
        assert callable(getattr(WebSocketsSansIOProtocol, method))
    config = uvicorn.Config(nothing, ws=ViewerProtocol, ws_per_message_deflate=False, interface="asgi3")
    config.load()
    assert config.ws_protocol_class is ViewerProtocol
    server_state = uvicorn.server.ServerState()
    protocol = ViewerProtocol(config=config, server_state=server_state, app_state={})
    for attribute in ("writable", "close_sent", "disconnected", "conn", "transport"):
        assert hasattr(protocol, attribute), attribute
    assert isinstance(protocol.writable, asyncio.Event)


def test_a_text_frame_is_what_the_library_frames() -> None:
    for text in ("", "x", "é" * 100, "x" * 200, "x" * 70_000):
        frame = text_frame(text)
        assert frame == Frame(Opcode.TEXT, text.encode()).serialize(mask=False)
        assert read_frames(frame) == [(0x1, text.encode())]


async def test_every_viewer_gets_the_same_frame_through_the_wire() -> None:
    async with serving() as (viewers, port), contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(connect(f"ws://127.0.0.1:{port}/")) for _ in range(20)]
        outboxes = await viewers.count(20)
        assert all(outbox.on_wire for outbox in outboxes)
        message = Message("« Jouons collectif ! » " + "x" * 5000)
        fan_out(outboxes, message)
        fan_out(outboxes, "second")
        for client in clients:
            assert await asyncio.wait_for(client.recv(), 5) == message.text
            assert await asyncio.wait_for(client.recv(), 5) == "second"
        assert not any(outbox.busy for outbox in outboxes)


async def test_the_same_str_is_framed_once() -> None:
    text = "framed once " * 100
    async with serving() as (viewers, port), connect(f"ws://127.0.0.1:{port}/") as client:
        [outbox] = await viewers.count(1)
        wire = wire_of(outbox.websocket)
        assert wire is not None and outbox.websocket.scope["extensions"][WIRE] is wire
        written: list[bytes] = []
        original = wire.transport.write

        def spy(data: Any) -> None:
            written.append(data)
            original(data)

        wire.transport.write = spy  # type: ignore[method-assign]
        fan_out([outbox], text)
        outbox.offer(text)
        assert [await client.recv() for _ in range(2)] == [text, text]
        assert len(written) == 2 and written[0] is written[1]


async def test_with_compression_negotiated_the_fan_out_sends_through_asgi() -> None:
    async with serving(deflate=True) as (viewers, port), connect(f"ws://127.0.0.1:{port}/") as client:
        [outbox] = await viewers.count(1)
        assert not outbox.on_wire
        fan_out([outbox], "through ASGI " * 100)
        assert await asyncio.wait_for(client.recv(), 5) == "through ASGI " * 100


# --- Slow, closed and large ------------------------------------------------------------------------


async def test_a_slow_viewer_holds_one_message_and_delays_nobody() -> None:
    async with serving(send_timeout=30) as (viewers, port):
        slow = await raw_viewer(port, receive_buffer=4096)
        async with connect(f"ws://127.0.0.1:{port}/", max_size=None) as fast:
            outboxes = await viewers.count(2)
            [stuck] = [outbox for outbox in outboxes if port_of(outbox) == slow.getsockname()[1]]
            # Past what the kernel's buffers absorb (up to 4 MB here), so that some states are skipped.
            big = "x" * 3_000_000
            for version in range(5):
                fan_out(outboxes, f"{version} {big}")
                received = await asyncio.wait_for(fast.recv(), 5)
                assert received == f"{version} {big}"  # the fast one is never held up
            assert stuck.busy and stuck.pending == f"4 {big}"  # only the newest waits
            # Once it reads, the slow viewer gets what was in flight, then the newest: nothing older.
            frames = read_frames(await read_all(slow, timeout=3))
            texts = [payload.split(b" ")[0] for opcode, payload in frames if opcode == 0x1]
            assert texts[-1] == b"4" and len(texts) < 5
            assert texts == sorted(set(texts))
            await asyncio.sleep(0.1)
            assert not stuck.busy
        slow.close()


async def test_a_viewer_stuck_past_the_send_timeout_is_cut_off() -> None:
    async with serving(send_timeout=0.3) as (viewers, port):
        slow = await raw_viewer(port, receive_buffer=4096)
        [stuck] = await viewers.count(1)
        for version in range(3):
            fan_out([stuck], f"{version} " + "x" * 3_000_000)
        assert stuck.busy
        # The close frame cannot get through a full buffer either: the connection is dropped.
        async with asyncio.timeout(10):
            while viewers.left < 1:
                await asyncio.sleep(0.05)
        assert not stuck.busy
        fan_out([stuck], "after")  # a gone viewer takes nothing, and raises nothing
        slow.close()


async def test_a_socket_closed_mid_write_stops_only_its_viewer() -> None:
    async with serving() as (viewers, port):
        gone = await raw_viewer(port)
        async with connect(f"ws://127.0.0.1:{port}/") as staying:
            outboxes = await viewers.count(2)
            [leaving] = [
                outbox for outbox in outboxes if outbox.websocket.client.port == gone.getsockname()[1]
            ]
            # A reset, not a clean close: the server learns of it only when it writes.
            gone.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            gone.close()
            for version in range(20):
                fan_out(outboxes, f"{version} " + "y" * 20_000)
                await asyncio.sleep(0)
            for version in range(20):
                assert await asyncio.wait_for(staying.recv(), 5) == f"{version} " + "y" * 20_000
            async with asyncio.timeout(5):
                while leaving in viewers.outboxes:
                    await asyncio.sleep(0.01)
            fan_out([leaving], "after")  # no exception, nothing written


async def test_a_message_larger_than_the_transport_buffer_arrives_whole() -> None:
    huge = "« é »" * 1_500_000  # 10.5 MB encoded: past the transport's 64 KiB and the kernel's 4 MB
    async with (
        serving(send_timeout=10) as (viewers, port),
        connect(f"ws://127.0.0.1:{port}/", max_size=None) as reader,
    ):
        [outbox] = await viewers.count(1)
        fan_out([outbox], huge)
        fan_out([outbox], "then this")
        assert outbox.busy and outbox.pending == "then this"
        assert await asyncio.wait_for(reader.recv(), 10) == huge
        assert await asyncio.wait_for(reader.recv(), 10) == "then this"
        await asyncio.sleep(0.05)
        assert not outbox.busy


async def test_a_close_during_a_fan_out_sends_no_data_after_the_close_frame() -> None:
    async with serving(send_timeout=10) as (viewers, port):
        viewer = await raw_viewer(port, receive_buffer=4096)
        [outbox] = await viewers.count(1)
        fan_out([outbox], "0 " + "z" * 6_000_000)
        fan_out([outbox], "1 pending")
        assert outbox.busy
        closing = asyncio.create_task(outbox.close(SERVICE_RESTART))
        await asyncio.sleep(0)
        fan_out([outbox], "2 after the close")  # arrives while the close waits for the buffer
        frames = read_frames(await read_all(viewer))
        await closing
        opcodes = [opcode for opcode, _ in frames]
        assert opcodes[-1] == 0x8 and struct.unpack("!H", frames[-1][1][:2])[0] == SERVICE_RESTART
        assert [payload[:1] for opcode, payload in frames if opcode == 0x1] == [b"0"]
        viewer.close()


async def test_closing_many_viewers_during_a_fan_out_loses_no_other_message() -> None:
    async with serving() as (viewers, port), contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(connect(f"ws://127.0.0.1:{port}/")) for _ in range(10)]
        outboxes = await viewers.count(10)
        closed = outboxes[::2]
        closes = [asyncio.create_task(outbox.close(SERVICE_RESTART)) for outbox in closed]
        await asyncio.sleep(0)  # the closes have begun, and the fan-out comes in between
        fan_out(outboxes, "during")
        await asyncio.gather(*closes)
        for client, outbox in zip(clients, await_order(outboxes, clients), strict=True):
            if outbox in closed:
                with pytest.raises(ConnectionClosed) as ended:  # closed with 1012, nothing after
                    await asyncio.wait_for(client.recv(), 5)
                assert ended.value.rcvd is not None and ended.value.rcvd.code == SERVICE_RESTART
            else:
                assert await asyncio.wait_for(client.recv(), 5) == "during"


def port_of(outbox: Outbox) -> int:
    assert outbox.websocket.client is not None
    return outbox.websocket.client.port


def await_order(outboxes: list[Outbox], clients: list[Any]) -> list[Outbox]:
    """The outboxes in the order of `clients`, matched by the client's local port."""
    by_port = {outbox.websocket.client.port: outbox for outbox in outboxes if outbox.websocket.client}
    return [by_port[client.local_address[1]] for client in clients]
