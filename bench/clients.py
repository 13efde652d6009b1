"""Load clients: thousands of WebSocket viewers per process, cheap enough to share two cores.

A full WebSocket client library costs more per message than the server under test, so each
viewer is a bare asyncio protocol: it sends the upgrade request, then splits the byte stream
into frames and, for every data frame, notes the version it carries and `time.time()` at
arrival (the same clock as the process that presses, on the same machine). It answers the
server's pings, as a browser does, so that no connection is dropped as dead during a run.

Several worker processes each hold a share of the viewers; the bench drives them over pipes.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import os
import random
import re
import resource
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any, cast

SERVER_TIME = re.compile(rb'"server_time":\s*"([^"]+)"')
VERSION_PATTERNS = {
    "json": re.compile(rb'"version":\s*(\d+)'),
    "html": re.compile(rb'data-version="(\d+)"'),
}


def raise_fd_limit() -> int:
    """Soft limit up to the hard one (20,000 here): each viewer is one file descriptor."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def _masked_frame(opcode: int, payload: bytes) -> bytes:
    """A client frame (clients must mask): only small control frames are ever sent."""
    mask = os.urandom(4)
    body = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + body


class Viewer(asyncio.Protocol):
    """One viewer's connection: the upgrade, then frames, arrival times by version."""

    __slots__ = (
        "_buffer",
        "_open",
        "_pattern",
        "_published",
        "_request",
        "_transport",
        "arrivals",
        "closed",
        "on_lost",
        "opened",
        "size",
    )

    def __init__(
        self,
        request: bytes,
        pattern: re.Pattern[bytes],
        opened: asyncio.Future[None],
        published: dict[int, float],
    ) -> None:
        self._request = request
        self._pattern = pattern
        self._published = published
        self._buffer = bytearray()
        self._open = False
        self._transport: asyncio.Transport | None = None
        self.opened = opened
        self.arrivals: dict[int, float] = {}
        self.size = 0
        self.closed = False
        self.on_lost: Callable[[], None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self._transport.write(self._request)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed during the handshake"))
        if self.on_lost is not None:
            self.on_lost()

    def data_received(self, data: bytes) -> None:
        now = time.time()
        buffer = self._buffer
        buffer += data
        if not self._open:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buffer.startswith(b"HTTP/1.1 101"):
                if not self.opened.done():
                    status = bytes(buffer[: buffer.find(b"\r\n")]).decode(errors="replace")
                    self.opened.set_exception(ConnectionError(status))
                assert self._transport is not None
                self._transport.close()
                return
            del buffer[: end + 4]
            self._open = True
        while len(buffer) >= 2:
            length = buffer[1] & 0x7F
            start = 2
            if length == 126:
                if len(buffer) < 4:
                    return
                length, start = int.from_bytes(buffer[2:4], "big"), 4
            elif length == 127:
                if len(buffer) < 10:
                    return
                length, start = int.from_bytes(buffer[2:10], "big"), 10
            if len(buffer) < start + length:
                return
            opcode = buffer[0] & 0x0F
            payload = bytes(buffer[start : start + length])
            del buffer[: start + length]
            if opcode in (0x1, 0x2):
                self._message(payload, now)
            elif opcode == 0x9 and self._transport is not None:
                self._transport.write(_masked_frame(0xA, payload))
            elif opcode == 0x8 and self._transport is not None:
                self._transport.write(_masked_frame(0x8, payload[:2]))
                self._transport.close()

    def _message(self, payload: bytes, now: float) -> None:
        match = self._pattern.search(payload)
        if match is None:
            return  # a heartbeat or a fragment without a version
        version = int(match.group(1))
        self.arrivals.setdefault(version, now)
        if version not in self._published:
            # Régie's live state says when the server built it, right before publishing: the
            # press → publish part (HTTP, auth, commit) can then be told from the fan-out.
            stamp = SERVER_TIME.search(payload)
            if stamp is not None:
                text = stamp.group(1).decode().replace("Z", "+00:00")
                self._published[version] = datetime.fromisoformat(text).timestamp()
        self.size = len(payload)
        if not self.opened.done():
            self.opened.set_result(None)

    def close(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(_masked_frame(0x8, (1000).to_bytes(2, "big")))
            self._transport.close()


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    path: str
    kind: str  # "json" or "html": how to find the version in a message
    origin: str | None = None

    def request(self) -> bytes:
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {self.path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
        if self.origin:
            lines.append(f"Origin: {self.origin}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode()


class Worker:
    """The viewers of one load process, and the commands the bench sends it."""

    def __init__(self) -> None:
        self.viewers: list[Viewer] = []
        self.published: dict[int, float] = {}
        self.target: Target | None = None
        # Reconnect storm: each viewer that loses its connection dials again, as a browser does.
        self.storm_version: int | None = None
        self.back: dict[int, float] = {}
        self.server_errors = 0
        self.attempts = 0
        self._reconnects: set[asyncio.Task[None]] = set()

    async def connect(self, target: Target, count: int, concurrency: int) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        pattern = VERSION_PATTERNS[target.kind]
        gate = asyncio.Semaphore(concurrency)
        failures: list[str] = []

        async def one() -> None:
            async with gate:
                opened: asyncio.Future[None] = loop.create_future()
                try:
                    _, viewer = await loop.create_connection(
                        lambda: Viewer(target.request(), pattern, opened, self.published),
                        target.host,
                        target.port,
                    )
                    async with asyncio.timeout(30):
                        await opened
                except (OSError, TimeoutError) as error:
                    failures.append(str(error) or type(error).__name__)
                    return
                self.viewers.append(viewer)

        self.target = target
        started = time.time()
        await asyncio.gather(*(one() for _ in range(count)))
        elapsed = time.time() - started
        size = max((viewer.size for viewer in self.viewers), default=0)
        return {"connected": len(self.viewers), "failed": failures[:3], "seconds": elapsed, "size": size}

    async def wait(self, version: int, timeout: float) -> dict[str, Any]:
        """Arrival times of `version`, once every live viewer has it (or at the timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            missing = sum(
                1 for viewer in self.viewers if version not in viewer.arrivals and not viewer.closed
            )
            if not missing or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.01)
        times = array(
            "d", (viewer.arrivals[version] for viewer in self.viewers if version in viewer.arrivals)
        )
        lost = sum(1 for viewer in self.viewers if version not in viewer.arrivals)
        return {"times": times.tobytes(), "lost": lost, "published": self.published.get(version)}

    async def storm_arm(self, version: int) -> dict[str, Any]:
        """From now on, every viewer that is disconnected reconnects until it holds `version`."""
        self.storm_version, self.back, self.server_errors, self.attempts = version, {}, 0, 0
        for index, viewer in enumerate(self.viewers):
            viewer.on_lost = self._on_lost(index)
        return {"armed": len(self.viewers)}

    def _on_lost(self, index: int) -> Callable[[], None]:
        def lost() -> None:
            if self.storm_version is not None:
                task = asyncio.get_running_loop().create_task(self._reconnect(index))
                self._reconnects.add(task)
                task.add_done_callback(self._reconnects.discard)

        return lost

    async def _reconnect(self, index: int) -> None:
        """Dial again with jittered exponential backoff (as htmx's ws extension does), until the
        server answers the upgrade and sends the state the storm was armed with."""
        assert self.target is not None and self.storm_version is not None
        loop = asyncio.get_running_loop()
        target, version = self.target, self.storm_version
        pattern = VERSION_PATTERNS[target.kind]
        delay = 0.25
        while self.storm_version is not None:
            await asyncio.sleep(random.uniform(0, delay))
            delay = min(delay * 2, 2.0)
            self.attempts += 1
            opened: asyncio.Future[None] = loop.create_future()
            try:
                _, viewer = await loop.create_connection(
                    lambda opened=opened: Viewer(target.request(), pattern, opened, self.published),  # type: ignore[misc]
                    target.host,
                    target.port,
                )
                # A browser waits for its upgrade as long as TCP does: a client that gave up
                # sooner would leave the server working on handshakes nobody waits for.
                async with asyncio.timeout(120):
                    await opened
            except ConnectionError as error:
                if str(error).startswith("HTTP/1.1 5"):
                    self.server_errors += 1
                continue
            except (OSError, TimeoutError):
                continue
            async with asyncio.timeout(30):
                while max(viewer.arrivals, default=-1) < version and not viewer.closed:
                    await asyncio.sleep(0.01)
            if viewer.closed:
                continue
            self.viewers[index] = viewer
            self.back[index] = max(viewer.arrivals.values())
            viewer.on_lost = self._on_lost(index)
            return

    async def storm_wait(self, timeout: float) -> dict[str, Any]:
        """Once every viewer is back (or at the timeout): when each came back, and what failed."""
        deadline = time.monotonic() + timeout
        while len(self.back) < len(self.viewers) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        self.storm_version = None
        for task in list(self._reconnects):
            task.cancel()
        times = array("d", self.back.values())
        return {
            "times": times.tobytes(),
            "missing": len(self.viewers) - len(self.back),
            "server_errors": self.server_errors,
            "attempts": self.attempts,
        }

    async def close(self) -> dict[str, Any]:
        self.storm_version = None
        for viewer in self.viewers:
            viewer.close()
        await asyncio.sleep(0.2)
        closed = len(self.viewers)
        self.viewers = []
        self.published.clear()
        gc.collect()
        return {"closed": closed}


def worker_main(pipe: Connection) -> None:
    """Entry point of a load process: serve the bench's commands until told to quit."""
    import uvloop

    raise_fd_limit()
    # A collection pause in a client would show up as server latency: these processes are
    # short-lived and hold little garbage, so the collector stays off.
    gc.disable()
    uvloop.run(_serve(pipe))


async def _serve(pipe: Connection) -> None:
    loop = asyncio.get_running_loop()
    worker = Worker()
    inbox: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
    loop.add_reader(pipe.fileno(), lambda: inbox.put_nowait(pipe.recv()))
    commands: dict[str, Callable[..., Any]] = {
        "connect": worker.connect,
        "wait": worker.wait,
        "close": worker.close,
        "storm_arm": worker.storm_arm,
        "storm_wait": worker.storm_wait,
    }
    while True:
        name, arguments = await inbox.get()
        if name == "quit":
            await worker.close()
            pipe.send({})
            return
        pipe.send(await commands[name](**arguments))
