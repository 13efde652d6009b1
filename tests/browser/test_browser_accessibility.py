"""axe-core (from the npm registry, pinned in package-lock.json) on every page, in Chromium:
no serious or critical violation, in the light and the dark colour scheme.

axe is injected by the test from node_modules, never served by Régie: viewers do not download
a test tool. The pages' Content-Security-Policy would refuse an injected script, so the test's
browser context bypasses CSP (the pages' own scripts still run as served).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from conftest import DINER, ROOT, Stack, login
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.test_sessions import upcoming_workshops

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


def test_the_registration_pages_have_no_serious_accessibility_violation(
    axe_context: BrowserContext, stack: Stack
) -> None:
    """The form on the event page (and its refusal), the confirmation, the personal page with its
    workshops before and after a sign-up, and the cancel page, before and after cancelling."""
    slug = "essai-axe-inscription"
    admin = {"Authorization": f"Bearer {stack.token('claire')}"}
    put = httpx.put(
        f"{stack.api_url}/api/v1/events/{slug}",
        json=upcoming_workshops(slug, now=datetime.now(UTC)),
        headers=admin,
    )
    assert put.status_code in (200, 201), put.text
    registered = httpx.post(
        f"{stack.api_url}/api/v1/events/{slug}/registrations",
        json={"name": "Axe Testeur", "email": "axe.testeur@exemple.fr", "category": "autre", "consent": True},
    )
    assert registered.status_code == 201, registered.text
    mine = f"/inscription/{registered.json()['token']}"
    page = axe_context.new_page()
    found: dict[str, Any] = {}
    for path in (f"/events/{slug}", f"/events/{slug}/inscription", f"/events/{slug}/inscription/merci", mine):
        found |= check(page, f"{stack.web_url}{path}")

    # The form refused, as the page shows it (an address the browser accepts, the API does not).
    page.goto(f"{stack.web_url}/events/{slug}/inscription")
    form = page.locator("#inscription")
    form.get_by_label("Nom et prénom").fill("Axe Refusé")
    form.get_by_label("Adresse e-mail").fill("axe@invalide")
    form.get_by_label("Autre").check()
    form.get_by_label("J'accepte que mes nom, e-mail et organisation soient conservés").check()
    form.get_by_role("button", name="M'inscrire").click()
    expect(page.locator("#reg-email-error")).to_be_visible()
    if problems := violations(page):
        found["registration form refused"] = problems

    # Signed up: the personal page with a confirmed seat, the room's link and « Changer ».
    page.goto(f"{stack.web_url}{mine}")
    page.locator("#atelier-gouvernance").get_by_role("button", name="Choisir cet atelier").click()
    expect(page.get_by_role("status")).to_have_text("Votre choix est enregistré.")
    found |= check(page, f"{stack.web_url}{mine}?ok=atelier")
    found |= check(page, f"{stack.web_url}{mine}/annulation")
    page.goto(f"{stack.web_url}{mine}/annulation")
    page.get_by_role("button", name="Oui, annuler mon inscription").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    if problems := violations(page):
        found["registration cancelled"] = problems
    assert found == {}, "\n".join(f"{where}: {problems}" for where, problems in found.items())
