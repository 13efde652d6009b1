"""`?include=programme`: the programme pushed with every change, and every change told at once —
a press, a `PUT`, or a `regie import` from another process while the server runs."""

from __future__ import annotations

import asyncio
import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from app.cli import import_programmes, read_programme
from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.domain import show
from app.public import event_public, programme_message
from app.services.programmes import load_programme
from tests.conftest import DINER, Api, programme_file, running_api
from tests.test_programme import MINIMAL


async def receive(ws: ClientConnection, timeout: float = 5) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    return message


def follow_url(api: Api, slug: str = DINER) -> str:
    return api.ws_url(slug) + "?include=programme"


async def test_a_follower_gets_the_programme_before_each_live_state(api: Api) -> None:
    async with connect(follow_url(api)) as follower, connect(api.ws_url()) as viewer:
        programme, live = await receive(follower), await receive(follower)
        assert (programme["type"], programme["version"], programme["overrun"]) == ("programme", 0, None)
        assert programme["programme"] == (await api.client.get(f"/api/v1/events/{DINER}")).json()
        assert (live["type"], live["live"]["version"]) == ("live", 0)
        assert (await receive(viewer))["type"] == "live"

        await api.control("start", 0)
        await api.control("reveal", 1, "invite-mystere-1")
        kinds = [
            (m["type"], m.get("version") or m["live"]["version"])
            for m in [await receive(follower) for _ in range(4)]
        ]
        assert kinds == [("programme", 1), ("live", 1), ("programme", 2), ("live", 2)]
        # Plain viewers get the live states only: their message does not grow with the programme.
        assert [(await receive(viewer))["type"] for _ in range(2)] == ["live", "live"]

    event = (await api.client.get(f"/api/v1/events/{DINER}")).json()
    mystery = next(i for s in event["segments"] for i in s["items"] if i["id"] == "invite-mystere-1")
    assert mystery["revealed"] and mystery["speakers"]


async def test_the_pushed_programme_carries_the_reveal(api: Api) -> None:
    await api.control("start", 0)
    async with connect(follow_url(api)) as follower:
        await receive(follower), await receive(follower)
        await api.control("reveal", 1, "invite-mystere-1")
        pushed = (await receive(follower))["programme"]

    def items(event: dict[str, Any]) -> dict[str, Any]:
        return {i["id"]: i for s in event["segments"] for i in s["items"]}

    revealed = items(pushed)["invite-mystere-1"]
    assert revealed["revealed"] is True and revealed["speakers"]
    assert revealed == items((await api.client.get(f"/api/v1/events/{DINER}")).json())["invite-mystere-1"]


async def test_an_unknown_include_is_refused_with_4422(api: Api) -> None:
    async with connect(api.ws_url() + "?include=programme,secrets") as ws:
        await asyncio.wait_for(ws.wait_closed(), 5)
    assert ws.close_code == 4422
    assert ws.close_reason == "Unknown include: secrets; known: programme."


def document(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(MINIMAL)
    data.update(changes)
    return data


async def test_a_programme_replaced_by_put_is_pushed_at_once_with_a_new_version(api: Api) -> None:
    headers = {"Authorization": f"Bearer {await api.token('admin')}"}
    assert (await api.client.put("/api/v1/events/essai", json=document(), headers=headers)).status_code == 201
    async with connect(follow_url(api, "essai")) as follower:
        await receive(follower), await receive(follower)
        replaced = await api.client.put(
            "/api/v1/events/essai", json=document(title="Essai 2"), headers=headers
        )
        assert replaced.json()["version"] == 1
        programme, live = await receive(follower), await receive(follower)
    assert (programme["version"], programme["programme"]["title"], live["live"]["version"]) == (
        1,
        "Essai 2",
        1,
    )
    timeline = (await api.client.get("/api/v1/events/essai/timeline")).json()
    assert [(e["version"], e["action"], e["item_id"]) for e in timeline] == [(1, "edit", None)]


async def test_regie_import_while_the_server_runs_reaches_every_viewer(api: Api, tmp_path: Path) -> None:
    """`regie import` is another process: with the embedded broadcast the server notices the new
    version by itself (`change_poll_seconds`, 0.25 s) and announces it like one of its own."""
    headers = {"Authorization": f"Bearer {await api.token('admin')}"}
    await api.client.put("/api/v1/events/essai", json=document(), headers=headers)
    async with connect(follow_url(api, "essai")) as follower, connect(api.ws_url("essai")) as viewer:
        await receive(follower), await receive(follower), await receive(viewer)
        path = programme_file(tmp_path, document(title="Par la ligne de commande"))
        await import_programmes(Settings(database_url=api.settings.database_url), [read_programme(path)])
        programme, live, seen = (
            await receive(follower, 2),
            await receive(follower, 2),
            await receive(viewer, 2),
        )
    assert programme["programme"]["title"] == "Par la ligne de commande"
    assert live["live"]["version"] == seen["live"]["version"] == 1
    # The read snapshot took it too: no second of stale reads.
    assert (await api.client.get("/api/v1/events/essai")).json()["title"] == "Par la ligne de commande"


async def test_overrun_leads_let_a_client_follow_projections_with_its_clock(seeded_sqlite_url: str) -> None:
    """Each projected time at a later `now` is max(T, now + lead): checked against the server's
    own projection at several later moments, while the first stretch overruns."""
    planned_start = datetime(2020, 11, 23, 18, 0, tzinfo=UTC)
    engine = create_engine(seeded_sqlite_url)
    try:
        async with create_sessionmaker(engine)() as session:
            programme = await load_programme(session, DINER)
    finally:
        await engine.dispose()
    step = show.apply(programme.plan, programme.run(), show.Command(show.Action.START), at=planned_start)
    live = type(programme)(
        event=programme.event.model_copy(update={"status": "live", "version": 1, "run": step.run.to_json()}),
        content=programme.content,
    )
    pushed_at = planned_start + timedelta(minutes=1)
    message = json.loads(programme_message(live, now=pushed_at))
    overrun = message["overrun"]
    assert overrun is not None and overrun["segment_ends"]

    def followed(event: dict[str, Any], now: datetime) -> dict[str, Any]:
        def move(value: str | None, lead: int | None) -> str | None:
            if value is None or lead is None:
                return value
            moment = max(datetime.fromisoformat(value), now + timedelta(seconds=lead))
            return moment.isoformat().replace("+00:00", "Z")

        moved = copy.deepcopy(event)
        moved["projected_end"] = move(event["projected_end"], overrun["show_end"])
        for segment in moved["segments"]:
            segment["projected_start"] = move(
                segment["projected_start"], overrun["segment_starts"].get(segment["id"])
            )
            segment["projected_end"] = move(
                segment["projected_end"], overrun["segment_ends"].get(segment["id"])
            )
            for item in segment["items"]:
                item["projected_start"] = move(
                    item["projected_start"], overrun["item_starts"].get(item["id"])
                )
        return moved

    for minutes in (5, 30, 59, 61, 75, 140):
        later = pushed_at + timedelta(minutes=minutes)
        expected = event_public(live, now=later).model_dump(mode="json")
        assert followed(message["programme"], later) == expected, minutes


async def test_a_follower_on_a_second_server_is_told_too(seeded_sqlite_url: str) -> None:
    """Two servers on one database, embedded broadcast: a press on one reaches the other's
    followers through its own look for changes."""
    settings = Settings(database_url=seeded_sqlite_url)
    async with (
        running_api(settings) as first,
        running_api(settings) as second,
        connect(follow_url(second)) as follower,
    ):
        await receive(follower), await receive(follower)
        await first.control("start", 0)
        programme, live = await receive(follower, 2), await receive(follower, 2)
    assert (programme["type"], programme["version"], live["live"]["version"]) == ("programme", 1, 1)


async def test_a_document_added_or_removed_and_a_question_on_air_are_pushed_like_a_press(api: Api) -> None:
    """Every change of a show goes out the same way: the programme, then the live state."""
    admin = {"Authorization": f"Bearer {await api.token('admin')}"}
    await api.control("start", 0)
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    events = f"/api/v1/events/{DINER}"
    async with connect(follow_url(api)) as follower:
        await receive(follower), await receive(follower)
        uploaded = await api.client.post(
            f"{events}/items/accueil/resources",
            files={"file": ("deck.pdf", pdf, "application/pdf")},
            data={"title": "Le mot d'accueil"},
            headers=admin,
        )
        assert uploaded.status_code == 201, uploaded.text
        programme, live = await receive(follower), await receive(follower)
        accueil = next(
            i for s in programme["programme"]["segments"] for i in s["items"] if i["id"] == "accueil"
        )
        assert [r["title"] for r in accueil["resources"]] == ["Le mot d'accueil"]
        assert (programme["version"], live["live"]["version"]) == (2, 2)

        asked = await api.client.post(f"{events}/questions", json={"text": "Quel budget pour 2021 ?"})
        question = asked.json()["id"]
        for action in ("approve", "on_air"):
            moderated = await api.client.post(
                f"{events}/questions/{question}/moderation", json={"action": action}, headers=admin
            )
            assert moderated.status_code == 200, moderated.text
        messages = [await receive(follower) for _ in range(3)]
        shows = [m for m in messages if m["type"] in ("programme", "live")]
        assert [(m["type"], m.get("version") or m["live"]["version"]) for m in shows] == [
            ("programme", 3),
            ("live", 3),
        ]
        assert shows[1]["live"]["question"] == {
            "id": question,
            "text": "Quel budget pour 2021 ?",
            "author": None,
        }

        assert (await api.client.delete(uploaded.json()["url"], headers=admin)).status_code == 204
        pushed = [await receive(follower) for _ in range(2)]
    assert [
        (m["type"], m.get("version") or m["live"]["version"]) for m in pushed if m["type"] != "questions"
    ][:2] == [("programme", 4), ("live", 4)]


async def test_a_follower_joining_after_a_question_list_gets_programme_live_then_questions(api: Api) -> None:
    admin = {"Authorization": f"Bearer {await api.token('admin')}"}
    events = f"/api/v1/events/{DINER}"
    question = (await api.client.post(f"{events}/questions", json={"text": "Et la mobilité ?"})).json()["id"]
    await api.client.post(
        f"{events}/questions/{question}/moderation", json={"action": "approve"}, headers=admin
    )
    async with connect(api.ws_url()) as viewer:  # the list reaches the hub
        while json.loads(await asyncio.wait_for(viewer.recv(), 5))["type"] != "questions":
            pass
        async with connect(follow_url(api)) as follower:
            kinds = [(await receive(follower))["type"] for _ in range(3)]
    assert kinds == ["programme", "live", "questions"]
