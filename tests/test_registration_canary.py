"""No registrant's name or e-mail in any public byte: reads, exports, WebSocket, pages, errors, logs.

Registrants with canary names register, change, sign up and provoke every refusal they can;
then every surface an anonymous client can reach is read and searched for the canaries.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from app.exports import EXPORTERS
from frontend.config import Settings as FrontendSettings
from frontend.main import create_app as create_frontend
from tests.conftest import Api
from tests.mailbox import Mailbox
from tests.test_projection import Clock
from tests.test_registrations import registration_api
from tests.test_sessions import SLUG, unpacked

CANARY_NAME = "Zéphyrin CANARY-NAME-8a1f"
CANARY_EMAIL = "canary-8a1f@exemple.fr"
CANARY_ORG = "CANARY-ORG-3b7e"
CANARIES = (CANARY_NAME, "CANARY-NAME", "8a1f", CANARY_EMAIL, "canary-8a1f", CANARY_ORG, "3b7e")
EXPORTS = tuple(exporter.filename for exporter in EXPORTERS)  # every one, a new one too


@pytest.fixture
async def api_clock(sqlite_url: str, tmp_path: Path, mailbox: Mailbox) -> AsyncIterator[tuple[Api, Clock]]:
    async with registration_api(sqlite_url, tmp_path, mailbox, registrations_per_address=4) as running:
        yield running


def leaks(texts: list[str]) -> list[str]:
    return [canary for canary in CANARIES for text in texts if canary.lower() in text.lower()]


async def test_no_registrant_appears_on_any_public_surface(
    api_clock: tuple[Api, Clock], caplog: pytest.LogCaptureFixture
) -> None:
    api, clock = api_clock
    caplog.set_level(logging.INFO)
    texts: list[str] = []

    async def keep(response: httpx.Response) -> httpx.Response:
        # A zip (the report's .xlsx) is read member by member: compressed, a canary would not show.
        texts.extend(body.decode("utf-8", "replace") for body in unpacked(response.content))
        texts.append(json.dumps(dict(response.headers)))
        return response

    base = f"/api/v1/events/{SLUG}/registrations"
    form = {"name": CANARY_NAME, "email": CANARY_EMAIL, "organisation": CANARY_ORG, "category": "autre"}
    created = await api.client.post(base, json={**form, "consent": True})
    token = created.json()["token"]
    # Every refusal a registrant (or someone typing their address) can provoke, read in full.
    await keep(await api.client.post(base, json={**form, "consent": True, "email": CANARY_EMAIL.upper()}))
    await keep(await api.client.post(base, json={**form, "consent": False}))
    await keep(await api.client.post(base, json={**form, "email": f"{CANARY_NAME}@@x", "consent": True}))
    await keep(await api.client.post(base, json={**form, "name": CANARY_NAME * 20, "consent": True}))
    await keep(await api.client.post(base, json={**form, "consent": True, "website": CANARY_EMAIL}))
    for _ in range(3):
        await keep(await api.client.post(base, json={**form, "consent": True}))  # until rate limited
    assert texts[-2].startswith('{"detail":"Too many registrations')
    await keep(
        await api.client.post(f"/api/v1/registrations/{token}/signups", json={"session_id": CANARY_NAME})
    )
    await keep(await api.client.patch(f"/api/v1/registrations/{token}", json={"email": CANARY_EMAIL}))
    signup = await api.client.post(
        f"/api/v1/registrations/{token}/signups", json={"session_id": "gouvernance"}
    )
    assert signup.status_code == 201

    clock.now = datetime(2030, 3, 1, 8, tzinfo=UTC)
    async with connect(api.ws_url(SLUG)) as ws:
        texts.append(str(await ws.recv()))
        for version, action in enumerate(("start", "next")):
            assert (await api.control(action, version, slug=SLUG)).status_code == 200
            texts.append(str(await ws.recv()))
    paths = ["/api/v1/events", f"/api/v1/events/{SLUG}", f"/api/v1/events/{SLUG}/live", "/openapi.json"]
    paths += [f"/api/v1/events/{SLUG}/timeline"] + [f"/api/v1/events/{SLUG}/{name}" for name in EXPORTS]
    paths += [f"{base}.csv", base, f"/api/v1/registrations/{'x' * 40}"]  # refused without a token
    for path in paths:
        await keep(await api.client.get(path))

    frontend = create_frontend(FrontendSettings(api_url=api.url, secret_key="s"))
    async with frontend.router.lifespan_context(frontend):
        transport = httpx.ASGITransport(app=frontend)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as browser:
            for page in ("/", f"/events/{SLUG}", f"/events/{SLUG}/replay", "/login"):
                await keep(await browser.get(page))

    event = json.loads(texts[texts.index(next(t for t in texts if t.startswith('{"slug":"ateliers-essai"')))])
    assert event["registered_count"] == 1
    assert [t[:300] for t in texts if leaks([t])] == []
    # Every log line of the servers at INFO and above (not the test's own SMTP server, aiosmtpd's `mail.log`).
    logged = [
        f"{r.name}: {r.getMessage()}"
        for r in caplog.records
        if r.levelno >= logging.INFO and not r.name.startswith("mail.log")
    ]
    assert [line[:300] for line in logged if leaks([line])] == []
    # …and the registrant does see their own data, behind their own link.
    mine = (await api.client.get(f"/api/v1/registrations/{token}")).json()
    assert (mine["name"], mine["email"]) == (CANARY_NAME, CANARY_EMAIL)


def test_access_logs_never_show_a_personal_link() -> None:
    from app.api.registrations import hide_tokens_in_access_logs
    from frontend.routes.registration import hide_tokens_in_access_logs as hide_in_pages

    hide_tokens_in_access_logs()
    hide_in_pages()
    access = logging.getLogger("uvicorn.access")
    token = "Zq3v9X_kLm-2pR8sT4uV6wY0aB1cD3eF5gH7iJ9kL0m"
    lines = []
    for path in (f"/api/v1/registrations/{token}/signups", f"/inscription/{token}/annulation"):
        record = logging.LogRecord(
            "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
            ("127.0.0.1:5000", "GET", path, "1.1", 200), None,
        )  # fmt: skip
        assert all(f.filter(record) for f in access.filters)
        lines.append(record.getMessage())
    assert lines == [
        '127.0.0.1:5000 - "GET /api/v1/registrations/…/signups HTTP/1.1" 200',
        '127.0.0.1:5000 - "GET /inscription/…/annulation HTTP/1.1" 200',
    ]
