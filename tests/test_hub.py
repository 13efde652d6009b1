"""The live hub's fan-out, on sockets that behave like uvicorn's sansio ones.

`FakeSocket.send` completes without suspending while its "write buffer" has room and waits on
an event when it is full, which is exactly the behaviour the hub's fan-out relies on. The real
socket test (a never-reading client on a real server) lives in tests/test_live_ws.py.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from starlette.websockets import WebSocketState

from app.live.hub import SERVICE_RESTART, TRY_AGAIN_LATER, LiveHub, channel_name

SLUG = "diner"
CHANNEL = channel_name(SLUG)


def message(version: int, padding: str = "") -> bytes:
    return json.dumps({"type": "live", "live": {"version": version, "padding": padding}}).encode()


class FakeSocket:
    """Records what the hub sends; `stall()` makes sends wait as on a full write buffer."""

    def __init__(self) -> None:
        self.versions: list[int] = []
        self.close_codes: list[int] = []
        self.writable = asyncio.Event()
        self.writable.set()
        self.application_state = WebSocketState.CONNECTED
        self.broken = False

    def stall(self) -> None:
        self.writable.clear()

    def drain(self) -> None:
        self.writable.set()

    async def send(self, event: dict[str, Any]) -> None:
        if event["type"] == "websocket.close":
            self.close_codes.append(event["code"])
        await self.writable.wait()
        if self.broken:
            raise OSError("connection reset")
        if event["type"] == "websocket.send":
            self.versions.append(json.loads(event["text"])["live"]["version"])
        elif event["type"] == "websocket.close":
            self.application_state = WebSocketState.DISCONNECTED

    async def close(self, code: int = 1000) -> None:
        await self.send({"type": "websocket.close", "code": code})


class Store:
    """The database: the current message per event, and a log of reads."""

    def __init__(self, version: int = 0) -> None:
        self.version = version
        self.reads = 0
        self.gate: asyncio.Event | None = None

    async def load(self, slug: str) -> bytes | None:
        self.reads += 1
        if self.gate is not None:
            await self.gate.wait()
        return message(self.version) if slug == SLUG else None


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def hub(store: Store) -> LiveHub:
    return LiveHub(load_state=store.load, send_timeout=0.2)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_viewer_gets_the_state_on_join_then_every_change_in_order(hub: LiveHub) -> None:
    socket = FakeSocket()
    await hub.join(SLUG, socket)  # type: ignore[arg-type]
    for version in range(1, 6):
        hub.receive(CHANNEL, message(version))
    assert socket.versions == [0, 1, 2, 3, 4, 5]


async def test_older_or_repeated_versions_are_dropped(hub: LiveHub) -> None:
    socket = FakeSocket()
    await hub.join(SLUG, socket)  # type: ignore[arg-type]
    for version in (3, 2, 3, 1, 5, 4):
        hub.receive(CHANNEL, message(version))
    assert socket.versions == [0, 3, 5]


async def test_fan_out_to_idle_viewers_creates_no_task(hub: LiveHub) -> None:
    sockets = [FakeSocket() for _ in range(200)]
    for socket in sockets:
        await hub.join(SLUG, socket)  # type: ignore[arg-type]
    tasks_before = len(asyncio.all_tasks())
    hub.receive(CHANNEL, message(1))
    assert len(asyncio.all_tasks()) == tasks_before
    assert all(socket.versions == [0, 1] for socket in sockets)


async def test_a_stalled_viewer_holds_one_message_and_delays_nobody(hub: LiveHub) -> None:
    fast, stalled = FakeSocket(), FakeSocket()
    await hub.join(SLUG, fast)  # type: ignore[arg-type]
    viewer = await hub.join(SLUG, stalled)  # type: ignore[arg-type]
    assert viewer is not None
    stalled.stall()
    for version in range(1, 101):
        hub.receive(CHANNEL, message(version, padding="x" * 1000))
    # The fast viewer got every change at once, without yielding to the loop.
    assert fast.versions == list(range(101))
    assert viewer.busy
    assert viewer.pending is not None
    assert json.loads(viewer.pending)["live"]["version"] == 100
    stalled.drain()
    await settle()
    # The send that was in progress completes, then only the newest state follows.
    assert stalled.versions == [0, 1, 100]
    assert not viewer.busy


async def test_a_viewer_stuck_past_the_send_timeout_is_closed_with_1013(hub: LiveHub) -> None:
    stuck = FakeSocket()
    viewer = await hub.join(SLUG, stuck)  # type: ignore[arg-type]
    assert viewer is not None
    stuck.stall()
    hub.receive(CHANNEL, message(1))
    await asyncio.sleep(0.3)
    assert stuck.close_codes == [TRY_AGAIN_LATER]
    hub.receive(CHANNEL, message(2))
    assert not viewer.busy  # dropped viewers take no more messages
    await hub.leave(viewer)


async def test_a_broken_socket_does_not_stop_the_fan_out(hub: LiveHub) -> None:
    broken, healthy = FakeSocket(), FakeSocket()
    await hub.join(SLUG, broken)  # type: ignore[arg-type]
    await hub.join(SLUG, healthy)  # type: ignore[arg-type]
    broken.broken = True
    hub.receive(CHANNEL, message(1))
    hub.receive(CHANNEL, message(2))
    assert healthy.versions == [0, 1, 2]
    assert broken.versions == [0]


async def test_leaving_while_busy_cancels_the_send(hub: LiveHub) -> None:
    stalled = FakeSocket()
    viewer = await hub.join(SLUG, stalled)  # type: ignore[arg-type]
    assert viewer is not None
    stalled.stall()
    hub.receive(CHANNEL, message(1))
    assert viewer.busy
    await hub.leave(viewer)
    await settle()
    stalled.drain()
    await settle()
    assert stalled.versions == [0]
    assert hub.viewer_count == 0


async def test_viewers_joining_during_the_first_read_get_the_state_once(hub: LiveHub, store: Store) -> None:
    store.gate = asyncio.Event()
    first, second = FakeSocket(), FakeSocket()
    joins = [asyncio.create_task(hub.join(SLUG, socket)) for socket in (first, second)]  # type: ignore[arg-type]
    await settle()
    store.version = 1
    hub.receive(CHANNEL, message(1))  # a change while nobody holds the state yet
    store.gate.set()
    await asyncio.gather(*joins)
    assert first.versions == [1]
    assert second.versions == [1]


async def test_an_unknown_event_leaves_no_channel_behind(hub: LiveHub) -> None:
    subscribed: list[str] = []

    async def subscribe(channel: str) -> None:
        subscribed.append(channel)

    async def unsubscribe(channel: str) -> None:
        subscribed.remove(channel)

    hub.attach(subscribe=subscribe, unsubscribe=unsubscribe)
    assert await hub.join("nope", FakeSocket()) is None  # type: ignore[arg-type]
    assert subscribed == []
    assert hub.channel("nope") is None


async def test_resync_brings_viewers_to_the_stored_state(hub: LiveHub, store: Store) -> None:
    socket = FakeSocket()
    await hub.join(SLUG, socket)  # type: ignore[arg-type]
    store.version = 7  # changes whose messages were lost
    await hub.resync()
    await hub.resync()
    assert socket.versions == [0, 7]


async def test_close_sends_1012_to_every_viewer(hub: LiveHub) -> None:
    sockets = [FakeSocket() for _ in range(3)]
    for socket in sockets:
        await hub.join(SLUG, socket)  # type: ignore[arg-type]
    sockets[0].stall()
    hub.receive(CHANNEL, message(1))
    sockets[0].drain()
    await hub.close()
    assert [socket.close_codes for socket in sockets] == [[SERVICE_RESTART]] * 3
    assert hub.viewer_count == 0
