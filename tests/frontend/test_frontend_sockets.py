"""The frontend's WebSockets on a real socket: the state at once, the same bytes to every viewer,
Origin checks, the console's session, and 1012 on shutdown."""

from __future__ import annotations

import asyncio
import re

import httpx
import programme_samples as samples
import pytest
from backend import USER_PASSWORD, Backend
from conftest import serve
from html_text import form_token, visible_text
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from frontend.config import Settings
from frontend.main import create_app

CONSOLE = f"/events/{samples.SLUG}/console"
PASSWORD = USER_PASSWORD


def ws_url(web_url: str, path: str) -> str:
    return web_url.replace("http://", "ws://") + path


async def receive_state(socket: ClientConnection) -> str:
    """The next message that carries a state (heartbeats only prove the socket is alive; the
    questions come in messages of their own, test_frontend_questions.py)."""
    while True:
        message = await asyncio.wait_for(socket.recv(), 3)
        assert isinstance(message, str)
        if 'id="live-beat"' not in message and not re.match(
            r'<(div|section) id="(live|console)-questions"', message
        ):
            return message


async def drain(socket: ClientConnection) -> None:
    while True:
        await asyncio.wait_for(socket.recv(), 3)


async def test_a_viewer_gets_the_whole_state_on_connect_and_every_change(
    web_url: str, backend: Backend
) -> None:
    live = ws_url(web_url, f"/events/{samples.SLUG}/ws")
    async with connect(live, origin=web_url) as first, connect(live) as second:
        on_connect = [await receive_state(first), await receive_state(second)]
        assert on_connect[0] == on_connect[1]
        assert "Le direct n'a pas encore commencé." in visible_text(on_connect[0], "live-now")
        assert re.search(r'id="live-status"[^>]*data-version="0"', on_connect[0])

        await backend.press("start")
        updates = [await receive_state(first), await receive_state(second)]
        assert updates[0] == updates[1]
        assert "Accueil Charles HEIDSIECK" in visible_text(updates[0], "live-now")


@pytest.mark.parametrize("origin", ["https://evil.example", "http://127.0.0.1:1"])
async def test_a_socket_from_another_site_is_refused(web_url: str, origin: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(ws_url(web_url, f"/events/{samples.SLUG}/ws"), origin=origin):
            pass
    assert refused.value.response.status_code == 403


async def test_a_socket_for_an_unknown_event_is_refused(web_url: str) -> None:
    with pytest.raises(InvalidStatus):
        async with connect(ws_url(web_url, "/events/pas-un-evenement/ws")):
            pass


async def test_the_console_socket_needs_a_session(web_url: str) -> None:
    console = ws_url(web_url, f"/events/{samples.SLUG}/console/ws")
    async with connect(console, origin=web_url) as socket:
        with pytest.raises(ConnectionClosed) as closed:
            await socket.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401

    async with httpx.AsyncClient(base_url=web_url) as browser:
        form = await browser.get("/login")
        answer = await browser.post(
            "/login",
            data={
                "username": "regie",
                "password": PASSWORD,
                "next": CONSOLE,
                "csrf_token": form_token(form.text),
            },
        )
        assert answer.status_code == 303
        cookie = f"regie_session={browser.cookies['regie_session']}"
    async with connect(console, origin=web_url, additional_headers={"Cookie": cookie}) as socket:
        state = await receive_state(socket)
        assert "Version 0" in visible_text(state, "console-state")
        assert "csrf" not in state.lower()


async def test_viewers_are_told_to_reconnect_when_the_frontend_stops(settings: Settings) -> None:
    async for web_url in serve(create_app(settings)):
        socket = await connect(ws_url(web_url, f"/events/{samples.SLUG}/ws"))
        await receive_state(socket)
    with pytest.raises(ConnectionClosed) as closed:
        await drain(socket)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
