"""Fan-out of the live state to this process's WebSocket viewers.

One `Channel` per event with viewers. A change arrives once (from the broadcast), is kept as
the channel's latest message, and the same text is offered to every viewer through `fanout`,
which never lets a slow viewer hold up the others. Against the former writer task per viewer:
half the fan-out time at 5,000 viewers, p99 327 ms instead of 1,959 ms at 10,000
(bench/README.md).

A change is two messages on the broadcast: the programme message, then the live message.
Viewers get only the live one, whose size does not depend on the programme's. Followers
(`?include=programme`: the frontend's processes, a handful) get both, in that order; they are
few, so each has a task and a mailbox of one message of each kind.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from starlette.websockets import WebSocket

from fanout import SERVICE_RESTART, TRY_AGAIN_LATER, Outbox, fan_out
from fanout.pacing import side_interval

logger = logging.getLogger(__name__)

__all__ = ["SERVICE_RESTART", "TRY_AGAIN_LATER", "Channel", "Follower", "LiveHub", "Viewer", "channel_name"]

LoadState = Callable[[str], Awaitable[bytes | None]]
"""Reads an event's live state from the database, serialised as a live message (None: no event)."""


CHANNEL_PREFIX = "regie:live:"
# The question list travels on the event's channel as its own message type (contract v1.1), so a
# viewer's one subscription carries it and the live message keeps its size.
QUESTIONS_PREFIX = b'{"type":"questions"'
QUESTIONS_INTERVAL = 1.0
# The moderators' signals, by kind: how many questions wait, how many registered — counts, never
# a text or a name. Only the frontends' own subscriptions (`?include=moderation`, with the relay
# credential) receive them; no public viewer.
MODERATORS_SIGNALS = {b'{"type":"moderation"': "moderation", b'{"type":"registrations"': "registrations"}


def moderators_signal(message: bytes) -> str | None:
    """The kind of a moderators' signal, or None for any other message."""
    for prefix, kind in MODERATORS_SIGNALS.items():
        if message.startswith(prefix):
            return kind
    return None


def channel_name(slug: str) -> str:
    return CHANNEL_PREFIX + slug


def message_version(message: bytes) -> int:
    version = json.loads(message)["live"]["version"]
    if not isinstance(version, int):
        raise TypeError("live message without an integer version")
    return version


# `app.public.programme_message` writes `type` and `version` first: read without parsing the rest.
_PROGRAMME = re.compile(rb'\{"type":"programme","version":(\d+),')


def programme_version(message: bytes) -> int | None:
    """The version of a programme message; None for any other message."""
    match = _PROGRAMME.match(message)
    return int(match[1]) if match else None


def sse_frame(event: str, message: str, field: str, *, event_id: int | None = None) -> bytes:
    """One server-sent event made from a WebSocket message: its data is the message's `field`.

    The messages are ASCII JSON on one line (`app.public.live_message`) whose `field` comes last,
    after the `type` and any number, so its value is a slice and the frame needs no escaping:
    made once per change for every SSE viewer.
    """
    start = message.find(f'"{field}":')
    data = message[start + len(field) + 3 : -1] if start > 0 else message
    head = f"event: {event}\n" + (f"id: {event_id}\n" if event_id is not None else "")
    return f"{head}data: {data}\n\n".encode()


class Stream:
    """An SSE viewer: a one-frame mailbox that always holds the newest frame (like `Outbox`).

    The endpoint's generator waits on it and writes what it finds; a viewer that reads slowly
    skips the states it missed instead of queueing them.
    """

    __slots__ = ("_closed", "_frames", "_ready", "channel")

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self._frames: dict[str, bytes] = {}
        self._ready = asyncio.Event()
        self._closed = False

    def offer(self, kind: str, frame: bytes) -> None:
        self._frames[kind] = frame
        self._ready.set()

    async def next(self) -> list[bytes] | None:
        """The frames that arrived since the last call (live first); None once closed."""
        await self._ready.wait()
        if self._closed:
            return None
        self._ready.clear()
        frames = [self._frames.pop(kind) for kind in ("live", "questions") if kind in self._frames]
        return frames

    def close(self) -> None:
        self._closed = True
        self._ready.set()


class Viewer(Outbox):
    """A live viewer: its outbox, and the channel it watches."""

    __slots__ = ("channel",)

    def __init__(self, websocket: WebSocket, channel: Channel, *, send_timeout: float) -> None:
        super().__init__(websocket, label=channel.slug, send_timeout=send_timeout)
        self.channel = channel


class Follower:
    """A viewer that follows the programme too: each programme message, then its live state.

    Its mailbox holds the newest message of each kind and always sends the programme first, so a
    follower that falls behind skips states but never gets a live state before its programme.
    The question list and each kind of moderators' signal have slots of their own, after those
    two: a list must never take the place of the live state a follower has not read yet, nor a
    registrations signal that of a moderation one.
    """

    def __init__(
        self,
        websocket: WebSocket,
        channel: Channel,
        *,
        send_timeout: float,
        moderation: bool = False,
        counted: bool = True,
    ) -> None:
        self.websocket = websocket
        self.channel = channel
        self.moderation = moderation
        """Whether this follower proved it is a frontend (`?include=moderation`)."""
        # A frontend's own subscription is not a viewer: its browsers are reported by the frontend.
        self.counted = counted
        self._send_timeout = send_timeout
        self._programme: str | None = None
        self._live: str | None = None
        self._questions: str | None = None
        self._signals: dict[str, str] = {}
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._deliver(), name=f"follower:{channel.slug}")

    def offer_programme(self, text: str) -> None:
        self._programme = text
        self._wake.set()

    def offer(self, text: str) -> None:
        self._live = text
        self._wake.set()

    def offer_questions(self, text: str) -> None:
        self._questions = text
        self._wake.set()

    def offer_signal(self, kind: str, text: str) -> None:
        if self.moderation:
            self._signals.pop(kind, None)  # the newest of a kind goes last, in arrival order
            self._signals[kind] = text
            self._wake.set()

    def _next(self) -> str | None:
        for slot in ("_programme", "_live", "_questions"):
            text: str | None = getattr(self, slot)
            if text is not None:
                setattr(self, slot, None)
                return text
        if self._signals:
            return self._signals.pop(next(iter(self._signals)))
        return None

    async def _deliver(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while (text := self._next()) is not None:
                    async with asyncio.timeout(self._send_timeout):
                        await self.websocket.send_text(text)
        except TimeoutError:
            logger.info("follower of %s dropped: stuck for %.0f s", self.channel.slug, self._send_timeout)
            await self.close(TRY_AGAIN_LATER)
        except Exception:  # the connection went away; its endpoint notices and leaves
            return

    def stop(self) -> None:
        self._programme = self._live = self._questions = None
        self._signals.clear()
        if self._task is not asyncio.current_task():
            self._task.cancel()

    async def close(self, code: int) -> None:
        self.stop()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2):
                await self.websocket.close(code)


@dataclass(eq=False)
class Channel:
    slug: str
    viewers: set[Viewer] = field(default_factory=set)
    followers: set[Follower] = field(default_factory=set)
    streams: set[Stream] = field(default_factory=set)
    version: int = -1
    latest: str | None = None
    programme_version: int = -1
    programme: str | None = None
    joining: int = 0
    """Viewers reading the first state: the channel must outlive them even with no viewer yet."""
    questions: str | None = None
    """The latest `questions` message, sent to viewers who join after it."""
    questions_sent_at: float = -1e9
    questions_interval: float = QUESTIONS_INTERVAL
    """How long after the last list the next may go: longer for a large list to many viewers."""
    questions_timer: asyncio.TimerHandle | None = None
    signals: dict[str, str] = field(default_factory=dict)
    """The latest moderators' signal of each kind, for a frontend that subscribes after it."""

    def offer_signal(self, kind: str, message: bytes) -> None:
        """To the frontends' subscriptions only: coalesced by the process that published it."""
        text = self.signals[kind] = message.decode()
        for follower in self.followers:
            follower.offer_signal(kind, text)

    def offer_questions(self, message: bytes) -> None:
        """Keep the newest list; fan it out now, or once the interval since the last one is over."""
        self.questions = message.decode()
        if self.questions_timer is not None:
            return
        wait = self.questions_sent_at + self.questions_interval - time.monotonic()
        if wait <= 0:
            self._send_questions()
        else:
            self.questions_timer = asyncio.get_running_loop().call_later(wait, self._send_questions)

    def _send_questions(self) -> None:
        self.questions_timer = None
        self.questions_sent_at = time.monotonic()
        if self.questions is not None:
            audience = len(self.viewers) + len(self.followers) + len(self.streams)
            self.questions_interval = side_interval(len(self.questions), audience)
            fan_out(self.viewers, self.questions)
            for follower in self.followers:
                follower.offer_questions(self.questions)
            if self.streams:
                frame = self.questions_frame()
                for stream in self.streams:
                    stream.offer("questions", frame)

    def stop_questions(self) -> None:
        if self.questions_timer is not None:
            self.questions_timer.cancel()
            self.questions_timer = None

    def offer(self, message: bytes, version: int) -> None:
        """Keep and fan out `message` if it is newer than what this channel holds."""
        if version <= self.version:
            return
        self.version = version
        self.latest = message.decode()
        fan_out(self.viewers, self.latest)
        for follower in self.followers:
            follower.offer(self.latest)
        if self.streams:
            frame = self.live_frame()
            for stream in self.streams:
                stream.offer("live", frame)

    def live_frame(self) -> bytes:
        assert self.latest is not None
        return sse_frame("live", self.latest, "live", event_id=self.version)

    def questions_frame(self) -> bytes:
        assert self.questions is not None
        return sse_frame("questions", self.questions, "questions")

    def offer_programme(self, message: bytes, version: int) -> None:
        """Keep and send `message` to the followers if it is newer than the one held."""
        if version <= self.programme_version:
            return
        self.programme_version = version
        self.programme = message.decode()
        for follower in self.followers:
            follower.offer_programme(self.programme)


class LiveHub:
    def __init__(
        self,
        *,
        load_state: LoadState,
        send_timeout: float,
        on_change: Callable[[str, int], None] | None = None,
        load_programme: LoadState | None = None,
    ) -> None:
        """`on_change(slug, version)` hears of every change the broadcast carries, watched or not
        (the read snapshots drop what it makes stale), from the one parse of each message.
        `load_programme` reads an event's programme message, for followers."""
        self._load_state = load_state
        self._load_programme = load_programme
        self._send_timeout = send_timeout
        self._on_change = on_change
        self._channels: dict[str, Channel] = {}
        self._subscribe: Callable[[str], Awaitable[None]] | None = None
        self._unsubscribe: Callable[[str], Awaitable[None]] | None = None

    def attach(
        self, *, subscribe: Callable[[str], Awaitable[None]], unsubscribe: Callable[[str], Awaitable[None]]
    ) -> None:
        self._subscribe, self._unsubscribe = subscribe, unsubscribe

    @property
    def viewer_count(self) -> int:
        return sum(len(channel.viewers) + len(channel.followers) for channel in self._channels.values())

    def watched(self) -> list[str]:
        return list(self._channels)

    def channel(self, slug: str) -> Channel | None:
        return self._channels.get(slug)

    async def join(
        self,
        slug: str,
        websocket: WebSocket,
        *,
        follow: bool = False,
        moderation: bool = False,
        counted: bool = True,
    ) -> Viewer | Follower | None:
        """Add a viewer and send it the current state at once; None if the event is unknown.

        A follower (`follow`) is sent the current programme message first; one that proved it is
        a frontend (`moderation`) also gets the moderators' signals. One that is not `counted` (a
        frontend's relayed subscription) is left out of the audience."""
        channel = await self._open(slug)
        if channel is None:
            return None
        if follow:
            if channel.programme is None and self._load_programme is not None:
                channel.joining += 1
                try:
                    programme = await self._load_programme(slug)
                finally:
                    channel.joining -= 1
                if programme is not None:
                    channel.offer_programme(programme, programme_version(programme) or 0)
            # No await from here on, as for a viewer.
            follower = Follower(
                websocket, channel, send_timeout=self._send_timeout, moderation=moderation, counted=counted
            )
            channel.followers.add(follower)
            if channel.programme is not None:
                follower.offer_programme(channel.programme)
            if channel.latest is not None:
                follower.offer(channel.latest)
            if channel.questions is not None:
                follower.offer_questions(channel.questions)
            for kind, signal in channel.signals.items():
                follower.offer_signal(kind, signal)
            return follower
        # No await from here on: the viewer gets exactly the latest state, then every newer one.
        viewer = Viewer(websocket, channel, send_timeout=self._send_timeout)
        channel.viewers.add(viewer)
        if channel.latest is not None:
            viewer.offer(channel.latest)
        if channel.questions is not None:
            viewer.offer(channel.questions)
        return viewer

    async def join_stream(self, slug: str, *, last_event_id: int | None = None) -> Stream | None:
        """Add an SSE viewer with the current state waiting, unless `last_event_id` is already it."""
        channel = await self._open(slug)
        if channel is None:
            return None
        stream = Stream(channel)
        channel.streams.add(stream)
        if channel.latest is not None and (last_event_id is None or last_event_id != channel.version):
            stream.offer("live", channel.live_frame())
        if channel.questions is not None:
            stream.offer("questions", channel.questions_frame())
        return stream

    async def leave_stream(self, stream: Stream) -> None:
        stream.close()
        stream.channel.streams.discard(stream)
        await self._release(stream.channel)

    def audience_of(self, slug: str) -> int:
        """This process's followers of an event: JSON WebSocket and SSE viewers."""
        channel = self._channels.get(slug)
        if channel is None:
            return 0
        # Frontends' relayed subscriptions are not counted: they report their browsers themselves.
        followers = sum(1 for follower in channel.followers if follower.counted)
        return len(channel.viewers) + len(channel.streams) + followers

    async def _open(self, slug: str) -> Channel | None:
        """The event's channel with its current state read; None if the event is unknown."""
        channel = self._channels.get(slug)
        if channel is None:
            channel = self._channels[slug] = Channel(slug)
            # Subscribe before reading the state, so no change can fall between the two.
            if self._subscribe is not None:
                await self._subscribe(channel_name(slug))
        if channel.latest is None:
            channel.joining += 1
            try:
                message = await self._load_state(slug)
            except BaseException:
                channel.joining -= 1
                await self._release(channel)
                raise
            channel.joining -= 1
            if message is None:
                await self._release(channel)
                return None
            # Dropped if a change arrived during the read: the channel then holds a newer state.
            channel.offer(message, message_version(message))
        return channel

    async def leave(self, viewer: Viewer | Follower) -> None:
        viewer.stop()
        if isinstance(viewer, Follower):
            viewer.channel.followers.discard(viewer)
        else:
            viewer.channel.viewers.discard(viewer)
        await self._release(viewer.channel)

    async def _release(self, channel: Channel) -> None:
        """Forget a channel that nobody watches or is about to watch any more."""
        if (
            channel.viewers
            or channel.followers
            or channel.streams
            or channel.joining
            or self._channels.get(channel.slug) is not channel
        ):
            return
        del self._channels[channel.slug]
        channel.stop_questions()
        if self._unsubscribe is not None:
            await self._unsubscribe(channel_name(channel.slug))

    def receive(self, channel: str, message: bytes) -> None:
        """The broadcast's listener: one call per change, whatever the number of viewers."""
        slug = channel.removeprefix(CHANNEL_PREFIX)
        if message.startswith(QUESTIONS_PREFIX):
            questions = self._channels.get(slug)
            if questions is not None:
                questions.offer_questions(message)
            return
        if (kind := moderators_signal(message)) is not None:
            if (watched := self._channels.get(slug)) is not None:
                watched.offer_signal(kind, message)
            return
        programme = programme_version(message)
        if programme is not None:
            if (held := self._channels.get(slug)) is not None:
                held.offer_programme(message, programme)
            return
        try:
            version = message_version(message)
        except (ValueError, KeyError, TypeError):
            logger.warning("ignored a malformed live message on %s", channel)
            return
        if self._on_change is not None:
            self._on_change(slug, version)
        target = self._channels.get(slug)
        if target is not None:
            target.offer(message, version)

    async def resync(self) -> None:
        """Re-read every watched event from the database: after a broadcast outage, changes may
        have been published while nobody listened."""
        for slug, channel in list(self._channels.items()):
            if channel.followers and self._load_programme is not None:
                programme = await self._load_programme(slug)
                if programme is not None:
                    channel.offer_programme(programme, programme_version(programme) or 0)
            message = await self._load_state(slug)
            if message is not None:
                channel.offer(message, message_version(message))

    async def close(self) -> None:
        """Close every viewer with 1012 so that clients reconnect to the next server."""
        viewers: list[Viewer | Follower] = []
        for channel in self._channels.values():
            viewers += [*channel.viewers, *channel.followers]
            channel.stop_questions()
            for stream in channel.streams:
                stream.close()
        self._channels.clear()
        await asyncio.gather(*(viewer.close(SERVICE_RESTART) for viewer in viewers), return_exceptions=True)
