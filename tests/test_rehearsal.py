"""Rehearsal: a copy of a programme shifted to now, flown by an autopilot a moderator can take over.

The autopilot runs against a real backend, as `regie rehearse` runs against `regie up`: viewers
on the live WebSocket see every press, and a moderator's press stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from websockets.asyncio.client import connect

from app.db import create_engine, create_sessionmaker
from app.domain.programme import ProgrammeDocument
from app.rehearsal.autopilot import Autopilot, Outcome, Result
from app.rehearsal.copies import autopilot_token, create_rehearsal
from tests.conftest import DINER, ROOT, Api, free_port, regie_env

SLUG = re.compile(rf"^{DINER}-repetition-\d{{12}}$")


async def rehearse(api: Api, *, speed: float, starts_in: float) -> tuple[ProgrammeDocument, str]:
    """What `regie rehearse` does before flying: the copy and the autopilot's token."""
    engine = create_engine(api.settings.database_url)
    now = datetime.now(UTC)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            document = await create_rehearsal(
                session, source=DINER, starts_at=now + timedelta(seconds=starts_in), speed=speed, now=now
            )
            token = await autopilot_token(session, now=now, ttl=timedelta(hours=1))
    finally:
        await engine.dispose()
    return document, token


@contextlib.asynccontextmanager
async def watching(api: Api, slug: str) -> AsyncIterator[list[dict[str, Any]]]:
    """A viewer on the live WebSocket; the states it received, in order."""
    states: list[dict[str, Any]] = []
    async with connect(api.ws_url(slug)) as websocket:

        async def receive() -> None:
            async for message in websocket:
                states.append(json.loads(message)["live"])

        task = asyncio.create_task(receive())
        await until(lambda: bool(states))
        try:
            yield states
        finally:
            task.cancel()


async def until(condition: Any, timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


async def test_the_copy_is_the_programme_shifted_to_now_and_compressed(api: Api) -> None:
    before = datetime.now(UTC)
    document, _ = await rehearse(api, speed=60, starts_in=30)
    assert SLUG.match(document.slug)
    event = (await api.client.get(f"/api/v1/events/{document.slug}")).json()
    assert event["title"] == "Répétition — 3ème dîner « Elus & Entreprises »"
    assert event["status"] == "scheduled" and event["rehearsal"] is True
    # Nothing leads from the rehearsal to the real show: no related link, no replay.
    assert event["see_also"] == [] and event["replay_url"] is None
    starts_at = datetime.fromisoformat(event["starts_at"])
    assert before + timedelta(seconds=29) < starts_at < datetime.now(UTC) + timedelta(seconds=31)
    # Two hours at speed 60: two minutes; the segment at 20:00 (an hour in) comes a minute in.
    assert datetime.fromisoformat(event["ends_at"]) - starts_at == timedelta(minutes=2)
    second = event["segments"][1]
    assert datetime.fromisoformat(second["planned_start"]) - starts_at == timedelta(minutes=1)
    assert second["items"][0]["planned_start"] == second["planned_start"]
    # The guests are still a surprise in the copy.
    mysteries = [i for s in event["segments"] for i in s["items"] if i["mystery"]]
    assert [(i["speakers"], i["announcement"], i["revealed"]) for i in mysteries] == [([], None, False)] * 3
    again, _ = await rehearse(api, speed=60, starts_in=30)
    # A second rehearsal in the same minute gets a slug of its own.
    assert again.slug != document.slug and (again.slug == f"{document.slug}-2" or SLUG.match(again.slug))


async def test_the_autopilot_flies_the_whole_show_and_every_viewer_sees_it(api: Api) -> None:
    document, token = await rehearse(api, speed=3600, starts_in=0.5)  # two hours in two seconds
    said: list[str] = []
    async with watching(api, document.slug) as states:
        result = await Autopilot(api.client, slug=document.slug, token=token, say=said.append).run()
        await until(lambda: states[-1]["status"] == "ended")
    assert result.outcome is Outcome.FINISHED and result.version == 23
    assert [s["version"] for s in states] == list(range(24))  # every press, in order, none missed
    assert said[0].startswith("v1 start: Accueil") and said[-1].startswith("v23 end: Répétition")
    revealed = [line for line in said if " reveal: " in line]
    assert len(revealed) == 3
    timeline = (await api.client.get(f"/api/v1/events/{document.slug}/timeline")).json()
    actions = [entry["action"] for entry in timeline]
    assert actions[0] == "start" and actions[-1] == "end" and actions.count("next") == 18
    event = (await api.client.get(f"/api/v1/events/{document.slug}")).json()
    guests = [i["speakers"][0]["name"] for s in event["segments"] for i in s["items"] if i["mystery"]]
    assert guests == [
        "Premier invité mystère (répétition)",
        "Deuxième invité mystère (répétition)",
        "Troisième invité mystère (répétition)",
    ]
    # The original show is untouched.
    assert (await api.live())["version"] == 0


async def test_a_moderator_takes_over_at_any_moment_and_the_autopilot_stops(api: Api) -> None:
    document, token = await rehearse(api, speed=600, starts_in=0.2)  # ten minutes a second
    said: list[str] = []
    autopilot = Autopilot(api.client, slug=document.slug, token=token, say=said.append, poll_seconds=0.2)
    async with watching(api, document.slug) as states:
        flight = asyncio.create_task(autopilot.run())
        await until(lambda: states[-1]["version"] >= 2)
        taken = None
        while taken is None:  # the moderator presses on what they see, as in the console
            response = await api.control(
                "goto", states[-1]["version"], "cloture-ministre", slug=document.slug
            )
            taken = response.json()["version"] if response.status_code == 200 else None
        result: Result = await asyncio.wait_for(flight, timeout=5)
        await asyncio.sleep(1.5)  # the next cue would have come by now
    assert result.outcome is Outcome.TAKEN_OVER and result.version == taken
    assert said[-1] == (
        f"someone else moved the show (now at version {taken}): the autopilot stops, the show is yours"
    )
    live = await api.live(document.slug)
    assert (live["version"], live["item"]["id"]) == (taken, "cloture-ministre")
    assert states[-1]["version"] == taken


async def test_regie_rehearse_flies_a_copy_through_the_running_api(api: Api) -> None:
    env = regie_env(REGIE_DATABASE_URL=api.settings.database_url)
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "app.cli", "rehearse", DINER, "--speed", "7200", "--starts-in", "0.5s"),
        *("--api-url", api.url),
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    out = stdout.decode()
    assert process.returncode == 0, stderr.decode()
    lines = out.splitlines()
    slug = re.search(rf"created as ({DINER}-repetition-\d+(?:-\d+)?):", lines[0])
    assert slug, out
    assert "starts at" in lines[0] and "lasts 0:01 at speed ×7200" in lines[0]
    assert lines[2].startswith("v1 start: Accueil") and lines[-1] == "the rehearsal has ended (version 23)"
    live = await api.live(slug[1])
    assert live["status"] == "ended"


async def test_regie_rehearse_says_when_no_api_is_running(api: Api) -> None:
    env = regie_env(REGIE_DATABASE_URL=api.settings.database_url)
    nowhere = f"http://127.0.0.1:{free_port()}"
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "app.cli", "rehearse", DINER, "--api-url", nowhere),
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 1
    assert stderr.decode().strip() == (
        f"regie rehearse: no Régie API answers at {nowhere}: run `regie up` in another terminal first "
        "(or point --api-url at the API that uses this database)"
    )
    events = (await api.client.get("/api/v1/events")).json()
    assert not any("repetition" in event["slug"] for event in events)
