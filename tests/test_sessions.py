"""Rooms and parallel sessions: the document, the public reads, the exports and the live page.

Everything is read back through the public API of a real backend (and the real frontend in front
of it), as a viewer or a conference app reads it.
"""

from __future__ import annotations

import copy
import io
import json
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.domain.programme import ProgrammeError, parse_programme
from app.exports import EXPORTERS
from frontend.config import Settings as FrontendSettings
from frontend.main import create_app as create_frontend
from tests.conftest import SEEDS, Api, programme_file
from tests.frontend.html_text import visible_text
from tests.test_exports import assert_c3voc_json
from tests.test_projection import Clock, clocked_api

SLUG = "ateliers-essai"
PRIVATE_LINK = "https://visio.example.org/salle-privee-4f7a"
OPEN_LINK = "https://visio.example.org/salle-ouverte"

WORKSHOPS: dict[str, Any] = {
    "slug": SLUG,
    "title": "Rencontre d'essai",
    "timezone": "Europe/Paris",
    "starts_at": "2030-03-01T09:00:00+01:00",
    "ends_at": "2030-03-01T12:00:00+01:00",
    "rooms": [
        {"id": "salle-a", "name": "Salle A", "url": PRIVATE_LINK},
        {"id": "salle-b", "name": "Salle B", "url": OPEN_LINK},
    ],
    "segments": [
        {
            "id": "matin",
            "title": "Matinée",
            "planned_start": "2030-03-01T09:00:00+01:00",
            "planned_end": "2030-03-01T10:00:00+01:00",
            "items": [{"id": "accueil", "kind": "welcome", "title": "Accueil"}],
        },
        {
            "id": "ateliers",
            "title": "Ateliers",
            "planned_start": "2030-03-01T10:00:00+01:00",
            "planned_end": "2030-03-01T11:00:00+01:00",
            "items": [
                {
                    "id": "ateliers-bloc",
                    "kind": "workshop",
                    "title": "Ateliers en parallèle",
                    "planned_start": "2030-03-01T10:00:00+01:00",
                    "signup_opens_at": "2030-02-01T09:00:00+01:00",
                    "signup_closes_at": "2030-03-01T10:00:00+01:00",
                    "sessions": [
                        {
                            "id": "gouvernance",
                            "title": "Quelle gouvernance choisir ?",
                            "room": "salle-a",
                            "capacity": 5,
                            "facilitators": [{"name": "Camille Martin", "organisation": "Le Labo"}],
                        },
                        {"title": "Comment changer d'échelle ?", "room": "salle-b"},
                    ],
                }
            ],
        },
        {
            "id": "cloture",
            "title": "Clôture",
            "planned_start": "2030-03-01T11:00:00+01:00",
            "planned_end": "2030-03-01T12:00:00+01:00",
            "items": [{"id": "au-revoir", "kind": "closing", "title": "Au revoir"}],
        },
    ],
}


def upcoming_workshops(slug: str, *, now: datetime, days: int = 7) -> dict[str, Any]:
    """The workshops' Rencontre `days` after `now`, its sign-up open from now on: for the pages,
    which check sign-up windows on the real clock."""
    data = copy.deepcopy(WORKSHOPS)
    shift = (now + timedelta(days=days)).replace(microsecond=0) - datetime.fromisoformat(
        str(data["starts_at"])
    )

    def moved(value: str) -> str:
        return (datetime.fromisoformat(value) + shift).isoformat()

    data["slug"] = slug
    data["starts_at"], data["ends_at"] = moved(str(data["starts_at"])), moved(str(data["ends_at"]))
    for segment in data["segments"]:
        segment["planned_start"], segment["planned_end"] = (
            moved(segment["planned_start"]),
            moved(segment["planned_end"]),
        )
        for item in segment["items"]:
            if "planned_start" in item:
                item["planned_start"] = moved(item["planned_start"])
            item.pop("signup_opens_at", None)
            item.pop("signup_closes_at", None)
    return data


def unpacked(body: bytes) -> list[bytes]:
    """A body as bytes to search: a zip (the report's .xlsx) is searched member by member."""
    if not body.startswith(b"PK"):
        return [body]
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        return [archive.read(name) for name in archive.namelist()]


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ProgrammeError) as refused:
        parse_programme(data, source="essai.yaml")
    return refused.value.problems


def test_a_session_gets_an_id_from_its_item_and_title() -> None:
    document = parse_programme(WORKSHOPS, source="essai.yaml")
    sessions = document.segments[1].items[0].sessions
    assert [s.id for s in sessions] == ["gouvernance", "ateliers-bloc-comment-changer-d-echelle"]


def test_the_document_refuses_sessions_that_do_not_fit() -> None:
    unknown_room = copy.deepcopy(WORKSHOPS)
    unknown_room["segments"][1]["items"][0]["sessions"][1]["room"] = "cave"
    assert problems(unknown_room) == [
        "document: item « Ateliers en parallèle », session « Comment changer d'échelle ? »: "
        "room « cave » is not one of the event's `rooms` (salle-a, salle-b)"
    ]
    same_room = copy.deepcopy(WORKSHOPS)
    same_room["segments"][1]["items"][0]["sessions"][1]["room"] = "salle-a"
    assert problems(same_room) == [
        "segment 2 « Ateliers », item 1 « Ateliers en parallèle »: "
        "two parallel sessions of one item share a room: each runs in its own"
    ]
    no_seat = copy.deepcopy(WORKSHOPS)
    no_seat["segments"][1]["items"][0]["sessions"][0]["capacity"] = 0
    assert problems(no_seat) == [
        "segment 2 « Ateliers », item 1 « Ateliers en parallèle », "
        "session 1 « Quelle gouvernance choisir ? », field `capacity`: "
        "Input should be greater than or equal to 1"
    ]
    window_alone = copy.deepcopy(WORKSHOPS)
    window_alone["segments"][0]["items"][0]["signup_opens_at"] = "2030-02-01T09:00:00+01:00"
    assert problems(window_alone) == [
        "segment 1 « Matinée », item 1 « Accueil »: "
        "`signup_opens_at` and `signup_closes_at` are only for items with `sessions`"
    ]


@pytest.fixture
async def workshops(sqlite_url: str, tmp_path: Path) -> AsyncIterator[tuple[Api, Clock]]:
    path = programme_file(tmp_path, WORKSHOPS)
    async with clocked_api(sqlite_url, path, now=datetime(2030, 3, 1, 7, 55, tzinfo=UTC)) as running:
        yield running


async def test_the_event_lists_its_rooms_and_each_session_with_its_seats(
    workshops: tuple[Api, Clock],
) -> None:
    api, _ = workshops
    event = (await api.client.get(f"/api/v1/events/{SLUG}")).json()
    assert event["rooms"] == [
        {"id": "salle-a", "name": "Salle A", "url": None},
        {"id": "salle-b", "name": "Salle B", "url": OPEN_LINK},
    ]
    block = event["segments"][1]["items"][0]
    assert block["signup_opens_at"] == "2030-02-01T08:00:00Z"
    assert block["signup_closes_at"] == "2030-03-01T09:00:00Z"
    assert block["sessions"] == [
        {
            "id": "gouvernance",
            "title": "Quelle gouvernance choisir ?",
            "room": "salle-a",
            "description": None,
            "facilitators": [{"name": "Camille Martin", "role": None, "organisation": "Le Labo"}],
            "capacity": 5,
            "seats_left": 5,
        },
        {
            "id": "ateliers-bloc-comment-changer-d-echelle",
            "title": "Comment changer d'échelle ?",
            "room": "salle-b",
            "description": None,
            "facilitators": [],
            "capacity": None,
            "seats_left": None,
        },
    ]
    assert event["segments"][0]["items"][0]["sessions"] == []
    assert event["registration_open"] is True and event["registered_count"] == 0


async def test_an_event_that_names_no_room_has_one_main_room(api: Api) -> None:
    event = (await api.client.get("/api/v1/events/diner-elus-entreprises-2020")).json()
    assert event["rooms"] == [{"id": "main", "name": "En ligne — retransmis en direct", "url": None}]


async def test_a_capacity_limited_room_link_is_in_no_public_read(workshops: tuple[Api, Clock]) -> None:
    api, _ = workshops
    for action in ("start", "next"):
        live = await api.live(SLUG)
        assert (await api.control(action, live["version"], slug=SLUG)).status_code == 200
    live = await api.live(SLUG)
    assert live["item"]["id"] == "ateliers-bloc"
    assert [s["id"] for s in live["item"]["sessions"]] == [
        "gouvernance",
        "ateliers-bloc-comment-changer-d-echelle",
    ]
    # Every export there is (a new one is scanned too), while the block is on air and once over.
    paths = ["", "/live", "/timeline", *(f"/{exporter.filename}" for exporter in EXPORTERS)]
    bodies = []
    for moment in ("on air", "ended"):
        if moment == "ended":
            live = await api.live(SLUG)
            assert (await api.control("end", live["version"], slug=SLUG)).status_code == 200
        for path in paths:
            answer = await api.client.get(f"/api/v1/events/{SLUG}{path}")
            assert answer.status_code == 200, path
            bodies += unpacked(answer.content)
        bodies.append((await api.client.get("/api/v1/events")).content)
    assert len(paths) >= 11
    assert all(PRIVATE_LINK.encode() not in body for body in bodies)
    assert any(OPEN_LINK.encode() in body for body in bodies)


async def test_the_seeds_run_their_workshops_as_parallel_sessions(api: Api) -> None:
    pionniers_2015 = (await api.client.get("/api/v1/events/rencontre-pionniers-2015")).json()
    items = {i["id"]: i for s in pionniers_2015["segments"] for i in s["items"]}
    assert [s["title"] for s in items["ateliers-1-enjeux"]["sessions"]] == [
        "Comment changer d'échelle ?",
        "Quels modèles économiques adopter ?",
        "Quelle gouvernance choisir ?",
        "Comment mobiliser les acteurs sur le territoire ?",
    ]
    assert [s["title"] for s in items["ateliers-2-attentes"]["sessions"]] == [
        "Comment mieux se connaître ?",
        "Comment organiser le partage d'expérience ?",
        "Que mettre en commun ?",
        "Quels outils construire et développer ensemble ?",
    ]
    assert items["ateliers-1-enjeux"]["signup_opens_at"] == "2015-01-08T11:00:00Z"
    sessions = [s for i in items.values() for s in i["sessions"]]
    assert all(s["facilitators"] == [] for s in sessions)  # the programme names none
    assert len(pionniers_2015["rooms"]) == 8

    pionniers_2019 = (await api.client.get("/api/v1/events/rencontre-pionniers-2019")).json()
    items = {i["id"]: i for s in pionniers_2019["segments"] for i in s["items"]}
    assert [s["title"] for s in items["ateliers-partage-experiences"]["sessions"]] == [
        f"Atelier en partenariat avec {partner}"
        for partner in ("Convergences", "estelling", "FIDAREC", "KiMSO",
                        "Révélateurs de Richesses Immatérielles", "Social Value France")
    ]  # fmt: skip
    assert_c3voc_json((await api.client.get("/api/v1/events/rencontre-pionniers-2015/schedule.json")).json())


def test_every_seed_is_still_a_valid_programme() -> None:
    import yaml

    for path in SEEDS:
        parse_programme(yaml.safe_load(path.read_text(encoding="utf-8")), source=path.name)


async def test_while_the_block_is_on_air_the_live_page_shows_every_session_with_its_room(
    workshops: tuple[Api, Clock],
) -> None:
    api, _ = workshops
    for action in ("start", "next"):
        live = await api.live(SLUG)
        assert (await api.control(action, live["version"], slug=SLUG)).status_code == 200
    frontend = create_frontend(FrontendSettings(api_url=api.url, secret_key="s"))
    async with frontend.router.lifespan_context(frontend):
        transport = httpx.ASGITransport(app=frontend)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as browser:
            page = await browser.get(f"/events/{SLUG}")
    text = visible_text(page.text)
    assert (
        "Ateliers en parallèle "
        "Quelle gouvernance choisir ? Salle : Salle A Animé par Camille Martin 5 places sur 5 "
        "Comment changer d'échelle ? Salle : Salle B"
    ) in text
    assert f'href="{OPEN_LINK}"' in page.text
    assert PRIVATE_LINK not in page.text
    assert json.dumps(PRIVATE_LINK) not in page.text
