"""The registration pages, through the real frontend in front of a real backend and SMTP server."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from frontend.config import Settings as FrontendSettings
from frontend.main import create_app as create_frontend
from tests.conftest import PASSWORD, Api
from tests.frontend.html_text import visible_text
from tests.mailbox import Mailbox
from tests.test_projection import Clock
from tests.test_registrations import registration_api
from tests.test_sessions import PRIVATE_LINK, SLUG


@contextlib.asynccontextmanager
async def browser_for(api: Api) -> AsyncIterator[httpx.AsyncClient]:
    frontend = create_frontend(FrontendSettings(api_url=api.url, secret_key="s"))
    async with frontend.router.lifespan_context(frontend):
        transport = httpx.ASGITransport(app=frontend)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as browser:
            yield browser


@pytest.fixture
async def api_clock(sqlite_url: str, tmp_path: Path, mailbox: Mailbox) -> AsyncIterator[tuple[Api, Clock]]:
    # The frontend checks sign-up windows on the real clock: this Rencontre's window is in 2030.
    async with registration_api(sqlite_url, tmp_path, mailbox) as running:
        yield running


FORM = {
    "name": "Anne Testeuse",
    "email": "anne.pages@exemple.fr",
    "organisation": "Mairie",
    "category": "elu",
    "consent": "oui",
    "website": "",
}


async def test_the_event_page_carries_the_registration_form_and_says_what_is_kept(
    api_clock: tuple[Api, Clock],
) -> None:
    api, _ = api_clock
    async with browser_for(api) as browser:
        text = visible_text((await browser.get(f"/events/{SLUG}")).text)
    assert (
        "Inscrivez-vous pour suivre en direct Nom et prénom Adresse e-mail Organisation (facultatif)" in text
    )
    assert "Combien de temps : jusqu'à 90 jours après la fin de l'événement, puis tout est effacé" in text


async def test_register_on_the_page_follow_the_mailed_link_and_sign_up(
    api_clock: tuple[Api, Clock], mailbox: Mailbox
) -> None:
    api, _ = api_clock
    async with browser_for(api) as browser:
        sent = await browser.post(
            f"/events/{SLUG}/inscription", data=FORM, headers={"Origin": "http://testserver"}
        )
        assert (sent.status_code, sent.headers["location"]) == (303, f"/events/{SLUG}/inscription/merci")
        thanks = visible_text((await browser.get(sent.headers["location"])).text)
        assert "Merci ! Votre demande d'inscription à « Rencontre d'essai » est enregistrée." in thanks

        [mail] = await mailbox.wait_for("anne.pages@exemple.fr")
        link = next(link for link in mail.links() if "/inscription/" in link and "annulation" not in link)
        path = re.sub(r"^https://pages\.example\.org", "", link)
        mine = await browser.get(path)
        assert (
            mine.headers["cache-control"] == "no-store" and mine.headers["referrer-policy"] == "same-origin"
        )
        text = visible_text(mine.text)
        assert "Mon inscription Mes informations Adresse e-mail : anne.pages@exemple.fr" in text
        assert "Quelle gouvernance choisir ? Salle : Salle A 5 places restantes sur 5" in text

        token = path.rsplit("/", 1)[1]
        chosen = await browser.post(
            f"/inscription/{token}/ateliers",
            data={"session_id": "gouvernance"},
            headers={"Origin": "http://testserver"},
        )
        assert chosen.status_code == 303
        text = visible_text((await browser.get(chosen.headers["location"])).text)
        assert "Votre choix est enregistré." in text
        assert (
            "Quelle gouvernance choisir ? Salle : Salle A 4 places restantes sur 5 Votre place est confirmée."
            in text
        )
        assert f'href="{PRIVATE_LINK}"' in (await browser.get(f"/inscription/{token}")).text

        # Cancelling asks first (a GET never erases), then erases.
        assert "Oui, annuler mon inscription" in (await browser.get(f"/inscription/{token}/annulation")).text
        done = await browser.post(f"/inscription/{token}/annulation", headers={"Origin": "http://testserver"})
        assert "Votre inscription est annulée" in visible_text(done.text)
        assert (await browser.get(f"/inscription/{token}")).status_code == 404


async def test_a_wrong_form_comes_back_in_french_naming_the_field(api_clock: tuple[Api, Clock]) -> None:
    api, _ = api_clock
    async with browser_for(api) as browser:
        answer = await browser.post(
            f"/events/{SLUG}/inscription",
            data={**FORM, "email": "pas-une-adresse"},
            headers={"Origin": "http://testserver"},
        )
        assert answer.status_code == 422
        text = visible_text(answer.text)
        assert "Indiquez une adresse e-mail valide, par exemple prenom.nom@exemple.fr." in text
        assert 'value="Anne Testeuse"' in answer.text  # what was typed is kept
        forged = await browser.post(
            f"/events/{SLUG}/inscription", data=FORM, headers={"Origin": "https://evil.example"}
        )
        assert forged.status_code == 403


async def test_the_console_counts_registrations_and_downloads_the_lists(api_clock: tuple[Api, Clock]) -> None:
    api, _ = api_clock
    for n in range(3):
        answer = await api.client.post(
            f"/api/v1/events/{SLUG}/registrations",
            json={**FORM, "email": f"p{n}@exemple.fr", "consent": True, "name": f"Personne {n}"},
        )
        token = answer.json()["token"]
        await api.client.post(f"/api/v1/registrations/{token}/signups", json={"session_id": "gouvernance"})
    async with browser_for(api) as browser:
        login = await browser.get(f"/login?next=/events/{SLUG}/console")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
        assert csrf is not None
        done = await browser.post(
            "/login",
            data={
                "username": "moderator",
                "password": PASSWORD,
                "csrf_token": csrf[1],
                "next": f"/events/{SLUG}/console",
            },
        )
        assert done.status_code == 303
        console = visible_text((await browser.get(f"/events/{SLUG}/console")).text, "console-registrations")
        assert console.startswith("Inscriptions 3 inscrits Atelier Confirmés En attente Places")
        assert "Quelle gouvernance choisir ? 3 0 5 Comment changer d'échelle ? 0 0 —" in console
        csv_file = await browser.get(f"/events/{SLUG}/console/registrations.csv")
        assert csv_file.headers["content-disposition"] == f'attachment; filename="{SLUG}-registrations.csv"'
        assert "p2@exemple.fr" in csv_file.content.decode("utf-8-sig")
        xlsx = await browser.get(f"/events/{SLUG}/console/registrations.xlsx")
        assert xlsx.content[:2] == b"PK"
    async with browser_for(api) as stranger:
        assert (await stranger.get(f"/events/{SLUG}/console/registrations.csv")).status_code == 303
