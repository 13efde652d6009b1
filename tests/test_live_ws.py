"""The live WebSocket over real sockets: what a viewer receives, in what order, and when."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import websockets
from websockets.asyncio.client import ClientConnection, connect

from app.config import Settings
from tests.conftest import DINER, PASSWORD, Api, free_port, regie_env, regie_server, running_api


async def next_state(ws: ClientConnection, timeout: float = 5) -> dict[str, Any]:
    message = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    assert message["type"] == "live"
    state: dict[str, Any] = message["live"]
    return state


async def test_a_viewer_gets_the_state_on_connect_then_every_change_in_order(api: Api) -> None:
    async with connect(api.ws_url()) as ws:
        first = await next_state(ws)
        assert (first["event"], first["version"], first["status"]) == (DINER, 0, "scheduled")
        await api.control("start", 0)
        await api.control("next", 1)
        await api.control("reveal", 2, "invite-mystere-1")
        states = [await next_state(ws) for _ in range(3)]
    assert [s["version"] for s in states] == [1, 2, 3]
    assert states[0]["item"]["id"] == "accueil"
    assert states[2]["item"] == states[1]["item"]


async def test_a_late_viewer_starts_from_the_current_state(api: Api) -> None:
    await api.control("start", 0)
    await api.control("next", 1)
    async with connect(api.ws_url()) as ws:
        assert (await next_state(ws))["version"] == 2


async def test_what_a_viewer_sends_is_ignored(api: Api) -> None:
    async with connect(api.ws_url()) as ws:
        await next_state(ws)
        await ws.send("hello")
        await ws.send(b"\x00\x01")
        await api.control("start", 0)
        assert (await next_state(ws))["version"] == 1


async def test_an_unknown_event_closes_with_4404(api: Api) -> None:
    async with connect(api.ws_url("nope")) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4404
    assert closed.value.rcvd.reason == "There is no event « nope »."


async def test_shutdown_closes_viewers_with_1012_so_they_reconnect(seeded_sqlite_url: str) -> None:
    async with running_api(Settings(database_url=seeded_sqlite_url)) as api:
        ws = await connect(api.ws_url())
        await next_state(ws)
        api.server.should_exit = True
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012


def stuck_viewer(port: int) -> socket.socket:
    """A WebSocket viewer that completes the handshake and then never reads a byte."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /api/v1/events/{DINER}/live/ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    return sock


async def test_a_viewer_that_never_reads_delays_nobody_and_costs_bounded_memory(
    seeded_sqlite_url: str, tmp_path: Path
) -> None:
    port = free_port()
    env = regie_env(REGIE_DATABASE_URL=seeded_sqlite_url)
    url = f"http://127.0.0.1:{port}"
    with regie_server(
        "api", "--port", str(port), env=env, health=f"{url}/healthz", log=tmp_path / "api.log"
    ) as proc:
        server = psutil.Process(proc.pid)
        stuck = stuck_viewer(port)
        viewers = [await connect(f"ws://127.0.0.1:{port}/api/v1/events/{DINER}/live/ws") for _ in range(200)]
        received: list[list[int]] = [[] for _ in viewers]

        async def read(index: int, ws: ClientConnection) -> None:
            while True:
                state = await next_state(ws, timeout=30)
                received[index].append(state["version"])
                if state["version"] == 100:
                    return

        readers = [asyncio.create_task(read(i, ws)) for i, ws in enumerate(viewers)]
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            token = (
                await client.post("/api/v1/auth/token", data={"username": "moderator", "password": PASSWORD})
            ).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            await asyncio.sleep(0.5)
            rss_before = server.memory_info().rss
            actions = ["start"] + ["next", "previous"] * 49 + ["next"]
            for version, action in enumerate(actions):
                response = await client.post(
                    f"/api/v1/events/{DINER}/control",
                    json={"action": action, "expected_version": version},
                    headers=headers,
                )
                assert response.status_code == 200, response.text
            await asyncio.wait_for(asyncio.gather(*readers), 20)
            rss_after = server.memory_info().rss
        for ws in viewers:
            await ws.close()
        stuck.close()

    for versions in received:
        assert versions == sorted(set(versions)), "a viewer saw a version twice or out of order"
        assert versions[-1] == 100
    # Every reading viewer kept up with every change.
    assert sum(len(v) for v in received) >= 200 * 95
    # 100 changes of ~2 KB held for a viewer that reads nothing would be ~200 KB per such viewer
    # if queued; the one-message mailbox keeps the server's growth small whatever the count.
    assert rss_after - rss_before < 16 * 1024 * 1024
