"""The JSON API as a third party sees it: statuses, bodies, and every error the contract names."""

from __future__ import annotations

import asyncio
import copy
import itertools
from typing import Any

import pytest

from app.config import Settings
from tests.conftest import DINER, PASSWORD, Api, running_api
from tests.test_programme import MINIMAL


async def test_events_are_listed_in_order_with_their_summary(api: Api) -> None:
    response = await api.client.get("/api/v1/events")
    assert response.status_code == 200
    events = response.json()
    assert [e["slug"] for e in events] == [
        "rencontre-pionniers-2015",
        "rencontre-pionniers-2019",
        "diner-elus-entreprises-2020",
        "odd17-en-pratique-2020",
    ]
    diner = events[2]
    assert diner == {
        "slug": DINER,
        "title": "3ème dîner « Elus & Entreprises »",
        "subtitle": "Jouons collectif !",
        "timezone": "Europe/Paris",
        "starts_at": "2020-11-23T18:00:00Z",
        "ends_at": "2020-11-23T20:00:00Z",
        "status": "scheduled",
    } | {
        k: v
        for k, v in diner.items()
        if k not in {"slug", "title", "subtitle", "timezone", "starts_at", "ends_at", "status"}
    }


async def test_an_event_carries_its_whole_programme(api: Api) -> None:
    event = (await api.client.get(f"/api/v1/events/{DINER}")).json()
    assert [s["planned_start"] for s in event["segments"]] == [
        "2020-11-23T18:00:00Z",
        "2020-11-23T19:00:00Z",
        "2020-11-23T19:40:00Z",
        "2020-11-23T19:57:00Z",
    ]
    first = event["segments"][0]["items"][0]
    assert first["speakers"][0]["name"] == "Charles-Benoît HEIDSIECK"
    assert first["actual_start"] is None and first["mystery"] is False
    mysteries = [i for s in event["segments"] for i in s["items"] if i["mystery"]]
    assert len(mysteries) == 3
    assert all(i["speakers"] == [] and i["announcement"] is None and not i["revealed"] for i in mysteries)
    assert event["partners"] and event["organiser"] == "Le RAMEAU"


async def test_unknown_events_answer_404_with_a_sentence(api: Api) -> None:
    for path in ("", "/live", "/timeline"):
        response = await api.client.get(f"/api/v1/events/nope{path}")
        assert response.status_code == 404
        assert response.json() == {"detail": "There is no event « nope ».", "code": "unknown_event"}


async def test_a_show_runs_from_start_to_end(api: Api) -> None:
    live = await api.live()
    assert (live["status"], live["version"], live["item"]) == ("scheduled", 0, None)
    assert live["next_item"]["id"] == "accueil"

    started = (await api.control("start", 0)).json()
    assert (started["status"], started["version"], started["item"]["id"]) == ("live", 1, "accueil")
    assert started["segment"]["id"] == "elus-a-la-manoeuvre" and "items" not in started["segment"]
    nxt = (await api.control("next", 1)).json()
    assert nxt["item"]["id"] == started["next_item"]["id"]
    back = (await api.control("previous", 2)).json()
    assert back["item"]["id"] == "accueil"
    last = (await api.control("goto", 3, "cloture-ministre")).json()
    assert last["item"]["id"] == "cloture-ministre" and last["next_item"] is None
    ended = (await api.control("end", 4)).json()
    assert (ended["status"], ended["item"], ended["version"]) == ("ended", None, 5)

    timeline = (await api.client.get(f"/api/v1/events/{DINER}/timeline")).json()
    assert [(e["version"], e["action"], e["item_id"]) for e in timeline] == [
        (1, "start", "accueil"),
        (2, "next", nxt["item"]["id"]),
        (3, "previous", "accueil"),
        (4, "goto", "cloture-ministre"),
        (5, "end", None),
    ]
    assert timeline[0]["offset_seconds"] == 0
    assert all(a["offset_seconds"] <= b["offset_seconds"] for a, b in itertools.pairwise(timeline))

    event = (await api.client.get(f"/api/v1/events/{DINER}")).json()
    items = {i["id"]: i for s in event["segments"] for i in s["items"]}
    assert items["accueil"]["actual_start"] == timeline[0]["at"]
    assert items["accueil"]["actual_end"] == timeline[3]["at"]
    assert items[nxt["item"]["id"]]["actual_start"] is None  # the mistaken next was undone
    assert event["segments"][3]["actual_start"] == timeline[3]["at"]
    assert event["segments"][3]["actual_end"] == timeline[4]["at"]


async def test_ten_simultaneous_presses_advance_the_show_once(api: Api) -> None:
    await api.control("start", 0)
    token = await api.token()
    responses = await asyncio.gather(
        *(
            api.client.post(
                f"/api/v1/events/{DINER}/control",
                json={"action": "next", "expected_version": 1},
                headers={"Authorization": f"Bearer {token}"},
            )
            for _ in range(10)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * 9
    losers = [r.json() for r in responses if r.status_code == 409]
    assert all(body["live"]["version"] == 2 for body in losers)
    assert all("another moderator acted first" in body["detail"] for body in losers)
    assert all(body["code"] == "version_conflict" for body in losers)
    timeline = (await api.client.get(f"/api/v1/events/{DINER}/timeline")).json()
    assert [e["action"] for e in timeline] == ["start", "next"]


async def test_a_stale_version_gets_409_with_the_current_state(api: Api) -> None:
    await api.control("start", 0)
    response = await api.control("next", 0)
    assert response.status_code == 409
    body = response.json()
    assert body["detail"] == (
        "The show is at version 1, not 0: another moderator acted first. Here is the current state."
    )
    assert body["code"] == "version_conflict" and list(body) == ["detail", "code", "live"]
    assert body["live"]["version"] == 1 and body["live"]["item"]["id"] == "accueil"


async def test_an_action_that_does_not_fit_gets_409_and_changes_nothing(api: Api) -> None:
    response = await api.control("next", 0)
    assert response.status_code == 409
    assert response.json()["detail"] == "The show has not started yet: start it first."
    assert response.json()["code"] == "not_started"
    assert (await api.live())["version"] == 0


async def test_control_errors_follow_the_contract(api: Api) -> None:
    url = f"/api/v1/events/{DINER}/control"
    body = {"action": "start", "expected_version": 0}
    no_token = await api.client.post(url, json=body)
    assert no_token.status_code == 401 and no_token.headers["www-authenticate"] == "Bearer"
    bad_token = await api.client.post(url, json=body, headers={"Authorization": "Bearer forged"})
    assert bad_token.status_code == 401
    unknown = await api.control("start", 0, slug="nope")
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "There is no event « nope ».", "code": "unknown_event"}
    await api.control("start", 0)
    target = await api.control("goto", 1, "personne")
    assert target.status_code == 404
    assert target.json() == {
        "detail": "There is no item « personne » in this programme.",
        "code": "unknown_item",
    }
    headers = {"Authorization": f"Bearer {await api.token()}"}
    for malformed in (
        {"action": "dance", "expected_version": 1},
        {"action": "next"},
        {"action": "next", "expected_version": "one"},
        {"action": "goto", "expected_version": 1},
        {"action": "next", "expected_version": 1, "extra": True},
    ):
        response = await api.client.post(url, json=malformed, headers=headers)
        assert response.status_code == 422, malformed
        assert response.json()["detail"] and response.json()["code"] in {
            "invalid_request",
            "target_required",
        }
    assert (await api.live())["version"] == 1


async def test_wrong_password_and_unknown_user_get_the_same_401(api: Api) -> None:
    wrong = await api.client.post("/api/v1/auth/token", data={"username": "moderator", "password": "nope"})
    unknown = await api.client.post("/api/v1/auth/token", data={"username": "ghost", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert (
        wrong.json()
        == unknown.json()
        == {"detail": "Wrong user name or password.", "code": "unauthenticated"}
    )
    assert wrong.headers["www-authenticate"] == "Bearer"


async def test_a_revoked_token_no_longer_controls(api: Api) -> None:
    token = await api.token()
    headers = {"Authorization": f"Bearer {token}"}
    assert (await api.client.post("/api/v1/auth/revoke", headers=headers)).status_code == 204
    response = await api.control("start", 0)
    assert response.status_code == 401


async def test_tokens_expire(seeded_sqlite_url: str) -> None:
    async with running_api(Settings(database_url=seeded_sqlite_url, token_ttl_seconds=1)) as short:
        token = await short.token()
        await asyncio.sleep(1.1)
        response = await short.client.post(
            f"/api/v1/events/{DINER}/control",
            json={"action": "start", "expected_version": 0},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 401


def programme(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(MINIMAL)
    data.update(changes)
    return data


async def test_an_admin_creates_then_replaces_a_programme(api: Api) -> None:
    headers = {"Authorization": f"Bearer {await api.token('admin')}"}
    created = await api.client.put("/api/v1/events/essai", json=programme(), headers=headers)
    assert created.status_code == 201
    assert created.json()["segments"][0]["items"][1]["id"] == "ouverture-accueil-2"
    replaced = await api.client.put("/api/v1/events/essai", json=programme(title="Essai 2"), headers=headers)
    assert replaced.status_code == 200 and replaced.json()["title"] == "Essai 2"


async def test_a_bad_programme_is_refused_whole_and_says_where(api: Api) -> None:
    headers = {"Authorization": f"Bearer {await api.token('admin')}"}
    before = (await api.client.get(f"/api/v1/events/{DINER}")).json()
    data = programme(slug=DINER)
    data["segments"][0]["items"][0] = {"kind": "talk"}
    response = await api.client.put(f"/api/v1/events/{DINER}", json=data, headers=headers)
    assert response.status_code == 422
    assert response.json() == {
        "detail": "The programme was refused, nothing changed: "
        "segment 1 « Ouverture », item 1, field `title`: Field required",
        "code": "invalid_document",
        "errors": ["segment 1 « Ouverture », item 1, field `title`: Field required"],
    }
    mismatch = await api.client.put("/api/v1/events/autre", json=programme(), headers=headers)
    assert mismatch.status_code == 422
    assert "differs from the path" in mismatch.json()["detail"]
    assert (await api.client.get(f"/api/v1/events/{DINER}")).json() == before


async def test_only_admins_replace_programmes_and_never_what_has_aired(api: Api) -> None:
    anonymous = await api.client.put("/api/v1/events/essai", json=programme())
    assert anonymous.status_code == 401
    moderator = await api.client.put(
        "/api/v1/events/essai", json=programme(), headers={"Authorization": f"Bearer {await api.token()}"}
    )
    assert moderator.status_code == 403
    assert moderator.json() == {
        "detail": "Your role « moderator » may not replace a programme.",
        "code": "forbidden",
    }
    admin = {"Authorization": f"Bearer {await api.token('admin')}"}
    await api.client.put("/api/v1/events/essai", json=programme(), headers=admin)
    await api.control("start", 0, slug="essai")
    renamed = await api.client.put("/api/v1/events/essai", json=programme(title="Changé"), headers=admin)
    assert renamed.status_code == 200 and renamed.json()["title"] == "Changé"
    aired = programme(title="Changé")
    aired["segments"][0]["items"][0] = {"id": "ouverture-accueil", "title": "Accueil revu"}
    locked = await api.client.put("/api/v1/events/essai", json=aired, headers=admin)
    assert locked.status_code == 409
    assert locked.json() == {
        "detail": "« Accueil » cannot change: it has already started; "
        "what has aired is the record of the show.",
        "code": "item_started",
        "item_id": "ouverture-accueil",
        "segment_id": "ouverture",
    }
    assert (await api.client.get("/api/v1/events/essai")).json()["title"] == "Changé"


@pytest.mark.parametrize("password", [PASSWORD])
async def test_the_openapi_document_lists_every_error_of_control(api: Api, password: str) -> None:
    schema = (await api.client.get("/openapi.json")).json()
    control = schema["paths"]["/api/v1/events/{slug}/control"]["post"]["responses"]
    assert {"200", "401", "403", "404", "409", "422"} <= set(control)


async def test_a_programme_replaced_behind_the_api_shows_within_a_second(api: Api, tmp_path: Any) -> None:
    """Reads come from a per-process snapshot: changes made through this API show at once, and
    one made elsewhere (`regie import` from a shell) as soon as the server notices its version
    (`change_poll_seconds`; the snapshot's one-second lifetime bounds it in any case)."""
    from app.cli import import_programmes, read_programme
    from tests.conftest import programme_file

    headers = {"Authorization": f"Bearer {await api.token('admin')}"}
    await api.client.put("/api/v1/events/essai", json=programme(), headers=headers)
    assert (await api.client.get("/api/v1/events/essai")).json()["title"] == "Essai"
    await api.client.put("/api/v1/events/essai", json=programme(title="Par l'API"), headers=headers)
    assert (await api.client.get("/api/v1/events/essai")).json()["title"] == "Par l'API"

    path = programme_file(tmp_path, programme(title="Par la ligne de commande"))
    await import_programmes(api.settings, [read_programme(path)])
    await asyncio.sleep(1.1)
    assert (await api.client.get("/api/v1/events/essai")).json()["title"] == "Par la ligne de commande"
