"""Attack: hostile input to the pages (`regie web`), served on a real socket in front of a real
backend, as a browser or a script would send it."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn

from app.cli.serve import server_config
from app.config import Settings as ApiSettings
from frontend.config import Settings as WebSettings
from frontend.main import create_app as create_web
from tests.conftest import DINER, PASSWORD, Api, free_port, running_api

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
