"""Faults mid-show: Redis cut or restarted, PostgreSQL restarted, a backend killed.

A moderator keeps pressing on both backends throughout; afterwards every viewer must have
converged on the live state, and every press answered 200 must be in the timeline, as it was
answered (no command answered 200 is lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest

from tests.scaleout.conftest import (
    Backend,
    Cluster,
    Moderator,
    Viewer,
    run,
    start_postgres,
    start_redis,
    stop_postgres,
    stop_redis,
    viewers,
)

pytestmark = [pytest.mark.scaleout, pytest.mark.usefixtures("restore_services")]

DINER = "diner-elus-entreprises-2020"
ODD17 = "odd17-en-pratique-2020"
PIONNIERS_2015 = "rencontre-pionniers-2015"
PIONNIERS_2019 = "rencontre-pionniers-2019"


@dataclass
class Show:
    """Presses next / previous in turn, alternating backends, until stopped; tolerant of faults."""

    moderator: Moderator
    slug: str
    backends: list[Backend]
    answered: dict[int, str] = field(default_factory=dict)
    statuses: list[int] = field(default_factory=list)
    version: int = 0

    async def begin(self) -> None:
        live = await self.moderator.live(self.backends[0], self.slug)
        response = await self.moderator.press(self.backends[0], self.slug, "start", live["version"])
        assert response.status_code == 200, response.text
        self.version = response.json()["version"]
        self.answered[self.version] = "start"

    async def press(self, backend: Backend) -> int:
        action = ("next", "previous")[len(self.answered) % 2 == 0]
        try:
            response = await self.moderator.press(backend, self.slug, action, self.version)
        except httpx.HTTPError:
            self.statuses.append(0)  # the backend is down: a browser would show an error
            return 0
        self.statuses.append(response.status_code)
        if response.status_code == 200:
            self.version = response.json()["version"]
            self.answered[self.version] = action
        elif response.status_code == 409:
            self.version = response.json()["live"]["version"]
        return response.status_code

    @contextlib.asynccontextmanager
    async def running(self, interval: float = 0.05) -> AsyncIterator[None]:
        stopping = asyncio.Event()

        async def loop() -> None:
            turn = 0
            while not stopping.is_set():
                await self.press(self.backends[turn % len(self.backends)])
                turn += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), interval)

        task = asyncio.create_task(loop())
        try:
            yield
        finally:
            # Not cancelled: a press cut off mid-flight could commit without us seeing its answer.
            stopping.set()
            await task

    async def verify(self, watching: list[Viewer], timeout: float = 10) -> None:
        """Viewers converge on the live state; every 200 is in the timeline as answered."""
        live = await self.moderator.live(self.backends[0], self.slug)
        assert live["version"] == self.version
        for viewer in watching:
            await viewer.converge(self.version, timeout)
            assert viewer.disorder == []
        timeline = await self.moderator.timeline(self.backends[-1], self.slug)
        recorded = {entry["version"]: entry["action"] for entry in timeline}
        assert {version: recorded.get(version) for version in self.answered} == self.answered
        assert len(self.answered) > 5


async def wait_ready(backends: list[Backend], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2) as client:
        for backend in backends:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{backend.url}/healthz")).status_code == 200:
                        break
                assert time.monotonic() < deadline, f"{backend.name} not healthy after {timeout} s"
                await asyncio.sleep(0.1)


async def test_redis_dropping_its_subscribers_mid_show(cluster: Cluster, moderator: Moderator) -> None:
    show = Show(moderator, PIONNIERS_2019, cluster.backends)
    a, b = cluster.a, cluster.b
    async with viewers(a.ws_url(show.slug), b.ws_url(show.slug)) as watching:
        await show.begin()
        async with show.running():
            await asyncio.sleep(0.3)
            for _ in range(3):
                run("redis-cli -p 6379 client kill type pubsub")
                await asyncio.sleep(0.3)
            await asyncio.sleep(0.5)
        await show.verify(watching)
        assert set(show.statuses) == {200}


async def test_redis_restarted_mid_show(cluster: Cluster, moderator: Moderator) -> None:
    show = Show(moderator, ODD17, cluster.backends)
    a, b = cluster.a, cluster.b
    pages = [web.ws_url(show.slug) for web in cluster.frontends]
    async with viewers(a.ws_url(show.slug), b.ws_url(show.slug), *pages) as watching:
        await show.begin()
        async with show.running():
            await asyncio.sleep(0.3)
            await asyncio.to_thread(stop_redis)
            await asyncio.sleep(1.5)
            # Redis down: presses still succeed (they are committed), and while it is away the
            # backends read the database every couple of seconds, so viewers still follow.
            down_since = len(show.statuses)
            await asyncio.sleep(1.0)
            assert show.statuses[down_since:]
            assert set(show.statuses[down_since:]) == {200}
            for viewer in watching[:2]:
                await viewer.converge(show.version - 1, timeout=5)
            await asyncio.to_thread(start_redis)
            await asyncio.sleep(1.5)
        await show.verify(watching)


async def test_postgresql_restarted_mid_show_and_a_clear_503_while_down(
    cluster: Cluster, moderator: Moderator
) -> None:
    show = Show(moderator, DINER, cluster.backends)
    a, b = cluster.a, cluster.b
    async with viewers(a.ws_url(show.slug), b.ws_url(show.slug)) as watching:
        await show.begin()
        async with show.running():
            await asyncio.sleep(0.3)
            await asyncio.to_thread(stop_postgres)
            try:
                for backend in (a, b):
                    started = time.monotonic()
                    response = await moderator.press(backend, show.slug, "next", show.version)
                    elapsed = time.monotonic() - started
                    assert response.status_code == 503, response.text
                    assert "database" in response.json()["detail"]
                    assert response.headers["retry-after"]
                    assert elapsed < 3, f"the 503 took {elapsed:.1f} s"
            finally:
                await asyncio.to_thread(start_postgres)
            await wait_ready([a, b])
            await asyncio.sleep(1.0)
        assert 503 in show.statuses
        assert show.statuses[-1] == 200
        await show.verify(watching)


async def test_a_backend_killed_mid_show(cluster: Cluster, moderator: Moderator) -> None:
    show = Show(moderator, PIONNIERS_2015, cluster.backends)
    a, b = cluster.a, cluster.b
    web_b = cluster.frontends[1]  # its backend is the one killed
    async with viewers(
        a.ws_url(show.slug), b.ws_url(show.slug), b.ws_url(show.slug), web_b.ws_url(show.slug)
    ) as watching:
        await show.begin()
        async with show.running():
            await asyncio.sleep(0.3)
            b.kill()
            await asyncio.sleep(0.5)
            # The show goes on on `a`; `b`'s viewers are cut off until it comes back.
            await asyncio.to_thread(b.start)
            await asyncio.sleep(1.0)
        assert 0 in show.statuses  # presses on the dead backend failed, visibly
        await show.verify(watching)
        assert all(viewer.connections >= 2 for viewer in watching[1:3])
