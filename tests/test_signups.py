"""Sign-up to parallel sessions: one per block, within its window, seats held by the database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.conftest import Api
from tests.mailbox import Mailbox
from tests.test_projection import Clock
from tests.test_registrations import ANNE, registration_api
from tests.test_sessions import PRIVATE_LINK, SLUG

OTHER = "ateliers-bloc-comment-changer-d-echelle"


@pytest.fixture
async def api_clock(sqlite_url: str, tmp_path: Path, mailbox: Mailbox) -> AsyncIterator[tuple[Api, Clock]]:
    async with registration_api(sqlite_url, tmp_path, mailbox) as running:
        yield running


async def registrant(client: httpx.AsyncClient, n: int) -> str:
    answer = await client.post(
        f"/api/v1/events/{SLUG}/registrations",
        json={**ANNE, "name": f"Personne {n}", "email": f"personne{n}@exemple.fr"},
    )
    assert answer.status_code == 201, answer.text
    token: str = answer.json()["token"]
    return token


async def seats_left(api: Api) -> int:
    event = (await api.client.get(f"/api/v1/events/{SLUG}")).json()
    left: int = event["segments"][1]["items"][0]["sessions"][0]["seats_left"]
    return left


async def test_signing_up_confirms_a_seat_and_mails_the_room_link(
    api_clock: tuple[Api, Clock], mailbox: Mailbox
) -> None:
    api, _ = api_clock
    token = await registrant(api.client, 1)
    answer = await api.client.post(
        f"/api/v1/registrations/{token}/signups", json={"session_id": "gouvernance"}
    )
    assert answer.status_code == 201
    assert answer.json() == {"session_id": "gouvernance", "status": "confirmed", "waitlist_position": None}
    assert await seats_left(api) == 4
    mine = (await api.client.get(f"/api/v1/registrations/{token}")).json()
    assert mine["signups"] == [
        {
            "session_id": "gouvernance",
            "status": "confirmed",
            "waitlist_position": None,
            "block_id": "ateliers-bloc",
            "title": "Quelle gouvernance choisir ?",
            "room": {"id": "salle-a", "name": "Salle A", "url": PRIVATE_LINK},
        }
    ]
    mails = await mailbox.wait_for("personne1@exemple.fr", count=2)
    assert mails[1].subject == "Atelier « Quelle gouvernance choisir ? » : votre place est confirmée"
    assert f"Lien de la salle : {PRIVATE_LINK}" in mails[1].text
    assert "Annuler votre inscription : " in mails[1].text


async def test_one_session_per_block_signing_up_again_moves_the_seat(api_clock: tuple[Api, Clock]) -> None:
    api, _ = api_clock
    token = await registrant(api.client, 1)
    for session_id in ("gouvernance", OTHER):
        answer = await api.client.post(
            f"/api/v1/registrations/{token}/signups", json={"session_id": session_id}
        )
        assert answer.status_code == 201
    mine = (await api.client.get(f"/api/v1/registrations/{token}")).json()
    assert [(s["session_id"], s["status"]) for s in mine["signups"]] == [(OTHER, "confirmed")]
    assert await seats_left(api) == 5
    unknown = await api.client.post(f"/api/v1/registrations/{token}/signups", json={"session_id": "cave"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_session"


async def test_sign_up_only_within_the_window(api_clock: tuple[Api, Clock]) -> None:
    api, clock = api_clock
    token = await registrant(api.client, 1)
    clock.now = datetime(2030, 1, 31, 12, tzinfo=UTC)
    early = await api.client.post(
        f"/api/v1/registrations/{token}/signups", json={"session_id": "gouvernance"}
    )
    assert early.status_code == 409
    assert early.json() == {
        "detail": "Sign-up to these sessions opens at 2030-02-01T08:00:00Z.",
        "code": "signup_closed",
        "opens_at": "2030-02-01T08:00:00Z",
    }
    clock.now = datetime(2030, 3, 1, 9, tzinfo=UTC)
    late = await api.client.post(f"/api/v1/registrations/{token}/signups", json={"session_id": "gouvernance"})
    assert late.status_code == 409 and late.json()["code"] == "signup_closed"


async def test_a_full_session_waitlists_in_order_and_promotes_when_someone_leaves(
    api_clock: tuple[Api, Clock], mailbox: Mailbox
) -> None:
    api, _ = api_clock
    tokens = [await registrant(api.client, n) for n in range(7)]
    answers = [
        (
            await api.client.post(f"/api/v1/registrations/{t}/signups", json={"session_id": "gouvernance"})
        ).json()
        for t in tokens
    ]
    assert [(a["status"], a["waitlist_position"]) for a in answers] == [("confirmed", None)] * 5 + [
        ("waitlisted", 1),
        ("waitlisted", 2),
    ]
    assert await seats_left(api) == 0
    waitlisted = (await api.client.get(f"/api/v1/registrations/{tokens[5]}")).json()["signups"][0]
    assert waitlisted["room"] == {"id": "salle-a", "name": "Salle A", "url": None}  # no link without a seat
    mail = (await mailbox.wait_for("personne5@exemple.fr", count=2))[1]
    assert "vous êtes n° 1 sur la liste d'attente" in mail.text and PRIVATE_LINK not in mail.text

    assert (
        await api.client.delete(f"/api/v1/registrations/{tokens[0]}/signups/gouvernance")
    ).status_code == 204
    promoted = (await api.client.get(f"/api/v1/registrations/{tokens[5]}")).json()["signups"][0]
    assert (promoted["status"], promoted["room"]["url"]) == ("confirmed", PRIVATE_LINK)
    last = (await api.client.get(f"/api/v1/registrations/{tokens[6]}")).json()["signups"][0]
    assert (last["status"], last["waitlist_position"]) == ("waitlisted", 1)
    mail = (await mailbox.wait_for("personne5@exemple.fr", count=3))[2]
    assert mail.subject == "Une place s'est libérée : atelier « Quelle gouvernance choisir ? »"
    assert f"Lien de la salle : {PRIVATE_LINK}" in mail.text

    # Cancelling a whole registration frees its seat too.
    assert (await api.client.delete(f"/api/v1/registrations/{tokens[1]}")).status_code == 204
    last = (await api.client.get(f"/api/v1/registrations/{tokens[6]}")).json()["signups"][0]
    assert last["status"] == "confirmed"
    assert await seats_left(api) == 0


async def concurrent_signups(api_urls: list[str], tokens: list[str]) -> list[dict[str, object]]:
    """Every token signs up at once, spread over the given backends; answers in token order."""
    clients = [httpx.AsyncClient(base_url=url, timeout=60) for url in api_urls]
    start = asyncio.Event()

    async def one(index: int, token: str) -> dict[str, object]:
        await start.wait()
        answer = await clients[index % len(clients)].post(
            f"/api/v1/registrations/{token}/signups", json={"session_id": "gouvernance"}
        )
        assert answer.status_code == 201, answer.text
        body: dict[str, object] = answer.json()
        return body

    try:
        tasks = [asyncio.create_task(one(i, t)) for i, t in enumerate(tokens)]
        await asyncio.sleep(0.05)
        start.set()
        return list(await asyncio.gather(*tasks))
    finally:
        for client in clients:
            await client.aclose()


def assert_five_seats_then_a_waitlist_in_arrival_order(answers: list[dict[str, object]]) -> None:
    confirmed = [a for a in answers if a["status"] == "confirmed"]
    waitlisted = [a for a in answers if a["status"] == "waitlisted"]
    assert len(confirmed) == 5 and len(waitlisted) == 15
    assert sorted(int(str(a["waitlist_position"])) for a in waitlisted) == list(range(1, 16))


async def test_twenty_simultaneous_sign_ups_for_five_seats_on_sqlite(api_clock: tuple[Api, Clock]) -> None:
    api, _ = api_clock
    tokens = [await registrant(api.client, n) for n in range(20)]
    answers = await concurrent_signups([api.url], tokens)
    assert_five_seats_then_a_waitlist_in_arrival_order(answers)
    assert await seats_left(api) == 0


async def test_the_frontends_hear_the_counts_by_session_and_never_a_name(
    api_clock: tuple[Api, Clock],
) -> None:
    """The moderators' `registrations` signal: counts the consoles show as they are, no name."""
    import json

    from websockets.asyncio.client import connect

    from tests.test_questions import relay_headers

    api, _ = api_clock
    url = api.ws_url(SLUG) + "?include=programme,moderation"
    async with connect(url, additional_headers=relay_headers(api)) as frontend:
        assert [json.loads(await frontend.recv())["type"] for _ in range(2)] == ["programme", "live"]
        tokens = [await registrant(api.client, n) for n in range(6)]
        for token in tokens:
            answer = await api.client.post(
                f"/api/v1/registrations/{token}/signups", json={"session_id": "gouvernance"}
            )
            assert answer.status_code == 201
        wanted = {
            "type": "registrations",
            "registered": 6,
            "sessions": {"gouvernance": {"confirmed": 5, "waitlisted": 1}},
        }
        heard: list[str] = []
        async with asyncio.timeout(5):
            while not heard or json.loads(heard[-1]) != wanted:
                heard.append(str(await frontend.recv()))
    assert not [signal for signal in heard if "Personne" in signal or "@" in signal]
