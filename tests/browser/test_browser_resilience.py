"""A viewer stays on the live state: through server restarts, odd close codes and late messages."""

from __future__ import annotations

import re

import pytest
from conftest import Stack
from playwright.sync_api import Page, WebSocketRoute, expect

pytestmark = pytest.mark.browser

LIVE_SOCKET = re.compile(r".*/events/[a-z0-9-]+/ws$")


def test_viewer_reconnects_after_frontend_and_backend_restart(page: Page, stack: Stack) -> None:
    slug = "essai-restart"
    stack.control(slug, "start")
    page.goto(f"{stack.web_url}/events/{slug}")
    now = page.locator("#live-now")
    expect(now).to_contain_text("Accueil des participants")
    page.evaluate("window.__sameDocument = true")

    stack.web.stop()
    stack.api.stop()
    expect(page.locator("[data-connection]")).to_be_visible()

    # The frontend comes back first, while the backend is still down: the page says so.
    stack.web.start()
    expect(page.locator("[data-connection]")).to_be_hidden(timeout=3000)
    expect(page.locator("#live-link")).to_contain_text("La liaison avec la régie est interrompue")

    stack.api.start()
    expect(page.locator("#live-link")).to_be_hidden(timeout=3000)
    stack.control(slug, "next")
    expect(now).to_contain_text("Les résultats de l'étude", timeout=3000)
    assert page.evaluate("window.__sameDocument") is True

    # And both restarted the other way round, the backend first.
    stack.api.stop()
    stack.web.stop()
    stack.api.start()
    stack.web.start()
    stack.control(slug, "next")
    expect(now).to_contain_text("Une annonce pour les territoires", timeout=3000)
    expect(page.locator("[data-connection]")).to_be_hidden()
    assert page.evaluate("window.__sameDocument") is True


def test_viewer_reconnects_within_seconds_after_a_long_restart(page: Page, stack: Stack) -> None:
    """Down longer than the fallback waits (15 s): the page tries SSE and polling, which fail as well,
    and its socket must still retry quickly, not at the slow pace kept for a fallback that delivers."""
    slug = "essai-long-restart"
    stack.control(slug, "start")
    page.goto(f"{stack.web_url}/events/{slug}")
    now = page.locator("#live-now")
    expect(now).to_contain_text("Accueil des participants")

    stack.web.stop()
    stack.api.stop()
    expect(page.locator("[data-connection]")).to_be_visible()
    page.wait_for_timeout(17_000)
    stack.api.start()
    stack.web.start()
    expect(page.locator("[data-connection]")).to_be_hidden(timeout=4000)
    stack.control(slug, "next")
    expect(now).to_contain_text("Les résultats de l'étude", timeout=3000)
    # Back on its socket, not left on a fallback that retries the socket every 10–20 s.
    expect(page.locator("[data-fallback-live]")).to_have_count(0, timeout=3000)


def test_viewer_reconnects_after_a_going_away_close(page: Page, stack: Stack) -> None:
    """htmx's ws extension gives up on 1001; the page's own script does not."""
    slug = "essai-away"
    connections: list[WebSocketRoute] = []

    def going_away_once(ws: WebSocketRoute) -> None:
        connections.append(ws)
        if len(connections) == 1:
            ws.close(code=1001, reason="going away")
        else:
            ws.connect_to_server()

    page.route_web_socket(LIVE_SOCKET, going_away_once)
    page.goto(f"{stack.web_url}/events/{slug}")
    expect(page.locator("#live-status")).to_be_visible()
    for _ in range(50):
        if len(connections) >= 2:
            break
        page.wait_for_timeout(100)
    assert len(connections) >= 2, "the page did not reconnect after a 1001 close"
    expect(page.locator("[data-connection]")).to_be_hidden()
    before = int(page.locator("#live-status").get_attribute("data-version") or "0")
    stack.control(slug, "start")
    expect(page.locator("#live-status")).not_to_have_attribute("data-version", str(before))


def test_viewer_never_shows_an_older_version_after_a_newer_one(page: Page, stack: Stack) -> None:
    slug = "essai-order"
    stack.control(slug, "start")
    first_messages: list[str | bytes] = []
    routes: list[WebSocketRoute] = []

    def remember_first(ws: WebSocketRoute) -> None:
        routes.append(ws)
        server = ws.connect_to_server()

        def from_server(message: str | bytes) -> None:
            if not first_messages:
                first_messages.append(message)
            ws.send(message)

        server.on_message(from_server)

    page.route_web_socket(LIVE_SOCKET, remember_first)
    page.goto(f"{stack.web_url}/events/{slug}")
    status = page.locator("#live-status")
    expect(status).to_have_attribute("data-version", re.compile(r"\d+"))
    before = int(status.get_attribute("data-version") or "0")
    for _ in range(50):
        if first_messages:
            break
        page.wait_for_timeout(100)
    assert first_messages, "the frontend did not send the state on connect"

    after = stack.control(slug, "next")
    expect(status).to_have_attribute("data-version", str(after["version"]))

    # The countdown ticks on its own between two reads: compare what is on air, not the clock.
    def on_air() -> str:
        return re.sub(r"\d+ (?:h|min|s)\b", "…", page.locator("#live-now").inner_text())

    shown = on_air()

    routes[-1].send(first_messages[0])  # a late message of an older version arrives
    page.wait_for_timeout(300)
    expect(status).to_have_attribute("data-version", str(after["version"]))
    assert on_air() == shown
    assert after["version"] > before
