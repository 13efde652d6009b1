"""What a moderator sees that viewers do not, and what the console no longer offers by mistake."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import programme_samples as samples
from backend import Backend
from html_text import visible_text
from test_frontend_console import CONSOLE, open_console, press
from test_frontend_render import page, renderer, view_at

from frontend.models import Event, LiveState
from frontend.presenter import show_view


async def test_the_console_shows_the_moderator_whom_each_mystery_item_hides(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    await open_console(client)
    html = (await client.get(CONSOLE)).text
    secrets = html[html.index('class="console-secrets"') :]
    text = visible_text(secrets)
    assert "L'engagement du monde académique" in text
    assert samples.CANARY_NAME in text and samples.CANARY_ANNOUNCEMENT in text
    # Never in what consoles share, nor on any public page.
    fragments = renderer.console_fragments(view_at("mystere"))
    assert samples.CANARY_NAME not in fragments
    for path in (f"/events/{samples.SLUG}", f"/events/{samples.SLUG}/replay", "/"):
        assert samples.CANARY_NAME not in (await client.get(path)).text, path


async def test_reveal_is_not_offered_once_the_show_has_ended(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    token = await open_console(client)
    assert (await press(client, token, "start", await backend.version())).status_code == 200
    live = visible_text((await client.get(CONSOLE)).text, "console-programme")
    assert "Révéler" in live
    assert (await press(client, token, "end", await backend.version())).status_code == 200
    ended = (await client.get(CONSOLE)).text
    assert "Révéler" not in visible_text(ended, "console-programme")
    assert 'class="control control-reveal"' in ended  # the big button stays, disabled
    assert "disabled" in ended[ended.index("control control-reveal") :].split(">", 1)[0]


def test_go_to_buttons_are_named_by_what_they_show() -> None:
    html = renderer.console_fragments(view_at("etude"))
    assert 'aria-label="Aller à' not in html  # a name that did not match the visible text
    assert "Aller à à venir Le mot de la fin Elodie JULLIEN" in visible_text(html, "console-programme")


def test_item_descriptions_are_on_the_live_and_replay_pages() -> None:
    programme = samples.programme()
    programme["segments"][0]["items"][1]["description"] = "Comment changer d'échelle ? Avec qui ?"
    event = Event.model_validate(programme)
    live = LiveState(
        event=samples.SLUG, version=1, status="scheduled", server_time=datetime(2020, 11, 23, tzinfo=UTC)
    )
    html = page(show_view(event, live))
    assert "Les résultats de l'étude Anne ROBIN Comment changer d'échelle ? Avec qui ?" in visible_text(
        html, "live-programme"
    )


async def test_after_login_a_moderator_lands_on_the_events_they_run(client: httpx.AsyncClient) -> None:
    from html_text import form_token

    page = await client.get("/login")
    answer = await client.post(
        "/login", data={"username": "regie", "password": "motdepasse", "csrf_token": form_token(page.text)}
    )
    assert (answer.status_code, answer.headers["location"]) == (303, "/console")
    home = await client.get("/console")
    text = visible_text(home.text)
    assert "Mes événements" in text and "Ouvrir la console" in text
    assert f'href="/events/{samples.SLUG}/console"' in home.text
    assert home.headers["cache-control"] == "no-store"


async def test_every_page_header_says_who_is_logged_in(client: httpx.AsyncClient) -> None:
    anonymous = await client.get("/")
    assert "Connecté" not in anonymous.text
    await open_console(client)
    for path in ("/", f"/events/{samples.SLUG}", f"/events/{samples.SLUG}/replay", "/console", CONSOLE):
        response = await client.get(path)
        assert "Connecté : regie" in visible_text(response.text), path
        # A page that names its reader is that browser's alone: no shared cache keeps it.
        assert response.headers["cache-control"] in ("private, no-cache", "no-store"), path
        assert "Cookie" in response.headers.get("vary", ""), path


async def test_the_landing_page_asks_for_a_login(client: httpx.AsyncClient) -> None:
    answer = await client.get("/console")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=/console")
