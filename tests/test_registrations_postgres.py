"""Seats and reminders held by PostgreSQL with two backend processes, as when scaled out.

Two `regie api` subprocesses share one fresh PostgreSQL database: sign-ups spread over both
still confirm exactly the session's capacity, and each registration's reminder goes out once,
whichever process finds it due, and not again after both restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import (
    free_port,
    migrate,
    postgres_database,
    programme_file,
    regie_env,
    regie_server,
    seed,
)
from tests.mailbox import Mailbox
from tests.test_registrations import ANNE
from tests.test_sessions import WORKSHOPS
from tests.test_signups import assert_five_seats_then_a_waitlist_in_arrival_order, concurrent_signups

pytestmark = pytest.mark.scaleout


def programme_starting_at(start: datetime, slug: str) -> dict[str, Any]:
    """The workshops' Rencontre moved to `start`, sign-up open from now on (the servers' real clock)."""
    data = copy.deepcopy(WORKSHOPS)
    shift = start - datetime.fromisoformat(str(data["starts_at"]))
    data["slug"] = slug

    def moved(value: str) -> str:
        return (datetime.fromisoformat(value) + shift).isoformat()

    data["starts_at"], data["ends_at"] = moved(data["starts_at"]), moved(data["ends_at"])
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


@contextlib.contextmanager
def two_backends(url: str, tmp_path: Path, mailbox: Mailbox, **env: str) -> Iterator[list[str]]:
    environment = regie_env(
        REGIE_DATABASE_URL=url,
        REGIE_SMTP_URL=mailbox.url,
        REGIE_PUBLIC_URL="https://pages.example.org",
        REGIE_REGISTRATIONS_PER_ADDRESS="1000",
        **env,
    )
    ports = [free_port(), free_port()]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    with contextlib.ExitStack() as stack:
        for port, base in zip(ports, urls, strict=True):
            stack.enter_context(
                regie_server(
                    "api",
                    "--port",
                    str(port),
                    env=environment,
                    health=f"{base}/healthz",
                    log=tmp_path / f"api-{port}.log",
                )
            )
        yield urls


async def register_everyone(urls: list[str], slug: str, count: int) -> list[str]:
    tokens = []
    async with httpx.AsyncClient(timeout=30) as client:
        for n in range(count):
            answer = await client.post(
                f"{urls[n % len(urls)]}/api/v1/events/{slug}/registrations",
                json={**ANNE, "email": f"pg{n}@exemple.fr", "name": f"Personne {n}"},
            )
            assert answer.status_code == 201, answer.text
            tokens.append(answer.json()["token"])
    return tokens


async def test_twenty_sign_ups_over_two_processes_confirm_exactly_five(
    tmp_path: Path, mailbox: Mailbox
) -> None:
    slug = f"ateliers-pg-{uuid.uuid4().hex[:8]}"
    data = programme_starting_at(datetime.now(UTC) + timedelta(days=7), slug)
    async with postgres_database() as url:
        await migrate(url)
        await seed(url, programme_file(tmp_path, data), users=False)
        with two_backends(url, tmp_path, mailbox) as urls:
            tokens = await register_everyone(urls, slug, 20)
            answers = await concurrent_signups(urls, tokens)
            assert_five_seats_then_a_waitlist_in_arrival_order(answers)
            async with httpx.AsyncClient(timeout=30) as client:
                for base in urls:
                    event = (await client.get(f"{base}/api/v1/events/{slug}")).json()
                    assert event["segments"][1]["items"][0]["sessions"][0]["seats_left"] == 0
                    assert event["registered_count"] == 20


async def test_each_reminder_goes_once_with_two_processes_and_after_a_restart(
    tmp_path: Path, mailbox: Mailbox
) -> None:
    slug = f"rappel-pg-{uuid.uuid4().hex[:8]}"
    data = programme_starting_at(datetime.now(UTC) + timedelta(minutes=30), slug)
    settings = {"REGIE_REMINDER_MINUTES": "60", "REGIE_REMINDER_POLL_SECONDS": "0.2"}
    async with postgres_database() as url:
        await migrate(url)
        await seed(url, programme_file(tmp_path, data), users=False)
        with two_backends(url, tmp_path, mailbox, **settings) as urls:
            await register_everyone(urls, slug, 6)
            for n in range(6):
                await mailbox.wait_for(f"pg{n}@exemple.fr", count=2)  # confirmation and reminder
            await asyncio.sleep(1.5)  # many more polls by both processes
        with two_backends(url, tmp_path, mailbox, **settings):
            await asyncio.sleep(1.5)
    for n in range(6):
        reminders = [m for m in mailbox.to(f"pg{n}@exemple.fr") if m.subject.startswith("Rappel")]
        assert len(reminders) == 1, [m.subject for m in mailbox.to(f"pg{n}@exemple.fr")]
        assert "« Rencontre d'essai » commence bientôt" in reminders[0].text
