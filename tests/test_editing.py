"""Editing a programme through the API, also during the show: live edits, If-Match, revisions."""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

import httpx
from websockets.asyncio.client import connect

from app.domain.programme import parse_programme
from tests.conftest import Api
from tests.test_edits import BASE

SLUG = "essai"
PATH = f"/api/v1/events/{SLUG}"


async def admin(api: Api) -> dict[str, str]:
    return {"Authorization": f"Bearer {await api.token('admin')}"}


def edited(change: Any = None) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    if change:
        change(data)
    return data


async def put(api: Api, data: dict[str, Any], **headers: str) -> httpx.Response:
    return await api.client.put(PATH, json=data, headers={**(await admin(api)), **headers})


def order(event: dict[str, Any]) -> list[str]:
    return [i["id"] for s in event["segments"] for i in s["items"]]


def swap_keynote_and_debate(data: dict[str, Any]) -> None:
    first = data["segments"][0]["items"]
    first[1], first[2] = first[2], first[1]


async def test_a_live_show_takes_an_edit_and_every_viewer_gets_it_at_once(api: Api) -> None:
    assert (await put(api, edited())).status_code == 201
    assert (await api.control("start", 0, slug=SLUG)).status_code == 200
    async with connect(api.ws_url(SLUG)) as ws:
        first = json.loads(await ws.recv())
        assert first["live"]["version"] == 1
        response = await put(api, edited(swap_keynote_and_debate))
        assert response.status_code == 200
        assert order(response.json()) == ["accueil", "debat", "keynote", "temoignage", "mystere"]
        pushed = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert pushed["live"]["version"] == 2
    assert pushed["live"]["next_item"]["id"] == "debat"
    assert order((await api.client.get(PATH)).json())[1] == "debat"
    timeline = (await api.client.get(f"{PATH}/timeline")).json()
    assert [(e["version"], e["action"]) for e in timeline] == [(1, "start"), (2, "edit")]
    assert timeline[1]["changes"] == {
        "event": False,
        "segments_added": [],
        "segments_removed": [],
        "segments_changed": [],
        "items_added": [],
        "items_removed": [],
        "items_moved": ["debat"],
        "items_changed": [],
    }
    # The show goes on from the new order: `next` enters « Débat ».
    nxt = await api.control("next", 2, slug=SLUG)
    assert nxt.json()["item"]["id"] == "debat"


async def test_an_aired_item_is_refused_whole_and_nothing_changes(api: Api) -> None:
    await put(api, edited())
    await api.control("start", 0, slug=SLUG)
    before = (await api.client.get(PATH)).json()

    def retitle_live_and_add(data: dict[str, Any]) -> None:
        data["title"] = "Autre titre"
        data["segments"][0]["items"][0]["title"] = "Accueil refait"
        data["segments"][1]["items"].append({"id": "ajout", "title": "Ajout"})

    refused = await put(api, edited(retitle_live_and_add))
    assert refused.status_code == 409
    assert refused.json() == {
        "detail": "« Accueil » cannot change: it has already started; "
        "what has aired is the record of the show.",
        "code": "item_started",
        "item_id": "accueil",
        "segment_id": "ouverture",
    }
    after = (await api.client.get(PATH)).json()
    assert (after["title"], order(after), after["version"]) == (before["title"], order(before), 1)


async def test_a_stale_if_match_gets_412_and_a_press_does_not_make_it_stale(api: Api) -> None:
    await put(api, edited())
    read = await api.client.get(PATH)
    etag = read.headers["etag"]
    assert etag.startswith(f'"r{read.json()["revision"]}-')
    # A moderator's press changes the body (and its digest), not the programme.
    await api.control("start", 0, slug=SLUG)
    assert (await api.client.get(PATH)).headers["etag"] != etag
    first = await put(api, edited(swap_keynote_and_debate), **{"If-Match": etag})
    assert first.status_code == 200
    assert first.headers["etag"].startswith(f'"r{first.json()["revision"]}-')

    def retitle(data: dict[str, Any]) -> None:
        data["title"] = "Le second organisateur"

    second = await put(api, edited(retitle), **{"If-Match": etag})
    assert second.status_code == 412
    assert second.json() == {
        "detail": "The programme was saved by someone else since you read it (it is now at revision 2): "
        "read it again and reapply your changes.",
        "code": "precondition_failed",
        "revision": 2,
    }
    assert (await api.client.get(PATH)).json()["title"] == "Essai"
    for weak_or_foreign in (f"W/{first.headers['etag']}", '"abc"'):
        assert (await put(api, edited(retitle), **{"If-Match": weak_or_foreign})).status_code == 412
    again = await put(api, edited(retitle), **{"If-Match": first.headers["etag"]})
    assert again.status_code == 200 and again.json()["title"] == "Le second organisateur"


async def test_revisions_are_kept_and_undo_is_one_more_save_judged_like_any(api: Api) -> None:
    headers = await admin(api)
    await put(api, edited())
    await put(api, edited(swap_keynote_and_debate))
    revisions = (await api.client.get(f"{PATH}/revisions", headers=headers)).json()
    assert [(r["number"], r["actor"], r["current"], r["restored_from"]) for r in revisions] == [
        (2, "admin", True, None),
        (1, "admin", False, None),
    ]
    assert revisions[0]["changes"]["items_moved"] == ["debat"]
    undo = await api.client.post(f"{PATH}/revisions/1/restore", headers=headers)
    assert undo.status_code == 200
    assert order(undo.json())[:3] == ["accueil", "keynote", "debat"]
    assert undo.json()["revision"] == 3
    listed = (await api.client.get(f"{PATH}/revisions", headers=headers)).json()
    assert (listed[0]["number"], listed[0]["restored_from"]) == (3, 1)

    # Once « Accueil » has aired under a new title, no undo brings the old one back.
    def retitle_first(data: dict[str, Any]) -> None:
        data["segments"][0]["items"][0]["title"] = "Bienvenue"

    await put(api, edited(retitle_first))
    started = await api.control("start", (await api.live(SLUG))["version"], slug=SLUG)
    assert started.status_code == 200
    refused = await api.client.post(f"{PATH}/revisions/3/restore", headers=headers)
    assert (refused.status_code, refused.json()["code"], refused.json()["item_id"]) == (
        409,
        "item_started",
        "accueil",
    )
    missing = await api.client.post(f"{PATH}/revisions/99/restore", headers=headers)
    assert (missing.status_code, missing.json()["code"]) == (404, "unknown_revision")


async def test_the_document_with_its_secrets_is_for_admins_only_and_reads_back_identical(api: Api) -> None:
    await put(api, edited())
    anonymous = await api.client.get(f"{PATH}/document")
    moderator = await api.client.get(
        f"{PATH}/document", headers={"Authorization": f"Bearer {await api.token()}"}
    )
    assert (anonymous.status_code, moderator.status_code) == (401, 403)
    response = await api.client.get(f"{PATH}/document", headers=await admin(api))
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["etag"].startswith('"r1-')
    assert parse_programme(response.json(), source="export") == parse_programme(BASE, source="test")
    assert response.json()["segments"][1]["items"][1]["hidden"]["speakers"] == [
        {"name": "Mme X", "role": None, "organisation": None}
    ]
    # Public reads, the timeline's changes and the revisions list never carry the secret.
    await put(api, edited(lambda d: d["segments"][1]["items"][1]["hidden"].update(announcement="Autre")))
    for path in (PATH, f"{PATH}/timeline", f"{PATH}/live"):
        body = (await api.client.get(path)).text
        assert "Mme X" not in body and "Surprise" not in body and "Autre" not in body
    listed = (await api.client.get(f"{PATH}/revisions", headers=await admin(api))).text
    assert "Mme X" not in listed and "Autre" not in listed


async def test_saving_the_same_programme_again_changes_nothing(api: Api) -> None:
    await put(api, edited())
    again = await put(api, edited())
    assert again.status_code == 200 and again.json()["revision"] == 1
    assert (await api.live(SLUG))["version"] == 0
