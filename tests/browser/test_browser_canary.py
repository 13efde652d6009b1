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


def first_streamed(url: str) -> str:
    """The first message of a page's SSE stream (what a page without WebSockets is sent)."""
    data: list[str] = []
    with httpx.stream("GET", url, timeout=10) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data: "):
                data.append(line.removeprefix("data: "))
            elif line == "" and data:
                return "\n".join(data)
    raise AssertionError(f"{url} ended before its first message")


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
        f"/events/{SLUG}/fragments",
        "/events/pas-un-evenement",
    ]

    def look_everywhere() -> None:
        for path in public_paths:
            seen.append(httpx.get(stack.web_url + path).text)
        seen.append(first_streamed(f"{stack.web_url}/events/{SLUG}/sse"))
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


QUESTIONS_SLUG = "essai-questions-canary"
PENDING = ("CANARY-PENDING-QUESTION-p3nd", "CANARY-PENDING-AUTHOR-p4th")
REJECTED = ("CANARY-REJECTED-QUESTION-r3j3", "CANARY-REJECTED-AUTHOR-r4th")


def test_no_pending_or_rejected_question_nor_its_author_reaches_a_public_page_or_frame(
    page: Page, moderator_context: BrowserContext, stack: Stack
) -> None:
    seen: list[str] = []
    record_frames(page, seen)
    stack.control(QUESTIONS_SLUG, "start")
    page.goto(f"{stack.web_url}/events/{QUESTIONS_SLUG}")
    page.goto(f"{stack.web_url}/events/{QUESTIONS_SLUG}/overlay")  # its frames are recorded too
    live = page.context.new_page()
    record_frames(live, seen)
    live.goto(f"{stack.web_url}/events/{QUESTIONS_SLUG}")
    expect(live.locator("#live-status")).to_be_visible()
    asker = httpx.Client(base_url=stack.web_url)
    for text, author in (PENDING, REJECTED, ("Une question publique ?", "Signataire public")):
        answer = asker.post(f"/events/{QUESTIONS_SLUG}/questions", data={"text": text, "name": author})
        assert answer.status_code == 303, answer.text
    voter = asker.cookies["regie_voter"]
    headers = {"Authorization": f"Bearer {stack.token()}"}
    api = f"{stack.api_url}/api/v1/events/{QUESTIONS_SLUG}/questions"
    queue = {q["text"]: q["id"] for q in httpx.get(api, headers=headers).json()}
    for text, action in ((REJECTED[0], "reject"), ("Une question publique ?", "approve")):
        moderated = httpx.post(f"{api}/{queue[text]}/moderation", json={"action": action}, headers=headers)
        assert moderated.status_code == 200
    httpx.post(
        f"{api}/{queue['Une question publique ?']}/moderation", json={"action": "on_air"}, headers=headers
    )
    expect(live.locator("#live-questions")).to_contain_text("Une question publique ?")
    expect(live.locator("#live-question")).to_contain_text("Une question publique ?")
    console = moderator_context.new_page()
    login(console, stack, "alice", f"/events/{QUESTIONS_SLUG}/console")
    expect(console.locator("#console-questions")).to_contain_text(PENDING[0])  # moderators see it

    for path in ("", "/replay", "/overlay", "/fragments"):
        seen.append(httpx.get(f"{stack.web_url}/events/{QUESTIONS_SLUG}{path}").text)
    seen.append(first_streamed(f"{stack.web_url}/events/{QUESTIONS_SLUG}/sse"))
    seen.append(live.content())
    stack.control(QUESTIONS_SLUG, "end")
    seen.append(httpx.get(f"{stack.web_url}/events/{QUESTIONS_SLUG}/replay").text)
    assert any("Une question publique ?" in text for text in seen)  # the scan does see questions
    hidden = [*PENDING, *REJECTED, voter]
    assert [secret for secret in hidden if any(secret in text for text in seen)] == []
