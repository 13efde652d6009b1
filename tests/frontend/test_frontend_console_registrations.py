"""The consoles' « Inscriptions » box, pushed: a registration or a sign-up through the API reaches
every open console without reload, rendered once from the backend's counts (the frontend reads
nobody's registration for it), and no public viewer hears of it (against the real backend, on
real sockets)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import programme_samples as samples
from backend import Backend
from conftest import serve
from html_text import visible_text
from test_frontend_console import open_console
from test_frontend_questions import LIVE, message_with
from test_frontend_sockets import receive_state, ws_url
from websockets.asyncio.client import connect

from frontend.client import ApiClient
from frontend.config import Settings
from frontend.main import create_app

REGISTRATIONS = f"/api/v1/events/{samples.SLUG}/registrations"


async def register(backend: Backend, n: int) -> None:
    assert backend.api is not None
    form = {
        "name": f"CANARY-NAME-{n}e4e4",
        "email": f"canary-{n}-e5e5@exemple.fr",
        "organisation": None,
        "category": "elu",
        "consent": True,
    }
    answer = await backend.api.client.post(REGISTRATIONS, json=form)
    assert answer.status_code == 201, answer.text


def spy_on_relay(api: ApiClient) -> list[str]:
    """The paths the frontend relays to the real backend from now on (it still relays them)."""
    paths: list[str] = []
    relay = api.relay

    async def spied(method: str, path: str, **kwargs: Any) -> httpx.Response:
        paths.append(path)
        return await relay(method, path, **kwargs)

    api.relay = spied  # type: ignore[method-assign]
    return paths


async def test_registrations_reach_open_consoles_without_reload_read_once_per_change(
    settings: Settings, backend: Backend
) -> None:
    async for web_url in serve(application := create_app(settings)):
        async with httpx.AsyncClient(base_url=web_url) as one, httpx.AsyncClient(base_url=web_url) as two:
            await open_console(one)
            await open_console(two)
            opened = visible_text((await one.get(f"{LIVE}/console")).text, "console-registrations")
            assert opened.startswith("Inscriptions 0 inscrit ")
            console = ws_url(web_url, f"{LIVE}/console/ws")
            headers = [{"Cookie": f"regie_session={c.cookies['regie_session']}"} for c in (one, two)]
            async with (
                connect(console, origin=web_url, additional_headers=headers[0]) as first,
                connect(console, origin=web_url, additional_headers=headers[1]) as second,
                connect(ws_url(web_url, f"{LIVE}/ws"), origin=web_url) as public,
            ):
                for socket in (first, second, public):
                    await receive_state(socket)
                relayed = spy_on_relay(application.state.services.api)

                await register(backend, 1)
                one_registered = "<strong>1</strong> inscrit"
                pushed = await message_with(first, "console-registrations", one_registered)
                assert pushed == await message_with(second, "console-registrations", one_registered)
                assert visible_text(pushed).startswith("Inscriptions 1 inscrit Télécharger registrations.csv")
                assert not [path for path in relayed if "registrations" in path]  # from the push alone

                await register(backend, 2)
                await register(backend, 3)
                pushed = await message_with(first, "console-registrations", "<strong>3</strong> inscrits")
                assert "e4e4" not in pushed and "e5e5" not in pushed  # counts, never a name

                heard = []
                try:
                    async with asyncio.timeout(2):
                        while True:
                            heard.append(str(await public.recv()))
                except TimeoutError:
                    pass
                assert not any("console-registrations" in m or "e4e4" in m for m in heard)
