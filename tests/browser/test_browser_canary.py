"""No secret of a mystery item reaches any page, or any live message, before its reveal."""

from __future__ import annotations

import httpx
import pytest
from conftest import Stack, canary, login
from playwright.sync_api import BrowserContext, Page, WebSocket, expect

pytestmark = pytest.mark.browser

SLUG = "essai-canary"
SECRETS = [canary(SLUG, what) for what in ("NAME", "ROLE", "ORG", "ANNOUNCEMENT")]


def record_frames(page: Page, frames: list[str]) -> None:
    def on_socket(socket: WebSocket) -> None:
        socket.on("framereceived", lambda payload: frames.append(payload if isinstance(payload, str) else ""))

    page.on("websocket", on_socket)


def leaks(texts: list[str]) -> list[str]:
    return [secret for secret in SECRETS if any(secret in text for text in texts)]


def test_no_canary_secret_in_any_page_before_its_reveal(
    page: Page, moderator_context: BrowserContext, stack: Stack
) -> None:
    seen: list[str] = []
    record_frames(page, seen)
    console = moderator_context.new_page()
    record_frames(console, seen)
    login(console, stack, "alice", f"/events/{SLUG}/console")
    public_paths = [
        "/",
        f"/events/{SLUG}",
        f"/events/{SLUG}/replay",
        f"/events/{SLUG}/overlay",
        f"/events/{SLUG}/chapters.vtt",
        "/events/pas-un-evenement",
    ]

    def look_everywhere() -> None:
        for path in public_paths:
            seen.append(httpx.get(stack.web_url + path).text)
        page.goto(f"{stack.web_url}/events/{SLUG}")
        expect(page.locator("#live-status")).to_be_visible()
        seen.append(page.content())
        page.goto(f"{stack.web_url}/events/{SLUG}/replay")
        seen.append(page.content())
        page.goto(f"{stack.web_url}/events/{SLUG}/overlay")
        expect(page.locator("#overlay-third")).to_be_attached()
        page.wait_for_timeout(200)  # its socket's first message
        seen.append(page.content())
        console.reload()
        # The console shows its moderator whom each mystery hides, in that one panel of their
        # own page (read with their token); everything else on it is scanned like a public page.
        html = console.content()
        start = html.index('<section class="console-secrets"')
        end = html.index("</section>", start)
        assert canary(SLUG, "NAME") in html[start:end]
        seen.append(html[:start] + html[end:])

    look_everywhere()  # before the show
    for action in ("start", "next", "next"):  # up to the mystery item, live but not revealed
        stack.control(SLUG, action)
    page.goto(f"{stack.web_url}/events/{SLUG}")
    expect(page.locator("#live-now")).to_contain_text("Un invité mystère viendra faire une annonce")
    expect(console.locator("#console-state")).to_contain_text("Invité mystère non révélé")
    look_everywhere()
    page.goto(f"{stack.web_url}/events/{SLUG}")
    expect(page.locator("#live-now")).to_contain_text("Une annonce pour les territoires")
    seen.append(page.content())

    assert leaks(seen) == [], "a secret left the server before its reveal"

    # The same watch sees the secret the moment it is public: the check above can see a leak.
    stack.control(SLUG, "reveal", target="mystere")
    expect(page.locator("#live-now")).to_contain_text(canary(SLUG, "NAME"))
    seen.append(page.content())
    assert set(leaks(seen)) == set(SECRETS)
