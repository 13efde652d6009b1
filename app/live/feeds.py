"""Messages published at most once an interval per event: the question list and the moderators'
signals.

A vote is cheap to take and there may be fifty a second; republishing the list on each would
multiply the fan-out by as much. So the process that commits a change does not publish at once:
it marks the event, and one send per event and interval reads the current message then and
publishes it. Several API processes each coalesce their own changes, so the hubs that fan the
list out to viewers coalesce again (`app.live.hub`): a viewer gets at most one `questions`
message a second however many processes take votes. The moderators' signals (a question asked
or moderated, a registration or a sign-up) go the same way, each feed on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable

from app.live.hub import QUESTIONS_INTERVAL, channel_name

logger = logging.getLogger(__name__)


def moderation_message(pending: int) -> bytes:
    """`{"type":"moderation","pending":N}`: the queue changed (a question asked or moderated).

    Sent only to the frontends' own subscriptions (`app.live.hub.MODERATORS_SIGNALS`): they then
    read the queue once with a moderator's bearer and push it to their consoles.
    """
    return b'{"type":"moderation","pending":%d}' % pending


def registrations_message(registered: int, sessions: dict[str, dict[str, int]]) -> bytes:
    """`{"type":"registrations","registered":N,"sessions":{id:{"confirmed":C,"waitlisted":W}}}`: a
    registration or a sign-up changed.

    Counts only, to the frontends' own subscriptions like `moderation_message`: they render the
    consoles' « Inscriptions » box from it, without reading anybody's registration.
    """
    message = {"type": "registrations", "registered": registered, "sessions": sessions}
    return json.dumps(message, separators=(",", ":")).encode()


LoadMessage = Callable[[str], Awaitable[bytes | None]]
Publish = Callable[[str, bytes], Awaitable[None]]


class CoalescedFeed:
    """One message per event and interval, read when it goes out: the newest, however many changes."""

    def __init__(
        self,
        name: str,
        *,
        load: LoadMessage,
        publish: Publish,
        interval: float = QUESTIONS_INTERVAL,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._name = name
        """What the feed publishes, for log lines."""
        self._load = load
        self._publish = publish
        self._interval = interval
        self._monotonic = monotonic
        self._pending: dict[str, asyncio.Task[None]] = {}
        self._last: dict[str, float] = {}

    def changed(self, slug: str) -> None:
        """The event's message changed: it goes out within one interval."""
        if slug not in self._pending:
            self._pending[slug] = asyncio.get_running_loop().create_task(self._send(slug))

    async def _send(self, slug: str) -> None:
        try:
            wait = self._last.get(slug, -math.inf) + self._interval - self._monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        finally:
            # Off the pending list before the read: a change during the read schedules the next send.
            del self._pending[slug]
        self._last[slug] = self._monotonic()
        try:
            message = await self._load(slug)
            if message is not None:
                await self._publish(channel_name(slug), message)
        except Exception as error:  # the next change or the next reader's GET catches up
            logger.warning("%s of %s not published: %s", self._name, slug, type(error).__name__)

    async def close(self) -> None:
        tasks = list(self._pending.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
