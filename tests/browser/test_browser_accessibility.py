"""axe-core (from the npm registry, pinned in package-lock.json) on every page, in Chromium:
no serious or critical violation, in the light and the dark colour scheme.

axe is injected by the test from node_modules, never served by Régie: viewers do not download
a test tool. The pages' Content-Security-Policy would refuse an injected script, so the test's
browser context bypasses CSP (the pages' own scripts still run as served).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import DINER, ROOT, Stack, login
from playwright.sync_api import Browser, BrowserContext, Page, expect

pytestmark = pytest.mark.browser

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SLUG = "essai-axe"
BLOCKING = ("serious", "critical")


@pytest.fixture
def axe_context(browser: Browser, browser_context_args: dict[str, Any]) -> Iterator[BrowserContext]:
    context = browser.new_context(**browser_context_args, bypass_csp=True)
    yield context
    context.close()


def violations(page: Page) -> list[tuple[str, str, list[Any]]]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("() => axe.run(document, { resultTypes: ['violations'] })")
    return [
        (v["id"], v["help"], [node["target"] for node in v["nodes"]][:4])
        for v in result["violations"]
        if v["impact"] in BLOCKING
    ]


def check(page: Page, path: str) -> dict[str, list[tuple[str, str, list[Any]]]]:
    found: dict[str, list[tuple[str, str, list[Any]]]] = {}
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.goto(path) if not page.url.endswith(path) else page.reload()
        page.wait_for_load_state("networkidle")
        if problems := violations(page):
            found[f"{path} ({scheme})"] = problems
    return found


def test_no_page_has_a_serious_accessibility_violation(axe_context: BrowserContext, stack: Stack) -> None:
    assert AXE.exists(), "run `make install` (npm ci) first"
    # A show under way: past, live and coming items, a guest revealed, a slip undone.
    stack.control(SLUG, "start")
    stack.control(SLUG, "next")
    stack.control(SLUG, "next")
    stack.control(SLUG, "reveal", "mystere")
    # Audience questions: one waiting, one on air, one answered (the list, the third, the column).
    asker = httpx.Client(base_url=stack.web_url)
    for text in ("Une question en attente ?", "Une question à l'antenne ?", "Une question répondue ?"):
        asker.post(
            f"/events/{SLUG}/questions", data={"text": text, "name": "Marie", "organisation": "Mairie"}
        )
    api = f"{stack.api_url}/api/v1/events/{SLUG}/questions"
    bearer = {"Authorization": f"Bearer {stack.token()}"}
    ids = {q["text"]: q["id"] for q in httpx.get(api, headers=bearer).json()}
    for text, actions in (("Une question répondue ?", ("approve", "answer")),
                          ("Une question à l'antenne ?", ("approve", "on_air"))):  # fmt: skip
        for action in actions:
            httpx.post(f"{api}/{ids[text]}/moderation", json={"action": action}, headers=bearer)
    public = axe_context.new_page()
    found: dict[str, Any] = {}
    for path in (
        "/",
        f"/events/{DINER}",
        f"/events/{SLUG}",
        f"/events/{SLUG}/replay",
        f"/events/{SLUG}/overlay",
        "/login",
    ):
        found |= check(public, f"{stack.web_url}{path}")
    # The question form's refusal, as htmx shows it, and the page a browser without JavaScript gets.
    public.goto(f"{stack.web_url}/events/{SLUG}")
    public.get_by_role("button", name="Envoyer ma question").click()
    expect(public.locator("#question-text-error")).to_be_visible()
    if problems := violations(public):
        found["question form refused"] = problems
    public.route("**/static/vendor/htmx.min.js", lambda route: route.abort())
    public.goto(f"{stack.web_url}/events/{SLUG}")
    public.get_by_role("button", name="Envoyer ma question").click()
    expect(public.get_by_role("heading", level=1)).to_have_text("Posez votre question")
    if problems := violations(public):
        found["question page (no JavaScript)"] = problems
    public.unroute("**/static/vendor/htmx.min.js")
    # The overlay is a page of its own (an OBS source): its content sits in a landmark too.
    public.goto(f"{stack.web_url}/events/{SLUG}/overlay")
    assert public.locator("main #overlay-third").count() == 1
    moderator = axe_context.new_page()
    login(moderator, stack, "alice", "/console")
    for path in ("/console", f"/events/{SLUG}/console", f"/events/{DINER}/console"):
        found |= check(moderator, f"{stack.web_url}{path}")
    assert found == {}, "\n".join(f"{where}: {problems}" for where, problems in found.items())
