"""Attack: hostile input to the pages (`regie web`), served on a real socket in front of a real
backend, as a browser or a script would send it."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
import websockets

from app.cli.serve import server_config
from app.config import Settings as ApiSettings
from frontend.config import Settings as WebSettings
from frontend.main import create_app as create_web
from tests.conftest import DINER, PASSWORD, Api, free_port, regie, regie_env, running_api

CONSOLE = f"/events/{DINER}/console"


@dataclass
class Stack:
    api: Api
    web: httpx.AsyncClient


@contextlib.asynccontextmanager
async def running_web(api_url: str) -> AsyncIterator[httpx.AsyncClient]:
    port = free_port()
    settings = WebSettings(api_url=api_url, secret_key="pages-attack-test-key")
    config = server_config(create_web(settings), host="127.0.0.1", port=port)
    config.access_log = False
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            yield client
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def stack(seeded_sqlite_url: str) -> AsyncIterator[Stack]:
    async with running_api(ApiSettings(database_url=seeded_sqlite_url)) as api, running_web(api.url) as web:
        yield Stack(api, web)


def form_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert match, "no CSRF token in the form"
    return match.group(1)


def console_token(html: str) -> str:
    match = re.search(r"X-CSRF-Token&#34;: &#34;([0-9a-f]+)&#34;", html) or re.search(
        r'"X-CSRF-Token": "([0-9a-f]+)"', html
    )
    assert match, "no CSRF header on the console"
    return match.group(1)


async def open_console(web: httpx.AsyncClient, user: str = "moderator") -> str:
    page = await web.get(f"/login?next={CONSOLE}")
    answer = await web.post(
        "/login",
        data={"username": user, "password": PASSWORD, "next": CONSOLE, "csrf_token": form_token(page.text)},
    )
    assert answer.status_code == 303, answer.text
    console = await web.get(CONSOLE)
    assert console.status_code == 200
    return console_token(console.text)


@pytest.mark.parametrize("version", ["²", "9" * 5000, "-1", "1.0"])
async def test_a_console_press_with_a_malformed_version_is_refused_by_name(
    stack: Stack, version: str
) -> None:
    token = await open_console(stack.web)
    answer = await stack.web.post(
        f"{CONSOLE}/control",
        data={"action": "start", "expected_version": version},
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )
    assert answer.status_code == 422, answer.text
    assert "Numéro de version invalide (champ expected_version)" in answer.text
    assert "9" * 100 not in answer.text
    assert (await stack.api.live())["status"] == "scheduled"


def access_tokens(database_url: str, user: str) -> int:
    """How many live API tokens `user` has, read from the database itself."""
    path = database_url.removeprefix("sqlite+aiosqlite:///")
    with contextlib.closing(sqlite3.connect(path)) as db:
        (count,) = db.execute(
            "SELECT count(*) FROM access_token JOIN user_account AS u ON u.pk = access_token.user_pk "
            "WHERE u.name = ?",
            (user,),
        ).fetchone()
    return int(count)


async def test_logout_ends_the_api_token_on_the_backend(stack: Stack) -> None:
    url = stack.api.settings.database_url
    await open_console(stack.web)
    assert access_tokens(url, "moderator") == 1
    console = await stack.web.get(CONSOLE)
    answer = await stack.web.post("/logout", data={"csrf_token": form_token(console.text)})
    assert answer.headers["location"] == "/login?notice=logout"
    assert access_tokens(url, "moderator") == 0


async def drain(socket: websockets.ClientConnection) -> None:
    while True:
        await socket.recv()


async def test_regie_user_revoke_closes_an_open_console_within_seconds(stack: Stack) -> None:
    await open_console(stack.web)
    cookie = "; ".join(f"{name}={value}" for name, value in stack.web.cookies.items())
    ws_url = str(stack.web.base_url).replace("http://", "ws://") + f"{CONSOLE}/ws"
    async with websockets.connect(
        ws_url, additional_headers={"Cookie": cookie}, origin=websockets.Origin(str(stack.web.base_url))
    ) as console:
        await asyncio.wait_for(console.recv(), 10)  # the console's first state
        result = await asyncio.to_thread(
            regie,
            "user",
            "revoke",
            "moderator",
            env=regie_env(REGIE_DATABASE_URL=stack.api.settings.database_url),
        )
        assert result.returncode == 0, result.stderr
        # A timeout, not a timing assertion: the console checks its token every 3 s.
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(drain(console), 15)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    # The page itself now asks for a login.
    answer = await stack.web.get(CONSOLE)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login")


async def test_anonymous_responses_set_no_session_cookie(stack: Stack) -> None:
    for path in ("/", f"/events/{DINER}", "/static/js/regie.js", "/time", "/nowhere"):
        async with httpx.AsyncClient(base_url=str(stack.web.base_url)) as anonymous:
            response = await anonymous.get(path)
        assert "set-cookie" not in response.headers, path
    login = await stack.web.get("/login")
    assert login.headers["set-cookie"].startswith("regie_session=")


async def test_an_oversized_login_body_is_refused_unread(stack: Stack) -> None:
    await stack.web.get("/login")
    answer = await stack.web.post(
        "/login",
        content=b"username=" + b"a" * 200_000,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 413
    assert "Le formulaire envoyé est trop long" in answer.text


async def test_the_pages_login_throttle_ignores_a_rotating_x_forwarded_for(stack: Stack) -> None:
    """Six wrong passwords, each « from » another address: the sixth is throttled all the same."""
    statuses = []
    for n in range(6):
        page = await stack.web.get("/login")
        answer = await stack.web.post(
            "/login",
            data={"username": "admin", "password": "wrong password", "csrf_token": form_token(page.text)},
            headers={"X-Forwarded-For": f"203.0.113.{n}"},
        )
        statuses.append(answer.status_code)
    assert statuses == [401] * 5 + [429]
