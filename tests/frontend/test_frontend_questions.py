"""Audience questions through the pages against the real backend: asking with and without
JavaScript, refusals in French, one vote per browser, the list and the queue pushed live (the
queue read once per change per process), moderation from the console, the question on air."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import programme_samples as samples
from backend import Backend
from conftest import serve
from fastapi import FastAPI
from html_text import visible_text
from openpyxl import load_workbook
from test_frontend_console import open_console
from test_frontend_hub import Browser, feed_url, until, watching
from test_frontend_sockets import receive_state, ws_url
from websockets.asyncio.client import ClientConnection, connect

from frontend.client import ApiClient, Backoff, LiveFeed
from frontend.config import Settings
from frontend.live import EventHub
from frontend.main import create_app
from frontend.render import Renderer

LIVE = f"/events/{samples.SLUG}"
ASK = f"{LIVE}/questions"
API_QUESTIONS = f"/api/v1/events/{samples.SLUG}/questions"
HTMX = {"HX-Request": "true"}


async def queue(backend: Backend) -> list[dict[str, Any]]:
    assert backend.api is not None
    headers = {"Authorization": f"Bearer {await backend.api.token()}"}
    answer = await backend.api.client.get(API_QUESTIONS, headers=headers)
    assert answer.status_code == 200
    body: list[dict[str, Any]] = answer.json()
    return body


async def moderate(backend: Backend, question_id: str, action: str) -> None:
    assert backend.api is not None
    headers = {"Authorization": f"Bearer {await backend.api.token()}"}
    answer = await backend.api.client.post(
        f"{API_QUESTIONS}/{question_id}/moderation", json={"action": action}, headers=headers
    )
    assert answer.status_code == 200, answer.text


async def ask(client: httpx.AsyncClient, text: str, **fields: str) -> httpx.Response:
    return await client.post(ASK, data={"text": text, **fields}, headers=HTMX)


async def message_with(socket: ClientConnection, element_id: str, text: str = "") -> str:
    """The next message that carries `element_id` (and `text`); others: live states, heartbeats."""
    while True:
        message = await asyncio.wait_for(socket.recv(), 3)
        assert isinstance(message, str)
        if f'id="{element_id}"' in message and text in message:
            return message


async def test_a_question_asked_without_javascript_reaches_the_moderators_only(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    page = await client.get(LIVE)
    assert "set-cookie" not in page.headers  # reading sets no cookie
    assert "Posez votre question" in visible_text(page.text, "questions")
    answer = await client.post(
        ASK,
        data={"text": "Comment associer\nles petites communes ? ", "name": "Marie", "organisation": "Mairie"},
    )
    assert (answer.status_code, answer.headers["location"]) == (303, f"{LIVE}?question=sent#questions")
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("regie_voter=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    thanks = await client.get(answer.headers["location"])
    assert "Votre question a été transmise aux modérateurs" in visible_text(thanks.text, "question-ask")
    assert "petites communes" not in thanks.text  # pending: not public
    [question] = await queue(backend)
    assert (question["text"], question["author"], question["status"]) == (
        "Comment associer les petites communes ?",
        "Marie, Mairie",
        "pending",
    )


async def test_refusals_are_french_and_name_the_field(client: httpx.AsyncClient, backend: Backend) -> None:
    long = await ask(client, "x" * 501)
    assert long.status_code == 422
    assert 'aria-invalid="true"' in long.text and "entre 1 et 500 caractères" in visible_text(long.text)
    assert "x" * 501 in long.text  # what the viewer typed is kept
    empty = await ask(client, "   ")
    assert empty.status_code == 422 and "question-text-error" in empty.text
    invisible = await ask(client, "Bonjour", name="Ma\u200brie")
    assert invisible.status_code == 422 and "question-author-error" in invisible.text
    first = await ask(client, "Quel rôle pour l'État ?")
    assert first.status_code == 200
    assert "Votre question a été transmise aux modérateurs" in visible_text(first.text)
    again = await ask(client, "quel role pour l etat")
    assert again.status_code == 409 and "Vous avez déjà posé cette question" in visible_text(again.text)
    for n in range(3):  # five a minute per viewer, the refused duplicate included
        assert (await ask(client, f"Question {n} ?")).status_code == 200
    limited = await ask(client, "Une de trop ?")
    assert limited.status_code == 429
    assert "Patientez une minute avant de recommencer." in visible_text(limited.text)
    no_js = await client.post(ASK, data={"text": "Sans JavaScript ?"})
    assert no_js.status_code == 429 and "<html" in no_js.text and "Patientez une minute" in no_js.text
    await backend.press("start")
    await backend.press("end")
    client.cookies.clear()  # another viewer: this one's allowance is spent
    ended = await ask(client, "Trop tard ?")
    assert ended.status_code == 409
    assert "Le direct est terminé : les questions sont closes." in visible_text(ended.text)
    assert "<textarea" not in ended.text


async def test_a_foreign_site_cannot_post_a_question(client: httpx.AsyncClient, backend: Backend) -> None:
    answer = await client.post(ASK, data={"text": "Forgée ?"}, headers={"Origin": "https://evil.example"})
    assert answer.status_code == 403
    assert await queue(backend) == []


async def test_an_oversized_form_is_refused_unread_and_nothing_is_stored(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    declared = await client.post(ASK, data={"text": "x" * 200_000})
    assert declared.status_code == 413
    assert "Formulaire trop long" in visible_text(declared.text)

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        yield b"text="
        for _ in range(100):
            yield b"y" * 1024

    chunked = await client.post(
        ASK, content=chunks(), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert chunked.status_code == 413 and "Formulaire trop long" in visible_text(chunked.text)
    assert await queue(backend) == []


async def test_one_vote_per_browser_and_the_list_pushed_to_every_viewer(
    app: FastAPI, web_url: str, backend: Backend
) -> None:
    async with httpx.AsyncClient(base_url=web_url) as first, httpx.AsyncClient(base_url=web_url) as second:
        asked = await ask(first, "<script>alert(1)</script> Et le budget ?", name="Zoé & Cie")
        assert asked.status_code == 200
        [question] = await queue(backend)
        live = ws_url(web_url, f"{LIVE}/ws")
        async with connect(live, origin=web_url) as viewer, connect(live, origin=web_url) as other:
            await receive_state(viewer)
            await receive_state(other)
            await moderate(backend, question["id"], "approve")
            pushed = await message_with(viewer, "live-questions")
            assert pushed == await message_with(other, "live-questions")  # the same bytes
            assert 'id="live-status"' not in pushed  # a message of its own
            assert "&lt;script&gt;alert(1)&lt;/script&gt; Et le budget ?" in pushed
            assert "<script>" not in pushed
            assert "Zo&#233; &amp; Cie" in pushed and "Zoé & Cie" in visible_text(pushed)
            vote = f"{ASK}/{question['id']}/vote"
            for browser in (first, first, second):
                answer = await browser.post(vote, headers=HTMX)
                assert answer.status_code == 200
                assert "Votre vote est compté" in visible_text(answer.text)
            counted = await message_with(viewer, "live-questions")
            while "2 votes" not in visible_text(counted):
                counted = await message_with(viewer, "live-questions")
        page = await second.get(LIVE)
        assert "2 votes" in visible_text(page.text, "live-questions")
        no_js = await second.post(vote)
        assert (no_js.status_code, no_js.headers["location"]) == (303, f"{LIVE}#question-{question['id']}")


async def test_pending_questions_reach_open_consoles_without_reload_read_once_per_change(
    settings: Settings, backend: Backend
) -> None:
    async for web_url in serve(application := create_app(settings)):
        async with httpx.AsyncClient(base_url=web_url) as one, httpx.AsyncClient(base_url=web_url) as two:
            await open_console(one)
            await open_console(two)
            console = ws_url(web_url, f"{LIVE}/console/ws")
            headers = [{"Cookie": f"regie_session={c.cookies['regie_session']}"} for c in (one, two)]
            async with (
                connect(console, origin=web_url, additional_headers=headers[0]) as first,
                connect(console, origin=web_url, additional_headers=headers[1]) as second,
                connect(ws_url(web_url, f"{LIVE}/ws"), origin=web_url) as public,
            ):
                await receive_state(first)
                await receive_state(second)
                await receive_state(public)
                hub = application.state.services.hubs.get(samples.SLUG)
                queue = hub.questions.queue
                await until(lambda q=queue: q.message is not None and not q.reading)  # first reads over
                reads = hub.questions.queue.reads
                async with httpx.AsyncClient(base_url=web_url) as viewer:
                    asked = await ask(viewer, "CANARY-PENDING-7a7a ?", name="CANARY-AUTHOR-7b7b")
                    assert asked.status_code == 200
                # A column from the consoles' first reads may still be on its way: the one that
                # follows the question is the one that names it.
                pushed = await message_with(first, "console-questions", "CANARY-PENDING-7a7a")
                assert pushed == await message_with(second, "console-questions", "CANARY-PENDING-7a7a")
                assert "CANARY-PENDING-7a7a ?" in visible_text(pushed, "console-questions")
                assert "En attente 1" in visible_text(pushed)
                assert hub.questions.queue.reads == reads + 1  # once for both consoles
                heard = []
                with_timeout = asyncio.timeout(2)
                try:
                    async with with_timeout:
                        while True:
                            heard.append(await public.recv())
                except TimeoutError:
                    pass
                assert not any("7a7a" in str(m) or "7b7b" in str(m) for m in heard)


async def test_moderators_approve_and_put_on_air_from_the_console(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    await ask(client, "Faut-il une alliance ?", name="Paul")
    [question] = await queue(backend)
    token = await open_console(client)
    console = await client.get(f"{LIVE}/console")
    assert "Faut-il une alliance ?" in visible_text(console.text, "console-questions")
    url = f"{LIVE}/console/questions/{question['id']}"
    headers = {**HTMX, "X-CSRF-Token": token}
    forged = await client.post(url, data={"action": "approve"}, headers=HTMX)
    assert forged.status_code == 403
    approved = await client.post(url, data={"action": "approve"}, headers=headers)
    assert approved.status_code == 200
    assert "Question approuvée" in visible_text(approved.text, "console-flash")
    assert "Approuvées 1" in visible_text(approved.text, "console-questions")
    early = await client.post(url, data={"action": "on_air"}, headers=headers)
    assert early.status_code == 409
    assert "le direct n'a pas encore commencé" in visible_text(early.text, "console-flash")
    twice = await client.post(url, data={"action": "approve"}, headers=headers)
    assert twice.status_code == 409 and "déjà changé d'état" in visible_text(twice.text)
    await backend.press("start")
    aired = await client.post(url, data={"action": "on_air"}, headers=headers)
    assert aired.status_code == 200
    live = await backend.live()
    assert live["question"]["text"] == "Faut-il une alliance ?"
    page = await client.get(LIVE)
    assert "Faut-il une alliance ? Paul" in visible_text(page.text, "live-question")
    overlay = await client.get(f"{LIVE}/overlay")
    assert "Question du public · Paul Faut-il une alliance ?" in visible_text(overlay.text, "overlay-third")
    off = await client.post(url, data={"action": "off_air"}, headers=headers)
    assert off.status_code == 200 and (await backend.live())["question"] is None
    unknown = await client.post(f"{LIVE}/console/questions/nope", data={"action": "approve"}, headers=headers)
    assert unknown.status_code == 404 and "cette question n'existe plus" in visible_text(unknown.text)
    odd = await client.post(url, data={"action": "delete"}, headers=headers)
    assert odd.status_code == 400


async def test_the_question_on_air_is_pushed_to_pages_and_the_overlay(web_url: str, backend: Backend) -> None:
    async with httpx.AsyncClient(base_url=web_url) as viewer:
        await ask(viewer, "Question pour l'antenne ?", organisation="Mairie de Riom")
    [question] = await queue(backend)
    await moderate(backend, question["id"], "approve")
    await backend.press("start")
    async with (
        connect(ws_url(web_url, f"{LIVE}/ws"), origin=web_url) as page,
        connect(ws_url(web_url, f"{LIVE}/overlay/ws"), origin=web_url) as overlay,
    ):
        await message_with(page, "live-status")
        await message_with(overlay, "overlay-third")
        await moderate(backend, question["id"], "on_air")
        state = await message_with(page, "live-question")
        while "Question pour l'antenne ?" not in visible_text(state, "live-question"):
            state = await message_with(page, "live-question")
        third = await message_with(overlay, "overlay-third")
        assert "Question du public · Mairie de Riom" in visible_text(third, "overlay-third")
        assert "Question pour l'antenne ?" in visible_text(third, "overlay-third")


async def test_after_the_show_downloads_for_moderators_and_answered_questions_on_the_replay(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    await ask(client, "Répondue pendant le direct ?", name="Léa")
    await ask(client, "Jamais lue ?")
    answered, pending = sorted(await queue(backend), key=lambda q: q["text"], reverse=True)
    await moderate(backend, answered["id"], "approve")
    await backend.press("start")
    await moderate(backend, answered["id"], "on_air")
    await moderate(backend, answered["id"], "answer")
    await backend.press("end")
    anonymous = await client.get(f"{LIVE}/console/questions.csv")
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    replay = await client.get(f"{LIVE}/replay")
    listed = visible_text(replay.text, "replay-questions")
    [when] = re.findall(r"répondue à (\d+ h \d\d)", listed)
    assert "Répondue pendant le direct ? Léa · répondue à" in listed
    assert "Jamais lue" not in replay.text
    await open_console(client)
    console = await client.get(f"{LIVE}/console")
    assert 'href="/events/soiree-test/console/questions.xlsx"' in console.text
    download = await client.get(f"{LIVE}/console/questions.csv")
    assert download.status_code == 200 and download.headers["cache-control"] == "no-store"
    rows = list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert {(r["text"], r["status"]) for r in rows} == {
        ("Répondue pendant le direct ?", "answered"),
        ("Jamais lue ?", "pending"),
    }
    answered_at = datetime.fromisoformat(next(r["answered_at"] for r in rows if r["status"] == "answered"))
    assert when == f"{answered_at.hour} h {answered_at.minute:02d}"  # the replay's clock is the event's
    assert pending["status"] == "pending"
    workbook = await client.get(f"{LIVE}/console/questions.xlsx")
    assert load_workbook(io.BytesIO(workbook.content))["Questions"].max_row == 3


async def test_a_busy_viewer_waits_for_the_newest_live_state_and_list_both(backend: Backend) -> None:
    """A viewer's mailbox holds one message: the live state and the list each take it in turn."""
    async with httpx.AsyncClient(base_url=backend.url) as viewer_http:
        answer = await viewer_http.post(
            API_QUESTIONS, json={"text": "Toujours là ?", "viewer": "viewer-busy-01"}
        )
    question = answer.json()["id"]
    api = ApiClient(backend.url)
    hub = EventHub(
        samples.SLUG,
        feed=LiveFeed(feed_url(backend.url), backoff=Backoff(first=0.05, cap=0.2)),
        renderer=Renderer(),
        now=lambda: datetime.now(UTC),
        api=api,
    )
    hub.start()
    busy = Browser()
    try:
        await until(lambda: hub.rendering.version == 0)
        await moderate(backend, question, "approve")
        assert hub.questions is not None
        await until(lambda: "public" in hub.questions.messages)
        busy.gate.clear()
        async with watching(hub, busy) as [viewer]:
            await backend.press("start")  # the live state: it waits, with the list
            await until(lambda: viewer.pending is not None and 'data-version="1"' in viewer.pending)
            assert 'id="live-questions"' in (viewer.pending or "")
            async with httpx.AsyncClient(base_url=backend.url) as voter:
                await voter.post(f"{API_QUESTIONS}/{question}/votes", json={"voter": "voter-busy-01"})
            await until(lambda: "1 vote" in (viewer.pending or ""))  # the list: it waits, with the state
            assert 'data-version="1"' in (viewer.pending or "")
            busy.gate.set()
            await until(lambda: busy.version == 1 and "1 vote" in busy.messages[-1])
    finally:
        await hub.stop()
        await api.aclose()


async def test_a_question_id_cannot_steer_the_request_relayed_to_the_api(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    assert backend.faults is not None
    for crafted in ("..", "x%3Faction=1", "x%23y"):
        answer = await client.post(f"{ASK}/{crafted}/vote", headers=HTMX)
        assert answer.status_code == 404  # from the API (no such question) or the pages (no such page)
    relayed = [path for (method, path) in backend.faults.requests if method == "POST"]
    assert all(path.endswith("/votes") and path.startswith(API_QUESTIONS + "/") for path in relayed), relayed


def test_the_public_list_shows_the_most_voted_and_always_the_question_on_air() -> None:
    from frontend.models import Question
    from frontend.questions import PUBLIC_SHOWN, render_public, shown

    asked = datetime(2020, 11, 23, 18, 0, tzinfo=UTC)
    listed = [
        Question(id=f"q{n}", text=f"Question {n} ?", status="approved", votes=100 - n, created_at=asked)
        for n in range(40)
    ]
    listed.append(Question(id="air", text="Celle à l'antenne ?", status="on_air", votes=0, created_at=asked))
    kept = shown(listed)
    assert len(kept) == PUBLIC_SHOWN and kept[0].id == "air" and kept[1].id == "q0"
    html = render_public(Renderer(), slug=samples.SLUG, questions=listed, zone=ZoneInfo("Europe/Paris"))
    assert html.count('class="question status-') == PUBLIC_SHOWN
    assert "Les questions retenues (41)" in visible_text(html)
    assert "Les 30 questions les plus votées sont affichées, sur 41." in visible_text(html)
