"""A viewer's live page, driven by a moderator through the public API, in a real Chromium."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import Stack, canary
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_viewer_sees_next_and_reveal_without_reload(page: Page, stack: Stack, artifacts: Path) -> None:
    slug = "essai-viewer"
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{stack.web_url}/events/{slug}")
    now = page.locator("#live-now")
    expect(now).to_contain_text("Le direct n'a pas encore commencé.")
    expect(page.locator("#live-status")).to_contain_text("À venir")
    page.evaluate("window.__sameDocument = true")

    stack.control(slug, "start")
    expect(now).to_contain_text("Accueil des participants")
    expect(now).to_contain_text("Alice MARTIN")
    expect(page.locator("#live-status")).to_contain_text("En direct")

    stack.control(slug, "next")
    expect(now).to_contain_text("Les résultats de l'étude")
    expect(now).to_contain_text("Bernard DURAND")
    expect(page.locator("#live-programme .item.state-live")).to_contain_text("Les résultats de l'étude")
    expect(page.locator("#live-programme .item.state-past")).to_contain_text("Accueil des participants")

    stack.control(slug, "next")
    expect(now).to_contain_text("Un invité mystère viendra faire une annonce")
    expect(page.locator("#live-guests")).to_be_hidden()
    assert canary(slug, "NAME") not in page.content()

    stack.control(slug, "reveal", target="mystere")
    expect(now).to_contain_text(canary(slug, "NAME"))
    expect(now).to_contain_text(canary(slug, "ANNOUNCEMENT"))
    guests = page.locator("#live-guests")
    expect(guests).to_be_visible()
    expect(guests).to_contain_text(canary(slug, "NAME"))
    expect(page.locator("#live-announcer")).to_contain_text("Une annonce pour les territoires")

    assert page.evaluate("window.__sameDocument") is True, "the page reloaded instead of updating"
    assert errors == [], "the page logged errors (a CSP violation, a script error)"
    page.screenshot(path=artifacts / "live-page.png", full_page=True)


def test_live_page_on_a_phone(browser: object, stack: Stack, artifacts: Path) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True
    )  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(f"{stack.web_url}/events/diner-elus-entreprises-2020")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Elus & Entreprises")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width} px)"
    page.screenshot(path=artifacts / "live-page-phone.png", full_page=True)
    context.close()


def test_events_page_lists_the_diner_in_paris_time(page: Page, stack: Stack) -> None:
    page.goto(stack.web_url)
    diner = page.locator(".event-card", has_text="3ème dîner « Elus & Entreprises »")
    expect(diner).to_contain_text("lundi 23 novembre 2020, 19 h 00 – 21 h 00")
    expect(diner).to_contain_text("heure de Paris")
    diner.get_by_role("link", name=re.compile("dîner")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("3ème dîner « Elus & Entreprises »")


def test_unknown_event_has_a_french_404(page: Page, stack: Stack) -> None:
    answer = page.goto(f"{stack.web_url}/events/cet-evenement-n-existe-pas")
    assert answer is not None and answer.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Événement introuvable")
