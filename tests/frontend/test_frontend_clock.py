"""The backend's clock as the frontend knows it: measured NTP-style, kept on the monotonic clock,
relayed to browsers by `/time`, and used for every time a page renders."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import programme_samples as samples
import pytest
from backend import Backend
from fastapi import FastAPI

from frontend.client import ApiUnavailable, NotFound, Unauthorized
from frontend.clock import ServerClock
from frontend.config import Settings
from frontend.main import create_app


class FakeTime:
    """Our wall and monotonic clocks, and a backend whose clock is `offset` ahead, reached in
    round trips of the given lengths (the server reads its clock at each trip's midpoint)."""

    def __init__(self, offset: float, trips: list[float]) -> None:
        self.wall = 1_000_000.0
        self.mono = 50.0
        self.offset = offset
        self.trips = list(trips)

    async def read(self) -> datetime:
        trip = self.trips.pop(0)
        self.advance(trip / 2)
        reading = self.wall + self.offset
        self.advance(trip / 2)
        return datetime.fromtimestamp(reading, UTC)

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


def clock_for(fake: FakeTime, samples: int = 5) -> ServerClock:
    return ServerClock(fake.read, samples=samples, wall=lambda: fake.wall, monotonic=lambda: fake.mono)


async def test_the_offset_comes_from_the_fastest_round_trip_at_its_midpoint() -> None:
    # A queue delays the answer of some trips (asymmetric delays): only the fastest is trusted.
    fake = FakeTime(offset=300.0, trips=[0.8, 0.05, 0.4, 0.02, 0.6])
    clock = clock_for(fake)
    assert not clock.synced
    sample = await clock.measure()
    assert sample is not None and sample.rtt == pytest.approx(0.02)
    assert clock.offset == pytest.approx(300.0, abs=1e-6)
    assert clock.uncertainty == pytest.approx(0.01)
    assert clock.now().timestamp() == pytest.approx(fake.wall + 300.0)


async def test_a_step_of_this_machines_clock_does_not_move_the_server_time() -> None:
    fake = FakeTime(offset=-42.0, trips=[0.01] * 5)
    clock = clock_for(fake)
    await clock.measure()
    before = clock.timestamp()
    fake.wall += 3600  # someone sets the system clock an hour ahead; the monotonic clock does not jump
    fake.mono += 2.0
    assert clock.timestamp() == pytest.approx(before + 2.0)


async def test_before_any_measurement_it_is_this_machines_clock() -> None:
    async def missing() -> datetime:
        raise NotFound(404, "Not Found")

    clock = ServerClock(missing, wall=lambda: 1234.5, monotonic=lambda: 1.0)
    assert await clock.measure() is None
    assert (clock.synced, clock.timestamp(), clock.offset) == (False, 1234.5, 0.0)


async def test_a_failed_measurement_keeps_the_last_good_one() -> None:
    fake = FakeTime(offset=10.0, trips=[0.01] * 5)
    clock = clock_for(fake)
    await clock.measure()

    async def down() -> datetime:
        raise Unauthorized(401, "no")

    clock._read = down
    assert await clock.measure() is None
    assert clock.offset == pytest.approx(10.0, abs=1e-6)


async def test_a_backend_still_starting_is_not_logged_as_a_failure(caplog: pytest.LogCaptureFixture) -> None:
    """`regie up` starts the pages beside a backend that is not listening yet."""
    caplog.set_level(logging.INFO, logger="frontend.clock")

    async def starting() -> datetime:
        raise ApiUnavailable(0, "GET /api/v1/time: ConnectError('All connection attempts failed')")

    clock = ServerClock(starting, wall=lambda: 1234.5, monotonic=lambda: 1.0)
    assert await clock.measure() is None
    assert caplog.records == []
    # Once it has answered, losing it is worth a line.
    fake = FakeTime(offset=0.0, trips=[0.01] * 5)
    clock._read = fake.read
    assert await clock.measure() is not None
    clock._read = starting
    await clock.measure()
    assert [r.getMessage() for r in caplog.records] == [
        "clock measurement failed: 0: GET /api/v1/time: ConnectError('All connection attempts failed')"
    ]


@pytest.fixture
async def shifted_app(settings: Settings, backend: Backend) -> AsyncIterator[FastAPI]:
    backend.clock.shift = 300.0  # the backend's clock is five minutes ahead of this machine's
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


async def test_time_relays_the_backends_clock_and_pages_render_on_it(
    shifted_app: FastAPI, backend: Backend
) -> None:
    services = shifted_app.state.services
    await services.clock.measure()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=shifted_app), base_url="http://t"
    ) as client:
        answer = await client.get("/time")
        real = datetime.now(UTC).timestamp()
        assert answer.headers["cache-control"] == "no-store"
        body = answer.json()
        assert body["synced"] is True
        assert body["server_time_ms"] / 1000 == pytest.approx(real + 300, abs=0.5)
        assert datetime.fromisoformat(body["server_time"]).timestamp() == pytest.approx(real + 300, abs=0.5)

        page = await client.get(f"/events/{samples.SLUG}")
        [stamp] = re.findall(r'data-server-now="(\d+)"', page.text)
        assert int(stamp) / 1000 == pytest.approx(datetime.now(UTC).timestamp() + 300, abs=0.5)
    assert backend.faults is not None and backend.faults.count("GET", "/api/v1/time") >= 5
