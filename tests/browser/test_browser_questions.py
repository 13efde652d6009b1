"""Issue 12's « done when » for questions, in a real Chromium: a viewer asks on the live page, a
moderator approves it and puts it on air from the console (one click, one key), and a second
viewer sees it on the page and on the OBS overlay, none of them reloading."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Stack, login
from playwright.sync_api import Browser, expect

pytestmark = pytest.mark.browser

SLUG = "essai-questions"
QUESTION = "Comment associer les petites communes <b>aux</b> alliances ?"


def test_a_question_goes_from_a_viewer_through_the_console_to_the_page_and_the_overlay(
    browser: Browser, stack: Stack, artifacts: Path
) -> None:
    stack.control(SLUG, "start")
    asking, watching, moderating, obs = (browser.new_context() for _ in range(4))
    try:
        asker = asking.new_page()
        asker.goto(f"{stack.web_url}/events/{SLUG}")
        asker.get_by_role("textbox", name="Votre question").fill(QUESTION)
        asker.get_by_label("Votre nom").fill("Marie")
        asker.get_by_label("Votre organisation").fill("Mairie de Riom")
        asker.get_by_role("button", name="Envoyer ma question").click()
        expect(asker.locator("#question-ask")).to_contain_text(
            "Votre question a été transmise aux modérateurs"
        )
        voter = next(c for c in asking.cookies() if c["name"] == "regie_voter")
        assert voter["httpOnly"]

        viewer = watching.new_page()
        viewer.goto(f"{stack.web_url}/events/{SLUG}")
        overlay = obs.new_page()
        overlay.set_viewport_size({"width": 1920, "height": 1080})
        overlay.goto(f"{stack.web_url}/events/{SLUG}/overlay")
        expect(overlay.locator("#overlay-third")).to_contain_text("Alice MARTIN")

        console = moderating.new_page()
        login(console, stack, "alice", f"/events/{SLUG}/console")
        column = console.locator("#console-questions")
        pending = column.locator('[data-status="pending"]')
        expect(pending).to_contain_text(QUESTION)  # the literal text, never markup
        expect(pending).to_contain_text("Marie, Mairie de Riom")
        expect(viewer.locator("#live-questions")).not_to_contain_text("petites communes")

        pending.get_by_role("button", name="Approuver").click()
        expect(console.locator("#console-flash")).to_contain_text("Question approuvée")
        listed = viewer.locator("#live-questions")
        expect(listed).to_contain_text(QUESTION)
        expect(listed).to_contain_text("Marie, Mairie de Riom")
        assert listed.locator("b").count() == 0

        approved = column.locator('[data-status="approved"]')
        expect(approved).to_contain_text(QUESTION)
        console.keyboard.press("o")  # on air: the first approved question
        expect(console.locator("#console-flash")).to_contain_text("Question à l'antenne")
        on_page = viewer.locator("#live-question")
        expect(on_page).to_be_visible()
        expect(on_page).to_contain_text(QUESTION)
        third = overlay.locator("#overlay-third")
        expect(third).to_contain_text(QUESTION)
        expect(third).to_contain_text("Question du public · Marie, Mairie de Riom")
        overlay.screenshot(path=artifacts / "overlay-question.png", omit_background=True)

        # The first viewer votes for it, once: the count moves on the other viewer's page.
        asker.locator("#live-questions .vote").first.click()
        expect(asker.locator("#questions-notice")).to_contain_text("Votre vote est compté")
        expect(listed).to_contain_text("1 vote")

        console.keyboard.press("f")  # off air
        expect(on_page).to_be_hidden()
        expect(third).to_contain_text("Alice MARTIN")
        expect(third).not_to_contain_text("petites communes")
    finally:
        for context in (asking, watching, moderating, obs):
            context.close()
