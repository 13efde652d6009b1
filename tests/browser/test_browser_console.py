"""The moderators' console in a real Chromium: login, keyboard, confirmations, two consoles."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import PASSWORD, Stack, canary, login
from playwright.sync_api import Browser, Dialog, Page, WebSocketRoute, expect

pytestmark = pytest.mark.browser


def test_console_is_behind_the_login(page: Page, stack: Stack) -> None:
    page.goto(f"{stack.web_url}/events/essai-console/console")
    expect(page).to_have_url(re.compile(r"/login\?next=/events/essai-console/console"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Connexion des modérateurs")
    expect(page.get_by_role("status")).to_contain_text("Connectez-vous pour ouvrir la console de régie.")

    page.get_by_label("Identifiant").fill("alice")
    page.get_by_label("Mot de passe").fill("pas le bon mot de passe")
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("alert")).to_have_text("Identifiant ou mot de passe incorrect.")

    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page).to_have_url(re.compile(r"/events/essai-console/console$"))
    expect(page.locator("#console-state")).to_contain_text("À venir")

    page.get_by_role("button", name="Se déconnecter").click()
    expect(page.get_by_role("status")).to_contain_text("Vous êtes déconnecté.")
    page.goto(f"{stack.web_url}/events/essai-console/console")
    expect(page).to_have_url(re.compile(r"/login"))


def test_console_drives_the_show_with_the_keyboard(page: Page, stack: Stack, artifacts: Path) -> None:
    slug = "essai-console"
    login(page, stack, "alice", f"/events/{slug}/console")
    state, flash = page.locator("#console-state"), page.locator("#console-flash")
    version = stack.live(slug)["version"]
    expect(state).to_contain_text(f"Version {version}")
    expect(state).to_contain_text("À venir")

    dialogs: list[str] = []

    def accept(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    page.keyboard.press("s")
    expect(state).to_contain_text("En direct")
    expect(state).to_contain_text("Accueil des participants")
    expect(state).to_contain_text(f"Version {version + 1}")
    expect(flash).to_contain_text("Le direct a commencé")
    assert dialogs == ["Démarrer le direct maintenant ?"]

    # A press while the previous one is still in flight is dropped on purpose (no double acts):
    # like a moderator, the test waits for each answer before the next key.
    now = state.locator(".console-now")
    for key, title, after in (
        ("n", "Les résultats de l'étude", version + 2),
        ("ArrowLeft", "Accueil des participants", version + 3),
        ("ArrowRight", "Les résultats de l'étude", version + 4),
        ("n", "Une annonce pour les territoires", version + 5),
    ):
        page.keyboard.press(key)
        expect(flash).to_contain_text(f"(version {after})")
        expect(now).to_contain_text(title)
    expect(state).to_contain_text("Invité mystère non révélé")

    page.once("dialog", lambda dialog: dialog.dismiss())
    page.keyboard.press("r")
    page.wait_for_timeout(300)
    expect(state).to_contain_text("Invité mystère non révélé")

    page.once("dialog", accept)
    page.keyboard.press("r")
    expect(flash).to_contain_text("Invité mystère révélé au public")
    expect(state).to_contain_text(canary(slug, "NAME"))
    assert "Une annonce pour les territoires" in dialogs[-1]
    expect(state).to_contain_text(f"Version {version + 6}")
    page.screenshot(path=artifacts / "console.png", full_page=True)

    go_to_the_end = re.compile(r"^Aller à .*Le mot de la fin")
    page.locator("#console-programme").get_by_role("button", name=go_to_the_end).click()
    expect(flash).to_contain_text(f"(version {version + 7})")
    expect(now).to_contain_text("Le mot de la fin")

    page.once("dialog", accept)
    page.keyboard.press("e")
    expect(state).to_contain_text("Terminé")
    expect(flash).to_contain_text("Le direct est terminé")
    live = stack.live(slug)
    assert (live["status"], live["version"]) == ("ended", version + 8)


def test_two_consoles_on_one_version_one_acts_the_other_is_told(browser: Browser, stack: Stack) -> None:
    slug = "essai-conflict"
    stack.control(slug, "start")
    version = stack.live(slug)["version"]
    first, second = browser.new_context(), browser.new_context()
    try:
        alice, bruno = first.new_page(), second.new_page()

        # Bruno's console hears the state it opened on, then nothing: as if he pressed at the very
        # instant Alice did, before her change reached him.
        def deaf_after_first_message(ws: WebSocketRoute) -> None:
            server = ws.connect_to_server()
            received: list[str | bytes] = []

            def from_server(message: str | bytes) -> None:
                received.append(message)
                if len(received) == 1:
                    ws.send(message)

            server.on_message(from_server)

        bruno.route_web_socket(re.compile(r".*/console/ws$"), deaf_after_first_message)
        login(alice, stack, "alice", f"/events/{slug}/console")
        login(bruno, stack, "bruno", f"/events/{slug}/console")
        for page in (alice, bruno):
            expect(page.locator("#console-state")).to_contain_text(f"Version {version}")

        alice.keyboard.press("n")
        expect(alice.locator("#console-flash")).to_contain_text("À l'antenne : « Les résultats de l'étude »")
        expect(bruno.locator("#console-state")).to_contain_text(f"Version {version}")

        bruno.keyboard.press("n")
        told = bruno.locator("#console-flash")
        expect(told).to_contain_text("Un autre modérateur a agi avant vous")
        expect(told).to_contain_text(f"version {version + 1}")
        expect(bruno.locator("#console-state")).to_contain_text(f"Version {version + 1}")
        expect(bruno.locator("#console-state .console-now")).to_contain_text("Les résultats de l'étude")

        live = stack.live(slug)
        assert live["version"] == version + 1, "the show moved twice"
        assert live["item"]["id"] == "etude"
    finally:
        first.close()
        second.close()
