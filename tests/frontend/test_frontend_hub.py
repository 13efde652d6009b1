"""The per-event hub against the real backend on a real socket: one upstream subscription, one
render per change, the same string to every viewer, bounded and independent viewers, and not one
read of the programme to follow a show."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any, cast

import programme_samples as samples
import pytest
from backend import Backend
from html_text import attributes, visible_text
from starlette.websockets import WebSocket, WebSocketState

from app.domain import show
from app.services.changes import command_shows
from frontend.client import Backoff, LiveFeed
from frontend.live import HEARTBEAT, SERVICE_RESTART, TRY_AGAIN_LATER, EventHub, HubRegistry, Viewer
from frontend.models import LiveState
from frontend.render import Renderer


class Browser:
    """A viewer's socket as the hub sees it, behaving like uvicorn's sansio one: a send completes
    without suspending while `gate` is set, and waits (a full write buffer) while it is cleared."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.times: list[float] = []  # the loop's time of each message
        self.closed_with: int | None = None
        self.gate = asyncio.Event()
        self.gate.set()
        self.application_state = WebSocketState.CONNECTED

    async def send(self, message: dict[str, Any]) -> None:
        await self.gate.wait()
        if message["type"] == "websocket.send":
            self.messages.append(message["text"])
            self.times.append(asyncio.get_running_loop().time())
        elif message["type"] == "websocket.close":
            self.closed_with = message.get("code", 1000)
            self.application_state = WebSocketState.DISCONNECTED

    async def close(self, code: int = 1000) -> None:
        # Not through the gate: a stuck viewer is closed by the server all the same.
        self.closed_with = code
        self.application_state = WebSocketState.DISCONNECTED

    @property
    def states(self) -> list[str]:
        return [m for m in self.messages if m != HEARTBEAT]

    @property
    def version(self) -> int:
        if not self.states or not attributes(self.states[-1], "live-status"):
            return -1
        [attrs] = attributes(self.states[-1], "live-status")
        return int(attrs["data-version"] or -1)


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def feed_url(api_url: str) -> str:
    return api_url.replace("http://", "ws://") + f"/api/v1/events/{samples.SLUG}/live/ws?include=programme"


@contextlib.asynccontextmanager
async def running_hub(
    api_url: str, *, now: Callable[[], datetime] | None = None, **options: float
) -> AsyncIterator[EventHub]:
    feed = LiveFeed(feed_url(api_url), backoff=Backoff(first=0.05, cap=0.2))
    hub = EventHub(
        samples.SLUG, feed=feed, renderer=Renderer(), now=now or (lambda: datetime.now(UTC)), **options
    )
    hub.start()
    try:
        yield hub
    finally:
        await hub.stop()


def viewer_of(browser: Browser, *, send_timeout: float = 5.0) -> Viewer:
    return Viewer(cast(WebSocket, browser), "public", label=samples.SLUG, send_timeout=send_timeout)


@contextlib.asynccontextmanager
async def watching(
    hub: EventHub, *browsers: Browser, send_timeout: float = 5.0
) -> AsyncIterator[list[Viewer]]:
    viewers = [viewer_of(browser, send_timeout=send_timeout) for browser in browsers]
    for viewer in viewers:
        hub.attach(viewer)
    try:
        yield viewers
    finally:
        for viewer in viewers:
            hub.detach(viewer)


async def press_elsewhere(backend: Backend, action: show.Action, version: int) -> LiveState:
    """A press committed by another process: told to nobody but the database."""
    async with command_shows(backend.settings) as shows:
        state = await shows.press(samples.SLUG, show.Command(action), expected_version=version, actor="test")
    return LiveState.model_validate(state.model_dump(mode="json"))


async def test_one_subscription_one_render_and_the_same_string_for_every_viewer(backend: Backend) -> None:
    browsers = [Browser() for _ in range(3)]
    async with running_hub(backend.url) as hub, watching(hub, *browsers):
        await until(lambda: all(b.states for b in browsers))
        assert backend.faults is not None and backend.faults.live_sockets == 1
        renders = hub.renders

        await backend.press("start")
        await until(lambda: all(b.version == 1 for b in browsers))
        first, *others = (b.states[-1] for b in browsers)
        assert all(message is first for message in others)
        assert hub.renders == renders + 1
        assert "En ce moment Accueil Accueil Charles HEIDSIECK" in visible_text(first, "live-now")

        await backend.press("next")
        await backend.press("next")
        await until(lambda: all(b.version == 3 for b in browsers))
        assert "Un invité mystère… mais c'est une surprise !" in visible_text(
            browsers[0].states[-1], "live-now"
        )
        assert not any(samples.CANARY_NAME in m for b in browsers for m in b.messages)

        await backend.press("reveal", "mystere")
        await until(lambda: all(b.version == 4 for b in browsers))
        assert samples.CANARY_NAME in visible_text(browsers[0].states[-1], "live-guests")
    # Followed from the push alone: the programme was never read.
    assert backend.reads_of_programme() == 0


async def test_ten_presses_and_a_reveal_go_by_without_one_programme_read(backend: Backend) -> None:
    """What the issue asks: count every request the frontend makes while a show moves."""
    browser = Browser()
    async with running_hub(backend.url, projection_refresh_seconds=0.05) as hub, watching(hub, browser):
        await until(lambda: browser.version == 0)
        assert backend.faults is not None
        before = +backend.faults.requests
        presses = [
            "start",
            "next",
            "next",
            "previous",
            "next",
            "next",
            "previous",
            "previous",
            "next",
            "next",
        ]
        for action in presses:
            await backend.press(action)
        await backend.press("reveal", "mystere")
        await until(lambda: browser.version == 11, timeout=10)
        await asyncio.sleep(0.2)  # several projection refreshes: they read nothing either
        asked = backend.faults.requests - before
    assert dict(asked) == {}
    assert samples.CANARY_NAME in visible_text(browser.states[-1], "live-guests")


async def test_a_viewer_who_connects_gets_the_current_state_at_once(backend: Backend) -> None:
    async with running_hub(backend.url) as hub:
        await backend.press("start")
        await backend.press("next")
        await until(lambda: hub.rendering.version == 2)
        late = Browser()
        async with watching(hub, late):
            await until(lambda: bool(late.states))
            assert late.states[0] is hub.rendering.messages["public"]
            assert "Les résultats de l'étude" in visible_text(late.states[0], "live-now")


async def test_older_versions_are_ignored(backend: Backend) -> None:
    async with running_hub(backend.url) as hub:
        stale = LiveState.model_validate(await backend.live())
        await backend.press("start")
        await until(lambda: hub.rendering.version == 1)
        seq = hub.rendering.seq
        await hub.live_received(stale)
        await asyncio.sleep(0.1)
        assert (hub.rendering.seq, hub.rendering.version) == (seq, 1)


async def test_a_slow_viewer_gets_the_latest_state_and_never_stalls_the_others(backend: Backend) -> None:
    fast, slow = Browser(), Browser()
    async with running_hub(backend.url) as hub:
        await until(lambda: hub.rendering.version == 0)
        slow.gate.clear()
        async with watching(hub, fast, slow):
            await backend.press("start")
            for version in range(1, 4):
                await until(lambda v=version: fast.version == v)  # type: ignore[misc]
                await backend.press("next")
            await until(lambda: fast.version == 4)
            assert slow.messages == []
            slow.gate.set()
            await until(lambda: bool(slow.states) and slow.version == 4)
            # The message it was stuck on, then straight to the latest: nothing queued in between.
            assert len(slow.states) <= 2


async def test_a_viewer_that_stops_reading_is_dropped(backend: Backend) -> None:
    stuck = Browser()
    stuck.gate.clear()
    async with running_hub(backend.url) as hub, watching(hub, stuck, send_timeout=0.2):
        await until(lambda: stuck.closed_with is not None)
        assert stuck.closed_with == TRY_AGAIN_LATER
        assert stuck.messages == []


async def test_sends_complete_on_the_spot_with_no_task_per_viewer(backend: Backend) -> None:
    browsers = [Browser() for _ in range(200)]
    async with running_hub(backend.url) as hub:
        await until(lambda: hub.rendering.version == 0)
        tasks = len(asyncio.all_tasks())
        async with watching(hub, *browsers) as viewers:
            # Attached and sent the current state synchronously: no task, no viewer left busy.
            assert all(len(b.states) == 1 for b in browsers)
            await backend.press("start")
            await until(lambda: all(b.version == 1 for b in browsers))
            assert not any(viewer.busy for viewer in viewers)
            assert len(asyncio.all_tasks()) == tasks


async def test_each_change_goes_out_once_per_viewer(backend: Backend) -> None:
    browsers = [Browser() for _ in range(3)]
    async with running_hub(backend.url, projection_refresh_seconds=0.05) as hub, watching(hub, *browsers):
        await until(lambda: all(b.version == 0 for b in browsers))
        for version, action in enumerate(("start", "next", "next", "previous"), start=1):
            await backend.press(action)
            await until(lambda v=version: all(b.version == v for b in browsers))  # type: ignore[misc]
        await asyncio.sleep(0.2)  # projections refreshed several times: nothing moved, nothing sent
        for browser in browsers:
            versions = [attributes(m, "live-status")[0]["data-version"] for m in browser.states]
            assert versions == ["0", "1", "2", "3", "4"]


async def test_messages_are_ascii_html_with_the_same_text(backend: Backend) -> None:
    browser = Browser()
    async with running_hub(backend.url) as hub, watching(hub, browser):
        await backend.press("start")
        await backend.press("next")
        await backend.press("next")
        await until(lambda: browser.version == 3)
        for channel, message in hub.rendering.messages.items():
            assert message.isascii(), channel
            # Rendered into a text frame as is: numeric references only, never raw text elements.
            assert "<script" not in message and "<style" not in message
        assert browser.states[-1].isascii()
        assert "&#233;" in browser.states[-1]  # é
        assert "Un invité mystère… mais c'est une surprise !" in visible_text(browser.states[-1], "live-now")


async def test_heartbeats_keep_a_quiet_socket_alive(backend: Backend) -> None:
    browser = Browser()
    async with running_hub(backend.url, heartbeat_seconds=0.05) as hub, watching(hub, browser):
        await until(lambda: HEARTBEAT in browser.messages)


async def test_no_heartbeat_while_changes_flow(backend: Backend) -> None:
    """A beat goes only to a channel that was sent nothing for a whole period: measured on the
    loop's clock at each message, whatever time the presses take on a loaded machine."""
    browser = Browser()
    period = 0.5
    async with running_hub(backend.url, heartbeat_seconds=period) as hub, watching(hub, browser):
        await until(lambda: browser.version == 0)
        await backend.press("start")
        for index in range(5):
            await asyncio.sleep(0.1)
            await backend.press(("next", "previous")[index % 2])
        await until(lambda: browser.version == 6)
        count = len(browser.messages)
        await until(lambda: HEARTBEAT in browser.messages[count:], timeout=6)  # then quiet: beats
    beats = [index for index, message in enumerate(browser.messages) if message == HEARTBEAT]
    assert beats
    for index in beats:
        # A little early is allowed by design (a twentieth of the period), never in a change's way.
        assert browser.times[index] - browser.times[index - 1] >= period * 0.95 - 0.01


async def test_a_heartbeat_never_replaces_a_state_waiting_for_a_busy_viewer(backend: Backend) -> None:
    busy = Browser()
    async with running_hub(backend.url, heartbeat_seconds=0.05) as hub:
        await until(lambda: hub.rendering.version == 0)
        busy.gate.clear()
        async with watching(hub, busy) as [viewer]:
            await backend.press("start")
            await until(lambda: viewer.pending is not None)
            await asyncio.sleep(0.3)  # several heartbeat periods
            assert viewer.pending == hub.rendering.messages["public"]
            busy.gate.set()
            await until(lambda: busy.version == 1)
            assert busy.messages[:2] == busy.states[:2]  # the state it was stuck on, then the newest


async def test_viewers_are_closed_with_1012_when_the_hub_stops(backend: Backend) -> None:
    browsers = [Browser(), Browser()]
    browsers[1].gate.clear()  # even one that stopped reading
    async with running_hub(backend.url) as hub:
        await until(lambda: hub.rendering.version == 0)
        for browser in browsers:
            hub.attach(viewer_of(browser))
        await until(lambda: bool(browsers[0].states))
        await hub.stop()
        assert [b.closed_with for b in browsers] == [SERVICE_RESTART, SERVICE_RESTART]
        assert hub.viewer_count == 0


async def test_the_hub_catches_up_from_the_push_after_the_upstream_comes_back(backend: Backend) -> None:
    browser = Browser()
    async with running_hub(backend.url) as hub, watching(hub, browser):
        await until(lambda: browser.version == 0)
        await backend.stop()
        await until(lambda: "La liaison avec la régie" in visible_text(browser.states[-1], "live-link"))
        assert browser.version == 0  # the last state stays on screen, with the warning

        await press_elsewhere(backend, show.Action.START, 0)  # the show moves while the link is down
        await backend.start()
        await until(lambda: browser.version == 1)
        assert visible_text(browser.states[-1], "live-link") == ""
        assert "Accueil" in visible_text(browser.states[-1], "live-now")
    assert backend.reads_of_programme() == 0


async def test_a_dropped_upstream_is_rejoined_and_followed(backend: Backend) -> None:
    browser = Browser()
    async with running_hub(backend.url) as hub, watching(hub, browser):
        await until(lambda: browser.version == 0)
        assert backend.faults is not None
        backend.faults.drop_live()
        await until(lambda: backend.faults is not None and backend.faults.count("WS", r".*/live/ws") >= 2)
        await backend.press("start")
        await until(lambda: browser.version == 1)


async def test_advance_renders_a_control_answer_once_for_everyone(backend: Backend) -> None:
    browser = Browser()
    async with running_hub(backend.url) as hub, watching(hub, browser):
        await until(lambda: hub.rendering.version == 0)
        answer = LiveState.model_validate(await backend.press("start"))
        async with asyncio.timeout(3):
            snapshot = await hub.advance(answer)
        assert snapshot.version == 1
        await until(lambda: browser.version == 1)
        assert browser.states[-1] is snapshot.messages["public"]
    assert backend.reads_of_programme() == 0


async def test_advance_does_not_wait_for_a_push_that_does_not_come(backend: Backend) -> None:
    """The upstream is down when the answer arrives: the hub renders it with the programme it
    holds, after a bounded wait, and still reads nothing."""
    browser = Browser()
    async with running_hub(backend.url) as hub, watching(hub, browser):
        await until(lambda: hub.rendering.version == 0)
        await backend.stop()
        answer = await press_elsewhere(backend, show.Action.START, 0)
        async with asyncio.timeout(1):
            snapshot = await hub.advance(answer, patience=0.2)
        assert snapshot.version == 1 and browser.version == 1
        assert "Accueil" in visible_text(browser.states[-1], "live-now")
    assert backend.reads_of_programme() == 0


async def test_the_registry_keeps_one_hub_per_event_and_stops_it_after_the_last_viewer(
    backend: Backend,
) -> None:
    from frontend.live import hub_factory

    assert backend.faults is not None
    registry = HubRegistry(
        hub_factory(Renderer(), backend.url.replace("http://", "ws://"), now=lambda: datetime.now(UTC)),
        linger_seconds=0.1,
    )
    try:
        first = registry.acquire(samples.SLUG)
        assert registry.acquire(samples.SLUG) is first
        await until(lambda: backend.faults is not None and backend.faults.live_sockets == 1)
        registry.release(samples.SLUG)
        registry.release(samples.SLUG)
        await until(lambda: registry.get(samples.SLUG) is None)
        await until(lambda: backend.faults is not None and backend.faults.live_sockets == 0)
        assert registry.acquire(samples.SLUG) is not first
    finally:
        await registry.aclose()


@pytest.mark.parametrize("attempt", [0, 1, 5, 30])
def test_backoff_stays_within_its_cap(attempt: int) -> None:
    delays = [Backoff(first=0.2, cap=2.0).delay(attempt) for _ in range(50)]
    ceiling = min(2.0, 0.2 * 2**attempt)
    assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
