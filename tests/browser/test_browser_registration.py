"""Register on the event page, receive the message on a real SMTP server, follow its link, sign up
to a workshop and see its seat count fall — in a real Chromium, against `regie api` and `regie web`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import yaml
from conftest import REGIE, Server, _run
from playwright.sync_api import Page, expect

from tests.conftest import free_port
from tests.mailbox import Mailbox, smtp_server
from tests.test_sessions import PRIVATE_LINK, upcoming_workshops

pytestmark = pytest.mark.browser
SLUG = "essai-inscription"


@pytest.fixture(scope="session")
def mail_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Mailbox]]:
    home = tmp_path_factory.mktemp("inscription")
    with smtp_server() as mailbox:
        api_port, web_port = free_port(), free_port()
        api_url, web_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{web_port}"
        env = {
            **os.environ,
            "REGIE_DATABASE_URL": f"sqlite+aiosqlite:///{home / 'regie.db'}",
            "REGIE_API_URL": api_url,
            "REGIE_PUBLIC_URL": web_url,
            "REGIE_SMTP_URL": mailbox.url,
            "REGIE_MAIL_FROM": "Régie <regie@exemple.fr>",
            "REGIE_SECRET_KEY": "browser-registration-secret-0123456789",
            "PYTHONUNBUFFERED": "1",
        }
        _run([REGIE, "db", "upgrade"], env)
        programme = home / f"{SLUG}.yaml"
        programme.write_text(
            yaml.safe_dump(upcoming_workshops(SLUG, now=datetime.now(UTC)), allow_unicode=True),
            encoding="utf-8",
        )
        _run([REGIE, "import", str(programme)], env)
        api = Server(
            "regie api", [REGIE, "api", "--port", str(api_port)], env, f"{api_url}/healthz", home / "api.log"
        )
        web = Server(
            "regie web", [REGIE, "web", "--port", str(web_port)], env, f"{web_url}/login", home / "web.log"
        )
        api.start()
        web.start()
        try:
            yield web_url, mailbox
        finally:
            web.stop()
            api.stop()


@pytest.fixture(scope="session")
def base_url(mail_stack: tuple[str, Mailbox]) -> str:
    """This module's own servers (with an SMTP server), not the shared stack of the other tests."""
    return mail_stack[0]


def test_register_receive_the_link_sign_up_and_see_the_seat_count_fall(
    page: Page, mail_stack: tuple[str, Mailbox]
) -> None:
    web_url, mailbox = mail_stack
    page.set_viewport_size({"width": 390, "height": 844})  # a phone first
    page.goto(f"{web_url}/events/{SLUG}")
    form = page.locator("#inscription")
    expect(form).to_contain_text("Inscrivez-vous pour suivre en direct")
    form.get_by_label("Nom et prénom").fill("Camille Navigatrice")
    form.get_by_label("Adresse e-mail").fill("camille.navigatrice@exemple.fr")
    form.get_by_label("Organisation (facultatif)").fill("Communauté de communes")
    form.get_by_label("Association").check()
    form.get_by_label("J'accepte que mes nom, e-mail et organisation soient conservés").check()
    form.get_by_role("button", name="M'inscrire").click()
    expect(page.get_by_role("heading", name="Merci !")).to_be_visible()

    [mail] = mailbox.wait_for_sync("camille.navigatrice@exemple.fr")
    assert mail.subject == "Inscription confirmée — Rencontre d'essai"
    link = next(link for link in mail.links() if "/inscription/" in link and "annulation" not in link)
    assert link.startswith(f"{web_url}/inscription/")

    page.goto(link)
    expect(page.get_by_role("heading", name="Mon inscription")).to_be_visible()
    workshop = page.locator("#atelier-gouvernance")
    expect(workshop.locator(".session-seats")).to_have_text("5 places restantes sur 5")
    workshop.get_by_role("button", name="Choisir cet atelier").click()
    expect(page.get_by_role("status")).to_have_text("Votre choix est enregistré.")
    expect(workshop.locator(".session-seats")).to_have_text("4 places restantes sur 5")
    expect(workshop).to_contain_text("Votre place est confirmée.")
    expect(workshop.get_by_role("link", name="Rejoindre la salle Salle A")).to_have_attribute(
        "href", PRIVATE_LINK
    )

    signup_mails = mailbox.wait_for_sync("camille.navigatrice@exemple.fr", count=2)
    assert f"Lien de la salle : {PRIVATE_LINK}" in signup_mails[1].text
    # The public page never carries the private room link, nor the registrant.
    page.goto(f"{web_url}/events/{SLUG}")
    assert PRIVATE_LINK not in page.content() and "Camille Navigatrice" not in page.content()
