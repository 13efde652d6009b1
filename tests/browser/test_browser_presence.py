"""Who is watching, across processes: pages open on two `regie web` processes, each in front of
its own `regie api`, all on one PostgreSQL and one Redis. The console of either counts them all,
and only them (not itself, not the frontends' own subscriptions).

Run it under the shared Redis lock (TEAM.md): `flock /tmp/regie-redis.lock pytest …`."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD, REDIS_URL, free_port, migrate, postgres_database, regie_env, seed
from tests.scaleout.conftest import Backend, Cluster, wait_for
from tests.scaleout.conftest import services as services  # PostgreSQL and Redis, checked

pytestmark = [pytest.mark.browser, pytest.mark.scaleout]
SLUG = "rencontre-pionniers-2019"
T = TypeVar("T")


@contextlib.contextmanager
def loop_in_a_thread() -> Iterator[Any]:
    """Playwright's sync API runs an event loop in this thread: the database is prepared on a
    loop of its own, in another thread (one loop for the whole module, so that the database's
    async context manager enters and exits on the same one)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="presence-db", daemon=True)
    thread.start()

    def run(coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(120)

    try:
        yield run
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.fixture(scope="module")
def cluster(services: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Two `regie api` and two `regie web` (each in front of one), on PostgreSQL and Redis: the
    scale-out tests' cluster (tests/scaleout/conftest.py), built beside a running browser."""
    logs = tmp_path_factory.mktemp("presence-cluster")
    with loop_in_a_thread() as run, contextlib.ExitStack() as stack:
        database_manager = postgres_database()
        database = run(database_manager.__aenter__())
        stack.callback(lambda: run(database_manager.__aexit__(None, None, None)))
        run(migrate(database))
        run(seed(database))
        env = regie_env(
            REGIE_DATABASE_URL=database,
            REGIE_BROADCAST_URL=REDIS_URL,
            REGIE_SECRET_KEY="presence-tests-secret",
        )
        backends = [Backend(name, free_port(), env, logs / f"{name}.log") for name in ("a", "b")]
        frontends = [
            Backend(
                f"web-{b.name}",
                free_port(),
                {**env, "REGIE_API_URL": b.url},
                logs / f"web-{b.name}.log",
                command="web",
            )
            for b in backends
        ]
        for server in [*backends, *frontends]:
            stack.callback(server.stop)
            server.start()
        wait_for(lambda: all(backend.redis_ready() for backend in backends), "the Redis subscribers", 10)
        yield Cluster(env, database, backends, frontends)


def open_console(page: Page, web_url: str) -> None:
    console = f"/events/{SLUG}/console"
    page.goto(f"{web_url}/login?next={console}")
    page.get_by_label("Identifiant").fill("moderator")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"**{console}")


def test_the_console_counts_the_open_pages_of_both_frontends(cluster: Cluster, browser: Any) -> None:
    web_a, web_b = cluster.frontends
    viewers = browser.new_context()
    moderator = browser.new_context()
    try:
        pages = [viewers.new_page() for _ in range(3)]
        for page, web in zip(pages, (web_a, web_a, web_b), strict=True):
            page.goto(f"{web.url}/events/{SLUG}")
            expect(page.locator("#live-status")).to_be_visible()
        overlay = viewers.new_page()
        overlay.goto(f"{web_b.url}/events/{SLUG}/overlay")

        console = moderator.new_page()
        open_console(console, web_b.url)
        count = console.locator("#console-audience [data-viewers]")
        # Three pages and the overlay, two processes; counted within 5 s, shown every 3 s.
        expect(count).to_have_attribute("data-viewers", "4", timeout=15_000)
        expect(console.locator("#console-audience")).to_contain_text("4 spectateurs en ce moment")

        pages[0].close()
        overlay.close()
        expect(count).to_have_attribute("data-viewers", "2", timeout=15_000)
        expect(console.locator("#console-audience [data-peak]")).to_have_attribute("data-peak", "4")
    finally:
        viewers.close()
        moderator.close()
