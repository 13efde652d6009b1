"""JSON API read throughput: keep-alive GETs from bare asyncio connections, in a few processes.

Like the WebSocket viewers, the client is a bare protocol so that the load generator costs far
less than the server it measures. It counts complete 200 responses over a fixed duration.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from dataclasses import dataclass
from typing import cast


class _Getter(asyncio.Protocol):
    """Sends the same GET again as soon as the previous answer is complete."""

    def __init__(self, request: bytes, stop_at: float, done: asyncio.Future[None]) -> None:
        self._request = request
        self._stop_at = stop_at
        self._done = done
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self.ok = 0
        self.errors = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self._transport.write(self._request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._done.done():
            self._done.set_result(None)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buffer[:end]).lower()
            marker = head.find(b"content-length:")
            length = int(head[marker + 15 :].split(b"\r\n", 1)[0]) if marker >= 0 else 0
            if len(buffer) < end + 4 + length:
                return
            del buffer[: end + 4 + length]
            if head.startswith(b"http/1.1 200"):
                self.ok += 1
            else:
                self.errors += 1
            assert self._transport is not None
            if time.time() >= self._stop_at:
                self._transport.close()
                return
            self._transport.write(self._request)


async def _load(port: int, path: str, connections: int, seconds: float) -> tuple[int, int]:
    loop = asyncio.get_running_loop()
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    stop_at = time.time() + seconds
    getters: list[_Getter] = []
    waits: list[asyncio.Future[None]] = []
    for _ in range(connections):
        done: asyncio.Future[None] = loop.create_future()
        _, getter = await loop.create_connection(
            lambda done=done: _Getter(request, stop_at, done),  # type: ignore[misc]
            "127.0.0.1",
            port,
        )
        getters.append(getter)
        waits.append(done)
    await asyncio.wait_for(asyncio.gather(*waits), seconds + 30)
    return sum(getter.ok for getter in getters), sum(getter.errors for getter in getters)


def _process(port: int, path: str, connections: int, seconds: float, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    import uvloop

    results.put(uvloop.run(_load(port, path, connections, seconds)))


@dataclass(frozen=True)
class Throughput:
    path: str
    per_second: float
    errors: int


def measure(port: int, path: str, *, seconds: float, processes: int = 2, connections: int = 16) -> Throughput:
    """Requests per second that one server answers at `path`, under `processes` × `connections`."""
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue = context.Queue()  # type: ignore[type-arg]
    workers = [
        context.Process(target=_process, args=(port, path, connections, seconds, results))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    totals = [results.get(timeout=seconds + 60) for _ in workers]
    for worker in workers:
        worker.join()
    ok = sum(total[0] for total in totals)
    return Throughput(path, ok / seconds, sum(total[1] for total in totals))
