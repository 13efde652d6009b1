"""Audience questions through the API on a real socket: asking, voting, moderation, on air, abuse."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from websockets.asyncio.client import connect

from app.config import Settings
from app.domain.questions import QuestionStatus
from app.exports import EXPORTERS
from app.live.hub import sse_frame
from app.public import PUSHED_QUESTIONS, QuestionPublic, questions_message
from tests.conftest import DINER, Api, running_api

QUESTIONS = f"/api/v1/events/{DINER}/questions"
VIEWER = "viewer-0001"


async def moderator(api: Api) -> dict[str, str]:
    return {"Authorization": f"Bearer {await api.token()}"}


_viewers = itertools.count()


async def ask(api: Api, text: str, *, author: str | None = None, viewer: str | None = None) -> str:
    """Asks as `viewer`, or as a new viewer each time (a viewer may ask only a few a minute)."""
    body: dict[str, Any] = {
        "text": text,
        "author": author,
        "viewer": viewer or f"viewer-{next(_viewers):06d}",
    }
    response = await api.client.post(QUESTIONS, json=body)
    assert response.status_code == 202, response.text
    assert response.json() == {"id": response.json()["id"], "status": "pending"}
    return str(response.json()["id"])


async def moderate(api: Api, question_id: str, action: str, slug: str = DINER) -> dict[str, Any]:
    response = await api.client.post(
        f"/api/v1/events/{slug}/questions/{question_id}/moderation",
        json={"action": action},
        headers=await moderator(api),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def vote(api: Api, question_id: str, voter: str) -> int:
    response = await api.client.post(f"{QUESTIONS}/{question_id}/votes", json={"voter": voter})
    assert response.status_code == 200, response.text
    return int(response.json()["votes"])


async def until_silent(ws: Any, silence: float = 1.5) -> list[dict[str, Any]]:
    """Every message until none comes for `silence` seconds."""
    messages = []
    while True:
        try:
            messages.append(json.loads(await asyncio.wait_for(ws.recv(), timeout=silence)))
        except TimeoutError:
            return messages


async def public(api: Api) -> list[dict[str, Any]]:
    response = await api.client.get(QUESTIONS)
    assert response.status_code == 200
    body: list[dict[str, Any]] = response.json()
    return body


async def test_a_question_waits_for_a_moderator_then_is_public_most_voted_first(api: Api) -> None:
    first = await ask(api, "Comment associer les petites communes ?", author="Marie Curie, Mairie de Riom")
    second = await ask(api, "Quel budget pour 2021 ?", viewer="viewer-0002")
    assert await public(api) == []
    queue = (
        await api.client.get(QUESTIONS, params={"status": "pending"}, headers=await moderator(api))
    ).json()
    assert [(q["id"], q["text"], q["author"], q["status"]) for q in queue] == [
        (first, "Comment associer les petites communes ?", "Marie Curie, Mairie de Riom", "pending"),
        (second, "Quel budget pour 2021 ?", None, "pending"),
    ]
    approved = await moderate(api, first, "approve")
    assert (approved["status"], approved["moderated_by"]) == ("approved", "moderator")
    await moderate(api, second, "approve")
    assert await vote(api, second, "voter-aaaa") == 1
    assert await vote(api, second, "voter-aaaa") == 1  # the same voter again changes nothing
    assert await vote(api, second, "voter-bbbb") == 2
    listed = await public(api)
    assert [(q["id"], q["votes"], q["status"]) for q in listed] == [
        (second, 2, "approved"),
        (first, 0, "approved"),
    ]
    assert set(listed[1]) == {"id", "text", "author", "status", "votes", "created_at", "answered_at"}
    assert listed[1]["author"] == "Marie Curie, Mairie de Riom"


async def test_on_air_is_a_change_of_the_show_with_at_most_one_question(api: Api) -> None:
    one = await ask(api, "Première question ?")
    two = await ask(api, "Deuxième question ?", author="Paul")
    for question in (one, two):
        await moderate(api, question, "approve")
    refused = await api.client.post(
        f"{QUESTIONS}/{one}/moderation", json={"action": "on_air"}, headers=await moderator(api)
    )
    assert (refused.status_code, refused.json()["code"]) == (409, "not_started")
    await api.control("start", 0)
    async with connect(api.ws_url()) as ws:
        assert json.loads(await ws.recv())["live"]["question"] is None
        assert (await moderate(api, one, "on_air"))["status"] == "on_air"
        pushed = json.loads(await ws.recv())["live"]
        assert (pushed["version"], pushed["question"]) == (
            2,
            {"id": one, "text": "Première question ?", "author": None},
        )
        await moderate(api, two, "on_air")  # replaces the one on air
        pushed = json.loads(await ws.recv())["live"]
        assert (pushed["version"], pushed["question"]["id"]) == (3, two)
    statuses = {q["id"]: q["status"] for q in await public(api)}
    assert statuses == {one: "approved", two: "on_air"}
    assert (await moderate(api, two, "answer"))["status"] == "answered"  # answered: off air
    live = await api.live()
    assert (live["version"], live["question"]) == (4, None)
    timeline = (await api.client.get(f"/api/v1/events/{DINER}/timeline")).json()
    assert [(e["version"], e["action"], e["item_id"]) for e in timeline] == [
        (1, "start", "accueil"),
        (2, "question_on_air", "accueil"),
        (3, "question_on_air", "accueil"),
        (4, "question_off_air", "accueil"),
    ]
    answered = next(q for q in await public(api) if q["id"] == two)
    assert answered["status"] == "answered" and answered["answered_at"] is not None
    await moderate(api, one, "on_air")
    await moderate(api, one, "reject")  # rejected on air: off air at once, and out of the list
    assert (await api.live())["question"] is None
    assert [q["id"] for q in await public(api)] == [two]
    control = await api.control("question_on_air", 7, one)
    assert control.status_code == 422  # not a /control action


async def test_moderators_on_two_consoles_cannot_put_two_questions_on_air(api: Api) -> None:
    await api.control("start", 0)
    ids = [await ask(api, f"Question numéro {n} ?") for n in range(6)]
    for question in ids:
        await moderate(api, question, "approve")
    headers = await moderator(api)
    answers = await asyncio.gather(
        *(
            api.client.post(f"{QUESTIONS}/{q}/moderation", json={"action": "on_air"}, headers=headers)
            for q in ids
        )
    )
    assert [a.status_code for a in answers] == [200] * 6
    live = await api.live()
    assert live["version"] == 7
    on_air = [q for q in await public(api) if q["status"] == "on_air"]
    assert [q["id"] for q in on_air] == [live["question"]["id"]]


async def test_votes_are_one_per_voter_under_concurrency(api: Api) -> None:
    question = await ask(api, "Une question populaire ?")
    await moderate(api, question, "approve")
    same = await asyncio.gather(*(vote(api, question, "voter-same") for _ in range(15)))
    assert max(same) == 1
    await asyncio.gather(*(vote(api, question, f"voter-{n:04d}") for n in range(15)))
    assert (await public(api))[0]["votes"] == 16


async def test_pending_and_rejected_questions_are_unknown_to_voters(api: Api) -> None:
    pending = await ask(api, "En attente ?")
    response = await api.client.post(f"{QUESTIONS}/{pending}/votes", json={"voter": "voter-aaaa"})
    assert response.status_code == 404
    assert response.json() == {"detail": "There is no such question.", "code": "unknown_question"}
    await moderate(api, pending, "reject")
    response = await api.client.post(f"{QUESTIONS}/{pending}/votes", json={"voter": "voter-aaaa"})
    assert response.json()["code"] == "unknown_question"


async def test_bounds_duplicates_and_the_end_of_the_show(api: Api) -> None:
    long = await api.client.post(QUESTIONS, json={"text": "x" * 501})
    assert long.status_code == 422
    assert "text" in long.json()["detail"] and "at most 500" in long.json()["detail"]
    assert (await api.client.post(QUESTIONS, json={"text": "   "})).status_code == 422
    assert (await api.client.post(QUESTIONS, json={"text": "ok", "viewer": "<b>"})).status_code == 422
    assert (await api.client.post(QUESTIONS, json={"text": "ok", "extra": 1})).status_code == 422
    await ask(api, "x" * 500)
    await ask(api, "Quel rôle pour l'État ?", viewer=VIEWER)
    duplicate = await api.client.post(QUESTIONS, json={"text": "quel role pour l etat", "viewer": VIEWER})
    assert (duplicate.status_code, duplicate.json()["code"]) == (409, "duplicate_question")
    await ask(api, "Quel rôle pour l'État ?", viewer="viewer-0002")  # someone else may ask it
    unknown = await api.client.post("/api/v1/events/nope/questions", json={"text": "?"})
    assert unknown.status_code == 404
    await api.control("start", 0)
    await api.control("end", 1)
    ended = await api.client.post(QUESTIONS, json={"text": "Trop tard ?", "viewer": VIEWER})
    assert (ended.status_code, ended.json()["code"]) == (409, "already_ended")


async def test_moderation_is_never_a_public_call(api: Api) -> None:
    question = await ask(api, "Secrète ?")
    for path, kwargs in (
        (f"{QUESTIONS}/{question}/moderation", {"json": {"action": "approve"}}),
        (
            f"{QUESTIONS}/{question}/moderation",
            {"json": {"action": "approve"}, "headers": {"Authorization": "Bearer x"}},
        ),
    ):
        assert (await api.client.post(path, **kwargs)).status_code == 401
    for status in ("pending", "rejected"):
        assert (await api.client.get(QUESTIONS, params={"status": status})).status_code == 401
    assert (await api.client.get(QUESTIONS, params={"status": "approved"})).json() == []


async def test_a_viewer_and_an_address_are_rate_limited(seeded_sqlite_url: str) -> None:
    settings = Settings(
        database_url=seeded_sqlite_url,
        questions_per_viewer=2,
        questions_per_address=3,
    )
    async with running_api(settings) as api:
        await ask(api, "Un ?", viewer=VIEWER)
        await ask(api, "Deux ?", viewer=VIEWER)
        third = await api.client.post(QUESTIONS, json={"text": "Trois ?", "viewer": VIEWER})
        assert (third.status_code, third.json()["code"]) == (429, "rate_limited")
        assert 1 <= int(third.headers["Retry-After"]) <= 60
        await ask(api, "Trois ?", viewer="viewer-0002")  # another viewer, same address: the third
        fourth = await api.client.post(QUESTIONS, json={"text": "Quatre ?", "viewer": "viewer-0003"})
        assert (fourth.status_code, fourth.json()["code"]) == (429, "rate_limited")


async def test_the_question_list_is_pushed_coalesced_as_its_own_message(api: Api) -> None:
    question = await ask(api, "Poussée ?")
    async with connect(api.ws_url()) as ws:
        live = str(await ws.recv())
        await moderate(api, question, "approve")
        started = time.monotonic()
        for n in range(20):
            await vote(api, question, f"voter-{n:04d}")
        messages = await until_silent(ws)
        elapsed = time.monotonic() - started
    assert {m["type"] for m in messages} == {"questions"}
    assert len(messages) <= elapsed / 1.0 + 1  # at most one a second
    assert messages[-1]["questions"][0]["votes"] == 20
    assert messages[-1]["questions"][0]["text"] == "Poussée ?"
    assert "questions" not in json.loads(live) and "Poussée" not in live


async def test_a_viewer_joining_later_gets_the_latest_list_after_the_live_state(api: Api) -> None:
    question = await ask(api, "Pour les retardataires ?")
    async with connect(api.ws_url()) as first:
        await first.recv()
        await moderate(api, question, "approve")
        assert json.loads(await asyncio.wait_for(first.recv(), 3))["type"] == "questions"
        async with connect(api.ws_url()) as late:
            assert json.loads(await late.recv())["type"] == "live"
            latest = json.loads(await late.recv())
    assert [q["id"] for q in latest["questions"]] == [question]


CANARY_TEXT = "CANARY-QUESTION-d00d"
CANARY_AUTHOR = "CANARY-AUTHOR-beef"
CANARY_VIEWER = "canary-viewer-f00f"
QUESTION_CANARIES = (CANARY_TEXT, CANARY_AUTHOR, CANARY_VIEWER, "d00d", "beef", "f00f")


async def public_bytes(api: Api) -> list[str]:
    """Every public read of the event, with headers: JSON, questions, exports, schema, errors."""
    paths = [
        "/api/v1/events",
        f"/api/v1/events/{DINER}",
        f"/api/v1/events/{DINER}/live",
        f"/api/v1/events/{DINER}/timeline",
        QUESTIONS,
        *(f"{QUESTIONS}?status={s}" for s in ("approved", "answered", "on_air", "pending", "rejected")),
        f"{QUESTIONS}.csv",  # the moderators' downloads, asked for without a bearer
        f"{QUESTIONS}.xlsx",
        "/openapi.json",
        *(f"/api/v1/events/{DINER}/{exporter.filename}" for exporter in EXPORTERS),
    ]
    texts = []
    for path in paths:
        response = await api.client.get(path)
        texts += [response.text, json.dumps(dict(response.headers))]
    return texts


async def test_canary_pending_and_rejected_questions_and_every_asker_never_reach_a_public_byte(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await api.control("start", 0)
    shown = await ask(api, "Une question publique ?", author="Signataire public", viewer=CANARY_VIEWER)
    await moderate(api, shown, "approve")
    async with connect(api.ws_url()) as ws:
        messages = [str(await ws.recv())]
        pending = await ask(api, f"{CANARY_TEXT} ?", author=CANARY_AUTHOR, viewer=CANARY_VIEWER)
        rejected = await ask(api, f"Autre {CANARY_TEXT} ?", author=CANARY_AUTHOR, viewer="viewer-0009")
        await moderate(api, rejected, "reject")
        await vote(api, shown, CANARY_VIEWER)
        await moderate(api, shown, "on_air")
        for _ in range(3):
            messages.append(str(await asyncio.wait_for(ws.recv(), 3)))
        duplicate = await api.client.post(
            QUESTIONS, json={"text": f"{CANARY_TEXT} ?", "author": CANARY_AUTHOR, "viewer": CANARY_VIEWER}
        )
        voted = await api.client.post(f"{QUESTIONS}/{pending}/votes", json={"voter": CANARY_VIEWER})
        texts = [duplicate.text, voted.text, *messages, *await public_bytes(api)]
    assert {json.loads(m)["type"] for m in messages} == {"live", "questions"}
    assert any("Une question publique" in t for t in texts)  # the scan does see questions
    leaked = [c for c in QUESTION_CANARIES for t in texts if c in t]
    assert leaked == []
    logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert [c for c in QUESTION_CANARIES for line in logged if c in line] == []
    queue = (await api.client.get(QUESTIONS, headers=await moderator(api))).text
    assert CANARY_TEXT in queue and CANARY_AUTHOR in queue  # moderators do see them
    assert CANARY_VIEWER not in queue  # nobody sees who asked


def relay_headers(api: Api) -> dict[str, str]:
    from app.api.relay import RELAY_HEADER, relay_credential

    return {RELAY_HEADER: relay_credential(api.settings.secret_key.get_secret_value())}


async def test_a_follower_joining_after_a_list_still_gets_the_live_state_then_every_list(api: Api) -> None:
    question = await ask(api, "Pour les pages ?")
    await moderate(api, question, "approve")
    async with connect(api.ws_url()) as first:  # a viewer makes the channel hold the list
        await first.recv()
        assert json.loads(await asyncio.wait_for(first.recv(), 3))["type"] == "questions"
        async with connect(api.ws_url() + "?include=programme") as follower:
            kinds = [json.loads(await asyncio.wait_for(follower.recv(), 3))["type"] for _ in range(3)]
            assert kinds == ["programme", "live", "questions"]
            await vote(api, question, "voter-follow")
            pushed = json.loads(await asyncio.wait_for(follower.recv(), 3))
    assert (pushed["type"], pushed["questions"][0]["votes"]) == ("questions", 1)


async def test_the_moderators_signal_reaches_the_frontend_only_and_carries_no_text(api: Api) -> None:
    from websockets.exceptions import ConnectionClosed

    async with connect(api.ws_url() + "?include=programme,moderation") as refused:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(refused.recv(), 3)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    url = api.ws_url() + "?include=programme,moderation"
    frontend_link = connect(url, additional_headers=relay_headers(api))
    async with frontend_link as frontend, connect(api.ws_url()) as viewer:
        assert [json.loads(await frontend.recv())["type"] for _ in range(2)] == ["programme", "live"]
        await viewer.recv()
        pending = await ask(api, f"{CANARY_TEXT} en attente ?", author=CANARY_AUTHOR)
        signal = str(await asyncio.wait_for(frontend.recv(), 3))
        assert json.loads(signal) == {"type": "moderation", "pending": 1}
        await moderate(api, pending, "reject")
        assert json.loads(await asyncio.wait_for(frontend.recv(), 3)) == {"type": "moderation", "pending": 0}
        heard = await until_silent(viewer, 1.5)
    assert heard == []  # a public viewer hears nothing of a question nobody approved


def test_the_pushed_list_carries_the_most_voted_and_the_one_on_air_and_sse_gets_that_list() -> None:
    at = datetime(2020, 11, 23, 18, 30, tzinfo=UTC)
    questions = [
        QuestionPublic(
            id=f"q{n:03d}",
            text=f"Question {n}",
            author=None,
            status=QuestionStatus.ON_AIR if n == 40 else QuestionStatus.APPROVED,
            votes=100 - n,
            created_at=at,
        )
        for n in range(45)
    ]
    message = json.loads(questions_message(questions))
    ids = [q["id"] for q in message["questions"]]
    assert (message["type"], message["total"], len(ids)) == ("questions", 45, PUSHED_QUESTIONS)
    assert ids == ["q040", *(f"q{n:03d}" for n in range(PUSHED_QUESTIONS - 1))]

    frame = sse_frame("questions", questions_message(questions).decode(), "questions").decode()
    event, data = frame.removesuffix("\n\n").split("\n")
    assert event == "event: questions"
    assert json.loads(data.removeprefix("data: ")) == message["questions"]
