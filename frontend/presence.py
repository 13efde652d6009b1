"""Who follows the pages of this process, told to the backend; and the live page without WebSockets.

Presence: every `REPORT_SECONDS`, for each event this process serves, the number of open viewer
connections — live-page and overlay WebSockets, the live page's own SSE streams, and the pages
that polled lately — goes to `POST /api/v1/events/{slug}/audience/reports` under this process's
own reporter name, with the relay credential. Consoles are not counted: the count tells the
moderators how many follow the show, and they are not its audience.

Fallback: a page whose WebSocket a proxy blocks reads the same rendered message over this
site's SSE stream (`StreamViewer`, a viewer of the hub's public audience like any socket), or
by polling the same message with `If-None-Match` (`Pollers` keeps the hub open for them).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import re
import socket
import time
from collections.abc import AsyncIterator, Callable
from urllib.parse import quote

from fanout import Message
from frontend.client import ApiClient, ApiError
from frontend.live import Audience, HubRegistry, Viewer
from frontend.relay import relay_headers

logger = logging.getLogger(__name__)

# The backend's own pace (app.live.audience): a report older than 5 s no longer counts there.
REPORT_SECONDS = 1.5
# Pages poll every 5 s at most: one that did not poll for this long has left.
POLLER_SECONDS = 12.0
# One poller is one page, named by a random id its script picks; a bounded table per process.
MAX_POLLERS = 50_000
PAGE_ID = re.compile(r"[A-Za-z0-9]{8,32}")
COUNTED: tuple[Audience, ...] = ("public", "overlay")


def reporter_name() -> str:
    """This process's own name on the audience board: host and pid, within the API's pattern."""
    host = re.sub(r"[^A-Za-z0-9_.:-]", "-", socket.gethostname())[:40] or "host"
    return f"web-{host}-{os.getpid()}"


# --- SSE ----------------------------------------------------------------------------------------

_recent_frames: dict[int, tuple[str, bytes]] = {}


def sse_frame(text: str) -> bytes:
    """`text` as one `message` event: each of its lines a `data:` line, so that the browser's
    `EventSource` hands the page exactly the string a WebSocket viewer receives (a CR, which SSE
    reads as a line end, is sent as the LF it becomes; the fragments are HTML, where both are
    white space). Framed once per message for every stream (the hub offers one `str` object)."""
    known = _recent_frames.get(id(text))
    if known is not None and known[0] is text:
        return known[1]
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    frame = ("".join(f"data: {line}\n" for line in lines) + "\n").encode()
    _recent_frames[id(text)] = (text, frame)
    if len(_recent_frames) > 8:
        del _recent_frames[next(iter(_recent_frames))]
    return frame


def _kind(text: str) -> str:
    """What a message updates, named by its first element's id: the live state starts with the
    link status, the questions with their own list, a heartbeat is the beat."""
    found = _FIRST_ID.match(text)
    return found.group(1) if found else ""


_FIRST_ID = re.compile(r'\s*<[a-zA-Z][^>]*?\bid="([^"]*)"')


class StreamViewer(Viewer):
    """An SSE stream as a viewer of the hub: a mailbox holding the newest message of each kind.

    The hub's fan-out offers it each message like a socket's outbox, without waiting; the
    response takes them at the pace the client reads, skipping the states it missed (each
    message carries the whole of what it updates) — but a questions message never replaces a
    live state still waiting, nor the other way round. It has no WebSocket: every Outbox method
    the hub calls is overridden here.
    """

    __slots__ = ("_closed", "_pending_by_kind", "_wake")

    def __init__(self, audience: Audience, *, label: str) -> None:
        self.audience = audience
        self.label = label
        self._pending_by_kind: dict[str, str] = {}
        self._closed = False
        self._wake = asyncio.Event()

    @property
    def busy(self) -> bool:
        return False  # never holds a send: heartbeats are welcome, and only replace a heartbeat

    @property
    def pending(self) -> str | None:
        return "".join(self._pending_by_kind.values()) or None

    def offer(self, message: str | Message) -> None:
        self._offer(message if isinstance(message, Message) else Message(message))

    def _offer(self, message: Message) -> None:
        if self._closed:
            return
        kind = _kind(message.text)
        self._pending_by_kind.pop(kind, None)  # the newest of a kind goes last, in arrival order
        self._pending_by_kind[kind] = message.text
        self._wake.set()

    def stop(self) -> None:
        self._closed = True
        self._pending_by_kind.clear()
        self._wake.set()

    async def close(self, code: int) -> None:
        self.stop()

    async def frames(self) -> AsyncIterator[bytes]:
        # Ask the browser to come back soon if the stream ends (a restart); fallback.js decides.
        yield b"retry: 2000\n\n"
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending_by_kind and not self._closed:
                kind = next(iter(self._pending_by_kind))
                yield sse_frame(self._pending_by_kind.pop(kind))
            if self._closed:
                return


# --- polling ------------------------------------------------------------------------------------


def etag_of(message: str) -> str:
    """The same message has the same tag on every process behind one address."""
    return 'W/"' + hashlib.sha256(message.encode()).hexdigest()[:32] + '"'


class Pollers:
    """The pages that polled each event lately; the event's hub is held while it has any."""

    def __init__(self, hubs: HubRegistry, *, wall: Callable[[], float] = time.monotonic) -> None:
        self._hubs = hubs
        self._wall = wall
        self._seen: dict[str, dict[str, float]] = {}

    def seen(self, slug: str, page: str | None) -> None:
        if page is None or not PAGE_ID.fullmatch(page):
            return
        pages = self._seen.get(slug)
        if pages is None:
            if sum(map(len, self._seen.values())) >= MAX_POLLERS:
                return
            pages = self._seen[slug] = {}
            self._hubs.acquire(slug)  # released by `sweep` when its last poller is gone
        if page not in pages and sum(map(len, self._seen.values())) >= MAX_POLLERS:
            return
        pages[page] = self._wall()

    def count(self, slug: str) -> int:
        return len(self._seen.get(slug, {}))

    def events(self) -> list[str]:
        return list(self._seen)

    def sweep(self) -> None:
        oldest = self._wall() - POLLER_SECONDS
        for slug, pages in list(self._seen.items()):
            for page, at in list(pages.items()):
                if at < oldest:
                    del pages[page]
            if not pages:
                del self._seen[slug]
                self._hubs.release(slug)


# --- reports ------------------------------------------------------------------------------------


class AudienceReporter:
    """Tells the backend, every `REPORT_SECONDS`, how many viewers each followed event has here."""

    def __init__(
        self,
        *,
        api: ApiClient,
        hubs: HubRegistry,
        pollers: Pollers,
        secret_key: str,
        reporter: str | None = None,
        interval: float = REPORT_SECONDS,
    ) -> None:
        self._api = api
        self._hubs = hubs
        self.pollers = self._pollers = pollers
        self._headers = relay_headers(secret_key)
        self.reporter = reporter or reporter_name()
        self._interval = interval
        self._reported: set[str] = set()
        self._warned = False

    def count(self, slug: str) -> int:
        """Open viewer connections of `slug` in this process: public and overlay sockets and
        streams, and the pages that polled lately."""
        hub = self._hubs.get(slug)
        connections = sum(hub.viewers_of(audience) for audience in COUNTED) if hub is not None else 0
        return connections + self._pollers.count(slug)

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:  # a bug must not end the reports, nor go unnoticed
                logger.exception("audience not reported")
            await asyncio.sleep(self._interval)

    async def tick(self) -> None:
        self._pollers.sweep()
        followed = set(self._hubs.events()) | set(self._pollers.events())
        # An event left by its last viewer is reported once more, at zero, rather than left to age.
        counts = {slug: self.count(slug) for slug in followed | self._reported}
        self._reported = {slug for slug, viewers in counts.items() if viewers}
        await asyncio.gather(*(self._report(slug, viewers) for slug, viewers in counts.items()))

    async def _report(self, slug: str, viewers: int) -> None:
        path = f"/api/v1/events/{quote(slug, safe='')}/audience/reports"
        try:
            answer = await self._api.relay(
                "POST", path, json={"reporter": self.reporter, "viewers": viewers}, headers=self._headers
            )
        except ApiError as error:
            logger.info("audience of %s not reported: %s", slug, error)
            return
        if answer.status_code == 401 and not self._warned:
            self._warned = True
            logger.warning(
                "the backend refuses this frontend's audience reports: REGIE_SECRET_KEY differs "
                "between `regie api` and `regie web`"
            )


@contextlib.asynccontextmanager
async def reporting(reporter: AudienceReporter) -> AsyncIterator[None]:
    task = asyncio.create_task(reporter.run(), name="audience-reports")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
