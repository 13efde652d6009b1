"""The per-event hub against a fake backend on a real socket: one upstream subscription, one
render per change, the same string to every viewer, bounded and independent viewers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

import programme_samples as samples
import pytest
from fake_backend import FakeShow, create_fake_api, serve
from html_text import attributes, visible_text
from starlette.websockets import WebSocket, WebSocketState

from frontend.client import ApiClient, Backoff, LiveFeed
from frontend.live import HEARTBEAT, SERVICE_RESTART, TRY_AGAIN_LATER, EventHub, HubRegistry, Viewer
from frontend.models import LiveState
from frontend.render import Renderer


class Browser:
    """A viewer's socket as the hub sees it, behaving like uvicorn's sansio one: a send completes
    without suspending while `gate` is set, and waits (a full write buffer) while it is cleared."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.closed_with: int | None = None
        self.gate = asyncio.Event()
        self.gate.set()
        self.application_state = WebSocketState.CONNECTED

    async def send(self, message: dict[str, Any]) -> None:
        await self.gate.wait()
        if message["type"] == "websocket.send":
            self.messages.append(message["text"])
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


async def until(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def feed_url(api_url: str) -> str:
    return api_url.replace("http://", "ws://") + f"/api/v1/events/{samples.SLUG}/live/ws"


@contextlib.asynccontextmanager
async def running_hub(api_url: str, **options: float) -> AsyncIterator[EventHub]:
    api = ApiClient(api_url)
    feed = LiveFeed(feed_url(api_url), backoff=Backoff(first=0.05, cap=0.2))
    hub = EventHub(samples.SLUG, api=api, feed=feed, renderer=Renderer(), **options)
    hub.start()
    try:
        yield hub
    finally:
        await hub.stop()
        await api.aclose()


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


def act(show: FakeShow, action: str, target: str | None = None) -> None:
    assert show.apply(action, target) is None
    show.publish()


async def test_one_subscription_one_render_and_the_same_string_for_every_viewer(
    show: FakeShow, api_url: str
) -> None:
    browsers = [Browser() for _ in range(3)]
    async with running_hub(api_url) as hub, watching(hub, *browsers):
        await until(lambda: all(b.states for b in browsers))
        assert len(show.subscribers) == 1
        renders, reads = hub.renders, show.event_reads

        act(show, "start")
        await until(lambda: all(b.version == 2 for b in browsers))
        first, *others = (b.states[-1] for b in browsers)
        assert all(message is first for message in others)
        assert (hub.renders, show.event_reads) == (renders + 1, reads + 1)
        assert "En ce moment Accueil Accueil Charles HEIDSIECK" in visible_text(first, "live-now")

        act(show, "next")
        act(show, "next")
        await until(lambda: all(b.version == 4 for b in browsers))
        assert "Un invité mystère… mais c'est une surprise !" in visible_text(
            browsers[0].states[-1], "live-now"
        )
        assert not any(samples.CANARY_NAME in m for b in browsers for m in b.messages)

        act(show, "reveal", "mystere")
        await until(lambda: all(b.version == 5 for b in browsers))
        assert samples.CANARY_NAME in visible_text(browsers[0].states[-1], "live-guests")


async def test_a_viewer_who_connects_gets_the_current_state_at_once(show: FakeShow, api_url: str) -> None:
    async with running_hub(api_url) as hub:
        act(show, "start")
        act(show, "next")
        await until(lambda: hub.rendering.version == 3)
        late = Browser()
        async with watching(hub, late):
            await until(lambda: bool(late.states))
            assert late.states[0] is hub.rendering.messages["public"]
            assert "Les résultats de l'étude" in visible_text(late.states[0], "live-now")


async def test_older_versions_are_ignored(show: FakeShow, api_url: str) -> None:
    async with running_hub(api_url) as hub:
        stale = LiveState.model_validate(show.live())
        act(show, "start")
        await until(lambda: hub.rendering.version == 2)
        seq = hub.rendering.seq
        await hub.live_received(stale)
        await asyncio.sleep(0.1)
        assert (hub.rendering.seq, hub.rendering.version) == (seq, 2)


async def test_a_slow_viewer_gets_the_latest_state_and_never_stalls_the_others(
    show: FakeShow, api_url: str
) -> None:
    fast, slow = Browser(), Browser()
    async with running_hub(api_url) as hub:
        await until(lambda: hub.rendering.version == 1)
        slow.gate.clear()
        async with watching(hub, fast, slow):
            act(show, "start")
            for _ in range(3):
                await until(lambda: fast.version == show.version)
                act(show, "next")
            await until(lambda: fast.version == show.version == 5)
            assert slow.messages == []
            slow.gate.set()
            await until(lambda: bool(slow.states) and slow.version == 5)
            # The message it was stuck on, then straight to the latest: nothing queued in between.
            assert len(slow.states) <= 2


async def test_a_viewer_that_stops_reading_is_dropped(show: FakeShow, api_url: str) -> None:
    stuck = Browser()
    stuck.gate.clear()
    async with running_hub(api_url) as hub, watching(hub, stuck, send_timeout=0.2):
        await until(lambda: stuck.closed_with is not None)
        assert stuck.closed_with == TRY_AGAIN_LATER
        assert stuck.messages == []


async def test_sends_complete_on_the_spot_with_no_task_per_viewer(show: FakeShow, api_url: str) -> None:
    browsers = [Browser() for _ in range(200)]
    async with running_hub(api_url) as hub:
        await until(lambda: hub.rendering.version == 1)
        tasks = len(asyncio.all_tasks())
        async with watching(hub, *browsers) as viewers:
            # Attached and sent the current state synchronously: no task, no viewer left busy.
            assert all(len(b.states) == 1 for b in browsers)
            act(show, "start")
            await until(lambda: all(b.version == 2 for b in browsers))
            assert not any(viewer.busy for viewer in viewers)
            assert len(asyncio.all_tasks()) == tasks


async def test_each_change_goes_out_once_per_viewer(show: FakeShow, api_url: str) -> None:
    browsers = [Browser() for _ in range(3)]
    async with running_hub(api_url, projection_refresh_seconds=0.05) as hub, watching(hub, *browsers):
        await until(lambda: all(b.version == 1 for b in browsers))
        for action in ("start", "next", "next", "previous"):
            act(show, action)
            await until(lambda: all(b.version == show.version for b in browsers))
        await until(lambda: show.not_modified >= 2)  # the projections were polled: nothing moved
        for browser in browsers:
            versions = [attributes(m, "live-status")[0]["data-version"] for m in browser.states]
            assert versions == ["1", "2", "3", "4", "5"]


async def test_messages_are_ascii_html_with_the_same_text(show: FakeShow, api_url: str) -> None:
    browser = Browser()
    async with running_hub(api_url) as hub, watching(hub, browser):
        act(show, "start")
        act(show, "next")
        act(show, "next")
        await until(lambda: browser.version == 4)
        for channel, message in hub.rendering.messages.items():
            assert message.isascii(), channel
            # Rendered into a text frame as is: numeric references only, never raw text elements.
            assert "<script" not in message and "<style" not in message
        assert browser.states[-1].isascii()
        assert "&#233;" in browser.states[-1]  # é
        assert "Un invité mystère… mais c'est une surprise !" in visible_text(browser.states[-1], "live-now")


async def test_heartbeats_keep_a_quiet_socket_alive(show: FakeShow, api_url: str) -> None:
    browser = Browser()
    async with running_hub(api_url, heartbeat_seconds=0.05) as hub, watching(hub, browser):
        await until(lambda: HEARTBEAT in browser.messages)


async def test_no_heartbeat_while_changes_flow(show: FakeShow, api_url: str) -> None:
    browser = Browser()
    async with running_hub(api_url, heartbeat_seconds=0.3) as hub, watching(hub, browser):
        await until(lambda: browser.version == 1)
        act(show, "start")
        for _ in range(5):
            await asyncio.sleep(0.1)
            act(show, ("next", "previous")[show.version % 2])
        await until(lambda: browser.version == show.version)
        assert HEARTBEAT not in browser.messages
        await until(lambda: HEARTBEAT in browser.messages)  # then quiet: beats again


async def test_a_heartbeat_never_replaces_a_state_waiting_for_a_busy_viewer(
    show: FakeShow, api_url: str
) -> None:
    busy = Browser()
    async with running_hub(api_url, heartbeat_seconds=0.05) as hub:
        await until(lambda: hub.rendering.version == 1)
        busy.gate.clear()
        async with watching(hub, busy) as [viewer]:
            act(show, "start")
            await until(lambda: viewer.pending is not None)
            await asyncio.sleep(0.3)  # several heartbeat periods
            assert viewer.pending == hub.rendering.messages["public"]
            busy.gate.set()
            await until(lambda: busy.version == 2)
            assert busy.messages[:2] == busy.states[:2]  # the state it was stuck on, then the newest


async def test_viewers_are_closed_with_1012_when_the_hub_stops(show: FakeShow, api_url: str) -> None:
    browsers = [Browser(), Browser()]
    browsers[1].gate.clear()  # even one that stopped reading
    async with running_hub(api_url) as hub:
        await until(lambda: hub.rendering.version == 1)
        for browser in browsers:
            hub.attach(viewer_of(browser))
        await until(lambda: bool(browsers[0].states))
        await hub.stop()
        assert [b.closed_with for b in browsers] == [SERVICE_RESTART, SERVICE_RESTART]
        assert hub.viewer_count == 0


async def test_the_hub_re_reads_and_re_renders_after_the_upstream_comes_back(show: FakeShow) -> None:
    browser = Browser()
    app = create_fake_api(show)
    backend = serve(app)
    url = await backend.__aenter__()
    port = int(url.rsplit(":", 1)[1])
    try:
        async with running_hub(url) as hub, watching(hub, browser):
            await until(lambda: browser.version == 1)
            await backend.__aexit__(None, None, None)
            await until(lambda: "La liaison avec la régie" in visible_text(browser.states[-1], "live-link"))
            assert browser.version == 1  # the last state stays on screen, with the warning

            assert show.apply("start", None) is None  # the show moves while the link is down
            reads = show.event_reads
            async with serve(app, port=port):
                await until(lambda: browser.version == 2)
                assert visible_text(browser.states[-1], "live-link") == ""
                assert show.event_reads == reads + 1
                assert "Accueil" in visible_text(browser.states[-1], "live-now")
    finally:
        with contextlib.suppress(Exception):
            await backend.__aexit__(None, None, None)


async def test_advance_renders_a_control_answer_once_for_everyone(show: FakeShow, api_url: str) -> None:
    browser = Browser()
    async with running_hub(api_url) as hub, watching(hub, browser):
        await until(lambda: hub.rendering.version == 1)
        assert show.apply("start", None) is None  # not published: only the control answer knows
        async with asyncio.timeout(3):
            snapshot = await hub.advance(LiveState.model_validate(show.live()))
        assert snapshot.version == 2
        await until(lambda: browser.version == 2)
        assert browser.states[-1] is snapshot.messages["public"]


async def test_the_registry_keeps_one_hub_per_event_and_stops_it_after_the_last_viewer(
    show: FakeShow, api_url: str
) -> None:
    from frontend.live import hub_factory

    api = ApiClient(api_url)
    registry = HubRegistry(
        hub_factory(api, Renderer(), api_url.replace("http://", "ws://")), linger_seconds=0.1
    )
    try:
        first = registry.acquire(samples.SLUG)
        assert registry.acquire(samples.SLUG) is first
        await until(lambda: len(show.subscribers) == 1)
        registry.release(samples.SLUG)
        registry.release(samples.SLUG)
        await until(lambda: registry.get(samples.SLUG) is None)
        await until(lambda: len(show.subscribers) == 0)
        assert registry.acquire(samples.SLUG) is not first
    finally:
        await registry.aclose()
        await api.aclose()


@pytest.mark.parametrize("attempt", [0, 1, 5, 30])
def test_backoff_stays_within_its_cap(attempt: int) -> None:
    delays = [Backoff(first=0.2, cap=2.0).delay(attempt) for _ in range(50)]
    ceiling = min(2.0, 0.2 * 2**attempt)
    assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
