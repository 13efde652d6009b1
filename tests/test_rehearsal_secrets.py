"""A rehearsal never reveals a mystery guest, and is thrown away.

The attack: an organiser runs `regie rehearse` on the day, in public (viewers, the overlay on the
stream), and the autopilot reveals every mystery guest on air before the real show. These tests
run that against real servers — the API and the pages each on a socket of their own, the real
`regie rehearse` process — and read every public byte of the rehearsal: the API's JSON, its
WebSocket, every export, the pages and their WebSockets. The real guest never appears; the
placeholders do.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
import re
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import update
from websockets.asyncio.client import connect

from app.cli import import_programmes, read_programme, server_config
from app.db import create_engine, create_sessionmaker
from app.exports import EXPORTERS
from app.models import Event
from app.rehearsal.copies import (
    PLACEHOLDER_ANNOUNCEMENT,
    PLACEHOLDER_ORGANISATION,
    PLACEHOLDER_ROLE,
    placeholder_name,
)
from frontend.config import Settings as FrontendSettings
from frontend.main import create_app as create_frontend
from tests.conftest import ROOT, Api, free_port, programme_file, regie_env
from tests.test_secrets import CANARY_NAME, SECRET_SHOW, leaks

SECRET = SECRET_SHOW["slug"]
GUEST = placeholder_name(1)


@dataclass
class Web:
    url: str
    client: httpx.AsyncClient

    def ws_url(self, path: str) -> str:
        return self.url.replace("http://", "ws://") + path


@contextlib.asynccontextmanager
async def running_frontend(api: Api) -> AsyncIterator[Web]:
    """The pages on a socket of their own, talking to `api` as `regie web` would."""
    port = free_port()
    settings = FrontendSettings(api_url=api.url, secret_key="rehearsal-test-key")
    config = server_config(create_frontend(settings), host="127.0.0.1", port=port)
    config.access_log = False
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        try:
            yield Web(url=url, client=client)
        finally:
            server.should_exit = True
            await task


@pytest.fixture
async def secret_api(api: Api, tmp_path: Path) -> Api:
    await import_programmes(api.settings, [read_programme(programme_file(tmp_path, SECRET_SHOW))])
    return api


async def regie_rehearse(api: Api, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "app.cli", "rehearse", *args),
        env=regie_env(REGIE_DATABASE_URL=api.settings.database_url),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def collect(url: str, into: list[str], *, origin: str | None = None) -> None:
    async with connect(url, origin=origin) as websocket:  # type: ignore[arg-type]
        async for message in websocket:
            into.append(str(message))


async def until(condition: object, timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.05)


async def test_no_public_byte_of_a_rehearsal_carries_the_real_guest_even_after_its_reveal(
    secret_api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    api = secret_api
    caplog.set_level(logging.INFO)
    async with running_frontend(api) as web:
        process = await regie_rehearse(
            api, SECRET, "--speed", "1800", "--starts-in", "3s", "--api-url", api.url
        )
        assert process.stdout is not None
        first = (await asyncio.wait_for(process.stdout.readline(), timeout=30)).decode()
        found = re.search(rf"created as ({SECRET}-repetition-[\d-]+):", first)
        assert found, first
        slug = found[1]
        # Viewers of every kind, connected before the start: the API's JSON and the pages' HTML.
        pushed: dict[str, list[str]] = {"api": [], "page": [], "overlay": []}
        viewers = [
            asyncio.create_task(collect(api.ws_url(slug), pushed["api"])),
            asyncio.create_task(collect(web.ws_url(f"/events/{slug}/ws"), pushed["page"], origin=web.url)),
            asyncio.create_task(
                collect(web.ws_url(f"/events/{slug}/overlay/ws"), pushed["overlay"], origin=web.url)
            ),
        ]
        try:
            rest, errors = await asyncio.wait_for(process.communicate(), timeout=60)
            assert process.returncode == 0, errors.decode()
            said = first + rest.decode()
            assert "reveal: Une annonce" in said and "the rehearsal has ended" in said
            await until(lambda: any('"status":"ended"' in m for m in pushed["api"]))
            await until(lambda: len(pushed["page"]) > 2 and len(pushed["overlay"]) > 2)
            await asyncio.sleep(0.5)  # the pages' last renders
        finally:
            for viewer in viewers:
                viewer.cancel()
            await asyncio.gather(*viewers, return_exceptions=True)

        surfaces: dict[str, str] = {"regie rehearse": said + errors.decode()}
        api_paths = [
            "/api/v1/events",
            f"/api/v1/events/{slug}",
            f"/api/v1/events/{slug}/live",
            f"/api/v1/events/{slug}/timeline",
            *(f"/api/v1/events/{slug}/{exporter.filename}" for exporter in EXPORTERS),
        ]
        for path in api_paths:
            response = await api.client.get(path)
            assert response.status_code == 200, (path, response.text)
            surfaces[path] = response.text
            surfaces[f"{path} headers"] = json.dumps(dict(response.headers))
        page_paths = [
            "/",
            f"/events/{slug}",
            f"/events/{slug}/replay",
            f"/events/{slug}/overlay",
            f"/events/{slug}/chapters.vtt",
        ]
        for path in page_paths:
            response = await web.client.get(path)
            assert response.status_code == 200, (path, response.text)
            surfaces[f"page {path}"] = response.text
            surfaces[f"page {path} headers"] = json.dumps(dict(response.headers))
        for name, messages in pushed.items():
            surfaces[f"{name} websocket"] = "\n".join(messages)
        surfaces["logs"] = "\n".join(record.getMessage() for record in caplog.records)

    # The attack fails: the real guest is nowhere, not even in part (nor once HTML is unescaped).
    found = [(name, c) for name, text in surfaces.items() for c in leaks([text, html.unescape(text)])]
    assert found == []
    text_of = {name: html.unescape(text) for name, text in surfaces.items()}
    # And the rehearsal did reveal, everywhere, what stands in for the guest.
    event = json.loads(surfaces[f"/api/v1/events/{slug}"])
    [surprise] = [item for segment in event["segments"] for item in segment["items"] if item["mystery"]]
    assert surprise["revealed"] is True
    assert surprise["speakers"] == [
        {"name": GUEST, "role": PLACEHOLDER_ROLE, "organisation": PLACEHOLDER_ORGANISATION}
    ]
    assert surprise["announcement"] == PLACEHOLDER_ANNOUNCEMENT
    assert json.dumps(GUEST)[1:-1] in surfaces["api websocket"]  # its JSON is ASCII (\u00e9)
    for name in ("page websocket", "overlay websocket", f"page /events/{slug}"):
        assert GUEST in text_of[name], name
    assert GUEST in surfaces[f"/api/v1/events/{slug}/schedule.json"]
    # Unlisted: the public index does not show it; the API's list says what it is.
    assert slug not in surfaces["page /"] and SECRET_SHOW["title"] in surfaces["page /"]
    listed = {e["slug"]: e["rehearsal"] for e in json.loads(surfaces["/api/v1/events"])}
    assert listed[slug] is True and listed[SECRET] is False
    # No way back to the real show from the rehearsal's replay page.
    assert f'href="/events/{SECRET}"' not in surfaces[f"page /events/{slug}/replay"]
    # The real show is untouched and still keeps its secret.
    assert (await api.live(SECRET))["version"] == 0
    assert CANARY_NAME not in (await api.client.get(f"/api/v1/events/{SECRET}")).text


async def rehearsal_of_the_secret_show(api: Api) -> str:
    process = await regie_rehearse(
        api, SECRET, "--speed", "100000", "--starts-in", "0s", "--api-url", api.url
    )
    out, errors = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, errors.decode()
    found = re.search(rf"created as ({SECRET}-repetition-[\d-]+):", out.decode())
    assert found, out.decode()
    return found[1]


async def test_regie_rehearse_delete_throws_a_rehearsal_away_and_nothing_else(secret_api: Api) -> None:
    api = secret_api
    slug = await rehearsal_of_the_secret_show(api)
    refused = await regie_rehearse(api, "--delete", SECRET)
    _, errors = await refused.communicate()
    assert (refused.returncode, errors.decode()) == (
        1,
        f"regie rehearse: « {SECRET} » is not a rehearsal: only rehearsal copies can be deleted.\n",
    )
    missing = await regie_rehearse(api, "--delete", "nulle-part")
    _, errors = await missing.communicate()
    assert (missing.returncode, errors.decode()) == (1, "regie rehearse: There is no event « nulle-part ».\n")

    deleted = await regie_rehearse(api, "--delete", slug)
    out, errors = await deleted.communicate()
    assert (deleted.returncode, out.decode()) == (0, f"deleted the rehearsal {slug}\n"), errors.decode()
    # The running API stops serving it as soon as its read snapshot is renewed.
    async with asyncio.timeout(10):
        while (await api.client.get(f"/api/v1/events/{slug}")).status_code != 404:
            await asyncio.sleep(0.1)
    assert (await api.client.get(f"/api/v1/events/{slug}/timeline")).status_code == 404
    assert (await api.client.get(f"/api/v1/events/{SECRET}")).status_code == 200


async def test_the_next_rehearsal_removes_those_older_than_a_day(secret_api: Api) -> None:
    api = secret_api
    made = await rehearsal_of_the_secret_show(api)
    old = f"{SECRET}-repetition-202011221900"  # as if made the day before the show
    engine = create_engine(api.settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            await session.execute(
                update(Event)
                .where(Event.slug == made)  # type: ignore[arg-type]
                .values(slug=old, updated_at=datetime.now(UTC) - timedelta(days=1, minutes=1))
            )
    finally:
        await engine.dispose()
    # Renamed behind the API's back: its reads catch up within a second (their snapshot's bound).
    # Until then a new rehearsal made in the same minute, under the same slug, would be read as
    # the ended one it replaces.
    async with asyncio.timeout(10):
        while (await api.client.get(f"/api/v1/events/{made}")).status_code != 404:
            await asyncio.sleep(0.1)
    process = await regie_rehearse(
        api, SECRET, "--speed", "100000", "--starts-in", "0s", "--api-url", api.url
    )
    out, errors = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, errors.decode()
    lines = out.decode().splitlines()
    assert lines[0] == f"removed the rehearsal {old} (older than a day)"
    assert f"created as {SECRET}-repetition-" in lines[1]
    assert not any("removed the rehearsal" in line for line in lines[1:])
    async with asyncio.timeout(10):
        while (await api.client.get(f"/api/v1/events/{old}")).status_code != 404:
            await asyncio.sleep(0.1)
    slugs = [event["slug"] for event in (await api.client.get("/api/v1/events")).json()]
    assert old not in slugs and SECRET in slugs
