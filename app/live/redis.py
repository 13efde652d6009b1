"""Redis pub/sub broadcast: a press on any backend reaches the viewers of every process.

Redis pub/sub forgets messages sent while a subscriber is away. So this class keeps one
subscriber connection, reconnects it with backoff when Redis or the network blips, and after each
reconnection calls `resync`, which re-reads the live state from the database: viewers converge
on the truth even when a message was lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from app.live.broadcast import Listener, Resync

logger = logging.getLogger(__name__)


class RedisBroadcast:
    def __init__(self, url: str, *, listener: Listener, resync: Resync) -> None:
        self._url = url
        self._listener = listener
        self._resync = resync
        self._channels: set[str] = set()
        self._publisher = Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._reader: asyncio.Task[None] | None = None
        self._pubsub: PubSub | None = None
        self.connected = asyncio.Event()

    async def start(self) -> None:
        self._reader = asyncio.create_task(self._read_forever(), name="regie-redis-subscriber")

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self._publisher.aclose()

    async def publish(self, channel: str, message: bytes) -> None:
        # Local viewers first: they need not wait for the round trip, and the echo that comes
        # back through Redis carries the same version and is dropped.
        if channel in self._channels:
            self._listener(channel, message)
        try:
            await self._publisher.publish(channel, message)
        except (RedisError, OSError) as error:
            # The command is committed; other processes catch up when their subscriber
            # reconnects and resyncs from the database.
            logger.warning("could not publish to Redis (%s); other processes will resync", error)

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)
        pubsub = self._pubsub
        if pubsub is not None:
            try:
                await pubsub.subscribe(channel)
            except (RedisError, OSError):
                logger.warning("could not subscribe to %s yet; will on reconnection", channel)

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        pubsub = self._pubsub
        if pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.unsubscribe(channel)

    async def _read_forever(self) -> None:
        delay = 0.1
        first = True
        while True:
            client = Redis.from_url(self._url, socket_connect_timeout=2, health_check_interval=5)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                # A dedicated placeholder channel keeps the connection subscribed (and so
                # listening) even when no event has viewers in this process.
                await pubsub.subscribe("regie:alive", *self._channels)
                self._pubsub = pubsub
                self.connected.set()
                if not first:
                    logger.info("Redis subscriber reconnected; resynchronising live states")
                    await self._resync()
                first, delay = False, 0.1
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        channel = message["channel"]
                        name = channel.decode() if isinstance(channel, bytes) else str(channel)
                        self._listener(name, message["data"])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as error:
                logger.warning("Redis subscriber lost (%s); reconnecting in %.1f s", error, delay)
            finally:
                self.connected.clear()
                self._pubsub = None
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                with contextlib.suppress(Exception):
                    await client.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
            first = False
