"""The personal page's forms post with the `Origin` a browser gives them, against the real backend.

A browser does not always send a page's origin with its own form posts: under
`Referrer-Policy: no-referrer` it sends `Origin: null` (Fetch, « append a request Origin header »).
The personal page once answered that way, so « Choisir cet atelier » came back « Lien inconnu »
in every browser while posts carrying the right origin passed. These tests post with the origin
that the page's own policy makes a browser send.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from html_text import visible_text

from frontend.config import Settings
from frontend.main import create_app
from tests.conftest import Api
from tests.mailbox import Mailbox
from tests.test_registrations import ANNE, registration_api
from tests.test_sessions import upcoming_workshops

SITE = "http://testserver"
SLUG = "inscription-origine"


def origin_sent(referrer_policy: str, page_url: str, target_url: str) -> str:
    """The `Origin` a browser sends when a form of `page_url` posts to `target_url` (a navigation,
    not CORS), per the Fetch standard's « append a request Origin header »."""
    page, target = urlsplit(page_url), urlsplit(target_url)
    origin = f"{page.scheme}://{page.netloc}"
    same = (page.scheme, page.netloc) == (target.scheme, target.netloc)
    downgrade = page.scheme == "https" and target.scheme != "https"
    policy = referrer_policy.split(",")[-1].strip().lower() or "strict-origin-when-cross-origin"
    if policy == "no-referrer":
        return "null"
    if policy == "same-origin":
        return origin if same else "null"
    if policy in ("no-referrer-when-downgrade", "strict-origin", "strict-origin-when-cross-origin"):
        return "null" if downgrade else origin
    return origin


@contextlib.asynccontextmanager
async def pages_for(api: Api) -> AsyncIterator[httpx.AsyncClient]:
    frontend = create_app(Settings(api_url=api.url, secret_key="s"))
    async with frontend.router.lifespan_context(frontend):
        transport = httpx.ASGITransport(app=frontend)
        async with httpx.AsyncClient(transport=transport, base_url=SITE) as browser:
            yield browser


@pytest.fixture
async def api(sqlite_url: str, tmp_path: Path, mailbox: Mailbox) -> AsyncIterator[Api]:
    """The real backend on real time, with workshops next week whose sign-up is open now: the
    pages check the sign-up window on the real clock."""
    now = datetime.now(UTC)
    programme = upcoming_workshops(SLUG, now=now)
    async with registration_api(sqlite_url, tmp_path, mailbox, now=now, programme=programme) as running:
        yield running[0]


async def personal_link(api: Api, email: str) -> str:
    answer = await api.client.post(f"/api/v1/events/{SLUG}/registrations", json={**ANNE, "email": email})
    assert answer.status_code == 201
    return f"/inscription/{answer.json()['token']}"


async def post_from_page(
    browser: httpx.AsyncClient, page_path: str, action: str, data: dict[str, str] | None = None
) -> httpx.Response:
    """Open `page_path`, check it has a form posting to `action`, and post it as a browser would."""
    page = await browser.get(page_path)
    assert page.status_code == 200
    assert f'action="{action}"' in page.text
    origin = origin_sent(page.headers["referrer-policy"], f"{SITE}{page_path}", f"{SITE}{action}")
    return await browser.post(action, data=data or {}, headers={"Origin": origin})


async def test_choosing_a_workshop_on_the_personal_page_signs_up_with_the_browsers_origin(api: Api) -> None:
    mine = await personal_link(api, "origine.atelier@exemple.fr")
    async with pages_for(api) as browser:
        chosen = await post_from_page(browser, mine, f"{mine}/ateliers", {"session_id": "gouvernance"})
        assert (chosen.status_code, chosen.headers.get("location")) == (303, f"{mine}?ok=atelier")
        text = visible_text((await browser.get(chosen.headers["location"])).text)
    assert "Votre choix est enregistré." in text
    assert (
        "Quelle gouvernance choisir ? Salle : Salle A 4 places restantes sur 5 Votre place est confirmée."
        in text
    )


async def test_every_form_of_the_personal_page_goes_through_with_the_browsers_origin(api: Api) -> None:
    mine = await personal_link(api, "origine.formulaires@exemple.fr")
    async with pages_for(api) as browser:
        changed = await post_from_page(
            browser, mine, mine, {"name": "Anne Corrigée", "organisation": "Mairie", "category": "elu"}
        )
        assert (changed.status_code, changed.headers.get("location")) == (303, f"{mine}?ok=enregistre")
        await post_from_page(browser, mine, f"{mine}/ateliers", {"session_id": "gouvernance"})
        left = await post_from_page(browser, mine, f"{mine}/ateliers/gouvernance/quitter")
        assert (left.status_code, left.headers.get("location")) == (303, f"{mine}?ok=quitte")
        cancelled = await post_from_page(browser, f"{mine}/annulation", f"{mine}/annulation")
        assert "Votre inscription est annulée" in visible_text(cancelled.text)
        assert (await browser.get(mine)).status_code == 404


async def test_a_post_from_another_site_is_refused_as_such_not_as_an_unknown_link(api: Api) -> None:
    mine = await personal_link(api, "origine.autre@exemple.fr")
    async with pages_for(api) as browser:
        forged = await browser.post(
            f"{mine}/ateliers", data={"session_id": "gouvernance"}, headers={"Origin": "https://evil.example"}
        )
        assert forged.status_code == 403
        text = visible_text(forged.text)
        assert "Formulaire refusé" in text and "Lien inconnu" not in text
        assert re.search(rf'href="{mine}"', forged.text)
        page = visible_text((await browser.get(mine)).text)
    assert "5 places restantes sur 5" in page  # nothing was signed up


def test_the_origin_a_browser_sends_follows_its_referrer_policy() -> None:
    page, action = f"{SITE}/inscription/x", f"{SITE}/inscription/x/ateliers"
    assert origin_sent("no-referrer", page, action) == "null"
    assert origin_sent("same-origin", page, action) == SITE
    assert origin_sent("same-origin", page, "https://ailleurs.example/") == "null"
    assert (
        origin_sent("strict-origin-when-cross-origin", "https://a.example/p", "http://a.example/q") == "null"
    )
    assert origin_sent("", page, action) == SITE
