"""Two backends, one PostgreSQL, one Redis: every viewer sees every press, in order, once."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import psutil
import pytest

from tests.conftest import free_port
from tests.scaleout.conftest import Backend, Cluster, Moderator, viewers

pytestmark = pytest.mark.scaleout

PIONNIERS_2019 = "rencontre-pionniers-2019"
PIONNIERS_2015 = "rencontre-pionniers-2015"


async def test_a_press_on_either_backend_reaches_the_viewers_of_both_in_order(
    cluster: Cluster, moderator: Moderator
) -> None:
    slug = PIONNIERS_2019
    a, b = cluster.a, cluster.b
    async with viewers(a.ws_url(slug), a.ws_url(slug), b.ws_url(slug), b.ws_url(slug)) as watching:
        version = (await moderator.live(a, slug))["version"]
        pressed: list[tuple[str, int, float]] = []
        for step in range(12):
            backend = (a, b)[step % 2]
            action = "start" if step == 0 else ("next", "previous")[step % 2 == 0]
            at = time.time()
            response = await moderator.press(backend, slug, action, version)
            assert response.status_code == 200, response.text
            version = response.json()["version"]
            pressed.append((backend.name, version, at))
            await asyncio.sleep(0.02)
        for viewer in watching:
            await viewer.converge(version)
        for viewer in watching:
            assert viewer.disorder == []
            # Sequential presses, fast readers: every version arrives, in order, exactly once.
            assert viewer.versions == list(range(viewer.versions[0], version + 1))
        # Through Redis to the other backend's viewers: quick (the benchmark measures it).
        remote_delays = [
            arrival - at
            for (name, pressed_version, at) in pressed
            for viewer in watching
            if not viewer.url.startswith(f"ws://127.0.0.1:{(a if name == 'a' else b).port}/")
            for (arrived_version, arrival) in viewer.arrivals
            if arrived_version == pressed_version
        ]
        assert len(remote_delays) == 2 * len(pressed)
        assert sorted(remote_delays)[len(remote_delays) // 2] < 0.25


async def test_ten_simultaneous_presses_spread_over_two_backends_advance_once(
    cluster: Cluster, moderator: Moderator
) -> None:
    slug = PIONNIERS_2015
    a, b = cluster.a, cluster.b
    async with viewers(a.ws_url(slug), b.ws_url(slug)) as watching:
        start = await moderator.press(a, slug, "start", (await moderator.live(a, slug))["version"])
        assert start.status_code == 200, start.text
        version = start.json()["version"]
        before = await moderator.timeline(a, slug)
        answers = await asyncio.gather(
            *(moderator.press((a, b)[i % 2], slug, "next", version) for i in range(10))
        )
        codes = sorted(answer.status_code for answer in answers)
        assert codes == [200] + [409] * 9, [answer.text for answer in answers]
        for answer in answers:
            if answer.status_code == 409:
                # The loser is told the state that won.
                assert answer.json()["live"]["version"] == version + 1
        after = await moderator.timeline(b, slug)
        assert [entry["version"] for entry in after] == [entry["version"] for entry in before] + [version + 1]
        for viewer in watching:
            await viewer.converge(version + 1)
            assert viewer.disorder == []
            assert viewer.versions[-2:] == [version, version + 1]


async def test_a_press_on_either_backend_reaches_the_pages_of_both_frontends(
    cluster: Cluster, moderator: Moderator
) -> None:
    slug = "odd17-en-pratique-2020"
    a, b = cluster.a, cluster.b
    web_a, web_b = cluster.frontends
    async with viewers(web_a.ws_url(slug), web_b.ws_url(slug), web_b.ws_url(slug)) as watching:
        version = (await moderator.live(a, slug))["version"]
        for step in range(6):
            action = "start" if step == 0 else ("next", "previous")[step % 2 == 0]
            response = await moderator.press((a, b)[step % 2], slug, action, version)
            assert response.status_code == 200, response.text
            version = response.json()["version"]
            await asyncio.sleep(0.05)
        for viewer in watching:
            await viewer.converge(version)
            assert viewer.disorder == []
            # A page may skip a state it was too slow for, never go back to one.
            assert viewer.versions == sorted(viewer.versions)
            assert viewer.versions[-1] == version


async def test_uvicorn_workers_share_the_show_through_redis(
    cluster: Cluster, moderator: Moderator, tmp_path: Path
) -> None:
    """`regie api --workers 2`: the kernel spreads viewers over both workers; every one of them
    sees every press, wherever it was made."""
    slug = "rencontre-pionniers-2019"
    workers = Backend(
        "workers", free_port(), cluster.env, tmp_path / "workers.log", options=("--workers", "2")
    )
    await asyncio.to_thread(workers.start)
    assert workers.process is not None
    parent = psutil.Process(workers.process.pid)

    def holding() -> int:
        return sum(
            any(connection.laddr.port == workers.port for connection in child.net_connections("tcp"))
            for child in parent.children()
        )

    try:
        async with contextlib.AsyncExitStack() as stack:
            watching = []
            while len(watching) < 64 and (not watching or holding() < 2):
                watching += await stack.enter_async_context(viewers(*[workers.ws_url(slug)] * 16))
            assert holding() == 2, "the viewers did not spread over both workers"
            live = await moderator.live(cluster.a, slug)
            if live["status"] == "scheduled":  # this test alone, without the one above
                live = (await moderator.press(workers, slug, "start", live["version"])).json()
            version = live["version"]
            moves = ("next", "previous") if live["next_item"] else ("previous", "next")
            for step in range(4):
                response = await moderator.press(workers, slug, moves[step % 2], version)
                assert response.status_code == 200, response.text
                version = response.json()["version"]
            for viewer in watching:
                await viewer.converge(version)
                assert viewer.disorder == []
    finally:
        await asyncio.to_thread(workers.stop)


async def test_regie_import_reaches_the_viewers_of_every_backend_through_redis(
    cluster: Cluster, tmp_path: Path
) -> None:
    """A command is a process of its own: with Redis it announces like a server does (no backend
    polls the database then), so a programme imported while the show's pages are open reaches
    every viewer at once."""
    import copy
    import uuid

    from app.cli import import_programmes, read_programme
    from app.config import Settings
    from tests.conftest import REDIS_URL, programme_file
    from tests.test_programme import MINIMAL

    slug = f"import-redis-{uuid.uuid4().hex[:8]}"  # Redis channels are shared: a slug of its own
    settings = Settings(database_url=cluster.database_url, broadcast_url=REDIS_URL)
    document = copy.deepcopy(MINIMAL) | {"slug": slug}
    await import_programmes(settings, [read_programme(programme_file(tmp_path, document))])
    async with viewers(cluster.a.ws_url(slug), cluster.b.ws_url(slug)) as watching:
        for viewer in watching:
            await viewer.converge(0)
        changed = document | {"title": "Importé pendant le direct"}
        started = time.monotonic()
        await import_programmes(settings, [read_programme(programme_file(tmp_path, changed, "again.yaml"))])
        for viewer in watching:
            await viewer.converge(1)
        assert time.monotonic() - started < 2
