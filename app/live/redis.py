"""Redis pub/sub broadcast: a press on any backend reaches the viewers of every process.

Redis pub/sub is at-most-once: it forgets what was published while a subscriber was away, and
a publisher can die between its commit and its publish. So the database stays the truth and
Redis only makes it arrive fast:

- one subscriber connection per process, owned by one task, which pings Redis to notice a dead
  peer, and reconnects with backoff; once Redis has confirmed every subscription of a new
  connection, `resync` re-reads the live states from the database;
- a publish that fails never fails the command (it is committed already): the local viewers
  have it, and a "resync" signal is published on the control channel as soon as Redis takes
  it again, so that other processes re-read the database;
- every `reconcile_seconds` (and every `degraded_poll_seconds` while Redis is unreachable) the
  process resyncs anyway, which covers a publisher killed between commit and publish.

Receivers drop any version older than the one they hold, so duplicates and reordering between
these paths are harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from app.live.broadcast import Listener, Resync

logger = logging.getLogger(__name__)

CONTROL_CHANNEL = "regie:control"
"""Carries resync signals; also keeps the subscriber subscribed when no event has viewers here."""
RESYNC_SIGNAL = b"resync"
READY_PING = b"regie-ready"
LOCAL_GRACE = 0.05
"""Seconds local viewers wait for Redis to take a message before they get it anyway."""

_FAILURES = (RedisError, OSError, TimeoutError)


class RedisBroadcast:
    def __init__(
        self,
        url: str,
        *,
        listener: Listener,
        resync: Resync,
        ping_seconds: float = 2.0,
        reconcile_seconds: float = 15.0,
        degraded_poll_seconds: float = 2.0,
        publish_timeout: float = 1.0,
    ) -> None:
        self._url = url
        self._listener = listener
        self._resync = resync
        self._ping_seconds = ping_seconds
        self._reconcile_seconds = reconcile_seconds
        self._degraded_poll_seconds = degraded_poll_seconds
        self._publish_timeout = publish_timeout
        self._channels: set[str] = set()
        self._confirmed: set[str] = set()
        self._waiters: dict[str, set[asyncio.Future[None]]] = {}
        self._pubsub: PubSub | None = None
        self._stale = False
        # One retry: after a Redis restart the pooled connection is dead, a fresh one is not.
        self._publisher = Redis.from_url(
            url,
            socket_timeout=publish_timeout,
            socket_connect_timeout=publish_timeout,
            retry=Retry(NoBackoff(), 1),
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._resync_wanted = asyncio.Event()
        self._signal_owed = asyncio.Event()
        self.connected = asyncio.Event()
        """Set while the subscriber is connected and every subscription is confirmed."""
        self.resyncs = 0
        """Completed resynchronisations (tests and logs read it)."""

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._subscribe_forever(), name="regie-redis-subscriber"),
            asyncio.create_task(self._resync_forever(), name="regie-redis-resync"),
            asyncio.create_task(self._signal_forever(), name="regie-redis-signal"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self._publisher.aclose()

    async def publish(self, channel: str, message: bytes) -> None:
        """Send to Redis, then fan out to this process's viewers; never raises.

        Redis first, so that the other processes fan out on their cores while this one does
        rather than after it; but local viewers wait at most `LOCAL_GRACE` for a slow Redis.
        The echo that comes back carries the same version and is dropped.
        """
        sending = asyncio.ensure_future(self._send(channel, message))
        if channel in self._channels:
            await asyncio.wait({sending}, timeout=LOCAL_GRACE)
            self._listener(channel, message)
        await sending

    async def _send(self, channel: str, message: bytes) -> None:
        try:
            async with asyncio.timeout(self._publish_timeout):
                await self._publisher.publish(channel, message)
        except _FAILURES as error:
            # The command is committed and answered: other processes learn of it from the
            # resync signal, or from their own resync when their subscriber comes back.
            if not self._signal_owed.is_set():
                logger.warning("could not publish to Redis (%s); others will resync", _describe(error))
            self._signal_owed.set()

    async def subscribe(self, channel: str) -> None:
        """Subscribe, and return once Redis confirms it: a change published afterwards reaches us.

        While the subscriber is disconnected this returns at once; its reconnection subscribes
        every channel and resyncs, which covers whatever the caller reads meanwhile.
        """
        self._channels.add(channel)
        pubsub = self._pubsub
        if pubsub is None or channel in self._confirmed:
            return
        confirmed = asyncio.get_running_loop().create_future()
        waiters = self._waiters.setdefault(channel, set())
        waiters.add(confirmed)
        try:
            async with asyncio.timeout(self._publish_timeout * 2):
                await pubsub.subscribe(channel)
                await confirmed
        except _FAILURES as error:
            logger.warning("could not subscribe to %s (%s); reconnecting", channel, _describe(error))
            self._stale = True
        finally:
            waiters.discard(confirmed)

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        self._confirmed.discard(channel)
        pubsub = self._pubsub
        if pubsub is not None:
            # A subscription left behind costs nothing but ignored messages: no need to insist.
            with contextlib.suppress(*_FAILURES):
                async with asyncio.timeout(self._publish_timeout):
                    await pubsub.unsubscribe(channel)

    # --- the subscriber ----------------------------------------------------------------------

    async def _subscribe_forever(self) -> None:
        delay = 0.1
        while True:
            # No retries inside redis-py: a silent reconnection would skip our resync.
            client: Redis = Redis.from_url(
                self._url, socket_connect_timeout=2, socket_timeout=2, retry=Retry(NoBackoff(), 0)
            )
            pubsub = client.pubsub()
            try:
                await self._connect(pubsub)
                delay = 0.1
                await self._listen(pubsub)
            except _FAILURES as error:
                logger.warning("Redis subscriber lost (%s); reconnecting in %.1f s", _describe(error), delay)
            finally:
                self._disconnected()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                with contextlib.suppress(Exception):
                    await client.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def _connect(self, pubsub: PubSub) -> None:
        wanted = set(self._channels)
        await pubsub.subscribe(CONTROL_CHANNEL, *wanted)
        self._pubsub = pubsub
        self._stale = False
        # From here on `subscribe()` sends its own SUBSCRIBE; these joined in between.
        if missing := self._channels - wanted:
            await pubsub.subscribe(*missing)
        # Redis answers in order: when this PING's answer comes back, every subscription above
        # is in force, and only then is reading the database guaranteed to miss nothing.
        await pubsub.ping(READY_PING)

    async def _listen(self, pubsub: PubSub) -> None:
        loop = asyncio.get_running_loop()
        last_heard = next_ping = loop.time()
        while not self._stale:
            message = await pubsub.get_message(timeout=min(1.0, self._ping_seconds))
            now = loop.time()
            if message is not None:
                last_heard = now
                self._handle(message)
            if now >= next_ping:
                if now - last_heard > 2 * self._ping_seconds + 1:
                    raise TimeoutError(f"Redis did not answer a ping for {now - last_heard:.1f} s")
                await pubsub.ping()
                next_ping = now + self._ping_seconds

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        channel = _text(message.get("channel"))
        if kind == "message":
            if channel == CONTROL_CHANNEL:
                self._resync_wanted.set()
                return
            try:
                self._listener(channel, message["data"])
            except Exception:
                logger.exception("live message on %s could not be delivered", channel)
        elif kind == "subscribe":
            self._confirmed.add(channel)
            for waiter in self._waiters.get(channel, ()):
                if not waiter.done():
                    waiter.set_result(None)
        elif kind == "unsubscribe":
            if channel not in self._channels:
                self._confirmed.discard(channel)
        elif kind == "pong" and message["data"] == READY_PING:
            logger.info("Redis subscriber connected; resynchronising live states")
            self.connected.set()
            self._resync_wanted.set()

    def _disconnected(self) -> None:
        self.connected.clear()
        self._pubsub = None
        self._confirmed.clear()

    # --- resync and signals --------------------------------------------------------------------

    async def _resync_forever(self) -> None:
        delay = 0.5
        while True:
            period = self._reconcile_seconds if self.connected.is_set() else self._degraded_poll_seconds
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(period):
                    await self._resync_wanted.wait()
            self._resync_wanted.clear()
            try:
                await self._resync()
            except Exception as error:
                # The database may be down too; the next attempt comes soon.
                logger.warning("resync failed (%s); retrying in %.1f s", _describe(error), delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                self._resync_wanted.set()
            else:
                self.resyncs += 1
                delay = 0.5

    async def _signal_forever(self) -> None:
        delay = 0.1
        while True:
            await self._signal_owed.wait()
            # Cleared before publishing: a failure meanwhile owes a signal again.
            self._signal_owed.clear()
            try:
                async with asyncio.timeout(self._publish_timeout):
                    await self._publisher.publish(CONTROL_CHANNEL, RESYNC_SIGNAL)
            except _FAILURES:
                self._signal_owed.set()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
            else:
                logger.info("Redis is back: asked every process to resync")
                delay = 0.1


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _describe(error: BaseException) -> str:
    return str(error) or type(error).__name__
