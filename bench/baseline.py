"""The baseline: a bare `websockets` server that broadcasts with `websockets.broadcast()`.

The practical limit for fan-out in Python: no framework, no ASGI, one frame written per
connection in a loop. It sends every new client a message at once (as Régie sends the state on
connect), then, for each line `VERSION SIZE` read on its standard input, broadcasts a JSON
message of SIZE bytes that carries VERSION — the same shape and size as Régie's live message.
Compression is off, as in Régie (see perf notes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

import uvloop
from websockets.asyncio.server import ServerConnection, broadcast, serve

from bench.clients import raise_fd_limit


def message(version: int, size: int) -> str:
    head = json.dumps({"type": "live", "live": {"version": version, "padding": ""}})
    return head.replace('"padding": ""', '"padding": "' + "x" * max(0, size - len(head)) + '"')


async def main(port: int) -> None:
    clients: set[ServerConnection] = set()
    latest = message(0, 1500)

    async def handler(connection: ServerConnection) -> None:
        clients.add(connection)
        try:
            await connection.send(latest)
            await connection.wait_closed()
        finally:
            clients.discard(connection)

    loop = asyncio.get_running_loop()
    commands: asyncio.Queue[str] = asyncio.Queue()
    loop.add_reader(sys.stdin.fileno(), lambda: commands.put_nowait(sys.stdin.readline()))
    async with serve(handler, "127.0.0.1", port, compression=None, backlog=4096):
        while line := await commands.get():
            version, size = (int(part) for part in line.split())
            latest = message(version, size)
            broadcast(clients, latest)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    raise_fd_limit()
    uvloop.run(main(parser.parse_args().port))
