"""Mystery guests stay secret on every public surface until their reveal, then appear everywhere."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from app.cli import import_programmes, read_programme
from app.config import Settings
from tests.conftest import Api, programme_file

# The bare tails catch a canary cut or re-encoded on its way out; 12 hex digits, so that no uuid
# (the frab schedule's guids, made from a rehearsal's timestamped slug) carries one by chance —
# 4 digits matched a fresh guid in about one run in two hundred.
CANARY_NAME = "Zorglub CANARY-NAME-7f3a1c9e4b2d"
CANARY_ROLE = "CANARY-ROLE-91bc6e0a3f58"
CANARY_ORG = "CANARY-ORG-55de8b27c4a1"
CANARY_ANNOUNCEMENT = "CANARY-ANNOUNCEMENT-c0ffee5a9d13"
CANARIES = (
    CANARY_NAME,
    CANARY_ROLE,
    CANARY_ORG,
    CANARY_ANNOUNCEMENT,
    "7f3a1c9e4b2d",
    "91bc6e0a3f58",
    "55de8b27c4a1",
    "c0ffee5a9d13",
)

SECRET_SHOW: dict[str, Any] = {
    "slug": "soiree-secrete",
    "title": "Soirée secrète",
    "timezone": "Europe/Paris",
    "starts_at": "2020-11-23T19:00:00+01:00",
    "ends_at": "2020-11-23T21:00:00+01:00",
    "segments": [
        {
            "id": "ouverture",
            "title": "Ouverture",
            "planned_start": "2020-11-23T19:00:00+01:00",
            "planned_end": "2020-11-23T20:00:00+01:00",
            "items": [
                {"id": "accueil", "title": "Accueil", "speakers": [{"name": "Anne Publique"}]},
                {
                    "id": "surprise",
                    "kind": "announcement",
                    "title": "Une annonce",
                    "mystery": True,
                    "teaser": "Un invité mystère…",
                    "hidden": {
                        "speakers": [{"name": CANARY_NAME, "role": CANARY_ROLE, "organisation": CANARY_ORG}],
                        "announcement": CANARY_ANNOUNCEMENT,
                    },
                },
                {"id": "fin", "title": "Fin"},
            ],
        }
    ],
}


async def public_surfaces(api: Api) -> list[str]:
    """Everything an anonymous client can read about the show: bodies, headers, errors, messages."""
    slug = SECRET_SHOW["slug"]
    texts: list[str] = []
    paths = [
        "/api/v1/events",
        f"/api/v1/events/{slug}",
        f"/api/v1/events/{slug}/live",
        f"/api/v1/events/{slug}/timeline",
        "/openapi.json",
        f"/api/v1/events/{slug}/nope",
    ]
    for path in paths:
        response = await api.client.get(path)
        texts.append(response.text)
        texts.append(json.dumps(dict(response.headers)))
    # Errors a moderator can provoke carry the live state too; they must not carry the secret.
    for body in (
        {"action": "next", "expected_version": 0},
        {"action": "goto", "expected_version": 99, "target": "x"},
    ):
        response = await api.client.post(
            f"/api/v1/events/{slug}/control",
            json=body,
            headers={"Authorization": f"Bearer {await api.token()}"},
        )
        texts.append(response.text)
    async with connect(api.ws_url(slug)) as ws:
        texts.append(str(await ws.recv()))
    return texts


def leaks(texts: list[str]) -> list[str]:
    return [canary for canary in CANARIES for text in texts if canary in text]


@pytest.fixture
async def secret_api(api: Api, tmp_path: Path) -> Api:
    path = programme_file(tmp_path, SECRET_SHOW)
    await import_programmes(api.settings, [read_programme(path)])
    return api


async def test_nothing_identifies_the_guest_before_the_reveal(
    secret_api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    api = secret_api
    slug = SECRET_SHOW["slug"]
    caplog.set_level(logging.INFO)
    async with connect(api.ws_url(slug)) as ws:
        messages = [str(await ws.recv())]
        for version, action in enumerate(["start", "next", "next", "previous"]):
            response = await api.control(action, version, slug=slug)
            assert response.status_code == 200
            messages.append(str(await ws.recv()))
    assert json.loads(messages[2])["live"]["item"]["id"] == "surprise"
    assert json.loads(messages[2])["live"]["item"]["speakers"] == []
    assert json.loads(messages[2])["live"]["item"]["teaser"] == "Un invité mystère…"
    assert leaks(messages + await public_surfaces(api)) == []
    assert leaks([record.getMessage() for record in caplog.records]) == []


async def test_after_the_reveal_the_guest_is_public_everywhere_at_once(secret_api: Api) -> None:
    api = secret_api
    slug = SECRET_SHOW["slug"]
    await api.control("start", 0, slug=slug)
    async with connect(api.ws_url(slug)) as ws:
        await ws.recv()
        response = await api.control("reveal", 1, "surprise", slug=slug)
        assert response.status_code == 200
        pushed = json.loads(await ws.recv())["live"]
    assert pushed["version"] == 2
    event = (await api.client.get(f"/api/v1/events/{slug}")).json()
    surprise = event["segments"][0]["items"][1]
    assert surprise["revealed"] is True and surprise["revealed_at"] is not None
    assert surprise["speakers"] == [{"name": CANARY_NAME, "role": CANARY_ROLE, "organisation": CANARY_ORG}]
    assert surprise["announcement"] == CANARY_ANNOUNCEMENT
    assert pushed["next_item"]["announcement"] == CANARY_ANNOUNCEMENT


async def test_a_revealed_guest_does_not_unmask_the_others(api: Api) -> None:
    await api.control("start", 0)
    assert (await api.control("reveal", 1, "invite-mystere-1")).status_code == 200
    event = (await api.client.get("/api/v1/events/diner-elus-entreprises-2020")).json()
    mysteries = {i["id"]: i for s in event["segments"] for i in s["items"] if i["mystery"]}
    assert mysteries["invite-mystere-1"]["revealed"] and mysteries["invite-mystere-1"]["announcement"]
    for hidden in ("invite-mystere-2", "invite-mystere-3"):
        assert (mysteries[hidden]["revealed"], mysteries[hidden]["speakers"]) == (False, [])
        assert mysteries[hidden]["announcement"] is None


def test_the_settings_never_print_the_secret_key() -> None:
    settings = Settings(secret_key="CANARY-KEY-1234")
    assert "CANARY-KEY-1234" not in repr(settings)
    assert "CANARY-KEY-1234" not in str(settings.model_dump())
