"""The per-event hub: one upstream subscription per event while it has viewers, each change
rendered once into HTML fragments, the same string pushed to every viewer of that event. The
subscription carries the programme too (`?include=programme`): following a show reads nothing.

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
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo

from starlette.websockets import WebSocket

from fanout import SERVICE_RESTART, TRY_AGAIN_LATER, Outbox, fan_out
from fanout.pacing import side_interval
from frontend.client import ApiClient, LiveFeed
from frontend.models import LIVE, Event, LiveState, Overrun, Question
from frontend.moderators import ModeratorBearers
from frontend.presenter import ShowView, show_view
from frontend.questions import QuestionDesk
from frontend.registrations import counts_view, render_counts
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
    """The live state of one event, followed from upstream and fanned out to its viewers.

    The backend pushes everything the pages need (`?include=programme`): each version's
    programme, then its live state. So the hub holds the newest of each, renders when the live
    state moves on (or when the programme of the version on screen arrives after it), and never
    reads the API. Between two versions, projected times follow the synced clock through the
    programme's `overrun` leads: a re-rendering now and then while the show is live, no read.
    """

    def __init__(
        self,
        slug: str,
        *,
        feed: LiveFeed,
        renderer: Renderer,
        now: Callable[[], datetime],
        # Well under the pages' 8 s of silence before they say « reconnexion » (regie.js).
        heartbeat_seconds: float = 3.0,
        projection_refresh_seconds: float = 15.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        api: ApiClient | None = None,
    ) -> None:
        self.slug = slug
        self._feed = feed
        self._renderer = renderer
        self._now = now
        self._heartbeat_seconds = heartbeat_seconds
        self._projection_refresh_seconds = projection_refresh_seconds
        self._sleep = sleep
        self._viewers: dict[Audience, set[Viewer]] = {audience: set() for audience in AUDIENCES}
        # When each audience's viewers last got a message (loop time): heartbeats go only to the
        # audiences that were quiet for a whole heartbeat period, never in the way of a change.
        self._last_sent: dict[Audience, float] = dict.fromkeys(AUDIENCES, 0.0)
        # The public question list: when the next may go, and the newest one held until then.
        self._list_due = 0.0
        self._held_list: str | None = None
        self._list_timer: asyncio.TimerHandle | None = None
        self._event: Event | None = None
        self._overrun: Overrun | None = None
        self._live: LiveState | None = None
        # A new upstream connection's first messages are the truth, even at a lower version (the
        # backend's database was reset), instead of being ignored as old ones.
        self._fresh_link = False
        self._link_up = True
        self._seq = 0
        self._rendering = Rendering(seq=0, view=None)
        self._published = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.renders = 0
        # The bearers of the consoles open here, which read what only moderators see.
        self.bearers = ModeratorBearers()
        # The audience's questions: their own messages, rendered once (frontend.questions).
        self.questions: QuestionDesk | None = None
        # The consoles' « Inscriptions » box, rendered once from each pushed count
        # (frontend.registrations).
        self.registrations_box: str | None = None
        if api is not None:
            self.questions = QuestionDesk(
                slug,
                api=api,
                renderer=renderer,
                publish=self._push,
                bearers=self.bearers,
                zone=self._zone,
                ascii_html=ascii_html,
            )

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        now = asyncio.get_running_loop().time()
        self._last_sent = dict.fromkeys(AUDIENCES, now)
        self._tasks = [
            asyncio.create_task(self._feed.run(self), name=f"live-feed:{self.slug}"),
            asyncio.create_task(self._heartbeat_loop(), name=f"live-heartbeat:{self.slug}"),
            asyncio.create_task(self._projection_loop(), name=f"live-projection:{self.slug}"),
        ]

    async def stop(self, close_code: int = SERVICE_RESTART) -> None:
        if self._list_timer is not None:
            self._list_timer.cancel()
            self._list_timer = None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self.questions is not None:
            await self.questions.stop()
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

    def viewers_of(self, audience: Audience) -> int:
        """The connections (sockets and streams) watching one page of this event."""
        return len(self._viewers[audience])

    def attach(self, viewer: Viewer) -> None:
        """Add a viewer and hand it the current state at once, whatever version that is.

        No await between the two: the viewer gets exactly the latest state, then every newer one.
        """
        self._viewers[viewer.audience].add(viewer)
        # One message: a mailbox of one would let the second replace the first.
        message = self._rendering.messages.get(viewer.audience, "") + self._extras(viewer.audience)
        if message:
            viewer.offer(message)

    def detach(self, viewer: Viewer) -> None:
        viewer.stop()
        self._viewers[viewer.audience].discard(viewer)

    async def advance(self, live: LiveState, *, patience: float = 1.0) -> Rendering:
        """Take a state learnt from a control answer, so that the moderator's answer and every
        viewer's update are the same bytes.

        The backend pushes a change before it answers the press, so its programme is normally
        here already, or within milliseconds; the hub waits for that push at most `patience`,
        then renders with the programme it holds. It never reads the programme.
        """
        if self._rendering.version < live.version:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(patience):
                    while self._rendering.version < live.version:
                        await self._published.wait()
            if self._rendering.version < live.version and self._take_live(live, trusted=False):
                self._render()
        return self._rendering

    # --- upstream (LiveListener) ---------------------------------------------------------------

    def _extras(self, audience: str) -> str:
        """What an audience is sent apart from the live state: the question list or queue, and
        the consoles' registration counts — each its own fragment, the newest of each."""
        extras = self.questions.messages.get(audience, "") if self.questions is not None else ""
        if audience == "console":
            for fragment in (
                self.questions.queue.message if self.questions is not None else None,
                self.registrations_box,
            ):
                if fragment is not None:
                    extras += fragment
        return extras

    async def upstream_connected(self) -> None:
        self._fresh_link = True
        if self.questions is not None:
            self.questions.queue_changed()  # what changed while the link was down

    async def questions_received(self, questions: list[Question], total: int) -> None:
        if self.questions is not None:
            self.questions.take_public(questions, total)

    async def moderation_received(self, pending: int) -> None:
        if self.questions is not None:
            self.questions.queue_changed()

    async def registrations_received(self, registered: int, sessions: dict[str, dict[str, int]]) -> None:
        # The programme comes first on every subscription: without it there is nothing to name.
        if self._event is None:
            return
        counts = counts_view(self._event, registered, sessions)
        box = ascii_html(render_counts(self._renderer, slug=self.slug, counts=counts))
        if box != self.registrations_box:
            self.registrations_box = box
            self._push("console", box)

    def _push(self, audience: str, message: str) -> None:
        """A fragment of the questions to every viewer of `audience`, apart from the live state.

        The public list is paced by its cost (`fanout.pacing`): to a large audience it goes every
        few seconds, the newest held meanwhile, so that it never stands in the way of a press."""
        if audience == "public":
            loop = asyncio.get_running_loop()
            wait = self._list_due - loop.time()
            if wait > 0:
                self._held_list = message
                if self._list_timer is None:
                    self._list_timer = loop.call_later(wait, self._send_held_list)
                return
            self._list_due = loop.time() + side_interval(len(message), len(self._viewers["public"]))
        self._push_now(audience, message)

    def _send_held_list(self) -> None:
        self._list_timer = None
        held, self._held_list = self._held_list, None
        if held is not None:
            self._push("public", held)

    def _push_now(self, audience: str, message: str) -> None:
        for known in AUDIENCES:
            if known == audience:
                fan_out(self._viewers[known], message)
                self._last_sent[known] = asyncio.get_running_loop().time()
                if live := self._rendering.messages.get(known):
                    _catch_up(self._viewers[known], live + self._extras(known))

    def _zone(self) -> ZoneInfo:
        return self._event.zone if self._event is not None else ZoneInfo("Europe/Paris")

    async def upstream_lost(self, reason: str) -> None:
        if self._link_up:
            self._link_up = False
            self._publish(self._rendering.view)

    async def programme_received(self, event: Event, overrun: Overrun | None) -> None:
        if event.slug != self.slug:
            logger.warning("ignored a programme of %r on the feed of %r", event.slug, self.slug)
            return
        held = self._event.version if self._event is not None and self._event.version is not None else -1
        version = event.version if event.version is not None else -1
        if version < held and not self._fresh_link:
            return
        self._event, self._overrun = event, overrun
        # Its live state follows; but when that state is on screen already (taken from a control
        # answer), the programme that goes with it is news of its own.
        if self._live is not None and self._live.version >= version and not self._fresh_link:
            self._render()

    async def live_received(self, live: LiveState) -> None:
        if live.event != self.slug:
            logger.warning("ignored a live state of %r on the feed of %r", live.event, self.slug)
            return
        trusted, self._fresh_link = self._fresh_link, False
        if self._take_live(live, trusted=trusted) or not self._link_up:
            self._render()

    def _take_live(self, live: LiveState, *, trusted: bool) -> bool:
        """Hold `live` if it is newer (or comes first on a new connection); whether it was."""
        held = self._live.version if self._live is not None else -1
        if live.version <= held and not trusted:
            return False
        if live.version < held:
            logger.warning(
                "%s went back from version %d to %d upstream (a database reset?): following it",
                self.slug,
                held,
                live.version,
            )
        self._live = live
        return True

    # --- rendering -----------------------------------------------------------------------------

    def view(self) -> ShowView | None:
        """The show as it stands now: the held programme, its projections moved to the synced
        clock, with the held live state. None until both have arrived."""
        if self._event is None or self._live is None:
            return None
        event = self._event
        if self._overrun is not None and self._live.status == LIVE:
            event = self._overrun.follow(event, self._now())
        return show_view(event, self._live)

    def _render(self) -> None:
        try:
            view = self.view()
        except Exception:
            logger.exception(
                "could not render version %s of %s", self._live and self._live.version, self.slug
            )
            return
        if view is not None:
            self._link_up = True
            self._publish(view)

    def _publish(self, view: ShowView | None) -> None:
        """Render `view` once per audience and send each audience's viewers the same string.

        An audience whose message did not change (the overlay, when only the link went down) is not
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
                if extras := self._extras(audience):
                    _catch_up(self._viewers[audience], message + extras)
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
            await self._sleep(max(0.0, due - loop.time()))
            now = loop.time()
            for audience in AUDIENCES:
                # An audience sent a change meanwhile is not due yet: the next turn recomputes.
                if now - self._last_sent[audience] >= self._heartbeat_seconds - slack:
                    fan_out(_idle(self._viewers[audience]), HEARTBEAT)
                    self._last_sent[audience] = now

    async def _projection_loop(self) -> None:
        """While the show is live, move the projected times to the clock now and then: an item
        overrunning pushes everything after it with no press, so no new version to carry it."""
        while True:
            await self._sleep(self._projection_refresh_seconds)
            try:
                self.refresh_projections()
            except Exception:  # a bug here must not end the refreshes, nor go unnoticed
                logger.exception("could not refresh the projected times of %s", self.slug)

    def refresh_projections(self) -> bool:
        """Re-render the current version if its projected times moved; whether they did."""
        current = self._rendering.view
        if current is None or current.live.status != LIVE or self._overrun is None:
            return False
        refreshed = self.view()
        if refreshed is None or refreshed.version != current.version or refreshed.stamp <= current.stamp:
            return False
        self._publish(refreshed)
        return True


def _catch_up(viewers: Iterable[Viewer], both: str) -> None:
    """A busy viewer's mailbox holds one message, the last offered: the live state and the
    question list are two, so it is offered both, the newest of each, as one message."""
    for viewer in tuple(viewers):
        if viewer.busy:
            viewer.offer(both)


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

    def events(self) -> list[str]:
        return list(self._hubs)

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
    renderer: Renderer,
    api_ws_url: str,
    *,
    now: Callable[[], datetime],
    projection_refresh_seconds: float = 15.0,
    headers: dict[str, str] | None = None,
    api: ApiClient | None = None,
) -> HubFactory:
    """`headers` (the relay credential of frontend.relay) also subscribe to the moderators' signal."""

    def make(slug: str) -> EventHub:
        url = f"{api_ws_url}/api/v1/events/{quote(slug, safe='')}/live/ws?include=programme"
        feed = LiveFeed(url + ",moderation", headers=headers, fallback_url=url) if headers else LiveFeed(url)
        return EventHub(
            slug,
            feed=feed,
            renderer=renderer,
            now=now,
            projection_refresh_seconds=projection_refresh_seconds,
            api=api,
        )

    return make
