"""The per-event hub: one upstream subscription per event while it has viewers, each change
rendered once into HTML fragments, the same string pushed to every viewer of that event.

Viewers are `fanout.Outbox`es, as the backend's: a change is one synchronous loop over the
viewers of an audience, each send stepped by hand and almost always complete on the spot; only a
viewer whose write buffer is full gets a task, holding at most one message (the newest: messages
carry the whole state, so a viewer that cannot keep up skips the states it missed), and is closed
with 1013 if it cannot take one within the send timeout. The fan-out never waits on any socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote

from starlette.websockets import WebSocket

from fanout import SERVICE_RESTART, TRY_AGAIN_LATER, Outbox, fan_out
from frontend.client import ApiClient, ApiError, LiveFeed
from frontend.models import LIVE, Event, LiveState
from frontend.presenter import ShowView, show_view
from frontend.render import Renderer

logger = logging.getLogger(__name__)

__all__ = [
    "AUDIENCES",
    "HEARTBEAT",
    "SERVICE_RESTART",
    "TRY_AGAIN_LATER",
    "Audience",
    "EventHub",
    "HubRegistry",
    "Rendering",
    "Viewer",
    "ascii_html",
    "hub_factory",
]

Audience = Literal["public", "console", "overlay"]
AUDIENCES: tuple[Audience, ...] = ("public", "console", "overlay")

# Sent to the viewers of an audience that heard nothing for a while: the browser treats a silent
# socket as dead (a laptop waking from sleep does not learn that its TCP connection died).
HEARTBEAT = '<span id="live-beat" hidden></span>'

# How long a viewer may take to accept one message before it is closed with 1013.
SEND_TIMEOUT = 10.0


def ascii_html(text: str) -> str:
    """`text` with every non-ASCII character as a numeric character reference (`é` → `&#233;`).

    The same document for a browser, in text and in attribute values alike (the fragments hold
    no script or style); but uvicorn encodes a text frame once per viewer, and a str that is not
    pure ASCII encodes about ten times slower than one that is: converted once per change here,
    every viewer's encode is a plain copy.
    """
    return text if text.isascii() else text.encode("ascii", "xmlcharrefreplace").decode("ascii")


@dataclass(frozen=True, slots=True)
class Rendering:
    """What every viewer of one audience receives, rendered once: `seq` counts publications."""

    seq: int
    view: ShowView | None
    messages: dict[Audience, str] = field(default_factory=dict)

    @property
    def version(self) -> int:
        return self.view.version if self.view is not None else -1


class Viewer(Outbox):
    """One browser socket: its outbox, and the audience (page) it watches."""

    __slots__ = ("audience",)

    def __init__(
        self, websocket: WebSocket, audience: Audience, *, label: str, send_timeout: float = SEND_TIMEOUT
    ) -> None:
        super().__init__(websocket, label=label, send_timeout=send_timeout)
        self.audience = audience


class EventHub:
    """The live state of one event, kept current from upstream and fanned out to its viewers."""

    def __init__(
        self,
        slug: str,
        *,
        api: ApiClient,
        feed: LiveFeed,
        renderer: Renderer,
        heartbeat_seconds: float = 10.0,
        retry_seconds: float = 1.0,
        projection_refresh_seconds: float = 15.0,
    ) -> None:
        self.slug = slug
        self._api = api
        self._feed = feed
        self._renderer = renderer
        self._heartbeat_seconds = heartbeat_seconds
        self._retry_seconds = retry_seconds
        self._projection_refresh_seconds = projection_refresh_seconds
        self._viewers: dict[Audience, set[Viewer]] = {audience: set() for audience in AUDIENCES}
        # When each audience's viewers last got a message (loop time): heartbeats go only to the
        # audiences that were quiet for a whole heartbeat period, never in the way of a change.
        self._last_sent: dict[Audience, float] = dict.fromkeys(AUDIENCES, 0.0)
        self._event: Event | None = None
        self._event_version = -1
        self._event_etag: str | None = None
        self._refetch = True
        # Set by a new upstream connection: its first state is the truth, even at a lower version
        # (the backend's database was reset), instead of being ignored as an old message.
        self._trust_next = False
        self._pending: LiveState | None = None
        self._link_up = True
        self._seq = 0
        self._rendering = Rendering(seq=0, view=None)
        self._wake = asyncio.Event()
        self._published = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.renders = 0
        self.event_fetches = 0

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        now = asyncio.get_running_loop().time()
        self._last_sent = dict.fromkeys(AUDIENCES, now)
        self._tasks = [
            asyncio.create_task(self._feed.run(self), name=f"live-feed:{self.slug}"),
            asyncio.create_task(self._render_loop(), name=f"live-render:{self.slug}"),
            asyncio.create_task(self._heartbeat_loop(), name=f"live-heartbeat:{self.slug}"),
            asyncio.create_task(self._projection_loop(), name=f"live-projection:{self.slug}"),
        ]

    async def stop(self, close_code: int = SERVICE_RESTART) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        viewers = [viewer for audience in AUDIENCES for viewer in self._viewers[audience]]
        for audience in AUDIENCES:
            self._viewers[audience].clear()
        await asyncio.gather(*(viewer.close(close_code) for viewer in viewers), return_exceptions=True)

    # --- viewers -----------------------------------------------------------------------------

    @property
    def rendering(self) -> Rendering:
        return self._rendering

    @property
    def viewer_count(self) -> int:
        return sum(len(viewers) for viewers in self._viewers.values())

    def attach(self, viewer: Viewer) -> None:
        """Add a viewer and hand it the current state at once, whatever version that is.

        No await between the two: the viewer gets exactly the latest state, then every newer one.
        """
        self._viewers[viewer.audience].add(viewer)
        message = self._rendering.messages.get(viewer.audience)
        if message:
            viewer.offer(message)

    def detach(self, viewer: Viewer) -> None:
        viewer.stop()
        self._viewers[viewer.audience].discard(viewer)

    async def advance(self, live: LiveState) -> Rendering:
        """Take a state learnt elsewhere (a control answer) and wait until it is rendered, so the
        moderator's answer and every viewer's update are the same bytes. Callers bound the wait."""
        self._accept(live, force=False)
        while self._rendering.version < live.version:
            await self._published.wait()
        return self._rendering

    # --- upstream (LiveListener) ---------------------------------------------------------------

    async def upstream_connected(self) -> None:
        # Whatever happened while the link was down, the programme is re-read with the next state.
        self._refetch = True
        self._trust_next = True

    async def upstream_lost(self, reason: str) -> None:
        if self._link_up:
            self._link_up = False
            self._publish(self._rendering.view)

    async def live_received(self, live: LiveState) -> None:
        if live.event != self.slug:
            logger.warning("ignored a live state of %r on the feed of %r", live.event, self.slug)
            return
        trusted, self._trust_next = self._trust_next, False
        self._accept(live, force=self._refetch, reset=trusted)

    def _accept(self, live: LiveState, *, force: bool, reset: bool = False) -> None:
        newest = max(self._rendering.version, self._pending.version if self._pending else -1)
        if not reset and (live.version < newest or (live.version == newest and not force)):
            return
        if live.version < newest:
            logger.warning(
                "%s went back from version %d to %d upstream (a database reset?): following it",
                self.slug,
                newest,
                live.version,
            )
        self._pending = live
        self._wake.set()

    # --- rendering -----------------------------------------------------------------------------

    async def _render_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            live, self._pending = self._pending, None
            if live is None:
                continue
            fresh = False
            try:
                event, fresh = await self._programme(live)
                if event is not None:
                    self._link_up = True
                    self._publish(show_view(event, live))
            except Exception:
                logger.exception("could not render version %s of %s", live.version, self.slug)
            if fresh:
                continue
            # Rendered with an older programme, or not at all: try again, unless a newer state
            # arrives meanwhile (it brings its own attempt).
            await asyncio.sleep(self._retry_seconds)
            if self._pending is None:
                self._pending = live
                self._wake.set()

    async def _programme(self, live: LiveState) -> tuple[Event | None, bool]:
        """The programme for this version, and whether it is current: fetched once per change (a
        reveal changes item data), never per viewer; the last one known stands in meanwhile when
        the API cannot answer."""
        if self._event is not None and self._event_version >= live.version and not self._refetch:
            return self._event, True
        try:
            event, etag = await self._api.get_event_if_changed(self.slug, None)
        except ApiError as error:
            logger.warning("programme of %s unavailable: %s", self.slug, error)
            return self._event, False
        assert event is not None  # no validator sent: never a 304
        self.event_fetches += 1
        self._event, self._event_etag = event, etag
        # The version this programme belongs to is the live state's: after a reset it may be lower
        # than any seen before, which is why it is not a running maximum.
        self._event_version = max(live.version, event.version if event.version is not None else -1)
        self._refetch = False
        return event, True

    def _publish(self, view: ShowView | None) -> None:
        """Render `view` once per audience and send each audience's viewers the same string.

        A audience whose message did not change (the overlay, when only the link went down) is not
        sent again: its viewers already have it.
        """
        link = self._renderer.link_status(up=self._link_up)
        messages: dict[Audience, str] = {}
        if view is None:
            # The overlay is on the video: it never says anything about the link.
            messages = {"public": ascii_html(link), "console": ascii_html(link), "overlay": ""}
        else:
            self.renders += 1
            messages = {
                "public": ascii_html(link + self._renderer.live_fragments(view)),
                "console": ascii_html(link + self._renderer.console_fragments(view)),
                "overlay": ascii_html(self._renderer.overlay_fragments(view)),
            }
        previous = self._rendering.messages
        self._seq += 1
        self._rendering = Rendering(seq=self._seq, view=view, messages=messages)
        now = asyncio.get_running_loop().time()
        for audience in AUDIENCES:
            message = messages[audience]
            if message and message != previous.get(audience):
                fan_out(self._viewers[audience], message)
                self._last_sent[audience] = now
        self._published.set()
        self._published = asyncio.Event()

    async def _heartbeat_loop(self) -> None:
        """Beat to the audiences that were sent nothing for `heartbeat_seconds`, and only to their
        idle viewers: a busy one is still being written to, and its mailbox holds a state that a
        heartbeat must never replace."""
        loop = asyncio.get_running_loop()
        # A beat a little early is as good as one on time, and timers may fire a little early.
        slack = self._heartbeat_seconds / 20
        while True:
            due = min(self._last_sent.values()) + self._heartbeat_seconds
            await asyncio.sleep(max(0.0, due - loop.time()))
            now = loop.time()
            for audience in AUDIENCES:
                # A audience sent a change meanwhile is not due yet: the next turn recomputes.
                if now - self._last_sent[audience] >= self._heartbeat_seconds - slack:
                    fan_out(_idle(self._viewers[audience]), HEARTBEAT)
                    self._last_sent[audience] = now

    async def _projection_loop(self) -> None:
        """While the show is live, re-read the programme now and then: projected times move with
        the clock while an item overruns, with no press and so no new version to carry them.
        A conditional read: the backend answers 304 while nothing moved."""
        while True:
            await asyncio.sleep(self._projection_refresh_seconds)
            try:
                await self.refresh_projections()
            except Exception:  # a bug here must not end the refreshes, nor go unnoticed
                logger.exception("could not refresh the projected times of %s", self.slug)

    async def refresh_projections(self) -> bool:
        """Re-render the current version if its projected times moved; whether it did."""
        view = self._rendering.view
        if view is None or view.live.status != LIVE or self._pending is not None or self._refetch:
            return False
        try:
            event, etag = await self._api.get_event_if_changed(self.slug, self._event_etag)
        except ApiError:
            return False
        current = self._rendering.view
        # A state that moved on meanwhile brings its own programme: this read is not for it.
        if event is None or current is None or not event.version == current.version == view.version:
            return False
        self._event, self._event_etag = event, etag
        refreshed = show_view(event, current.live)
        if refreshed.stamp <= current.stamp:
            return False
        self._publish(refreshed)
        return True


def _idle(viewers: Iterable[Viewer]) -> list[Viewer]:
    return [viewer for viewer in viewers if not viewer.busy]


HubFactory = Callable[[str], EventHub]


class HubRegistry:
    """The hubs of the events that have viewers; a hub outlives its last viewer by `linger`."""

    def __init__(self, factory: HubFactory, *, linger_seconds: float = 30.0) -> None:
        self._factory = factory
        self._linger = linger_seconds
        self._hubs: dict[str, EventHub] = {}
        self._users: dict[str, int] = {}
        self._reapers: dict[str, asyncio.Task[None]] = {}

    def get(self, slug: str) -> EventHub | None:
        return self._hubs.get(slug)

    def acquire(self, slug: str) -> EventHub:
        reaper = self._reapers.pop(slug, None)
        if reaper is not None:
            reaper.cancel()
        hub = self._hubs.get(slug)
        if hub is None:
            hub = self._hubs[slug] = self._factory(slug)
            hub.start()
        self._users[slug] = self._users.get(slug, 0) + 1
        return hub

    def release(self, slug: str) -> None:
        users = self._users.get(slug, 0) - 1
        self._users[slug] = max(users, 0)
        if users <= 0 and slug in self._hubs and slug not in self._reapers:
            self._reapers[slug] = asyncio.create_task(self._reap(slug), name=f"live-reap:{slug}")

    async def _reap(self, slug: str) -> None:
        await asyncio.sleep(self._linger)
        self._reapers.pop(slug, None)
        if self._users.get(slug, 0) > 0:
            return
        self._users.pop(slug, None)
        hub = self._hubs.pop(slug, None)
        if hub is not None:
            await hub.stop()

    async def aclose(self, close_code: int = SERVICE_RESTART) -> None:
        for reaper in self._reapers.values():
            reaper.cancel()
        self._reapers.clear()
        hubs, self._hubs = list(self._hubs.values()), {}
        self._users.clear()
        for hub in hubs:
            await hub.stop(close_code)


def hub_factory(
    api: ApiClient, renderer: Renderer, api_ws_url: str, *, projection_refresh_seconds: float = 15.0
) -> HubFactory:
    def make(slug: str) -> EventHub:
        feed = LiveFeed(f"{api_ws_url}/api/v1/events/{quote(slug, safe='')}/live/ws")
        return EventHub(
            slug,
            api=api,
            feed=feed,
            renderer=renderer,
            projection_refresh_seconds=projection_refresh_seconds,
        )

    return make
