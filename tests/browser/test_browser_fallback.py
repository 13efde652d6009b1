"""A viewer behind a proxy that blocks WebSockets: the live page follows the show by SSE, then,
with SSE blocked too, by polling — never telling the viewer the connection is lost."""

from __future__ import annotations

import re

import pytest
from conftest import Stack
from playwright.sync_api import Page, Route, WebSocketRoute, expect

pytestmark = pytest.mark.browser
LIVE_SOCKET = re.compile(r".*/events/[a-z0-9-]+/ws$")
LIVE_STREAM = re.compile(r".*/events/[a-z0-9-]+/sse$")
POLLED = re.compile(r".*/events/[a-z0-9-]+/fragments\?.*")


def test_a_page_without_websockets_follows_by_sse_then_by_polling(page: Page, stack: Stack) -> None:
    slug = "essai-repli"
    sockets: list[WebSocketRoute] = []
    streams: list[str] = []
    polls: list[str] = []
    proxy = {"blocks_websockets": True}

    def blocked_socket(ws: WebSocketRoute) -> None:
        sockets.append(ws)
        if proxy["blocks_websockets"]:
            ws.close(code=1006, reason="blocked by the proxy")
        else:
            ws.connect_to_server()

    def count_streams(route: Route) -> None:
        streams.append(route.request.url)
        route.continue_()

    def count_polls(route: Route) -> None:
        polls.append(route.request.url)
        route.continue_()

    page.route_web_socket(LIVE_SOCKET, blocked_socket)
    page.route(LIVE_STREAM, count_streams)
    page.route(POLLED, count_polls)
    page.goto(f"{stack.web_url}/events/{slug}")
    status, now = page.locator("#live-status"), page.locator("#live-now")
    banner = page.locator("[data-connection]")
    expect(status).to_contain_text("À venir")

    stack.control(slug, "start")
    # Within 3 s over SSE, as promised (Playwright's polling, not a measurement).
    expect(now).to_contain_text("Accueil des participants", timeout=3_000 + 5_000)
    expect(banner).to_be_hidden()
    assert sockets and streams and not polls

    # The proxy blocks SSE as well: the page polls, and still follows within 10 s.
    page.unroute(LIVE_STREAM)
    page.route(LIVE_STREAM, lambda route: route.abort())
    # An open stream is not cut by a new route: the page reloads through the proxy as it now is.
    page.reload()
    expect(status).to_contain_text("En direct")
    stack.control(slug, "next")
    expect(now).to_contain_text("Les résultats de l'étude", timeout=10_000 + 5_000)
    expect(banner).to_be_hidden()
    assert polls
    expect(page.locator("article.live-page")).to_have_attribute("data-fallback-live", "")

    # A 304 while nothing changes: the polled page stays as it is, still not « perdue ».
    page.wait_for_timeout(5_000)
    expect(now).to_contain_text("Les résultats de l'étude")
    expect(banner).to_be_hidden()

    # The proxy lets WebSockets through again: the page tries its socket now and then (every
    # 10 to 20 s while a fallback delivers), goes back to it, and stops polling.
    proxy["blocks_websockets"] = False
    live_page = page.locator("article.live-page")
    expect(live_page).not_to_have_attribute("data-fallback-live", "", timeout=30_000)
    polled = len(polls)
    stack.control(slug, "next")
    expect(now).to_contain_text("Un invité mystère viendra faire une annonce")
    page.wait_for_timeout(5_000)
    assert len(polls) == polled
    expect(banner).to_be_hidden()
