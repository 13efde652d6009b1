"""The organiser's editor in a real Chromium: create an event from nothing, edit it during the show,
two organisers on one version, and the documents handed out with an item."""

from __future__ import annotations

import re

import httpx
import pytest
from conftest import Stack, login
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.browser

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 120
SECRET = "CANARY-EDITOR-Mme-Secrete-c4n4ry"


def test_an_admin_creates_an_event_from_nothing_and_its_secret_stays_hidden(page: Page, stack: Stack) -> None:
    login(page, stack, "claire", "/events/new")
    expect(page.get_by_role("heading", name="Créer un événement")).to_be_visible()
    page.locator('[name="slug"]').fill("essai-cree")
    page.locator('[name="title"]').fill("Soirée créée dans l'éditeur")
    page.locator('[name="starts_at"]').fill("2030-05-01T19:00")
    page.locator('[name="ends_at"]').fill("2030-05-01T21:00")
    page.locator('[name="s0.title"]').fill("Première partie")
    page.locator('[name="s0.planned_start"]').fill("2030-05-01T19:00")
    page.locator('[name="s0.planned_end"]').fill("2030-05-01T20:00")
    page.locator('[name="s0.i0.title"]').fill("Mot d'accueil")
    page.locator('[name="s0.i0.speakers"]').fill("Alice MARTIN ; Présidente ; Association Essai")
    page.get_by_role("button", name="Ajouter un moment").click()
    # The round trip keeps what was typed.
    expect(page.locator('[name="s0.i0.title"]')).to_have_value("Mot d'accueil")
    page.locator('[name="s0.i1.title"]').fill("Une annonce surprise")
    page.locator('[name="s0.i1.mystery"]').check()
    page.locator('[name="s0.i1.teaser"]').fill("Un invité mystère… surprise !")
    page.locator('[name="s0.i1.hidden_speakers"]').fill(f"{SECRET} ; Ministre")
    page.locator('[name="s0.i1.hidden_announcement"]').fill("Une annonce secrète CANARY-EDITOR-annonce")
    page.get_by_role("button", name="Ajouter une partie").click()
    page.locator('[name="s1.title"]').fill("Seconde partie")
    page.locator('[name="s1.planned_start"]').fill("2030-05-01T20:00")
    page.locator('[name="s1.planned_end"]').fill("2030-05-01T21:00")
    page.locator('[name="s1.i0.title"]').fill("Table ronde")
    page.get_by_role("button", name="Ajouter un moment").nth(1).click()
    page.locator('[name="s1.i1.title"]').fill("Clôture")
    page.get_by_role("button", name="Enregistrer le programme").click()
    page.wait_for_url("**/events/essai-cree/edit?saved=1")
    expect(page.locator("#editor-notice")).to_contain_text("Programme enregistré")
    # The secret is in the admin's editor, masked.
    expect(page.locator('[name="s0.i1.hidden_speakers"]')).to_have_value(f"{SECRET} ; Ministre")
    expect(page.locator('[name="s0.i1.hidden_speakers"]')).to_have_class(re.compile("masked"))

    page.goto(f"{stack.web_url}/events/essai-cree")
    expect(page.locator("#live-programme")).to_contain_text("Mot d'accueil")
    expect(page.locator("#live-programme")).to_contain_text("Une annonce surprise")
    expect(page.locator("#live-programme")).to_contain_text("Table ronde")
    assert SECRET not in page.content() and "CANARY-EDITOR-annonce" not in page.content()
    assert SECRET not in httpx.get(f"{stack.api_url}/api/v1/events/essai-cree").text


def test_viewers_never_see_the_editor_and_moderators_read_it_only(page: Page, stack: Stack) -> None:
    page.goto(f"{stack.web_url}/events/essai-edit-two/edit")
    expect(page).to_have_url(re.compile(r"/login\?next=/events/essai-edit-two/edit"))
    login(page, stack, "alice", "/events/essai-edit-two/edit")
    expect(page.locator("#editor-notice")).to_contain_text("Lecture seule")
    expect(page.locator('[name="title"]')).to_be_disabled()
    expect(page.get_by_role("button", name="Enregistrer le programme")).to_have_count(0)
    assert "CANARY-NAME-essai-edit-two" not in page.content()


def test_during_the_show_a_moved_item_reaches_the_viewers_and_the_aired_is_refused(
    browser: Browser, stack: Stack
) -> None:
    slug = "essai-edit-live"
    stack.control(slug, "start")  # « Accueil des participants » is on air
    viewer = browser.new_page()
    editor = browser.new_page()
    try:
        viewer.goto(f"{stack.web_url}/events/{slug}")
        items = viewer.locator("#live-programme .item .item-title")
        expect(items).to_have_text(
            [
                "Accueil des participants",
                "Les résultats de l'étude",
                "Une annonce pour les territoires",
                "Le mot de la fin",
            ]
        )
        login(editor, stack, "claire", f"/events/{slug}/edit")
        # Keyboard: Alt+↑ on the mystery item moves it above the study.
        editor.locator('[name="s0.i2.title"]').focus()
        editor.keyboard.press("Alt+ArrowUp")
        expect(editor.locator('[name="s0.i1.title"]')).to_have_value("Une annonce pour les territoires")
        editor.get_by_role("button", name="Enregistrer le programme").click()
        editor.wait_for_url(f"**/events/{slug}/edit?saved=1")
        # The viewer's page follows without a reload.
        expect(items).to_have_text(
            [
                "Accueil des participants",
                "Une annonce pour les territoires",
                "Les résultats de l'étude",
                "Le mot de la fin",
            ]
        )
        # The item on air is the record: a change to it is refused, in French, the input kept.
        editor.locator('[name="s0.i0.title"]').fill("Accueil réécrit")
        editor.get_by_role("button", name="Enregistrer le programme").click()
        expect(editor.locator("#editor-notice")).to_contain_text("déjà passé à l'antenne")
        expect(editor.locator(".item-editor").first).to_contain_text("Ce moment a déjà commencé")
        expect(editor.locator('[name="s0.i0.title"]')).to_have_value("Accueil réécrit")
        expect(items.first).to_have_text("Accueil des participants")
    finally:
        viewer.close()
        editor.close()


def test_two_editors_on_one_version_the_second_is_told_and_keeps_its_input(
    browser: Browser, stack: Stack
) -> None:
    slug = "essai-edit-two"
    first, second = browser.new_context(), browser.new_context()
    try:
        claire, damien = first.new_page(), second.new_page()
        login(claire, stack, "claire", f"/events/{slug}/edit")
        login(damien, stack, "damien", f"/events/{slug}/edit")
        claire.locator('[name="s0.i1.title"]').fill("L'étude, version de Claire")
        claire.get_by_role("button", name="Enregistrer le programme").click()
        claire.wait_for_url(f"**/events/{slug}/edit?saved=1")

        damien.locator('[name="subtitle"]').fill("Le sous-titre de Damien")
        damien.get_by_role("button", name="Enregistrer le programme").click()
        expect(damien.locator("#editor-notice")).to_contain_text("Un autre organisateur a enregistré")
        expect(damien.locator("#changed-by-other")).to_contain_text("par claire")
        expect(damien.locator("#changed-by-other")).to_contain_text(
            "modifié : « L'étude, version de Claire »"
        )
        expect(damien.locator('[name="subtitle"]')).to_have_value("Le sous-titre de Damien")
        event = httpx.get(f"{stack.api_url}/api/v1/events/{slug}").json()
        assert event["subtitle"] == "Jouons collectif !"
        # Saving again is now a deliberate choice, on the new version.
        damien.get_by_role("button", name="Enregistrer le programme").click()
        damien.wait_for_url(f"**/events/{slug}/edit?saved=1")
        assert (
            httpx.get(f"{stack.api_url}/api/v1/events/{slug}").json()["subtitle"] == "Le sous-titre de Damien"
        )
        # And undone from the history: the last edit goes, as one more save.
        damien.get_by_role("button", name="Annuler la dernière modification").click()
        damien.wait_for_url(f"**/events/{slug}/edit?saved=1")
        assert httpx.get(f"{stack.api_url}/api/v1/events/{slug}").json()["subtitle"] == "Jouons collectif !"
    finally:
        first.close()
        second.close()


def test_a_pdf_is_downloaded_from_the_live_page_and_a_renamed_executable_refused(
    page: Page, stack: Stack
) -> None:
    slug = "essai-edit-docs"
    login(page, stack, "claire", f"/events/{slug}/edit")
    page.get_by_label("Moment", exact=True).select_option(label="Les résultats de l'étude")
    page.get_by_label("Titre du document").fill("Présentation partagée")
    page.get_by_label("Fichier", exact=True).set_input_files(
        {"name": "deck.pdf", "mimeType": "application/pdf", "buffer": PDF}
    )
    page.get_by_role("button", name="Ajouter le document").click()
    page.wait_for_url(f"**/events/{slug}/edit?saved=1")

    page.get_by_label("Titre du document").fill("Rapport")
    page.get_by_label("Fichier", exact=True).set_input_files(
        {"name": "rapport.pdf", "mimeType": "application/pdf", "buffer": ELF}
    )
    page.get_by_role("button", name="Ajouter le document").click()
    expect(page.locator("#editor-notice")).to_contain_text("Ce fichier n'est pas accepté")

    page.goto(f"{stack.web_url}/events/{slug}")
    link = page.locator("#live-programme").get_by_role("link", name="Présentation partagée")
    expect(link).to_be_visible()
    expect(page.locator("#live-programme")).not_to_contain_text("Rapport")
    with page.expect_download() as caught:
        link.click()
    download = caught.value
    assert download.suggested_filename == "presentation-partagee.pdf"
    path = download.path()
    assert path is not None and path.read_bytes() == PDF
