"""Login, sessions, CSRF, throttling and the console's presses, through the frontend's HTTP
interface (httpx on the ASGI app) against the real backend."""

from __future__ import annotations

import re

import httpx
import programme_samples as samples
import pytest
from backend import USER_PASSWORD, Backend
from fastapi import FastAPI
from html_text import form_token, visible_text

CONSOLE = f"/events/{samples.SLUG}/console"
CONTROL = f"{CONSOLE}/control"
PASSWORD = USER_PASSWORD


def console_token(html: str) -> str:
    match = re.search(r"X-CSRF-Token&#34;: &#34;([0-9a-f]+)&#34;", html) or re.search(
        r'"X-CSRF-Token": "([0-9a-f]+)"', html
    )
    assert match, "no CSRF header on the console"
    return match.group(1)


async def log_in(
    client: httpx.AsyncClient, username: str = "regie", password: str = PASSWORD
) -> httpx.Response:
    page = await client.get(f"/login?next={CONSOLE}")
    return await client.post(
        "/login",
        data={
            "username": username,
            "password": password,
            "next": CONSOLE,
            "csrf_token": form_token(page.text),
        },
    )


async def open_console(client: httpx.AsyncClient) -> str:
    answer = await log_in(client)
    assert answer.status_code == 303
    console = await client.get(CONSOLE)
    assert console.status_code == 200
    return console_token(console.text)


async def press(
    client: httpx.AsyncClient, token: str, action: str, version: int, target: str = ""
) -> httpx.Response:
    return await client.post(
        CONTROL,
        data={"action": action, "expected_version": str(version), "target": target},
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )


async def test_the_console_asks_for_a_login(client: httpx.AsyncClient) -> None:
    answer = await client.get(CONSOLE)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/login?next={CONSOLE}&notice=required"
    login = await client.get(answer.headers["location"])
    assert "Connectez-vous pour ouvrir la console de régie." in visible_text(login.text)


async def test_login_gives_a_fresh_session_id_and_logout_ends_it(client: httpx.AsyncClient) -> None:
    await client.get("/login")
    before = client.cookies["regie_session"]
    answer = await log_in(client)
    assert (answer.status_code, answer.headers["location"]) == (303, CONSOLE)
    after = client.cookies["regie_session"]
    assert after != before
    assert "HttpOnly" in answer.headers["set-cookie"] and "SameSite=Lax" in answer.headers["set-cookie"]
    console = await client.get(CONSOLE)
    assert "Connecté : regie" in visible_text(console.text)

    # The id known before the login (a fixation attempt) opens nothing.
    planted = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    planted.cookies.set("regie_session", before)
    assert (await planted.get(CONSOLE)).status_code == 303
    await planted.aclose()

    logout = await client.post("/logout", data={"csrf_token": form_token(console.text)})
    assert logout.headers["location"] == "/login?notice=logout"
    assert (await client.get(CONSOLE)).status_code == 303
    stolen = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    stolen.cookies.set("regie_session", after)
    assert (await stolen.get(CONSOLE)).status_code == 303
    await stolen.aclose()


async def test_the_api_token_never_reaches_the_browser(client: httpx.AsyncClient) -> None:
    answer = await log_in(client)
    console = await client.get(CONSOLE)
    for text in (answer.headers.get("set-cookie", ""), console.text, str(client.cookies)):
        assert "bearer" not in text.lower() and "access_token" not in text


async def test_login_without_its_csrf_token_is_refused(client: httpx.AsyncClient) -> None:
    await client.get("/login")
    answer = await client.post("/login", data={"username": "regie", "password": PASSWORD, "next": CONSOLE})
    assert answer.status_code == 403
    assert "Le formulaire a expiré." in visible_text(answer.text)
    assert (await client.get(CONSOLE)).status_code == 303


async def test_wrong_passwords_are_throttled(client: httpx.AsyncClient) -> None:
    for _ in range(3):
        answer = await log_in(client, password="faux")
        assert answer.status_code == 401
        assert "Identifiant ou mot de passe incorrect." in visible_text(answer.text)
    answer = await log_in(client, password="faux")
    assert answer.status_code == 429
    assert "Trop de tentatives de connexion. Réessayez dans 15 minutes." in visible_text(answer.text)
    answer = await log_in(client)  # even the right password waits: that is what throttling means
    assert answer.status_code == 429
    assert int(answer.headers["retry-after"]) > 0


async def test_a_press_moves_the_show_and_answers_with_the_new_state(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    token = await open_console(client)
    answer = await press(client, token, "start", 0)
    assert answer.status_code == 200
    assert visible_text(answer.text, "console-flash") == (
        "Le direct a commencé : « Accueil » est à l'antenne (version 1)."
    )
    assert "Version 1" in visible_text(answer.text, "console-state")
    assert 'hx-swap-oob="true"' in answer.text
    live = await backend.live()
    assert (live["status"], live["version"]) == ("live", 1)


async def test_the_answer_to_a_press_reads_no_programme(
    client: httpx.AsyncClient, app: FastAPI, backend: Backend
) -> None:
    """The console's answer is rendered from the push: the frontend asks the backend for the
    press and nothing else, and the answer already shows the revealed guest."""
    hubs = app.state.services.hubs
    hubs.acquire(samples.SLUG)  # what the console page's own socket does while it is open
    token = await open_console(client)
    assert (await press(client, token, "start", 0)).status_code == 200
    assert (await press(client, token, "goto", 1, "mystere")).status_code == 200
    assert backend.faults is not None
    before = +backend.faults.requests
    answer = await press(client, token, "reveal", 2, "mystere")
    assert answer.status_code == 200
    assert samples.CANARY_NAME in visible_text(answer.text, "console-state") + visible_text(
        answer.text, "console-programme"
    )
    asked = backend.faults.requests - before
    hubs.release(samples.SLUG)
    assert dict(asked) == {("POST", f"/api/v1/events/{samples.SLUG}/control"): 1}


async def test_a_press_on_an_old_version_is_told_another_moderator_acted(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    token = await open_console(client)
    assert (await press(client, token, "start", 0)).status_code == 200
    assert (await press(client, token, "next", 1)).status_code == 200
    answer = await press(client, token, "next", 1)  # a second console, still on version 1
    assert answer.status_code == 409
    assert visible_text(answer.text, "console-flash").startswith(
        "Un autre modérateur a agi avant vous : le direct est passé à la version 2. "
        "Votre commande « Suivant » n'a pas été appliquée"
    )
    assert "Version 2" in visible_text(answer.text, "console-state")
    assert "Les résultats de l'étude" in visible_text(answer.text, "console-state")
    assert await backend.version() == 2


async def test_a_press_that_does_not_fit_says_why(client: httpx.AsyncClient, backend: Backend) -> None:
    token = await open_console(client)
    answer = await press(client, token, "next", 0)
    assert answer.status_code == 409
    assert visible_text(answer.text, "console-flash") == (
        "« Suivant » n'est pas possible maintenant : le direct n'a pas encore commencé ; démarrez-le d'abord."
    )


@pytest.mark.parametrize(
    ("presses", "refused", "flash"),
    [
        (
            [("start", "")],
            ("start", ""),
            "« Démarrer » n'est pas possible maintenant : le direct a déjà commencé.",
        ),
        (
            [("start", "")],
            ("previous", ""),
            "« Précédent » n'est pas possible maintenant : vous êtes déjà au premier moment du programme.",
        ),
        (
            [("start", ""), ("reveal", "mystere")],
            ("reveal", "mystere"),
            "« Révéler » n'est pas possible maintenant : cet invité est déjà révélé.",
        ),
        (
            [("start", "")],
            ("goto", ""),
            "« Aller à » n'est pas possible : choisissez d'abord le moment visé dans le programme.",
        ),
    ],
)
async def test_each_refusal_is_said_in_french_from_its_code(
    client: httpx.AsyncClient,
    backend: Backend,
    presses: list[tuple[str, str]],
    refused: tuple[str, str],
    flash: str,
) -> None:
    token = await open_console(client)
    for version, (action, target) in enumerate(presses):
        assert (await press(client, token, action, version, target)).status_code == 200
    answer = await press(client, token, refused[0], len(presses), refused[1])
    assert answer.status_code in (409, 422)
    assert visible_text(answer.text, "console-flash") == flash


@pytest.mark.parametrize(
    "headers",
    [
        {"HX-Request": "true"},
        {"HX-Request": "true", "X-CSRF-Token": "0" * 64},
    ],
)
async def test_a_press_without_a_valid_csrf_token_is_refused(
    client: httpx.AsyncClient, backend: Backend, headers: dict[str, str]
) -> None:
    await open_console(client)
    answer = await client.post(CONTROL, data={"action": "start", "expected_version": "1"}, headers=headers)
    assert answer.status_code == 403
    assert "Cette page a expiré" in visible_text(answer.text, "console-flash")
    assert (await backend.live())["status"] == "scheduled"


async def test_a_press_from_another_site_is_refused(client: httpx.AsyncClient, backend: Backend) -> None:
    token = await open_console(client)
    answer = await client.post(
        CONTROL,
        data={"action": "start", "expected_version": "1"},
        headers={"HX-Request": "true", "X-CSRF-Token": token, "Origin": "https://evil.example"},
    )
    assert answer.status_code == 403
    assert (await backend.live())["status"] == "scheduled"


async def test_an_expired_session_sends_the_console_to_the_login(client: httpx.AsyncClient) -> None:
    answer = await client.post(
        CONTROL, data={"action": "start", "expected_version": "1"}, headers={"HX-Request": "true"}
    )
    assert answer.status_code == 401
    assert answer.headers["hx-redirect"] == f"/login?next={CONSOLE}&notice=expired"


async def test_a_malformed_press_is_refused_in_french(client: httpx.AsyncClient, backend: Backend) -> None:
    token = await open_console(client)
    answer = await press(client, token, "explode", 0)
    assert answer.status_code == 400
    assert "Commande incomprise" in visible_text(answer.text, "console-flash")


async def test_a_backend_that_does_not_answer_gives_french_messages_not_errors(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    token = await open_console(client)
    await backend.stop()  # the backend goes away between the page and the press
    answer = await press(client, token, "start", 0)
    assert answer.status_code == 503
    assert "La régie ne répond pas" in visible_text(answer.text, "console-flash")
    assert "Traceback" not in answer.text


async def test_security_headers_on_every_page(client: httpx.AsyncClient) -> None:
    answer = await client.get("/")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert answer.headers["x-content-type-options"] == "nosniff"
