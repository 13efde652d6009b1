"""The backend's clock, as this frontend knows it: the one time every screen of a show agrees on.

Measured NTP-style over the public API (`GET /api/v1/time`): several round trips, the one with
the smallest round-trip time kept, its reading placed at the midpoint of the trip, so the error is
at most half that round trip. Between measurements the estimate runs on this machine's monotonic
clock, so a step of the system clock here (an NTP correction, a wrong manual setting) does not move
the times the pages show.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from frontend.client import ApiError, ApiUnavailable, NotFound

logger = logging.getLogger(__name__)

Clock = Callable[[], float]
ReadServerTime = Callable[[], Awaitable[datetime]]


@dataclass(frozen=True, slots=True)
class Sample:
    """One round trip: the server's reading and where our clocks stood at the trip's midpoint."""

    server: float  # the server's time, seconds since the epoch
    midpoint_wall: float  # our wall clock at the midpoint
    midpoint_monotonic: float  # our monotonic clock at the midpoint
    rtt: float

    @property
    def offset(self) -> float:
        """The server's clock minus ours (wall clock), in seconds."""
        return self.server - self.midpoint_wall


def best(samples: list[Sample]) -> Sample | None:
    """The sample with the smallest round trip: the least delayed by queues on the way."""
    return min(samples, key=lambda sample: sample.rtt, default=None)


class ServerClock:
    """`now()` is the backend's time; the wall clock of this machine until the first measurement."""

    def __init__(
        self,
        read_server_time: ReadServerTime,
        *,
        samples: int = 5,
        resync_seconds: float = 300.0,
        retry_seconds: float = 5.0,
        wall: Clock = time.time,
        monotonic: Clock = time.monotonic,
    ) -> None:
        self._read = read_server_time
        self._samples = samples
        self._resync = resync_seconds
        self._retry = retry_seconds
        self._wall = wall
        self._monotonic = monotonic
        self._reference: Sample | None = None
        self._warned = False

    @property
    def synced(self) -> bool:
        return self._reference is not None

    @property
    def offset(self) -> float:
        """The backend's clock minus this machine's wall clock, in seconds (0 until measured)."""
        return self.timestamp() - self._wall()

    @property
    def uncertainty(self) -> float | None:
        """Half the round trip of the sample in use: the offset is right to within this."""
        return self._reference.rtt / 2 if self._reference else None

    def timestamp(self) -> float:
        reference = self._reference
        if reference is None:
            return self._wall()
        return reference.server + (self._monotonic() - reference.midpoint_monotonic)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp(), UTC)

    def now_ms(self) -> int:
        return int(self.timestamp() * 1000)

    async def measure(self) -> Sample | None:
        """Take a few round trips, one after the other (in parallel they would queue behind each
        other and inflate the round trip), and keep the best; None when the backend did not answer."""
        samples: list[Sample] = []
        for _ in range(self._samples):
            wall, start = self._wall(), self._monotonic()
            try:
                server = await self._read()
            except NotFound:
                if not self._warned:
                    self._warned = True
                    logger.warning("the backend has no GET /api/v1/time: pages use this machine's clock")
                return None
            except ApiError as error:
                if self._reference is None and isinstance(error, ApiUnavailable) and error.status == 0:
                    # Not a failure: `regie up` starts the pages beside a backend still starting,
                    # and the clock is measured again in a moment.
                    logger.debug("backend not answering yet, its clock will be measured when it does")
                else:
                    logger.info("clock measurement failed: %s", error)
                break
            rtt = self._monotonic() - start
            samples.append(Sample(server.timestamp(), wall + rtt / 2, start + rtt / 2, rtt))
        chosen = best(samples)
        if chosen is not None:
            self._reference = chosen
            logger.debug("backend clock offset %+.3f s (± %.3f s)", chosen.offset, chosen.rtt / 2)
        return chosen

    async def run(self) -> None:
        """Measure now and every `resync_seconds`; retry sooner while the backend cannot answer."""
        while True:
            sample = await self.measure()
            await asyncio.sleep(self._resync if sample is not None else self._retry)
